package server

import "github.com/VictoriaMetrics/metrics"

// serverMetrics are the ctdb_socket_* and ctdb_flags_* metrics of a node.
type serverMetrics struct {
	accepted       *metrics.Counter
	closedBad      *metrics.Counter
	controls       *metrics.Counter
	controlErrors  *metrics.Counter
	messagesLocal  *metrics.Counter
	messagesRemote *metrics.Counter
	forwarded      *metrics.Counter
	controlLatency *metrics.Histogram
}

func newServerMetrics(set *metrics.Set, n *Node) *serverMetrics {
	set.GetOrCreateGauge("ctdb_socket_clients", func() float64 { return float64(n.reg.numClients()) })
	set.GetOrCreateGauge("ctdb_socket_srvids", func() float64 { return float64(n.reg.numSrvIDs()) })
	for _, f := range []struct {
		name string
		bit  uint32
	}{
		{"disconnected", 0x01}, {"unhealthy", 0x02}, {"disabled", 0x04},
		{"banned", 0x08}, {"deleted", 0x10}, {"stopped", 0x20},
	} {
		set.GetOrCreateGauge(`ctdb_flags_nodes{flag="`+f.name+`"}`, func() float64 {
			nm := n.nodeMap()
			c := 0
			for _, node := range nm.Nodes {
				if node.Flags&f.bit != 0 {
					c++
				}
			}
			return float64(c)
		})
	}
	set.GetOrCreateGauge("ctdb_flags_this_node", func() float64 {
		nm := n.nodeMap()
		if node, ok := nm.Node(n.self); ok {
			return float64(node.Flags)
		}
		return 0
	})
	return &serverMetrics{
		accepted:       set.GetOrCreateCounter("ctdb_socket_connections_total"),
		closedBad:      set.GetOrCreateCounter("ctdb_socket_bad_packets_total"),
		controls:       set.GetOrCreateCounter("ctdb_socket_controls_total"),
		controlErrors:  set.GetOrCreateCounter("ctdb_socket_control_errors_total"),
		messagesLocal:  set.GetOrCreateCounter("ctdb_socket_messages_delivered_total"),
		messagesRemote: set.GetOrCreateCounter("ctdb_socket_messages_sent_to_nodes_total"),
		forwarded:      set.GetOrCreateCounter("ctdb_socket_controls_forwarded_total"),
		controlLatency: set.GetOrCreateHistogram("ctdb_socket_control_duration_seconds"),
	}
}
