package lifecycle

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// notifyQueue bounds the notifications waiting for the script: more are
// dropped with a log line rather than block the lifecycle.
const notifyQueue = 16

// notifier runs the notification script, one event at a time in order,
// on its own goroutine: 4.17 runs it with system() and waits, which a
// hanging script turns into a hung daemon.
type notifier struct {
	cfg notifyConfig
	log *slog.Logger

	queue chan string
	// ctx ends when stop gives up waiting: the running script is killed.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running bool // start was called and stop was not
	wg      sync.WaitGroup
}

// notifyConfig is the notification script ("" none), its environment and
// its timeout.
type notifyConfig struct {
	Script  string
	Env     []string
	Timeout time.Duration
}

func newNotifier(cfg notifyConfig, log *slog.Logger) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{cfg: cfg, log: log, queue: make(chan string, notifyQueue), ctx: ctx, cancel: cancel}
}

// start runs the notifier's goroutine; a second call does nothing.
func (n *notifier) start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running || n.ctx.Err() != nil {
		return
	}
	n.running = true
	n.wg.Go(func() {
		for event := range n.queue {
			n.run(event)
		}
	})
}

// send queues a notification.
func (n *notifier) send(event string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return
	}
	select {
	case n.queue <- event:
	default:
		n.log.Warn("notification dropped: the notification script is behind", "event", event)
	}
}

// stop runs what is queued, waiting until ctx ends, then kills what still
// runs.
func (n *notifier) stop(ctx context.Context) {
	n.mu.Lock()
	if n.running {
		close(n.queue)
		n.running = false
	}
	n.mu.Unlock()
	waited := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		n.cancel()
		<-waited
	}
	n.cancel()
}

// run runs the script for one event, if it is executable.
func (n *notifier) run(event string) {
	path := n.cfg.Script
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o100 == 0 {
		n.log.Debug("no executable notification script", "path", path, "event", event)
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, event)
	cmd.Env = n.cfg.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		n.log.Warn("notification script failed", "path", path, "event", event, "err", err, "output", text)
		return
	}
	n.log.Info("notification script ran", "path", path, "event", event, "took", time.Since(start), "output", text)
}
