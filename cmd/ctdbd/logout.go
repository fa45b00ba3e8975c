package main

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// logOutput opens the configured log location.
func logOutput(location string) (io.Writer, func(), error) {
	switch {
	case location == "stderr":
		return os.Stderr, func() {}, nil
	case location == "syslog":
		w := &lazySyslog{}
		return w, w.close, nil
	case strings.HasPrefix(location, "file:"):
		path := strings.TrimPrefix(location, "file:")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
	return nil, nil, fmt.Errorf("[logging] location: %q is not stderr, syslog or file:PATH", location)
}

// syslogRetry is how long a lazySyslog waits before it tries to reach
// the syslog daemon again.
const syslogRetry = 10 * time.Second

// lazySyslog writes to the syslog daemon, connecting on first use and
// again after a failure. Without a syslog daemon (a container without
// /dev/log) lines are dropped, as the C library's syslog(3), which ctdbd
// 4.17 logs through, drops them: the daemon runs all the same.
type lazySyslog struct {
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
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_NOTICE, "ctdbd")
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
