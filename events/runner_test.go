package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rctdb/rctdb/internal/testutil"
)

func TestRunOrderArgsAndOutput(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := `echo "$(basename $0) $*" >> "$T/order"; echo "out of $(basename $0)"`
	for _, n := range []string{"10.c", "01.a", "01.a-b", "02.b"} {
		e.script(n, rec, 0o755)
	}
	// Not scripts: wrong names are never run.
	for _, n := range []string{"README", "1.x.script", "00.x.sh", "00x.script", "ab.c.script", "00.script"} {
		os.WriteFile(filepath.Join(e.dir, n), []byte("#!/bin/sh\necho bad >> \"$T/order\"\n"), 0o755)
	}
	res := e.run("takeip", 10*time.Second, "eth0", "10.0.0.1", "24")
	if res.Code != ResultOK || res.Status == nil || res.Status.Summary != 0 {
		t.Fatalf("result %+v", res)
	}
	// alphasort of whole file names: "01.a-b.script" < "01.a.script".
	want := "01.a-b.script takeip eth0 10.0.0.1 24\n01.a.script takeip eth0 10.0.0.1 24\n" +
		"02.b.script takeip eth0 10.0.0.1 24\n10.c.script takeip eth0 10.0.0.1 24\n"
	if got := e.read("order"); got != want {
		t.Errorf("scripts ran as\n%s\nwant\n%s", got, want)
	}
	if got := statusNames(res.Status); !reflect.DeepEqual(got, []string{"01.a-b=0", "01.a=0", "02.b=0", "10.c=0"}) {
		t.Errorf("status %v", got)
	}
	for _, sr := range res.Status.Scripts {
		if sr.Output != "out of "+sr.Name+".script\n" || sr.End.Before(sr.Begin) || sr.Begin.IsZero() {
			t.Errorf("%s: output %q, %v..%v", sr.Name, sr.Output, sr.Begin, sr.End)
		}
		// Output is logged at error level whatever the exit status.
		if !e.log.has(slog.LevelError, sr.Name+": out of "+sr.Name+".script") {
			t.Errorf("%s: output not logged:\n%s", sr.Name, e.log.dump())
		}
	}
	st, err := e.r.Status("legacy", "takeip")
	if err != nil || !reflect.DeepEqual(st, res.Status) {
		t.Errorf("Status: %v %+v", err, st)
	}
}

func TestScriptStatuses(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.e64", "exit 64", 0o755)                     // 64+0: success
	e.script("02.disabled", "echo never", 0o644)             // not executable: skipped
	e.script("03.e77", "echo seventy-seven; exit 77", 0o755) // 64+EACCES: counts as disabled
	os.WriteFile(filepath.Join(e.dir, "04.noshebang.script"), []byte("garbage\n"), 0o755)
	os.Mkdir(filepath.Join(e.dir, "05.dir.script"), 0o755) // exec fails with EACCES
	e.script("06.fail", `case "$1" in fail) printf 'line1\nline2'; echo err >&2; exit 3;; esac`, 0o755)
	e.script("07.e65", `case "$1" in e65) exit 65;; esac`, 0o755)
	e.script("08.sig", `case "$1" in sig) kill -9 $$;; esac`, 0o755)
	e.script("09.e255", `case "$1" in e255) exit 255;; esac`, 0o755)
	e.script("10.last", "exit 0", 0o755)

	base := []string{"01.e64=0", "02.disabled=-8", "03.e77=-8", "04.noshebang=-8", "05.dir=-8"}
	for _, c := range []struct {
		event string
		code  int32
		last  string
	}{
		{"monitor", ResultOK, ""},
		{"fail", ResultFailed, "06.fail=3"},
		{"e65", ResultFailed, "07.e65=-1"},
		{"sig", ResultFailed, "08.sig=-4"},
		{"e255", ResultFailed, "09.e255=255"},
	} {
		res := e.run(c.event, 10*time.Second)
		want := append([]string(nil), base...)
		switch c.last {
		case "":
			want = append(want, "06.fail=0", "07.e65=0", "08.sig=0", "09.e255=0", "10.last=0")
		case "06.fail=3":
			want = append(want, c.last)
		case "07.e65=-1":
			want = append(want, "06.fail=0", c.last)
		case "08.sig=-4":
			want = append(want, "06.fail=0", "07.e65=0", c.last)
		case "09.e255=255":
			want = append(want, "06.fail=0", "07.e65=0", "08.sig=0", c.last)
		}
		if res.Code != c.code || !reflect.DeepEqual(statusNames(res.Status), want) {
			t.Errorf("%s: code %d %v, want %d %v", c.event, res.Code, statusNames(res.Status), c.code, want)
		}
	}
	st, _ := e.r.Status("legacy", "fail")
	if out := st.Scripts[len(st.Scripts)-1].Output; out != "line1\nline2err\n" {
		t.Errorf("output %q", out)
	}
	if !e.log.has(slog.LevelError, "06.fail: line2err") {
		t.Errorf("output lines not logged:\n%s", e.log.dump())
	}

	// A dangling symlink fails every event with -ENOENT.
	os.Symlink(filepath.Join(e.base, "nowhere"), filepath.Join(e.dir, "00.dangling.script"))
	res := e.run("monitor", 10*time.Second)
	if res.Code != ResultFailed || !reflect.DeepEqual(statusNames(res.Status), []string{"00.dangling=-2"}) {
		t.Errorf("dangling: %d %v", res.Code, statusNames(res.Status))
	}
}

