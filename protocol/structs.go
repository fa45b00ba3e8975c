package protocol

import "fmt"

// U32 encodes a u32 control argument or reply.
func U32(v uint32) []byte { return le.AppendUint32(nil, v) }

// U64 encodes a u64 control argument or reply.
func U64(v uint64) []byte { return le.AppendUint64(nil, v) }

// ParseU32 decodes a u32 control argument or reply; b must hold at least 4 bytes.
func ParseU32(b []byte) (uint32, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("u32: %d bytes: %w", len(b), ErrShort)
	}
	return le.Uint32(b), nil
}

// ParseU64 decodes a u64 control argument or reply.
func ParseU64(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("u64: %d bytes: %w", len(b), ErrShort)
	}
	return le.Uint64(b), nil
}

// BanState is ctdb_ban_state (SET_BAN_STATE, GET_BAN_STATE).
type BanState struct {
	PNN  uint32
	Time uint32 // seconds; 0 = not banned / unban
}

// Marshal encodes the ban state (8 bytes).
func (s *BanState) Marshal() []byte { return le.AppendUint32(U32(s.PNN), s.Time) }

// Unmarshal decodes a ban state.
func (s *BanState) Unmarshal(b []byte) error {
	d := newDecoder("ban state", b)
	s.PNN, s.Time = d.u32(), d.u32()
	return d.err
}

// TransDB is ctdb_transdb (WIPE_DATABASE, DB_TRANSACTION_START/COMMIT).
type TransDB struct {
	DBID uint32
	TID  uint32
}

// Marshal encodes the structure (8 bytes).
func (t *TransDB) Marshal() []byte { return le.AppendUint32(U32(t.DBID), t.TID) }

// Unmarshal decodes the structure.
func (t *TransDB) Unmarshal(b []byte) error {
	d := newDecoder("transdb", b)
	t.DBID, t.TID = d.u32(), d.u32()
	return d.err
}

// PullDB is ctdb_pulldb (obsolete PULL_DB request).
type PullDB struct {
	DBID    uint32
	LMaster uint32
}

// Marshal encodes the structure (8 bytes).
func (p *PullDB) Marshal() []byte { return le.AppendUint32(U32(p.DBID), p.LMaster) }

// Unmarshal decodes the structure.
func (p *PullDB) Unmarshal(b []byte) error {
	d := newDecoder("pulldb", b)
	p.DBID, p.LMaster = d.u32(), d.u32()
	return d.err
}

// PullDBExt is ctdb_pulldb_ext (DB_PULL, DB_PUSH_START).
type PullDBExt struct {
	DBID    uint32
	LMaster uint32
	SrvID   uint64
}

// Marshal encodes the structure (16 bytes).
func (p *PullDBExt) Marshal() []byte {
	return le.AppendUint64(le.AppendUint32(U32(p.DBID), p.LMaster), p.SrvID)
}

// Unmarshal decodes the structure.
func (p *PullDBExt) Unmarshal(b []byte) error {
	d := newDecoder("pulldb ext", b)
	p.DBID, p.LMaster, p.SrvID = d.u32(), d.u32(), d.u64()
	return d.err
}

// NodeFlagChange is ctdb_node_flag_change (MODIFY_FLAGS, PUSH_NODE_FLAGS).
type NodeFlagChange struct {
	PNN      uint32
	NewFlags uint32
	OldFlags uint32
}

// Marshal encodes the structure (12 bytes).
func (c *NodeFlagChange) Marshal() []byte {
	return le.AppendUint32(le.AppendUint32(U32(c.PNN), c.NewFlags), c.OldFlags)
}

// Unmarshal decodes the structure.
func (c *NodeFlagChange) Unmarshal(b []byte) error {
	d := newDecoder("node flag change", b)
	c.PNN, c.NewFlags, c.OldFlags = d.u32(), d.u32(), d.u32()
	return d.err
}

// PidSrvID is ctdb_pid_srvid (CHECK_PID_SRVID): 12 bytes, packed.
type PidSrvID struct {
	PID   int32
	SrvID uint64
}

// PidSrvIDSize is the exact request size ctdbd requires.
const PidSrvIDSize = 12

// Marshal encodes the structure (12 bytes, no padding).
func (p *PidSrvID) Marshal() []byte { return le.AppendUint64(U32(uint32(p.PID)), p.SrvID) }

// Unmarshal decodes the structure.
func (p *PidSrvID) Unmarshal(b []byte) error {
	d := newDecoder("pid srvid", b)
	p.PID, p.SrvID = d.i32(), d.u64()
	return d.err
}

// DBVacuum is ctdb_db_vacuum (DB_VACUUM): 5 bytes.
type DBVacuum struct {
	DBID          uint32
	FullVacuumRun bool
}

// Marshal encodes the structure (5 bytes).
func (v *DBVacuum) Marshal() []byte {
	e := encoder{b: U32(v.DBID)}
	e.boolean(v.FullVacuumRun)
	return e.b
}

