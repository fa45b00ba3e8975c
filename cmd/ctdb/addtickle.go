package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// AddtickleCmd is "ctdb addtickle [SRC:PORT DST:PORT]": record a TCP
// connection (SRC the client, DST the public address) on the addressed
// node, or, without arguments, every connection listed on standard input
// ("SRC:PORT DST:PORT" per line), as 60.nfs does.
type AddtickleCmd struct{ Args }

// Run follows control_addtickle.
func (c *AddtickleCmd) Run(t *tool) error {
	return t.tickleCommand(c.Args.Args, tickleOp{
		send: t.c.TCPAddDelayedUpdate, op: protocol.ControlTCPAddDelayedUpdate,
		failedOne: "Failed to register connection\n", failedList: "Failed to add %d tickles\n",
	})
}

// tickleOp is what addtickle and deltickle differ in.
type tickleOp struct {
	send       func(ctx context.Context, dest uint32, conn protocol.Connection) error
	op         protocol.Opcode
	failedOne  string // the message when the one connection given fails
	failedList string // the message with the number of list entries that failed
}

// tickleCommand is the body of control_addtickle and control_deltickle:
// one connection from the arguments, or the list on standard input sent
// all at once, in order, the failures counted (without the client
// library's messages). A malformed line ends the tool silently with its errno.
func (t *tool) tickleCommand(args []string, op tickleOp) error {
	switch len(args) {
	case 0:
		conns, errno := readConnections(t.in)
		if errno != 0 {
			return exitCode(int(errno))
		}
		if len(conns) == 0 {
			return t.tickleDone(0)
		}
		reqs := make([]ctrlReq, len(conns))
		for i, c := range conns {
			reqs[i] = ctrlReq{t.cmdPNN, op.op, c.Marshal()}
		}
		errs, err := t.sendAll(reqs)
		if fatal(err) {
			return err
		}
		failed := 0
		for _, e := range errs {
			if e != nil {
				failed++
			}
		}
		if failed > 0 {
			t.eprintf(op.failedList, failed)
			return exitCode(1)
		}
		return t.tickleDone(len(conns))
	case 2:
	default:
		return t.usage()
	}
	conn, err := t.connArgs(args)
	if err != nil {
		return err
	}
	ctx, cancel := t.tctx()
	err = op.send(ctx, t.cmdPNN, conn)
	cancel()
	if err != nil {
		err = t.ctrlErr(op.op, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("%s", op.failedOne)
		}
		return err
	}
	return t.tickleDone(1)
}

// tickleDone prints the JSON document of addtickle and deltickle, when
// asked for: n connections sent.
func (t *tool) tickleDone(n int) error {
	if !t.opts.json {
		return nil
	}
	return t.printJSON(struct {
		jsonAction
		Connections int `json:"connections"`
	}{jsonAction{t.name, t.cmdPNN, n > 0}, n})
}

// connArgs reads a connection given as two arguments, SRC DST
// (address:port each), with 4.17's message for a bad one.
func (t *tool) connArgs(args []string) (protocol.Connection, error) {
	var conn protocol.Connection
	var ok bool
	if conn.Src, ok = parseSockAddr(args[0], true); !ok {
		t.eprintf("Invalid IP address %s\n", args[0])
		return conn, exitCode(1)
	}
	if conn.Dst, ok = parseSockAddr(args[1], true); !ok {
		t.eprintf("Invalid IP address %s\n", args[1])
		return conn, exitCode(1)
	}
	return conn, nil
}
