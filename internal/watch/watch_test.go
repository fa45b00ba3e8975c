package watch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSignalWakesEveryWaiterOnce(t *testing.T) {
	var s Signal
	chs := []<-chan struct{}{s.Changed(), s.Changed()}
	if chs[0] != chs[1] {
		t.Fatal("two waiters before a change got different channels")
	}
	select {
	case <-chs[0]:
		t.Fatal("closed before Notify")
	default:
	}
	s.Notify()
	for _, ch := range chs {
		select {
		case <-ch:
		default:
			t.Fatal("not closed by Notify")
		}
	}
	next := s.Changed()
	select {
	case <-next:
		t.Fatal("a channel taken after Notify is already closed")
	default:
	}
	s.Notify()
	s.Notify() // nobody waits: must not panic
	<-next
}

func TestIndexWait(t *testing.T) {
	var x Index
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Go(func() { errs <- x.Wait(ctx, 7, "index") })
	}
	for v := uint64(1); v <= 7; v++ {
		x.Advance(v)
	}
	x.Advance(3) // never goes back
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if x.Get() != 7 {
		t.Fatalf("index %d after a lower Advance", x.Get())
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := x.Wait(short, 8, "index"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past the value: %v", err)
	}
}
