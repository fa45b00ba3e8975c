package main

import (
	"context"

	"github.com/rctdb/rctdb/protocol"
)

// ctrlReq is one control of a batch.
type ctrlReq struct {
	dest uint32
	op   protocol.Opcode
	data []byte
}

// sendAll sends a batch of controls one after the other, each with its own
// -t timeout from its sending, and then waits for all the replies, as the
// client library does for a multi-node control or a connection list (the
// daemon receives them in order). It returns each control's error (a
// non-zero status is a *client.ControlError), and the first error to
// arrive (the one the library reports), or the error that ends the tool
// when any control met one (closed connection, -T limit).
func (t *tool) sendAll(reqs []ctrlReq) (errs []error, first error) {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(reqs))
	for i, r := range reqs {
		ctx, cancel := t.tctx()
		p, err := t.c.Send(r.dest, r.op, 0, 0, r.data)
		if err != nil {
			cancel()
			results <- result{i, err}
			continue
		}
		go func(i int, ctx context.Context, cancel context.CancelFunc) {
			defer cancel()
			results <- result{i, p.WaitStatus(ctx)}
		}(i, ctx, cancel)
	}
	errs = make([]error, len(reqs))
	var ending error
	for range reqs {
		r := <-results
		errs[r.i] = r.err
		if r.err == nil {
			continue
		}
		if first == nil {
			first = r.err
		}
		if _, ferr := t.errCode(r.err); ferr != nil && ending == nil {
			ending = ferr
		}
	}
	if ending != nil {
		return errs, ending
	}
	return errs, first
}

// sameControl is a batch of one control to each of pnns.
func sameControl(pnns []uint32, op protocol.Opcode, data []byte) []ctrlReq {
	reqs := make([]ctrlReq, len(pnns))
	for i, p := range pnns {
		reqs[i] = ctrlReq{p, op, data}
	}
	return reqs
}

// multiCode is the exit status of a batch that failed with err (from
// sendAll): the first failure's status or errno, or the error that ends
// the tool.
func (t *tool) multiCode(err error) error {
	code, ferr := t.errCode(err)
	if ferr != nil {
		return ferr
	}
	return exitCode(code)
}
