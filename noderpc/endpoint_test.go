package noderpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
	"github.com/rctdb/rctdb/transport"
)

const opEcho, opSlow, opFail = internalBase + 0xF01, internalBase + 0xF02, internalBase + 0xF03

type statusErr struct{}

func (statusErr) Error() string { return "refused" }
func (statusErr) Status() int32 { return 7 }

// pair returns two endpoints on an in-memory network, each serving the
// test's controls.
func pair(t *testing.T) (*transport.MemNetwork, [2]*Endpoint) {
	t.Helper()
	net := transport.NewMemNetwork()
	var eps [2]*Endpoint
	for i := range eps {
		tr := net.Transport(uint32(i))
		ep := New(Config{Self: uint32(i), Timeout: func() time.Duration { return 5 * time.Second }}, tr, nil, nil)
		ep.Register(opEcho, func(ctx context.Context, from uint32, data []byte) ([]byte, error) {
			return append([]byte{byte(from)}, data...), nil
		})
		ep.Register(opSlow, func(ctx context.Context, from uint32, data []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		ep.Register(opFail, func(ctx context.Context, from uint32, data []byte) ([]byte, error) {
			return nil, statusErr{}
		})
		if err := tr.Start(LinkHandler{ep}); err != nil {
			t.Fatal(err)
		}
		eps[i] = ep
		t.Cleanup(func() { ep.Close(); tr.Close() })
	}
	deadline := time.Now().Add(5 * time.Second)
	for !eps[0].tr.Connected(1) || !eps[1].tr.Connected(0) {
		if time.Now().After(deadline) {
			t.Fatal("in-memory link never came up")
		}
		time.Sleep(time.Millisecond)
	}
	return net, eps
}

func TestCallAndStatus(t *testing.T) {
	_, eps := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := eps[0].Call(ctx, 1, opEcho, []byte("hi"))
	if err != nil || string(got) != "\x00hi" {
		t.Fatalf("echo: %q %v", got, err)
	}
	_, err = eps[1].Call(ctx, 0, opFail, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Status != 7 || re.Msg != "refused" || re.Node != 0 {
		t.Fatalf("status error came back as %v", err)
	}
	// An opcode nobody registered is not this package's: the peer's
	// dispatcher never answers, and the caller's deadline ends it.
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	_, err = eps[0].Call(short, 1, internalBase+0xF99, nil)
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &re) && re.Msg == ErrTextTimedOut) {
		t.Fatalf("unregistered opcode: %v", err)
	}
}

func TestCallsFailWhenTheNodeGoesAway(t *testing.T) {
	net, eps := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := eps[0].Call(ctx, 1, opSlow, nil)
		errc <- err
	}()
	// Wait until the call is pending, then cut the link.
	deadline := time.Now().Add(5 * time.Second)
	for {
		eps[0].mu.Lock()
		n := len(eps[0].pending)
		eps[0].mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call never pending")
		}
		time.Sleep(time.Millisecond)
	}
	net.Partition([]uint32{0}, []uint32{1})
	err := <-errc
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != ErrTextNodeDisconnected {
		t.Fatalf("pending call on a lost node: %v", err)
	}
	if _, err := eps[0].Call(ctx, 1, opEcho, nil); !errors.As(err, &re) || re.Msg != ErrTextDisconnectedNode {
		t.Fatalf("call to a disconnected node: %v", err)
	}
}

func TestTimeoutAndClose(t *testing.T) {
	_, eps := pair(t)
	timeouts := 0
	eps[0].cfg.OnTimeout = func() { timeouts++ }
	done := make(chan [3]any, 1)
	eps[0].Go(1, protocol.ReqControl{Opcode: protocol.Opcode(opSlow)}, 20*time.Millisecond, func(st int32, _, msg []byte) {
		done <- [3]any{st, string(msg), nil}
	})
	r := <-done
	if r[0] != int32(-1) || r[1] != ErrTextTimedOut || timeouts != 1 {
		t.Fatalf("timeout: %v (timeouts %d)", r, timeouts)
	}
	// Close fails what is pending and ends the handlers it serves.
	errc := make(chan error, 1)
	go func() {
		_, err := eps[1].Call(context.Background(), 0, opSlow, nil)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // not a wait for an outcome: Close must work either way
	eps[1].Close()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "shutting down") && !strings.Contains(err.Error(), "disconnected") {
		t.Fatalf("call pending at Close: %v", err)
	}
	if _, err := eps[1].Call(context.Background(), 0, opEcho, nil); err == nil {
		t.Fatal("call after Close succeeded")
	}
}

func TestRegisterRefusesForeignAndDuplicateOpcodes(t *testing.T) {
	ep := New(Config{}, nil, nil, nil)
	h := func(context.Context, uint32, []byte) ([]byte, error) { return nil, nil }
	for _, op := range []uint32{uint32(protocol.ControlGetPNN), opEcho} {
		func() {
			defer func() { recover() }()
			ep.Register(op, h)
			if op != opEcho {
				t.Fatalf("registered CTDB opcode %d", op)
			}
		}()
	}
	defer func() {
		if recover() == nil {
			t.Fatal("second registration accepted")
		}
	}()
	ep.Register(opEcho, h)
}