// Unmarshal decodes the structure.
func (v *DBVacuum) Unmarshal(b []byte) error {
	d := newDecoder("db vacuum", b)
	v.DBID, v.FullVacuumRun = d.u32(), d.boolean()
	return d.err
}

// EchoData is ctdb_echo_data (ECHO_DATA request and reply).
type EchoData struct {
	Timeout uint32
	Buf     []byte
}

// Marshal encodes the structure.
func (e *EchoData) Marshal() []byte {
	enc := encoder{b: U32(e.Timeout)}
	enc.datan(e.Buf)
	return enc.b
}

// Unmarshal decodes the structure.
func (e *EchoData) Unmarshal(b []byte) error {
	d := newDecoder("echo data", b)
	e.Timeout = d.u32()
	e.Buf = d.bytes(int(d.u32()))
	return d.err
}

// NotifyData is ctdb_notify_data (REGISTER_NOTIFY).
type NotifyData struct {
	SrvID uint64
	Data  []byte
}

// Marshal encodes the structure.
func (n *NotifyData) Marshal() []byte {
	e := encoder{b: U64(n.SrvID)}
	e.datan(n.Data)
	return e.b
}

// Unmarshal decodes the structure.
func (n *NotifyData) Unmarshal(b []byte) error {
	d := newDecoder("notify data", b)
	n.SrvID = d.u64()
	n.Data = d.bytes(int(d.u32()))
	return d.err
}

// KeyData is ctdb_key_data (SCHEDULE_FOR_DELETION).
type KeyData struct {
	DBID   uint32
	Header LtdbHeader
	Key    []byte
}

// Marshal encodes the structure (36 + keylen bytes).
func (k *KeyData) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 36+len(k.Key))}
	e.u32(k.DBID)
	e.zeros(4)
	e.b = k.Header.AppendTo(e.b)
	e.datan(k.Key)
	return e.b
}

// Unmarshal decodes the structure.
func (k *KeyData) Unmarshal(b []byte) error {
	d := newDecoder("key data", b)
	k.DBID = d.u32()
	d.skip(4)
	if hb := d.bytes(LtdbHeaderSize); hb != nil {
		k.Header, _ = DecodeLtdbHeader(hb)
	}
	k.Key = d.bytes(int(d.u32()))
	return d.err
}

// SrvIDMessage is ctdb_srvid_message: a request that wants its answer sent
// to (PNN, SrvID), e.g. TAKEOVER_RUN.
type SrvIDMessage struct {
	PNN   uint32
	SrvID uint64
}

// Marshal encodes the structure (16 bytes).
func (m *SrvIDMessage) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 16)}
	e.u32(m.PNN)
	e.zeros(4)
	e.u64(m.SrvID)
	return e.b
}

// Unmarshal decodes the structure.
func (m *SrvIDMessage) Unmarshal(b []byte) error {
	d := newDecoder("srvid message", b)
	m.PNN = d.u32()
	d.skip(4)
	m.SrvID = d.u64()
	return d.err
}

// DisableMessage is ctdb_disable_message (DISABLE_TAKEOVER_RUNS,
// DISABLE_RECOVERIES).
type DisableMessage struct {
	PNN     uint32
	SrvID   uint64
	Timeout uint32
}

// Marshal encodes the structure (24 bytes).
func (m *DisableMessage) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 24)}
	e.u32(m.PNN)
	e.zeros(4)
	e.u64(m.SrvID)
	e.u32(m.Timeout)
	e.zeros(4)
	return e.b
}

// Unmarshal decodes the structure.
func (m *DisableMessage) Unmarshal(b []byte) error {
	d := newDecoder("disable message", b)
	m.PNN = d.u32()
	d.skip(4)
	m.SrvID = d.u64()
	m.Timeout = d.u32()
	d.skip(4)
	return d.err
}

// ElectionMessage is ctdb_election_message (32 bytes).
type ElectionMessage struct {
	NumConnected uint32
	PriorityTime Timeval
	PNN          uint32
	NodeFlags    uint32
}

// Marshal encodes the structure.
func (m *ElectionMessage) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 32)}
	e.u32(m.NumConnected)
	e.zeros(4)
	e.timeval(m.PriorityTime)
	e.u32(m.PNN)
	e.u32(m.NodeFlags)
	return e.b
}

// Unmarshal decodes the structure.
func (m *ElectionMessage) Unmarshal(b []byte) error {
	d := newDecoder("election message", b)
	m.NumConnected = d.u32()
	d.skip(4)
	m.PriorityTime = d.timeval()
	m.PNN = d.u32()
	m.NodeFlags = d.u32()
	return d.err
}

// ServerID is ctdb_server_id of the client library (24 bytes).
type ServerID struct {
	PID      uint64
	TaskID   uint32
	VNN      uint32
	UniqueID uint64
}

