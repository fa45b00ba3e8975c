package tdb

import (
	"errors"
	"fmt"
	"testing"
)

func unpackAll(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for {
		k, v, rest, ok, err := NextPacked(b)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out[string(k)] = string(v)
		b = rest
	}
}

// Packing walks chains in order, leaves out short values, stops after the
// chain that passes the limit, and the pages cover every record once.
func TestPackChainsInPages(t *testing.T) {
	db := openTemp(t)
	var batch []byte
	want := map[string]string{}
	for i := 0; i < 500; i++ {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%05d", i)
		batch = AppendPacked(batch, []byte(k), []byte(v))
		want[k] = v
	}
	batch = AppendPacked(batch, []byte("short"), []byte("x"))
	if n, err := db.ApplyPacked(batch); err != nil || n != 501 {
		t.Fatal(n, err)
	}
	got := map[string]string{}
	pages := 0
	for start := uint32(0); start < uint32(db.HashSize()); pages++ {
		b, next, err := db.PackChains(start, uint32(db.HashSize()), 500, 5)
		if err != nil {
			t.Fatal(err)
		}
		if next <= start {
			t.Fatalf("page from chain %d ends at %d", start, next)
		}
		for k, v := range unpackAll(t, b) {
			if _, dup := got[k]; dup {
				t.Fatalf("%s in two pages", k)
			}
			got[k] = v
		}
		start = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("packed %d records, want %d", len(got), len(want))
	}
	if pages < 10 {
		t.Fatalf("%d pages of at most ~500 bytes for %d records", pages, len(want))
	}
}

// An empty value deletes (a missing key is fine); a buffer that ends
// inside a record is refused at that record.
func TestApplyPackedDeletesAndRefusesMalformed(t *testing.T) {
	db := openTemp(t)
	var b []byte
	b = AppendPacked(b, []byte("a"), []byte("1"))
	b = AppendPacked(b, []byte("b"), []byte("2"))
	if n, err := db.ApplyPacked(b); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	b = AppendPacked(nil, []byte("a"), nil)
	b = AppendPacked(b, []byte("never-there"), nil)
	if n, err := db.ApplyPacked(b); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	if db.Exists([]byte("a")) || !db.Exists([]byte("b")) {
		t.Fatal("delete by empty value did not work")
	}
	bad := AppendPacked(nil, []byte("c"), []byte("3"))
	bad = append(bad, AppendPacked(nil, []byte("d"), []byte("4"))[:9]...)
	if n, err := db.ApplyPacked(bad); !errors.Is(err, ErrMalformedPacked) || n != 1 {
		t.Fatalf("malformed buffer: %d applied, %v", n, err)
	}
	if _, _, _, _, err := NextPacked(bad[10:]); !errors.Is(err, ErrMalformedPacked) {
		t.Fatalf("NextPacked of a cut record: %v", err)
	}
}
