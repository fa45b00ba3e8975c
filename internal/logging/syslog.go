package logging

import (
	"log/syslog"
	"sync"
	"time"
)

// syslogRetry is how long a lazySyslog waits before it tries to reach
// the syslog daemon again.
const syslogRetry = 10 * time.Second

// lazySyslog writes to the syslog daemon, connecting on first use and
// again after a failure. Without a syslog daemon (a container without
// /dev/log, or nothing on the UDP port) lines are dropped, as the C
// library's syslog(3), which ctdbd 4.17 logs through, drops them: the
// daemon runs all the same.
type lazySyslog struct {
	dial func() (*syslog.Writer, error)

	// mu guards w and lastTry.
	mu sync.Mutex
	w  *syslog.Writer
	// lastTry is when connecting last failed.
	lastTry time.Time
}

func (l *lazySyslog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		if !l.lastTry.IsZero() && time.Since(l.lastTry) < syslogRetry {
			return len(p), nil
		}
		w, err := l.dial()
		if err != nil {
			l.lastTry = time.Now()
			return len(p), nil
		}
		l.w = w
	}
	if _, err := l.w.Write(p); err != nil {
		// syslog.Writer reconnects once by itself; beyond that the daemon
		// is gone: try afresh later.
		l.w.Close()
		l.w, l.lastTry = nil, time.Now()
	}
	return len(p), nil
}

func (l *lazySyslog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		l.w.Close()
		l.w = nil
	}
}
