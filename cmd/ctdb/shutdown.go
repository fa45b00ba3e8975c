package main

import "github.com/rctdb/rctdb/protocol"

// ShutdownCmd is "ctdb shutdown": stop the addressed daemon.
type ShutdownCmd struct{ Args }

// Run sends SHUTDOWN (no reply is expected) and, when it addresses the
// daemon we are connected to, waits for it to close the connection.
func (c *ShutdownCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	if err := t.c.Shutdown(t.cmdPNN); err != nil {
		err = t.ctrlErr(protocol.ControlShutdown, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Unable to shutdown node %d\n", t.cmdPNN)
		}
		return err
	}
	if t.cmdPNN == t.pnn {
		select {
		case <-t.c.Done():
		case <-t.ctx.Done():
			return errMaxRuntime
		}
	}
	return t.done(true)
}
