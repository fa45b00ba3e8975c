package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clientCrew keeps one worker process running against each node: a worker
// that ends (its daemon died, an operation in doubt) is replaced after a
// short pause, until stop.
type clientCrew struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// restartPause is how long a node's clients rest before a new worker.
const restartPause = 300 * time.Millisecond

func startClients(ctx context.Context, cfg Config, sockets []string, hist *History) *clientCrew {
	ctx, cancel := context.WithCancel(ctx)
	c := &clientCrew{cancel: cancel}
	for k, sock := range sockets {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for gen := 0; ctx.Err() == nil; gen++ {
				spec := WorkerSpec{Socket: sock, Node: k, Prefix: fmt.Sprintf("n%dw%d", k, gen), Keys: cfg.Keys, OpTimeout: cfg.OpTimeout}
				if err := runWorker(ctx, cfg.Exe, spec, hist); err != nil {
					cfg.Log.Debug("worker", "node", k, "gen", gen, "err", err)
				}
				sleepCtx(ctx, restartPause)
			}
		}()
	}
	return c
}

// stop ends the workers (each finishes its operation) and waits for them.
func (c *clientCrew) stop() {
	c.cancel()
	c.wg.Wait()
}

// workerGrace is how long a worker may take to finish its operation once
// told to stop; a worker still running then is killed and its operation
// stays unknown.
const workerGrace = 15 * time.Second

// runWorker runs one worker process until it ends or ctx ends, recording
// what it reports.
func runWorker(ctx context.Context, exe string, spec WorkerSpec, hist *History) error {
	cmd := exec.Command(exe, WorkerArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", exe, err)
	}
	b, _ := json.Marshal(spec)
	_, werr := stdin.Write(append(b, '\n'))
	// The reader owns stdout until EOF, which comes when the process ends.
	exit := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		s.Buffer(make([]byte, 64<<10), 16<<20)
		last := ""
		for s.Scan() {
			var l workerLine
			if err := json.Unmarshal(s.Bytes(), &l); err != nil {
				last = "bad line: " + strconv.Quote(s.Text())
				continue
			}
			if l.Op != nil {
				hist.Record(*l.Op)
			}
			if l.Exit != "" {
				last = l.Exit
			}
		}
		exit <- last
	}()
	var why string
	select {
	case why = <-exit:
	case <-ctx.Done():
		stdin.Close()
		select {
		case why = <-exit:
		case <-time.After(workerGrace):
			cmd.Process.Kill()
			why = <-exit
		}
	}
	stdin.Close()
	cmd.Wait()
	if werr != nil {
		return fmt.Errorf("send spec: %w", werr)
	}
	return fmt.Errorf("worker ended: %s", why)
}
