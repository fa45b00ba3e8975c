package access

import (
	"fmt"
	"net"
	"syscall"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/protocol"
)

// CTDB 4.17 keeps every process but
// root (the daemon's owner) off its socket by the socket's mode alone
// (0700, owned by the daemon's euid and egid), and checks nothing per
// control. rctdb keeps that mode (listenSocket) and adds a second line: a
// connection whose SO_PEERCRED uid is not 0 may only ask questions. It
// may read the cluster's status and tunables and use its own messaging
// registrations; everything else, each control that changes state and
// each access to database contents, gets EACCES. The list below is of
// what a non-root process may do, so that a control added later needs
// root until it is judged harmless.

// unprivilegedControls are the controls any local process may send: reads
// of status, configuration and statistics, and the caller's own srvid
// registrations.
var unprivilegedControls = map[protocol.Opcode]bool{
	protocol.ControlProcessExists:        true,
	protocol.ControlStatistics:           true,
	protocol.ControlPing:                 true,
	protocol.ControlGetVNNMap:            true,
	protocol.ControlGetDebug:             true,
	protocol.ControlGetDBMap:             true,
	protocol.ControlGetNodeMapV4:         true,
	protocol.ControlGetRecMode:           true,
	protocol.ControlRegisterSrvID:        true,
	protocol.ControlDeregisterSrvID:      true,
	protocol.ControlGetDBName:            true,
	protocol.ControlGetDBPath:            true,
	protocol.ControlGetPID:               true,
	protocol.ControlGetRecMaster:         true,
	protocol.ControlGetPNN:               true,
	protocol.ControlGetMonMode:           true,
	protocol.ControlGetTunable:           true,
	protocol.ControlListTunables:         true,
	protocol.ControlGetPublicIPsV4:       true,
	protocol.ControlGetAllTunables:       true,
	protocol.ControlUptime:               true,
	protocol.ControlGetCapabilities:      true,
	protocol.ControlGetPublicIPs:         true,
	protocol.ControlGetNodeMap:           true,
	protocol.ControlGetEventScriptStatus: true,
	protocol.ControlGetReclockFile:       true,
	protocol.ControlGetBanState:          true,
	protocol.ControlGetDBPriority:        true,
	protocol.ControlGetDBSeqnum:          true,
	protocol.ControlDBGetHealth:          true,
	protocol.ControlGetPublicIPInfo:      true,
	protocol.ControlGetIfaces:            true,
	protocol.ControlGetStatHistory:       true,
	protocol.ControlCheckSrvIDs:          true,
	protocol.ControlGetDBStatistics:      true,
	protocol.ControlGetRunstate:          true,
	protocol.ControlGetNodesFile:         true,
	protocol.ControlCheckPIDSrvID:        true,
	protocol.ControlEchoData:             true,
}

// UnknownUID marks a connection whose credentials could not be read; it
// is treated as not root.
const UnknownUID = -1

// controlNeedsRoot reports whether a local client must be root to send
// control op.
func controlNeedsRoot(op protocol.Opcode) bool { return !unprivilegedControls[op] }

// controlRefusal is the reply to a control op from a process with uid, or
// refused false when the control may run.
func controlRefusal(op protocol.Opcode, uid int64) (rep control.Reply, refused bool) {
	if uid == 0 || !controlNeedsRoot(op) {
		return control.Reply{}, false
	}
	who := fmt.Sprintf("uid %d", uid)
	if uid == UnknownUID {
		who = "a process of unknown uid"
	}
	return control.Reply{
		Status: -int32(syscall.EACCES),
		ErrMsg: fmt.Sprintf("permission denied (EACCES): control %s needs root (it changes state or reads databases); refused for %s", op, who),
	}, true
}

// operationNeedsRoot reports whether a client must be root to send packets
// of operation op other than controls: record calls read and move
// database records, messages reach other processes' handlers (takeover
// runs, IP reloads), tunnels reach other nodes' services.
func operationNeedsRoot(op protocol.Operation) bool { return op != protocol.OpReqControl }

// PeerCred reads the connecting process's pid and uid (SO_PEERCRED); -1
// and UnknownUID for what cannot be read.
func PeerCred(c *net.UnixConn) (pid int32, uid int64) {
	pid, uid = -1, UnknownUID
	raw, err := c.SyscallConn()
	if err != nil {
		return pid, uid
	}
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid, uid = cred.Pid, int64(cred.Uid)
		}
	})
	return pid, uid
}

// Refusal is a packet a process may not send, and what answers it.
type Refusal struct {
	// What names the refused control or operation, Msg says why.
	What, Msg string
	// Control is a refused control that wants a reply, Reply that reply.
	Control *protocol.ReqControl
	Reply   control.Reply
	// CallReqID is set (CallReply true) for a refused record call: the
	// caller answers it with a REPLY_CALL of status EACCES.
	CallReply bool
	CallReqID uint32
}

// Check decides on one packet of a process with uid: refused false when
// it may be served. A control that does not decode is left to the
// dispatcher, which rejects it.
func Check(uid int64, op protocol.Operation, pkt []byte) (r Refusal, refused bool) {
	if uid == 0 {
		return Refusal{}, false
	}
	if op == protocol.OpReqControl {
		var rc protocol.ReqControl
		if rc.Unmarshal(pkt) != nil {
			return Refusal{}, false
		}
		rep, refused := controlRefusal(rc.Opcode, uid)
		if !refused {
			return Refusal{}, false
		}
		r = Refusal{What: rc.Opcode.String(), Msg: rep.ErrMsg}
		if !rc.NoReply() {
			r.Control, r.Reply = &rc, rep
		}
		return r, true
	}
	if !operationNeedsRoot(op) {
		return Refusal{}, false
	}
	r = Refusal{What: op.String(), Msg: fmt.Sprintf("permission denied (EACCES): operation %v needs root; refused for uid %d", op, uid)}
	if op == protocol.OpReqCall {
		var call protocol.ReqCall
		if call.Unmarshal(pkt) == nil {
			r.CallReply, r.CallReqID = true, call.ReqID
		}
	}
	return r, true
}
