package protocol

import (
	"bytes"
	"testing"
)

// Packets captured from a 2-node Debian 12 cluster running ctdbd 4.17.12
// (reference §14), in raw byte order grouped in 4-byte words. Where the
// reference shows only the payload of a packet (TRANS3_COMMIT,
// SCHEDULE_FOR_DELETION, traverse messages), the header fields it does not
// give are filled in following Samba's or the daemon's habits (§1.4) and
// marked as such.

const transKey = "transaction_db_0xecbcf3e6\x00" // 26 bytes

var (
	// Samba → daemon, GET_PNN: 60 bytes, unpadded.
	captureGetPNN = mustHex(`
		3c000000 42445443 01000000 00000000 07000000 010000f0 00000000 01000000
		23000000 00000000 00000000 00000000 00000000 00000000 00000000`)

	// Daemon → client, REPLY_CONTROL with status 0 (= pnn 0), 48 bytes.
	captureReplyControl = mustHex(`
		30000000 42445443 01000000 0e002b6a 08000000 00000000 00000000 01000000
		00000000 00000000 00000000 00000000`)

	// Samba → daemon, REQ_CALL migrate on g_lock.tdb: 82 bytes, unpadded.
	captureSambaReqCall = cat(mustHex(`
		52000000 42445443 01000000 00000000 00000000 00000000 00000000 0d000000
		01000000 2b432a4d 010000ff 00000000 1a000000 00000000`), []byte(transKey))

	// Node 1 → node 0, REQ_CALL FETCH: 64 bytes (60 used + 4 pad).
	captureNodeReqCall = mustHex(`
		40000000 42445443 01000000 0e002b6a 00000000 00000000 01000000 0e010000
		00000000 9e574be6 020000ff 00000000 04000000 00000000 6b657934 00000000`)

	// Node 1 → node 0 (lmaster), REQ_DMASTER: 72 bytes.
	captureReqDMaster = mustHex(`
		48000000 42445443 01000000 0e002b6a 02000000 00000000 01000000 53020000
		9e574be6 00000000 04000000 00000000 00000000 04000000 00000000 6b657934
		00000000 00000000`)

	// Node 0 (lmaster) → node 1, REPLY_DMASTER: 64 bytes.
	captureReplyDMaster = mustHex(`
		40000000 42445443 01000000 0e002b6a 03000000 01000000 00000000 0e010000
		9e574be6 00000000 01000000 00000000 04000000 00000000 6b657934 00000000`)

	// Keepalive node 1 → node 0: 40 bytes.
	captureKeepalive = mustHex(`
		28000000 42445443 01000000 0e002b6a 09000000 00000000 01000000 00000000
		11000400 37000000`)

	// Leader broadcast as delivered to a client: 48 bytes.
	captureLeader = mustHex(`
		30000000 42445443 01000000 0e002b6a 05000000 00000000 00000000 00000000
		00000000 000001f1 04000000 00000000`)

	// Samba TRANS3_COMMIT, 188 bytes = 60 + 128. The control header is
	// reconstructed (reqid 14 chosen); the 128-byte payload is the capture.
	captureTrans3Payload = cat(
		mustHex(`e6f3bcec 02000000`),
		mustHex(`31000000 00000000 05000000 1c000000`), []byte("key1\x00"),
		mustHex(`01000000 00000000 00000000 00000000 00000000 00000000`),
		mustHex(`2a000000`),
		mustHex(`47000000 00000000 17000000 20000000`), []byte("__db_sequence_number__\x00"),
		mustHex(`01000000 00000000 00000000 00000000 00000000 00000000`),
		mustHex(`01000000 00000000`))
	captureTrans3 = cat(mustHex(`
		bc000000 42445443 01000000 00000000 07000000 010000f0 00000000 0e000000
		77000000 00000000 e6f3bcec 00000000 00000000 00000000 80000000`), captureTrans3Payload)

	// Samba SCHEDULE_FOR_DELETION, 122 bytes = 60 + 62, srvid = g_lock db
	// id, flags NOREPLY. Header reconstructed (reqid 15); payload captured.
	captureSchedulePayload = cat(
		mustHex(`2b432a4d 00000000`),
		mustHex(`03000000 00000000 00000000 00000000 00000000 00000000`),
		mustHex(`1a000000`), []byte(transKey))
	captureSchedule = cat(mustHex(`
		7a000000 42445443 01000000 00000000 07000000 010000f0 00000000 0f000000
		80000000 00000000 2b432a4d 00000000 00000000 01000000 3e000000`), captureSchedulePayload)

	// Traverse record delivered to a client: REQ_MESSAGE of 96 bytes. The
	// payload is the capture; the client srvid (0xBE00000000001a2b) is
	// chosen. Then the end marker, 64 bytes.
	traverseRecordPayload = cat(mustHex(`33000000 4d000000 04000000 1f000000`), []byte("key4"),
		mustHex(`02000000 00000000 00000000 00000000 00000000 00000000`), []byte("VALUE-4"))
	captureTraverseRecord = cat(mustHex(`
		60000000 42445443 01000000 0e002b6a 05000000 00000000 00000000 00000000
		2b1a0000 000000be 33000000`), traverseRecordPayload, []byte{0})
	captureTraverseEnd = mustHex(`
		40000000 42445443 01000000 0e002b6a 05000000 00000000 00000000 00000000
		2b1a0000 000000be 10000000 10000000 4d000000 00000000 00000000 00000000`)
)

