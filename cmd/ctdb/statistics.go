package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// StatisticsCmd is "ctdb statistics": the addressed daemon's statistics.
type StatisticsCmd struct{ Args }

// ctdbProtocol is CTDB_PROTOCOL, printed as the "CTDB version".
const ctdbProtocol = 1

// statField is one of the counters the real tool prints, in its order.
type statField struct {
	name string
	get  func(*protocol.Statistics) uint32
}

var statFields = []statField{
	{"num_clients", func(s *protocol.Statistics) uint32 { return s.NumClients }},
	{"frozen", func(s *protocol.Statistics) uint32 { return s.Frozen }},
	{"recovering", func(s *protocol.Statistics) uint32 { return s.Recovering }},
	{"num_recoveries", func(s *protocol.Statistics) uint32 { return s.NumRecoveries }},
	{"client_packets_sent", func(s *protocol.Statistics) uint32 { return s.ClientPacketsSent }},
	{"client_packets_recv", func(s *protocol.Statistics) uint32 { return s.ClientPacketsRecv }},
	{"node_packets_sent", func(s *protocol.Statistics) uint32 { return s.NodePacketsSent }},
	{"node_packets_recv", func(s *protocol.Statistics) uint32 { return s.NodePacketsRecv }},
	{"keepalive_packets_sent", func(s *protocol.Statistics) uint32 { return s.KeepalivePacketsSent }},
	{"keepalive_packets_recv", func(s *protocol.Statistics) uint32 { return s.KeepalivePacketsRecv }},
	{"node.req_call", func(s *protocol.Statistics) uint32 { return s.Node.ReqCall }},
	{"node.reply_call", func(s *protocol.Statistics) uint32 { return s.Node.ReplyCall }},
	{"node.req_dmaster", func(s *protocol.Statistics) uint32 { return s.Node.ReqDMaster }},
	{"node.reply_dmaster", func(s *protocol.Statistics) uint32 { return s.Node.ReplyDMaster }},
	{"node.reply_error", func(s *protocol.Statistics) uint32 { return s.Node.ReplyError }},
	{"node.req_message", func(s *protocol.Statistics) uint32 { return s.Node.ReqMessage }},
	{"node.req_control", func(s *protocol.Statistics) uint32 { return s.Node.ReqControl }},
	{"node.reply_control", func(s *protocol.Statistics) uint32 { return s.Node.ReplyControl }},
	{"node.req_tunnel", func(s *protocol.Statistics) uint32 { return s.Node.ReqTunnel }},
	{"client.req_call", func(s *protocol.Statistics) uint32 { return s.Client.ReqCall }},
	{"client.req_message", func(s *protocol.Statistics) uint32 { return s.Client.ReqMessage }},
	{"client.req_control", func(s *protocol.Statistics) uint32 { return s.Client.ReqControl }},
	{"client.req_tunnel", func(s *protocol.Statistics) uint32 { return s.Client.ReqTunnel }},
	{"timeouts.call", func(s *protocol.Statistics) uint32 { return s.TimeoutsCall }},
	{"timeouts.control", func(s *protocol.Statistics) uint32 { return s.TimeoutsControl }},
	{"timeouts.traverse", func(s *protocol.Statistics) uint32 { return s.TimeoutsTraverse }},
	{"locks.num_calls", func(s *protocol.Statistics) uint32 { return s.Locks.NumCalls }},
	{"locks.num_current", func(s *protocol.Statistics) uint32 { return s.Locks.NumCurrent }},
	{"locks.num_pending", func(s *protocol.Statistics) uint32 { return s.Locks.NumPending }},
	{"locks.num_failed", func(s *protocol.Statistics) uint32 { return s.Locks.NumFailed }},
	{"total_calls", func(s *protocol.Statistics) uint32 { return s.TotalCalls }},
	{"pending_calls", func(s *protocol.Statistics) uint32 { return s.PendingCalls }},
	{"childwrite_calls", func(s *protocol.Statistics) uint32 { return s.ChildwriteCalls }},
	{"pending_childwrite_calls", func(s *protocol.Statistics) uint32 { return s.PendingChildwriteCalls }},
	{"memory_used", func(s *protocol.Statistics) uint32 { return s.MemoryUsed }},
	{"max_hop_count", func(s *protocol.Statistics) uint32 { return s.MaxHopCount }},
	{"total_ro_delegations", func(s *protocol.Statistics) uint32 { return s.TotalRODelegations }},
	{"total_ro_revokes", func(s *protocol.Statistics) uint32 { return s.TotalRORevokes }},
}

// latencyAvg is LATENCY_AVG.
func latencyAvg(l protocol.LatencyCounter) float64 {
	if l.Num == 0 {
		return 0.0
	}
	return l.Total / float64(l.Num)
}

// statLatency is one of the latency counters, as named by the -X header
// and the JSON document, and as labelled in the plain output.
type statLatency struct {
	name  string
	label string
	get   func(*protocol.Statistics) protocol.LatencyCounter
}

// latencies in the -X order (the plain output orders them differently).
var latencies = []statLatency{
	{"reclock_ctdbd", "reclock_ctdbd      MIN/AVG/MAX", func(s *protocol.Statistics) protocol.LatencyCounter { return s.ReclockCtdbd }},
	{"reclock_recd", "reclock_recd       MIN/AVG/MAX", func(s *protocol.Statistics) protocol.LatencyCounter { return s.ReclockRecd }},
	{"call", "call_latency       MIN/AVG/MAX", func(s *protocol.Statistics) protocol.LatencyCounter { return s.CallLatency }},
	{"lockwait", "locks_latency      MIN/AVG/MAX", func(s *protocol.Statistics) protocol.LatencyCounter { return s.Locks.Latency }},
	{"childwrite", "childwrite_latency MIN/AVG/MAX", func(s *protocol.Statistics) protocol.LatencyCounter { return s.ChildwriteLatency }},
}

