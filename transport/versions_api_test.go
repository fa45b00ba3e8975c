package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
	"github.com/rctdb/rctdb/protocol"
)

// TestMixedReleasesNeverLink: two nodes configured for different Samba
// releases never bring their link up; with AllowMixedVersions they do.
func TestMixedReleasesNeverLink(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	cfg0, cfg1 := tcpConfig(addrs, 0, "mixed"), tcpConfig(addrs, 1, "mixed")
	cfg1.SambaVersion = 0x00040012
	tr0, rec0 := startTCP(t, cfg0)
	tr1, rec1 := startTCP(t, cfg1)
	testutil.WaitFor(t, 5*time.Second, "both refusals", func() error {
		if tr0.m.refused.Get() == 0 || tr1.m.refused.Get() == 0 {
			return fmt.Errorf("refusals: node 0 %d, node 1 %d", tr0.m.refused.Get(), tr1.m.refused.Get())
		}
		return nil
	})
	if rec0.isUp(1) || rec1.isUp(0) || tr0.Connected(1) || tr1.Connected(0) {
		t.Fatal("nodes of Samba 4.17 and 4.18 linked")
	}
	tr0.Close()
	tr1.Close()

	allow := func() bool { return true }
	cfg0.AllowMixedVersions, cfg1.AllowMixedVersions = allow, allow
	a0, r0 := startTCP(t, cfg0)
	a1, r1 := startTCP(t, cfg1)
	waitConnected(t, []*recorder{r0, r1}, []*TCP{a0, a1})
}

// TestKeepalivesCarryTheRelease: keepalives carry the configured release,
// 4.17's by default, as ctdbd's do.
func TestKeepalivesCarryTheRelease(t *testing.T) {
	for _, v := range []uint32{0, 0x00040012} {
		addrs := testutil.LoopbackRange(t, 2, testPort)
		cfg := tcpConfig(addrs, 0, "ka")
		cfg.SambaVersion = v
		startTCP(t, cfg)
		fp := newFakePeerVersion(t, tcpConfig(addrs, 1, "ka"), 1, 0, cmpOr(v, protocol.KeepaliveVersion))
		fp.in.SetReadDeadline(time.Now().Add(5 * time.Second))
		pr := protocol.NewPacketReader(fp.inr, 1<<16)
		pr.Aligned = true
		for {
			pkt, err := pr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if protocol.PacketOp(pkt) != protocol.OpReqKeepalive {
				continue
			}
			var ka protocol.ReqKeepalive
			if err := ka.Unmarshal(pkt); err != nil {
				t.Fatal(err)
			}
			if want := cmpOr(v, protocol.KeepaliveVersion); ka.KeepaliveVersion != want {
				t.Errorf("keepalive version %#x, want %#x", ka.KeepaliveVersion, want)
			}
			break
		}
	}
}

func cmpOr(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// TestOldLinkVersionRefused: a hello of link version 3 (before the Samba
// release was in it) is refused for its link version, and only its first
// nine bytes are read.
func TestOldLinkVersionRefused(t *testing.T) {
	b := []byte{'C', 'R', 'C', 'T', 'D'}
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, 2, 'i', 'd')
	r := bufio.NewReader(bytes.NewReader(b))
	tag, h, err := readHello(r)
	if err != nil || tag != tagNode || h.Version != 3 || h.SambaVersion != 0 {
		t.Fatalf("readHello: %c %+v %v", tag, h, err)
	}
	if r.Buffered() != len(b)-9 {
		t.Errorf("read %d bytes of an old hello, want 9", len(b)-r.Buffered())
	}
	var tr TCP
	tr.cfg.SambaVersion = protocol.KeepaliveVersion
	if reason := tr.checkSambaVersion(h, "x"); reason != "" {
		t.Errorf("old hello refused for its release: %s", reason)
	}
}

func TestHelloRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := hello{Version: linkVersion, SambaVersion: 0x00040011, PNN: 7, ClusterID: "cid", Software: "v1.2.3"}
	if err := writeHello(&buf, tagRaft, in); err != nil {
		t.Fatal(err)
	}
	tag, out, err := readHello(bufio.NewReader(&buf))
	if err != nil || tag != tagRaft || out != in {
		t.Fatalf("round trip: %c %+v %v, want %+v", tag, out, err, in)
	}
}

func TestSambaVersionFromEnv(t *testing.T) {
	cases := map[string]uint32{"262162": 0x00040012, " 262161xyz": 0x00040011, "0": 0, "-5": 0, "abc": 0, "": 0, "99999999999": 0}
	for s, want := range cases {
		got := SambaVersionFromEnv(func(k string) (string, bool) { return s, k == sambaVersionEnv })
		if got != want {
			t.Errorf("%q: %#x, want %#x", s, got, want)
		}
	}
	if got := SambaVersionFromEnv(func(string) (string, bool) { return "", false }); got != 0 {
		t.Errorf("unset: %#x", got)
	}
	if !strings.Contains(sambaRelease(0x00040011), "4.17") {
		t.Error(sambaRelease(0x00040011))
	}
}
