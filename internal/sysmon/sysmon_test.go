package sysmon

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// runHelper runs the test binary as the helper with env added to a
// GODEBUG-free environment and returns its report and its pid.
func runHelper(t *testing.T, env ...string) (map[string]string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(without(os.Environ(), "GODEBUG"), helperEnv+"=1")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	report := map[string]string{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			report[k] = v
		}
	}
	return report, cmd.Process.Pid
}

func TestKeepAwakeRestartsInPlaceWithTheSetting(t *testing.T) {
	report, pid := runHelper(t)
	if got := report["pid"]; got != strconv.Itoa(pid) {
		t.Errorf("pid after KeepAwake = %s, want the started process's %d", got, pid)
	}
	if got := report["runtime"]; got != Setting {
		t.Errorf("GODEBUG the runtime read = %q, want %q", got, Setting)
	}
	if got := report["children"]; got != "<unset>" {
		t.Errorf("GODEBUG for children = %q, want it unset as the caller had it", got)
	}
	if report["marker"] != "false" {
		t.Errorf("marker still in the environment")
	}
}

func TestKeepAwakeKeepsTheCallersGODEBUG(t *testing.T) {
	report, _ := runHelper(t, "GODEBUG=madvdontneed=1")
	if got, want := report["runtime"], "madvdontneed=1,"+Setting; got != want {
		t.Errorf("GODEBUG the runtime read = %q, want %q", got, want)
	}
	if got := report["children"]; got != "madvdontneed=1" {
		t.Errorf("GODEBUG for children = %q, want the caller's", got)
	}
}

func TestKeepAwakeLeavesACallersSchedtraceAlone(t *testing.T) {
	report, _ := runHelper(t, "GODEBUG=schedtrace=60000")
	if got := report["runtime"]; got != "schedtrace=60000" {
		t.Errorf("GODEBUG the runtime read = %q, want the caller's schedtrace only", got)
	}
	if got := report["children"]; got != "schedtrace=60000" {
		t.Errorf("GODEBUG for children = %q, want the caller's", got)
	}
}

func TestKeepAwakeKeepsAnEmptyGODEBUGSet(t *testing.T) {
	report, _ := runHelper(t, "GODEBUG=")
	if got := report["runtime"]; got != Setting {
		t.Errorf("GODEBUG the runtime read = %q, want %q", got, Setting)
	}
	if got := report["children"]; got != "" {
		t.Errorf("GODEBUG for children = %q, want it set and empty", got)
	}
}
