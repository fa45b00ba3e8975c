package sambatest

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/rctdb/rctdb/internal/netnsrun"
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
	var conn net.Conn
	err := netnsrun.RunNamed(ns, func() (err error) {
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %s from namespace %s: %w", addr, ns, err)
	}
	return conn, nil
}
