package tests

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/tdb"
)

// Worker processes: the test binary plays smbd-like clients, one process
// each, because fcntl locks belong to a process and libtdb opens a file once
// per process. RCTDB_WORKER selects the role; the result is one JSON line.

type workerResult struct {
	Increments  int            `json:"increments"`
	PerKey      map[string]int `json:"per_key"`
	Migrations  int            `json:"migrations"`
	MaxLatency  time.Duration  `json:"max_latency"`
	Err         string         `json:"err,omitempty"`
	Completions []int64        `json:"completions,omitempty"` // unix ms of each increment, if asked
}

func runWorker() int {
	role := os.Getenv("RCTDB_WORKER")
	var res workerResult
	var err error
	switch role {
	case "increment":
		res, err = incrementWorker()
	case "holdlock":
		err = holdLockWorker()
	case "holdchain":
		err = holdChainWorker()
	case "txloop":
		res, err = txLoopWorker()
	case "lockpair":
		res, err = lockPairWorker()
	default:
		err = fmt.Errorf("unknown worker role %q", role)
	}
	if err != nil {
		res.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0
}

// incrementWorker fetch-locks random keys of RCTDB_KEYS (comma separated) in
// RCTDB_DB through RCTDB_SOCKET until RCTDB_DURATION ends, adding one to a
// little-endian u64 counter each time, or until the file RCTDB_STOP (if
// set) exists. Once it has incremented every key, it creates the file
// RCTDB_READY (if set).
func incrementWorker() (workerResult, error) {
	res := workerResult{PerKey: map[string]int{}}
	d, _ := time.ParseDuration(os.Getenv("RCTDB_DURATION"))
	keys := strings.Split(os.Getenv("RCTDB_KEYS"), ",")
	hold, _ := time.ParseDuration(os.Getenv("RCTDB_HOLD"))
	record := os.Getenv("RCTDB_RECORD_TIMES") != ""
	ctx, cancel := context.WithTimeout(context.Background(), d+60*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, os.Getenv("RCTDB_SOCKET"))
	if err != nil {
		return res, err
	}
	defer c.Close()
	db, err := c.Attach(ctx, os.Getenv("RCTDB_DB"), 0)
	if err != nil {
		return res, err
	}
	defer db.Close()
	end := time.Now().Add(d)
	ready, stop := os.Getenv("RCTDB_READY"), os.Getenv("RCTDB_STOP")
	var looked time.Time
	for time.Now().Before(end) {
		if stop != "" && time.Since(looked) > 10*time.Millisecond {
			if _, err := os.Stat(stop); err == nil {
				break
			}
			looked = time.Now()
		}
		if ready != "" && len(res.PerKey) == len(keys) {
			// Every key was this node's at least once.
			if err := os.WriteFile(ready, nil, 0o644); err != nil {
				return res, err
			}
			ready = ""
		}
		k := keys[rand.IntN(len(keys))]
		start := time.Now()
		rec, err := db.FetchLock(ctx, []byte(k))
		if err != nil {
			return res, err
		}
		if lat := time.Since(start); lat > res.MaxLatency {
			res.MaxLatency = lat
		}
		var v uint64
		if len(rec.Data) == 8 {
			v = binary.LittleEndian.Uint64(rec.Data)
		}
		if hold > 0 {
			time.Sleep(hold)
		}
		if err := rec.Store(binary.LittleEndian.AppendUint64(nil, v+1)); err != nil {
			return res, err
		}
		res.Increments++
		res.PerKey[k]++
		res.Migrations += rec.Migrations
		if record {
			res.Completions = append(res.Completions, time.Now().UnixMilli())
		}
	}
	return res, nil
}

// holdLockWorker takes the chain lock of RCTDB_KEY in the TDB file
// RCTDB_PATH, as smbd would, says "locked at <unix ms>" on stderr, holds it
// for RCTDB_DURATION, lets go and says "unlocked at <unix ms>".
func holdLockWorker() error {
	d, _ := time.ParseDuration(os.Getenv("RCTDB_DURATION"))
	t, err := tdb.Open(os.Getenv("RCTDB_PATH"), 0, 0, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.ChainLock([]byte(os.Getenv("RCTDB_KEY"))); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "locked at %d\n", time.Now().UnixMilli())
	time.Sleep(d)
	err = t.ChainUnlock([]byte(os.Getenv("RCTDB_KEY")))
	fmt.Fprintf(os.Stderr, "unlocked at %d\n", time.Now().UnixMilli())
	return err
}

// worker starts a worker process with env.
func worker(env map[string]string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// runWorkers starts workers and collects their results.
func runWorkers(envs []map[string]string) ([]workerResult, error) {
	cmds := make([]*exec.Cmd, len(envs))
	outs := make([]*strings.Builder, len(envs))
	for i, env := range envs {
		cmds[i] = worker(env)
		outs[i] = &strings.Builder{}
		cmds[i].Stdout = outs[i]
		cmds[i].Stderr = os.Stderr
		if err := cmds[i].Start(); err != nil {
			return nil, err
		}
	}
	res := make([]workerResult, len(envs))
	var firstErr error
	for i, cmd := range cmds {
		werr := cmd.Wait()
		if err := json.Unmarshal([]byte(outs[i].String()), &res[i]); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("worker %d: %v (output %q, exit %v)", i, err, outs[i].String(), werr)
		}
		if res[i].Err != "" && firstErr == nil {
			firstErr = fmt.Errorf("worker %d: %s", i, res[i].Err)
		}
	}
	return res, firstErr
}