func TestNoScriptsAndNoComponent(t *testing.T) {
	e := newTestEnv(t, nil)
	if _, err := e.r.Status("legacy", "monitor"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("never run: %v", err)
	}
	res := e.run("monitor", time.Second)
	if res.Code != 0 || res.Status == nil || len(res.Status.Scripts) != 0 {
		t.Errorf("empty dir: %+v", res)
	}
	if st, err := e.r.Status("legacy", "monitor"); err != nil || len(st.Scripts) != 0 {
		t.Errorf("empty status: %v %+v", err, st)
	}
	for _, comp := range []string{"nosuch", "", "..", "../events/legacy"} {
		res, err := e.r.Run(context.Background(), comp, "monitor", nil, time.Second, 0)
		if err != nil || res.Code != ResultNoDir {
			t.Errorf("component %q: %+v %v", comp, res, err)
		}
		if _, err := e.r.Status(comp, "monitor"); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("status of %q: %v", comp, err)
		}
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	e := newTestEnv(t, nil)
	killAtCleanup(t, e, "pids")
	e.script("01.hang", `echo $$ >> "$T/pids"; sleep 300 & echo $! >> "$T/pids"; echo started; wait`, 0o755)
	e.script("02.after", `echo ran >> "$T/after"`, 0o755)
	start := time.Now()
	res := e.run("monitor", 3*time.Second)
	took := time.Since(start)
	if res.Code != ResultTimedOut || !reflect.DeepEqual(statusNames(res.Status), []string{"01.hang=-110"}) {
		t.Fatalf("result %d %v", res.Code, statusNames(res.Status))
	}
	if took > 15*time.Second {
		t.Errorf("Run took %v with a 3s timeout", took)
	}
	if out := res.Status.Scripts[0].Output; out != "started\n" {
		t.Errorf("output so far %q", out)
	}
	pids := e.pids("pids")
	if len(pids) != 2 {
		t.Fatalf("pids %v", pids)
	}
	// The script and the child it forked both die (SIGTERM to the group).
	waitGone(t, pids, 20*time.Second)
	if e.read("after") != "" {
		t.Error("a script after the timed-out one ran")
	}
}

