package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// CompareOptions configure Compare.
type CompareOptions struct {
	Params Params
	// Runs of each workload on each target; rates are the median over
	// runs, latency percentiles come from all runs' samples together.
	Runs      int
	Workloads []Workload
	// Progress receives a line per run (nil: none). On a terminal the
	// line of the run under way is shown first and then replaced.
	Progress io.Writer
}

// Results are every run of every workload on every target.
type Results struct {
	Params    Params
	Runs      int
	Targets   []string
	Workloads []Workload
	// Outcomes[workload][target] are the runs in order.
	Outcomes map[string]map[string][]Outcome
	Elapsed  time.Duration
}

// Compare runs each workload on each target with the same parameters.
// Runs are interleaved (run 1 of every workload on every target, then run
// 2, ...) and the target that goes first alternates, so that a slow phase
// of the machine hurts both daemons alike. It stops early, with what it
// has, when ctx ends.
func Compare(ctx context.Context, targets []Target, opts CompareOptions) *Results {
	if opts.Runs < 1 {
		opts.Runs = 1
	}
	res := &Results{Params: opts.Params, Runs: opts.Runs, Workloads: opts.Workloads, Outcomes: map[string]map[string][]Outcome{}}
	for _, t := range targets {
		res.Targets = append(res.Targets, t.Name)
	}
	for _, w := range opts.Workloads {
		res.Outcomes[w.Name] = map[string][]Outcome{}
	}
	p := progress{w: opts.Progress, total: opts.Runs * len(opts.Workloads) * len(targets)}
	if f, ok := opts.Progress.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	for run := 0; run < opts.Runs; run++ {
		for _, w := range opts.Workloads {
			for k := range targets {
				if ctx.Err() != nil {
					return res
				}
				t := targets[(k+run)%len(targets)]
				p.begin(fmt.Sprintf("run %d/%d  %-18s on %s", run+1, opts.Runs, w.Name, t.Name))
				o := w.Run(ctx, t, opts.Params)
				o.Workload, o.Target = w.Name, t.Name
				res.Outcomes[w.Name][t.Name] = append(res.Outcomes[w.Name][t.Name], o)
				p.end(&o, w.Unit)
			}
		}
	}
	return res
}

// progress prints the progress lines.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	done  int
	start time.Time
	label string
}

func (p *progress) begin(label string) {
	p.label, p.start = label, time.Now()
	if p.w != nil && p.tty {
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s ...", p.done+1, p.total, label)
	}
}

func (p *progress) end(o *Outcome, unit string) {
	p.done++
	if p.w == nil {
		return
	}
	status := "ok"
	switch {
	case o.Err != "":
		status = "ERROR: " + firstLine(o.Err)
	case o.Failed != "":
		status = "CHECK FAILED: " + firstLine(o.Failed)
	}
	cr := ""
	if p.tty {
		cr = "\r\033[K"
	}
	fmt.Fprintf(p.w, "%s[%d/%d] %s: %s %s in %.1fs, %s\n", cr, p.done, p.total, p.label,
		fmtNum(o.Rate()), unit, time.Since(p.start).Seconds(), status)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
