package protocol

import "fmt"

// Fixed sizes (header included) and minimum allocation sizes (sizeof the
// daemon's C struct) of each operation.
const (
	reqCallFixed       = 56
	reqCallMin         = 60
	replyCallFixed     = 40
	replyCallMin       = 44
	replyErrorFixed    = 40
	replyErrorMin      = 44
	reqDMasterFixed    = 60
	replyDMasterFixed  = 56
	dmasterMin         = 64
	reqMessageFixed    = 44
	reqMessageMin      = 48
	reqControlFixed    = 60
	reqControlMin      = 64
	replyControlFixed  = 44
	replyControlMin    = 48
	reqKeepaliveFixed  = 40
	reqTunnelFixed     = 48
	reqTunnelMin       = 56
	recordFlagsTrailer = 4
)

// Call flags (ctdb_req_call.flags).
const (
	CallFlagImmediateMigration uint32 = 0x1
	CallFlagVacuumMigration    uint32 = 0x2
	CallFlagWantReadonly       uint32 = 0x4
)

// Call ids registered for every database.
const (
	CallNullFunc            uint32 = 0xFF000001
	CallFetchFunc           uint32 = 0xFF000002
	CallFetchWithHeaderFunc uint32 = 0xFF000003
)

// Control flags (ctdb_req_control.flags).
const (
	CtrlFlagNoReply               uint32 = 0x00000001
	CtrlFlagPublicIPOnlyAvailable uint32 = 0x00010000
	CtrlFlagAttachRecovery        uint32 = 0x00020000
)

// Tunnel flags (ctdb_req_tunnel.flags).
const (
	TunnelFlagRequest uint32 = 0x1
	TunnelFlagReply   uint32 = 0x2
	TunnelFlagNoReply uint32 = 0x10
)

// ReqCall is CTDB_REQ_CALL: run a call function on a record's dmaster.
type ReqCall struct {
	Header
	Flags    uint32
	DBID     uint32
	CallID   uint32
	HopCount uint32
	Key      []byte
	CallData []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReqCall) Marshal() []byte {
	b := allocPacket(&p.Header, OpReqCall, reqCallFixed, len(p.Key)+len(p.CallData), reqCallMin)
	le.PutUint32(b[32:], p.Flags)
	le.PutUint32(b[36:], p.DBID)
	le.PutUint32(b[40:], p.CallID)
	le.PutUint32(b[44:], p.HopCount)
	le.PutUint32(b[48:], uint32(len(p.Key)))
	le.PutUint32(b[52:], uint32(len(p.CallData)))
	n := copy(b[56:], p.Key)
	copy(b[56+n:], p.CallData)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReqCall) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqCall, reqCallFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REQ_CALL", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.Flags = d.u32()
	p.DBID = d.u32()
	p.CallID = d.u32()
	p.HopCount = d.u32()
	kl, cl := d.u32(), d.u32()
	p.Key = d.bytes(int(kl))
	p.CallData = d.bytes(int(cl))
	return d.err
}

// ReplyCall is CTDB_REPLY_CALL.
type ReplyCall struct {
	Header
	Status int32
	Data   []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReplyCall) Marshal() []byte {
	b := allocPacket(&p.Header, OpReplyCall, replyCallFixed, len(p.Data), replyCallMin)
	le.PutUint32(b[32:], uint32(p.Status))
	le.PutUint32(b[36:], uint32(len(p.Data)))
	copy(b[40:], p.Data)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReplyCall) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReplyCall, replyCallFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REPLY_CALL", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.Status = d.i32()
	p.Data = d.bytes(int(d.u32()))
	return d.err
}

// ReplyError is CTDB_REPLY_ERROR (node to node only).
type ReplyError struct {
	Header
	Status int32
	Msg    []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReplyError) Marshal() []byte {
	b := allocPacket(&p.Header, OpReplyError, replyErrorFixed, len(p.Msg), replyErrorMin)
	le.PutUint32(b[32:], uint32(p.Status))
	le.PutUint32(b[36:], uint32(len(p.Msg)))
	copy(b[40:], p.Msg)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReplyError) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReplyError, replyErrorFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REPLY_ERROR", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.Status = d.i32()
	p.Msg = d.bytes(int(d.u32()))
	return d.err
}

