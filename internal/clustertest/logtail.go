package clustertest

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rctdb/rctdb/internal/logging"
)

// tailLines is how many of the last log lines a failed test keeps in a
// file, shownLines how many of them it prints (CI keeps only the output).
const (
	tailLines  = 2000
	shownLines = 40
)

// logTail keeps the last lines an in-process cluster logged at NOTICE and
// above, whatever the test's own log level, so that a test that fails on
// a loaded CI machine says what the nodes were doing.
type logTail struct {
	mu    sync.Mutex
	lines []string
	next  int
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		if len(l.lines) < tailLines {
			l.lines = append(l.lines, line)
			continue
		}
		l.lines[l.next] = line
		l.next = (l.next + 1) % tailLines
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for i := range l.lines {
		b.WriteString(l.lines[(l.next+i)%len(l.lines)])
		b.WriteByte('\n')
	}
	return b.String()
}

// tails holds one logTail per running test.
var tails sync.Map // testing.TB -> *logTail

// tailOf returns the test's log tail, made on first use, and written to a
// file named in the test's output if the test fails.
func tailOf(t testing.TB) *logTail {
	if v, ok := tails.Load(t); ok {
		return v.(*logTail)
	}
	v, loaded := tails.LoadOrStore(t, &logTail{})
	tail := v.(*logTail)
	if !loaded {
		t.Cleanup(func() {
			tails.Delete(t)
			if !t.Failed() {
				return
			}
			name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
			path := filepath.Join(os.TempDir(), fmt.Sprintf("rctdb-failed-%s-%d.log", name, os.Getpid()))
			if err := os.WriteFile(path, []byte(tail.String()), 0o644); err != nil {
				t.Logf("keep the cluster's log: %v", err)
				return
			}
			all := strings.Split(strings.TrimRight(tail.String(), "\n"), "\n")
			t.Logf("the cluster's last %d log lines (NOTICE and above) are in %s; the last %d:\n%s",
				tailLines, path, min(shownLines, len(all)), strings.Join(all[max(0, len(all)-shownLines):], "\n"))
		})
	}
	return tail
}

// tailHandler is the handler that feeds the test's log tail.
func tailHandler(t testing.TB) slog.Handler {
	lv := new(slog.LevelVar)
	lv.Set(logging.LevelNotice)
	return logging.NewHandler(tailOf(t), lv)
}
