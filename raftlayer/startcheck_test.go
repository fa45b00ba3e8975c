package raftlayer

import (
	"bytes"
	"encoding/json"
	"hash/crc64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/transport"
)

// snapshotDir is the one snapshot directory in a node's raft directory.
func snapshotDir(t *testing.T, dataDir string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(dataDir, "snapshots", "*"))
	if len(dirs) != 1 {
		t.Fatalf("want one snapshot, have %v", dirs)
	}
	return dirs[0]
}

// TestOpenRefusesADamagedSnapshot: a node whose only snapshot is cut, is
// garbage that passes the store's checksum, or has lost its metadata
// after the log was compacted, refuses to start with an error (and a log
// line) saying why; it never comes up with an empty or partial state.
func TestOpenRefusesADamagedSnapshot(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, snap string){
		"cut": func(t *testing.T, snap string) {
			b, _ := os.ReadFile(filepath.Join(snap, "state.bin"))
			os.WriteFile(filepath.Join(snap, "state.bin"), b[:len(b)/2], 0o600)
		},
		"garbage with a good checksum": func(t *testing.T, snap string) {
			garbage := bytes.Repeat([]byte("not a snapshot "), 20)
			os.WriteFile(filepath.Join(snap, "state.bin"), garbage, 0o600)
			var meta map[string]any
			b, _ := os.ReadFile(filepath.Join(snap, "meta.json"))
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			h := crc64.New(crc64.MakeTable(crc64.ECMA))
			h.Write(garbage)
			meta["Size"], meta["CRC"] = len(garbage), h.Sum(nil)
			b, _ = json.Marshal(meta)
			os.WriteFile(filepath.Join(snap, "meta.json"), b, 0o600)
		},
		"metadata lost": func(t *testing.T, snap string) {
			os.WriteFile(filepath.Join(snap, "meta.json"), []byte("{"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestCluster(t, 1)
			c.leader()
			n0 := c.node(0)
			cfg := c.config(0)
			ctx := ctxT(t)
			if _, err := n0.Apply(ctx, &CmdInit{ClusterID: c.id, Nodes: c.nodeStates()}); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := n0.Apply(ctx, &CmdNoop{}); err != nil {
					t.Fatal(err)
				}
			}
			// Keep no log entry behind the snapshot.
			rc := n0.raft.ReloadableConfig()
			rc.TrailingLogs = 0
			if err := n0.raft.ReloadConfig(rc); err != nil {
				t.Fatal(err)
			}
			if err := n0.Snapshot(); err != nil {
				t.Fatal(err)
			}
			c.stop(0)
			damage(t, snapshotDir(t, cfg.DataDir))

			var logs bytes.Buffer
			tr := transport.NewMemNetwork().Transport(0)
			ep := noderpc.New(noderpc.Config{Self: 0}, tr, nil, nil)
			defer ep.Close()
			if err := tr.Start(noderpc.LinkHandler{E: ep}); err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			n, err := Open(cfg, tr, ep, slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err == nil {
				st, _ := n.Current()
				n.Shutdown()
				t.Fatalf("a node with a damaged snapshot started, with state %s", st)
			}
			if !strings.Contains(err.Error(), cfg.DataDir) {
				t.Fatalf("error %q does not name the raft directory", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}
