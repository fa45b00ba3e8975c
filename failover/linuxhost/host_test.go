package linuxhost_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/failover/linuxhost"
)

func TestNewChecksItsNamespace(t *testing.T) {
	for _, bad := range []string{"/nonexistent/netns", t.TempDir()} {
		if h, err := linuxhost.New(linuxhost.Options{Netns: bad}); err == nil || !strings.Contains(err.Error(), "Netns") {
			if h != nil {
				h.Close()
			}
			t.Errorf("New with Netns %q: %v", bad, err)
		}
	}
	// The caller's own namespace: loopback is there and up.
	h, err := linuxhost.New(linuxhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Links([]string{"lo"})
	if err != nil || !l["lo"].Up {
		t.Errorf("lo in own namespace: %+v %v", l, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A change seen before Close (another test's link in this namespace)
	// may still be buffered; after it, the channel must be closed.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-h.Changes():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Changes open after Close")
		}
	}
}
