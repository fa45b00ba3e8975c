package events

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Runner runs the event scripts of every component and keeps their last
// statuses. Its methods are safe for concurrent use; none holds a lock
// while a script runs.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	m     *metricSet
	env   []string
	debug string // debug script path, "" for none
	dirs  Dirs

	// closing is closed by Close: workers and reapers kill what they run.
	closing chan struct{}
	// wg counts the component workers and the timed-out-script reapers.
	wg sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	components map[string]*component
}

// component is the queue and the stored statuses of one events/<name>
// directory. Its fields are guarded by Runner.mu.
type component struct {
	name string
	dir  string
	// queue holds the requests in arrival order; queue[0] runs while
	// working is set.
	queue   []*request
	working bool
	results map[string]*Status
	// debugging is set while the debug script runs: one at a time, as
	// ctdb-eventd does.
	debugging bool
	// disabled holds the scripts last seen not executable.
	disabled map[string]bool
}

// request is one Run call. started, cancelled and result are guarded by
// Runner.mu; cancel and done are closed under it.
type request struct {
	event     string
	args      []string
	deadline  time.Time
	flags     RunFlags
	started   bool
	cancelled bool
	cancel    chan struct{} // closed when cancelled
	done      chan struct{} // closed when result is set
	result    Result
}

func (q *request) isMonitor() bool { return q.event == "monitor" }

// New returns a Runner for cfg (defaults applied, then validated).
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Runner{
		cfg:        cfg,
		log:        log,
		m:          newMetrics(cfg.Metrics),
		env:        cfg.scriptEnv(),
		debug:      cfg.debugScriptPath(),
		dirs:       Dirs{Etc: cfg.EtcDir, Data: cfg.DataDir},
		closing:    make(chan struct{}),
		components: make(map[string]*component),
	}, nil
}

