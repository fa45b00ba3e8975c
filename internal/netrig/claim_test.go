package netrig

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// A claim's links and namespaces go with Release, and with CleanupStale
// once its owner is gone.
func TestClaimIsReleasedAndCleanedWhenStale(t *testing.T) {
	build := func(t *testing.T) *Claim {
		t.Helper()
		c, err := NewClaim()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Release() })
		for _, args := range [][]string{
			{"link", "add", c.Name("pub"), "type", "bridge"},
			{"netns", "add", c.Name("n0")},
			{"link", "add", c.Name("p0"), "type", "veth", "peer", "name", c.Name("pub"), "netns", c.Name("n0")},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
		if got := leftovers(t, c.id); len(got) != 4 { // the bridge, the veth, the namespace, the state file
			t.Fatalf("claim %s built %v", c.id, got)
		}
		return c
	}
	t.Run("release", func(t *testing.T) {
		c := build(t)
		if err := c.Release(); err != nil {
			t.Fatal(err)
		}
		if got := leftovers(t, c.id); len(got) > 0 {
			t.Fatalf("left behind after Release: %v", got)
		}
	})
	t.Run("stale", func(t *testing.T) {
		c := build(t)
		// The owner "died": its state names this pid with another start.
		b, _ := json.Marshal(state{Pid: os.Getpid(), Start: 1})
		if err := os.WriteFile(statePath(c.id), b, 0o644); err != nil {
			t.Fatal(err)
		}
		removed, err := CleanupStale()
		if err != nil {
			t.Fatal(err)
		}
		if got := leftovers(t, c.id); len(got) > 0 {
			t.Fatalf("CleanupStale removed %v and left %v", removed, got)
		}
		if !slices.Contains(removed, c.id) {
			t.Logf("claim %s was removed by another process's cleanup first", c.id)
		}
	})
}
