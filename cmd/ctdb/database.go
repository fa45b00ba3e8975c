package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/tdb"
)

// What the database commands share: finding a database by name or id as
// the real tool's db_exists does, the key and value syntax, the database
// controls, and ctdb_attach.

// Errno values the database commands return.
const (
	errnoEIO      = int(syscall.EIO)
	errnoENOMEM   = int(syscall.ENOMEM)
	errnoEINVAL   = int(syscall.EINVAL)
	errnoEMSGSIZE = int(syscall.EMSGSIZE)
)

// Recovery modes.
const recoveryActive = 1

// dbRef is a database as db_exists finds it.
type dbRef struct {
	id    uint32
	name  string
	flags uint8
}

func (d dbRef) volatile() bool {
	return d.flags&(protocol.DBFlagPersistent|protocol.DBFlagReplicated) == 0
}

// control sends op to dest with the -t timeout and returns the reply's
// data; a non-zero status is a *client.ControlError.
func (t *tool) control(op protocol.Opcode, dest uint32, data []byte) ([]byte, error) {
	ctx, cancel := t.tctx()
	defer cancel()
	r, err := t.c.Control(ctx, dest, op, 0, 0, data)
	if err != nil {
		return nil, err
	}
	if r.Status != 0 {
		return nil, &client.ControlError{Opcode: op, Dest: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return r.Data, nil
}

// ctrlString decodes a string reply as the protocol library does: no
// data is C's NULL, which printf shows as "(null)".
func ctrlString(data []byte) string {
	if len(data) == 0 {
		return "(null)"
	}
	return protocol.ParseCString(data)
}

// getDBMap is ctdb_ctrl_get_dbmap.
func (t *tool) getDBMap(dest uint32) (*protocol.DBMap, error) {
	ctx, cancel := t.tctx()
	m, err := t.c.GetDBMap(ctx, dest)
	cancel()
	if err != nil {
		return nil, t.ctrlErr(protocol.ControlGetDBMap, dest, err)
	}
	return m, nil
}

// getDBName is ctdb_ctrl_get_dbname.
func (t *tool) getDBName(dest, id uint32) (string, error) {
	data, err := t.control(protocol.ControlGetDBName, dest, protocol.U32(id))
	if err != nil {
		return "", t.ctrlErr(protocol.ControlGetDBName, dest, err)
	}
	return ctrlString(data), nil
}

// getDBPath is ctdb_ctrl_getdbpath.
func (t *tool) getDBPath(dest, id uint32) (string, error) {
	data, err := t.control(protocol.ControlGetDBPath, dest, protocol.U32(id))
	if err != nil {
		return "", t.ctrlErr(protocol.ControlGetDBPath, dest, err)
	}
	return ctrlString(data), nil
}

// getDBHealth is ctdb_ctrl_db_get_health: the reason the database is
// unhealthy, nil when it is healthy (no reply data).
func (t *tool) getDBHealth(dest, id uint32) (*string, error) {
	data, err := t.control(protocol.ControlDBGetHealth, dest, protocol.U32(id))
	if err != nil {
		return nil, t.ctrlErr(protocol.ControlDBGetHealth, dest, err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	reason := protocol.ParseCString(data)
	return &reason, nil
}

// dbExists is the real tool's db_exists: arg is a database name, or its id
// when it starts with "0x"; the database map and names come from our own
// node. It fails with exit status 1 (after the messages) when there is no
// such database.
func (t *tool) dbExists(arg string) (dbRef, error) {
	notFound := func() (dbRef, error) {
		t.eprintf("No database matching '%s' found\n", arg)
		return dbRef{}, exitCode(1)
	}
	m, err := t.getDBMap(t.pnn)
	if err != nil {
		return dbRef{}, failure(err)
	}
	if strings.HasPrefix(arg, "0x") {
		v, errno := smbStrtoul(arg)
		if errno != 0 {
			return dbRef{}, exitCode(1)
		}
		id := uint32(v)
		for _, db := range m.DBs {
			if db.DBID == id {
				name, err := t.getDBName(t.pnn, id)
				if err != nil {
					return dbRef{}, failure(err)
				}
				return dbRef{id: id, name: name, flags: db.Flags}, nil
			}
		}
		return notFound()
	}
	// db_find: a failed GET_DBNAME ends the search as "not found".
	for _, db := range m.DBs {
		name, err := t.getDBName(t.pnn, db.DBID)
		if err != nil {
			if fatal(err) {
				return dbRef{}, err
			}
			return notFound()
		}
		if name == arg {
			return dbRef{id: db.DBID, name: name, flags: db.Flags}, nil
		}
	}
	return notFound()
}

// failure turns the error of a step after which the real tool returns
// false (exit status 1) into that status, keeping the errors that end the
// tool.
func failure(err error) error {
	if fatal(err) {
		return err
	}
	return exitCode(1)
}

// parseData is the real tool's str_to_data: an argument starting with "0x"
// is hexadecimal (either case, an even number of digits), anything else is
// taken literally (no NUL added). On error msg is what it prints.
func parseData(s string) (data []byte, msg string, ok bool) { return parseDataN(s, len(s)) }

// parseDataN is str_to_data of the first n bytes of s. Its messages show
// s from the offending digits to its end, as the C string they print runs
// on past the n bytes (ptrans converts parts of a line).
func parseDataN(s string, n int) (data []byte, msg string, ok bool) {
	if !strings.HasPrefix(s[:n], "0x") {
		return []byte(s[:n]), "", true
	}
	hex, tail := s[2:n], s[2:]
	if len(hex)%2 != 0 {
		return nil, fmt.Sprintf("Key (%s) contains odd number of hex digits\n", tail), false
	}
	data = make([]byte, len(hex)/2)
	for i := range data {
		hi, ok1 := hexVal(hex[2*i])
		lo, ok2 := hexVal(hex[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Sprintf("Invalid hex: %s\n", tail[2*i:]), false
		}
		data[i] = hi<<4 | lo
	}
	return data, "", true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseArg parses a key or value argument, printing the real tool's
// messages ("Failed to parse key ARG") on error; what is "key" or "value".
func (t *tool) parseArg(arg, what string) ([]byte, error) {
	data, msg, ok := parseData(arg)
	if !ok {
		t.eprintf("%s", msg)
		t.eprintf("Failed to parse %s %s\n", what, arg)
		return nil, exitCode(errnoEINVAL)
	}
	return data, nil
}

// parseKeyValue parses a key and a value argument, as writekey, pstore
// and tstore do, one after the other.
func (t *tool) parseKeyValue(keyArg, valueArg string) (key, value []byte, err error) {
	if key, err = t.parseArg(keyArg, "key"); err != nil {
		return nil, nil, err
	}
	if value, err = t.parseArg(valueArg, "value"); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

// attachOps names the attach controls as the client library's messages
// do.
var attachOps = []protocol.Opcode{
	protocol.ControlDBAttach, protocol.ControlDBAttachPersistent, protocol.ControlDBAttachReplicated,
	protocol.ControlGetDBPath, protocol.ControlDBGetHealth, protocol.ControlDBOpenFlags,
}

// attachFailure is the client library's message and return value for a
// failed ctdb_attach of name, from the error client.Attach returned.
func attachFailure(name string, err error) (msg string, code int) {
	var ce *client.ControlError
	var te *tdb.Error
	var errno syscall.Errno
	switch {
	case errors.As(err, &ce):
		switch ce.Opcode {
		case protocol.ControlDBAttach, protocol.ControlDBAttachPersistent, protocol.ControlDBAttachReplicated:
			return fmt.Sprintf("attach: %s failed to get db_id, ret=%d\n", name, ce.Status), int(ce.Status)
		default:
			return fmt.Sprintf("attach: %s %s parse failed, ret=%d\n", name, ce.Opcode, ce.Status), int(ce.Status)
		}
	case errors.Is(err, context.DeadlineExceeded):
		// client.Attach names the control in its error text only.
		op := protocol.ControlDBAttach
		for _, o := range attachOps {
			if strings.Contains(err.Error(), "control "+o.String()+" to node") {
				op = o
				break
			}
		}
		return fmt.Sprintf("attach: %s %s failed, ret=%d\n", name, op, errnoETIMEDOUT), errnoETIMEDOUT
	case errors.As(err, &te), errors.As(err, &errno):
		// The TDB file could not be opened.
		return fmt.Sprintf("attach: %s tdb_wrap_open failed\n", name), errnoENOMEM
	}
	// client.Attach reports an unhealthy database in its error text.
	if _, reason, ok := strings.Cut(err.Error(), "database unhealthy: "); ok {
		return fmt.Sprintf("attach: %s database unhealthy (%s)\n", name, reason), errnoEIO
	}
	// A reply that could not be decoded.
	return fmt.Sprintf("attach: %s DB_ATTACH failed, ret=%d\n", name, errnoEPROTO), errnoEPROTO
}

// attach is the client library's ctdb_attach(name, flags) on our own node:
// DB_ATTACH (or _PERSISTENT, _REPLICATED), GETDBPATH, DB_GET_HEALTH, then
// for a READONLY or STICKY database SET_DB_READONLY and SET_DB_STICKY on
// every connected node, DB_OPEN_FLAGS, and the local TDB opened. The
// library sets the flags before DB_OPEN_FLAGS; client.Attach does not set
// them, so we do it after it. Failures are reported with the library's
// messages; the value is its return value.
func (t *tool) attach(name string, flags uint8) (*client.DB, error) {
	ctx, cancel := t.tctx()
	db, err := t.c.Attach(ctx, name, flags)
	cancel()
	if err != nil {
		if t.ctx.Err() != nil {
			return nil, errMaxRuntime
		}
		if errors.Is(err, client.ErrClosed) {
			return nil, errDisconnected
		}
		msg, code := attachFailure(name, err)
		t.eprintf("%s", msg)
		return nil, exitCode(code)
	}
	if err := t.setDBFlags(db.ID, flags); err != nil {
		db.Close()
		if !fatal(err) {
			t.eprintf("attach: %s set db flags 0x%08x failed\n", name, flags)
		}
		return nil, err
	}
	return db, nil
}

// setDBFlags is the client library's ctdb_set_db_flags: for a READONLY or
// STICKY database, GET_NODEMAP from our node, then SET_DB_READONLY and
// SET_DB_STICKY to every connected node.
func (t *tool) setDBFlags(id uint32, flags uint8) error {
	if flags&(protocol.DBFlagReadonly|protocol.DBFlagSticky) == 0 {
		return nil
	}
	ctx, cancel := t.tctx()
	nm, err := t.c.GetNodeMap(ctx, t.pnn)
	cancel()
	if err != nil {
		code, ferr := t.errCode(err)
		if ferr != nil {
			return ferr
		}
		what := "GET_NODEMAP failed"
		if isStatus(err) {
			what = "GET_NODEMAP parse failed"
		}
		t.eprintf("set_db_flags: 0x%08x %s, ret=%d\n", id, what, code)
		return exitCode(code)
	}
	pnns := listOfNodes(nm, protocol.NodeFlagDisconnected, protocol.UnknownPNN)
	if len(pnns) == 0 {
		t.eprintf("set_db_flags: 0x%08x no connected nodes, count=%d\n", id, len(pnns))
		return exitCode(errnoENOMEM)
	}
	// The library sends both at once and fails with the first to fail.
	type result struct {
		op   protocol.Opcode
		code int
		err  error
	}
	results := make(chan result, 2)
	n := 0
	for _, f := range []struct {
		flag uint8
		op   protocol.Opcode
	}{{protocol.DBFlagReadonly, protocol.ControlSetDBReadonly}, {protocol.DBFlagSticky, protocol.ControlSetDBSticky}} {
		if flags&f.flag == 0 {
			continue
		}
		n++
		go func(op protocol.Opcode) {
			code, err := t.controlMulti(pnns, op, protocol.U32(id))
			results <- result{op, code, err}
		}(f.op)
	}
	var first error
	for i := 0; i < n; i++ {
		r := <-results
		if first != nil {
			continue
		}
		switch {
		case r.err != nil:
			first = r.err
		case r.code != 0:
			t.eprintf("set_db_flags: 0x%08x %s failed, ret=%d\n", id, r.op, r.code)
			first = exitCode(r.code)
		}
	}
	return first
}

// listOfNodes is the client library's list_of_nodes: the pnns of the nodes
// with none of the flags in mask, but exclude.
func listOfNodes(nm *protocol.NodeMap, mask uint32, exclude uint32) []uint32 {
	var pnns []uint32
	for _, n := range nm.Nodes {
		if n.Flags&mask != 0 || n.PNN == exclude {
			continue
		}
		pnns = append(pnns, n.PNN)
	}
	return pnns
}

// controlMulti is ctdb_client_control_multi: op sent to every node of pnns
// at once, each with the -t timeout. It prints nothing and returns the
// first failure to arrive (a status or errno, 0 when all succeeded); err is
// set only when the tool must end (closed connection, -T limit).
func (t *tool) controlMulti(pnns []uint32, op protocol.Opcode, data []byte) (int, error) {
	_, code, err := t.controlMultiReplies(pnns, op, data)
	return code, err
}

// controlMultiReplies is controlMulti that also returns the reply data of
// each node, in the order of pnns (meaningful when code is 0).
func (t *tool) controlMultiReplies(pnns []uint32, op protocol.Opcode, data []byte) (replies [][]byte, code int, err error) {
	type result struct {
		i    int
		data []byte
		err  error
	}
	results := make(chan result, len(pnns))
	for i, pnn := range pnns {
		go func(i int, pnn uint32) {
			d, err := t.control(op, pnn, data)
			results <- result{i, d, err}
		}(i, pnn)
	}
	replies = make([][]byte, len(pnns))
	for range pnns {
		r := <-results
		replies[r.i] = r.data
		if r.err == nil || code != 0 {
			continue
		}
		c, ferr := t.errCode(r.err)
		if ferr != nil {
			return nil, 0, ferr
		}
		code = c
	}
	return replies, code, nil
}

// jsonDB is a database in the JSON documents.
type jsonDB struct {
	DBID       uint32 `json:"db_id"`
	Name       string `json:"name"`
	Persistent bool   `json:"persistent"`
	Replicated bool   `json:"replicated"`
	Sticky     bool   `json:"sticky"`
	Readonly   bool   `json:"readonly"`
	FlagsValue uint8  `json:"flags_value"`
}

// jsonDBCommand starts the documents of the commands that act on a
// database: the command, the node and the database.
type jsonDBCommand struct {
	Command string `json:"command"`
	PNN     uint32 `json:"pnn"`
	jsonDB
}

// dbCommandJSON is the head of such a document for the command on pnn.
func (t *tool) dbCommandJSON(pnn, id uint32, name string, flags uint8) jsonDBCommand {
	return jsonDBCommand{t.name, pnn, dbJSON(id, name, flags)}
}

func dbJSON(id uint32, name string, flags uint8) jsonDB {
	return jsonDB{
		DBID: id, Name: name,
		Persistent: flags&protocol.DBFlagPersistent != 0,
		Replicated: flags&protocol.DBFlagReplicated != 0,
		Sticky:     flags&protocol.DBFlagSticky != 0,
		Readonly:   flags&protocol.DBFlagReadonly != 0,
		FlagsValue: flags,
	}
}

// jsonDBStatus is a database with its path and health (getdbmap,
// getdbstatus).
type jsonDBStatus struct {
	jsonDB
	Path    string  `json:"path"`
	Healthy bool    `json:"healthy"`
	Health  *string `json:"health"` // the reason it is unhealthy
}

func dbStatusJSON(id uint32, name string, flags uint8, path string, health *string) jsonDBStatus {
	return jsonDBStatus{jsonDB: dbJSON(id, name, flags), Path: path, Healthy: health == nil, Health: health}
}
