package main

import (
	"errors"
	"flag"
	"net"
	"net/netip"
	"strings"
	"testing"

	"go.uber.org/goleak"

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
