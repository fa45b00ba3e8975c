package migration

import (
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Record is a key's record as this node's file holds it.
type Record struct {
	Header protocol.LtdbHeader
	Data   []byte
	// Exists is false for a record the file does not hold: it then
	// carries the initial header (rsn 0, dmaster the lmaster, AUTOMATIC).
	Exists bool
}

// Encode returns the record as a TDB value: the ltdb header, then the data.
func (r Record) Encode() []byte {
	return append(r.Header.AppendTo(make([]byte, 0, protocol.LtdbHeaderSize+len(r.Data))), r.Data...)
}

// ParseRecord splits a TDB value; values shorter than a header count as
// missing, as ctdbd and Samba treat them.
func ParseRecord(v []byte) (Record, bool) {
	if len(v) < protocol.LtdbHeaderSize {
		return Record{}, false
	}
	h, _ := protocol.DecodeLtdbHeader(v)
	return Record{Header: h, Data: v[protocol.LtdbHeaderSize:], Exists: true}, true
}

// Client is a local client's call waiting for an answer. The Core never
// calls Reply: it hands the Client back in an Answer.
type Client struct {
	CallID uint32
	// Readonly: the client asked for a read-only copy
	// (CTDB_WANT_READONLY on a READONLY database).
	Readonly bool
	Start    time.Time
	Reply    func(status int32, data []byte)
}

// An Event is something that happened to the Core's database: one of the
// types below.
type Event interface{ event() }

// LocalCall is a local client's REQ_CALL on Key.
type LocalCall struct {
	Key    []byte
	Flags  uint32
	Client Client
}

// NodeCall is another node's REQ_CALL.
type NodeCall struct{ Call protocol.ReqCall }

// DMasterRequest is a REQ_DMASTER: this node is the key's lmaster and a
// dmaster hands the record over through it.
type DMasterRequest struct{ Req protocol.ReqDMaster }

// DMasterReply is a REPLY_DMASTER: the record arrives for this node.
type DMasterReply struct{ Reply protocol.ReplyDMaster }

// CallReply is a REPLY_CALL for a fetch of this node: another node ran
// the call itself (a read-only copy). Its key is FetchKey(reqid).
type CallReply struct{ Reply protocol.ReplyCall }

// CallError is a REPLY_ERROR for a fetch of this node; it needs no record.
type CallError struct {
	ReqID uint32
	From  uint32
	Msg   string
}

// Resend sends a fetch that got no answer again, or finishes it if the
// record is here by now; Gen is the generation it was scheduled in.
type Resend struct {
	Fetch FetchRef
	Gen   uint32
}

// SendFailed reports that a Send carrying a record (Unsent) did not leave:
// the record stays here.
type SendFailed struct {
	Key    []byte
	Record Record
	To     uint32
}

// PinLook is the pin watch looking at a pinned key with requests waiting,
// holding its chain: Late is set when the chain was busy when the look
// began (a local process held it, so the clients had a turn).
type PinLook struct {
	Key  []byte
	Late bool
}

// Release ends the pin of Key for Why and serves the requests waiting.
type Release struct {
	Key []byte
	Why PinEnd
}

// Unwatch takes a key nobody waits for off the pin watch; it needs no
// record.
type Unwatch struct{ Key []byte }

// RevokeDone ends the revocation Seq of Key; OK if every holder of a
// read-only copy took the update.
type RevokeDone struct {
	Key []byte
	Seq uint64
	OK  bool
}

// Rerun runs calls again that waited for a revocation.
type Rerun struct {
	Key   []byte
	Calls []Deferred
}

// Recover drops delegations and revocations when a recovery starts (the
// recovery strips every read-only flag); the calls that waited for a
// revocation come back as Later actions with no delay. It needs no record.
type Recover struct{}

// Expire forgets pins that ended without a request to clear them and
// requests held from a generation that is over; it needs no record.
type Expire struct{}

// Close fails every fetch; it needs no record.
type Close struct{}

// VacuumFetch migrates Key here for vacuuming unless it is here, missing
// or on its way (see Fetching); Client is answered when it arrives.
type VacuumFetch struct {
	Key    []byte
	Client Client
}

func (LocalCall) event()      {}
func (NodeCall) event()       {}
func (DMasterRequest) event() {}
func (DMasterReply) event()   {}
func (CallReply) event()      {}
func (CallError) event()      {}
func (Resend) event()         {}
func (SendFailed) event()     {}
func (PinLook) event()        {}
func (Release) event()        {}
func (Unwatch) event()        {}
func (RevokeDone) event()     {}
func (Rerun) event()          {}
func (Recover) event()        {}
func (Expire) event()         {}
func (Close) event()          {}
func (VacuumFetch) event()    {}

// An Action is something the driver must do: one of the types below.
type Action interface{ action() }

// Send sends Msg to node To. If it cannot leave and Unsent is set, the
// driver steps SendFailed with it: the record it carried stays here. Then,
// if set, is sent only if this one left.
type Send struct {
	To     uint32
	Key    []byte
	Msg    []byte
	Unsent *Record
	Then   *Send
}

// Store writes Key's record as given (the header is final), or deletes it.
// Vacuum asks the driver to queue an empty record for deletion.
type Store struct {
	Key    []byte
	Record Record
	Delete bool
	Vacuum bool
}

// Answer answers a local client.
type Answer struct {
	Client Client
	Status int32
	Data   []byte
}

// Forget releases reqids the Core no longer waits on.
type Forget struct{ ReqIDs []uint32 }

// Watch puts Key under the pin watch: requests wait on its pin.
type Watch struct{ Key []byte }

// Revoke replaces the read-only copies of Holders with Update (through
// UPDATE_RECORD); the driver steps RevokeDone with Seq when done.
type Revoke struct {
	Key     []byte
	Seq     uint64
	Holders []uint32
	Update  protocol.RecData
}

// Later steps Rerun with Calls after Delay, with Key's chain held (it
// queues behind a freeze like any record operation).
type Later struct {
	Key   []byte
	Delay time.Duration
	Calls []Deferred
}

func (Send) action()   {}
func (Store) action()  {}
func (Answer) action() {}
func (Forget) action() {}
func (Watch) action()  {}
func (Revoke) action() {}
func (Later) action()  {}

// Deferred is a call waiting for a revocation: a local client's (Node
// nil) or another node's.
type Deferred struct {
	Flags  uint32
	Client Client
	Node   *protocol.ReqCall
}

func (d Deferred) readonly() bool { return d.Flags&protocol.CallFlagWantReadonly != 0 }

// FetchRef names one fetch of a key, so that a resend scheduled for it
// does not touch a later fetch of the same key.
type FetchRef struct {
	Key []byte
	ID  uint64
}

// PinEnd is why a pin with requests waiting ended.
type PinEnd uint8

const (
	PinTurn     PinEnd = iota // a local process held the chain and let it go
	PinWrite                  // the only client wrote the record
	PinDeadline               // the pin ran out
)