// goldenCaptures lists every capture, for the fuzz seeds and the framing test.
func goldenCaptures() [][]byte {
	return [][]byte{captureGetPNN, captureReplyControl, captureSambaReqCall, captureNodeReqCall,
		captureReqDMaster, captureReplyDMaster, captureKeepalive, captureLeader, captureTrans3,
		captureSchedule, captureTraverseRecord, captureTraverseEnd}
}

func TestGoldenCaptureSizes(t *testing.T) {
	sizes := []int{60, 48, 82, 64, 72, 64, 40, 48, 188, 122, 96, 64}
	for i, c := range goldenCaptures() {
		if len(c) != sizes[i] {
			t.Errorf("capture %d is %d bytes, want %d", i, len(c), sizes[i])
		}
		if h, err := DecodeHeader(c); err != nil || int(h.Length) != len(c) {
			t.Errorf("capture %d: length field %d, err %v", i, h.Length, err)
		}
	}
}

// reencode requires that encoding the decoded packet gives back the capture.
func reencode(t *testing.T, p packet, capture []byte) {
	t.Helper()
	if enc := p.Marshal(); !bytes.Equal(enc, capture) {
		t.Errorf("re-encoding differs from the capture:\n got  %x\n want %x", enc, capture)
	}
}

func TestGoldenGetPNN(t *testing.T) {
	var p ReqControl
	if err := p.Unmarshal(captureGetPNN); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "GET_PNN", p, ReqControl{
		Header: Header{Length: 60, Magic: Magic, Version: 1, Generation: 0, Operation: OpReqControl,
			DestNode: CurrentNode, SrcNode: 0, ReqID: 1},
		Opcode: ControlGetPNN, SrvID: 0, ClientID: 0, Flags: 0, Data: nil,
	})
	// Encoding it daemon-style pads to 64 and rewrites the length.
	want := cat(le32(64), captureGetPNN[4:], make([]byte, 4))
	reencode(t, &p, want)
}

func TestGoldenReplyControl(t *testing.T) {
	var p ReplyControl
	if err := p.Unmarshal(captureReplyControl); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "REPLY_CONTROL", p, ReplyControl{
		Header: Header{Length: 48, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReplyControl,
			DestNode: 0, SrcNode: 0, ReqID: 1},
		Status: 0,
	})
	reencode(t, &p, captureReplyControl)
	// And from scratch, as a daemon would build it.
	reencode(t, &ReplyControl{Header: Header{Generation: 0x6a2b000e, ReqID: 1}}, captureReplyControl)
}

