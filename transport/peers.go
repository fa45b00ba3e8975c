package transport

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
)

// peerSet is one immutable version of the membership the transport serves;
// SetPeers replaces it whole so that the packet paths read it without a
// lock.
type peerSet struct {
	byAddr map[netip.Addr]uint32
	addrs  map[uint32]netip.Addr
	links  map[uint32]*link // every peer but this node
}

// newPeerSet builds a set for peers, reusing the links of old whose peer
// kept its address.
func (t *TCP) newPeerSet(peers []Peer, old *peerSet) (*peerSet, error) {
	ps := &peerSet{
		byAddr: make(map[netip.Addr]uint32, len(peers)),
		addrs:  make(map[uint32]netip.Addr, len(peers)),
		links:  make(map[uint32]*link, len(peers)),
	}
	for _, p := range peers {
		if !p.Addr.IsValid() {
			return nil, fmt.Errorf("transport peers: node %d: invalid address", p.PNN)
		}
		if prev, dup := ps.byAddr[p.Addr]; dup {
			return nil, fmt.Errorf("transport peers: address %s listed for nodes %d and %d", p.Addr, prev, p.PNN)
		}
		if _, dup := ps.addrs[p.PNN]; dup {
			return nil, fmt.Errorf("transport peers: node %d listed twice", p.PNN)
		}
		ps.byAddr[p.Addr] = p.PNN
		ps.addrs[p.PNN] = p.Addr
		if p.PNN == t.cfg.Self {
			continue
		}
		if old != nil {
			if l := old.links[p.PNN]; l != nil && l.peer == p {
				ps.links[p.PNN] = l
				continue
			}
		}
		ps.links[p.PNN] = &link{t: t, peer: p}
	}
	return ps, nil
}

// SetPeers makes peers the cluster's membership, this node included:
// links to new nodes start connecting, links to nodes no longer listed (or
// listed with another address) are closed, reported disconnected and their
// connections refused from then on. The membership comes from the
// replicated state, so every node converges on the same set.
func (t *TCP) SetPeers(peers []Peer) error {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if t.ctx != nil && t.ctx.Err() != nil {
		return ErrClosed // Close cancelled ctx before taking peersMu
	}
	old := t.peers.Load()
	if i := slices.IndexFunc(peers, func(p Peer) bool { return p.PNN == t.cfg.Self }); i < 0 || peers[i].Addr != t.self {
		return fmt.Errorf("transport peers: this node (%d at %s) is not among them", t.cfg.Self, t.self)
	}
	ps, err := t.newPeerSet(peers, old)
	if err != nil {
		return err
	}
	started := t.handler != nil
	for pnn, l := range ps.links {
		if old.links[pnn] != l && started {
			t.prepareLink(l)
		}
	}
	t.peers.Store(ps)
	for pnn, l := range old.links {
		if ps.links[pnn] != l {
			t.log.Info("node removed from the transport", "pnn", pnn, "addr", l.peer.Addr)
			if l.cancel != nil {
				l.cancel()
			}
			l.reset(0, "node removed from the cluster", false)
		}
	}
	for pnn, l := range ps.links {
		if old.links[pnn] != l {
			t.log.Info("node added to the transport", "pnn", pnn, "addr", l.peer.Addr)
			if started {
				t.goFunc(l.dialLoop)
			}
		}
	}
	return nil
}

// prepareLink gives a link its handler and context, before any goroutine
// can see it; the caller holds peersMu and the transport is started.
func (t *TCP) prepareLink(l *link) {
	l.h = t.handler
	l.ctx, l.cancel = context.WithCancel(t.ctx)
}

// PeerStatus is what a peer said of itself when this node last connected
// to it.
type PeerStatus uint8

const (
	// PeerUnknown: no answer yet.
	PeerUnknown PeerStatus = iota
	// PeerFresh: the peer accepted us and has no cluster state yet.
	PeerFresh
	// PeerFormed: the peer accepted us and already belongs to a formed
	// cluster.
	PeerFormed
	// PeerRefusedUs: the peer runs and refused us, typically because its
	// cluster does not (yet) list this node.
	PeerRefusedUs
)

// SetFormed installs the function that tells dialers whether this node has
// cluster state. It must be called before Start.
func (t *TCP) SetFormed(f func() bool) { t.formed = f }

func (t *TCP) isFormed() bool { return t.formed != nil && t.formed() }

// Survey reports what each peer said in its last handshake answer, for a
// node deciding whether to bootstrap a new cluster or wait to be added to
// a running one.
func (t *TCP) Survey() map[uint32]PeerStatus {
	t.surveyMu.Lock()
	defer t.surveyMu.Unlock()
	out := make(map[uint32]PeerStatus, len(t.survey))
	for p, s := range t.survey {
		out[p] = s
	}
	return out
}

// noteWelcome records a peer's answer to our hello; err is the verdict of
// checkWelcome on it.
func (t *TCP) noteWelcome(pnn uint32, w welcome, err error) {
	s := PeerFresh
	switch {
	case err != nil:
		s = PeerRefusedUs
	case w.Formed:
		s = PeerFormed
	}
	t.surveyMu.Lock()
	t.survey[pnn] = s
	t.surveyMu.Unlock()
}
