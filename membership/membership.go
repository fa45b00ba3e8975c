package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/raftlayer"
	"github.com/rctdb/rctdb/transport"
)

// Raft is what membership needs of the Raft layer.
type Raft interface {
	Apply(ctx context.Context, c raftlayer.Command) (uint64, error)
	ReconcileMembers(ctx context.Context, st *raftlayer.State, addr func(uint32) string, connected func(uint32) bool) (time.Duration, error)
}

// PeerSetter is a transport whose peers can change at run time (the TCP
// transport; the in-memory one reaches every node anyway).
type PeerSetter interface {
	SetPeers(peers []transport.Peer) error
}

// Transport is the node transport as membership sees it.
type Transport interface {
	transport.Links
	RaftAddr(pnn uint32) string
}

// Config configures a Follower.
type Config struct {
	Self uint32
	// NodesFile is this node's nodes file.
	NodesFile string
	// Port renders node addresses in node maps.
	Port uint16
}

// Follower keeps this node in step with the cluster's node list.
type Follower struct {
	cfg  Config
	raft Raft
	tr   Transport
	log  *slog.Logger

	// last is the node list Sync applied last; only Sync touches it.
	last []raftlayer.NodeState
}

// New returns a Follower.
func New(cfg Config, r Raft, tr Transport, log *slog.Logger) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{cfg: cfg, raft: r, tr: tr, log: log}
}

// Sync follows the node list of an applied state: the transport connects
// to added nodes and cuts removed ones off, and the nodes file is
// rewritten when it is behind the cluster. Call it from one goroutine, for
// every state the node applies once the cluster's state is initialised
// (not for the bootstrap state of the configuration).
func (f *Follower) Sync(st *raftlayer.State) {
	if slices.Equal(st.Nodes, f.last) {
		return
	}
	changed := !nodeAddrsEqual(st.Nodes, f.last)
	f.last = st.Nodes // never modified: the state is immutable
	if !changed {
		return
	}
	if ps, ok := f.tr.(PeerSetter); ok {
		var peers []transport.Peer
		for _, ns := range st.Nodes {
			if a, err := netip.ParseAddr(ns.Addr); err == nil && !ns.Deleted {
				peers = append(peers, transport.Peer{PNN: ns.PNN, Addr: a.Unmap()})
			}
		}
		if err := ps.SetPeers(peers); err != nil {
			f.log.Error("cannot apply the cluster's node list to the node links", "err", err)
		}
	}
	if int(f.cfg.Self) < len(st.Nodes) && st.Nodes[f.cfg.Self].Deleted {
		f.log.Error("this node was removed from the cluster; it will not serve again (its state directories must be removed before it can be added as a new node)")
	}
	if err := f.updateNodesFile(st.Nodes); err != nil {
		f.log.Warn("cannot bring the nodes file in step with the cluster", "file", f.cfg.NodesFile, "err", err)
	}
}

// nodeAddrsEqual reports whether two node lists have the same nodes at the
// same addresses (flags aside).
func nodeAddrsEqual(a, b []raftlayer.NodeState) bool {
	return slices.EqualFunc(a, b, func(x, y raftlayer.NodeState) bool {
		return x.PNN == y.PNN && x.Addr == y.Addr && x.Deleted == y.Deleted
	})
}

