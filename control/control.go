package control

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// Client is the local client connection a control came on, as the
// dispatcher identifies it; handlers that keep per-client state (srvid
// registrations, client connections) key it by this value.
type Client interface {
	// PID is the client's process id (SO_PEERCRED).
	PID() int32
}

// Request is a control to serve on this node.
type Request struct {
	protocol.ReqControl
	// Client is the local client that sent it; nil when another node did.
	Client Client
	// From is the node that sent it (this node for local clients).
	From uint32
}

// Reply is a control's outcome.
type Reply struct {
	Status int32
	Data   []byte
	ErrMsg string
	// After runs once the reply is sent (or dropped for NOREPLY).
	After func()
}

// OK is a successful reply carrying data.
func OK(data []byte) Reply { return Reply{Data: data} }

// Status is a reply whose result is its status (many controls answer so).
func Status(s int32) Reply { return Reply{Status: s} }

// Fail is a failed reply (status -1) with an error text.
func Fail(format string, args ...any) Reply {
	return Reply{Status: -1, ErrMsg: fmt.Sprintf(format, args...)}
}

// FailErr is a failed reply for err: its status is err's Status() if it
// has one (see noderpc.StatusOf), else -1.
func FailErr(err error) Reply { return Reply{Status: noderpc.StatusOf(err), ErrMsg: err.Error()} }

// Failed reports whether the reply is a failure: a negative status or an
// error text (many controls return their result in the status).
func (r Reply) Failed() bool { return r.Status < 0 || r.ErrMsg != "" }

// AnySize marks a control whose request may have any size.
const AnySize = -1

// Handler says how a control is served.
type Handler struct {
	// Size is the exact request size the daemon requires, or AnySize.
	Size int
	// Blocking handlers (Raft commits, waits) run on their own goroutine,
	// with the control timeout, so that the connection or link they came
	// on keeps flowing.
	Blocking bool
	// LocalClient controls need a local client connection.
	LocalClient bool
	Serve       func(ctx context.Context, r *Request) Reply
}

// Table maps opcodes to their handlers.
type Table map[protocol.Opcode]Handler

// Merge adds other's handlers to t; an opcode served twice is a
// programming error.
func (t Table) Merge(other Table) {
	for op, h := range other {
		if _, dup := t[op]; dup {
			panic(fmt.Sprintf("control: opcode %s served twice", op))
		}
		t[op] = h
	}
}

// U32 reads the u32 that starts a request (a db_id, a pnn, ...); 0 if the
// data is shorter.
func U32(data []byte) uint32 {
	v, _ := protocol.ParseU32(data)
	return v
}
