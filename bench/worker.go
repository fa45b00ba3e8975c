package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Worker processes. A client that locks records must be a process of its
// own: fcntl locks belong to a process, and libtdb opens a file once per
// process, so two lockers in one process would never contend where smbd
// processes do. The parent re-executes the ctdb-bench binary in worker
// mode (Params.Exe with the argument "worker") and talks to it in JSON
// lines:
//
//	parent -> worker: {"role": R, "spec": {...}}   what to do
//	worker -> parent: {"ready": {...}}             connected, attached; may carry info (an address)
//	parent -> worker: {"go": {...}}                start now; may carry info (peers)
//	worker -> parent: {"result": {...}, "err": E}  done
//
// A worker whose stdin closes before "go" exits, and each dies with its
// parent (PR_SET_PDEATHSIG), so that no worker outlives a run.
//
// The parent itself never opens a TDB file: every step that attaches a
// database (the fetch ring, the checks of the counters) runs in a worker.
// libtdb probes robust mutexes the first time it opens a file with
// TDB_MUTEX_LOCKING (the real ctdbd's databases) and afterwards restores
// the SIGCHLD handler without SA_ONSTACK and SA_SIGINFO; in a Go process
// the next child that exits then kills the process ("non-Go code set up
// signal handler without SA_ONSTACK flag"). Workers start no children.

// WorkerArg is the argument that puts the ctdb-bench binary in worker mode.
const WorkerArg = "worker"

