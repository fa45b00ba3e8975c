package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// logBuffer collects a logger's text output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawHello4 is a version 4 hello, built byte by byte as a peer of another
// build would send it.
func rawHello4(samba, pnn uint32, clusterID, software string) []byte {
	b := []byte{'C', 'R', 'C', 'T', 'D'}
	b = binary.LittleEndian.AppendUint32(b, 4)
	b = binary.LittleEndian.AppendUint32(b, samba)
	b = binary.LittleEndian.AppendUint32(b, pnn)
	b = append(b, byte(len(clusterID)))
	b = append(b, clusterID...)
	b = append(b, byte(len(software)))
	return append(b, software...)
}

// TestPeerOfAnotherSambaReleaseRefused: a node that says it runs Samba
// 4.18 is refused by a 4.17 node, which logs ctdbd's words for it; the
// refusal names both releases.
func TestPeerOfAnotherSambaReleaseRefused(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 2, testPort)
	var logs logBuffer
	tr, rec := startTCPLogging(t, tcpConfig(addrs, 0, "versions"), slog.New(slog.NewTextHandler(&logs, nil)))

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: addrs[1].AsSlice()}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", netip.AddrPortFrom(addrs[0], testPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(rawHello4(0x00040012, 1, "versions", "rctdb v9.9.9")); err != nil {
		t.Fatal(err)
	}
	w, err := readWelcome(c)
	if err != nil {
		t.Fatal(err)
	}
	if w.OK || !strings.Contains(w.Reason, "mixed versions") || !strings.Contains(w.Reason, "Samba 4.18 (0x00040012)") || !strings.Contains(w.Reason, "4.17 (0x00040011)") {
		t.Errorf("welcome %+v, want a refusal for mixed versions naming 4.18 and 4.17", w)
	}
	want := "Keepalive version mismatch 0x00040011 != 0x00040012 from node 1"
	testutil.WaitFor(t, 5*time.Second, "the mismatch logged", func() error {
		if s := logs.String(); !strings.Contains(s, want) || !strings.Contains(s, "level=ERROR") || !strings.Contains(s, "rctdb v9.9.9") {
			return fmt.Errorf("log lacks %q at error level with the peer's version:\n%s", want, s)
		}
		return nil
	})
	if rec.isUp(1) || tr.Connected(1) {
		t.Error("link to the node of another release is up")
	}
}
