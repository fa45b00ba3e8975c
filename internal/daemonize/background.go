package daemonize

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childEnv marks the detached process and names its report pipe's fd.
const childEnv = "RCTDB_DAEMON_REPORT_FD"

// readyLine is what a daemon that started writes to its report pipe;
// anything else is the reason it could not start.
const readyLine = "ready"

// StartError is a daemon that did not start: its reason and exit status.
type StartError struct {
	// Reason is what the daemon reported, or a description of how it
	// ended when it reported nothing.
	Reason string
	// ExitCode is the daemon's exit status (1 if unknown).
	ExitCode int
}

func (e *StartError) Error() string { return e.Reason }

// Background starts this program again (os.Executable) with args and
// this process's environment, detached: in a session of its own, its
// standard input, output and error on /dev/null. It returns the daemon's
// pid once the daemon called Reporter.Ready, or a *StartError when it
// reported a failure or exited first.
func Background(args []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("background: find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("background: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	// The pipe's writing end is the child's fd 3 (the first ExtraFile).
	cmd.Env = append(os.Environ(), childEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the child holds the only writing end now
	if err != nil {
		return 0, fmt.Errorf("background: start %s: %w", exe, err)
	}
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	if line == readyLine {
		pid := cmd.Process.Pid
		cmd.Process.Release()
		return pid, nil
	}
	// A failed daemon exits right after its report; its status is ours.
	werr := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code <= 0 {
		code = 1
	}
	if line == "" {
		line = fmt.Sprintf("the daemon (pid %d) ended during startup without a report: %v; see its log", cmd.Process.Pid, werr)
	}
	return 0, &StartError{Reason: line, ExitCode: code}
}

// Reporter is the detached daemon's end of the report pipe. Its methods
// do nothing in a process that Background did not start.
type Reporter struct {
	f *os.File
}

// IsChild reports whether this process is the daemon Background started,
// without taking the report pipe as Detached does.
func IsChild() bool {
	_, ok := os.LookupEnv(childEnv)
	return ok
}

// Detached reports whether this process is the daemon Background started,
// and returns its Reporter. It removes the marker from the environment so
// that the processes the daemon starts (event scripts) see none, and keeps
// the pipe from them, whose open end would keep Background waiting.
func Detached() (bool, *Reporter) {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return false, &Reporter{}
	}
	os.Unsetenv(childEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return true, &Reporter{}
	}
	syscall.CloseOnExec(fd)
	return true, &Reporter{f: os.NewFile(uintptr(fd), "daemon report pipe")}
}

// Ready tells the waiting Background that the daemon serves.
func (r *Reporter) Ready() { r.send(readyLine) }

// Failed tells the waiting Background why the daemon could not start;
// the daemon should exit right after.
func (r *Reporter) Failed(err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if msg == readyLine || msg == "" {
		msg = "failed: " + msg
	}
	r.send(msg)
}

func (r *Reporter) send(line string) {
	if r.f == nil {
		return
	}
	r.f.WriteString(line + "\n")
	r.f.Close()
	r.f = nil
}

// ErrSocketAnswers is wrapped by CheckSocketFree when a daemon answers on
// the socket.
var ErrSocketAnswers = errors.New("a daemon answers on it")

// CheckSocketFree fails if a process accepts connections on the Unix
// socket at path. A stale socket file (nobody listening) is no obstacle:
// the daemon replaces it.
func CheckSocketFree(path string) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("socket %s: %w", path, ErrSocketAnswers)
}
