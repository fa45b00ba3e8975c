package finetimer

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Sleep once the Timer is closed.
var ErrClosed = errors.New("finetimer: closed")

// Timer sleeps one goroutine at a time with a timerfd. Close wakes a
// sleeping goroutine, so an owner can stop a loop that sleeps on it.
type Timer struct {
	f *os.File
	// rc reaches the descriptor only while the file is open, so a closed
	// timer never touches a number the process has given to another file.
	rc  syscall.RawConn
	buf [8]byte

	// mu serialises Sleep: one timerfd holds one deadline.
	mu sync.Mutex
}

// New opens a timerfd on the monotonic clock.
func New() (*Timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("finetimer: timerfd_create: %w", err)
	}
	// A non-blocking descriptor is read through the netpoller.
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("finetimer: %w", err)
	}
	return &Timer{f: f, rc: rc}, nil
}

// Sleep blocks for d, or until Close (ErrClosed).
func (t *Timer) Sleep(d time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d <= 0 {
		d = 1 // zero would disarm the timer
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	var serr error
	if err := t.rc.Control(func(fd uintptr) { serr = unix.TimerfdSettime(int(fd), 0, &spec, nil) }); err != nil {
		return ErrClosed
	}
	if serr != nil {
		return fmt.Errorf("finetimer: timerfd_settime: %w", serr)
	}
	if _, err := t.f.Read(t.buf[:]); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("finetimer: read timerfd: %w", err)
	}
	return nil
}

// Close releases the timerfd; a goroutine in Sleep returns ErrClosed.
func (t *Timer) Close() error { return t.f.Close() }
