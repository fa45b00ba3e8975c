package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The ctdb-eventd protocol (CTDB 4.17): a Unix stream socket; each packet
// is a u32 length (counting itself) and the rest; little-endian, no
// padding. Requests: header, command, body. Replies: header, command,
// result, and for a successful STATUS the script list.

const headerSize = 12 // length, version, reqid

// Commands.
const (
	cmdRun    uint32 = 1
	cmdStatus uint32 = 2
	cmdScript uint32 = 3
)

// Script actions of cmdScript.
const (
	actionDisable uint32 = 0
	actionEnable  uint32 = 1
)

// Packet size limits: requests are a few strings; replies carry the
// scripts' outputs.
const (
	minRequestSize = headerSize + 4
	minReplySize   = headerSize + 8
	// MaxRequestSize bounds a request the server accepts.
	MaxRequestSize = 1 << 20
	// MaxReplySize bounds a reply the client accepts.
	MaxReplySize = 64 << 20
)

var errShort = errors.New("packet too short")

// nstring is a stringn: absent (NULL, n = 0) or a string.
type nstring struct {
	s     string
	valid bool
}

func str(s string) nstring { return nstring{s: s, valid: true} }

// wireRequest is a decoded request; the body fields used depend on cmd.
type wireRequest struct {
	reqid     uint32
	cmd       uint32
	component nstring
	event     nstring // RUN, STATUS
	args      nstring // RUN
	timeout   uint32  // RUN, seconds
	flags     uint32  // RUN
	script    nstring // SCRIPT
	action    uint32  // SCRIPT
}

// wireReply is a decoded reply; status only for a successful STATUS.
type wireReply struct {
	reqid  uint32
	cmd    uint32
	result int32
	status *Status
}

// decoder reads fields from a packet, remembering the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail(errShort)
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) i64() int64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail(errShort)
		return 0
	}
	v := int64(binary.LittleEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v
}

// stringn reads u32 n and n bytes holding a NUL-terminated string (n = 0
// is NULL). A string that is not exactly n-1 bytes and a NUL is refused:
// ctdb would read past the field.
func (d *decoder) stringn() nstring {
	n := d.u32()
	if d.err != nil || n == 0 {
		return nstring{}
	}
	if uint32(len(d.b)-d.off) < n {
		d.fail(fmt.Errorf("string of %d bytes: %w", n, errShort))
		return nstring{}
	}
	raw := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	if i := strings.IndexByte(string(raw), 0); i != int(n)-1 {
		d.fail(fmt.Errorf("string of %d bytes is not NUL-terminated at its end", n))
		return nstring{}
	}
	return str(string(raw[:n-1]))
}

// maxTimevalSec keeps times within what time.Time's microseconds hold.
const maxTimevalSec = 1 << 40

func (d *decoder) timeval() time.Time {
	sec, usec := d.i64(), d.i64()
	if d.err != nil {
		return time.Time{}
	}
	if usec < 0 || usec >= 1e6 || sec < -maxTimevalSec || sec > maxTimevalSec {
		d.fail(fmt.Errorf("bad timeval %d.%06d", sec, usec))
		return time.Time{}
	}
	return time.Unix(sec, usec*1e3)
}

func (d *decoder) header() (length, reqid uint32) {
	length = d.u32()
	d.u32() // version: 0 on the wire, never checked
	reqid = d.u32()
	if d.err == nil && int(length) != len(d.b) {
		d.fail(fmt.Errorf("length field %d, packet of %d bytes", length, len(d.b)))
	}
	return length, reqid
}

func validCommand(cmd uint32) bool { return cmd >= cmdRun && cmd <= cmdScript }

