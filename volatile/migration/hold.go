package migration

import (
	"bytes"

	"time"

	"github.com/rctdb/rctdb/protocol"
)

// A record that arrived for local clients is pinned here until those
// clients had their turn: other nodes' requests that arrive meanwhile wait
// here, so that a client woken by its reply finds the record still here.
// Nothing tells the daemon when smbd takes or lets go of a chain, so the
// driver's pin watch looks at the chain of a key whose requests wait
// (Watch) and steps Release or PinLook.

// pin keeps a record that arrived for local clients here until they had
// their turn.
type pin struct {
	until time.Time
	// seen is the record as the only client that asked for it got it
	// (single); once the record differs, that client has written it and
	// had its turn. Several clients' writes cannot be told apart.
	seen   Record
	single bool
}

// hold keeps another node's request for a record this node holds while the
// record is pinned for local clients or others wait for it already (first
// come, first served); it reports whether it did.
func (c *Core) hold(key []byte, call protocol.ReqCall) bool {
	k := string(key)
	p, pinned := c.pins[k]
	if pinned && (!c.now.Before(p.until) || c.clientWrote(p)) {
		delete(c.pins, k)
		pinned = false
	}
	if !pinned && len(c.waiting[k]) == 0 {
		return false
	}
	c.waiting[k] = append(c.waiting[k], call)
	c.obs.Observe(TallyDeferred, key, 1)
	if !pinned {
		c.release(key)
		return true
	}
	c.watch(key)
	return true
}

// clientWrote reports whether the only local client the record was pinned
// for has written it since.
func (c *Core) clientWrote(p pin) bool {
	if !p.single || !c.cur.Exists {
		return false
	}
	return c.cur.Header != p.seen.Header || !bytes.Equal(c.cur.Data, p.seen.Data)
}

// watch puts key under the pin watch, once.
func (c *Core) watch(key []byte) {
	k := string(key)
	if c.watched[k] {
		return
	}
	c.watched[k] = true
	c.emit(Watch{Key: key})
}

// pinLook ends the pin of key if its only client wrote the record, or
// when the look had to wait for the chain (its holder had its turn).
func (c *Core) pinLook(key []byte, late bool) {
	p, ok := c.pins[string(key)]
	wrote := ok && c.clientWrote(p)
	switch {
	case wrote:
		c.obs.Observe(TallyPinWrite, key, 1)
	case late:
		c.obs.Observe(TallyPinTurn, key, 1)
	default:
		return
	}
	c.release(key)
}

// release serves the first request waiting for key and sends the others
// after the record to its new dmaster, where they wait again: a request
// waiting on a record is never bounced through the lmaster.
func (c *Core) release(key []byte) {
	k := string(key)
	delete(c.watched, k)
	delete(c.pins, k)
	waiting := c.waiting[k]
	delete(c.waiting, k)
	gen := c.env.Generation()
	live := waiting[:0]
	for _, w := range waiting {
		if w.Generation == gen {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return
	}
	r := c.clearRevoked(key)
	if rv := c.revokes[k]; rv != nil {
		for i := range live {
			c.deferCall(rv, Deferred{Flags: live[i].Flags, Node: &live[i]})
		}
		return
	}
	// Read-only requests at the head are answered in turn; the first
	// request for the record itself gets it (after a revocation, which
	// the requests behind it wait for).
	for len(live) > 0 && r.Header.DMaster == c.self {
		first := &live[0]
		if !c.wantsReadonly(first) && r.Header.Flags&roHeld != 0 {
			rv := c.startRevoke(key)
			for i := range live {
				c.deferCall(rv, Deferred{Flags: live[i].Flags, Node: &live[i]})
			}
			return
		}
		c.serveNode(key, *first)
		live = live[1:]
		r = c.cur
	}
	for _, w := range live {
		w.Flags |= CallFlagFollows
		c.forward(w, r.Header.DMaster)
	}
}

// expire forgets pins that ended without a request to clear them, and
// requests held for a generation that is over (their senders send again).
func (c *Core) expire() {
	gen := c.env.Generation()
	for k, p := range c.pins {
		if c.now.After(p.until) && !c.watched[k] {
			delete(c.pins, k)
		}
	}
	for k, ws := range c.waiting {
		live := ws[:0]
		for _, w := range ws {
			if w.Generation == gen {
				live = append(live, w)
			}
		}
		if len(live) == 0 {
			delete(c.waiting, k)
		} else {
			c.waiting[k] = live
		}
	}
}