// Run runs event of component with args (each becomes one argument of
// every script: argv is [name, event, args...]) and returns when it has
// completed, was cancelled, or ctx is done. timeout covers the whole
// event, waiting in the queue included; 0 means the deadline is now.
//
// Events of a component run one at a time in arrival order. A new event
// cancels a running monitor; a monitor arriving while another event is
// queued or running is cancelled at once (ResultCanceled). A missing
// component directory is ResultNoDir.
//
// When ctx is done first, Run returns ctx's error: an event still queued
// is dropped, one already running completes and is stored. Close
// cancels the events queued and running (Run returns ResultCanceled and
// ErrClosed), and Run returns ErrClosed afterwards.
func (r *Runner) Run(ctx context.Context, component, event string, args []string, timeout time.Duration, flags RunFlags) (Result, error) {
	q := &request{
		event:    event,
		args:     args,
		deadline: time.Now().Add(timeout),
		flags:    flags,
		cancel:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	if !validComponent(component) {
		return Result{Code: ResultNoDir}, nil
	}
	dir := r.dirs.etcDir(component)
	st, err := os.Stat(dir)
	if err != nil {
		return Result{Code: int32(errnoOf(err))}, nil
	}
	if !st.IsDir() {
		return Result{Code: int32(syscall.ENOTDIR)}, nil
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Result{Code: ResultCanceled}, ErrClosed
	}
	c := r.componentLocked(component, dir)
	if !r.admitLocked(c, q) {
		r.mu.Unlock()
		r.m.event(component, event).cancelled.Inc()
		r.log.Info("monitor event cancelled: another event is running", "component", component)
		return Result{Code: ResultCanceled}, nil
	}
	c.queue = append(c.queue, q)
	if !c.working {
		c.working = true
		r.wg.Add(1)
		go r.work(c)
	}
	r.mu.Unlock()

	select {
	case <-q.done:
		return r.answer(q)
	case <-ctx.Done():
	}
	r.mu.Lock()
	select {
	case <-q.done:
		r.mu.Unlock()
		return r.answer(q)
	default:
	}
	if !q.started && !q.cancelled {
		r.cancelLocked(c, q)
	}
	r.mu.Unlock()
	return Result{Code: ResultCanceled}, ctx.Err()
}

// answer is Run's return for a completed request: ErrClosed with a
// request that Close cancelled.
func (r *Runner) answer(q *request) (Result, error) {
	if q.result.Code == ResultCanceled {
		select {
		case <-r.closing:
			return q.result, ErrClosed
		default:
		}
	}
	return q.result, nil
}

func (r *Runner) componentLocked(name, dir string) *component {
	c := r.components[name]
	if c == nil {
		c = &component{name: name, dir: dir, results: make(map[string]*Status), disabled: make(map[string]bool)}
		r.components[name] = c
	}
	return c
}

// admitLocked applies the monitor rules to a new request: monitors in the
// queue give way to any event; a monitor gives way to any other event.
func (r *Runner) admitLocked(c *component, q *request) bool {
	for _, o := range c.queue {
		if !o.cancelled && !o.isMonitor() && q.isMonitor() {
			return false
		}
	}
	for _, o := range append([]*request(nil), c.queue...) {
		if o.isMonitor() && !o.cancelled {
			r.log.Info("monitor event cancelled by a new event", "component", c.name, "event", q.event)
			r.cancelLocked(c, o)
		}
	}
	return true
}

// cancelLocked cancels q: a queued request is answered at once; a running
// one is answered by its worker once its script is killed.
func (r *Runner) cancelLocked(c *component, q *request) {
	q.cancelled = true
	close(q.cancel)
	r.m.event(c.name, q.event).cancelled.Inc()
	if q.started {
		return
	}
	for i, o := range c.queue {
		if o == q {
			c.queue = append(c.queue[:i:i], c.queue[i+1:]...)
			break
		}
	}
	q.result = Result{Code: ResultCanceled}
	close(q.done)
}

// work runs the queue of c until it is empty.
func (r *Runner) work(c *component) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(c.queue) == 0 {
			c.working = false
			r.mu.Unlock()
			return
		}
		q := c.queue[0]
		q.started = true
		r.mu.Unlock()

		res, hung := r.execute(c, q)

		r.mu.Lock()
		c.queue = c.queue[1:]
		if q.cancelled {
			res = Result{Code: ResultCanceled}
		} else if res.Status != nil {
			c.results[q.event] = res.Status
		}
		q.result = res
		close(q.done)
		r.mu.Unlock()
		// The debug script may ask for the status of the event (Debian's
		// asks `ctdb scriptstatus`): it is stored by now.
		for _, p := range hung {
			r.reapTimedOut(c, q.event, p)
		}
	}
}

// execute runs the scripts of one event in order. hung are the scripts
// that timed out, still running: the caller hands them to reapTimedOut.
func (r *Runner) execute(c *component, q *request) (res Result, hung []*proc) {
	start := time.Now()
	r.log.Debug(fmt.Sprintf("Running event %s with args %q", q.event, strings.Join(q.args, " ")), "component", c.name)
	scripts, err := readScripts(c.dir)
	if err != nil {
		errno := errnoOf(err)
		r.log.Error(fmt.Sprintf("failed to list event scripts in %s: %v", c.dir, err), "component", c.name)
		return Result{Code: int32(errno)}, nil
	}
	st := &Status{Scripts: make([]ScriptResult, 0, len(scripts))}
	for _, s := range scripts {
		sr, ok, p := r.runScript(c, q, s)
		if p != nil {
			hung = append(hung, p)
		}
		if !ok {
			return Result{Code: ResultCanceled}, hung
		}
		st.Scripts = append(st.Scripts, sr)
		if sr.Status == 0 || sr.Status == ScriptDisabled {
			continue
		}
		st.Summary = sr.Status
		if q.flags&RunAll == 0 {
			break
		}
	}
	code := resultCode(st.Summary)
	em := r.m.event(c.name, q.event)
	em.runs.Inc()
	em.duration.UpdateDuration(start)
	switch code {
	case ResultTimedOut:
		em.timeouts.Inc()
		r.log.Info(q.event+" event timed out", "component", c.name)
	case ResultFailed:
		em.failures.Inc()
		r.log.Info(q.event+" event failed", "component", c.name)
	}
	return Result{Code: code, Status: st}, hung
}

