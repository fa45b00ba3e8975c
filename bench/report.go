package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// The comparison's rows: one per workload and metric, rctdb beside
// ctdbd, and their ratio oriented so that > 1 always means rctdb did
// better (for metrics where lower is better, ratio = ctdbd / rctdb).

// The two columns of the comparison, by target name.
const (
	Rctdb = "rctdb"
	Ctdbd = "ctdbd"
)

// Metric is a row of a workload after its rate row.
type Metric struct {
	Name string
	Unit string
	// Lower marks metrics where a lower value is better (latencies).
	Lower bool
	// Value over the runs that completed and passed their checks.
	Value func(runs []Outcome) float64
}

func latencyMetric(name string, q float64) Metric {
	return Metric{Name: name, Unit: "us", Lower: true, Value: func(runs []Outcome) float64 {
		var h Hist
		for i := range runs {
			h.Merge(&runs[i].Latency)
		}
		if q >= 1 {
			return us(h.Max)
		}
		return us(h.Quantile(q))
	}}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// perRunMedian is a metric whose value is the median of f over the runs.
func perRunMedian(name, unit string, lower bool, f func(o *Outcome) float64) Metric {
	return Metric{Name: name, Unit: unit, Lower: lower, Value: func(runs []Outcome) float64 {
		xs := make([]float64, len(runs))
		for i := range runs {
			xs[i] = f(&runs[i])
		}
		return median(xs)
	}}
}

var (
	p50Metric    = latencyMetric("p50 latency", 0.50)
	p99Metric    = latencyMetric("p99 latency", 0.99)
	p999Metric   = latencyMetric("p99.9 latency", 0.999)
	maxMetric    = latencyMetric("max latency", 1)
	jainMetric   = perRunMedian("fairness (Jain)", "index", false, func(o *Outcome) float64 { return Jain(o.Shares) })
	minMaxMetric = perRunMedian("min/max share", "ratio", false, func(o *Outcome) float64 { return MinMaxShare(o.Shares) })
	hopMetric    = Metric{Name: "max hopcount", Unit: "hops", Lower: true, Value: func(runs []Outcome) float64 {
		var m uint32
		for _, o := range runs {
			m = max(m, o.MaxHop)
		}
		return float64(m)
	}}

	ringMetrics       = []Metric{p50Metric, p99Metric}
	contentionMetrics = []Metric{p50Metric, p99Metric, p999Metric, maxMetric, jainMetric, minMaxMetric, hopMetric}
	loopMetrics       = []Metric{p50Metric, p99Metric, jainMetric, minMaxMetric}
)

// rateMetric is every workload's first row.
func rateMetric(unit string) Metric {
	return perRunMedian("rate", unit, false, func(o *Outcome) float64 { return o.Rate() })
}

// Row is one line of the comparison (and of the JSON file). Rctdb, Ctdbd
// and Ratio are null where there is no value; Reason says why a ratio is
// missing.
type Row struct {
	Workload string   `json:"workload"`
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	Rctdb    *float64 `json:"rctdb"`
	Ctdbd    *float64 `json:"ctdbd"`
	Ratio    *float64 `json:"ratio"`
	Better   string   `json:"better"` // "higher" or "lower"
	Reason   string   `json:"reason,omitempty"`
	Note     string   `json:"note,omitempty"`
	// Floor marks the rows of the no-daemon floor, which have no ratio.
	Floor bool `json:"floor,omitempty"`
}

// side is one target's runs (of a workload, or of a recovery): the good
// ones and why the others are not.
type side[O any] struct {
	ran  bool
	good []O
	bad  string
}

// noRatio says why the two sides of a row have no ratio, or "".
func noRatio[O any](a, b side[O]) string {
	switch {
	case a.bad != "":
		return a.bad
	case b.bad != "":
		return b.bad
	case !a.ran:
		return "rctdb was not run"
	case !b.ran:
		return "ctdbd was not run"
	}
	return ""
}

// sideOf sorts runs into a side; verdict gives a run's error (it did not
// finish) and failed check, both empty for a good run.
func sideOf[O any](runs []O, name string, verdict func(*O) (err, failed string)) side[O] {
	s := side[O]{ran: len(runs) > 0}
	for i := range runs {
		bad := ""
		switch err, failed := verdict(&runs[i]); {
		case err != "":
			bad = fmt.Sprintf("%s run %d failed: %s", name, i+1, err)
		case failed != "":
			bad = fmt.Sprintf("%s run %d failed its check: %s", name, i+1, failed)
		default:
			s.good = append(s.good, runs[i])
		}
		if s.bad == "" {
			s.bad = bad // the first failure tells why
		}
	}
	return s
}

func outcomeVerdict(o *Outcome) (string, string) { return o.Err, o.Failed }

// Rows turns results into the comparison's rows.
func (r *Results) Rows() []Row {
	var rows []Row
	for _, w := range r.Workloads {
		a := sideOf(r.Outcomes[w.Name][Rctdb], Rctdb, outcomeVerdict)
		b := sideOf(r.Outcomes[w.Name][Ctdbd], Ctdbd, outcomeVerdict)
		reason := noRatio(a, b)
		if w.Floor {
			reason = "no daemon, so no ratio; each column was measured in that daemon's turn, their difference is the machine's noise"
		}
		for i, m := range append([]Metric{rateMetric(w.Unit)}, w.Metrics...) {
			row := Row{Workload: w.Name, Metric: m.Name, Unit: m.Unit, Better: "higher", Floor: w.Floor}
			if m.Lower {
				row.Better = "lower"
			}
			row.Rctdb, row.Ctdbd = value(m, a), value(m, b)
			if i == 0 {
				row.Note = r.note(w, a, b)
			}
			if reason != "" {
				row.Reason = reason
			} else if row.Rctdb != nil && row.Ctdbd != nil {
				row.Ratio = ratio(*row.Rctdb, *row.Ctdbd, m.Lower)
				if row.Ratio == nil {
					row.Reason = "a zero value: no ratio"
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// floorShare is how close target's runs of w come to the floor: the
// median over runs of each run's rate divided by the rate of the floor
// run made in the same round and turn (0: no pairs).
func (r *Results) floorShare(w Workload, target string) float64 {
	var floor []Outcome
	for _, fw := range r.Workloads {
		if fw.Floor {
			floor = r.Outcomes[fw.Name][target]
		}
	}
	runs := r.Outcomes[w.Name][target]
	var shares []float64
	for i := 0; i < len(runs) && i < len(floor); i++ {
		if runs[i].OK() && floor[i].OK() && floor[i].Rate() > 0 {
			shares = append(shares, runs[i].Rate()/floor[i].Rate())
		}
	}
	return median(shares)
}

// note of a rate row: how close the message ring comes to the floor, and
// which checks held.
func (r *Results) note(w Workload, a, b side[Outcome]) string {
	var floor, ok []string
	for _, s := range []side[Outcome]{a, b} {
		if len(s.good) == 0 {
			continue
		}
		t := s.good[0].Target
		if share := r.floorShare(w, t); w.Name == "message-ring" && share > 0 {
			floor = append(floor, fmt.Sprintf("%s %.0f%%", t, 100*share))
		}
		if s.bad == "" && !w.Floor {
			ok = append(ok, t)
		}
	}
	var parts []string
	if len(floor) > 0 {
		parts = append(parts, "of floor: "+strings.Join(floor, ", "))
	}
	if len(ok) > 0 {
		parts = append(parts, "checks ok: "+strings.Join(ok, ", "))
	}
	return strings.Join(parts, "; ")
}

func value(m Metric, s side[Outcome]) *float64 {
	if len(s.good) == 0 {
		return nil
	}
	v := m.Value(s.good)
	return &v
}

// ratio is rctdb's advantage: a/b when higher is better, b/a when lower
// is; nil when it is undefined.
func ratio(a, b float64, lower bool) *float64 {
	if lower {
		a, b = b, a
	}
	if b == 0 || math.IsNaN(a/b) || math.IsInf(a/b, 0) {
		return nil
	}
	v := a / b
	return &v
}

// WriteJSON writes the rows as a JSON list to path.
func WriteJSON(path string, rows []Row) error {
	return writeJSONFile(path, "rows", rows)
}

// rowsAndRuns is the JSON of a command's results: its table's rows and
// every run.
type rowsAndRuns[R, O any] struct {
	Rows []R `json:"rows"`
	Runs O   `json:"runs"`
}

// writeJSONFile writes v, indented, to path; what names it in errors.
func writeJSONFile(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteTable prints the rows as a human table, then every reason a ratio
// is missing and every check.
func (r *Results) WriteTable(w io.Writer, rows []Row) {
	p := r.Params
	fmt.Fprintf(w, "%d run(s) of %v per workload and daemon; %d lockers per node on %d keys, hold %v, Zipf s=%.2g; %.0fs of runs\n\n",
		r.Runs, p.Duration, p.Clients, p.Keys, p.Hold, p.Zipf, r.Elapsed.Seconds())
	cells := [][]string{{"workload", "metric", "unit", "rctdb", "ctdbd", "ratio", "note"}}
	last := ""
	for _, row := range rows {
		name := row.Workload
		if name == last {
			name = ""
		}
		last = row.Workload
		ratio := "-"
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *row.Ratio)
		} else if row.Reason != "" && !row.Floor {
			ratio = "n/a*"
		}
		cells = append(cells, []string{name, row.Metric, row.Unit, fmtValue(row.Rctdb, row.Unit), fmtValue(row.Ctdbd, row.Unit), ratio, row.Note})
	}
	writeColumns(w, cells, func(i int) bool { return i >= 3 && i <= 5 }) // numbers to the right
	fmt.Fprintln(w)
	seen := map[string]bool{}
	for _, row := range rows {
		if row.Reason != "" && !seen[row.Workload] {
			seen[row.Workload] = true
			mark := "*"
			if row.Floor {
				mark = "-"
			}
			fmt.Fprintf(w, "%s %s: %s\n", mark, row.Workload, row.Reason)
		}
	}
	fmt.Fprintln(w, "\nchecks:")
	for _, wl := range r.Workloads {
		for _, t := range r.Targets {
			runs := r.Outcomes[wl.Name][t]
			if len(runs) == 0 {
				continue
			}
			s := sideOf(runs, t, outcomeVerdict)
			if s.bad != "" {
				fmt.Fprintf(w, "  %-18s %-6s FAILED: %s\n", wl.Name, t, s.bad)
				continue
			}
			fmt.Fprintf(w, "  %-18s %-6s ok (%d runs): %s\n", wl.Name, t, len(runs), strings.Join(runs[len(runs)-1].Checks, "; "))
		}
	}
}

// fmtValue prints a cell: indexes and shares with three decimals, hop
// counts whole, the rest by fmtNum.
func fmtValue(v *float64, unit string) string {
	switch {
	case v == nil:
		return "-"
	case unit == "index" || unit == "ratio":
		return fmt.Sprintf("%.3f", *v)
	case unit == "hops":
		return fmt.Sprintf("%.0f", *v)
	}
	return fmtNum(*v)
}

// fmtNum prints large numbers with thousands separators and small ones
// with three significant digits.
func fmtNum(v float64) string {
	switch {
	case v >= 1000:
		s := fmt.Sprintf("%.0f", v)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// writeColumns prints cells as aligned columns, two spaces apart; right
// says which columns are aligned to the right. The last column is not
// padded.
func writeColumns(w io.Writer, cells [][]string, right func(col int) bool) {
	if len(cells) == 0 {
		return
	}
	widths := make([]int, len(cells[0]))
	for _, c := range cells {
		for i, v := range c {
			widths[i] = max(widths[i], utf8.RuneCountInString(v))
		}
	}
	for _, c := range cells {
		var b strings.Builder
		for i, v := range c {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v))
			switch {
			case right(i):
				b.WriteString(pad + v + "  ")
			case i == len(c)-1:
				b.WriteString(v)
			default:
				b.WriteString(v + pad + "  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// statOf is a metric over a side's good runs, in milliseconds.
func statOf[O any](s side[O], f func(*O) time.Duration) *Stat {
	if len(s.good) == 0 {
		return nil
	}
	st := &Stat{}
	for i := range s.good {
		v := float64(f(&s.good[i])) / float64(time.Millisecond)
		st.Runs = append(st.Runs, v)
		if i == 0 || v < st.Min {
			st.Min = v
		}
		st.Max = max(st.Max, v)
	}
	st.Median = median(append([]float64(nil), st.Runs...))
	return st
}
