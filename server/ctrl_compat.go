package server

import (
	"context"

	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/internal/memreport"
	"github.com/rctdb/rctdb/protocol"
)

// Controls and messages of 4.17's tool surface that only report on the
// daemon itself.

// memoryReportRoot names the report's root where talloc names its null
// context: it says what the numbers are.
const memoryReportRoot = "rctdb ctdbd (Go runtime)"

// srvidMessageSize is the size of struct ctdb_srvid_message, the only
// size 4.17 accepts for a MEM_DUMP request.
const srvidMessageSize = 16

// compatControls are the handlers of this file, merged into the table.
func (n *Node) compatControls() control.Table {
	return control.Table{
		protocol.ControlDumpMemory: {Size: 0, Serve: n.ctrlDumpMemory},
	}
}

// ctrlDumpMemory answers with the memory report, without the terminating
// NUL, as ctdbd does.
func (n *Node) ctrlDumpMemory(ctx context.Context, r *control.Request) control.Reply {
	return control.OK([]byte(memreport.Current(memoryReportRoot)))
}

// handleMemDump answers a CTDB_SRVID_MEM_DUMP message, which 4.17's
// recovery daemon serves: the report goes to the srvid and node the
// message names. rctdb's leader duties run in the daemon's own process, so
// this is the daemon's report.
func (n *Node) handleMemDump(from uint32, data []byte) {
	var rd protocol.SrvIDMessage
	if len(data) != srvidMessageSize {
		n.log.Error("memory dump request with a wrong size of return address", "from", from, "size", len(data))
		return
	}
	if err := rd.Unmarshal(data); err != nil {
		n.log.Error("malformed memory dump request", "from", from, "err", err)
		return
	}
	n.log.Info("recovery daemon memory dump", "to_pnn", rd.PNN, "srvid", rd.SrvID)
	n.SendMessage(rd.PNN, rd.SrvID, []byte(memreport.Current(memoryReportRoot)))
}
