package netnsrun

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/vishvananda/netns"
)

// TestRunEntersAndLeaves: fn sees the namespace's interfaces (only lo in a
// fresh one); the caller's namespace is untouched afterwards.
func TestRunEntersAndLeaves(t *testing.T) {
	name := fmt.Sprintf("rctdb-nsrun-%d-%d", os.Getpid(), rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	var inside []net.Interface
	if err := RunNamed(name, func() error {
		inside, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(inside) != 1 || inside[0].Name != "lo" {
		t.Fatalf("interfaces inside a fresh namespace: %v, want only lo", inside)
	}
	for range 20 { // whichever thread runs this goroutine is in its namespace
		now, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		same := now.Equal(before)
		now.Close()
		if !same {
			t.Fatal("a thread was left in the test's namespace")
		}
	}
	if err := RunNamed(name+"-missing", func() error { return nil }); err == nil {
		t.Fatal("RunNamed of a missing namespace succeeded")
	}
}
