package bench

import (
	"fmt"
	"io"
	"time"
)

// HealthResults are the runs of the health workload, per target, in the
// order they ran.
type HealthResults struct {
	Runs    int
	Targets []string
	// Outcomes[target] are the runs in order.
	Outcomes map[string][]HealthOutcome
}

// Add records one run.
func (r *HealthResults) Add(o HealthOutcome) {
	if r.Outcomes == nil {
		r.Outcomes = map[string][]HealthOutcome{}
	}
	r.Outcomes[o.Target] = append(r.Outcomes[o.Target], o)
}

type healthSide = side[HealthOutcome]

func healthSideOf(runs []HealthOutcome, name string) healthSide {
	return sideOf(runs, name, func(o *HealthOutcome) (string, string) { return o.Err, o.Failed })
}

// Phases of a run, the Case of its rows.
const (
	healthStart   = "start"
	healthKill    = "smbd killed"
	healthRestart = "smbd started"
)

// Allowances of rctdb's goals beyond one MonitorInterval and the failing
// monitor's run: the daemons' reaction, and for the address also the
// release and takeover scripts and the client's neighbour entry.
const (
	unhealthyAllowance = 500 * time.Millisecond
	answeredAllowance  = time.Second
)

// healthMetrics are the rows; the goals of (a) and (b) are rctdb's: within
// one MonitorInterval plus the scripts' time (the failing monitor's run,
// median of rctdb's runs, and an allowance), and not slower than ctdbd.
func healthMetrics(interval, failRun time.Duration) []healthMetric {
	within := func(allowance time.Duration) failoverGoal {
		return failoverGoal{Median: (interval + failRun + allowance).Round(time.Millisecond), MinRatio: 1}
	}
	row := func(phase, name string, f func(o *HealthOutcome) time.Duration, goal failoverGoal) healthMetric {
		return healthMetric{phase, timedMetric[HealthOutcome]{name, f, goal}}
	}
	return []healthMetric{
		row(healthStart, "start -> all nodes OK", func(o *HealthOutcome) time.Duration { return o.AllOK }, failoverGoal{}),
		row(healthStart, "all nodes OK -> every address answers SMB", func(o *HealthOutcome) time.Duration { return o.Serving }, failoverGoal{}),
		row(healthKill, "(a) smbd killed -> node UNHEALTHY on every node", func(o *HealthOutcome) time.Duration { return o.Unhealthy }, within(unhealthyAllowance)),
		row(healthKill, "    kill -> failing monitor began", func(o *HealthOutcome) time.Duration { return o.FailPhase }, failoverGoal{}),
		row(healthKill, "    failing monitor's run", func(o *HealthOutcome) time.Duration { return o.FailRun }, failoverGoal{}),
		row(healthKill, "    its end -> UNHEALTHY on every node", func(o *HealthOutcome) time.Duration { return o.FailReaction }, failoverGoal{}),
		row(healthKill, "(b) smbd killed -> address answers SMB on another node", func(o *HealthOutcome) time.Duration { return o.Answered }, within(answeredAllowance)),
		row(healthRestart, "(c) smbd started -> node healthy on every node", func(o *HealthOutcome) time.Duration { return o.Healthy }, failoverGoal{}),
		row(healthRestart, "    start -> passing monitor began", func(o *HealthOutcome) time.Duration { return o.PassPhase }, failoverGoal{}),
		row(healthRestart, "    passing monitor's run", func(o *HealthOutcome) time.Duration { return o.PassRun }, failoverGoal{}),
		row(healthRestart, "    its end -> healthy on every node", func(o *HealthOutcome) time.Duration { return o.PassReaction }, failoverGoal{}),
		row(healthRestart, "(d) smbd started -> node holds a public address", func(o *HealthOutcome) time.Duration { return o.HoldsAgain }, failoverGoal{}),
	}
}

// healthMetric is a row and the phase of the run it measures.
type healthMetric struct {
	phase string
	timedMetric[HealthOutcome]
}

// interval is the MonitorInterval of the runs (the first that says).
func (r *HealthResults) interval() time.Duration {
	for _, t := range r.Targets {
		for _, o := range r.Outcomes[t] {
			if o.MonitorInterval > 0 {
				return o.MonitorInterval
			}
		}
	}
	return 15 * time.Second
}

// Rows turns the results into the table's rows.
func (r *HealthResults) Rows() []FailoverRow {
	a := healthSideOf(r.Outcomes[Rctdb], Rctdb)
	b := healthSideOf(r.Outcomes[Ctdbd], Ctdbd)
	var failRun time.Duration
	if s := statOf(a, func(o *HealthOutcome) time.Duration { return o.FailRun }); s != nil {
		failRun = time.Duration(s.Median * float64(time.Millisecond))
	}
	var rows []FailoverRow
	for _, m := range healthMetrics(r.interval(), failRun) {
		rows = append(rows, timedRow(m.phase, m.timedMetric, a, b))
	}
	return rows
}

// WriteHealthJSON writes the rows and every run as JSON to path.
func WriteHealthJSON(path string, r *HealthResults) error {
	return writeJSONFile(path, "health results", rowsAndRuns[FailoverRow, map[string][]HealthOutcome]{Rows: r.Rows(), Runs: r.Outcomes})
}

// WriteTable prints the rows as a table, every reason a ratio is missing,
// and each run with its checks.
func (r *HealthResults) WriteTable(w io.Writer) {
	nodes, addrs := 3, 3
	for _, runs := range r.Outcomes {
		if len(runs) > 0 && runs[0].Nodes > 0 {
			nodes, addrs = runs[0].Nodes, runs[0].Addresses
		}
	}
	fmt.Fprintf(w, "smbd killed on a node (its daemon lives): %d nodes, %d public addresses, MonitorInterval %v, a fresh cluster per run, %d run(s) per daemon;\n",
		nodes, addrs, r.interval(), r.Runs)
	fmt.Fprintf(w, "smbd killed, and started again, right after one of the node's monitors ended;\n")
	fmt.Fprintf(w, "times in ms, median (min-max); ratio = ctdbd / rctdb (above 1: rctdb faster)\n\n")
	writeTimedRows(w, r.Rows())
	fmt.Fprintln(w, "\nruns:")
	for _, t := range r.Targets {
		for i, o := range r.Outcomes[t] {
			fmt.Fprintf(w, "  %s run %d: all OK %s after the start, serving SMB %s later; smbd of node %s (leader %s) holding %s killed after %s (cadence %s);"+
				" UNHEALTHY everywhere %s after (monitor began %s after, ran %s), %s answered by node %d %s after (%d NEGOTIATEs);"+
				" smbd started (%s): healthy everywhere %s after (monitor began %s after, ran %s), holds an address %s after; %s\n",
				t, i+1, fmtDur(o.AllOK), fmtDur(o.Serving), pnnName(o.Victim), pnnName(o.Leader), o.Addr, fmtDur(o.Settle), fmtDur(o.CadenceGap),
				fmtDur(o.Unhealthy), fmtDur(o.FailPhase), fmtDur(o.FailRun), o.Addr, o.AnsweredBy, fmtDur(o.Answered), o.Attempts,
				fmtDur(o.StartCmd), fmtDur(o.Healthy), fmtDur(o.PassPhase), fmtDur(o.PassRun), fmtDur(o.HoldsAgain), o.status())
			fmt.Fprintf(w, "      failing monitor's scripts: %s; passing monitor's: %s\n", o.FailScripts, o.PassScripts)
			for _, check := range o.Checks {
				fmt.Fprintf(w, "      %s\n", check)
			}
		}
	}
}
