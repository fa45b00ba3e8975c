package main

import (
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// GetticklesCmd is "ctdb gettickles IP [PORT]": the TCP connections the
// addressed node records for a public address (to that port only, when
// given), which the node taking the address over will tickle.
type GetticklesCmd struct{ Args }

// Run follows control_gettickles: the port is parsed first (a bad one ends
// the tool silently with its errno as the status), then the address.
func (c *GetticklesCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 1 || len(args) > 2 {
		return t.usage()
	}
	var port uint64
	if len(args) == 2 {
		v, errno := smbStrtoulBase(args[1], 10, false)
		if errno != 0 {
			return exitCode(int(errno))
		}
		port = v
	}
	addr, ok := parseSockAddr(args[0], false)
	if !ok {
		t.eprintf("Invalid IP address %s\n", args[0])
		return exitCode(1)
	}
	addr.Port = uint16(port)
	ctx, cancel := t.tctx()
	l, err := t.c.GetTCPTickleList(ctx, t.cmdPNN, addr)
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlGetTCPTickleList, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Failed to get list of connections\n")
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(ticklesJSON(t.cmdPNN, addr, l))
	}
	t.print(formatTickles(l, t.opts.machine, t.opts.sep))
	return nil
}

// formatTickles renders control_gettickles's output (its -X header
// misspells "Destination").
func formatTickles(l *protocol.TickleList, machine bool, sep string) string {
	var b strings.Builder
	if machine {
		fmt.Fprintf(&b, "%sSource IP%sPort%sDestiation IP%sPort%s\n", sep, sep, sep, sep, sep)
		for _, c := range l.Conns {
			fmt.Fprintf(&b, "%s%s%s%d%s%s%s%d%s\n", sep, sockAddrString(c.Src, false), sep, c.Src.Port,
				sep, sockAddrString(c.Dst, false), sep, c.Dst.Port, sep)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "Connections for IP: %s\n", sockAddrString(l.Addr, false))
	fmt.Fprintf(&b, "Num connections: %d\n", len(l.Conns))
	for _, c := range l.Conns {
		fmt.Fprintf(&b, "SRC: %s   DST: %s\n", sockAddrString(c.Src, true), sockAddrString(c.Dst, true))
	}
	return b.String()
}

// jsonConnection is a connection of the gettickles document.
type jsonConnection struct {
	Source          string `json:"source"`
	SourcePort      uint16 `json:"source_port"`
	Destination     string `json:"destination"`
	DestinationPort uint16 `json:"destination_port"`
}

func ticklesJSON(cmdPNN uint32, addr protocol.SockAddr, l *protocol.TickleList) any {
	doc := struct {
		PNN         uint32           `json:"pnn"`
		Address     string           `json:"address"`
		Port        uint16           `json:"port"`
		Connections []jsonConnection `json:"connections"`
	}{PNN: cmdPNN, Address: sockAddrString(l.Addr, false), Port: addr.Port, Connections: []jsonConnection{}}
	for _, c := range l.Conns {
		doc.Connections = append(doc.Connections, jsonConnection{
			Source: sockAddrString(c.Src, false), SourcePort: c.Src.Port,
			Destination: sockAddrString(c.Dst, false), DestinationPort: c.Dst.Port,
		})
	}
	return doc
}
