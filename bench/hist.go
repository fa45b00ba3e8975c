package bench

import (
	"math"
	"sort"
	"time"
)

// Hist is a latency histogram with logarithmic buckets, 16 per doubling
// (each about 4.4% wide), so that workers can send a whole distribution
// to the parent in a few hundred numbers and runs can be merged. The
// maximum is kept exactly.
type Hist struct {
	// Buckets maps a bucket index to its count; see bucketOf.
	Buckets map[int]uint64 `json:"buckets"`
	N       uint64         `json:"n"`
	Sum     time.Duration  `json:"sum"`
	Max     time.Duration  `json:"max"`
}

// subBuckets is the number of buckets per doubling.
const subBuckets = 16

// bucketOf is the index of the bucket holding d: floor(16 * log2(ns)).
func bucketOf(d time.Duration) int {
	if d < 1 {
		return 0
	}
	return int(math.Floor(subBuckets * math.Log2(float64(d))))
}

// bucketMid is a representative latency of bucket b: its geometric middle.
func bucketMid(b int) time.Duration {
	return time.Duration(math.Exp2((float64(b) + 0.5) / subBuckets))
}

// Add records one latency.
func (h *Hist) Add(d time.Duration) {
	if h.Buckets == nil {
		h.Buckets = make(map[int]uint64)
	}
	h.Buckets[bucketOf(d)]++
	h.N++
	h.Sum += d
	if d > h.Max {
		h.Max = d
	}
}

// Merge adds o's latencies to h.
func (h *Hist) Merge(o *Hist) {
	if o == nil {
		return
	}
	if h.Buckets == nil {
		h.Buckets = make(map[int]uint64)
	}
	for b, n := range o.Buckets {
		h.Buckets[b] += n
	}
	h.N += o.N
	h.Sum += o.Sum
	if o.Max > h.Max {
		h.Max = o.Max
	}
}

// sorted returns the non-empty buckets in order.
func (h *Hist) sorted() []int {
	bs := make([]int, 0, len(h.Buckets))
	for b := range h.Buckets {
		bs = append(bs, b)
	}
	sort.Ints(bs)
	return bs
}

// Quantile is the latency below which a fraction q of the samples lie
// (to the bucket's precision; never more than the maximum), 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h == nil || h.N == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max
	}
	rank := uint64(math.Ceil(q * float64(h.N)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for _, b := range h.sorted() {
		seen += h.Buckets[b]
		if seen >= rank {
			return min(bucketMid(b), h.Max)
		}
	}
	return h.Max
}

// Mean is the average latency.
func (h *Hist) Mean() time.Duration {
	if h == nil || h.N == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.N)
}

// Jain is Jain's fairness index of shares: (Σx)² / (n·Σx²), 1 when every
// share is equal, 1/n when one takes everything; 0 without shares.
func Jain(shares []uint64) float64 {
	var sum, sq float64
	for _, x := range shares {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(shares)) * sq)
}

// MinMaxShare is the smallest share divided by the largest: 1 when every
// client got as much as the busiest, 0 when one starved.
func MinMaxShare(shares []uint64) float64 {
	if len(shares) == 0 {
		return 0
	}
	lo, hi := shares[0], shares[0]
	for _, x := range shares {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi == 0 {
		return 0
	}
	return float64(lo) / float64(hi)
}

// median of xs (which it sorts); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
