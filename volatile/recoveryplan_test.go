package volatile

import (
	"fmt"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// BenchmarkPlan plans the pages of a recovery after node 2 of 3 left: the
// two survivors hold a third of the records each, as their dmaster.
func BenchmarkPlan(b *testing.B) {
	const perPage = 20000
	var nodes []NodeCopy
	for pnn := uint32(0); pnn < 2; pnn++ {
		var recs []protocol.RecData
		for i := 0; i < perPage; i++ {
			recs = append(recs, recData(fmt.Sprintf("key-%d-%07d", pnn, i), 3, pnn, "12345678"))
		}
		nodes = append(nodes, NodeCopy{PNN: pnn, Packed: packed(recs...), Counts: true, Active: true})
	}
	p := NewPlanner([]uint32{0, 1}, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.Plan(nodes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*perPage), "ns/record")
}