func TestTimeoutIgnoringSIGTERMGetsSIGKILL(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.KillGrace = 200 * time.Millisecond })
	killAtCleanup(t, e, "pids")
	e.script("01.stubborn", `trap '' TERM; echo $$ >> "$T/pids"; sh -c 'trap "" TERM; echo $$ >> "$T/pids"; while :; do sleep 1; done' & wait`, 0o755)
	res := e.run("monitor", 3*time.Second)
	if res.Code != ResultTimedOut {
		t.Fatalf("code %d", res.Code)
	}
	testutil.WaitFor(t, 20*time.Second, "both pids", func() error {
		if len(e.pids("pids")) < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	waitGone(t, e.pids("pids"), 20*time.Second)
}

func TestDebugScript(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.DebugScript = "debug.sh" })
	killAtCleanup(t, e, "pids")
	os.WriteFile(filepath.Join(e.base, "debug.sh"), []byte("#!/bin/sh\necho \"$1 $2\" > \"$T/debugged\"\necho \"debug of $1\"\necho second line\n"), 0o755)
	e.script("01.hang", `echo $$ >> "$T/pids"; sleep 300`, 0o755)
	res := e.run("startrecovery", 3*time.Second)
	if res.Code != ResultTimedOut {
		t.Fatalf("code %d", res.Code)
	}
	pid := e.pids("pids")[0]
	if got := e.waitFile("debugged"); got != fmt.Sprintf("%d startrecovery", pid) {
		t.Errorf("debug script got %q, want pid %d and the event", got, pid)
	}
	waitGone(t, []int{pid}, 20*time.Second)
	for _, l := range []string{fmt.Sprintf("event_debug: debug of %d", pid), "event_debug: second line"} {
		if !e.log.has(slog.LevelError, l) {
			t.Errorf("%q not logged:\n%s", l, e.log.dump())
		}
	}
}

func TestZeroTimeoutMeansNow(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.a", `echo ran > "$T/ran"`, 0o755)
	res := e.run("monitor", 0)
	if res.Code != ResultTimedOut || !reflect.DeepEqual(statusNames(res.Status), []string{"01.a=-110"}) {
		t.Errorf("result %d %v", res.Code, statusNames(res.Status))
	}
	if e.read("ran") != "" {
		t.Error("the script ran although the deadline had passed")
	}
}

func TestRunAll(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.fail", "exit 2", 0o755)
	e.script("02.ok", "exit 0", 0o755)
	e.script("03.fail", "exit 5", 0o755)
	res := e.run("monitor", 10*time.Second)
	if res.Code != ResultFailed || !reflect.DeepEqual(statusNames(res.Status), []string{"01.fail=2"}) {
		t.Errorf("default: %d %v", res.Code, statusNames(res.Status))
	}
	res, err := e.r.Run(context.Background(), "legacy", "monitor", nil, 10*time.Second, RunAll)
	if err != nil || res.Code != ResultFailed || res.Status.Summary != 5 ||
		!reflect.DeepEqual(statusNames(res.Status), []string{"01.fail=2", "02.ok=0", "03.fail=5"}) {
		t.Errorf("RunAll: %v %d %+v", err, res.Code, res.Status)
	}
}

// gate is a script body that records its pid, then waits until the file
// "open-<event>" appears in the base directory.
const gate = `echo $$ >> "$T/pids-$1"; while [ ! -e "$T/open-$1" ]; do sleep 0.02; done; echo "$1 done"`

func TestMonitorCancelledByNewEvent(t *testing.T) {
	e := newTestEnv(t, nil)
	killAtCleanup(t, e, "pids-monitor")
	e.script("01.gate", `case "$1" in monitor) `+gate+`;; esac`, 0o755)
	done := make(chan Result, 1)
	go func() {
		res, _ := e.r.Run(context.Background(), "legacy", "monitor", nil, time.Minute, 0)
		done <- res
	}()
	e.waitFile("pids-monitor")
	res := e.run("startup", time.Minute)
	if res.Code != ResultOK {
		t.Errorf("startup: %+v", res)
	}
	if mon := <-done; mon.Code != ResultCanceled || mon.Status != nil {
		t.Errorf("monitor: %+v", mon)
	}
	waitGone(t, e.pids("pids-monitor"), 20*time.Second)
	if _, err := e.r.Status("legacy", "monitor"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("a cancelled monitor was stored: %v", err)
	}
}

