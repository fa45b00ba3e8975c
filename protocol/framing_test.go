package protocol

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// stream is a mix of Samba's unpadded packets and daemon-style padded ones.
func stream() [][]byte {
	return [][]byte{
		captureGetPNN,       // 60, unpadded
		captureReplyControl, // 48
		captureSambaReqCall, // 82, unpadded
		captureKeepalive,    // 40
		captureTrans3,       // 188, unpadded
		(&ReqMessage{SrvID: 5, Data: []byte("hello")}).Marshal(), // 56
		captureSchedule,       // 122, unpadded
		captureTraverseRecord, // 96
	}
}

func TestPacketReaderBackToBack(t *testing.T) {
	pkts := stream()
	all := cat(pkts...)
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(all) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(all)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(all)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(all)) },
	}
	for name, mk := range readers {
		for _, size := range []int{16, 64, 4096} {
			pr := NewPacketReader(mk(), size)
			for i, want := range pkts {
				got, err := pr.Next()
				if err != nil {
					t.Fatalf("%s/%d: packet %d: %v", name, size, i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s/%d: packet %d:\n got  %x\n want %x", name, size, i, got, want)
				}
			}
			for j := 0; j < 2; j++ {
				if _, err := pr.Next(); err != io.EOF {
					t.Fatalf("%s/%d: after the last packet: %v, want io.EOF", name, size, err)
				}
			}
		}
	}
}

