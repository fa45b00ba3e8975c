package tests

import (
	"context"
	"testing"
	"time"

	"github.com/rctdb/rctdb/bench"
)

// TestBenchRings runs the benchmark rings briefly: they must work (the
// fetch ring checks its counter), whatever their speed here.
func TestBenchRings(t *testing.T) {
	c := cluster(t, 3)
	var sockets []string
	for _, n := range c.Nodes {
		sockets = append(sockets, n.Socket)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg, err := bench.MessageRing(ctx, sockets, time.Second)
	if err != nil || msg.Steps == 0 {
		t.Fatalf("message ring: %v %v", msg, err)
	}
	fetch, err := bench.FetchRing(ctx, sockets, "ring.tdb", time.Second)
	if err != nil || fetch.Steps == 0 {
		t.Fatalf("fetch ring: %v %v", fetch, err)
	}
	t.Logf("message ring %v; fetch ring %v", msg, fetch)
}
