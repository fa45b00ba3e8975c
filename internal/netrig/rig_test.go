package netrig

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// leftovers lists the namespaces and links whose names contain the rig id.
func leftovers(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		b, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, b)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, namePrefix+id) {
				out = append(out, strings.TrimSpace(line))
			}
		}
	}
	if _, err := os.Stat(statePath(id)); err == nil {
		out = append(out, statePath(id))
	}
	return out
}

// newRig builds a rig for the test and closes it in t.Cleanup.
func newRig(t *testing.T, n int) *Rig {
	t.Helper()
	r, err := New(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// listen listens in node k's namespace until the test ends and accepts
// (and closes) every connection.
func listen(t *testing.T, r *Rig, k int, ap netip.AddrPort) {
	t.Helper()
	ln, err := r.ListenTCP(k, ap)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(ln)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
}

// serve accepts connections on ln and closes them, until ln is closed.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func TestRigBuildsAndLeavesNothing(t *testing.T) {
	var id string
	t.Run("rig", func(t *testing.T) {
		r := newRig(t, 2)
		id = r.ID()
		// 3 namespaces, the bridge, 3 bridge ends, the state file.
		if got := leftovers(t, id); len(got) < 8 {
			t.Fatalf("rig objects missing: %v", got)
		}
		for k := range 2 {
			ap := netip.AddrPortFrom(r.PrivateAddr(k), 7000)
			listen(t, r, k, ap)
			if err := r.Dial(ap, 5*time.Second); err != nil {
				t.Fatalf("client to node %d: %v", k, err)
			}
		}
		// Node to node over the private subnet.
		out, err := r.Command(0, "ip", "-o", "addr", "show", "dev", r.Iface()).CombinedOutput()
		if err != nil || !strings.Contains(string(out), r.PrivateAddr(0).String()+"/24") {
			t.Fatalf("node 0 addresses: %v: %s", err, out)
		}
		if !r.Private().Contains(r.PrivateAddr(1)) || r.Private().Overlaps(r.Public()) {
			t.Fatalf("subnets: private %s public %s", r.Private(), r.Public())
		}
		// A process left running in a node namespace is killed at cleanup.
		sleeper := r.Command(1, "sleep", "600")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = sleeper.Wait() }() // reaps it once the rig's cleanup killed it
	})
	if got := leftovers(t, id); len(got) > 0 {
		t.Fatalf("left behind after cleanup: %v", got)
	}
}

// TestParallelRigsDoNotCollide builds rigs in parallel subtests; while they
// all exist they must have distinct subnets and not reach each other.
func TestParallelRigsDoNotCollide(t *testing.T) {
	const rigs = 2
	// With -parallel 1 the subtests run one after the other and cannot
	// wait for each other.
	together := true
	if f := flag.Lookup("test.parallel"); f != nil {
		if p, err := strconv.Atoi(f.Value.String()); err == nil && p < rigs {
			together = false
		}
	}
	var mu sync.Mutex
	seen := map[netip.Prefix]string{}
	var all []*Rig
	ready := make(chan struct{})
	for i := range rigs {
		t.Run(fmt.Sprint("rig", i), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 1)
			mu.Lock()
			for _, p := range []netip.Prefix{r.Private(), r.Public()} {
				if other, ok := seen[p]; ok && together {
					t.Errorf("rig %s reuses %s of rig %s", r.ID(), p, other)
				}
				seen[p] = r.ID()
			}
			all = append(all, r)
			if len(all) == rigs {
				close(ready)
			}
			mu.Unlock()
			if together {
				select { // all rigs exist at once
				case <-ready:
				case <-time.After(time.Minute):
					t.Fatal("the other rigs were not built")
				}
			}
			ap := netip.AddrPortFrom(r.PrivateAddr(0), 7001)
			listen(t, r, 0, ap)
			if err := r.Dial(ap, 5*time.Second); err != nil {
				t.Fatalf("own node: %v", err)
			}
			mu.Lock()
			others := slices.Clone(all)
			mu.Unlock()
			for _, o := range others {
				if o == r {
					continue
				}
				if err := r.Dial(netip.AddrPortFrom(o.PrivateAddr(0), 7001), 300*time.Millisecond); err == nil {
					t.Errorf("rig %s's client reached rig %s's node", r.ID(), o.ID())
				}
			}
		})
	}
}

