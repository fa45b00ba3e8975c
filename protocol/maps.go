package protocol

import "fmt"

// NodeInfo is one entry of the node map (ctdb_node_and_flags, 36 bytes).
type NodeInfo struct {
	PNN   uint32
	Flags uint32
	Addr  SockAddr
}

const nodeInfoSize = 4 + 4 + SockAddrSize

// NodeMap is ctdb_node_map: the GET_NODEMAP and GET_NODES_FILE reply.
type NodeMap struct {
	Nodes []NodeInfo
}

// Marshal encodes the node map.
func (m *NodeMap) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 4+nodeInfoSize*len(m.Nodes))}
	e.u32(uint32(len(m.Nodes)))
	for _, n := range m.Nodes {
		e.u32(n.PNN)
		e.u32(n.Flags)
		e.sockAddr(n.Addr)
	}
	return e.b
}

// Unmarshal decodes a node map.
func (m *NodeMap) Unmarshal(b []byte) error {
	d := newDecoder("node map", b)
	n := d.count(nodeInfoSize)
	m.Nodes = make([]NodeInfo, n)
	for i := range m.Nodes {
		m.Nodes[i] = NodeInfo{PNN: d.u32(), Flags: d.u32(), Addr: d.sockAddr()}
	}
	return d.err
}

// Node returns the entry for pnn.
func (m *NodeMap) Node(pnn uint32) (NodeInfo, bool) {
	for _, n := range m.Nodes {
		if n.PNN == pnn {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// VNNMap is ctdb_vnn_map: the generation and the lmaster of each hash bucket.
type VNNMap struct {
	Generation uint32
	Map        []uint32
}

// Marshal encodes the vnn map.
func (m *VNNMap) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 8+4*len(m.Map))}
	e.u32(m.Generation)
	e.u32(uint32(len(m.Map)))
	for _, p := range m.Map {
		e.u32(p)
	}
	return e.b
}

// Unmarshal decodes a vnn map.
func (m *VNNMap) Unmarshal(b []byte) error {
	d := newDecoder("vnn map", b)
	m.Generation = d.u32()
	n := d.count(4)
	m.Map = make([]uint32, n)
	for i := range m.Map {
		m.Map[i] = d.u32()
	}
	return d.err
}

// LMaster returns the lmaster of a key hash, or UnknownPNN for an empty map.
func (m *VNNMap) LMaster(hash uint32) uint32 {
	if len(m.Map) == 0 {
		return UnknownPNN
	}
	return m.Map[hash%uint32(len(m.Map))]
}

// DBInfo is one entry of the dbid map (8 bytes).
type DBInfo struct {
	DBID  uint32
	Flags uint8
}

// DBMap is ctdb_dbid_map, the GET_DBMAP reply.
type DBMap struct {
	DBs []DBInfo
}

// Marshal encodes the dbid map.
func (m *DBMap) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 4+8*len(m.DBs))}
	e.u32(uint32(len(m.DBs)))
	for _, db := range m.DBs {
		e.u32(db.DBID)
		e.u8(db.Flags)
		e.zeros(3)
	}
	return e.b
}

// Unmarshal decodes a dbid map.
func (m *DBMap) Unmarshal(b []byte) error {
	d := newDecoder("dbid map", b)
	n := d.count(8)
	m.DBs = make([]DBInfo, n)
	for i := range m.DBs {
		m.DBs[i].DBID = d.u32()
		m.DBs[i].Flags = d.u8()
		d.skip(3)
	}
	return d.err
}

// LtdbHeaderSize is sizeof(struct ctdb_ltdb_header).
const LtdbHeaderSize = 24

// LtdbHeader is the header CTDB stores in front of every record value.
type LtdbHeader struct {
	RSN       uint64
	DMaster   uint32
	Reserved1 uint32
	Flags     uint32
}

// AppendTo appends the 24-byte header (padding zeroed) to b.
func (h LtdbHeader) AppendTo(b []byte) []byte {
	e := encoder{b: b}
	e.u64(h.RSN)
	e.u32(h.DMaster)
	e.u32(h.Reserved1)
	e.u32(h.Flags)
	e.zeros(4)
	return e.b
}

