package bench

import (
	"fmt"
	"io"
	"time"
)

// RecoveryResults are the runs of the recovery workload, per number of
// records and target, in the order they ran.
type RecoveryResults struct {
	Params  RecoveryParams
	Runs    int
	Targets []string
	Records []int
	// Outcomes[records][target] are the runs in order.
	Outcomes map[int]map[string][]RecoveryOutcome
}

// Add records one run.
func (r *RecoveryResults) Add(o RecoveryOutcome) {
	if r.Outcomes == nil {
		r.Outcomes = map[int]map[string][]RecoveryOutcome{}
	}
	if r.Outcomes[o.Records] == nil {
		r.Outcomes[o.Records] = map[string][]RecoveryOutcome{}
	}
	r.Outcomes[o.Records][o.Target] = append(r.Outcomes[o.Records][o.Target], o)
}

// Stat is a metric over one target's good runs, in milliseconds.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// RecoveryRow is one line of the recovery table (and of its JSON file):
// one metric for one number of records. Lower is better for every
// metric; Ratio is ctdbd's median over rctdb's, so above 1 means rctdb
// was faster. Reason says why there is no ratio.
type RecoveryRow struct {
	Records int      `json:"records"`
	Metric  string   `json:"metric"`
	Unit    string   `json:"unit"`
	Rctdb   *Stat    `json:"rctdb"`
	Ctdbd   *Stat    `json:"ctdbd"`
	Ratio   *float64 `json:"ratio"`
	Reason  string   `json:"reason,omitempty"`
}

// recoveryMetrics are the rows of each number of records.
var recoveryMetrics = []struct {
	name string
	f    func(*RecoveryOutcome) time.Duration
}{
	{"kill -> thawed", func(o *RecoveryOutcome) time.Duration { return o.Thawed }},
	{"kill -> recovery seen", func(o *RecoveryOutcome) time.Duration { return o.Detected }},
	{"kill -> clients resumed", func(o *RecoveryOutcome) time.Duration { return o.Resumed }},
	{"longest client stall", func(o *RecoveryOutcome) time.Duration { return o.MaxStall }},
}

// recSide is one target's runs for one number of records.
type recSide = side[RecoveryOutcome]

func recSideOf(runs []RecoveryOutcome, name string) recSide {
	return sideOf(runs, name, func(o *RecoveryOutcome) (string, string) { return o.Err, o.Failed })
}

// Rows turns the results into the table's rows.
func (r *RecoveryResults) Rows() []RecoveryRow {
	var rows []RecoveryRow
	for _, n := range r.Records {
		a := recSideOf(r.Outcomes[n][Rctdb], Rctdb)
		b := recSideOf(r.Outcomes[n][Ctdbd], Ctdbd)
		reason := noRatio(a, b)
		for _, m := range recoveryMetrics {
			row := RecoveryRow{Records: n, Metric: m.name, Unit: "ms", Rctdb: statOf(a, m.f), Ctdbd: statOf(b, m.f), Reason: reason}
			if reason == "" && row.Rctdb != nil && row.Ctdbd != nil {
				row.Ratio = ratio(row.Rctdb.Median, row.Ctdbd.Median, true)
				if row.Ratio == nil {
					row.Reason = "a zero value: no ratio"
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// WriteRecoveryJSON writes the rows and every run as JSON to path.
func WriteRecoveryJSON(path string, r *RecoveryResults) error {
	return writeJSONFile(path, "recovery results", rowsAndRuns[RecoveryRow, map[int]map[string][]RecoveryOutcome]{Rows: r.Rows(), Runs: r.Outcomes})
}

// fmtStat prints "median (min-max)" of a row's cell.
func fmtStat(s *Stat) string {
	switch {
	case s == nil:
		return "-"
	case len(s.Runs) == 1:
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s-%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// WriteTable prints the rows as a table, every reason a ratio is missing,
// and each run's checks.
func (r *RecoveryResults) WriteTable(w io.Writer) {
	p := r.Params
	nodes := "3"
	for _, byTarget := range r.Outcomes {
		for _, runs := range byTarget {
			if len(runs) > 0 && runs[0].Nodes > 0 {
				nodes = fmt.Sprint(runs[0].Nodes)
			}
		}
	}
	victim := "a node that is not the leader"
	if p.KillLeader {
		victim = "the leader"
	}
	pace := "as fast as they can"
	if p.Pause > 0 {
		pace = fmt.Sprintf("pausing %v after each", p.Pause)
	}
	fmt.Fprintf(w, "kill -9 of %s, one node of %s, while %d client processes per surviving node fetch-lock and increment %s keys (%s);\n",
		victim, nodes, p.Clients, fmtNum(float64(p.Keys)), pace)
	fmt.Fprintf(w, "%d run(s) per daemon, each on a fresh cluster; times from the kill in ms, median (min-max); ratio = ctdbd / rctdb\n\n", r.Runs)
	cells := [][]string{{"records", "metric", "rctdb", "ctdbd", "ratio"}}
	rows := r.Rows()
	last := 0
	for _, row := range rows {
		name := ""
		if row.Records != last {
			name = fmtNum(float64(row.Records))
		}
		last = row.Records
		ratio := "-"
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *row.Ratio)
		} else if row.Reason != "" {
			ratio = "n/a*"
		}
		cells = append(cells, []string{name, row.Metric, fmtStat(row.Rctdb), fmtStat(row.Ctdbd), ratio})
	}
	writeColumns(w, cells, func(i int) bool { return i >= 2 })
	fmt.Fprintln(w)
	seen := map[int]bool{}
	for _, row := range rows {
		if row.Reason != "" && !seen[row.Records] {
			seen[row.Records] = true
			fmt.Fprintf(w, "* %s records: %s\n", fmtNum(float64(row.Records)), row.Reason)
		}
	}
	fmt.Fprintln(w, "\nruns:")
	for _, n := range r.Records {
		for _, t := range r.Targets {
			for i, o := range r.Outcomes[n][t] {
				status := "ok"
				switch {
				case o.Err != "":
					status = "ERROR: " + o.Err
				case o.Failed != "":
					status = "CHECK FAILED: " + o.Failed
				}
				fmt.Fprintf(w, "  %s records, %s run %d: killed node %s (leader %s); thawed %s after the kill (seen %s, clients resumed %s, longest stall %s); fill %s; %s\n",
					fmtNum(float64(n)), t, i+1, pnnName(o.Victim), pnnName(o.Leader), fmtDur(o.Thawed), fmtDur(o.Detected), fmtDur(o.Resumed),
					fmtDur(o.MaxStall), fmtDur(o.Fill), status)
				for _, c := range o.Checks {
					fmt.Fprintf(w, "      %s\n", c)
				}
			}
		}
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

func pnnName(p uint32) string {
	if p == 0xFFFFFFFF {
		return "?"
	}
	return fmt.Sprint(p)
}
