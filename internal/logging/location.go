package logging

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"path/filepath"
	"strings"
)

// Where a Location sends the log.
const (
	ToStderr = "stderr"
	ToFile   = "file"
	ToSyslog = "syslog"
)

// Location is a parsed [logging] location.
type Location struct {
	// To is ToStderr, ToFile or ToSyslog.
	To string
	// Path is the log file of ToFile.
	Path string
	// Syslog is the method of ToSyslog: "" (the local syslog),
	// "nonblocking", "udp" or "udp-rfc5424" (both to 127.0.0.1:514).
	Syslog string
}

// ParseLocation reads a log location as CTDB 4.17 does (logging_validate):
// "file:PATH", with "file", "file:" and "file:-" meaning standard error,
// and "syslog" or "syslog:METHOD". rctdb adds "stderr", and wants PATH
// absolute, since a daemon's working directory is no place for its log.
func ParseLocation(s string) (Location, error) {
	backend, option, _ := strings.Cut(s, ":")
	switch {
	case s == ToStderr:
		return Location{To: ToStderr}, nil
	case backend == ToFile && (option == "" || option == "-"):
		return Location{To: ToStderr}, nil
	case backend == ToFile && filepath.IsAbs(option):
		return Location{To: ToFile, Path: option}, nil
	case backend == ToSyslog:
		switch option {
		case "", "nonblocking", "udp", "udp-rfc5424":
			return Location{To: ToSyslog, Syslog: option}, nil
		}
	}
	return Location{}, fmt.Errorf("%q: must be file:/absolute/path, syslog, syslog:nonblocking, syslog:udp, syslog:udp-rfc5424 or stderr", s)
}

// Open opens the log output of a location; close releases it. Syslog
// never fails: without a syslog daemon lines are dropped until one
// answers, as ctdbd's syslog(3) drops them.
func Open(l Location, tag string) (w io.Writer, close func(), err error) {
	switch l.To {
	case ToStderr:
		return os.Stderr, func() {}, nil
	case ToFile:
		// 4.17's default, /var/log/ctdb/log.ctdb, may have no directory yet.
		if err := os.MkdirAll(filepath.Dir(l.Path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		return f, func() { f.Close() }, nil
	case ToSyslog:
		prio := syslog.LOG_DAEMON | syslog.LOG_NOTICE
		dial := func() (*syslog.Writer, error) { return syslog.New(prio, tag) }
		if strings.HasPrefix(l.Syslog, "udp") {
			dial = func() (*syslog.Writer, error) { return syslog.Dial("udp", "127.0.0.1:514", prio, tag) }
		}
		w := &lazySyslog{dial: dial}
		return w, w.close, nil
	}
	return nil, nil, fmt.Errorf("open log: unknown destination %q", l.To)
}
