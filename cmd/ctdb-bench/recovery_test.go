package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStrayProcesses: a process left with CTDB_BASE under a run's
// directory (what a real ctdbd helper carries) or naming a file there on
// its command line (rctdb's ctdbd) is found and killed; others are not.
func TestStrayProcesses(t *testing.T) {
	dir := t.TempDir()
	start := func(env string, args ...string) *exec.Cmd {
		cmd := exec.Command("sleep", args...)
		cmd.Env = append(os.Environ(), env)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	helper := start("CTDB_BASE="+filepath.Join(dir, "ctdbd/node0"), "60")
	other := start("CTDB_BASE=/elsewhere/node0", "61")
	done := make(chan error, 1)
	go func() { done <- helper.Wait() }()
	strays := strayProcesses(dir)
	if len(strays) != 1 || !strings.Contains(strays[0], "sleep 60") {
		t.Fatalf("strays %q, want the one sleep 60", strays)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stray was not killed")
	}
	if err := syscall.Kill(other.Process.Pid, 0); err != nil {
		t.Fatalf("a process of another directory was touched: %v", err)
	}
	if s := strayProcesses(dir); len(s) != 0 {
		t.Fatalf("after the kill: %q", s)
	}
}