func TestGoldenSambaReqCall(t *testing.T) {
	var p ReqCall
	if err := p.Unmarshal(captureSambaReqCall); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "REQ_CALL", p, ReqCall{
		Header: Header{Length: 82, Magic: Magic, Version: 1, Generation: 0, Operation: OpReqCall,
			DestNode: 0, SrcNode: 0, ReqID: 13},
		Flags: CallFlagImmediateMigration, DBID: DBID("g_lock.tdb"), CallID: CallNullFunc, HopCount: 0,
		Key: []byte(transKey), CallData: nil,
	})
	if p.DBID != 0x4d2a432b {
		t.Errorf("db id %#x", p.DBID)
	}
	reencode(t, &p, cat(le32(88), captureSambaReqCall[4:], make([]byte, 6)))
}

func TestGoldenNodeReqCall(t *testing.T) {
	var p ReqCall
	if err := p.Unmarshal(captureNodeReqCall); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "REQ_CALL", p, ReqCall{
		Header: Header{Length: 64, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReqCall,
			DestNode: 0, SrcNode: 1, ReqID: 270},
		Flags: 0, DBID: 0xe64b579e, CallID: CallFetchFunc, HopCount: 0, Key: []byte("key4"),
	})
	reencode(t, &p, captureNodeReqCall)
}

func TestGoldenReqDMaster(t *testing.T) {
	var p ReqDMaster
	if err := p.Unmarshal(captureReqDMaster); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "REQ_DMASTER", p, ReqDMaster{
		Header: Header{Length: 72, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReqDMaster,
			DestNode: 0, SrcNode: 1, ReqID: 595},
		DBID: 0xe64b579e, RSN: 4, DMaster: 0, Key: []byte("key4"), Data: nil, RecordFlags: 0,
	})
	reencode(t, &p, captureReqDMaster)
}

func TestGoldenReplyDMaster(t *testing.T) {
	var p ReplyDMaster
	if err := p.Unmarshal(captureReplyDMaster); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "REPLY_DMASTER", p, ReplyDMaster{
		Header: Header{Length: 64, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReplyDMaster,
			DestNode: 1, SrcNode: 0, ReqID: 270},
		DBID: 0xe64b579e, RSN: 1, Key: []byte("key4"), Data: nil, RecordFlags: 0,
	})
	reencode(t, &p, captureReplyDMaster)
}

func TestGoldenKeepalive(t *testing.T) {
	var p ReqKeepalive
	if err := p.Unmarshal(captureKeepalive); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "keepalive", p, ReqKeepalive{
		Header: Header{Length: 40, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReqKeepalive,
			DestNode: 0, SrcNode: 1, ReqID: 0},
		KeepaliveVersion: KeepaliveVersion, Uptime: 55,
	})
	reencode(t, &p, captureKeepalive)
}

func TestGoldenLeaderBroadcast(t *testing.T) {
	var p ReqMessage
	if err := p.Unmarshal(captureLeader); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "leader", p, ReqMessage{
		Header: Header{Length: 48, Magic: Magic, Version: 1, Generation: 0x6a2b000e, Operation: OpReqMessage,
			DestNode: 0, SrcNode: 0, ReqID: 0},
		SrvID: SrvIDLeader, Data: []byte{0, 0, 0, 0},
	})
	if pnn, err := ParseU32(p.Data); err != nil || pnn != 0 {
		t.Errorf("leader pnn %d, %v", pnn, err)
	}
	reencode(t, &p, captureLeader)
	reencode(t, &ReqMessage{Header: Header{Generation: 0x6a2b000e}, SrvID: SrvIDLeader, Data: U32(0)}, captureLeader)
}

