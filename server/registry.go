package server

import (
	"sync"

	"github.com/rctdb/rctdb/protocol"
)

// registry holds the connected clients and their srvid registrations.
type registry struct {
	mu      sync.RWMutex
	nextID  uint32
	clients map[uint32]*clientConn
	// srvids maps a srvid to its registrations; a client that registered a
	// srvid twice appears twice and gets each message twice, as in ctdbd.
	srvids map[uint64][]*clientConn
}

func newRegistry() *registry {
	return &registry{clients: make(map[uint32]*clientConn), srvids: make(map[uint64][]*clientConn)}
}

// add assigns the client an id (never 0) and records it.
func (r *registry) add(c *clientConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		r.nextID++
		if r.nextID != 0 && r.clients[r.nextID] == nil {
			break
		}
	}
	c.id = r.nextID
	r.clients[c.id] = c
}

// remove forgets the client and every srvid it registered.
func (r *registry) remove(c *clientConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clients, c.id)
	for srvid := range c.srvids {
		list := r.srvids[srvid][:0]
		for _, x := range r.srvids[srvid] {
			if x != c {
				list = append(list, x)
			}
		}
		if len(list) == 0 {
			delete(r.srvids, srvid)
		} else {
			r.srvids[srvid] = list
		}
	}
	c.srvids = nil
}

func (r *registry) register(c *clientConn, srvid uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.srvids == nil {
		return // already removed
	}
	r.srvids[srvid] = append(r.srvids[srvid], c)
	c.srvids[srvid]++
}

// deregister removes one registration; false if the client had none.
func (r *registry) deregister(c *clientConn, srvid uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.srvids[srvid] == 0 {
		return false
	}
	c.srvids[srvid]--
	if c.srvids[srvid] == 0 {
		delete(c.srvids, srvid)
	}
	list := r.srvids[srvid]
	for i, x := range list {
		if x == c {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.srvids, srvid)
	} else {
		r.srvids[srvid] = list
	}
	return true
}

// receivers returns the registrations a message for srvid goes to,
// including catch-all registrations.
func (r *registry) receivers(srvid uint64) []*clientConn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := r.srvids[srvid]
	all := r.srvids[protocol.SrvIDAll]
	if len(all) == 0 || srvid == protocol.SrvIDAll {
		return append([]*clientConn(nil), list...)
	}
	out := make([]*clientConn, 0, len(list)+len(all))
	return append(append(out, list...), all...)
}

// hasPID reports whether a connected client has peer pid pid, and if srvid
// is not nil, registered *srvid.
func (r *registry) hasPID(pid int32, srvid *uint64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range r.clients {
		if c.pid != pid {
			continue
		}
		if srvid == nil || c.srvids[*srvid] > 0 {
			return true
		}
	}
	return false
}

// clientsWithPID returns the clients whose peer pid is pid.
func (r *registry) clientsWithPID(pid int32) []*clientConn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*clientConn
	for _, c := range r.clients {
		if c.pid == pid {
			out = append(out, c)
		}
	}
	return out
}

func (r *registry) all() []*clientConn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*clientConn, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c)
	}
	return out
}

func (r *registry) numClients() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.clients)
}

func (r *registry) numSrvIDs() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.srvids)
}
