package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/bench"
	"github.com/rctdb/rctdb/internal/testutil"
)

// benchBinary builds ctdb-bench into the tests' bin directory; both says
// whether Debian's ctdbd is installed to compare with.
func benchBinary(t *testing.T) (exe string, both bool) {
	t.Helper()
	exe = filepath.Join(binDir, "ctdb-bench")
	b := exec.Command("go", "build", "-o", exe, "github.com/rctdb/rctdb/cmd/ctdb-bench")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("build ctdb-bench: %v\n%s", err, out)
	}
	both = true
	if _, err := os.Stat("/usr/sbin/ctdbd"); err != nil {
		both = false
		t.Log("Debian's ctdbd is not installed: rctdb only")
	}
	return exe, both
}

// runBench runs ctdb-bench with args (against rctdb only when Debian's
// ctdbd is missing), logs its table and fails the test if it fails; it
// returns the table.
func runBench(t *testing.T, exe string, both bool, args []string) string {
	t.Helper()
	stdout, stderr, err := runBenchCmd(t, exe, both, args)
	if err != nil {
		t.Fatalf("ctdb-bench: %v\nstderr:\n%s", err, stderr)
	}
	return stdout
}

// runBenchCmd runs ctdb-bench with args and logs its table.
func runBenchCmd(t *testing.T, exe string, both bool, args []string) (stdout, stderr string, err error) {
	t.Helper()
	if !both {
		args = append(args, "--only=rctdb")
	}
	// Two fresh clusters per daemon may each take their whole start
	// timeout on a loaded machine; past the deadline ctdb-bench gets
	// SIGTERM, so that it takes its clusters down before it exits.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	t.Logf("ctdb-bench %s (%.1fs):\n%s", strings.Join(args, " "), time.Since(start).Seconds(), out.String())
	return out.String(), errOut.String(), err
}

// runBenchRuns runs a ctdb-bench command that starts fresh clusters (args:
// the command and its flags) with --json, --base and --rctdbd added,
// checks that no process of its clusters is left, and decodes its JSON
// into res (a run that failed is in it too, for the caller to judge); it
// returns the daemons that ran.
func runBenchRuns(t *testing.T, args []string, res any) []string {
	t.Helper()
	exe, both := benchBinary(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "clusters")
	jsonPath := filepath.Join(dir, "runs.json")
	// ctdb-bench keeps the directories of failed runs under base, which
	// t.TempDir's removal would take with it.
	t.Cleanup(func() { keepIfFailed(t, base) })
	// A failed run still writes its outcome, which the caller judges.
	if _, stderr, err := runBenchCmd(t, exe, both, append(args, "--json", jsonPath, "--base", base, "--rctdbd", filepath.Join(binDir, "ctdbd"))); err != nil {
		t.Logf("ctdb-bench: %v (a run failed: judged below)\nstderr:\n%s", err, stderr)
	}
	if strays := processesUnder(base); len(strays) > 0 {
		t.Errorf("processes of the clusters left: %s", strings.Join(strays, ", "))
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, res); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	targets := []string{bench.Rctdb}
	if both {
		targets = append(targets, bench.Ctdbd)
	}
	return targets
}