type workerMsg struct {
	Role   string          `json:"role,omitempty"`
	Spec   json.RawMessage `json:"spec,omitempty"`
	Ready  json.RawMessage `json:"ready,omitempty"`
	Go     json.RawMessage `json:"go,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Err    string          `json:"err,omitempty"`
}

// workerConn is a worker's side of the conversation.
type workerConn struct {
	in  *bufio.Scanner
	out *json.Encoder
}

// ready tells the parent the worker is set up and waits for "go"; it
// returns what the parent sent with it.
func (w *workerConn) ready(info any) (json.RawMessage, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encode ready: %w", err)
	}
	if err := w.out.Encode(workerMsg{Ready: b}); err != nil {
		return nil, fmt.Errorf("send ready: %w", err)
	}
	var m workerMsg
	if err := readMsg(w.in, &m); err != nil {
		return nil, fmt.Errorf("wait for go: %w", err)
	}
	return m.Go, nil
}

func readMsg(s *bufio.Scanner, m *workerMsg) error {
	if !s.Scan() {
		if s.Err() != nil {
			return s.Err()
		}
		return io.EOF
	}
	return json.Unmarshal(s.Bytes(), m)
}

// roleFunc runs one role in a worker process: spec is the parent's
// description; it calls w.ready once set up and returns its result.
type roleFunc func(ctx context.Context, spec json.RawMessage, w *workerConn) (any, error)

var roles = map[string]roleFunc{}

// WorkerMain is the worker mode of the ctdb-bench binary: one role, read
// from stdin, result written to stdout. It returns the exit status.
func WorkerMain(stdin io.Reader, stdout io.Writer) int {
	s := bufio.NewScanner(stdin)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	enc := json.NewEncoder(stdout)
	var m workerMsg
	if err := readMsg(s, &m); err != nil {
		enc.Encode(workerMsg{Err: fmt.Sprintf("read spec: %v", err)})
		return 1
	}
	f := roles[m.Role]
	if f == nil {
		enc.Encode(workerMsg{Err: fmt.Sprintf("unknown worker role %q", m.Role)})
		return 1
	}
	res, err := f(context.Background(), m.Spec, &workerConn{in: s, out: enc})
	out := workerMsg{}
	if res != nil {
		b, merr := json.Marshal(res)
		if merr != nil && err == nil {
			err = fmt.Errorf("encode result: %w", merr)
		}
		out.Result = b
	}
	if err != nil {
		out.Err = err.Error()
	}
	enc.Encode(out)
	if err != nil {
		return 1
	}
	return 0
}

// crew is a set of worker processes the parent started; close ends them.
type crew struct {
	procs []*workerProc
}

type workerProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan workerMsg // from the reader goroutine, closed at EOF
	stderr *tailBuffer
	done   chan struct{} // closed when the reader has finished
}

// startCrew starts one worker per spec (role and spec each), named for
// error messages.
func startCrew(exe string, role string, names []string, specs []any) (*crew, error) {
	c := &crew{}
	for i, spec := range specs {
		p, err := startWorker(exe, role, names[i], spec)
		if err != nil {
			c.close()
			return nil, err
		}
		c.procs = append(c.procs, p)
	}
	return c, nil
}

func startWorker(exe, role, name string, spec any) (*workerProc, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode %s spec: %w", name, err)
	}
	cmd := exec.Command(exe, WorkerArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &workerProc{name: name, cmd: cmd, lines: make(chan workerMsg, 4), stderr: &tailBuffer{max: 4096}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s %s): %w", name, exe, WorkerArg, err)
	}
	// The reader belongs to the process: it ends when the process's
	// stdout closes, which close() forces by killing it.
	go func() {
		defer close(p.done)
		defer close(p.lines)
		s := bufio.NewScanner(stdout)
		s.Buffer(make([]byte, 64<<10), 64<<20)
		for s.Scan() {
			var m workerMsg
			if err := json.Unmarshal(s.Bytes(), &m); err != nil {
				m = workerMsg{Err: fmt.Sprintf("bad line from worker: %q", s.Text())}
			}
			p.lines <- m
		}
	}()
	if err := json.NewEncoder(p.stdin).Encode(workerMsg{Role: role, Spec: b}); err != nil {
		p.kill()
		return nil, fmt.Errorf("send spec to %s: %w", name, err)
	}
	return p, nil
}

// next waits for the worker's next message.
func (p *workerProc) next(ctx context.Context, what string) (workerMsg, error) {
	select {
	case m, ok := <-p.lines:
		if !ok {
			return m, fmt.Errorf("%s exited before %s: %v%s", p.name, what, p.cmd.Wait(), p.stderr.suffix())
		}
		if m.Err != "" {
			return m, fmt.Errorf("%s: %s%s", p.name, m.Err, p.stderr.suffix())
		}
		return m, nil
	case <-ctx.Done():
		return workerMsg{}, fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
	}
}

func (p *workerProc) kill() {
	p.stdin.Close()
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	for range p.lines { // unblock the reader, which ends at EOF
	}
	<-p.done
	p.cmd.Wait()
}

// ready waits until every worker is ready and returns what each sent.
func (c *crew) ready(ctx context.Context, timeout time.Duration) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]json.RawMessage, len(c.procs))
	for i, p := range c.procs {
		m, err := p.next(ctx, "ready")
		if err != nil {
			return nil, err
		}
		out[i] = m.Ready
	}
	return out, nil
}

// start tells every worker to go, with goMsg[i] (nil: an empty object).
func (c *crew) start(goMsg []any) error {
	for i, p := range c.procs {
		var v any = struct{}{}
		if goMsg != nil {
			v = goMsg[i]
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode go for %s: %w", p.name, err)
		}
		if err := json.NewEncoder(p.stdin).Encode(workerMsg{Go: b}); err != nil {
			return fmt.Errorf("send go to %s: %w", p.name, err)
		}
	}
	return nil
}

// results waits for every worker's result and decodes it into out[i]
// (pointers). The first failure is returned after all have been awaited,
// so that every worker's own error is seen in order.
func (c *crew) results(ctx context.Context, timeout time.Duration, out []any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for i, p := range c.procs {
		m, err := p.next(ctx, "its result")
		if len(m.Result) > 0 {
			if derr := json.Unmarshal(m.Result, out[i]); derr != nil && err == nil {
				err = fmt.Errorf("%s: decode result: %w", p.name, derr)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// close kills whatever still runs and reaps every process.
func (c *crew) close() {
	var wg sync.WaitGroup
	for _, p := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.kill()
		}()
	}
	wg.Wait()
}

// tailBuffer keeps the last max bytes written to it: a worker's stderr,
// shown when it fails.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

// suffix is "; stderr: ..." when the worker wrote anything there.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}

// inWorker runs role in one worker process and decodes its result into
// out: for steps that open TDB files (see above).
func inWorker(ctx context.Context, p Params, role, name string, spec, out any) error {
	return runCrew(ctx, p, role, []string{name}, []any{spec}, []any{out}, nil)
}

// exePath is the binary to re-execute for workers: exe, or this one.
func exePath(exe string) (string, error) {
	if exe != "" {
		return exe, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find ctdb-bench binary for workers: %w", err)
	}
	return p, nil
}
