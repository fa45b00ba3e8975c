package bench

import (
	"fmt"
	"io"
	"time"
)

// The failover workload's two cases: which node's daemon is killed.
const (
	KillNonLeader = "non-leader"
	KillLeader    = "leader"
)

// FailoverCase names the case of a run.
func FailoverCase(killLeader bool) string {
	if killLeader {
		return KillLeader
	}
	return KillNonLeader
}

// FailoverResults are the runs of the failover workload, per case and
// target, in the order they ran.
type FailoverResults struct {
	Runs    int
	Targets []string
	Cases   []string
	// Outcomes[case][target] are the runs in order.
	Outcomes map[string]map[string][]FailoverOutcome
}

// Add records one run.
func (r *FailoverResults) Add(o FailoverOutcome) {
	c := FailoverCase(o.KillLeader)
	if r.Outcomes == nil {
		r.Outcomes = map[string]map[string][]FailoverOutcome{}
	}
	if r.Outcomes[c] == nil {
		r.Outcomes[c] = map[string][]FailoverOutcome{}
	}
	r.Outcomes[c][o.Target] = append(r.Outcomes[c][o.Target], o)
}

// FailoverRow is one line of the failover table (and of its JSON file).
// Lower is better for every metric; Ratio is ctdbd's median over rctdb's.
// Goal is rctdb's target for the row, Met whether its runs reached it;
// Reason says why there is no ratio.
type FailoverRow struct {
	Case   string   `json:"case"` // "" for the start of the cluster
	Metric string   `json:"metric"`
	Unit   string   `json:"unit"`
	Rctdb  *Stat    `json:"rctdb"`
	Ctdbd  *Stat    `json:"ctdbd"`
	Ratio  *float64 `json:"ratio"`
	Goal   string   `json:"goal,omitempty"`
	Met    *bool    `json:"met,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// failoverGoal is rctdb's target for a row: its median at most Median,
// and, if MinRatio > 0, ctdbd's median at least MinRatio times rctdb's.
type failoverGoal struct {
	Median   time.Duration
	MinRatio float64
}

func (g failoverGoal) String() string {
	if g.Median == 0 {
		return ""
	}
	s := fmt.Sprintf("median <= %v", g.Median)
	if g.MinRatio > 0 {
		s += fmt.Sprintf(", ctdbd/rctdb >= %g", g.MinRatio)
	}
	return s
}

// timedMetric is one row of a table of times: the time of each run, and
// rctdb's goal.
type timedMetric[O any] struct {
	name string
	f    func(*O) time.Duration
	goal failoverGoal
}

// failoverMetric is one row of a case.
type failoverMetric = timedMetric[FailoverOutcome]

var (
	startMetrics = []failoverMetric{
		{"start -> all nodes OK", func(o *FailoverOutcome) time.Duration { return o.AllOK }, failoverGoal{}},
		{"all nodes OK -> balanced", func(o *FailoverOutcome) time.Duration { return o.Balanced }, failoverGoal{Median: time.Second}},
		{"start -> balanced", func(o *FailoverOutcome) time.Duration { return o.AllOK + o.Balanced }, failoverGoal{}},
	}
	killMetrics = map[string][]failoverMetric{
		KillNonLeader: {
			{"kill -9 of a non-leader holder -> address on a survivor", func(o *FailoverOutcome) time.Duration { return o.OnSurvivor }, failoverGoal{}},
			{"kill -9 of a non-leader holder -> address answers on a survivor", func(o *FailoverOutcome) time.Duration { return o.Answered }, failoverGoal{Median: time.Second}},
		},
		KillLeader: {
			{"kill -9 of the leader holder -> address on a survivor", func(o *FailoverOutcome) time.Duration { return o.OnSurvivor }, failoverGoal{}},
			{"kill -9 of the leader holder -> address answers on a survivor", func(o *FailoverOutcome) time.Duration { return o.Answered }, failoverGoal{Median: time.Second, MinRatio: 5}},
		},
	}
)

type failSide = side[FailoverOutcome]

func failSideOf(runs []FailoverOutcome, name string) failSide {
	return sideOf(runs, name, func(o *FailoverOutcome) (string, string) { return o.Err, o.Failed })
}

// joinSides puts the runs of every case of one target together.
func (r *FailoverResults) joinSides(target string) []FailoverOutcome {
	var all []FailoverOutcome
	for _, c := range r.Cases {
		all = append(all, r.Outcomes[c][target]...)
	}
	return all
}

// Rows turns the results into the table's rows: the cluster's start over
// every run, then each case's kill.
func (r *FailoverResults) Rows() []FailoverRow {
	var rows []FailoverRow
	a := failSideOf(r.joinSides(Rctdb), Rctdb)
	b := failSideOf(r.joinSides(Ctdbd), Ctdbd)
	for _, m := range startMetrics {
		rows = append(rows, timedRow("", m, a, b))
	}
	for _, c := range r.Cases {
		a := failSideOf(r.Outcomes[c][Rctdb], Rctdb)
		b := failSideOf(r.Outcomes[c][Ctdbd], Ctdbd)
		for _, m := range killMetrics[c] {
			rows = append(rows, timedRow(c, m, a, b))
		}
	}
	return rows
}

// timedRow is metric m over both sides' good runs, with the ratio and
// whether rctdb met its goal.
func timedRow[O any](c string, m timedMetric[O], a, b side[O]) FailoverRow {
	row := FailoverRow{Case: c, Metric: m.name, Unit: "ms", Rctdb: statOf(a, m.f), Ctdbd: statOf(b, m.f), Reason: noRatio(a, b), Goal: m.goal.String()}
	if row.Reason == "" && row.Rctdb != nil && row.Ctdbd != nil {
		row.Ratio = ratio(row.Rctdb.Median, row.Ctdbd.Median, true)
		if row.Ratio == nil {
			row.Reason = "a median of 0 (balanced by the time the look found every node OK): no ratio"
		}
	}
	if m.goal.Median > 0 && row.Rctdb != nil && a.bad == "" {
		met := row.Rctdb.Median <= float64(m.goal.Median)/float64(time.Millisecond)
		switch {
		case m.goal.MinRatio == 0:
		case row.Ratio != nil:
			met = met && *row.Ratio >= m.goal.MinRatio
		case met:
			return row // no ratio to judge the rest of the goal by
		}
		row.Met = &met
	}
	return row
}

// WriteFailoverJSON writes the rows and every run as JSON to path.
func WriteFailoverJSON(path string, r *FailoverResults) error {
	return writeJSONFile(path, "failover results", rowsAndRuns[FailoverRow, map[string]map[string][]FailoverOutcome]{Rows: r.Rows(), Runs: r.Outcomes})
}

// WriteTable prints the rows as a table, every reason a ratio is missing,
// and each run with its checks.
func (r *FailoverResults) WriteTable(w io.Writer) {
	nodes, addrs := 3, 3
	for _, byTarget := range r.Outcomes {
		for _, runs := range byTarget {
			if len(runs) > 0 && runs[0].Nodes > 0 {
				nodes, addrs = runs[0].Nodes, runs[0].Addresses
			}
		}
	}
	fmt.Fprintf(w, "public-IP failover: %d nodes, %d public addresses, a fresh cluster per run, %d run(s) per daemon and case;\n", nodes, addrs, r.Runs)
	fmt.Fprintf(w, "times in ms, median (min-max); ratio = ctdbd / rctdb (above 1: rctdb faster)\n\n")
	writeTimedRows(w, r.Rows())
	fmt.Fprintln(w, "\nruns:")
	for _, c := range r.Cases {
		for _, t := range r.Targets {
			for i, o := range r.Outcomes[c][t] {
				fmt.Fprintf(w, "  kill %s, %s run %d: all OK %s after the start, balanced %s later; killed node %s (leader %s) holding %s after %s; on a survivor %s, answered by node %d %s after the kill (%d connects); %s\n",
					c, t, i+1, fmtDur(o.AllOK), fmtDur(o.Balanced), pnnName(o.Victim), pnnName(o.Leader), o.Addr, fmtDur(o.Settle),
					fmtDur(o.OnSurvivor), o.AnsweredBy, fmtDur(o.Answered), o.Attempts, o.status())
				for _, check := range o.Checks {
					fmt.Fprintf(w, "      %s\n", check)
				}
			}
		}
	}
}

// writeTimedRows prints rows of times as a table, then every reason a
// ratio is missing.
func writeTimedRows(w io.Writer, rows []FailoverRow) {
	cells := [][]string{{"metric", "rctdb", "ctdbd", "ratio", "goal (rctdb)", "met"}}
	for _, row := range rows {
		ratio := "-"
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *row.Ratio)
		} else if row.Reason != "" {
			ratio = "n/a*"
		}
		met := ""
		if row.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*row.Met]
		}
		cells = append(cells, []string{row.Metric, fmtStat(row.Rctdb), fmtStat(row.Ctdbd), ratio, row.Goal, met})
	}
	writeColumns(w, cells, func(i int) bool { return i >= 1 && i <= 3 })
	fmt.Fprintln(w)
	seen := map[string]bool{}
	for _, row := range rows {
		if row.Reason != "" && !seen[row.Reason] {
			seen[row.Reason] = true
			fmt.Fprintf(w, "* %s\n", row.Reason)
		}
	}
}
