package finetimer

import (
	"errors"
	"testing"
	"time"
)

func TestSleepWaitsAtLeastItsDuration(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	for _, d := range []time.Duration{0, 20 * time.Microsecond, 3 * time.Millisecond} {
		start := time.Now()
		if err := tm.Sleep(d); err != nil {
			t.Fatalf("sleep %v: %v", d, err)
		}
		if got := time.Since(start); got < d {
			t.Fatalf("sleep %v returned after %v", d, got)
		}
	}
}

func TestCloseWakesASleeper(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- tm.Sleep(time.Hour) }()
	// Close may come before the sleeper arms the timer: either way it
	// must end with ErrClosed, not sleep an hour.
	tm.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("sleep after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake the sleeper")
	}
	if err := tm.Sleep(time.Millisecond); !errors.Is(err, ErrClosed) {
		t.Fatalf("sleep on a closed timer: %v", err)
	}
}
