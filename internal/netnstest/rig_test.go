package netnstest

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// namespacesOf lists the network namespaces whose names contain the rig id.
func namespacesOf(t *testing.T, id string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, id) {
			got = append(got, line)
		}
	}
	return got
}

// TestRigEndsWithTheTest: a rig, its listeners and its watches are gone
// once the (sub)test that made them ended.
func TestRigEndsWithTheTest(t *testing.T) {
	var id string
	t.Run("rig", func(t *testing.T) {
		r := New(t, 2)
		id = r.ID()
		if got := namespacesOf(t, id); len(got) != 3 {
			t.Fatalf("namespaces %v, want 2 nodes and the client", got)
		}
		ap := netip.AddrPortFrom(r.PrivateAddr(1), 7003)
		ln, err := r.ListenTCP(1, ap)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		testutil.WaitFor(t, 5*time.Second, "node 1 reachable", func() error { return r.Dial(ap, time.Second) })
		r.WatchOverlaps(10*time.Millisecond, r.PublicAddr(0).Addr())
	})
	if got := namespacesOf(t, id); len(got) > 0 {
		t.Fatalf("left behind after the test: %v", got)
	}
}
