package volatile

import (
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// waitingOn is how many other nodes' requests node pnn holds for key.
func (tn *testNet) waitingOn(pnn, dbid uint32, key string) int {
	db := tn.mgrs[pnn].DB(dbid)
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.core.Waiting([]byte(key))
}

// pinnedRequest makes node 1 the dmaster of a key for a local client, with
// a pin longer than any test, and has node 2 ask for the record: it
// returns once node 1 holds node 2's request.
func pinnedRequest(t *testing.T) (tn *testNet, id uint32, key string, answer <-chan callResult) {
	tn = newTestNetWith(t, 3, func(c *Config) {
		if c.Self == 1 {
			c.Pin = time.Hour
		}
	})
	id = tn.attach("t.tdb")
	key = keyWithLmaster("p", 0, 3)
	if st, _ := tn.call(1, id, protocol.CallNullFunc, key); st != 0 {
		t.Fatalf("migration to node 1: status %d", st)
	}
	answer = tn.callAsync(2, id, protocol.CallFetchFunc, 0, key)
	testutil.WaitFor(t, 10*time.Second, "node 1 to hold node 2's request", func() error {
		if n := tn.waitingOn(1, id, key); n != 1 {
			return testutil.Errorf("%d requests held", n)
		}
		return nil
	})
	return tn, id, key, answer
}

// notAnswered fails if node 2's request is served within a while: the
// watch looks about every 25 µs, so thousands of its looks pass meanwhile.
func notAnswered(t *testing.T, answer <-chan callResult, when string) {
	t.Helper()
	select {
	case r := <-answer:
		t.Fatalf("node 2 got the record %s: %+v", when, r)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestPinEndsWhenTheClientLetsTheChainGo: node 2's request waits while
// node 1's client has not had its turn and while it holds the chain, and
// is served as soon as the client lets go, though it only read (the pin
// itself would last an hour).
func TestPinEndsWhenTheClientLetsTheChainGo(t *testing.T) {
	tn, id, key, answer := pinnedRequest(t)
	notAnswered(t, answer, "before node 1's client had its turn")
	unlock := tn.clientLock(1, id, key)
	notAnswered(t, answer, "while node 1's client holds the chain")
	unlock()
	if r := tn.wait(answer, "node 2's fetch", id, key); r.st != 0 {
		t.Fatalf("node 2's fetch: status %d", r.st)
	}
	if r, _ := tn.record(2, id, key); r.hdr.DMaster != 2 {
		t.Fatalf("node 2 is not the dmaster: %+v", r.hdr)
	}
	if n := tn.mgrs[1].met.pinEnds(pinTurn).Get(); n != 1 {
		t.Fatalf("pins ended by a turn: %d, want 1", n)
	}
}

// TestPinEndsWhenTheOnlyClientWritesWhileARequestWaits: a write by the only
// client, seen by no look at the chain lock, ends the pin too.
func TestPinEndsWhenTheOnlyClientWritesWhileARequestWaits(t *testing.T) {
	tn, id, key, answer := pinnedRequest(t)
	tn.write(1, id, key, "written")
	r := tn.wait(answer, "node 2's fetch", id, key)
	if r.st != 0 || string(r.data) != "written" {
		t.Fatalf("node 2's fetch: %d %q", r.st, r.data)
	}
	if n := tn.mgrs[1].met.pinEnds(pinWrite).Get(); n != 1 {
		t.Fatalf("pins ended by a write: %d, want 1", n)
	}
}
