package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/internal/testutil"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseOptions(t *testing.T) {
	for _, args := range [][]string{{"-i"}, {"--interactive"}, {"-interactive"}} {
		o, err := parseOptions(args)
		if err != nil || !o.interactive {
			t.Errorf("%v: %+v, %v", args, o, err)
		}
	}
	if o, err := parseOptions([]string{"--config", "/x/ctdb.conf"}); err != nil || o.config != "/x/ctdb.conf" || o.interactive {
		t.Errorf("--config: %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-?"}, {"--help"}, {"--usage"}} {
		if _, err := parseOptions(args); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want help", args, err)
		}
	}
	// As 4.17: an unknown option or an argument is an error.
	for _, args := range [][]string{{"--nosetsched"}, {"extra"}} {
		if _, err := parseOptions(args); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want an error", args, err)
		}
	}
}

func TestBindableNodeAddress(t *testing.T) {
	addrs := testutil.LoopbackRange(t, 3, config.DefaultPort)
	// Another daemon listens on the first address: it is skipped, as
	// 4.17's bind fails there too.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], config.DefaultPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nodes := []config.Node{
		{PNN: 0, Deleted: true},
		{PNN: 1, Addr: addrs[0]},
		{PNN: 2, Addr: netip.MustParseAddr("192.0.2.7")}, // not on this host
		{PNN: 3, Addr: addrs[1]},
	}
	got, err := bindableNodeAddress(nodes, config.DefaultPort)
	if err != nil || got != addrs[1] {
		t.Fatalf("got %v, %v; want %v", got, err, addrs[1])
	}
	_, err = bindableNodeAddress(nodes[:3], config.DefaultPort)
	if err == nil || !strings.Contains(err.Error(), "192.0.2.7") {
		t.Fatalf("no bindable address: %v", err)
	}
}

// TestMetricsServesProfilesOnlyWhenAsked: /metrics always; the runtime
// profiles under /debug/pprof/ only with [metrics] profiling.
func TestMetricsServesProfilesOnlyWhenAsked(t *testing.T) {
	addr := testutil.LoopbackRange(t, 1, 0)[0]
	for _, profiling := range []bool{false, true} {
		srv, err := serveMetrics(netip.AddrPortFrom(addr, 0).String(), profiling, metrics.NewSet(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		base := "http://" + srv.Addr
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(path string) int {
			resp, err := client.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode
		}
		metricsCode, pprofCode := get("/metrics"), get("/debug/pprof/goroutine?debug=1")
		srv.Close()
		want := http.StatusNotFound
		if profiling {
			want = http.StatusOK
		}
		if metricsCode != http.StatusOK || pprofCode != want {
			t.Errorf("profiling %v: /metrics %d, /debug/pprof/goroutine %d (want %d)", profiling, metricsCode, pprofCode, want)
		}
	}
}
