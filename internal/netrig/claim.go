package netrig

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Claim reserves a rig id for a caller that creates its own links and
// namespaces rather than a Rig (a test of how the real ctdbd handles its
// interfaces builds the network its own way). Everything named with Name
// is removed by Release, or by CleanupStale in a later process once the
// claiming process died without releasing it.
type Claim struct {
	id      string
	once    sync.Once
	release error
}

// NewClaim reserves a fresh rig id; its state file exists before the caller
// creates anything, as a Rig's does.
func NewClaim() (*Claim, error) {
	id, err := reserveID()
	if err != nil {
		return nil, fmt.Errorf("netrig: claim: %w", err)
	}
	return &Claim{id: id}, nil
}

// reserveID picks a fresh rig id and writes its state file, so that
// nothing named with the id is taken for stale while this process lives.
func reserveID() (string, error) {
	var err error
	for range 5 {
		id := newID()
		if err = writeState(id); !errors.Is(err, os.ErrExist) {
			return id, err
		}
	}
	return "", err
}

// Name is the name of the claim's link or namespace called suffix; an
// interface name stays within 15 bytes with a suffix of up to 4.
func (c *Claim) Name(suffix string) string { return namePrefix + c.id + "-" + suffix }

// Release kills the processes in the claim's namespaces and deletes its
// namespaces, links and state file. Later calls return the first one's
// result.
func (c *Claim) Release() error {
	c.once.Do(func() {
		if err := removeRig(c.id); err != nil {
			c.release = fmt.Errorf("netrig: release claim %s: %w", c.id, err)
		}
	})
	return c.release
}
