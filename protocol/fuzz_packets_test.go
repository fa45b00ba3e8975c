package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// decodable is a pointer to a type with Marshal and Unmarshal methods.
type decodable[T any] interface {
	*T
	Marshal() []byte
	Unmarshal([]byte) error
}

// fuzzRoundTrip is the body of every Marshal/Unmarshal fuzz target. Any
// input may be rejected, but none may panic or be modified. When a decode
// succeeds, the decoded value is re-encoded; that encoding must decode to
// an equal value (eq, if given, decides equality) and re-encode to the same
// bytes. encode(decode(b)) == b is not required: decoders tolerate dirty
// padding, unpadded packets and long record length fields.
func fuzzRoundTrip[T any, P decodable[T]](f *testing.F, seeds [][]byte, eq func(x, y P) string, post func(t *testing.T, x P, enc []byte)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := append([]byte(nil), b...)
		x := P(new(T))
		if err := x.Unmarshal(b); err != nil {
			return
		}
		if !bytes.Equal(orig, b) {
			t.Fatal("Unmarshal modified its input")
		}
		enc := x.Marshal()
		y := P(new(T))
		if err := y.Unmarshal(enc); err != nil {
			t.Fatalf("re-encoded value does not decode: %v\n value %+v\n enc   %x", err, x, enc)
		}
		d := ""
		if eq != nil {
			d = eq(x, y)
		} else {
			d = diff(reflect.ValueOf(x), reflect.ValueOf(y), "")
		}
		if d != "" {
			t.Fatalf("round trip differs at %s\n first  %+v\n second %+v", d, x, y)
		}
		if enc2 := y.Marshal(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n %x\n %x", enc, enc2)
		}
		if post != nil {
			post(t, x, enc)
		}
	})
}

// packetSeeds returns the encodings of the packet cases of one operation
// and the captures of that operation.
func packetSeeds(op Operation) [][]byte {
	var seeds [][]byte
	for _, tc := range packetCases() {
		if tc.op == op {
			enc := tc.p.Marshal()
			seeds = append(seeds, enc)
			// The unpadded (Samba) form too.
			short := append([]byte(nil), enc[:tc.used]...)
			copy(short, le32(uint32(tc.used)))
			seeds = append(seeds, short)
		}
	}
	for _, c := range goldenCaptures() {
		if PacketOp(c) == op {
			seeds = append(seeds, c)
		}
	}
	return seeds
}

// checkDaemonFraming: every packet we encode is daemon style.
func checkDaemonFraming(t *testing.T, h *Header, enc []byte, op Operation) {
	if len(enc)%Alignment != 0 || int(h.Length) != len(enc) || le.Uint32(enc) != h.Length {
		t.Fatalf("encoded %d bytes with length field %d", len(enc), le.Uint32(enc))
	}
	if got, err := DecodeHeader(enc); err != nil || got.Operation != op {
		t.Fatalf("encoded header %+v, %v", got, err)
	}
}

func fuzzPacket[T any, P decodable[T]](f *testing.F, op Operation) {
	fuzzRoundTrip[T, P](f, packetSeeds(op), nil, func(t *testing.T, x P, enc []byte) {
		checkDaemonFraming(t, header(any(x).(packet)), enc, op)
	})
}

func FuzzReqCall(f *testing.F)      { fuzzPacket[ReqCall](f, OpReqCall) }
func FuzzReplyCall(f *testing.F)    { fuzzPacket[ReplyCall](f, OpReplyCall) }
func FuzzReplyError(f *testing.F)   { fuzzPacket[ReplyError](f, OpReplyError) }
func FuzzReqDMaster(f *testing.F)   { fuzzPacket[ReqDMaster](f, OpReqDMaster) }
func FuzzReplyDMaster(f *testing.F) { fuzzPacket[ReplyDMaster](f, OpReplyDMaster) }
func FuzzReqMessage(f *testing.F)   { fuzzPacket[ReqMessage](f, OpReqMessage) }
func FuzzReqControl(f *testing.F)   { fuzzPacket[ReqControl](f, OpReqControl) }
func FuzzReplyControl(f *testing.F) { fuzzPacket[ReplyControl](f, OpReplyControl) }
func FuzzReqKeepalive(f *testing.F) { fuzzPacket[ReqKeepalive](f, OpReqKeepalive) }
func FuzzReqTunnel(f *testing.F)    { fuzzPacket[ReqTunnel](f, OpReqTunnel) }

func FuzzDecodeHeader(f *testing.F) {
	for _, c := range goldenCaptures() {
		f.Add(c)
	}
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			if len(b) >= HeaderSize && !errors.Is(err, ErrBadMagic) && !errors.Is(err, ErrBadVersion) && !errors.Is(err, ErrBadLength) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// The header encoding is exact: re-encoding gives the same 32 bytes.
		var out [HeaderSize]byte
		h.put(out[:])
		if !bytes.Equal(out[:], b[:HeaderSize]) {
			t.Fatalf("header re-encodes as %x, input %x", out, b[:HeaderSize])
		}
		if h.Length < HeaderSize || h.Magic != Magic || h.Version != Version {
			t.Fatalf("accepted invalid header %+v", h)
		}
	})
}

// FuzzPacketReader frames arbitrary bytes and decodes every packet it
// returns with the decoder of its operation.
func FuzzPacketReader(f *testing.F) {
	f.Add(cat(stream()...), false)
	f.Add(cat(captureNodeReqCall, captureReqDMaster, captureReplyDMaster, captureKeepalive), true)
	for _, c := range goldenCaptures() {
		f.Add(c, false)
		f.Add(c[:len(c)-1], false)
	}
	decoders := map[Operation]func() packet{
		OpReqCall: func() packet { return new(ReqCall) }, OpReplyCall: func() packet { return new(ReplyCall) },
		OpReplyError: func() packet { return new(ReplyError) }, OpReqDMaster: func() packet { return new(ReqDMaster) },
		OpReplyDMaster: func() packet { return new(ReplyDMaster) }, OpReqMessage: func() packet { return new(ReqMessage) },
		OpReqControl: func() packet { return new(ReqControl) }, OpReplyControl: func() packet { return new(ReplyControl) },
		OpReqKeepalive: func() packet { return new(ReqKeepalive) }, OpReqTunnel: func() packet { return new(ReqTunnel) },
	}
	f.Fuzz(func(t *testing.T, b []byte, aligned bool) {
		pr := NewPacketReader(bytes.NewReader(b), 64)
		pr.Aligned = aligned
		pr.Max = 1 << 16
		total := 0
		for {
			pkt, err := pr.Next()
			if err != nil {
				if err == io.EOF && total != len(b) {
					t.Fatalf("io.EOF after %d of %d bytes", total, len(b))
				}
				return
			}
			total += len(pkt)
			if total > len(b) {
				t.Fatalf("returned %d bytes from a %d-byte stream", total, len(b))
			}
			h, err := DecodeHeader(pkt)
			if err != nil {
				t.Fatalf("returned a packet with a bad header: %v", err)
			}
			if int(h.Length) != len(pkt) || len(pkt) > pr.Max || (aligned && len(pkt)%Alignment != 0) {
				t.Fatalf("returned %d bytes for length %d", len(pkt), h.Length)
			}
			if !bytes.Equal(pkt, b[total-len(pkt):total]) {
				t.Fatal("returned bytes differ from the stream")
			}
			if mk, ok := decoders[h.Operation]; ok {
				_ = mk().Unmarshal(pkt) // must not panic
			}
		}
	})
}