func (e *encoder) serverID(s ServerID) {
	e.u64(s.PID)
	e.u32(s.TaskID)
	e.u32(s.VNN)
	e.u64(s.UniqueID)
}
func (d *decoder) serverID() ServerID {
	return ServerID{PID: d.u64(), TaskID: d.u32(), VNN: d.u32(), UniqueID: d.u64()}
}

// GLockType is the lock type of a client-library g_lock entry.
type GLockType uint32

// g_lock types of the ctdb client library.
const (
	GLockRead  GLockType = 0
	GLockWrite GLockType = 1
)

// GLock is ctdb_g_lock, one entry of a client-library g_lock record (32 bytes).
type GLock struct {
	Type GLockType
	SID  ServerID
}

// GLockSize is the encoded size of one entry.
const GLockSize = 32

// GLockList is the value of a client-library g_lock record: entries back to
// back, no count.
type GLockList struct {
	Locks []GLock
}

// Marshal encodes the list.
func (l *GLockList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, GLockSize*len(l.Locks))}
	for _, g := range l.Locks {
		e.u32(uint32(g.Type))
		e.zeros(4)
		e.serverID(g.SID)
	}
	return e.b
}

// Unmarshal decodes the list; the length must be a multiple of 32.
func (l *GLockList) Unmarshal(b []byte) error {
	if len(b)%GLockSize != 0 {
		return fmt.Errorf("g_lock list: %d bytes is not a multiple of %d", len(b), GLockSize)
	}
	d := newDecoder("g_lock list", b)
	l.Locks = make([]GLock, len(b)/GLockSize)
	for i := range l.Locks {
		l.Locks[i].Type = GLockType(d.u32())
		d.skip(4)
		l.Locks[i].SID = d.serverID()
	}
	return d.err
}

// TraverseStart is ctdb_traverse_start (TRAVERSE_START, TRAVERSE_KILL).
type TraverseStart struct {
	DBID  uint32
	ReqID uint32
	SrvID uint64
}

// Marshal encodes the structure (16 bytes).
func (t *TraverseStart) Marshal() []byte {
	return le.AppendUint64(le.AppendUint32(U32(t.DBID), t.ReqID), t.SrvID)
}

// Unmarshal decodes the structure.
func (t *TraverseStart) Unmarshal(b []byte) error {
	d := newDecoder("traverse start", b)
	t.DBID, t.ReqID, t.SrvID = d.u32(), d.u32(), d.u64()
	return d.err
}

// TraverseStartExt is ctdb_traverse_start_ext (TRAVERSE_START_EXT, 24 bytes).
type TraverseStartExt struct {
	DBID             uint32
	ReqID            uint32
	SrvID            uint64
	WithEmptyRecords bool
}

// Marshal encodes the structure.
func (t *TraverseStartExt) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 24)}
	e.u32(t.DBID)
	e.u32(t.ReqID)
	e.u64(t.SrvID)
	e.boolean(t.WithEmptyRecords)
	e.zeros(7)
	return e.b
}

// Unmarshal decodes the structure.
func (t *TraverseStartExt) Unmarshal(b []byte) error {
	d := newDecoder("traverse start ext", b)
	t.DBID, t.ReqID, t.SrvID = d.u32(), d.u32(), d.u64()
	t.WithEmptyRecords = d.boolean()
	d.skip(7)
	return d.err
}

// TraverseAll is ctdb_traverse_all (TRAVERSE_ALL, node to node, 24 bytes).
type TraverseAll struct {
	DBID        uint32
	ReqID       uint32
	PNN         uint32
	ClientReqID uint32
	SrvID       uint64
}

// Marshal encodes the structure.
func (t *TraverseAll) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 24)}
	e.u32(t.DBID)
	e.u32(t.ReqID)
	e.u32(t.PNN)
	e.u32(t.ClientReqID)
	e.u64(t.SrvID)
	return e.b
}

// Unmarshal decodes the structure.
func (t *TraverseAll) Unmarshal(b []byte) error {
	d := newDecoder("traverse all", b)
	t.DBID, t.ReqID, t.PNN, t.ClientReqID, t.SrvID = d.u32(), d.u32(), d.u32(), d.u32(), d.u64()
	return d.err
}

// TraverseAllExt is ctdb_traverse_all_ext (TRAVERSE_ALL_EXT, 32 bytes).
type TraverseAllExt struct {
	TraverseAll
	WithEmptyRecords bool
}

// Marshal encodes the structure.
func (t *TraverseAllExt) Marshal() []byte {
	e := encoder{b: t.TraverseAll.Marshal()}
	e.boolean(t.WithEmptyRecords)
	e.zeros(7)
	return e.b
}

// Unmarshal decodes the structure.
func (t *TraverseAllExt) Unmarshal(b []byte) error {
	if err := t.TraverseAll.Unmarshal(b); err != nil {
		return err
	}
	d := newDecoder("traverse all ext", b)
	d.skip(24)
	t.WithEmptyRecords = d.boolean()
	d.skip(7)
	return d.err
}
