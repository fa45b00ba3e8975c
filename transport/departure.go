package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Departure is how a peer's link last went down. Failover needs it: the
// addresses of a peer whose process is gone may move at once, those of a
// peer that only went silent only once it must have dropped them.
type Departure uint8

const (
	// Present: the link is up, or has not gone down.
	Present Departure = iota
	// Probing: the link went down and the transport is finding out how.
	Probing
	// Gone: the peer's connections closed and its port refuses new ones:
	// its daemon no longer runs.
	Gone
	// Silent: the peer stopped answering, or closed its connections while
	// something still answers on its port (a stopped or cut-off process,
	// or one that gave up on this node): it may still be running.
	Silent
)

func (d Departure) String() string {
	switch d {
	case Present:
		return "present"
	case Probing:
		return "probing"
	case Gone:
		return "gone"
	case Silent:
		return "silent"
	}
	return "departure(" + strconv.Itoa(int(d)) + ")"
}

// Departures is the part of a transport that says how peers left.
type Departures interface {
	// Departed reports how pnn's link last went down, and when.
	Departed(pnn uint32) (Departure, time.Time)
}

// probeTimeout bounds the connect that tells a gone peer from a silent one.
const probeTimeout = 500 * time.Millisecond

// A process killed with SIGKILL has its connections closed before its
// listening socket, which still completes handshakes in between, for as
// long as the exit takes (longer on a busy machine): a connect that
// succeeds is tried again probeGap later, probeTries times in all (a
// second), before the peer counts as silent. Meanwhile it counts as
// probing, which holds its addresses as silence does.
const (
	probeTries = 6
	probeGap   = 200 * time.Millisecond
)

// probe decides how a peer whose connections closed left: a refused
// connect means nothing listens on its port any more. It gives up (Silent)
// when ctx ends.
func probe(ctx context.Context, addr netip.Addr, port uint16) (Departure, error) {
	dialer := net.Dialer{Timeout: probeTimeout}
	return probeWith(ctx, func(ctx context.Context) error {
		c, err := dialer.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, port).String())
		if err == nil {
			c.Close()
		}
		return err
	})
}

// probeWith is probe with its connect. A connect that succeeds, or that
// the peer resets (its socket answered the handshake and was closed before
// the connect returned: a dying process again), is tried again; a refused
// one means gone; any other failure (a timeout) means silent. It also
// returns the last connect's error.
func probeWith(ctx context.Context, connect func(context.Context) error) (Departure, error) {
	var err error
	for i := range probeTries {
		if i > 0 && !sleepCtx(ctx, probeGap) {
			return Silent, err
		}
		switch err = connect(ctx); {
		case err == nil, errors.Is(err, syscall.ECONNRESET):
		case errors.Is(err, syscall.ECONNREFUSED):
			return Gone, err
		default:
			return Silent, err
		}
	}
	return Silent, err
}

// departedLocked records how l's peer left; l.mu is held.
func (l *link) departedLocked(d Departure) {
	l.dep, l.depAt = d, time.Now()
}

// classify decides how the peer of a link that went down left: silence
// is Silent at once; a closed connection is probed.
func (l *link) classify(silent bool) {
	l.mu.Lock()
	if silent {
		l.departedLocked(Silent)
		l.mu.Unlock()
		return
	}
	l.departedLocked(Probing)
	at := l.depAt
	l.mu.Unlock()
	l.t.goFunc(func() {
		d, err := probe(l.ctx, l.peer.Addr, l.t.cfg.Port)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.dep == Probing && l.depAt == at {
			l.dep = d
		}
		l.t.log.Info("node link went down", "pnn", l.peer.PNN, "departure", d.String(), "probe", errString(err))
	})
}

// Departed reports how pnn's link last went down, and when.
func (t *TCP) Departed(pnn uint32) (Departure, time.Time) {
	l := t.peers.Load().links[pnn]
	if l == nil {
		return Gone, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dep, l.depAt
}

// Departed reports how pnn's link last went down: Gone when its transport
// closed (the node stopped), Silent when the network cut it off.
func (m *Mem) Departed(pnn uint32) (Departure, time.Time) {
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	switch peer := n.nodes[pnn]; {
	case m.running && n.upLocked(m.self, pnn):
		return Present, time.Time{}
	case peer == nil || !peer.running:
		return Gone, m.downAt[pnn]
	default:
		return Silent, m.downAt[pnn]
	}
}

// errString is err's text, "connected" for nil.
func errString(err error) string {
	if err == nil {
		return "connected"
	}
	return err.Error()
}
