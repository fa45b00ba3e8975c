package bench

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// One hand-written SVG per workload, no plotting dependency: on the left
// the latency distribution of each daemon as a percentile curve (the
// x axis stretches the tail: 0, 90, 99, 99.9, 99.99 %), on the right the
// throughput of each daemon, its median as a bar and each run as a dot.
// The message ring's plot shows the floor beside the daemons.

const (
	svgW, svgH         = 960, 380
	plotTop, plotBot   = 60, 320
	latLeft, latRight  = 80, 450
	barLeft, barRight  = 580, 920
	maxNines           = 4.0 // the x axis of the latency plot ends at 99.99 %
	percentileSamples  = 80
	svgFont            = `font-family="sans-serif" font-size="12"`
	floorSeriesName    = "floor"
	floorSeriesColor   = "#888888"
	defaultSeriesColor = "#2ca02c"
)

var seriesColors = map[string]string{Rctdb: "#1f77b4", Ctdbd: "#ff7f0e", floorSeriesName: floorSeriesColor}

// series is one curve and one bar: a daemon's runs of a workload.
type series struct {
	name string
	runs []Outcome
}

// WriteSVGs writes dir/WORKLOAD.svg for every workload with results and
// returns the files written.
func (r *Results) WriteSVGs(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("svg: %w", err)
	}
	var files []string
	for _, w := range r.Workloads {
		var ss []series
		for _, t := range r.Targets {
			if runs := sideOf(r.Outcomes[w.Name][t], t, outcomeVerdict).good; len(runs) > 0 {
				ss = append(ss, series{name: t, runs: runs})
			}
		}
		if w.Name == "message-ring" {
			var floor []Outcome
			for _, t := range r.Targets {
				floor = append(floor, sideOf(r.Outcomes["floor"][t], t, outcomeVerdict).good...)
			}
			if len(floor) > 0 {
				ss = append(ss, series{name: floorSeriesName, runs: floor})
			}
		}
		if len(ss) == 0 {
			continue
		}
		path := filepath.Join(dir, w.Name+".svg")
		if err := os.WriteFile(path, []byte(plotSVG(w, ss)), 0o644); err != nil {
			return files, fmt.Errorf("svg: %w", err)
		}
		files = append(files, path)
	}
	return files, nil
}

// plotSVG draws one workload.
func plotSVG(w Workload, ss []series) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s>`+"\n", svgW, svgH, svgW, svgH, svgFont)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", latLeft, esc(w.Name))
	fmt.Fprintf(&b, `<text x="%d" y="42" fill="#555">%s</text>`+"\n", latLeft, esc(w.Desc))
	latencyPanel(&b, ss)
	ratePanel(&b, w, ss)
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func colorOf(name string) string {
	if c, ok := seriesColors[name]; ok {
		return c
	}
	return defaultSeriesColor
}

// nines maps a quantile to the latency plot's x axis: -log10(1-q).
func nines(q float64) float64 { return -math.Log10(1 - q) }

// latencyPanel draws the percentile curves on a log latency axis.
func latencyPanel(b *strings.Builder, ss []series) {
	hists := make([]Hist, len(ss))
	lo, hi := math.Inf(1), 0.0
	for i, s := range ss {
		for k := range s.runs {
			hists[i].Merge(&s.runs[k].Latency)
		}
		if hists[i].N == 0 {
			continue
		}
		lo = math.Min(lo, us(hists[i].Quantile(0)))
		hi = math.Max(hi, us(hists[i].Max))
	}
	axes(b, latLeft, latRight, "percentile", "latency (µs, log)")
	if hi == 0 {
		return
	}
	ylo, yhi := math.Floor(math.Log10(math.Max(lo, 0.1))), math.Ceil(math.Log10(hi))
	if yhi <= ylo {
		yhi = ylo + 1
	}
	y := func(v float64) float64 {
		return plotBot - (math.Log10(math.Max(v, 0.1))-ylo)/(yhi-ylo)*(plotBot-plotTop)
	}
	x := func(n float64) float64 { return latLeft + math.Min(n, maxNines)/maxNines*(latRight-latLeft) }
	for d := ylo; d <= yhi; d++ {
		v := math.Pow(10, d)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", latLeft, latRight, y(v), y(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", latLeft-6, y(v)+4, fmtNum(v))
	}
	for n, label := range []string{"0", "90", "99", "99.9", "99.99"} {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(float64(n)), plotBot+16, label)
	}
	for i, s := range ss {
		h := &hists[i]
		if h.N == 0 {
			continue
		}
		var pts []string
		for k := 0; k <= percentileSamples; k++ {
			q := 1 - math.Pow(10, -maxNines*float64(k)/percentileSamples)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(nines(q)), y(us(h.Quantile(q)))))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colorOf(s.name), strings.Join(pts, " "))
		ly := plotTop + 16*i
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", latLeft+10, latLeft+30, ly, ly, colorOf(s.name))
		fmt.Fprintf(b, `<text x="%d" y="%d">%s: p50 %s, p99 %s, max %s µs</text>`+"\n", latLeft+36, ly+4, esc(s.name),
			fmtNum(us(h.Quantile(0.5))), fmtNum(us(h.Quantile(0.99))), fmtNum(us(h.Max)))
	}
}

// ratePanel draws a bar per series (median rate) with a dot per run.
func ratePanel(b *strings.Builder, w Workload, ss []series) {
	axes(b, barLeft, barRight, "", w.Unit)
	top := 0.0
	for _, s := range ss {
		for i := range s.runs {
			top = math.Max(top, s.runs[i].Rate())
		}
	}
	if top == 0 {
		return
	}
	step := niceStep(top / 4)
	top = math.Ceil(top*1.05/step) * step
	y := func(v float64) float64 { return plotBot - v/top*(plotBot-plotTop) }
	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", barLeft, barRight, y(v), y(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", barLeft-6, y(v)+4, fmtNum(v))
	}
	slot := float64(barRight-barLeft) / float64(len(ss))
	for i, s := range ss {
		rates := make([]float64, len(s.runs))
		for k := range s.runs {
			rates[k] = s.runs[k].Rate()
		}
		m := median(append([]float64(nil), rates...))
		x0 := barLeft + slot*float64(i) + slot*0.2
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.8"/>`+"\n",
			x0, y(m), slot*0.6, plotBot-y(m), colorOf(s.name))
		for _, r := range rates {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="black"/>`+"\n", x0+slot*0.3, y(r))
		}
		// The median's label goes left of the column of run dots.
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0+slot*0.3-8, y(m)-6, fmtNum(m))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x0+slot*0.3, plotBot+16, esc(s.name))
	}
}

// axes draws a panel's frame and axis titles.
func axes(b *strings.Builder, left, right int, xTitle, yTitle string) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, plotTop, right-left, plotBot-plotTop)
	if xTitle != "" {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (left+right)/2, plotBot+34, esc(xTitle))
	}
	fmt.Fprintf(b, `<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", left-56, (plotTop+plotBot)/2, esc(yTitle))
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
