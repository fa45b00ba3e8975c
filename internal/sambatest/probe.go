package sambatest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// probeSMB connects to addr:445 from network namespace ns (empty: this
// process's) and checks that an SMB2 NEGOTIATE is answered with status 0:
// smbd is up, has loaded its configuration and serves SMB, which a mere
// TCP accept would not show.
func probeSMB(ctx context.Context, ns, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := dialFrom(ctx, ns, net.JoinHostPort(addr, "445"))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = Negotiate(ctx, conn)
	return err
}

// dialFrom opens a TCP connection to addr from network namespace ns
// (empty: this process's). The socket is created inside ns and belongs to
// it for its whole life, whichever thread uses it later.
func dialFrom(ctx context.Context, ns, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second}
	if ns == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is handed back to the runtime only in its own
		// namespace; a thread stuck in ns ends with this goroutine.
		runtime.LockOSThread()
		conn, back, err := dialIn(ctx, &d, ns, addr)
		if back {
			runtime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	r := <-done
	if r.err != nil {
		return nil, fmt.Errorf("connect to %s from namespace %s: %w", addr, ns, r.err)
	}
	return r.conn, nil
}

// dialIn dials from ns on the calling, locked thread; back reports whether
// the thread is in its own namespace again.
func dialIn(ctx context.Context, d *net.Dialer, ns, addr string) (conn net.Conn, back bool, err error) {
	orig, err := netns.Get()
	if err != nil {
		return nil, true, fmt.Errorf("get current network namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return nil, true, fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return nil, true, fmt.Errorf("enter network namespace: %w", err)
	}
	conn, err = d.DialContext(ctx, "tcp", addr)
	return conn, netns.Set(orig) == nil, err
}