func TestMonitorCancelledWhileOtherEventRuns(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.gate", `case "$1" in startup) `+gate+`;; esac`, 0o755)
	done := make(chan Result, 1)
	go func() {
		res, _ := e.r.Run(context.Background(), "legacy", "startup", nil, time.Minute, 0)
		done <- res
	}()
	e.waitFile("pids-startup")
	if res := e.run("monitor", time.Minute); res.Code != ResultCanceled {
		t.Errorf("monitor while startup runs: %+v", res)
	}
	// Nothing waits for the running script: scripts call back into the
	// daemon (ctdb scriptstatus, script list ...) while they run.
	if _, err := e.r.Status("legacy", "startup"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("status while running: %v", err)
	}
	if _, err := e.r.ListScripts("legacy"); err == nil {
		t.Error("ListScripts without a data directory succeeded")
	}
	if err := e.r.SetScript("legacy", "01.gate", true); err != nil {
		t.Errorf("SetScript while running: %v", err)
	}
	if res, _ := e.r.Run(context.Background(), "other", "monitor", nil, time.Minute, 0); res.Code != ResultNoDir {
		t.Errorf("another component while running: %+v", res)
	}
	os.WriteFile(filepath.Join(e.base, "open-startup"), nil, 0o644)
	if res := <-done; res.Code != ResultOK || res.Status.Scripts[0].Output != "startup done\n" {
		t.Errorf("startup: %+v", res)
	}
	if res := e.run("monitor", time.Minute); res.Code != ResultOK {
		t.Errorf("monitor afterwards: %+v", res)
	}
}

func TestQueueIsFIFOAndSerial(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.log", `echo "start $1" >> "$T/log"; sleep 0.05; echo "end $1" >> "$T/log"`, 0o755)
	const n = 8
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := e.r.Run(context.Background(), "legacy", fmt.Sprintf("ev%d", i), nil, time.Minute, 0)
			if err != nil || res.Code != ResultOK {
				t.Errorf("ev%d: %+v %v", i, res, err)
			}
		}(i)
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(e.read("log")), "\n")
	if len(lines) != 2*n {
		t.Fatalf("log:\n%s", e.read("log"))
	}
	for i := 0; i < len(lines); i += 2 {
		ev := strings.TrimPrefix(lines[i], "start ")
		if lines[i+1] != "end "+ev {
			t.Fatalf("events overlapped:\n%s", e.read("log"))
		}
	}
}

func TestBackgroundChildHoldingOutputDoesNotBlock(t *testing.T) {
	e := newTestEnv(t, nil)
	killAtCleanup(t, e, "pids")
	e.script("01.daemon", `sleep 300 & echo $! >> "$T/pids"; echo early; exit 0`, 0o755)
	res := e.run("startup", time.Minute)
	if res.Code != ResultOK || res.Status.Scripts[0].Output != "early\n" {
		t.Errorf("result %d %+v", res.Code, res.Status)
	}
	// A child left behind by a successful script is not ours to kill.
	if pids := e.pids("pids"); len(pids) != 1 || !alive(pids[0]) {
		t.Errorf("background child %v", pids)
	}
}

func TestOutputLimit(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxOutput = 10 })
	e.script("01.chatty", `i=0; while [ $i -lt 20000 ]; do echo 0123456789; i=$((i+1)); done`, 0o755)
	res := e.run("monitor", time.Minute)
	if res.Code != ResultOK || res.Status.Scripts[0].Output != "0123456789" {
		t.Errorf("result %d %q", res.Code, res.Status.Scripts[0].Output)
	}
}

func TestCallerContextDropsQueuedEvent(t *testing.T) {
	e := newTestEnv(t, nil)
	e.script("01.gate", `case "$1" in first) `+gate+`;; second) echo ran >> "$T/second";; esac`, 0o755)
	go e.r.Run(context.Background(), "legacy", "first", nil, time.Minute, 0)
	e.waitFile("pids-first")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.r.Run(ctx, "legacy", "second", nil, time.Minute, 0)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	os.WriteFile(filepath.Join(e.base, "open-first"), nil, 0o644)
	if res := e.run("third", time.Minute); res.Code != ResultOK {
		t.Errorf("third: %+v", res)
	}
	if e.read("second") != "" {
		t.Error("a dropped event ran")
	}
}

