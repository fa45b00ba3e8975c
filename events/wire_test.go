package events

import (
	"bytes"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// capturedPacket is a packet of testdata/ctdb-event-4.17.capture.
type capturedPacket struct {
	fromClient bool
	data       []byte
	command    string // the ctdb-event command that sent it
}

func loadCapture(t testing.TB) []capturedPacket {
	t.Helper()
	raw, err := os.ReadFile("testdata/ctdb-event-4.17.capture")
	if err != nil {
		t.Fatal(err)
	}
	var pkts []capturedPacket
	pending := 0
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "C>S ") || strings.HasPrefix(line, "S>C "):
			b, err := hex.DecodeString(line[4:])
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, capturedPacket{fromClient: line[0] == 'C', data: b})
			pending++
		case strings.HasPrefix(line, "# ") && pending > 0:
			for i := len(pkts) - pending; i < len(pkts); i++ {
				pkts[i].command = line[2:]
			}
			pending = 0
		}
	}
	if len(pkts) == 0 {
		t.Fatal("empty capture")
	}
	return pkts
}

func TestDecodeCapturedRequests(t *testing.T) {
	want := map[string]*wireRequest{
		"run 5 legacy monitor":                 {cmd: cmdRun, component: str("legacy"), event: str("monitor"), timeout: 5},
		"status legacy monitor":                {cmd: cmdStatus, component: str("legacy"), event: str("monitor")},
		"run 5 legacy takeip eth0 10.0.0.1 24": {cmd: cmdRun, component: str("legacy"), event: str("takeip"), args: str("eth0 10.0.0.1 24"), timeout: 5},
		"status legacy takeip":                 {cmd: cmdStatus, component: str("legacy"), event: str("takeip")},
		"status legacy never":                  {cmd: cmdStatus, component: str("legacy"), event: str("never")},
		"run 0 nonex x":                        {cmd: cmdRun, component: str("nonex"), event: str("x")},
		"status nonex x":                       {cmd: cmdStatus, component: str("nonex"), event: str("x")},
		"run 5 legacy startup":                 {cmd: cmdRun, component: str("legacy"), event: str("startup"), timeout: 5},
	}
	for _, p := range loadCapture(t) {
		if !p.fromClient {
			continue
		}
		q, err := decodeRequest(p.data)
		if err != nil {
			t.Errorf("%s: %v", p.command, err)
			continue
		}
		w := want[p.command]
		if w == nil {
			t.Fatalf("unexpected command %q", p.command)
		}
		w.reqid = firstReqID // ctdb-event's first request id
		if !reflect.DeepEqual(q, w) {
			t.Errorf("%s: decoded %+v, want %+v", p.command, q, w)
		}
		if enc := encodeRequest(q); !bytes.Equal(enc, p.data) {
			t.Errorf("%s: encoded\n%x\nwant\n%x", p.command, enc, p.data)
		}
	}
}

func TestDecodeCapturedReplies(t *testing.T) {
	for _, p := range loadCapture(t) {
		if p.fromClient {
			continue
		}
		r, err := decodeReply(p.data)
		if err != nil {
			t.Errorf("%s: %v", p.command, err)
			continue
		}
		if r.reqid != firstReqID {
			t.Errorf("%s: reqid %d", p.command, r.reqid)
		}
		if enc := encodeReply(r); !bytes.Equal(enc, p.data) {
			t.Errorf("%s: re-encoded\n%x\nwant\n%x", p.command, enc, p.data)
		}
		switch p.command {
		case "status legacy monitor":
			if r.result != 0 || r.status.Summary != 3 || len(r.status.Scripts) != 2 {
				t.Fatalf("%+v", r.status)
			}
			ok, fail := r.status.Scripts[0], r.status.Scripts[1]
			if ok.Name != "01.ok" || ok.Status != 0 || ok.Output != "ok monitor\n" ||
				fail.Name != "02.fail" || fail.Status != 3 || fail.Output != "fail\n" {
				t.Errorf("scripts %+v", r.status.Scripts)
			}
			if d := ok.End.Sub(ok.Begin); d <= 0 || d > time.Second || ok.Begin.Year() < 2020 {
				t.Errorf("times %v %v", ok.Begin, ok.End)
			}
		case "status legacy never":
			if r.result != 22 || r.status != nil {
				t.Errorf("%+v", r)
			}
		case "run 0 nonex x", "status nonex x":
			if r.result != 2 {
				t.Errorf("%s: %+v", p.command, r)
			}
		case "run 5 legacy monitor", "run 5 legacy startup":
			if r.result != 8 {
				t.Errorf("%s: %+v", p.command, r)
			}
		}
	}
}

