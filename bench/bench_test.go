package bench

import (
	"encoding/binary"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.001, time.Microsecond}} {
		got := h.Quantile(c.q)
		if math.Abs(float64(got-c.want))/float64(c.want) > 0.05 {
			t.Errorf("quantile %v = %v, want %v within 5%%", c.q, got, c.want)
		}
	}
	if h.Quantile(1) != time.Millisecond || h.Max != time.Millisecond {
		t.Errorf("max: quantile %v, Max %v, want 1ms", h.Quantile(1), h.Max)
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&h)
	if m.N != 2000 || m.Quantile(0.5) != h.Quantile(0.5) || m.Mean() != h.Mean() {
		t.Errorf("merged: n %d p50 %v mean %v; single p50 %v mean %v", m.N, m.Quantile(0.5), m.Mean(), h.Quantile(0.5), h.Mean())
	}
	var empty Hist
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram must give zeros")
	}
}

func TestFairness(t *testing.T) {
	if j := Jain([]uint64{5, 5, 5, 5}); j != 1 {
		t.Errorf("equal shares: Jain %v", j)
	}
	if j := Jain([]uint64{8, 0, 0, 0}); j != 0.25 {
		t.Errorf("one takes all of 4: Jain %v, want 0.25", j)
	}
	if s := MinMaxShare([]uint64{2, 4, 8}); s != 0.25 {
		t.Errorf("min/max share %v, want 0.25", s)
	}
	if Jain(nil) != 0 || MinMaxShare(nil) != 0 {
		t.Error("no shares must give 0")
	}
}

// fakeRun is a run of ops operations in one second, each taking lat.
func fakeRun(name, target string, ops uint64, lat time.Duration) Outcome {
	o := Outcome{Workload: name, Target: target, Ops: ops, Duration: time.Second, Shares: []uint64{ops / 2, ops / 2}}
	for i := uint64(0); i < ops; i++ {
		o.Latency.Add(lat)
	}
	o.Checks = []string{"fake check"}
	return o
}

func testResults(a, b Outcome) *Results {
	w := Workload{Name: a.Workload, Unit: "ops/s", Metrics: []Metric{p50Metric, jainMetric}}
	return &Results{Runs: 1, Targets: []string{Rctdb, Ctdbd}, Workloads: []Workload{w},
		Outcomes: map[string]map[string][]Outcome{w.Name: {Rctdb: {a}, Ctdbd: {b}}}}
}

func TestRatiosFavourRctdbAboveOne(t *testing.T) {
	r := testResults(fakeRun("w", Rctdb, 200, 100*time.Microsecond), fakeRun("w", Ctdbd, 100, 200*time.Microsecond))
	rows := r.Rows()
	if len(rows) != 3 {
		t.Fatalf("%d rows, want rate, p50 and fairness", len(rows))
	}
	for _, row := range rows {
		if row.Ratio == nil || row.Reason != "" {
			t.Fatalf("row %s: no ratio (%s)", row.Metric, row.Reason)
		}
	}
	if *rows[0].Ratio != 2 || rows[0].Better != "higher" {
		t.Errorf("rate ratio %v (%s), want 2: twice the rate", *rows[0].Ratio, rows[0].Better)
	}
	if math.Abs(*rows[1].Ratio-2) > 0.1 || rows[1].Better != "lower" {
		t.Errorf("p50 ratio %v (%s), want about 2: half the latency", *rows[1].Ratio, rows[1].Better)
	}
	if *rows[2].Ratio != 1 {
		t.Errorf("fairness ratio %v, want 1", *rows[2].Ratio)
	}
}

func TestNoRatioWhenASideFails(t *testing.T) {
	good := fakeRun("w", Rctdb, 200, 100*time.Microsecond)
	errored := fakeRun("w", Ctdbd, 100, 200*time.Microsecond)
	errored.Err = "connect: refused"
	failed := fakeRun("w", Ctdbd, 100, 200*time.Microsecond)
	failed.Failed = "key k holds 3 after 4 increments"
	for _, c := range []struct {
		other Outcome
		want  string
	}{{errored, "ctdbd run 1 failed: connect: refused"}, {failed, "ctdbd run 1 failed its check: key k holds 3"}} {
		for _, row := range testResults(good, c.other).Rows() {
			if row.Ratio != nil || !strings.Contains(row.Reason, c.want) {
				t.Errorf("row %s: ratio %v, reason %q; want no ratio and a reason with %q", row.Metric, row.Ratio, row.Reason, c.want)
			}
		}
	}
	// A side that did not run at all gives no ratio either.
	r := testResults(good, good)
	delete(r.Outcomes["w"], Ctdbd)
	if row := r.Rows()[0]; row.Ratio != nil || row.Ctdbd != nil || row.Reason != "ctdbd was not run" {
		t.Errorf("one side only: %+v", row)
	}
}