// ReqDMaster is CTDB_REQ_DMASTER: the old dmaster hands a record to the
// lmaster on its way to the new dmaster.
type ReqDMaster struct {
	Header
	DBID    uint32
	RSN     uint64
	DMaster uint32
	Key     []byte
	Data    []byte
	// RecordFlags is the trailer ctdbd 4.17 appends after the data; zero when
	// the packet is too short to carry it.
	RecordFlags uint32
}

// Marshal encodes the packet with its record-flags trailer, padded to 8.
func (p *ReqDMaster) Marshal() []byte {
	kd := len(p.Key) + len(p.Data)
	b := allocPacket(&p.Header, OpReqDMaster, reqDMasterFixed, kd+recordFlagsTrailer, dmasterMin)
	le.PutUint32(b[32:], p.DBID)
	le.PutUint64(b[40:], p.RSN)
	le.PutUint32(b[48:], p.DMaster)
	le.PutUint32(b[52:], uint32(len(p.Key)))
	le.PutUint32(b[56:], uint32(len(p.Data)))
	n := copy(b[60:], p.Key)
	copy(b[60+n:], p.Data)
	le.PutUint32(b[60+kd:], p.RecordFlags)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReqDMaster) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqDMaster, reqDMasterFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REQ_DMASTER", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.DBID = d.u32()
	d.skip(4)
	p.RSN = d.u64()
	p.DMaster = d.u32()
	kl, dl := d.u32(), d.u32()
	p.Key = d.bytes(int(kl))
	p.Data = d.bytes(int(dl))
	p.RecordFlags = 0
	if d.err == nil && len(pkt)-d.off >= recordFlagsTrailer {
		p.RecordFlags = d.u32()
	}
	return d.err
}

// ReplyDMaster is CTDB_REPLY_DMASTER: the lmaster hands a record to its new
// dmaster.
type ReplyDMaster struct {
	Header
	DBID        uint32
	RSN         uint64
	Key         []byte
	Data        []byte
	RecordFlags uint32
}

// Marshal encodes the packet with its record-flags trailer, padded to 8.
func (p *ReplyDMaster) Marshal() []byte {
	kd := len(p.Key) + len(p.Data)
	b := allocPacket(&p.Header, OpReplyDMaster, replyDMasterFixed, kd+recordFlagsTrailer, dmasterMin)
	le.PutUint32(b[32:], p.DBID)
	le.PutUint64(b[40:], p.RSN)
	le.PutUint32(b[48:], uint32(len(p.Key)))
	le.PutUint32(b[52:], uint32(len(p.Data)))
	n := copy(b[56:], p.Key)
	copy(b[56+n:], p.Data)
	le.PutUint32(b[56+kd:], p.RecordFlags)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReplyDMaster) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReplyDMaster, replyDMasterFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REPLY_DMASTER", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.DBID = d.u32()
	d.skip(4)
	p.RSN = d.u64()
	kl, dl := d.u32(), d.u32()
	p.Key = d.bytes(int(kl))
	p.Data = d.bytes(int(dl))
	p.RecordFlags = 0
	if d.err == nil && len(pkt)-d.off >= recordFlagsTrailer {
		p.RecordFlags = d.u32()
	}
	return d.err
}

// ReqMessage is CTDB_REQ_MESSAGE: an opaque payload for a srvid.
type ReqMessage struct {
	Header
	SrvID uint64
	Data  []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReqMessage) Marshal() []byte {
	b := allocPacket(&p.Header, OpReqMessage, reqMessageFixed, len(p.Data), reqMessageMin)
	le.PutUint64(b[32:], p.SrvID)
	le.PutUint32(b[40:], uint32(len(p.Data)))
	copy(b[44:], p.Data)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReqMessage) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqMessage, reqMessageFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REQ_MESSAGE", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.SrvID = d.u64()
	p.Data = d.bytes(int(d.u32()))
	return d.err
}

