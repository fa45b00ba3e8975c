package linuxhost

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/rctdb/rctdb/internal/netnsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Options configure a Host. The zero value manages the caller's own network
// namespace and logs nothing.
type Options struct {
	// Netns, if set, is the path of a network namespace (e.g.
	// /run/netns/NAME) whose interfaces this Host manages instead of the
	// caller's own. Netlink and raw sockets are opened inside it; the
	// calling goroutine's thread never changes namespace.
	Netns string
	// Logger receives what Host does (nil: discard).
	Logger *slog.Logger
}

// Validate reports the first unusable field.
func (o Options) Validate() error {
	if o.Netns != "" {
		st, err := os.Stat(o.Netns)
		if err != nil {
			return fmt.Errorf("options: Netns: %w", err)
		}
		if st.IsDir() {
			return fmt.Errorf("options: Netns: %s is a directory, not a namespace file", o.Netns)
		}
	}
	return nil
}

// Host manages the interfaces, addresses and TCP connections of one network
// namespace. Its methods are safe for concurrent use.
type Host struct {
	log    *slog.Logger
	nsPath string
	// ns is the target namespace, or netns.None() for the caller's own.
	ns     netns.NsHandle
	handle *netlink.Handle
	mon    *monitor

	// killByTickle makes KillConnections use the tickle/RST path even when
	// the kernel can destroy sockets (tests of the fallback).
	killByTickle bool

	mu sync.Mutex
	// promoted holds the ifindexes whose promote_secondaries is known to be 1.
	promoted map[int]bool

	closeOnce sync.Once
	closeErr  error
}

// New opens netlink handles and the change monitor in the configured
// namespace.
func New(opts Options) (*Host, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Host{log: log, nsPath: opts.Netns, ns: netns.None(), promoted: map[int]bool{}}
	var err error
	if opts.Netns != "" {
		if h.ns, err = netns.GetFromPath(opts.Netns); err != nil {
			return nil, fmt.Errorf("new host: open namespace %s: %w", opts.Netns, err)
		}
		h.handle, err = netlink.NewHandleAt(h.ns)
	} else {
		h.handle, err = netlink.NewHandle()
	}
	if err != nil {
		h.ns.Close()
		return nil, fmt.Errorf("new host: netlink handle in %s: %w", h.where(), err)
	}
	if h.mon, err = h.startMonitor(); err != nil {
		h.handle.Close()
		h.ns.Close()
		return nil, fmt.Errorf("new host: %w", err)
	}
	return h, nil
}

// Close stops the change monitor (closing the Changes channel) and releases
// the namespace. Addresses stay as they are (their leases run on). Other
// methods must not be called concurrently with or after Close.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.closeErr = h.mon.close()
		h.handle.Close()
		if h.ns.IsOpen() {
			if err := h.ns.Close(); err != nil && h.closeErr == nil {
				h.closeErr = fmt.Errorf("close namespace %s: %w", h.nsPath, err)
			}
		}
	})
	return h.closeErr
}

// where names the managed namespace for messages.
func (h *Host) where() string {
	if h.nsPath == "" {
		return "own namespace"
	}
	return "namespace " + h.nsPath
}

// inNS runs fn with its OS thread inside the managed namespace; file
// descriptors fn opens there (sockets, /proc/sys files) stay bound to it.
func (h *Host) inNS(fn func() error) error {
	if !h.ns.IsOpen() {
		return fn()
	}
	return netnsrun.Run(h.ns, fn)
}

// linkByName returns the link, or (nil, nil) if it does not exist.
func (h *Host) linkByName(name string) (netlink.Link, error) {
	l, err := h.handle.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, err
	}
	return l, nil
}
