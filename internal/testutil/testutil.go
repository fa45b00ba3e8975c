package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

// LoopbackRange returns n consecutive loopback addresses 127.A.B.1..n on
// which nothing listens on port, picked at random so that concurrent test
// processes (and earlier runs' leftovers) do not collide.
func LoopbackRange(t testing.TB, n int, port int) []netip.Addr {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		a, b := byte(rand.IntN(200)+20), byte(rand.IntN(250)+1)
		addrs := make([]netip.Addr, n)
		free := true
		for i := range addrs {
			addrs[i] = netip.AddrFrom4([4]byte{127, a, b, byte(i + 1)})
			ln, err := net.Listen("tcp", netip.AddrPortFrom(addrs[i], uint16(port)).String())
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return addrs
		}
	}
	t.Fatalf("no free loopback range for %d nodes on port %d", n, port)
	return nil
}

// WaitFor polls cond every 10ms until it returns nil, and returns how long
// that took; when the deadline passes it fails the test with cond's last
// error.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return WaitSince(t, time.Now(), timeout, what, cond)
}

// WaitSince is WaitFor with the time measured from start.
func WaitSince(t testing.TB, start time.Time, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	var err error
	for {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Errorf is fmt.Errorf, for terse conditions.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