// ReqControl is CTDB_REQ_CONTROL.
type ReqControl struct {
	Header
	Opcode   Opcode
	SrvID    uint64
	ClientID uint32
	Flags    uint32
	Data     []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReqControl) Marshal() []byte {
	b := allocPacket(&p.Header, OpReqControl, reqControlFixed, len(p.Data), reqControlMin)
	le.PutUint32(b[32:], uint32(p.Opcode))
	le.PutUint64(b[40:], p.SrvID)
	le.PutUint32(b[48:], p.ClientID)
	le.PutUint32(b[52:], p.Flags)
	le.PutUint32(b[56:], uint32(len(p.Data)))
	copy(b[60:], p.Data)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReqControl) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqControl, reqControlFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REQ_CONTROL", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.Opcode = Opcode(d.u32())
	d.skip(4)
	p.SrvID = d.u64()
	p.ClientID = d.u32()
	p.Flags = d.u32()
	p.Data = d.bytes(int(d.u32()))
	return d.err
}

// NoReply reports whether the sender asked for no reply.
func (p *ReqControl) NoReply() bool { return p.Flags&CtrlFlagNoReply != 0 }

// ReplyControl is CTDB_REPLY_CONTROL. ErrMsg is sent without a NUL.
type ReplyControl struct {
	Header
	Status int32
	Data   []byte
	ErrMsg []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReplyControl) Marshal() []byte {
	b := allocPacket(&p.Header, OpReplyControl, replyControlFixed, len(p.Data)+len(p.ErrMsg), replyControlMin)
	le.PutUint32(b[32:], uint32(p.Status))
	le.PutUint32(b[36:], uint32(len(p.Data)))
	le.PutUint32(b[40:], uint32(len(p.ErrMsg)))
	n := copy(b[44:], p.Data)
	copy(b[44+n:], p.ErrMsg)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReplyControl) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReplyControl, replyControlFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REPLY_CONTROL", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.Status = d.i32()
	dl, el := d.u32(), d.u32()
	p.Data = d.bytes(int(dl))
	p.ErrMsg = d.bytes(int(el))
	return d.err
}

// Error returns the reply's error text, or a generic text naming the status.
func (p *ReplyControl) Error() string {
	if len(p.ErrMsg) > 0 {
		return ParseCString(p.ErrMsg)
	}
	return fmt.Sprintf("control failed with status %d", p.Status)
}

// KeepaliveVersion is the Samba version ctdbd 4.17 sends in keepalives.
const KeepaliveVersion = 0x00040011

// ReqKeepalive is CTDB_REQ_KEEPALIVE.
type ReqKeepalive struct {
	Header
	KeepaliveVersion uint32
	Uptime           uint32
}

// Marshal encodes the packet (40 bytes).
func (p *ReqKeepalive) Marshal() []byte {
	b := allocPacket(&p.Header, OpReqKeepalive, reqKeepaliveFixed, 0, reqKeepaliveFixed)
	le.PutUint32(b[32:], p.KeepaliveVersion)
	le.PutUint32(b[36:], p.Uptime)
	return b
}

// Unmarshal decodes pkt into p. The old 32-byte form decodes with zero fields.
func (p *ReqKeepalive) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqKeepalive, HeaderSize)
	if err != nil {
		return err
	}
	p.Header = h
	p.KeepaliveVersion, p.Uptime = 0, 0
	if len(pkt) >= reqKeepaliveFixed {
		p.KeepaliveVersion = le.Uint32(pkt[32:])
		p.Uptime = le.Uint32(pkt[36:])
	}
	return nil
}

// ReqTunnel is CTDB_REQ_TUNNEL.
type ReqTunnel struct {
	Header
	TunnelID uint64
	Flags    uint32
	Data     []byte
}

// Marshal encodes the packet, padded to 8 bytes.
func (p *ReqTunnel) Marshal() []byte {
	b := allocPacket(&p.Header, OpReqTunnel, reqTunnelFixed, len(p.Data), reqTunnelMin)
	le.PutUint64(b[32:], p.TunnelID)
	le.PutUint32(b[40:], p.Flags)
	le.PutUint32(b[44:], uint32(len(p.Data)))
	copy(b[48:], p.Data)
	return b
}

// Unmarshal decodes pkt into p.
func (p *ReqTunnel) Unmarshal(pkt []byte) error {
	h, pkt, err := checkPacket(pkt, OpReqTunnel, reqTunnelFixed)
	if err != nil {
		return err
	}
	d := newDecoder("REQ_TUNNEL", pkt)
	d.skip(HeaderSize)
	p.Header = h
	p.TunnelID = d.u64()
	p.Flags = d.u32()
	p.Data = d.bytes(int(d.u32()))
	return d.err
}
