package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// fakeDaemon answers the ctdb tool's controls on a Unix socket with canned
// replies, so that whole runs of the tool can be compared with the real
// tool's captures.
type fakeDaemon struct {
	t    *testing.T
	path string
	ln   net.Listener

	mu       sync.Mutex
	pnn      uint32
	handlers map[protocol.Opcode]handler
	leader   uint32 // announced on REGISTER_SRVID of the leader srvid; UnknownPNN: silent
	answer   *int32 // the leader's answer to a takeover run; nil: silent
	requests []*protocol.ReqControl
	takeover int // takeover run requests received
	afters   map[protocol.Opcode]after
	messages []protocol.ReqMessage // the messages the tool sent
	calls    int                   // REQ_CALLs received (answered with status -1)
	onMsg    map[uint64]func(m protocol.ReqMessage, message func(srvid uint64, data []byte))
}

// onMessage sets what the daemon does with the messages to srvid.
func (fd *fakeDaemon) onMessage(srvid uint64, h func(m protocol.ReqMessage, message func(srvid uint64, data []byte))) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.onMsg == nil {
		fd.onMsg = map[uint64]func(protocol.ReqMessage, func(uint64, []byte)){}
	}
	fd.onMsg[srvid] = h
}

// after runs once a control has been answered; message sends a message to
// the tool.
type after func(req *protocol.ReqControl, message func(srvid uint64, data []byte))

// handler answers a control: its status and data; reply false sends none.
type handler func(req *protocol.ReqControl) (status int32, data []byte, reply bool)

func newFakeDaemon(t *testing.T, pnn uint32) *fakeDaemon {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ctdbd.socket")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	fd := &fakeDaemon{t: t, path: path, ln: ln, pnn: pnn,
		handlers: map[protocol.Opcode]handler{}, leader: protocol.UnknownPNN, answer: &zero}
	t.Cleanup(func() { ln.Close() })
	go fd.accept()
	return fd
}

// on sets the handler of op.
func (fd *fakeDaemon) on(op protocol.Opcode, h handler) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.handlers[op] = h
}

// then sets what happens after op is answered.
func (fd *fakeDaemon) then(op protocol.Opcode, a after) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.afters == nil {
		fd.afters = map[protocol.Opcode]after{}
	}
	fd.afters[op] = a
}

// reply makes op answer status and data.
func (fd *fakeDaemon) reply(op protocol.Opcode, status int32, data []byte) {
	fd.on(op, func(*protocol.ReqControl) (int32, []byte, bool) { return status, data, true })
}

// setLeader sets the leader announced (UnknownPNN: none).
func (fd *fakeDaemon) setLeader(pnn uint32) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.leader = pnn
}

// setAnswer sets the answer to takeover runs (nil: none).
func (fd *fakeDaemon) setAnswer(a *int32) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.answer = a
}

// takeoverRuns is the number of takeover run requests received.
func (fd *fakeDaemon) takeoverRuns() int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.takeover
}

// reqs returns the controls received, in order.
func (fd *fakeDaemon) reqs() []*protocol.ReqControl {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return append([]*protocol.ReqControl(nil), fd.requests...)
}

// sentMessages returns the messages received, in order.
func (fd *fakeDaemon) sentMessages() []protocol.ReqMessage {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return append([]protocol.ReqMessage(nil), fd.messages...)
}

// callCount is the number of REQ_CALLs received.
func (fd *fakeDaemon) callCount() int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.calls
}

// opcodes lists the controls received, in order.
func (fd *fakeDaemon) opcodes() []protocol.Opcode {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var ops []protocol.Opcode
	for _, r := range fd.requests {
		ops = append(ops, r.Opcode)
	}
	return ops
}

func (fd *fakeDaemon) accept() {
	for {
		conn, err := fd.ln.Accept()
		if err != nil {
			return
		}
		go fd.serve(conn)
	}
}

