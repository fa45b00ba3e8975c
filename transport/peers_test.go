package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// TestTCPSetPeersAddsAndRemovesNodes: a node the others do not list is
// refused and learns so; once they list it, all three connect; once they
// drop it again, its links go down and stay refused.
func TestTCPSetPeersAddsAndRemovesNodes(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 3, testPort)
	var trs []*TCP
	var recs []*recorder
	for i := range addrs {
		cfg := tcpConfig(addrs, uint32(i), "test-cluster")
		if i < 2 {
			cfg.Peers = cfg.Peers[:2] // nodes 0 and 1 do not know node 2 yet
		}
		tr, err := NewTCP(cfg, testLogger(t).With("pnn", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		formed := i < 2
		tr.SetFormed(func() bool { return formed })
		rec := newRecorder()
		if err := tr.Start(rec); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		trs, recs = append(trs, tr), append(recs, rec)
	}
	testutil.WaitFor(t, 5*time.Second, "node 2 refused by nodes 0 and 1", func() error {
		s := trs[2].Survey()
		if s[0] != PeerRefusedUs || s[1] != PeerRefusedUs {
			return fmt.Errorf("survey %v", s)
		}
		return nil
	})
	all := tcpConfig(addrs, 0, "").Peers
	for i := 0; i < 2; i++ {
		if err := trs[i].SetPeers(all); err != nil {
			t.Fatal(err)
		}
	}
	waitConnected(t, recs, trs)
	if s := trs[2].Survey(); s[0] != PeerFormed || s[1] != PeerFormed {
		t.Fatalf("node 2's survey after joining: %v", s)
	}
	if s := trs[0].Survey(); s[2] != PeerFresh {
		t.Fatalf("node 0's survey of node 2: %v", s)
	}
	if err := trs[0].Send(2, message(0, 2, 7, "hello")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "packet at node 2", func() error {
		if len(recs[2].packets()) == 0 {
			return fmt.Errorf("none")
		}
		return nil
	})

	for i := 0; i < 2; i++ {
		if err := trs[i].SetPeers(all[:2]); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "node 2 cut off", func() error {
		for i := 0; i < 2; i++ {
			if trs[i].Connected(2) || recs[i].isUp(2) {
				return fmt.Errorf("node %d still sees node 2", i)
			}
		}
		if trs[2].Connected(0) || trs[2].Connected(1) {
			return fmt.Errorf("node 2 still connected")
		}
		if s := trs[2].Survey(); s[0] != PeerRefusedUs {
			return fmt.Errorf("survey %v", s)
		}
		return nil
	})
	if trs[0].Send(2, message(0, 2, 1, "x")) == nil {
		t.Fatal("send to a removed node succeeded")
	}
	if err := trs[0].SetPeers(all[1:]); err == nil {
		t.Fatal("SetPeers without this node succeeded")
	}
}
