package access

import (
	"strings"
	"syscall"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

func TestControlRefusal(t *testing.T) {
	admin := []protocol.Opcode{
		protocol.ControlSetTunable, protocol.ControlSetTunableCluster, protocol.ControlSetBanState,
		protocol.ControlDisableNode, protocol.ControlEnableNode, protocol.ControlStopNode,
		protocol.ControlContinueNode, protocol.ControlAddPublicIP, protocol.ControlDelPublicIP,
		protocol.ControlReleaseIP, protocol.ControlTakeoverIP, protocol.ControlReloadNodesFile,
		protocol.ControlReloadPublicIPs, protocol.ControlShutdown, protocol.ControlSetDebug,
		protocol.ControlDBAttach, protocol.ControlDBAttachPersistent, protocol.ControlDBAttachReplicated,
		protocol.ControlDBDetach, protocol.ControlTraverseStart, protocol.ControlTraverseAll,
		protocol.ControlTrans3Commit, protocol.ControlWipeDatabase, protocol.ControlSetRecMode,
		protocol.ControlStatisticsReset, protocol.ControlTunnelRegister, protocol.ControlIpreallocated,
		protocol.Opcode(0x7fff1234), // unknown: root until judged harmless
	}
	reads := []protocol.Opcode{
		protocol.ControlGetNodeMap, protocol.ControlGetTunable, protocol.ControlListTunables,
		protocol.ControlPing, protocol.ControlGetPNN, protocol.ControlGetVNNMap,
		protocol.ControlGetRecMode, protocol.ControlGetRecMaster, protocol.ControlGetPublicIPs,
		protocol.ControlGetRunstate, protocol.ControlRegisterSrvID, protocol.ControlDeregisterSrvID,
		protocol.ControlProcessExists, protocol.ControlGetDBMap, protocol.ControlStatistics,
	}
	for _, op := range append(admin, reads...) {
		if _, refused := controlRefusal(op, 0); refused {
			t.Errorf("%s refused for root", op)
		}
	}
	for _, op := range admin {
		for _, uid := range []int64{65534, 1000, UnknownUID} {
			rep, refused := controlRefusal(op, uid)
			if !refused {
				t.Errorf("%s allowed for uid %d", op, uid)
				continue
			}
			if rep.Status != -int32(syscall.EACCES) || !strings.Contains(rep.ErrMsg, "permission denied") ||
				!strings.Contains(rep.ErrMsg, op.String()) {
				t.Errorf("%s for uid %d: status %d, %q", op, uid, rep.Status, rep.ErrMsg)
			}
		}
	}
	for _, op := range reads {
		if _, refused := controlRefusal(op, 65534); refused {
			t.Errorf("read-only %s refused for uid 65534", op)
		}
	}
}

// TestUnprivilegedControlsAreReads: every control a non-root process may
// send is named as a question (GET, LIST, CHECK, ...) or concerns only the
// caller's own registrations; a SET or a RELOAD slipping into the list
// fails here.
func TestUnprivilegedControlsAreReads(t *testing.T) {
	for op := range unprivilegedControls {
		name := op.String()
		ok := false
		for _, p := range []string{"GET", "LIST", "CHECK", "PING", "STATISTICS", "UPTIME", "PROCESS_EXISTS",
			"REGISTER_SRVID", "DEREGISTER_SRVID", "ECHO_DATA", "DB_GET_HEALTH"} {
			ok = ok || strings.HasPrefix(name, p)
		}
		if !ok || strings.Contains(name, "RESET") {
			t.Errorf("%s (%d) is allowed without root but is not a read", name, uint32(op))
		}
	}
}

func TestOperationNeedsRoot(t *testing.T) {
	if operationNeedsRoot(protocol.OpReqControl) {
		t.Error("controls are judged one by one")
	}
	for _, op := range []protocol.Operation{protocol.OpReqCall, protocol.OpReqMessage, protocol.OpReqTunnel} {
		if !operationNeedsRoot(op) {
			t.Errorf("%v allowed without root", op)
		}
	}
}
