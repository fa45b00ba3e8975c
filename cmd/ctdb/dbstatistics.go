package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// DbstatisticsCmd is "ctdb dbstatistics DB": a database's statistics on
// the addressed node.
type DbstatisticsCmd struct{ Args }

// dbStatField is one of the counters print_dbstatistics prints, in its
// order.
type dbStatField struct {
	name string
	get  func(*protocol.DBStatistics) uint32
}

var dbStatFields = []dbStatField{
	{"db_ro_delegations", func(s *protocol.DBStatistics) uint32 { return s.DBRODelegations }},
	{"db_ro_revokes", func(s *protocol.DBStatistics) uint32 { return s.DBRORevokes }},
	{"locks.num_calls", func(s *protocol.DBStatistics) uint32 { return s.Locks.NumCalls }},
	{"locks.num_current", func(s *protocol.DBStatistics) uint32 { return s.Locks.NumCurrent }},
	{"locks.num_pending", func(s *protocol.DBStatistics) uint32 { return s.Locks.NumPending }},
	{"locks.num_failed", func(s *protocol.DBStatistics) uint32 { return s.Locks.NumFailed }},
}

// formatDBStatistics renders print_dbstatistics.
func formatDBStatistics(name string, s *protocol.DBStatistics) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DB Statistics %s\n", name)
	prefix := ""
	for _, f := range dbStatFields {
		if i := strings.IndexByte(f.name, '.'); i >= 0 {
			if p := f.name[:i+1]; p != prefix {
				prefix = p
				fmt.Fprintf(&b, " %s\n", f.name[:i])
			}
			fmt.Fprintf(&b, "     %-22s%10d\n", f.name[i+1:], f.get(s))
		} else {
			fmt.Fprintf(&b, " %-22s    %10d\n", f.name, f.get(s))
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
	for _, l := range []struct {
		label string
		c     protocol.LatencyCounter
	}{{"locks_latency      MIN/AVG/MAX", s.Locks.Latency}, {"vacuum_latency     MIN/AVG/MAX", s.VacuumLatency}} {
		fmt.Fprintf(&b, " %-30s     %.6f/%.6f/%.6f sec out of %d\n", l.label, l.c.Min, latencyAvg(l.c), l.c.Max, l.c.Num)
	}
	fmt.Fprintf(&b, " Num Hot Keys:     %d\n", len(s.HotKeys))
	for _, hk := range s.HotKeys {
		fmt.Fprintf(&b, "     Count:%d Key:%x\n", int32(hk.Count), hk.Key)
	}
	return b.String()
}

type jsonHotKey struct {
	Count  uint32 `json:"count"`
	KeyHex string `json:"key_hex"`
}

type jsonDBStatistics struct {
	PNN uint32 `json:"pnn"`
	jsonDB
	Counters        map[string]uint32      `json:"counters"`
	HopCountBuckets []uint32               `json:"hop_count_buckets"`
	LockBuckets     []uint32               `json:"lock_buckets"`
	Latency         map[string]jsonLatency `json:"latency"`
	HotKeys         []jsonHotKey           `json:"hot_keys"`
}

func dbStatisticsJSON(pnn uint32, ref dbRef, s *protocol.DBStatistics) jsonDBStatistics {
	j := jsonDBStatistics{
		PNN: pnn, jsonDB: dbJSON(ref.id, ref.name, ref.flags),
		Counters:        map[string]uint32{},
		HopCountBuckets: append([]uint32{}, s.HopCountBucket[:]...),
		LockBuckets:     append([]uint32{}, s.Locks.Buckets[:]...),
		Latency: map[string]jsonLatency{
			"locks":  {s.Locks.Latency.Num, s.Locks.Latency.Min, latencyAvg(s.Locks.Latency), s.Locks.Latency.Max},
			"vacuum": {s.VacuumLatency.Num, s.VacuumLatency.Min, latencyAvg(s.VacuumLatency), s.VacuumLatency.Max},
		},
		HotKeys: []jsonHotKey{},
	}
	for _, f := range dbStatFields {
		j.Counters[f.name] = f.get(s)
	}
	for _, hk := range s.HotKeys {
		j.HotKeys = append(j.HotKeys, jsonHotKey{hk.Count, hex.EncodeToString(hk.Key)})
	}
	return j
}

// Run follows control_dbstatistics: GET_DB_STATISTICS to the addressed
// node.
func (c *DbstatisticsCmd) Run(t *tool) error {
	if len(c.Args.Args) != 1 {
		return t.usage()
	}
	ref, err := t.dbExists(c.Args.Args[0])
	if err != nil {
		return err
	}
	data, err := t.control(protocol.ControlGetDBStatistics, t.cmdPNN, protocol.U32(ref.id))
	var s protocol.DBStatistics
	if err == nil {
		err = s.Unmarshal(data)
	}
	if err != nil {
		err = t.ctrlErr(protocol.ControlGetDBStatistics, t.cmdPNN, err)
		if !fatal(err) {
			t.eprintf("Failed to get statistics for DB %s\n", ref.name)
		}
		return err
	}
	if t.opts.json {
		return t.printJSON(dbStatisticsJSON(t.cmdPNN, ref, &s))
	}
	t.print(formatDBStatistics(ref.name, &s))
	return nil
}