func TestGoldenTrans3Commit(t *testing.T) {
	var p ReqControl
	if err := p.Unmarshal(captureTrans3); err != nil {
		t.Fatal(err)
	}
	if p.Length != 188 || p.Opcode != ControlTrans3Commit || p.SrvID != 0xecbcf3e6 || p.DestNode != CurrentNode ||
		p.Flags != 0 || p.ClientID != 0 || len(p.Data) != 128 {
		t.Fatalf("control header decoded as %+v", p)
	}
	var rb RecBuffer
	if err := rb.Unmarshal(p.Data); err != nil {
		t.Fatal(err)
	}
	want := RecBuffer{DBID: 0xecbcf3e6, Records: []RecData{
		{ReqID: 0, Key: []byte("key1\x00"), Data: cat(ltdb(1, 0, 0, 0), le32(42))},
		{ReqID: 0, Key: DBSeqnumKey, Data: cat(ltdb(1, 0, 0, 0), le64(1))},
	}}
	mustEqual(t, "TRANS3 record buffer", rb, want)
	for i, r := range rb.Records {
		h, err := DecodeLtdbHeader(r.Data)
		if err != nil || h != (LtdbHeader{RSN: 1}) {
			t.Errorf("record %d header %+v, %v", i, h, err)
		}
	}
	if v, _ := ParseU32(rb.Records[0].Data[LtdbHeaderSize:]); v != 42 {
		t.Errorf("record 1 value %d", v)
	}
	if v, _ := ParseU64(rb.Records[1].Data[LtdbHeaderSize:]); v != 1 {
		t.Errorf("sequence number %d", v)
	}
	// Records are packed: record 2 starts at payload offset 57, and the
	// buffer re-encodes to the captured bytes.
	if !bytes.Equal(rb.Marshal(), captureTrans3Payload) {
		t.Errorf("record buffer re-encoding differs")
	}
	if le.Uint32(captureTrans3Payload[57:]) != 71 {
		t.Errorf("record 2 not at offset 57")
	}
}

func TestGoldenScheduleForDeletion(t *testing.T) {
	var p ReqControl
	if err := p.Unmarshal(captureSchedule); err != nil {
		t.Fatal(err)
	}
	if p.Length != 122 || p.Opcode != ControlScheduleForDeletion || p.SrvID != uint64(DBID("g_lock.tdb")) ||
		!p.NoReply() || len(p.Data) != 62 {
		t.Fatalf("control header decoded as %+v", p)
	}
	var kd KeyData
	if err := kd.Unmarshal(p.Data); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "key data", kd, KeyData{DBID: 0x4d2a432b, Header: LtdbHeader{RSN: 3}, Key: []byte(transKey)})
	if !bytes.Equal(kd.Marshal(), captureSchedulePayload) {
		t.Errorf("key data re-encoding differs")
	}
}

func TestGoldenTraverseMessages(t *testing.T) {
	var p ReqMessage
	if err := p.Unmarshal(captureTraverseRecord); err != nil {
		t.Fatal(err)
	}
	if p.SrvID != 0xBE00000000001a2b || len(p.Data) != 51 {
		t.Fatalf("message decoded as %+v", p)
	}
	var r RecData
	if err := r.Unmarshal(p.Data); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "traverse record", r, RecData{ReqID: 77, Key: []byte("key4"), Data: cat(ltdb(2, 0, 0, 0), []byte("VALUE-4"))})
	if h, _ := DecodeLtdbHeader(r.Data); h.RSN != 2 || h.DMaster != 0 {
		t.Errorf("record header %+v", h)
	}
	reencode(t, &p, captureTraverseRecord)

	if err := p.Unmarshal(captureTraverseEnd); err != nil {
		t.Fatal(err)
	}
	if err := r.Unmarshal(p.Data); err != nil {
		t.Fatal(err)
	}
	if !r.IsEndMarker() || r.ReqID != 77 {
		t.Errorf("end marker decoded as %+v", r)
	}
	reencode(t, &p, captureTraverseEnd)
	reencode(t, &ReqMessage{Header: Header{Generation: 0x6a2b000e}, SrvID: 0xBE00000000001a2b,
		Data: (&RecData{ReqID: 77}).Marshal()}, captureTraverseEnd)
}
