package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
)

// gate is a writer that can be shut, so that a command still running when
// the -T limit strikes prints nothing more.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func newGate(w io.Writer) *gate { return &gate{w: w} }

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// options are the global options as the commands use them.
type options struct {
	pnn       int32         // -n, -1 when not given
	timelimit time.Duration // -t
	machine   bool          // -X or -Y
	sep       string        // -x
	json      bool          // --json
	verbose   bool          // -v (ip)
	cluster   bool          // --cluster (setvar on every node)
}

// tool is the state shared by the commands: the real tool's ctdb_context.
type tool struct {
	ctx       context.Context // ends at the -T limit
	name      string          // the command
	opts      options
	lookupEnv func(string) (string, bool)
	in        io.Reader // standard input (ptrans)
	out, err  io.Writer
	loc       *time.Location // zone of the times printed (ctime's)

	c       *client.Client
	pnn     uint32            // the node we are connected to
	cmdPNN  uint32            // the node the command addresses
	nodemap *protocol.NodeMap // get_nodemap's cache
	leader  *leaderWatch      // the leader broadcasts
}

func newTool(ctx context.Context, g Globals, name string, lookupEnv func(string) (string, bool), in io.Reader, out, errw io.Writer) *tool {
	return &tool{
		ctx:  ctx,
		name: name,
		opts: options{
			pnn: g.Node,
			// The real tool's timeval_current_ofs takes unsigned seconds:
			// a negative -t is a timeout of about 136 years.
			timelimit: time.Duration(uint32(g.Timelimit)) * time.Second,
			machine:   g.Readable || g.Parsable,
			sep:       g.Separator,
			json:      g.JSON,
			verbose:   g.Verbose,
			cluster:   g.Cluster,
		},
		lookupEnv: lookupEnv,
		in:        in,
		out:       out,
		err:       errw,
		loc:       displayZone(),
	}
}

// displayZone is the zone times are printed in, the local one as for C's
// ctime (tests fix it).
var displayZone = func() *time.Location { return time.Local }

func (t *tool) printf(format string, args ...any)  { fmt.Fprintf(t.out, format, args...) }
func (t *tool) eprintf(format string, args ...any) { fmt.Fprintf(t.err, format, args...) }
func (t *tool) print(s string)                     { io.WriteString(t.out, s) }

func (t *tool) getenv(name string) (string, bool) { return t.lookupEnv(name) }

// exec runs a command as the real tool's process_command does: commands
// that need no daemon run at once (refusing -n); the others connect,
// validate -n and refuse it for commands that only act locally.
func (t *tool) exec(info cmdInfo, run func() error) int {
	if info.withoutDaemon {
		if t.opts.pnn != -1 {
			t.eprintf("Cannot specify node for command %s\n", t.name)
			return 1
		}
		return status(run())
	}
	if err := t.connect(); err != nil {
		return status(err)
	}
	defer t.c.Close()
	t.pnn = t.c.PNN()
	if t.opts.pnn != -1 {
		if err := t.verifyPNN(t.opts.pnn); err != nil {
			return status(err)
		}
		t.cmdPNN = uint32(t.opts.pnn)
	} else {
		t.cmdPNN = t.pnn
	}
	if !info.remote && t.pnn != t.cmdPNN {
		t.eprintf("Node cannot be specified for command %s\n", t.name)
		return 1
	}
	// Like the real tool, follow the leader broadcasts from the start,
	// whatever the command.
	if t.leader = t.watchLeader(); t.leader.err != nil {
		if err := t.ctrlErr(protocol.ControlRegisterSrvID, t.pnn, t.leader.err); fatal(err) {
			return status(err)
		}
		t.eprintf("Failed to setup leader handler\n")
		return 1
	}
	return status(run())
}

// socketPath is where the daemon listens: $CTDB_SOCKET, else the run
// directory (under $CTDB_BASE in test mode).
func (t *tool) socketPath() (string, error) {
	if p, ok := t.getenv("CTDB_SOCKET"); ok {
		return p, nil
	}
	if _, ok := t.getenv("CTDB_TEST_MODE"); ok {
		base, ok := t.getenv("CTDB_BASE")
		if !ok {
			//lint:ignore ST1005 the real ctdb tool prints exactly this
			return "", errors.New("Broken CTDB setup, CTDB_BASE not set in test mode")
		}
		return base + "/run/ctdbd.socket", nil
	}
	return "/run/ctdb/ctdbd.socket", nil
}

