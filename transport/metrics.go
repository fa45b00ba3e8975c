package transport

import "github.com/VictoriaMetrics/metrics"

// transportMetrics are the ctdb_transport_* metrics of one node.
type transportMetrics struct {
	packetsSent    *metrics.Counter
	packetsRecv    *metrics.Counter
	keepalivesSent *metrics.Counter
	keepalivesRecv *metrics.Counter
	refused        *metrics.Counter
	connects       *metrics.Counter
	resets         *metrics.Counter
	deadPeers      *metrics.Counter
}

func newMetrics(set *metrics.Set, connected func() float64) *transportMetrics {
	if set == nil {
		set = metrics.NewSet()
	}
	set.GetOrCreateGauge("ctdb_transport_peers_connected", connected)
	return &transportMetrics{
		packetsSent:    set.GetOrCreateCounter("ctdb_transport_packets_sent_total"),
		packetsRecv:    set.GetOrCreateCounter("ctdb_transport_packets_received_total"),
		keepalivesSent: set.GetOrCreateCounter("ctdb_transport_keepalives_sent_total"),
		keepalivesRecv: set.GetOrCreateCounter("ctdb_transport_keepalives_received_total"),
		refused:        set.GetOrCreateCounter("ctdb_transport_handshakes_refused_total"),
		connects:       set.GetOrCreateCounter("ctdb_transport_links_established_total"),
		resets:         set.GetOrCreateCounter("ctdb_transport_link_resets_total"),
		deadPeers:      set.GetOrCreateCounter("ctdb_transport_peer_timeouts_total"),
	}
}

func (m *transportMetrics) stats() Stats {
	return Stats{
		PacketsSent:    m.packetsSent.Get(),
		PacketsRecv:    m.packetsRecv.Get(),
		KeepalivesSent: m.keepalivesSent.Get(),
		KeepalivesRecv: m.keepalivesRecv.Get(),
	}
}
