package linuxhost_test

import (
	"strings"
	"testing"

	"github.com/rctdb/rctdb/failover/linuxhost"
)

func TestNewChecksItsNamespace(t *testing.T) {
	for _, bad := range []string{"/nonexistent/netns", t.TempDir()} {
		if h, err := linuxhost.New(linuxhost.Options{Netns: bad}); err == nil || !strings.Contains(err.Error(), "Netns") {
			if h != nil {
				h.Close()
			}
			t.Errorf("New with Netns %q: %v", bad, err)
		}
	}
	// The caller's own namespace: loopback is there and up.
	h, err := linuxhost.New(linuxhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Links([]string{"lo"})
	if err != nil || !l["lo"].Up {
		t.Errorf("lo in own namespace: %+v %v", l, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-h.Changes(); ok {
		t.Fatal("Changes open after Close")
	}
}