// updateNodesFile rewrites the nodes file from the cluster's node list when
// the file is behind it: it lacks nodes added since, or lists as active a
// node that was removed. A file that is ahead (edited for a reload that has
// not happened yet) or conflicting is left alone.
func (f *Follower) updateNodesFile(nodes []raftlayer.NodeState) error {
	path := f.cfg.NodesFile
	file, err := config.LoadNodes(path)
	if err != nil {
		return err
	}
	if !fileBehind(file, nodes) {
		return nil
	}
	out := make([]config.Node, len(nodes))
	for i, ns := range nodes {
		out[i] = config.Node{PNN: ns.PNN, Deleted: ns.Deleted}
		a, err := netip.ParseAddr(ns.Addr)
		if ns.Deleted {
			a, err = netip.ParseAddr(ns.RemovedAddr)
		}
		if err == nil {
			out[i].Addr = a
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nodes-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := config.WriteNodes(tmp, out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	f.log.Info("nodes file brought in step with the cluster", "file", path, "nodes", len(nodes))
	return nil
}

// fileBehind reports whether the nodes file misses changes the cluster
// made and has none of its own.
func fileBehind(file []config.Node, nodes []raftlayer.NodeState) bool {
	if len(file) > len(nodes) {
		return false
	}
	behind := len(nodes) > len(file)
	for i, fn := range file {
		ns := nodes[i]
		switch {
		case fn.Deleted && !ns.Deleted:
			return false // a removal the cluster has not made yet
		case !fn.Deleted && ns.Deleted:
			behind = true
		case !fn.Deleted && fn.Addr.Unmap().String() != ns.Addr:
			return false // conflicting: left to the administrator
		}
	}
	return behind
}

// SockAddr renders a node address with the CTDB port; deleted nodes have
// no address and show 0.0.0.0, as in ctdbd.
func (f *Follower) SockAddr(addr string) protocol.SockAddr {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		a = netip.IPv4Unspecified()
	}
	return protocol.SockAddrFrom(netip.AddrPortFrom(a, f.cfg.Port))
}

// NodesFile reads the nodes file now, as ctdbd does for GET_NODES_FILE, so
// that the ctdb tool can compare every node's file before a reload.
func (f *Follower) NodesFile() (protocol.NodeMap, error) {
	file, err := config.LoadNodes(f.cfg.NodesFile)
	if err != nil {
		return protocol.NodeMap{}, err
	}
	nm := protocol.NodeMap{}
	for _, fn := range file {
		var flags uint32
		addr := ""
		if fn.Deleted {
			flags = protocol.NodeFlagDeleted
		} else {
			addr = fn.Addr.String()
		}
		nm.Nodes = append(nm.Nodes, protocol.NodeInfo{PNN: fn.PNN, Flags: flags, Addr: f.SockAddr(addr)})
	}
	return nm, nil
}

// Reload makes the cluster's node list that of this node's nodes file,
// through Raft (RELOAD_NODES_FILE): appended lines add nodes, lines
// commented out remove them. The ctdb tool sends it to every connected
// node after checking that their files agree; the first to commit changes
// the list and the others find nothing to do. It returns the number of
// lines of the file.
func (f *Follower) Reload(ctx context.Context) (int, error) {
	file, err := config.LoadNodes(f.cfg.NodesFile)
	if err != nil {
		return 0, fmt.Errorf("reload nodes: %w", err)
	}
	cmd := &raftlayer.CmdSetNodes{}
	for _, fn := range file {
		e := raftlayer.NodeEntry{PNN: fn.PNN, Deleted: fn.Deleted}
		if !fn.Deleted {
			e.Addr = fn.Addr.Unmap().String()
		}
		cmd.Nodes = append(cmd.Nodes, e)
	}
	if _, err := f.raft.Apply(ctx, cmd); err != nil {
		var rej *raftlayer.ErrRejected
		if errors.As(err, &rej) {
			f.log.Warn("nodes file refused", "file", f.cfg.NodesFile, "reason", rej.Reason)
		}
		return 0, fmt.Errorf("reload nodes from %s: %w", f.cfg.NodesFile, err)
	}
	f.log.Info("reloaded the nodes file", "file", f.cfg.NodesFile, "nodes", len(file))
	return len(file), nil
}

// Reconcile keeps the Raft group in step with the node list, dialling
// nodes at their transport addresses; the election's leader calls it.
func (f *Follower) Reconcile(ctx context.Context, st *raftlayer.State) (time.Duration, error) {
	return f.raft.ReconcileMembers(ctx, st, f.tr.RaftAddr, f.tr.Connected)
}