// decodeRequest parses a whole request packet. Trailing bytes after the
// body are ignored, as ctdb-eventd ignores them.
func decodeRequest(b []byte) (*wireRequest, error) {
	d := &decoder{b: b}
	q := &wireRequest{}
	_, q.reqid = d.header()
	q.cmd = d.u32()
	if d.err == nil && !validCommand(q.cmd) {
		return nil, fmt.Errorf("unknown command %d", q.cmd)
	}
	q.component = d.stringn()
	switch q.cmd {
	case cmdRun:
		q.event = d.stringn()
		q.args = d.stringn()
		q.timeout = d.u32()
		q.flags = d.u32()
	case cmdStatus:
		q.event = d.stringn()
	case cmdScript:
		q.script = d.stringn()
		q.action = d.u32()
		if d.err == nil && q.action != actionDisable && q.action != actionEnable {
			return nil, fmt.Errorf("unknown script action %d", q.action)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode request: %w", d.err)
	}
	return q, nil
}

// decodeReply parses a whole reply packet.
func decodeReply(b []byte) (*wireReply, error) {
	d := &decoder{b: b}
	p := &wireReply{}
	_, p.reqid = d.header()
	p.cmd = d.u32()
	if d.err == nil && !validCommand(p.cmd) {
		return nil, fmt.Errorf("unknown command %d", p.cmd)
	}
	p.result = int32(d.u32())
	if d.err == nil && p.result == 0 && p.cmd == cmdStatus {
		p.status = d.status()
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode reply: %w", d.err)
	}
	return p, nil
}

// minScriptSize is the smallest encoded script: two empty stringn, two
// timevals, a result.
const minScriptSize = 4 + 16 + 16 + 4 + 4

func (d *decoder) status() *Status {
	s := &Status{Summary: int32(d.u32())}
	num := int32(d.u32())
	if d.err != nil {
		return nil
	}
	if num < 0 || int(num) > (len(d.b)-d.off)/minScriptSize {
		d.fail(fmt.Errorf("bad script count %d", num))
		return nil
	}
	s.Scripts = make([]ScriptResult, 0, num)
	for i := int32(0); i < num && d.err == nil; i++ {
		var sr ScriptResult
		sr.Name = d.stringn().s
		sr.Begin = d.timeval()
		sr.End = d.timeval()
		sr.Status = int32(d.u32())
		sr.Output = d.stringn().s
		s.Scripts = append(s.Scripts, sr)
	}
	return s
}

// encoder appends fields to a packet whose length is patched at the end.
type encoder struct{ b []byte }

func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) i64(v int64)  { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }

func (e *encoder) stringn(s nstring) {
	if !s.valid {
		e.u32(0)
		return
	}
	if i := strings.IndexByte(s.s, 0); i >= 0 {
		s.s = s.s[:i]
	}
	e.u32(uint32(len(s.s) + 1))
	e.b = append(e.b, s.s...)
	e.b = append(e.b, 0)
}

func (e *encoder) timeval(t time.Time) {
	if t.IsZero() {
		e.i64(0)
		e.i64(0)
		return
	}
	e.i64(t.Unix())
	e.i64(int64(t.Nanosecond() / 1e3))
}

func (e *encoder) header(reqid uint32) {
	e.u32(0) // length, patched by done
	e.u32(0) // version: ctdb sends 0
	e.u32(reqid)
}

func (e *encoder) done() []byte {
	binary.LittleEndian.PutUint32(e.b, uint32(len(e.b)))
	return e.b
}

func encodeRequest(q *wireRequest) []byte {
	e := &encoder{}
	e.header(q.reqid)
	e.u32(q.cmd)
	e.stringn(q.component)
	switch q.cmd {
	case cmdRun:
		e.stringn(q.event)
		e.stringn(q.args)
		e.u32(q.timeout)
		e.u32(q.flags)
	case cmdStatus:
		e.stringn(q.event)
	case cmdScript:
		e.stringn(q.script)
		e.u32(q.action)
	}
	return e.done()
}

func encodeReply(p *wireReply) []byte {
	e := &encoder{}
	e.header(p.reqid)
	e.u32(p.cmd)
	e.u32(uint32(p.result))
	if p.result == 0 && p.cmd == cmdStatus {
		s := p.status
		if s == nil {
			s = &Status{}
		}
		e.u32(uint32(s.Summary))
		e.u32(uint32(len(s.Scripts)))
		for _, sr := range s.Scripts {
			e.stringn(str(sr.Name))
			e.timeval(sr.Begin)
			e.timeval(sr.End)
			e.u32(uint32(sr.Status))
			e.stringn(nstring{s: sr.Output, valid: sr.Output != ""})
		}
	}
	return e.done()
}

// splitArgs splits RUN's argument string as ctdb-eventd does (strtok on
// single spaces: runs of spaces separate, empty words vanish).
func splitArgs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
}
