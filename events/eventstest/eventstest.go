// Package eventstest builds CTDB_BASE directories for event daemon tests
// and runs, on them, either Debian's ctdb-eventd 4.17 in test mode or our
// events.Server, so that tests can drive both with the same tools and
// compare what they print. Everything a test starts or creates is removed
// by t.Cleanup, also when the test fails.
package eventstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events"
)

// Paths of Debian's ctdb 4.17 package.
const (
	RealEventd  = "/usr/libexec/ctdb/ctdb-eventd"
	RealTool    = "/usr/bin/ctdb"
	PackagedDir = "/usr/share/ctdb"
	Functions   = "/etc/ctdb/functions"
)

// Base is a CTDB_BASE directory for one event daemon in test mode:
// events/legacy, run/, share -> /usr/share/ctdb, var/scripts, functions.
type Base struct {
	Dir string
	// Env is the environment of the daemon, its scripts and the tools.
	Env []string
	// DebugScript is ctdb.conf's [event] debug script ("" for none).
	DebugScript string
}

// NewBase lays out a base in a new temporary directory; debugScript, if
// not empty, is written as the [event] debug script (relative to the
// base).
func NewBase(t testing.TB, debugScript string) *Base {
	t.Helper()
	dir := t.TempDir()
	b := &Base{Dir: dir, DebugScript: debugScript}
	for _, d := range []string{"events/legacy", "run", "var/scripts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(PackagedDir, filepath.Join(dir, "share")); err != nil {
		t.Fatal(err)
	}
	functions, err := os.ReadFile(Functions)
	if err != nil {
		t.Fatalf("Debian's ctdb package: %v", err)
	}
	b.WriteFile(t, "functions", string(functions), 0o644)
	conf := "[logging]\n\tlocation = file:" + filepath.Join(dir, "log.eventd") + "\n"
	if debugScript != "" {
		conf += "[event]\n\tdebug script = " + debugScript + "\n"
	}
	b.WriteFile(t, "ctdb.conf", conf, 0o644)
	b.Env = []string{
		"CTDB_TEST_MODE=yes",
		"CTDB_BASE=" + dir,
		"CTDB_SCRIPT_VARDIR=" + filepath.Join(dir, "var/scripts"),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"TZ=UTC",
	}
	t.Cleanup(func() { b.killHung() })
	return b
}

// WriteFile writes a file of the base (relative path) with mode.
func (b *Base) WriteFile(t testing.TB, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(b.Dir, rel)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// Script writes events/legacy/<name>.script: "#!/bin/sh\n" + body.
func (b *Base) Script(t testing.TB, name, body string, mode os.FileMode) {
	t.Helper()
	b.ComponentScript(t, "legacy", name, body, mode)
}

// ComponentScript writes events/<component>/<name>.script, creating the
// component's directory.
func (b *Base) ComponentScript(t testing.TB, component, name, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(b.Dir, "events", component), 0o755); err != nil {
		t.Fatal(err)
	}
	b.WriteFile(t, "events/"+component+"/"+name+".script", "#!/bin/sh\n"+body+"\n", mode)
}

// Hang is a script body that records its pid (so that the test's
// cleanup can kill its process group), says so, and sleeps in a child.
func Hang(name string) string {
	return `echo $$ >> "$CTDB_BASE/hung.pids"; echo "` + name + ` hanging"; sleep 120 & wait`
}

// Link enables a packaged script as `ctdb event script enable` does: a
// symlink to /usr/share/ctdb/events/legacy/<name>.script.
func (b *Base) Link(t testing.TB, name string) {
	t.Helper()
	target := filepath.Join(PackagedDir, "events/legacy", name+".script")
	if err := os.Symlink(target, filepath.Join(b.Dir, "events/legacy", name+".script")); err != nil {
		t.Fatal(err)
	}
}

// Socket is the event daemon's socket of the base.
func (b *Base) Socket() string { return filepath.Join(b.Dir, "run/eventd.socket") }

// killHung kills the process groups of the Hang scripts still running
// (ctdb-eventd 4.17 leaves a timed-out script running when no debug
// script is configured). A group is killed only while its leader is
// still one of this base's scripts, so a recycled pid is never hit.
func (b *Base) killHung() {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "hung.pids"))
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(b.Dir)) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// StartReal runs Debian's ctdb-eventd on the base (test mode, -P this
// process, -S a pipe) and waits until it reports that it started.
func StartReal(t testing.TB, b *Base) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(RealEventd, "-P", strconv.Itoa(os.Getpid()), "-S", "3")
	cmd.Env = b.Env
	cmd.Dir = b.Dir
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatalf("start %s: %v", RealEventd, err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	r.SetReadDeadline(time.Now().Add(20 * time.Second))
	var ready [4]byte
	if n, err := r.Read(ready[:]); err != nil || n != 4 || ready != [4]byte{} {
		log, _ := os.ReadFile(filepath.Join(b.Dir, "log.eventd"))
		t.Fatalf("%s did not start (%d bytes, %v):\n%s", RealEventd, n, err, log)
	}
}

// StartOurs runs an events.Server on the base, configured as ctdb-eventd
// would be by the base's ctdb.conf, and returns its Runner.
func StartOurs(t testing.TB, b *Base) *events.Runner {
	t.Helper()
	r, err := events.New(events.Config{
		EtcDir:      b.Dir,
		DataDir:     filepath.Join(b.Dir, "share/events"),
		DebugScript: b.DebugScript,
		Env:         b.Env,
		KillGrace:   2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := events.Listen(b.Socket())
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	s := events.NewServer(r, nil)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, events.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		r.Close()
	})
	return r
}

// Output is what a command printed and its exit status.
type Output struct {
	Stdout, Stderr string
	RC             int
}

func (o Output) String() string {
	return fmt.Sprintf("stdout %q stderr %q rc %d", o.Stdout, o.Stderr, o.RC)
}

// Tool runs Debian's ctdb with the base's environment (plus extra
// NAME=VALUE entries).
func (b *Base) Tool(t testing.TB, extraEnv []string, args ...string) Output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, RealTool, args...)
	cmd.Env = append(append([]string(nil), b.Env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	o := Output{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		o.RC = ee.ExitCode()
	case err != nil:
		t.Fatalf("ctdb %q: %v", args, err)
	}
	return o
}
