package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/server"
	"github.com/rctdb/rctdb/transport"
	"go.uber.org/goleak"
)

// oneNode returns the options of a one-node cluster whose Raft state is on
// disk (so that a node left open would keep its store locked).
func oneNode(t *testing.T, dir string) server.Options {
	t.Helper()
	cfg := clustertest.NodeConfig(dir, 1, 0)
	cfg.Cluster.Socket = filepath.Join(dir, "sock")
	log, lv := clustertest.Logger(t)
	return server.Options{Config: cfg, Transport: transport.NewMemNetwork().Transport(0), Logger: log, Level: lv}
}

// TestFailedNewAndStartReleaseWhatTheyOpened: a New that fails after Raft
// opened its store, and a Start that fails on a busy socket, leave nothing
// open: the next node on the same directories starts at once.
func TestFailedNewAndStartReleaseWhatTheyOpened(t *testing.T) {
	before := goleak.IgnoreCurrent()
	dir := t.TempDir()
	opts := oneNode(t, dir)
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Config.Database.VolatileDir = filepath.Join(blocker, "v")
	if _, err := server.New(opts); err == nil {
		t.Fatal("New with a volatile directory under a file succeeded")
	}

	// A daemon already answers on the socket: Start fails.
	opts = oneNode(t, dir)
	busy, err := net.Listen("unix", opts.Config.Cluster.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	start := time.Now()
	n, err := server.New(opts)
	if err != nil {
		t.Fatalf("New after a failed New: %v (Raft's store still held?)", err)
	}
	if err := n.Start(); err == nil {
		t.Fatal("Start on a busy socket succeeded")
	}
	busy.Close()
	// Nothing of the two failed nodes runs any more.
	if err := goleak.Find(before); err != nil {
		t.Fatalf("the failed New and Start left goroutines running: %v", err)
	}

	opts = oneNode(t, dir)
	n, err = server.New(opts)
	if err != nil {
		t.Fatalf("New after a failed Start: %v", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("Start after a failed Start: %v", err)
	}
	// Raft waits 2 s for a locked store: opening three times must take less.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("reopening took %v: a store was still locked", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("Shutdown left goroutines running: %v", err)
	}
}
