package watch

import (
	"context"
	"fmt"
	"sync"
)

// Signal tells waiters that something changed. The zero value is ready to
// use. A waiter takes Changed before it reads the state the signal guards,
// then waits on the channel: a change after the read closes it, so no
// change is missed.
type Signal struct {
	mu sync.Mutex
	ch chan struct{} // nil while nobody waits
}

// Changed returns a channel that is closed at the next Notify.
func (s *Signal) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter of Changed.
func (s *Signal) Notify() {
	s.mu.Lock()
	ch := s.ch
	s.ch = nil
	s.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// Index is a number that only grows (a log index, a sequence number) and
// can be waited for. The zero value is ready to use.
type Index struct {
	mu  sync.Mutex
	v   uint64
	sig Signal
}

// Get returns the current value.
func (x *Index) Get() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.v
}

// Advance raises the value to v (a lower v changes nothing) and wakes the
// waiters.
func (x *Index) Advance(v uint64) {
	x.mu.Lock()
	raised := v > x.v
	if raised {
		x.v = v
	}
	x.mu.Unlock()
	if raised {
		x.sig.Notify()
	}
}

// Wait returns once the value is at least v, or fails when ctx ends; what
// names the value in the error.
func (x *Index) Wait(ctx context.Context, v uint64, what string) error {
	for {
		ch := x.sig.Changed()
		cur := x.Get()
		if cur >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s %d (at %d): %w", what, v, cur, ctx.Err())
		}
	}
}