func TestPacketReaderOwnsBuffers(t *testing.T) {
	// Packets returned earlier must not be overwritten by later reads.
	pkts := stream()
	pr := NewPacketReader(bytes.NewReader(cat(pkts...)), 16)
	var got [][]byte
	for range pkts {
		p, err := pr.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	for i := range pkts {
		if !bytes.Equal(got[i], pkts[i]) {
			t.Errorf("packet %d changed after later reads", i)
		}
	}
}

func TestPacketReaderBuffered(t *testing.T) {
	pr := NewPacketReader(bytes.NewReader(cat(captureReplyControl, captureKeepalive)), 4096)
	if _, err := pr.Next(); err != nil {
		t.Fatal(err)
	}
	if n := pr.Buffered(); n != len(captureKeepalive) {
		t.Errorf("Buffered = %d, want %d", n, len(captureKeepalive))
	}
}

func TestPacketReaderUnexpectedEOF(t *testing.T) {
	all := cat(captureReplyControl, captureSambaReqCall)
	// Cut everywhere inside the second packet: the first still reads, the
	// second fails with io.ErrUnexpectedEOF.
	for cut := len(captureReplyControl) + 1; cut < len(all); cut++ {
		pr := NewPacketReader(bytes.NewReader(all[:cut]), 64)
		if p, err := pr.Next(); err != nil || !bytes.Equal(p, captureReplyControl) {
			t.Fatalf("cut %d: first packet: %v", cut, err)
		}
		if _, err := pr.Next(); err != io.ErrUnexpectedEOF {
			t.Errorf("cut %d: got %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	if _, err := NewPacketReader(bytes.NewReader(nil), 64).Next(); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestPacketReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(captureGetPNN[:40]), iotest.ErrReader(boom))
	if _, err := NewPacketReader(r, 64).Next(); !errors.Is(err, boom) {
		t.Errorf("got %v, want the reader's error", err)
	}
}

// withLength returns pkt with its length field replaced.
func withLength(pkt []byte, n uint32) []byte {
	b := append([]byte(nil), pkt...)
	copy(b, le32(n))
	return b
}

func TestPacketReaderBadLength(t *testing.T) {
	for _, n := range []uint32{0, 1, 4, 31} {
		pr := NewPacketReader(bytes.NewReader(withLength(captureReplyControl, n)), 64)
		if _, err := pr.Next(); !errors.Is(err, ErrBadLength) {
			t.Errorf("length %d: %v", n, err)
		}
	}
	// Above Max.
	pr := NewPacketReader(bytes.NewReader(captureGetPNN), 64)
	pr.Max = 59
	if _, err := pr.Next(); !errors.Is(err, ErrBadLength) {
		t.Errorf("length 60 with Max 59: %v", err)
	}
	pr = NewPacketReader(bytes.NewReader(captureGetPNN), 64)
	pr.Max = 60
	if _, err := pr.Next(); err != nil {
		t.Errorf("length 60 with Max 60: %v", err)
	}
	// Above the default maximum.
	pr = NewPacketReader(bytes.NewReader(withLength(captureReplyControl, DefaultMaxPacket+1)), 64)
	if _, err := pr.Next(); !errors.Is(err, ErrBadLength) {
		t.Errorf("length DefaultMaxPacket+1: %v", err)
	}
	pr = NewPacketReader(bytes.NewReader(withLength(captureReplyControl, 0xFFFFFFFF)), 64)
	if _, err := pr.Next(); !errors.Is(err, ErrBadLength) {
		t.Errorf("length 0xffffffff: %v", err)
	}
}

func TestPacketReaderAligned(t *testing.T) {
	// Node links require multiples of 8.
	for _, unpadded := range [][]byte{captureGetPNN, captureSambaReqCall, captureTrans3, captureSchedule} {
		pr := NewPacketReader(bytes.NewReader(unpadded), 64)
		pr.Aligned = true
		if _, err := pr.Next(); !errors.Is(err, ErrBadLength) {
			t.Errorf("aligned reader, length %d: %v", len(unpadded), err)
		}
	}
	padded := cat(captureNodeReqCall, captureReqDMaster, captureReplyDMaster, captureKeepalive)
	pr := NewPacketReader(bytes.NewReader(padded), 64)
	pr.Aligned = true
	for i := 0; i < 4; i++ {
		if _, err := pr.Next(); err != nil {
			t.Fatalf("aligned packet %d: %v", i, err)
		}
	}
	if _, err := pr.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

func TestPacketReaderBadMagicVersion(t *testing.T) {
	bad := append([]byte(nil), captureReplyControl...)
	bad[5] = 'X'
	if _, err := NewPacketReader(bytes.NewReader(bad), 64).Next(); !errors.Is(err, ErrBadMagic) {
		t.Errorf("bad magic: %v", err)
	}
	bad = append([]byte(nil), captureReplyControl...)
	copy(bad[8:], le32(0))
	if _, err := NewPacketReader(bytes.NewReader(bad), 64).Next(); !errors.Is(err, ErrBadVersion) {
		t.Errorf("bad version: %v", err)
	}
}

// A peer claiming a 200 MB packet and then sending almost nothing must not
// make the reader allocate 200 MB.
func TestPacketReaderHugeClaimedLength(t *testing.T) {
	const claimed = 200 << 20
	hdr := withLength(captureReplyControl[:HeaderSize], claimed)
	inputs := map[string][]byte{
		"header + 10 bytes": cat(hdr, bytes.Repeat([]byte{0x77}, 10)),
		"10 bytes":          hdr[:10],
	}
	for name, in := range inputs {
		pr := NewPacketReader(bytes.NewReader(in), 4096)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := pr.Next()
		runtime.ReadMemStats(&after)
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%s: got %v, want io.ErrUnexpectedEOF", name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("%s: allocated %d bytes for a 200 MB claim", name, alloc)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		pr := NewPacketReader(bytes.NewReader(inputs["header + 10 bytes"]), 4096)
		if _, err := pr.Next(); err != io.ErrUnexpectedEOF {
			panic(err)
		}
	})
	if allocs > 10 {
		t.Errorf("%v allocations per failed read", allocs)
	}
}

// A packet larger than the reader's chunk size still arrives intact.
func TestPacketReaderLargePacket(t *testing.T) {
	data := make([]byte, 3<<20+5)
	for i := range data {
		data[i] = byte(i * 31)
	}
	pkt := (&ReqMessage{SrvID: 9, Data: data}).Marshal()
	pr := NewPacketReader(iotest.HalfReader(bytes.NewReader(cat(pkt, captureKeepalive))), 1<<16)
	got, err := pr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pkt) {
		t.Fatal("large packet corrupted")
	}
	var m ReqMessage
	if err := m.Unmarshal(got); err != nil || !bytes.Equal(m.Data, data) {
		t.Fatalf("decode: %v", err)
	}
	if got, err := pr.Next(); err != nil || !bytes.Equal(got, captureKeepalive) {
		t.Fatalf("packet after the large one: %v", err)
	}
}
