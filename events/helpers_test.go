package events

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/testutil"
)

// logRecorder is a slog handler that keeps the records.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRec
}

type logRec struct {
	level slog.Level
	msg   string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, logRec{r.Level, r.Message})
	l.mu.Unlock()
	return nil
}

// has reports whether a record at level has message msg.
func (l *logRecorder) has(level slog.Level, msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.level == level && r.msg == msg {
			return true
		}
	}
	return false
}

func (l *logRecorder) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		fmt.Fprintf(&b, "%v %s\n", r.level, r.msg)
	}
	return b.String()
}

// testEnv is a Runner over a temporary CTDB_BASE with an empty
// events/legacy directory.
type testEnv struct {
	t    testing.TB
	base string
	dir  string // events/legacy
	log  *logRecorder
	r    *Runner
}

func newTestEnv(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "events", "legacy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, base: base, dir: dir, log: &logRecorder{}}
	cfg := Config{
		EtcDir:    base,
		DataDir:   filepath.Join(base, "share", "events"),
		Env:       []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "T=" + base},
		Logger:    slog.New(e.log),
		KillGrace: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// script writes events/legacy/<name>.script with a shell body. $T is the
// base directory in the scripts' environment.
func (e *testEnv) script(name, body string, mode os.FileMode) {
	e.t.Helper()
	p := filepath.Join(e.dir, name+".script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) run(event string, timeout time.Duration, args ...string) Result {
	e.t.Helper()
	res, err := e.r.Run(context.Background(), "legacy", event, args, timeout, 0)
	if err != nil {
		e.t.Fatalf("Run %s: %v", event, err)
	}
	return res
}

func (e *testEnv) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(e.base, name))
	return string(b)
}

// waitFile waits until the base's file name exists and is not empty.
func (e *testEnv) waitFile(name string) string {
	e.t.Helper()
	var s string
	testutil.WaitFor(e.t, 20*time.Second, name, func() error {
		if s = strings.TrimSpace(e.read(name)); s == "" {
			return fmt.Errorf("%s empty", name)
		}
		return nil
	})
	return s
}

// pids parses a file of pids written by scripts and kills their process
// groups at cleanup, in case a test fails before they are gone.
func (e *testEnv) pids(name string) []int {
	e.t.Helper()
	var out []int
	for _, f := range strings.Fields(e.read(name)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			e.t.Fatalf("%s: %v", name, err)
		}
		out = append(out, pid)
	}
	return out
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits until none of pids is alive.
func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	testutil.WaitFor(t, within, "processes gone", func() error {
		for _, p := range pids {
			if alive(p) {
				return fmt.Errorf("pid %d alive", p)
			}
		}
		return nil
	})
}

// killAtCleanup kills, when the test ends, the processes listed in file
// that are still alive and were started by this test (their environment
// holds T=<base>), in case the test failed before they were gone.
func killAtCleanup(t *testing.T, e *testEnv, file string) {
	t.Cleanup(func() {
		for _, f := range strings.Fields(e.read(file)) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid <= 1 || !alive(pid) {
				continue
			}
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err == nil && strings.Contains(string(env), "T="+e.base+"\x00") {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func statusNames(s *Status) []string {
	var n []string
	for _, sr := range s.Scripts {
		n = append(n, fmt.Sprintf("%s=%d", sr.Name, sr.Status))
	}
	return n
}