// The example of the fact sheet (§7.6).
func TestFactSheetExample(t *testing.T) {
	req, _ := hex.DecodeString("3400000000000000020000000100000007000000" + hex.EncodeToString([]byte("legacy\x00")) +
		"08000000" + hex.EncodeToString([]byte("monitor\x00")) + "01000000001e00000000000000")
	q, err := decodeRequest(req)
	if err != nil || q.reqid != 2 || q.timeout != 30 || !q.args.valid || q.args.s != "" {
		t.Fatalf("%+v %v", q, err)
	}
	rep := encodeReply(&wireReply{reqid: 2, cmd: cmdRun})
	if hex.EncodeToString(rep) != "1400000000000000020000000100000000000000" {
		t.Errorf("reply %x", rep)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encodeRequest(&wireRequest{reqid: 7, cmd: cmdScript, component: str("legacy"), script: str("10.x"), action: actionEnable})
	if _, err := decodeRequest(good); err != nil {
		t.Fatal(err)
	}
	patch := func(off int, b ...byte) []byte {
		c := append([]byte(nil), good...)
		copy(c[off:], b)
		return c
	}
	for name, pkt := range map[string][]byte{
		"short":            good[:10],
		"length mismatch":  patch(0, 0xff),
		"unknown command":  patch(12, 9),
		"bad action":       patch(len(good)-4, 2),
		"string too long":  patch(16, 0xff, 0xff),
		"no terminating 0": patch(16+4+6, 'x'),
		"embedded NUL":     patch(16+4+2, 0),
		"truncated body":   patch(0, byte(len(good)-4))[:len(good)-4],
	} {
		if q, err := decodeRequest(pkt); err == nil {
			t.Errorf("%s: accepted %+v", name, q)
		}
	}
	// Bytes after the body are ignored, as ctdb-eventd does.
	long := append(append([]byte(nil), good...), 1, 2, 3)
	long[0] = byte(len(long))
	if _, err := decodeRequest(long); err != nil {
		t.Errorf("trailing bytes: %v", err)
	}
	// A reply claiming more scripts than it has bytes for.
	bad := encodeReply(&wireReply{reqid: 1, cmd: cmdStatus, status: &Status{}})
	copy(bad[len(bad)-4:], []byte{0xff, 0xff, 0xff, 0x0f})
	if _, err := decodeReply(bad); err == nil {
		t.Error("accepted a reply with a huge script count")
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                   nil,
		"eth0 10.0.0.1 24":   {"eth0", "10.0.0.1", "24"},
		"  a   b ":           {"a", "b"},
		"a\tb":               {"a\tb"},
		"__none__ 1.2.3.4 8": {"__none__", "1.2.3.4", "8"},
	} {
		if got := splitArgs(in); len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q", in, got)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, p := range loadCapture(f) {
		if p.fromClient {
			f.Add(p.data)
		}
	}
	f.Add(encodeRequest(&wireRequest{cmd: cmdScript, component: str("legacy"), script: str("10.x"), action: actionDisable}))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeRequest(b)
		if err != nil {
			return
		}
		again, err := decodeRequest(encodeRequest(q))
		if err != nil || !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip of %+v: %+v %v", q, again, err)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	for _, p := range loadCapture(f) {
		if !p.fromClient {
			f.Add(p.data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeReply(b)
		if err != nil {
			return
		}
		enc := encodeReply(r)
		again, err := decodeReply(enc)
		if err != nil || !bytes.Equal(encodeReply(again), enc) {
			t.Fatalf("round trip of %+v: %+v %v", r, again, err)
		}
	})
}