// runScript runs one script until it exits, the event's deadline passes
// (hung is then the still running script) or q is cancelled (ok false:
// the script was killed, nothing to keep).
func (r *Runner) runScript(c *component, q *request, s scriptEntry) (sr ScriptResult, ok bool, hung *proc) {
	sr = ScriptResult{Name: s.name, Begin: time.Now()}
	defer func() {
		if ok && sr.Status != ScriptDisabled {
			r.m.script(q.event, s.name).observe(sr)
		}
	}()
	finish := func(status int32) (ScriptResult, bool, *proc) {
		sr.End = time.Now()
		sr.Status = status
		return sr, true, nil
	}
	select {
	case <-q.cancel:
		return sr, false, nil
	default:
	}
	if !sr.Begin.Before(q.deadline) {
		r.log.Info(fmt.Sprintf("%s: not started, the %s event's deadline has passed", s.name, q.event), "component", c.name)
		return finish(ScriptTimedOut)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		r.log.Error(fmt.Sprintf("%s: cannot run %s: %v", s.name, s.path, err), "component", c.name, "event", q.event)
		return finish(-int32(errnoOf(err)))
	}
	if st.Mode().Perm()&0o100 == 0 {
		r.noteDisabled(c, s, true)
		return finish(ScriptDisabled)
	}
	r.noteDisabled(c, s, false)
	argv := append([]string{s.name, q.event}, q.args...)
	p, err := startProc(s.path, argv, r.env, r.cfg.MaxOutput, q.deadline)
	if err != nil {
		r.log.Error(fmt.Sprintf("%s: cannot run %s: %v", s.name, s.path, err), "component", c.name, "event", q.event)
		return finish(errnoStatus(errnoOf(err)))
	}
	timer := time.NewTimer(time.Until(q.deadline))
	defer timer.Stop()
	select {
	case <-p.exited:
		ws, out := p.finish()
		sr.Output = cutNUL(out)
		r.logOutput(s.name, sr.Output, c.name, q.event)
		return finish(exitStatus(ws))
	case <-timer.C:
		sr.Output = cutNUL(p.takeOutput())
		r.logOutput(s.name, sr.Output, c.name, q.event)
		r.log.Error(fmt.Sprintf("%s: timed out in event %s, pid %d", s.name, q.event, p.pid()), "component", c.name)
		sr, ok, _ = finish(ScriptTimedOut)
		return sr, ok, p
	case <-q.cancel:
		p.killGroup(syscall.SIGKILL)
		p.finish()
		return sr, false, nil
	case <-r.closing:
		p.killGroup(syscall.SIGKILL)
		p.finish()
		return sr, false, nil
	}
}

// noteDisabled logs, once until it changes, that a script is skipped
// because it is not executable: a script an administrator forgot to
// enable shows in the log, without a line at every monitor.
func (r *Runner) noteDisabled(c *component, s scriptEntry, disabled bool) {
	r.mu.Lock()
	changed := c.disabled[s.name] != disabled
	if disabled {
		c.disabled[s.name] = true
	} else {
		delete(c.disabled, s.name)
	}
	r.mu.Unlock()
	if changed && disabled {
		r.log.Warn(fmt.Sprintf("%s: disabled (not executable): skipped (ctdb event script enable %s %s)", s.name, c.name, s.name), "component", c.name)
	}
}

