package daemonize

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPIDFileWrittenAndRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "ctdbd.pid")
	p, err := CreatePIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("pid file holds %q, want %q", got, want)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file still there after Remove: %v", err)
	}
}

// A stale file (its daemon killed) is taken over, and a longer old pid
// does not leave digits behind.
func TestPIDFileStaleTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctdbd.pid")
	if err := os.WriteFile(path, []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := CreatePIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Remove()
	b, _ := os.ReadFile(path)
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pid file holds %q", b)
	}
}

func TestPIDFileHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctdbd.pid")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"=hold:"+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("holder says %q", line)
	}

	_, err = CreatePIDFile(path)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second CreatePIDFile: %v, want a HeldError", err)
	}
	if held.PID != cmd.Process.Pid || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("error %q (pid %d) does not name the pid file and holder %d", err, held.PID, cmd.Process.Pid)
	}
	b, _ := os.ReadFile(path)
	if string(b) != strconv.Itoa(cmd.Process.Pid)+"\n" {
		t.Fatalf("refused daemon changed the pid file: %q", b)
	}

	// Once the holder is gone (without removing its file, as if killed)
	// the file can be taken.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	p, err := CreatePIDFile(path)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	p.Remove()
}

func TestBackgroundReady(t *testing.T) {
	t.Setenv(roleEnv, "ready")
	pid, err := Background(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon is in a session of its own.
	if sid, err := unix.Getsid(pid); err == nil && sid != pid {
		t.Errorf("daemon %d is in session %d, not its own", pid, sid)
	}
	// Released, but still this process's child (a real ctdbd's parent
	// exits at once): it ends by itself.
	waited := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == nil && ws.ExitStatus() != 0 {
			err = fmt.Errorf("exit status %d", ws.ExitStatus())
		}
		waited <- err
	}()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("test daemon: %v", err)
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("test daemon still runs after 10s")
	}
}

func TestBackgroundReportsFailure(t *testing.T) {
	t.Setenv(roleEnv, "fail")
	_, err := Background(nil)
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("Background: %v, want a StartError", err)
	}
	if se.ExitCode != 7 || se.Reason != "pid file is held; second line" {
		t.Fatalf("StartError %+v", se)
	}
}

func TestBackgroundDaemonDiesSilently(t *testing.T) {
	t.Setenv(roleEnv, "silent")
	_, err := Background(nil)
	var se *StartError
	if !errors.As(err, &se) || se.ExitCode != 5 || !strings.Contains(se.Reason, "without a report") {
		t.Fatalf("Background: %v, want a StartError with exit status 5", err)
	}
}

func TestCheckSocketFree(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	if err := CheckSocketFree(path); err != nil {
		t.Fatalf("no socket: %v", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSocketFree(path); !errors.Is(err, ErrSocketAnswers) {
		t.Fatalf("live socket: %v", err)
	}
	// A socket file nobody listens on any more is stale.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if err := CheckSocketFree(path); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
}