func TestCloseWhileScriptRuns(t *testing.T) {
	e := newTestEnv(t, nil)
	killAtCleanup(t, e, "pids-startup")
	e.script("01.gate", gate, 0o755)
	type out struct {
		res Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := e.r.Run(context.Background(), "legacy", "startup", nil, time.Minute, 0)
		done <- out{res, err}
	}()
	e.waitFile("pids-startup")
	if err := e.r.Close(); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.res.Code != ResultCanceled || !errors.Is(o.err, ErrClosed) {
		t.Errorf("Run cut short by Close: %+v", o)
	}
	// Close waited for the script: it is gone already.
	for _, p := range e.pids("pids-startup") {
		if alive(p) {
			t.Errorf("pid %d outlived Close", p)
		}
	}
	if _, err := e.r.Run(context.Background(), "legacy", "monitor", nil, time.Second, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
}

func TestCloseKillsTimedOutScriptAndDebug(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.DebugScript = "debug.sh"
		c.KillGrace = time.Hour
	})
	killAtCleanup(t, e, "pids")
	os.WriteFile(filepath.Join(e.base, "debug.sh"), []byte("#!/bin/sh\necho $$ >> \"$T/pids\"\nsleep 300\n"), 0o755)
	e.script("01.hang", `trap '' TERM; echo $$ >> "$T/pids"; while :; do sleep 1; done`, 0o755)
	if res := e.run("monitor", 2*time.Second); res.Code != ResultTimedOut {
		t.Fatalf("code %d", res.Code)
	}
	testutil.WaitFor(t, 20*time.Second, "debug script started", func() error {
		if len(e.pids("pids")) < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	e.r.Close()
	for _, p := range e.pids("pids") {
		if alive(p) {
			t.Errorf("pid %d outlived Close", p)
		}
	}
}

func TestMetrics(t *testing.T) {
	set := metrics.NewSet()
	e := newTestEnv(t, func(c *Config) { c.Metrics = set })
	e.script("01.a", `case "$1" in fail) exit 1;; hang) sleep 300;; esac`, 0o755)
	e.script("02.off", "exit 0", 0o644)
	e.run("monitor", time.Minute)
	e.run("monitor", time.Minute)
	e.run("fail", time.Minute)
	e.run("whatever", time.Minute)
	e.run("startup", 0)
	var b strings.Builder
	set.WritePrometheus(&b)
	out := b.String()
	for _, want := range []string{
		`ctdb_events_runs_total{component="legacy",event="monitor"} 2`,
		`ctdb_events_runs_total{component="legacy",event="other"} 2`,
		`ctdb_events_failures_total{component="legacy",event="other"} 1`,
		`ctdb_events_timeouts_total{component="legacy",event="startup"} 1`,
		`ctdb_events_script_runs_total{event="monitor",script="01.a"} 2`,
		`ctdb_events_script_failures_total{event="other",script="01.a"} 1`,
		`ctdb_events_script_timeouts_total{event="startup",script="01.a"} 1`,
		`ctdb_events_duration_seconds_bucket{component="legacy",event="monitor",vmrange=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if strings.Contains(out, `script="02.off"`) {
		t.Errorf("a disabled script counted as run:\n%s", out)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{EtcDir: "rel"}, "EtcDir"},
		{Config{DataDir: "rel"}, "DataDir"},
		{Config{MaxOutput: -1}, "MaxOutput"},
		{Config{KillGrace: -1}, "KillGrace"},
		{Config{DebugTimeout: -1}, "DebugTimeout"},
		{Config{Env: []string{"NOEQUALS"}}, "Env[0]"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.cfg.EtcDir != DefaultEtcDir || r.cfg.DataDir != DefaultDataDir || r.cfg.MaxOutput != DefaultMaxOutput {
		t.Errorf("defaults %+v", r.cfg)
	}
	var base, path int
	for _, kv := range r.env {
		if strings.HasPrefix(kv, "CTDB_BASE=") {
			base++
		}
		if strings.HasPrefix(kv, "PATH=") {
			path++
		}
	}
	if base != 1 || path != 1 {
		t.Errorf("env has %d CTDB_BASE and %d PATH", base, path)
	}
}