func (fd *fakeDaemon) serve(conn net.Conn) {
	defer conn.Close()
	var wmu sync.Mutex
	send := func(pkt []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.Write(pkt)
	}
	message := func(srvid uint64, data []byte) {
		m := protocol.ReqMessage{Header: protocol.Header{DestNode: fd.pnn, SrcNode: fd.pnn}, SrvID: srvid, Data: data}
		send(m.Marshal())
	}
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
				fd.t.Errorf("fake daemon: %v", err)
				return
			}
			req.Data = bytes.Clone(req.Data)
			fd.mu.Lock()
			fd.requests = append(fd.requests, &req)
			h := fd.handlers[req.Opcode]
			then := fd.afters[req.Opcode]
			leader := fd.leader
			fd.mu.Unlock()
			status, data, reply := int32(-1), []byte(nil), true
			switch {
			case h != nil:
				status, data, reply = h(&req)
			case req.Opcode == protocol.ControlGetPNN:
				status = int32(fd.pnn)
			case req.Opcode == protocol.ControlRegisterSrvID, req.Opcode == protocol.ControlDeregisterSrvID:
				status = 0
			}
			if reply && !req.NoReply() {
				r := protocol.ReplyControl{
					Header: protocol.Header{DestNode: req.SrcNode, SrcNode: fd.pnn, ReqID: req.ReqID},
					Status: status, Data: data,
				}
				send(r.Marshal())
			}
			if then != nil {
				then(&req, message)
			}
			if req.Opcode == protocol.ControlRegisterSrvID && req.SrvID == protocol.SrvIDLeader && leader != protocol.UnknownPNN {
				message(protocol.SrvIDLeader, protocol.U32(leader))
			}
			if req.Opcode == protocol.ControlShutdown && req.DestNode == fd.pnn {
				return
			}
		case protocol.OpReqMessage:
			var m protocol.ReqMessage
			if err := m.Unmarshal(pkt); err != nil {
				fd.t.Errorf("fake daemon: %v", err)
				return
			}
			m.Data = bytes.Clone(m.Data)
			fd.mu.Lock()
			answer := fd.answer
			if m.SrvID == protocol.SrvIDTakeoverRun {
				fd.takeover++
			}
			fd.messages = append(fd.messages, m)
			onMsg := fd.onMsg[m.SrvID]
			fd.mu.Unlock()
			if onMsg != nil {
				onMsg(m, message)
			}
			if m.SrvID == protocol.SrvIDTakeoverRun && answer != nil {
				var sm protocol.SrvIDMessage
				if err := sm.Unmarshal(m.Data); err != nil {
					fd.t.Errorf("fake daemon: %v", err)
					return
				}
				message(sm.SrvID, protocol.U32(uint32(*answer)))
			}
		case protocol.OpReqCall:
			// No migrations here: a failed call ends a fetch lock at once.
			var c protocol.ReqCall
			if err := c.Unmarshal(pkt); err != nil {
				fd.t.Errorf("fake daemon: %v", err)
				return
			}
			fd.mu.Lock()
			fd.calls++
			fd.mu.Unlock()
			r := protocol.ReplyCall{Header: protocol.Header{DestNode: c.SrcNode, SrcNode: fd.pnn, ReqID: c.ReqID}, Status: -1}
			send(r.Marshal())
		}
	}
}

// runResult is what a run of the tool produced.
type runResult struct {
	stdout, stderr string
	rc             int
}

// runTool runs the tool with args, the environment env and, if fd is not
// nil, CTDB_SOCKET pointing at fd; standard input is empty.
func runTool(fd *fakeDaemon, env map[string]string, args ...string) runResult {
	return runToolInput(fd, env, "", args...)
}

// runToolInput is runTool with input on standard input.
func runToolInput(fd *fakeDaemon, env map[string]string, input string, args ...string) runResult {
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	if fd != nil {
		e["CTDB_SOCKET"] = fd.path
	}
	lookup := func(k string) (string, bool) { v, ok := e[k]; return v, ok }
	var out, errb bytes.Buffer
	rc := run(args, lookup, strings.NewReader(input), &out, &errb)
	return runResult{out.String(), errb.String(), rc}
}

// sample is one command of the real tool's captures.
type sample struct {
	stdout, stderr string
	rc             int
}

// loadSamples parses a capture file: "$ ctdb-node.sh N ARGS" lines, the
// output ("stderr: " marking standard error), then "[rc=N]". Samples are
// keyed by "N ARGS".
func loadSamples(t *testing.T, name string) map[string]sample {
	t.Helper()
	data, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]sample{}
	var key string
	var cur *sample
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "$ ctdb-node.sh "):
			key = strings.TrimSuffix(strings.TrimPrefix(line, "$ ctdb-node.sh "), "\n")
			cur = &sample{}
		case cur == nil:
		case strings.HasPrefix(line, "[rc="):
			var rc int
			for _, c := range strings.TrimSuffix(strings.TrimPrefix(line, "[rc="), "]\n") {
				rc = rc*10 + int(c-'0')
			}
			cur.rc = rc
			if _, dup := res[key]; !dup {
				res[key] = *cur
			}
			cur = nil
		case strings.HasPrefix(line, "stderr: "):
			cur.stderr += strings.TrimPrefix(line, "stderr: ")
		default:
			cur.stdout += line
		}
	}
	return res
}
