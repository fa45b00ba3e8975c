package raftlayer

import (
	"encoding/json"
	"fmt"
)

// Command is a typed change of the replicated state.
type Command interface {
	commandType() cmdType
}

type cmdType byte

// Command type tags: the first byte of every log entry. Never renumber: the
// log on disk depends on them.
const (
	typeNoop             cmdType = 1
	typeInit             cmdType = 2
	typeBan              cmdType = 3
	typeExpireBan        cmdType = 4
	typeSetStopped       cmdType = 5
	typeSetDisabled      cmdType = 6
	typeSetCapabilities  cmdType = 7
	typeSetTunable       cmdType = 8
	typeSetView          cmdType = 9
	typeAttachDB         cmdType = 10
	typeDetachDB         cmdType = 11
	typeSetDBFlags       cmdType = 12
	typeData             cmdType = 13
	typeSetNodes         cmdType = 14
	typeSetNodeAddresses cmdType = 15
	typeAssignIPs        cmdType = 16
	typeSetHealth        cmdType = 17
	typeSetNodeTunable   cmdType = 18
)

// CmdNoop changes nothing. The leader appends one after a commit so that
// followers learn the commit index at once instead of at the next
// CommitTimeout tick.
type CmdNoop struct{}

// CmdInit records the cluster id and the nodes of the bootstrap nodes
// file; the first leader applies it. Keeping the nodes in the log, not in
// each node's configuration, means replaying the log yields the same state
// everywhere even after the nodes file changed.
type CmdInit struct {
	ClusterID string      `json:"cluster_id"`
	Nodes     []NodeState `json:"nodes"`
}

// CmdBan bans a node until Until (Unix nanoseconds); Seconds 0 unbans.
type CmdBan struct {
	PNN     uint32 `json:"pnn"`
	Seconds uint32 `json:"seconds"`
	Until   int64  `json:"until"`
}

// CmdExpireBan lifts a ban whose expiry is Until, and no other.
type CmdExpireBan struct {
	PNN   uint32 `json:"pnn"`
	Until int64  `json:"until"`
}

// CmdSetStopped sets or clears STOPPED.
type CmdSetStopped struct {
	PNN     uint32 `json:"pnn"`
	Stopped bool   `json:"stopped"`
}

// CmdSetDisabled sets or clears PERMANENTLY_DISABLED.
type CmdSetDisabled struct {
	PNN      uint32 `json:"pnn"`
	Disabled bool   `json:"disabled"`
}

// CmdSetCapabilities records a node's capabilities.
type CmdSetCapabilities struct {
	PNN          uint32 `json:"pnn"`
	Capabilities uint32 `json:"capabilities"`
	// Incarnation, if not 0, records the node's current run.
	Incarnation uint64 `json:"incarnation,omitempty"`
}

// CmdSetTunable sets a tunable cluster-wide: every node gets the value,
// including the nodes that had one of their own.
type CmdSetTunable struct {
	Name  string `json:"name"`
	Value uint32 `json:"value"`
}

// CmdSetNodeTunable sets a tunable on one node (SET_TUNABLE addressed to
// it); being in the state, the value outlives the node's restarts.
type CmdSetNodeTunable struct {
	PNN   uint32 `json:"pnn"`
	Name  string `json:"name"`
	Value uint32 `json:"value"`
}

// CmdSetView installs a runtime view computed from view PrevSeq.
type CmdSetView struct {
	View    RuntimeView `json:"view"`
	PrevSeq uint64      `json:"prev_seq"`
}

// CmdAttachDB attaches a database on every node; Flags carry
// PERSISTENT or REPLICATED (none: volatile).
type CmdAttachDB struct {
	Name  string `json:"name"`
	Flags uint8  `json:"flags"`
}

// CmdDetachDB detaches a database on every node.
type CmdDetachDB struct {
	ID uint32 `json:"id"`
}

// CmdSetDBFlags sets flags (READONLY, STICKY) on an attached database.
type CmdSetDBFlags struct {
	ID  uint32 `json:"id"`
	Set uint8  `json:"set"`
}

// CmdData is a change of the data kept outside State (the persistent
// databases): Config.Data applies it. Its payload is binary, not JSON,
// because it carries whole record buffers.
type CmdData struct {
	Payload []byte
}

func (*CmdData) commandType() cmdType            { return typeData }
func (*CmdSetNodes) commandType() cmdType        { return typeSetNodes }
func (*CmdAttachDB) commandType() cmdType        { return typeAttachDB }
func (*CmdDetachDB) commandType() cmdType        { return typeDetachDB }
func (*CmdSetDBFlags) commandType() cmdType      { return typeSetDBFlags }
func (*CmdNoop) commandType() cmdType            { return typeNoop }
func (*CmdInit) commandType() cmdType            { return typeInit }
func (*CmdBan) commandType() cmdType             { return typeBan }
func (*CmdExpireBan) commandType() cmdType       { return typeExpireBan }
func (*CmdSetStopped) commandType() cmdType      { return typeSetStopped }
func (*CmdSetDisabled) commandType() cmdType     { return typeSetDisabled }
func (*CmdSetCapabilities) commandType() cmdType { return typeSetCapabilities }
func (*CmdSetTunable) commandType() cmdType      { return typeSetTunable }
func (*CmdSetNodeTunable) commandType() cmdType  { return typeSetNodeTunable }
func (*CmdSetView) commandType() cmdType         { return typeSetView }

// EncodeCommand encodes c as a log entry: a type byte, then JSON.
func EncodeCommand(c Command) ([]byte, error) {
	if d, ok := c.(*CmdData); ok {
		return append([]byte{byte(typeData)}, d.Payload...), nil
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", c, err)
	}
	return append([]byte{byte(c.commandType())}, body...), nil
}

// DecodeCommand decodes a log entry.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("decode command: empty entry")
	}
	var c Command
	switch cmdType(b[0]) {
	case typeData:
		return &CmdData{Payload: b[1:]}, nil
	case typeNoop:
		c = &CmdNoop{}
	case typeInit:
		c = &CmdInit{}
	case typeBan:
		c = &CmdBan{}
	case typeExpireBan:
		c = &CmdExpireBan{}
	case typeSetStopped:
		c = &CmdSetStopped{}
	case typeSetDisabled:
		c = &CmdSetDisabled{}
	case typeSetCapabilities:
		c = &CmdSetCapabilities{}
	case typeSetTunable:
		c = &CmdSetTunable{}
	case typeSetNodeTunable:
		c = &CmdSetNodeTunable{}
	case typeSetView:
		c = &CmdSetView{}
	case typeAttachDB:
		c = &CmdAttachDB{}
	case typeDetachDB:
		c = &CmdDetachDB{}
	case typeSetDBFlags:
		c = &CmdSetDBFlags{}
	case typeSetNodes:
		c = &CmdSetNodes{}
	case typeSetNodeAddresses:
		c = &CmdSetNodeAddresses{}
	case typeAssignIPs:
		c = &CmdAssignIPs{}
	case typeSetHealth:
		c = &CmdSetHealth{}
	default:
		return nil, fmt.Errorf("decode command: unknown type %d", b[0])
	}
	if err := json.Unmarshal(b[1:], c); err != nil {
		return nil, fmt.Errorf("decode command type %d: %w", b[0], err)
	}
	return c, nil
}