func TestCutLinkStopsTrafficAndRestoreLinkBringsItBack(t *testing.T) {
	r := newRig(t, 2)
	aps := make([]netip.AddrPort, 2)
	for k := range 2 {
		aps[k] = netip.AddrPortFrom(r.PrivateAddr(k), 7002)
		listen(t, r, k, aps[k])
		if err := r.Dial(aps[k], 5*time.Second); err != nil {
			t.Fatalf("node %d before the cut: %v", k, err)
		}
	}
	if err := r.CutLink(0); err != nil {
		t.Fatal(err)
	}
	if err := r.Dial(aps[0], 500*time.Millisecond); err == nil {
		t.Fatal("reached node 0 through a cut link")
	}
	if err := r.Dial(aps[1], 5*time.Second); err != nil {
		t.Fatalf("node 1 during node 0's cut: %v", err)
	}
	out, err := r.Command(0, "ip", "-o", "link", "show", r.Iface()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "NO-CARRIER") {
		t.Fatalf("node 0's interface during the cut: %v: %s", err, out)
	}
	if err := r.RestoreLink(0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "node 0 reachable again", func() error {
		return r.Dial(aps[0], time.Second)
	})
}

func TestHoldersAndOverlapWatch(t *testing.T) {
	r := newRig(t, 3)
	pub := r.PublicAddr(0)
	ipAddr := func(k int, op string) {
		t.Helper()
		if out, err := r.Command(k, "ip", "addr", op, pub.String(), "dev", r.Iface()).CombinedOutput(); err != nil {
			t.Fatalf("node %d: ip addr %s %s: %v: %s", k, op, pub, err, out)
		}
	}
	holders := func() []int {
		t.Helper()
		h, err := r.Holders(pub.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	w := r.WatchOverlaps(time.Millisecond, pub.Addr())
	t.Cleanup(func() { w.Stop() })
	ipAddr(0, "add")
	if h := holders(); !slices.Equal(h, []int{0}) {
		t.Fatalf("holders %v, want [0]", h)
	}
	// A clean move: never on two nodes.
	ipAddr(0, "del")
	ipAddr(2, "add")
	if h := holders(); !slices.Equal(h, []int{2}) {
		t.Fatalf("holders %v, want [2]", h)
	}
	if o, err := w.Stop(); err != nil || len(o) > 0 {
		t.Fatalf("clean move: overlaps %v, err %v", o, err)
	}

	w = r.WatchOverlaps(time.Millisecond, pub.Addr())
	t.Cleanup(func() { w.Stop() })
	ipAddr(1, "add")
	if h := holders(); !slices.Equal(h, []int{1, 2}) {
		t.Fatalf("holders %v, want [1 2]", h)
	}
	testutil.WaitFor(t, 5*time.Second, "two samples of the overlap", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.overlaps) == 0 || w.overlaps[0].Samples < 2 {
			return fmt.Errorf("overlaps %v", w.overlaps)
		}
		return nil
	})
	ipAddr(2, "del")
	o, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(o) != 1 || !slices.Equal(o[0].Nodes, []int{1, 2}) || o[0].Addr != pub.Addr() {
		t.Fatalf("overlaps %+v, want one on nodes [1 2]", o)
	}
}

// TestStaleRigIsCleaned builds a rig in a child process, kills the child
// with SIGKILL (no cleanup runs) and checks that CleanupStale removes the
// rig, including a process left in one of its namespaces.
func TestStaleRigIsCleaned(t *testing.T) {
	if os.Getenv("NETRIG_CHILD") == "1" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleRigChild$", "-test.v")
	cmd.Env = append(os.Environ(), "NETRIG_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var id string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "RIG "); ok {
			id = v
			break
		}
	}
	if id == "" {
		t.Fatal("child did not report its rig")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := leftovers(t, id); len(got) == 0 {
		t.Fatal("the killed child's rig is already gone")
	}
	removed, err := CleanupStale()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, id) {
		// Every rig's creation runs CleanupStale, so another test process
		// on the machine may have removed the dead rig before ours did.
		if got := leftovers(t, id); len(got) > 0 {
			t.Fatalf("CleanupStale removed %v, not %s, which left %v", removed, id, got)
		}
		t.Logf("rig %s was removed by another process's cleanup first", id)
	}
	if got := leftovers(t, id); len(got) > 0 {
		t.Fatalf("left behind after CleanupStale: %v", got)
	}
}

// TestStaleRigChild is the child of TestStaleRigIsCleaned: it builds a rig,
// starts a process in it, reports the rig and waits to be killed.
func TestStaleRigChild(t *testing.T) {
	if os.Getenv("NETRIG_CHILD") != "1" {
		return
	}
	r := newRig(t, 1)
	sleeper := r.Command(0, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RIG %s\n", r.ID())
	time.Sleep(time.Minute)
}
