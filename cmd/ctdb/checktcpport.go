package main

import "syscall"

// ChecktcpportCmd is "ctdb checktcpport <port>": whether a TCP port is
// free on every local address (the exit status is bind's errno, so 98,
// EADDRINUSE, when a service holds it). It needs no daemon.
type ChecktcpportCmd struct{ Args }

// Run follows control_checktcpport: the port read with atoi and truncated
// to 16 bits as htons does, a bind to the IPv4 wildcard address without
// SO_REUSEADDR (Go's listeners set it, and would then share a port with
// a daemon bound to one address only).
func (c *ChecktcpportCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		// The real tool asks for the usage of "chktcpport", a name its
		// command table lacks, and so prints the full usage.
		printUsage(t.out, "")
		return exitCode(1)
	}
	port := uint32(atoi(c.Args.Args[0]))
	s, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		t.eprintf("Failed to open local socket\n")
		return errnoOf(err)
	}
	err = syscall.Bind(s, &syscall.SockaddrInet4{Port: int(uint16(port))})
	syscall.Close(s)
	if err != nil {
		t.eprintf("Failed to bind to TCP port %d\n", port)
		return errnoOf(err)
	}
	if t.opts.json {
		return t.printJSON(struct {
			Port uint16 `json:"port"`
			Free bool   `json:"free"`
		}{uint16(port), true})
	}
	return nil
}
