package events

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one running script (or debug script): a process that leads its
// own process group, with stdout and stderr on one pipe. One goroutine
// owns a proc; it ends it with finish, or with killGroup then finish.
type proc struct {
	cmd *exec.Cmd
	out *capture
	// exited is closed when the process has exited; it is not reaped
	// yet, so its pid, and the process group id, stay reserved until
	// finish: signalling the group is safe until then.
	exited chan struct{}
}

// execRetries bounds the retries of an exec that fails with ETXTBSY: a
// script written just before it runs can still be open for writing in a
// child that another goroutine of this process is forking.
const execRetries = 20

// startProc starts path with argv in its own process group. It retries
// ETXTBSY until deadline (or briefly when the deadline is zero).
func startProc(path string, argv, env []string, maxOutput int, deadline time.Time) (*proc, error) {
	for attempt := 0; ; attempt++ {
		p, err := tryStart(path, argv, env, maxOutput)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt >= execRetries {
			return p, err
		}
		wait := time.Duration(attempt+1) * 5 * time.Millisecond
		if !deadline.IsZero() && time.Now().Add(wait).After(deadline) {
			return nil, err
		}
		time.Sleep(wait)
	}
}

func tryStart(path string, argv, env []string, maxOutput int) (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe for %s: %w", path, err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         "/",
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, out: newCapture(r, maxOutput), exited: make(chan struct{})}
	go p.awaitExit()
	return p, nil
}

// awaitExit closes p.exited when the process exits, leaving it a zombie
// for finish to reap.
func (p *proc) awaitExit() {
	pid := p.cmd.Process.Pid
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	close(p.exited)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// killGroup signals the process group; the group cannot have been
// recycled while the leader is unreaped.
func (p *proc) killGroup(sig syscall.Signal) {
	syscall.Kill(-p.pid(), sig)
}

// finish waits for the process to exit, reaps it and returns its wait
// status with the output captured since start (or since takeOutput),
// including what was in the pipe when it exited, without waiting for
// children that still hold the pipe.
func (p *proc) finish() (syscall.WaitStatus, []byte) {
	<-p.exited
	out := p.out.take()
	p.out.close()
	p.cmd.Wait()
	// A process reaped behind our back (it cannot be, but the status
	// would be lost) counts as killed.
	ws := syscall.WaitStatus(syscall.SIGKILL)
	if p.cmd.ProcessState != nil {
		ws, _ = p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	}
	return ws, out
}

// takeOutput returns the output so far; what the process writes later is
// read and dropped, so that it never blocks on a full pipe.
func (p *proc) takeOutput() []byte {
	out := p.out.take()
	p.out.discard()
	return out
}

// exitStatus maps a wait status as ctdb's run_proc does: a signal is
// -EINTR; exit codes 64 to 254 are 64+errno of a failed exec, so they
// become -errno (and exit 64 is success, EACCES is "disabled").
func exitStatus(ws syscall.WaitStatus) int32 {
	if ws.Signaled() {
		return ScriptSignaled
	}
	code := ws.ExitStatus()
	if code >= 64 && code < 255 {
		return errnoStatus(syscall.Errno(code - 64))
	}
	return int32(code)
}

// errnoStatus is a script status for an errno; EACCES means disabled.
func errnoStatus(errno syscall.Errno) int32 {
	if errno == syscall.EACCES {
		return ScriptDisabled
	}
	return -int32(errno)
}

// capture reads a pipe into a buffer. Its reading goroutine owns buf
// while it runs; take stops it and hands buf over.
type capture struct {
	f    *os.File
	max  int
	keep bool
	buf  []byte
	done chan struct{}
}

func newCapture(f *os.File, max int) *capture {
	c := &capture{f: f, max: max, keep: true}
	c.start()
	return c
}

func (c *capture) start() {
	c.done = make(chan struct{})
	go c.loop()
}

func (c *capture) loop() {
	defer close(c.done)
	tmp := make([]byte, 4096)
	for {
		n, err := c.f.Read(tmp)
		c.add(tmp[:n])
		if err != nil {
			return
		}
	}
}

func (c *capture) add(b []byte) {
	if !c.keep || len(b) == 0 {
		return
	}
	if room := c.max - len(c.buf); room < len(b) {
		b = b[:max(room, 0)]
	}
	c.buf = append(c.buf, b...)
}

// pipeSize is Linux's default pipe capacity.
const pipeSize = 64 << 10

// pastDeadline wakes a blocked Read at once; the pipe keeps its data.
var pastDeadline = time.Unix(1, 0)

// take stops the reader, drains what the pipe holds without blocking and
// returns everything read since the last take.
func (c *capture) take() []byte {
	c.f.SetReadDeadline(pastDeadline)
	<-c.done
	if raw, err := c.f.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			// A child left writing as fast as we read must not keep us
			// here: read at most what the buffer and a full pipe hold.
			tmp := make([]byte, 4096)
			for total := 0; total <= c.max+pipeSize; {
				n, err := syscall.Read(int(fd), tmp)
				if n <= 0 || err != nil {
					return
				}
				c.add(tmp[:n])
				total += n
			}
		})
	}
	out := c.buf
	c.buf = nil
	return out
}

// discard restarts the reader, dropping what it reads.
func (c *capture) discard() {
	c.keep = false
	c.f.SetReadDeadline(time.Time{})
	c.start()
}

// close stops the reader and closes the pipe.
func (c *capture) close() {
	c.f.SetReadDeadline(pastDeadline)
	<-c.done
	c.f.Close()
}