// connect connects to the daemon, reporting a failure as the real tool.
func (t *tool) connect() error {
	path, err := t.socketPath()
	if err != nil {
		// The real tool aborts here (SIGABRT, status 134 in a shell).
		t.eprintf("%v\n", err)
		return exitCode(134)
	}
	c, err := client.Connect(t.ctx, path)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			t.eprintf("connect() failed, errno=%d\n", int(errno))
		}
		t.eprintf("Failed to connect to CTDB daemon (%s)\n", path)
		if !t.findNodeXPNN() {
			t.eprintf("Is this node part of CTDB cluster?\n")
		}
		return exitCode(1)
	}
	t.c = c
	return nil
}

// findNodeXPNN looks for an address of the nodes file that this host has
// (one it can bind to), as the real tool does to explain a failed
// connection.
func (t *tool) findNodeXPNN() bool {
	nodes, err := t.readNodesFile()
	if err != nil {
		return false
	}
	for _, n := range nodes {
		if n.deleted {
			continue
		}
		if haveIP(n.addr) {
			return true
		}
	}
	t.eprintf("Failed to detect PNN of the current node.\n")
	return false
}

// haveIP reports whether a TCP socket can be bound to addr.
func haveIP(addr netip.Addr) bool {
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// tctx is the context of one control: the -t timeout within the run.
func (t *tool) tctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.ctx, t.opts.timelimit)
}

// Errno values the real tool's client library returns.
const (
	errnoETIMEDOUT = int(syscall.ETIMEDOUT)
	errnoEPROTO    = int(syscall.EPROTO)
)

// ctrlErr reports a failed control as the real tool's client library does
// (at its default debug level) and returns the library's return value as
// the command's exit status: the control's status when the daemon answered
// with one, ETIMEDOUT when the -t timeout struck. A closed connection ends
// the tool silently with status 1, and the -T limit ends it with the alarm
// message.
func (t *tool) ctrlErr(op protocol.Opcode, dest uint32, err error) error {
	return t.ctrlErrName(op.String(), dest, err)
}

// ctrlErrName is ctrlErr with the control named as the client library
// names it (it misspells a few).
func (t *tool) ctrlErrName(name string, dest uint32, err error) error {
	code, fatalErr := t.errCode(err)
	if fatalErr != nil {
		return fatalErr
	}
	if code == errnoETIMEDOUT && !isStatus(err) {
		t.eprintf("Control %s failed to node %d, ret=%d\n", name, dest, code)
	} else {
		t.eprintf("Control %s failed, ret=%d\n", name, code)
	}
	// rctdb refuses a non-root process with EACCES and says why; ctdbd
	// never answers so, so this line is never one the real tool would
	// have printed differently.
	var ce *client.ControlError
	if code == -int(syscall.EACCES) && errors.As(err, &ce) && ce.Msg != "" {
		t.eprintf("%s\n", ce.Msg)
	}
	return exitCode(code)
}

// errCode is the client library's return value for a failed control (or
// call), without a message: the status the daemon answered, ETIMEDOUT for
// an expired -t timeout, EPROTO for a reply that could not be decoded. A
// closed connection and the -T limit give instead the error that ends the
// tool.
func (t *tool) errCode(err error) (int, error) {
	var ce *client.ControlError
	switch {
	case t.ctx.Err() != nil:
		return 0, errMaxRuntime
	case errors.As(err, &ce):
		return int(ce.Status), nil
	case errors.Is(err, client.ErrClosed):
		return 0, errDisconnected
	case errors.Is(err, context.DeadlineExceeded):
		return errnoETIMEDOUT, nil
	}
	return errnoEPROTO, nil
}

// isStatus reports whether err is a control answered with a failure status.
func isStatus(err error) bool {
	var ce *client.ControlError
	return errors.As(err, &ce)
}

// fatal reports whether err ends the tool whatever the command would do
// next (a closed connection, the -T limit).
func fatal(err error) bool {
	return errors.Is(err, errDisconnected) || errors.Is(err, errMaxRuntime)
}

// sleep waits d, or until the run's end.
func (t *tool) sleep(d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-t.ctx.Done():
		return errMaxRuntime
	}
}