func TestFloorRowsHaveNoRatio(t *testing.T) {
	floor := Workload{Name: "floor", Unit: "msgs/s", Floor: true, Metrics: ringMetrics}
	ring := Workload{Name: "message-ring", Unit: "msgs/s", Metrics: ringMetrics}
	r := &Results{Runs: 1, Targets: []string{Rctdb, Ctdbd}, Workloads: []Workload{floor, ring},
		Outcomes: map[string]map[string][]Outcome{
			"floor":        {Rctdb: {fakeRun("floor", Rctdb, 100, time.Microsecond)}, Ctdbd: {fakeRun("floor", Ctdbd, 100, time.Microsecond)}},
			"message-ring": {Rctdb: {fakeRun("message-ring", Rctdb, 50, time.Microsecond)}, Ctdbd: {fakeRun("message-ring", Ctdbd, 80, time.Microsecond)}},
		}}
	rows := r.Rows()
	for _, row := range rows[:3] {
		if !row.Floor || row.Ratio != nil || row.Rctdb == nil || row.Ctdbd == nil {
			t.Errorf("floor row %+v: want both values, no ratio", row)
		}
	}
	if n := rows[3].Note; !strings.Contains(n, "of floor: rctdb 50%, ctdbd 80%") {
		t.Errorf("message ring note %q", n)
	}
	var b strings.Builder
	r.WriteTable(&b, rows)
	if !strings.Contains(b.String(), "floor") || !strings.Contains(b.String(), "0.62") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	r := testResults(fakeRun("w", Rctdb, 200, 100*time.Microsecond), fakeRun("w", Ctdbd, 100, 200*time.Microsecond))
	svg := plotSVG(r.Workloads[0], []series{{Rctdb, r.Outcomes["w"][Rctdb]}, {Ctdbd, r.Outcomes["w"][Ctdbd]}})
	d := xml.NewDecoder(strings.NewReader(svg))
	n := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d latency curves, want 2", n)
	}
}

// frame builds a floor frame for dest.
func frame(dest uint32, payload string) []byte {
	f := binary.LittleEndian.AppendUint32(nil, uint32(frameHeader+len(payload)))
	f = binary.LittleEndian.AppendUint32(f, dest)
	return append(f, payload...)
}

func TestFrameBufSplitsAndJoins(t *testing.T) {
	stream := append(append(frame(1, "abc"), frame(2, "")...), frame(0, "hello")...)
	for cut := 1; cut < len(stream); cut++ {
		fb := &frameBuf{b: make([]byte, 64)}
		var got []string
		collect := func(dest uint32, f []byte) error {
			got = append(got, string(rune('0'+dest))+string(f[frameHeader:]))
			return nil
		}
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			fb.n += copy(fb.b[fb.n:], part)
			if err := fb.frames(collect); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Join(got, ",") != "1abc,2,0hello" || fb.n != 0 {
			t.Fatalf("cut at %d: frames %q, %d bytes left", cut, got, fb.n)
		}
	}
	fb := &frameBuf{b: make([]byte, 64)}
	fb.n = copy(fb.b, binary.LittleEndian.AppendUint32(nil, 3))
	fb.n += 4
	if err := fb.frames(func(uint32, []byte) error { return nil }); err == nil {
		t.Error("a frame shorter than its header must be refused")
	}
}

func TestTokensRoundTrip(t *testing.T) {
	dir, id, seq, sent, ok := decodeToken(encodeToken(-1, 1, 42, 7*time.Millisecond))
	if !ok || dir != -1 || id != 1 || seq != 42 || sent != 7*time.Millisecond {
		t.Errorf("decoded %d %d %d %v %v", dir, id, seq, sent, ok)
	}
	if _, _, _, _, ok := decodeToken([]byte{1}); ok {
		t.Error("a 1-byte message is no token")
	}
}
