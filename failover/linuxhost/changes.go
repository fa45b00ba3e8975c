package linuxhost

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// monitor owns a netlink socket subscribed to link and address events of
// the namespace and the goroutine that reads it; it turns every event into a
// coalesced, non-blocking signal on changes.
type monitor struct {
	file    *os.File
	changes chan struct{}
	done    chan struct{}
}

// Changes returns a channel that receives a value whenever an address or a
// link of the namespace changes (including changes this Host makes).
// Signals are coalesced: one value may stand for many events, and a reader
// that is busy never blocks the monitor. After a value, re-read the state.
// The channel is closed by Close, or if reading events fails (logged at
// Warn), so a closed channel means the reconciler must poll or restart.
func (h *Host) Changes() <-chan struct{} { return h.mon.changes }

func (h *Host) startMonitor() (*monitor, error) {
	var fd int
	err := h.inNS(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open netlink monitor in %s: %w", h.where(), err)
	}
	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("subscribe netlink monitor in %s: %w", h.where(), err)
	}
	// A non-blocking descriptor in an os.File uses the runtime poller, so
	// Close wakes the reader and the goroutine ends.
	m := &monitor{
		file:    os.NewFile(uintptr(fd), "netlink-monitor"),
		changes: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	go m.run(h)
	return m, nil
}

func (m *monitor) run(h *Host) {
	defer close(m.done)
	defer close(m.changes)
	buf := make([]byte, 64<<10)
	for {
		_, err := m.file.Read(buf)
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOBUFS):
			// The socket overflowed and events were lost: a change
			// happened, which is all a reader needs to know.
			h.log.Debug("netlink monitor overrun")
		case errors.Is(err, os.ErrClosed):
			return
		default:
			h.log.Warn("netlink monitor stopped", "where", h.where(), "err", err)
			return
		}
		select {
		case m.changes <- struct{}{}:
		default:
		}
	}
}

func (m *monitor) close() error {
	err := m.file.Close()
	<-m.done
	if err != nil {
		return fmt.Errorf("close netlink monitor: %w", err)
	}
	return nil
}