// reapTimedOut ends a timed-out script in the background: the debug
// script first (if configured and not already running), then SIGTERM to
// the process group, then SIGKILL after the grace period (or at once on
// Close).
func (r *Runner) reapTimedOut(c *component, event string, p *proc) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.mu.Lock()
		debug := r.debug != "" && !c.debugging && !r.closed
		if debug {
			c.debugging = true
		}
		r.mu.Unlock()
		if debug {
			r.runDebug(event, p.pid())
			r.mu.Lock()
			c.debugging = false
			r.mu.Unlock()
		}
		p.killGroup(syscall.SIGTERM)
		grace := time.NewTimer(r.cfg.KillGrace)
		defer grace.Stop()
		select {
		case <-p.exited:
		case <-grace.C:
		case <-r.closing:
		}
		// Also the children that outlived their leader or ignore SIGTERM:
		// the unreaped leader keeps the group id reserved.
		p.killGroup(syscall.SIGKILL)
		p.finish()
	}()
}

// runDebug runs the debug script as "<script> <pid> <event>" and logs
// its output as "event_debug: <line>".
func (r *Runner) runDebug(event string, pid int) {
	r.log.Debug(fmt.Sprintf("Running debug %s with args \"%d %s\"", r.debug, pid, event))
	deadline := time.Now().Add(r.cfg.DebugTimeout)
	p, err := startProc(r.debug, []string{r.debug, strconv.Itoa(pid), event}, r.env, r.cfg.MaxOutput, deadline)
	if err != nil {
		r.log.Error(fmt.Sprintf("Running debug failed: %v", err))
		return
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		r.log.Error(fmt.Sprintf("debug script %s timed out after %v", r.debug, r.cfg.DebugTimeout))
		p.killGroup(syscall.SIGKILL)
	case <-r.closing:
		p.killGroup(syscall.SIGKILL)
	}
	_, out := p.finish()
	r.logOutput("event_debug", cutNUL(out))
}

// logOutput logs each non-empty line of a script's output at error level
// as "<name>: <line>", whatever its exit status, as ctdb-eventd does.
func (r *Runner) logOutput(name, out string, attrs ...string) {
	var args []any
	if len(attrs) == 2 {
		args = []any{"component", attrs[0], "event", attrs[1]}
	}
	for _, line := range strings.Split(out, "\n") {
		if line != "" {
			r.log.Error(name+": "+line, args...)
		}
	}
}

func cutNUL(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// Status returns the last completed run of event in component: ENOENT
// (wrapped) when the component has no directory, EINVAL when the event
// has never completed.
func (r *Runner) Status(component, event string) (*Status, error) {
	if !validComponent(component) {
		return nil, fmt.Errorf("status of %s in %s: %w", event, component, syscall.ENOENT)
	}
	dir := r.dirs.etcDir(component)
	st, err := os.Stat(dir)
	if err == nil && !st.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, fmt.Errorf("status of %s in %s: %w", event, component, errnoOf(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.components[component]; c != nil {
		if s := c.results[event]; s != nil {
			return s.clone(), nil
		}
	}
	return nil, fmt.Errorf("status of %s in %s: %w", event, component, syscall.EINVAL)
}

// ListScripts lists a component's scripts as `ctdb event script list`.
func (r *Runner) ListScripts(component string) (*ScriptList, error) {
	return r.dirs.ListScripts(component)
}

// SetScript enables or disables a script as `ctdb event script
// enable|disable` does: a symlink to the packaged script is created or
// removed; a regular file gets or loses its execute bits.
func (r *Runner) SetScript(component, script string, enable bool) error {
	if enable {
		return r.dirs.EnableScript(component, script)
	}
	return r.dirs.DisableScript(component, script)
}

// chmodScript is the SCRIPT command of the protocol: execute bits of a
// regular file only; returns the errno ctdb-eventd replies.
func (r *Runner) chmodScript(component, script string, enable bool) int32 {
	if !validComponent(component) {
		return ResultNoDir
	}
	return int32(chmodScript(r.dirs.etcDir(component), script, enable))
}

// Close cancels queued and running events, kills every script's process
// group (timed-out ones and the debug script too) and waits for them.
// Run returns ErrClosed afterwards.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	close(r.closing)
	for _, c := range r.components {
		for _, q := range append([]*request(nil), c.queue...) {
			if !q.cancelled {
				r.cancelLocked(c, q)
			}
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}
