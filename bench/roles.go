package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rctdb/rctdb/client"
)

// Helpers shared by the worker roles and their parents.

// decodeSpec decodes a worker's spec.
func decodeSpec[S any](raw json.RawMessage) (S, error) {
	var s S
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("decode spec: %w", err)
	}
	return s, nil
}

// checkRole is a worker role that checks a run's outcome within a
// minute; it needs no set-up, so it is ready at once.
func checkRole[S any](check func(ctx context.Context, s S, o *Outcome) error) roleFunc {
	return func(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
		s, err := decodeSpec[S](raw)
		if err != nil {
			return nil, err
		}
		if _, err := w.ready(nil); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var o Outcome
		err = check(ctx, s, &o)
		return checkResult{Checks: o.Checks, Failed: o.Failed}, err
	}
}

// checkResult is what a check in a worker found.
type checkResult struct {
	Checks []string `json:"checks,omitempty"`
	Failed string   `json:"failed,omitempty"`
}

// merge adds a check's findings to o.
func (o *Outcome) merge(c checkResult) {
	o.Checks = append(o.Checks, c.Checks...)
	if c.Failed != "" {
		o.fail("%s", c.Failed)
	}
}

// sessionSpec is the spec of a looping worker: where it connects, which
// database it attaches and for how long it loops.
type sessionSpec interface {
	session() (socket, db string, flags uint8, d time.Duration)
}

// sessionRole is a looping worker role: decode its spec, start its
// session (ready when connected and attached), then loop until told.
func sessionRole[S sessionSpec](loop func(ctx context.Context, s S, sess *session) (any, error)) roleFunc {
	return func(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
		s, err := decodeSpec[S](raw)
		if err != nil {
			return nil, err
		}
		socket, db, flags, d := s.session()
		ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
		defer cancel()
		sess, err := startSession(ctx, w, socket, db, flags)
		if err != nil {
			return nil, err
		}
		defer sess.close()
		return loop(ctx, s, sess)
	}
}

// session is a worker's connection and its attached database.
type session struct {
	c  *client.Client
	db *client.DB
}

// startSession connects to socket, attaches dbName and tells the parent
// the worker is ready; it returns once the parent says go.
func startSession(ctx context.Context, w *workerConn, socket, dbName string, flags uint8) (*session, error) {
	c, err := client.Connect(ctx, socket)
	if err != nil {
		return nil, err
	}
	db, err := c.Attach(ctx, dbName, flags)
	if err != nil {
		c.Close()
		return nil, err
	}
	s := &session{c: c, db: db}
	if _, err := w.ready(nil); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	s.db.Close()
	s.c.Close()
}

// runEach runs one worker of role per spec (see runCrew) and returns
// their results, as far as they came, with the first failure.
func runEach[R any](ctx context.Context, p Params, role string, names []string, specs []any, beforeGo func() error) ([]R, error) {
	outs := make([]R, len(specs))
	ptrs := make([]any, len(specs))
	for i := range outs {
		ptrs[i] = &outs[i]
	}
	err := runCrew(ctx, p, role, names, specs, ptrs, beforeGo)
	return outs, err
}

// runCheck runs a check role in a worker and adds its findings to o.
func runCheck(ctx context.Context, p Params, role string, spec any, o *Outcome) {
	var res checkResult
	if err := inWorker(ctx, p, role, role, spec, &res); err != nil {
		o.Err = err.Error()
		return
	}
	o.merge(res)
}

// loopResult is what a looping worker reports: its operations, their
// latencies and how long it ran.
type loopResult struct {
	Ops     uint64        `json:"ops"`
	Latency Hist          `json:"latency"`
	Elapsed time.Duration `json:"elapsed"`
}

// add counts one worker's result in o, as one share.
func (o *Outcome) add(r *loopResult) {
	o.Ops += r.Ops
	o.Shares = append(o.Shares, r.Ops)
	o.Latency.Merge(&r.Latency)
	o.Duration = max(o.Duration, r.Elapsed)
}