// getNodemap is the real tool's get_nodemap: the node map of our own node
// (cached unless force), or of the next usable node when ours is BANNED.
func (t *tool) getNodemap(force bool) (*protocol.NodeMap, error) {
	if force {
		t.nodemap = nil
	}
	if t.nodemap != nil {
		return t.nodemap, nil
	}
	current := t.pnn
	for {
		ctx, cancel := t.tctx()
		nm, err := t.c.GetNodeMap(ctx, current)
		cancel()
		if err != nil {
			err = t.ctrlErr(protocol.ControlGetNodeMap, current, err)
			if fatal(err) {
				return nil, err
			}
			t.eprintf("Failed to get nodemap from node %d\n", current)
			return nil, exitCode(1)
		}
		node, _ := nm.Node(current)
		if node.Flags&protocol.NodeFlagBanned == 0 {
			t.nodemap = nm
			return nm, nil
		}
		// Pick the next node that is neither deleted nor disconnected.
		n := uint32(len(nm.Nodes))
		for {
			current = (current + 1) % n
			node, _ = nm.Node(current)
			if node.Flags&(protocol.NodeFlagDeleted|protocol.NodeFlagDisconnected) == 0 || current == t.pnn {
				break
			}
		}
		if current == t.pnn {
			t.eprintf("Warning: All nodes are banned.\n")
			return nil, exitCode(1)
		}
	}
}

// verifyPNN checks the -n node: it must exist and be neither DISCONNECTED
// nor DELETED.
func (t *tool) verifyPNN(pnn int32) error {
	nm, err := t.getNodemap(false)
	if err != nil {
		return err
	}
	node, ok := nm.Node(uint32(pnn))
	if !ok {
		t.eprintf("Node %d does not exist\n", uint32(pnn))
		return exitCode(1)
	}
	if node.Flags&(protocol.NodeFlagDisconnected|protocol.NodeFlagDeleted) != 0 {
		t.eprintf("Node %d has status %s\n", uint32(pnn), protocol.NodeFlagsString(node.Flags))
		return exitCode(1)
	}
	return nil
}

// leaderWatch follows the CTDB_SRVID_LEADER broadcasts, as the real tool's
// leader handler does from the start of the run.
type leaderWatch struct {
	ch     <-chan client.Message
	err    error
	leader uint32
}

// watchLeader registers the leader srvid (without the -t timeout, as the
// real tool's ctdb_client_set_message_handler).
func (t *tool) watchLeader() *leaderWatch {
	lw := &leaderWatch{leader: protocol.UnknownPNN}
	lw.ch, _, lw.err = t.c.Subscribe(t.ctx, protocol.SrvIDLeader, 16)
	return lw
}

// waitLeader is get_leader: it waits up to the -t timeout for a known
// leader and gives UnknownPNN when none is announced by then.
func (t *tool) waitLeader() (uint32, error) {
	lw := t.leader
	update := func(m client.Message) {
		if v, err := protocol.ParseU32(m.Data); err == nil {
			lw.leader = v
		}
	}
	// Take what has arrived so far: the latest announcement counts.
	for drained := false; !drained; {
		select {
		case m, ok := <-lw.ch:
			if !ok {
				return 0, errDisconnected
			}
			update(m)
		default:
			drained = true
		}
	}
	tm := time.NewTimer(t.opts.timelimit)
	defer tm.Stop()
	for lw.leader == protocol.UnknownPNN {
		select {
		case m, ok := <-lw.ch:
			if !ok {
				return 0, errDisconnected
			}
			update(m)
		case <-tm.C:
			return protocol.UnknownPNN, nil
		case <-t.ctx.Done():
			return 0, errMaxRuntime
		}
	}
	return lw.leader, nil
}

// pnnString prints a pnn as print_pnn does.
func pnnString(pnn uint32) string {
	if pnn == protocol.UnknownPNN {
		return "UNKNOWN"
	}
	return fmt.Sprint(pnn)
}

// ctime renders a time as C's ctime(3) does, newline included.
func ctime(sec int64, loc *time.Location) string {
	return time.Unix(sec, 0).In(loc).Format(time.ANSIC) + "\n"
}

// dhms splits seconds as the real tool does for its "(DDD HH:MM:SS)".
func dhms(secs int32) string {
	s := secs % 60
	secs /= 60
	m := secs % 60
	secs /= 60
	h := secs % 24
	d := secs / 24
	return fmt.Sprintf("(%03d %02d:%02d:%02d)", d, h, m, s)
}

// usage is the real tool's usage(command) for wrong arguments: the usage
// on standard output and exit status 1.
func (t *tool) usage() error {
	printUsage(t.out, t.name)
	return exitCode(1)
}
