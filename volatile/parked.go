package volatile

import (
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// An attach is committed through Raft and each node opens the database
// when it applies the entry, so a node that applied it early can send
// calls for it to a node that has not yet. Such packets wait here, per
// database, until the database is attached (then they run, in arrival
// order) or parkTimeout passes (then they are refused as ctdbd refuses
// packets for unknown databases).
const (
	parkTimeout = 2 * time.Second
	// parkLimit bounds the packets held per database, and parkDBs the
	// databases, so that packets naming made-up ids cost little.
	parkLimit = 10000
	parkDBs   = 64
)

type parkedPacket struct {
	run    func()
	refuse func()
}

// park holds a packet for database dbid; false if it cannot be held.
func (m *Manager) park(dbid uint32, p parkedPacket) bool {
	m.parkMu.Lock()
	defer m.parkMu.Unlock()
	list, ok := m.parked[dbid]
	if !ok && len(m.parked) >= parkDBs || len(list) >= parkLimit {
		return false
	}
	if !ok {
		time.AfterFunc(parkTimeout, func() { m.expireParked(dbid) })
	}
	m.parked[dbid] = append(list, p)
	return true
}

func (m *Manager) takeParked(dbid uint32) []parkedPacket {
	m.parkMu.Lock()
	defer m.parkMu.Unlock()
	list := m.parked[dbid]
	delete(m.parked, dbid)
	return list
}

// runParked runs the packets held for a database that is now attached.
func (m *Manager) runParked(dbid uint32) {
	for _, p := range m.takeParked(dbid) {
		p.run()
	}
}

func (m *Manager) expireParked(dbid uint32) {
	list := m.takeParked(dbid)
	select {
	case <-m.stop:
		return
	default:
	}
	for _, p := range list {
		p.refuse()
	}
}

// refuseUnknownDB answers a node packet for a database this node does not
// have with REPLY_ERROR, as ctdbd does.
func (m *Manager) refuseUnknownDB(h protocol.Header, dbid uint32) {
	m.log.Warn("node packet for an unknown database", "op", h.Operation, "db_id", dbid, "from", h.SrcNode)
	e := protocol.ReplyError{
		Header: protocol.Header{Generation: m.Generation(), DestNode: h.SrcNode, SrcNode: m.cfg.Self, ReqID: h.ReqID},
		Status: -1, Msg: protocol.CString("Unknown database in request. db_id==0x" + hex32(dbid)),
	}
	m.send(h.SrcNode, e.Marshal())
}