// DecodeLtdbHeader decodes the header at the start of a record value.
func DecodeLtdbHeader(b []byte) (LtdbHeader, error) {
	if len(b) < LtdbHeaderSize {
		return LtdbHeader{}, fmt.Errorf("ltdb header: %d bytes: %w", len(b), ErrShort)
	}
	return LtdbHeader{
		RSN:       le.Uint64(b[0:]),
		DMaster:   le.Uint32(b[8:]),
		Reserved1: le.Uint32(b[12:]),
		Flags:     le.Uint32(b[16:]),
	}, nil
}

// RecData is ctdb_rec_data: one record in a record buffer, traverse message
// or DB_PULL stream. Whether Data starts with an ltdb header depends on the
// context (see the reference, section 4.6).
type RecData struct {
	ReqID uint32
	Key   []byte
	Data  []byte
}

const recDataFixed = 16

// Len is the encoded size of the record.
func (r *RecData) Len() int { return recDataFixed + len(r.Key) + len(r.Data) }

// AppendTo appends the encoded record to b.
func (r *RecData) AppendTo(b []byte) []byte {
	e := encoder{b: b}
	e.u32(uint32(r.Len()))
	e.u32(r.ReqID)
	e.u32(uint32(len(r.Key)))
	e.u32(uint32(len(r.Data)))
	e.bytes(r.Key)
	e.bytes(r.Data)
	return e.b
}

// Marshal encodes the record alone.
func (r *RecData) Marshal() []byte { return r.AppendTo(make([]byte, 0, r.Len())) }

// Unmarshal decodes one record from the start of b.
func (r *RecData) Unmarshal(b []byte) error {
	_, err := r.decode(b)
	return err
}

// decode decodes one record and returns its encoded length.
func (r *RecData) decode(b []byte) (int, error) {
	d := newDecoder("record", b)
	length := d.u32()
	r.ReqID = d.u32()
	kl, dl := d.u32(), d.u32()
	r.Key = d.bytes(int(kl))
	r.Data = d.bytes(int(dl))
	if d.err != nil {
		return 0, d.err
	}
	// ctdbd walks buffers by the length field; it must cover what it claims.
	if uint64(length) < uint64(recDataFixed)+uint64(kl)+uint64(dl) || uint64(length) > uint64(len(b)) {
		return 0, fmt.Errorf("record: length %d inconsistent with keylen %d datalen %d in %d bytes", length, kl, dl, len(b))
	}
	return int(length), nil
}

// IsEndMarker reports whether r is the empty record ending a traverse.
func (r *RecData) IsEndMarker() bool { return len(r.Key) == 0 && len(r.Data) == 0 }

// RecBuffer is ctdb_rec_buffer (ctdb_marshall_buffer): records of one
// database packed back to back.
type RecBuffer struct {
	DBID    uint32
	Records []RecData
}

// Marshal encodes the buffer.
func (rb *RecBuffer) Marshal() []byte {
	n := 8
	for i := range rb.Records {
		n += rb.Records[i].Len()
	}
	e := encoder{b: make([]byte, 0, n)}
	e.u32(rb.DBID)
	e.u32(uint32(len(rb.Records)))
	for i := range rb.Records {
		e.b = rb.Records[i].AppendTo(e.b)
	}
	return e.b
}

// Unmarshal decodes a buffer, walking count records by their length fields.
func (rb *RecBuffer) Unmarshal(b []byte) error {
	d := newDecoder("record buffer", b)
	rb.DBID = d.u32()
	n := d.count(recDataFixed)
	if d.err != nil {
		return d.err
	}
	rb.Records = make([]RecData, n)
	off := d.off
	for i := range rb.Records {
		l, err := rb.Records[i].decode(b[off:])
		if err != nil {
			return fmt.Errorf("record buffer: record %d: %w", i, err)
		}
		off += l
	}
	return nil
}
