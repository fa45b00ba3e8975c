package volatile

import (
	"fmt"
	"os"
	"testing"
)

// fragment stores n records of size bytes and deletes every other one.
func fragment(t *testing.T, db *DB, n, size int) {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	for i := 0; i < n; i++ {
		r := record{data: make([]byte, size)}
		if err := db.tdb.Store([]byte(fmt.Sprintf("key-%d", i)), r.encode(), 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 2 {
		db.tdb.Delete([]byte(fmt.Sprintf("key-%d", i)))
	}
}

// TestRepackOnlySmallFiles: vacuuming repacks a fragmented file it can
// rewrite quickly, and leaves a large one alone rather than hold the whole
// database for long.
func TestRepackOnlySmallFiles(t *testing.T) {
	tn := newTestNet(t, 1)
	m := tn.mgrs[0]
	small := m.DB(tn.attach("small.tdb"))
	fragment(t, small, 1000, 16)
	before := small.tdb.FreelistSize()
	small.maybeRepack(10)
	if after := small.tdb.FreelistSize(); before <= 10 || after >= before {
		t.Fatalf("small file not repacked: free list %d -> %d", before, after)
	}

	large := m.DB(tn.attach("large.tdb"))
	fragment(t, large, 20000, 200)
	st, err := os.Stat(large.Path)
	if err != nil || st.Size() <= m.cfg.Vacuum.RepackMaxBytes {
		t.Fatalf("test file too small: %v %v", st, err)
	}
	before = large.tdb.FreelistSize()
	large.maybeRepack(10)
	if after := large.tdb.FreelistSize(); after != before {
		t.Fatalf("large file repacked: free list %d -> %d", before, after)
	}
}
