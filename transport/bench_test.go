package transport

import (
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// echoHandler answers every packet by sending it back, or signals got.
type echoHandler struct {
	tr  *TCP // nil: signal got instead of echoing
	got chan struct{}
}

func (h *echoHandler) HandlePacket(from uint32, pkt []byte) {
	if h.tr != nil {
		_ = h.tr.Send(from, pkt)
		return
	}
	h.got <- struct{}{}
}
func (h *echoHandler) PeerConnected(uint32)    {}
func (h *echoHandler) PeerDisconnected(uint32) {}

// benchRoundTrip measures one packet from node 0 to node 1 and back.
func benchRoundTrip(b *testing.B, cfgs [2]Config) {
	var trs [2]*TCP
	got := make(chan struct{}, 1)
	for i, cfg := range cfgs {
		tr, err := NewTCP(cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		trs[i] = tr
		b.Cleanup(func() { tr.Close() })
	}
	if err := trs[0].Start(&echoHandler{got: got}); err != nil {
		b.Fatal(err)
	}
	if err := trs[1].Start(&echoHandler{tr: trs[1]}); err != nil {
		b.Fatal(err)
	}
	testutil.WaitFor(b, 10*time.Second, "link up", func() error {
		if !trs[0].Connected(1) || !trs[1].Connected(0) {
			return testutil.Errorf("not connected")
		}
		return nil
	})
	pkt := message(0, 1, 1, "0123456789abcdef0123456789abcdef")
	b.ResetTimer()
	for b.Loop() {
		if err := trs[0].Send(1, pkt); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkTCPRoundTrip: a 100-byte message from node 0 to node 1 and
// back over loopback, plaintext and with TLS.
func BenchmarkTCPRoundTrip(b *testing.B) {
	b.Run("tls=off", func(b *testing.B) {
		addrs := testutil.LoopbackRange(b, 2, testPort)
		benchRoundTrip(b, [2]Config{tcpConfig(addrs, 0, "bench"), tcpConfig(addrs, 1, "bench")})
	})
	b.Run("tls=on", func(b *testing.B) {
		addrs := testutil.LoopbackRange(b, 2, testPort)
		tc := newTLSClusterTB(b, addrs)
		for i := range addrs {
			tc.issue(uint32(i), tc.ca, addrs[i])
		}
		benchRoundTrip(b, [2]Config{tc.config(0), tc.config(1)})
	})
}
