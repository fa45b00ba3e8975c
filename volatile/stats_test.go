package volatile

import (
	"fmt"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

func hotList(hk []protocol.HotKey) string {
	s := ""
	for _, k := range hk {
		s += fmt.Sprintf(" %s:%d", k.Key, k.Count)
	}
	return s
}

// TestHotKeysInArrivalOrder drives migrations through two nodes: keys
// that each migrated once into node 0 are listed in the order they came,
// as ctdbd 4.17 lists them (its table is sorted by count with a stable
// sort), not by key.
func TestHotKeysInArrivalOrder(t *testing.T) {
	tn := newTestNet(t, 2)
	id := tn.attach("hot.tdb")
	keys := []string{keyWithLmaster("zulu", 1, 2), keyWithLmaster("alpha", 1, 2), keyWithLmaster("mike", 1, 2)}
	want := ""
	for _, k := range keys {
		if st, _ := tn.call(0, id, protocol.CallNullFunc, k); st != 0 {
			t.Fatalf("call %s: status %d", k, st)
		}
		want += fmt.Sprintf(" %s:1", k)
	}
	if got := hotList(tn.mgrs[0].DB(id).Statistics().HotKeys); got != want {
		t.Errorf("hot keys of node 0:%s\nwant:%s", got, want)
	}
}

// TestHotKeyTable follows ctdb_update_db_stat_hot_keys and hash_count of
// 4.17 with a clock of its own.
func TestHotKeyTable(t *testing.T) {
	var h hotKeys
	now := time.Unix(1000, 0)
	at := func(key string, d time.Duration) (hotKeyNote, uint32) {
		return h.migrated([]byte(key), now.Add(d))
	}
	check := func(what, want string) {
		t.Helper()
		if got := hotList(h.list()); got != want {
			t.Errorf("%s:%s\nwant:%s", what, got, want)
		}
	}

	// Counts are per window of one second from a key's first migration.
	if n, c := at("a", 0); n != hotKeyAdded || c != 1 {
		t.Fatalf("first migration: %v %d", n, c)
	}
	at("b", 10*time.Millisecond)
	if n, c := at("a", 500*time.Millisecond); n != hotKeyRaised || c != 2 {
		t.Fatalf("second migration in the window: %v %d", n, c)
	}
	check("a twice in its window", " b:1 a:2")
	if n, c := at("a", 1200*time.Millisecond); n != hotKeyUnchanged || c != 1 {
		t.Fatalf("a migration in a new window: %v %d", n, c)
	}
	check("a's highest window count is kept", " b:1 a:2")
	at("b", 1300*time.Millisecond)
	at("b", 1400*time.Millisecond) // b's window restarted at 1.3 s: 2
	at("b", 1500*time.Millisecond) // 3
	check("b passes a", " a:2 b:3")

	// Logged again only when the count doubles.
	h = hotKeys{}
	wantNotes := []hotKeyNote{hotKeyAdded, hotKeyRaised, hotKeyUnchanged, hotKeyRaised, hotKeyUnchanged, hotKeyUnchanged, hotKeyUnchanged, hotKeyRaised}
	for i, w := range wantNotes {
		if n, _ := at("k", time.Duration(i)*time.Millisecond); n != w {
			t.Errorf("migration %d: note %v, want %v", i+1, n, w)
		}
	}

	// A full table: a key is added only with a count above the smallest,
	// in the smallest's slot.
	h = hotKeys{}
	want := ""
	for i := 0; i < protocol.MaxHotKeys; i++ {
		k := fmt.Sprintf("k%d", i)
		at(k, 0)
		want += " " + k + ":1"
	}
	check("ten keys", want)
	if n, _ := at("late", 0); n != hotKeyUnchanged {
		t.Errorf("an eleventh key with count 1 was taken: %v", n)
	}
	check("eleventh key ignored", want)
	if n, _ := at("late", time.Millisecond); n != hotKeyAdded {
		t.Errorf("an eleventh key with count 2 was not taken: %v", n)
	}
	check("eleventh key replaces the first slot", " k1:1 k2:1 k3:1 k4:1 k5:1 k6:1 k7:1 k8:1 k9:1 late:2")

	// Windows that ended are dropped every ten seconds.
	at("fresh", 10*time.Second)
	if len(h.windows) != 1 {
		t.Errorf("after the expiry %d windows, want 1", len(h.windows))
	}
}