// keepIfFailed moves dir out of the test's temporary directory when the
// test failed, and says where.
func keepIfFailed(t *testing.T, dir string) {
	if !t.Failed() {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	keep, err := keepDir(dir, t.Name())
	if err != nil {
		t.Logf("keep %s: %v", dir, err)
		return
	}
	t.Logf("the failed runs' directories are kept in %s", keep)
}

// keepDir moves dir into a new directory named after the test, outside
// the test's temporary one, and returns the new directory.
func keepDir(dir, test string) (string, error) {
	keep, err := os.MkdirTemp("", "rctdb-failed-"+strings.ReplaceAll(test, "/", "_")+"-")
	if err != nil {
		return "", err
	}
	return keep, os.Rename(dir, filepath.Join(keep, filepath.Base(dir)))
}

func TestKeepDirMovesTheRunsOutOfTheTestsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clusters")
	if err := os.MkdirAll(filepath.Join(dir, "rctdb-run1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rctdb-run1", "log.ctdb"), []byte("why it failed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep, err := keepDir(dir, t.Name()+"/sub")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(keep)
	if b, err := os.ReadFile(filepath.Join(keep, "clusters", "rctdb-run1", "log.ctdb")); err != nil || string(b) != "why it failed\n" {
		t.Fatalf("kept log: %q, %v", b, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the runs are still in the test's directory: %v", err)
	}
	if !strings.Contains(filepath.Base(keep), "TestKeepDirMovesTheRunsOutOfTheTestsDirectory_sub") {
		t.Fatalf("kept in %s, not named after the test", keep)
	}
}

// TestBenchCompareQuick runs `ctdb-bench compare --quick` with very short
// runs against an rctdb cluster and, when Debian's ctdbd is installed (make
// test installs it), a real ctdbd cluster: every workload must complete on
// both, pass its correctness checks, make progress, and get a ratio; the
// floor rows get none. Speed is not judged here.
func TestBenchCompareQuick(t *testing.T) {
	exe, both := benchBinary(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "rows.json")
	rctdb, ctdbd, floor := loopbackNodes(t), loopbackNodes(t), loopbackNodes(t)
	args := []string{"compare", "--quick", "--duration=300ms", "--json", jsonPath, "--svg", filepath.Join(dir, "svg"),
		"--base", filepath.Join(dir, "clusters"), "--rctdbd", filepath.Join(binDir, "ctdbd"),
		"--rctdb-addr=" + rctdb.first, "--ctdbd-prefix=" + ctdbd.prefix, "--floor-addr=" + floor.first}
	table := runBench(t, exe, both, args)
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rows []bench.Row
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatalf("JSON rows: %v", err)
	}
	rates := map[string]bench.Row{}
	for _, r := range rows {
		if r.Metric == "rate" {
			rates[r.Workload] = r
		}
	}
	for _, w := range bench.Workloads() {
		r, ok := rates[w.Name]
		switch {
		case !ok:
			t.Errorf("%s: no rate row", w.Name)
		case r.Rctdb == nil || *r.Rctdb <= 0:
			t.Errorf("%s: rctdb rate %v", w.Name, r.Rctdb)
		case both && (r.Ctdbd == nil || *r.Ctdbd <= 0):
			t.Errorf("%s: ctdbd rate %v", w.Name, r.Ctdbd)
		case both && !w.Floor && (r.Ratio == nil || r.Reason != ""):
			t.Errorf("%s: no ratio: %s", w.Name, r.Reason)
		case w.Floor && r.Ratio != nil:
			t.Errorf("%s: the floor got a ratio", w.Name)
		}
	}
	// Exit status 0 already means every check held; the table says so.
	if n := strings.Count(table, " ok (1 runs): "); n != len(bench.Workloads())*map[bool]int{true: 2, false: 1}[both] {
		t.Errorf("%d workload/daemon pairs reported their checks ok", n)
	}
	svgs, _ := filepath.Glob(filepath.Join(dir, "svg", "*.svg"))
	if len(svgs) != len(bench.Workloads()) {
		t.Errorf("%d plots, want one per workload", len(svgs))
	}
}

// loopbackRange is a free range of three loopback addresses for one
// cluster of a bench test, picked at random so that concurrent runs of the
// tests (two `make test` at once) never meet.
type loopbackRange struct {
	first  string // 127.A.B.1
	prefix string // 127.A.B
}

func loopbackNodes(t *testing.T) loopbackRange {
	t.Helper()
	addrs := testutil.LoopbackRange(t, 3, 4379)
	b := addrs[0].As4()
	return loopbackRange{first: addrs[0].String(), prefix: fmt.Sprintf("%d.%d.%d", b[0], b[1], b[2])}
}