// plainLatencyOrder is the order of print_statistics: locks first.
var plainLatencyOrder = []int{3, 0, 1, 2, 4}

// formatStatistics renders print_statistics, times in zone loc.
func formatStatistics(s *protocol.Statistics, loc *time.Location) string {
	var b strings.Builder
	cur, start := s.StatisticsCurrentTime.Sec, s.StatisticsStartTime.Sec
	fmt.Fprintf(&b, "CTDB version %d\n", ctdbProtocol)
	fmt.Fprintf(&b, "Current time of statistics  :                %s", ctime(cur, loc))
	fmt.Fprintf(&b, "Statistics collected since  : %s %s", dhms(int32(cur-start)), ctime(start, loc))
	prefix := ""
	for _, f := range statFields {
		name := f.name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			if p := name[:i+1]; p != prefix {
				prefix = p
				fmt.Fprintf(&b, " %s\n", name[:i])
			}
			fmt.Fprintf(&b, "     %-22s%10d\n", name[i+1:], f.get(s))
		} else {
			fmt.Fprintf(&b, " %-22s    %10d\n", name, f.get(s))
		}
	}
	b.WriteString(" hop_count_buckets:")
	for _, v := range s.HopCountBucket {
		fmt.Fprintf(&b, " %d", int32(v))
	}
	b.WriteString("\n lock_buckets:")
	for _, v := range s.Locks.Buckets {
		fmt.Fprintf(&b, " %d", int32(v))
	}
	b.WriteString("\n")
	for _, i := range plainLatencyOrder {
		l := latencies[i].get(s)
		fmt.Fprintf(&b, " %-30s     %.6f/%.6f/%.6f sec out of %d\n",
			latencies[i].label, l.Min, latencyAvg(l), l.Max, l.Num)
	}
	return b.String()
}

// formatStatisticsMachine renders print_statistics_machine: the header line
// (when header is set) and one line of values, separated by sep.
func formatStatisticsMachine(s *protocol.Statistics, sep string, header bool) string {
	var b strings.Builder
	if header {
		b.WriteString("CTDB version" + sep + "Current time of statistics" + sep +
			"Statistics collected since" + sep)
		for _, f := range statFields {
			b.WriteString(f.name + sep)
		}
		for _, l := range latencies {
			for _, what := range []string{"num", "min", "avg", "max"} {
				b.WriteString(what + "_" + l.name + "_latency" + sep)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d%s", ctdbProtocol, sep)
	fmt.Fprintf(&b, "%d%s", uint32(s.StatisticsCurrentTime.Sec), sep)
	fmt.Fprintf(&b, "%d%s", uint32(s.StatisticsStartTime.Sec), sep)
	for _, f := range statFields {
		fmt.Fprintf(&b, "%d%s", f.get(s), sep)
	}
	for _, l := range latencies {
		c := l.get(s)
		num := fmt.Sprint(uint32(c.Num)) // "%u" for the reclock and lock counts
		if l.name == "call" || l.name == "childwrite" {
			num = fmt.Sprint(c.Num) // "%d" for these two
		}
		fmt.Fprintf(&b, "%s%s%.6f%s%.6f%s%.6f%s", num, sep, c.Min, sep, latencyAvg(c), sep, c.Max, sep)
	}
	b.WriteString("\n")
	return b.String()
}

type jsonLatency struct {
	Num int32   `json:"num"`
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	Max float64 `json:"max"`
}

type jsonStatistics struct {
	ProtocolVersion int                    `json:"protocol_version"`
	CurrentTime     *string                `json:"current_time"`
	StartTime       *string                `json:"start_time"`
	Counters        map[string]uint32      `json:"counters"`
	HopCountBuckets []uint32               `json:"hop_count_buckets"`
	LockBuckets     []uint32               `json:"lock_buckets"`
	Latency         map[string]jsonLatency `json:"latency"`
}

func statisticsJSON(s *protocol.Statistics) jsonStatistics {
	j := jsonStatistics{
		ProtocolVersion: ctdbProtocol,
		CurrentTime:     jsonTime(s.StatisticsCurrentTime),
		StartTime:       jsonTime(s.StatisticsStartTime),
		Counters:        map[string]uint32{},
		HopCountBuckets: append([]uint32{}, s.HopCountBucket[:]...),
		LockBuckets:     append([]uint32{}, s.Locks.Buckets[:]...),
		Latency:         map[string]jsonLatency{},
	}
	for _, f := range statFields {
		j.Counters[f.name] = f.get(s)
	}
	for _, l := range latencies {
		c := l.get(s)
		name := l.name
		if name == "lockwait" {
			name = "locks"
		}
		j.Latency[name] = jsonLatency{c.Num, c.Min, latencyAvg(c), c.Max}
	}
	return j
}

// Run sends STATISTICS to the addressed node.
func (c *StatisticsCmd) Run(t *tool) error {
	if len(c.Args.Args) != 0 {
		return t.usage()
	}
	ctx, cancel := t.tctx()
	s, err := t.c.Statistics(ctx, t.cmdPNN)
	cancel()
	if err != nil {
		return t.ctrlErr(protocol.ControlStatistics, t.cmdPNN, err)
	}
	switch {
	case t.opts.json:
		return t.printJSON(statisticsJSON(s))
	case t.opts.machine:
		t.print(formatStatisticsMachine(s, t.opts.sep, true))
	default:
		t.print(formatStatistics(s, t.loc))
	}
	return nil
}
