package client

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// fakeCtdbd answers a client's attach sequence on a Unix socket and hands
// every other control and every REQ_CALL to hooks, recording them all.
type fakeCtdbd struct {
	t    *testing.T
	pnn  uint32
	dir  string
	path string

	mu       sync.Mutex
	controls map[protocol.Opcode]func(req *protocol.ReqControl) int32
	call     func(req *protocol.ReqCall) int32
	reqs     []*protocol.ReqControl
	calls    []*protocol.ReqCall
}

func newFakeCtdbd(t *testing.T, pnn uint32) *fakeCtdbd {
	t.Helper()
	dir := t.TempDir()
	f := &fakeCtdbd{t: t, pnn: pnn, dir: dir, path: filepath.Join(dir, "ctdbd.socket"),
		controls: map[protocol.Opcode]func(*protocol.ReqControl) int32{}}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn)
		}
	}()
	return f
}

// on sets the status op answers (with no data).
func (f *fakeCtdbd) on(op protocol.Opcode, h func(req *protocol.ReqControl) int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.controls[op] = h
}

// onCall sets the status REQ_CALLs are answered with.
func (f *fakeCtdbd) onCall(h func(req *protocol.ReqCall) int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call = h
}

// sent returns the controls of op received so far.
func (f *fakeCtdbd) sent(op protocol.Opcode) []*protocol.ReqControl {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l []*protocol.ReqControl
	for _, r := range f.reqs {
		if r.Opcode == op {
			l = append(l, r)
		}
	}
	return l
}

func (f *fakeCtdbd) dbPath(name string) string {
	return filepath.Join(f.dir, fmt.Sprintf("%s.%d", name, f.pnn))
}

// attach creates the database's TDB file if need be and answers its id.
func (f *fakeCtdbd) attach(name string) []byte {
	path := f.dbPath(name)
	if _, err := os.Stat(path); err != nil {
		db, err := tdb.Open(path, 1000, 0, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			f.t.Error(err)
			return nil
		}
		db.Close()
	}
	return protocol.U32(tdb.JenkinsHash([]byte(name)))
}

// answer is the fake's reply to one control: the attach sequence itself,
// the hooks for the rest (-1 without one).
func (f *fakeCtdbd) answer(req *protocol.ReqControl) (int32, []byte) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	h := f.controls[req.Opcode]
	f.mu.Unlock()
	switch {
	case h != nil:
		return h(req), nil
	case req.Opcode == protocol.ControlGetPNN:
		return int32(f.pnn), nil
	case req.Opcode == protocol.ControlDBAttach, req.Opcode == protocol.ControlDBAttachPersistent,
		req.Opcode == protocol.ControlDBAttachReplicated:
		return 0, f.attach(protocol.ParseCString(req.Data))
	case req.Opcode == protocol.ControlGetDBPath:
		id, _ := protocol.ParseU32(req.Data)
		for _, n := range []string{"g_lock.tdb", "p.tdb", "r.tdb", "v.tdb"} {
			if tdb.JenkinsHash([]byte(n)) == id {
				return 0, protocol.CString(f.dbPath(n))
			}
		}
		return -1, nil
	case req.Opcode == protocol.ControlDBGetHealth:
		return 0, nil
	case req.Opcode == protocol.ControlDBOpenFlags:
		return 0, protocol.U32(0)
	}
	return -1, nil
}

func (f *fakeCtdbd) serve(conn net.Conn) {
	defer conn.Close()
	pr := protocol.NewPacketReader(conn, 1<<20)
	for {
		pkt, err := pr.Next()
		if err != nil {
			return
		}
		switch protocol.PacketOp(pkt) {
		case protocol.OpReqControl:
			var req protocol.ReqControl
			if err := req.Unmarshal(pkt); err != nil {
				f.t.Error(err)
				return
			}
			req.Data = bytes.Clone(req.Data)
			st, data := f.answer(&req)
			r := protocol.ReplyControl{Header: protocol.Header{DestNode: req.SrcNode, SrcNode: f.pnn, ReqID: req.ReqID}, Status: st, Data: data}
			conn.Write(r.Marshal())
		case protocol.OpReqCall:
			var req protocol.ReqCall
			if err := req.Unmarshal(pkt); err != nil {
				f.t.Error(err)
				return
			}
			req.Key = bytes.Clone(req.Key)
			f.mu.Lock()
			f.calls = append(f.calls, &req)
			h := f.call
			f.mu.Unlock()
			st := int32(-1)
			if h != nil {
				st = h(&req)
			}
			r := protocol.ReplyCall{Header: protocol.Header{DestNode: req.SrcNode, SrcNode: f.pnn, ReqID: req.ReqID}, Status: st}
			conn.Write(r.Marshal())
		case protocol.OpReqTunnel:
			// Every tunnel packet comes back, as a daemon delivers one
			// sent to its own node: in a header of its own.
			var p protocol.ReqTunnel
			if err := p.Unmarshal(pkt); err != nil {
				f.t.Error(err)
				return
			}
			p.Header = protocol.Header{SrcNode: f.pnn}
			conn.Write(p.Marshal())
		}
	}
}

// connect connects a client to the fake, closed at the end of the test.
func (f *fakeCtdbd) connect() *Client {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// store writes a raw value into a database the client has open, through
// its handle: libtdb refuses a second handle on the file in this process.
func (db *DB) storeRaw(key, value []byte) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.tdb.Store(key, value, tdb.Replace)
}

// migrateHere is what a daemon's migration leaves in the local TDB: the
// record, created empty if need be, with this node as dmaster.
func (db *DB) migrateHere(key []byte) error {
	h, d, err := db.FetchLocal(key)
	if err != nil {
		return err
	}
	if h.DMaster == protocol.UnknownPNN {
		h = protocol.LtdbHeader{}
	}
	h.DMaster = db.c.pnn
	return db.storeRaw(key, append(h.AppendTo(nil), d...))
}

// applyBuffer writes the records of a TRANS3_COMMIT buffer into the local
// TDB, as the daemon's UPDATE_RECORD does on every node.
func (db *DB) applyBuffer(data []byte) error {
	var rb protocol.RecBuffer
	if err := rb.Unmarshal(data); err != nil {
		return err
	}
	for _, r := range rb.Records {
		if err := db.storeRaw(r.Key, r.Data); err != nil {
			return err
		}
	}
	return nil
}
