package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStampedWriter: each whole line gets one time stamp, however the
// writes split it.
func TestStampedWriter(t *testing.T) {
	var b strings.Builder
	w := &stampedWriter{w: &b}
	for _, p := range []string{"first\nsec", "ond", " line\nthird\n"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("write %q: %d %v", p, n, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{"first", "second line", "third"}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, l := range lines {
		stamp, text, ok := strings.Cut(l, " ")
		if _, err := time.Parse(stampLayout, stamp); !ok || err != nil || text != want[i] {
			t.Errorf("line %q: want a time and %q", l, want[i])
		}
	}
}

// TestLastHoldStart: the latest "Just finished a recovery" of any node's
// log is when ctdbd last began to hold recoveries back.
func TestLastHoldStart(t *testing.T) {
	rc := &rigCtdbd{dir: t.TempDir(), nodeAddrs: []string{"a", "b"}}
	logs := []string{
		"2026-01-02T03:04:05.000000Z Recovery has finished\n" +
			"2026-01-02T03:04:06.500000Z Just finished a recovery. New recoveries will now be suppressed for the rerecovery timeout (10 seconds)\n",
		"2026-01-02T03:04:07.250000Z Just finished a recovery. New recoveries will now be suppressed for the rerecovery timeout (10 seconds)\n" +
			"2026-01-02T03:04:08.000000Z Takeover run starting\n",
	}
	for k, l := range logs {
		if err := os.MkdirAll(rc.nodeDir(k), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rc.nodeDir(k), "stderr"), []byte(l), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rc.lastHoldStart()
	if want := time.Date(2026, 1, 2, 3, 4, 7, 250_000_000, time.UTC); err != nil || !got.Equal(want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	if err := os.WriteFile(filepath.Join(rc.nodeDir(1), "stderr"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rc.nodeDir(0), "stderr"), []byte("no recovery yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.lastHoldStart(); err == nil {
		t.Fatal("no error without a hold in the logs")
	}
}
