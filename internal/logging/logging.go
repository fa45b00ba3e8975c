package logging

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// slog levels for CTDB's debug levels. NOTICE is slog's Info, so that
// libraries logging at Info appear at the default level; CTDB's INFO is more
// verbose than NOTICE and sits below it.
const (
	LevelError   = slog.LevelError
	LevelWarning = slog.LevelWarn
	LevelNotice  = slog.LevelInfo
	LevelInfo    = slog.LevelInfo - 2
	LevelDebug   = slog.LevelDebug
)

// CTDB's debug levels as numbers: Samba's DBGLVL_* values, which SET_DEBUG
// and GET_DEBUG carry and which ctdb.conf and the ctdb tool accept. A
// daemon at level n logs every message whose level is at most n.
const (
	DebugError   int32 = 0
	DebugWarning int32 = 1
	DebugNotice  int32 = 3
	DebugInfo    int32 = 5
	DebugDebug   int32 = 10
)

// debugNames names every number CTDB 4.17 accepts (0 to 10) as its tool
// prints it; the numbers between the canonical ones share the name below.
var debugNames = [DebugDebug + 1]string{
	"ERROR", "WARNING", "WARNING", "NOTICE", "NOTICE",
	"INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG",
}

// levels pairs each canonical number with its slog level, most severe
// first.
var levels = []struct {
	ctdb  int32
	level slog.Level
}{
	{DebugError, LevelError},
	{DebugWarning, LevelWarning},
	{DebugNotice, LevelNotice},
	{DebugInfo, LevelInfo},
	{DebugDebug, LevelDebug},
}

// ParseDebugLevel reads a debug level as CTDB 4.17 does (debug_level_parse):
// a string starting with a digit is read as a decimal number up to its
// first non-digit and must be 0 to 10; otherwise it must be a prefix, in any
// case, of ERROR, WARNING, NOTICE, INFO or DEBUG ("err", "warn", "i"), the
// first of them in that order winning.
func ParseDebugLevel(s string) (int32, error) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		n := 0
		for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n <= int(DebugDebug); i++ {
			n = n*10 + int(s[i]-'0')
		}
		if n <= int(DebugDebug) {
			return int32(n), nil
		}
	} else if s != "" {
		for n, name := range debugNames {
			if len(s) <= len(name) && asciiEqualFold(name[:len(s)], s) {
				return int32(n), nil
			}
		}
	}
	return 0, fmt.Errorf("invalid debug level %q (want ERROR, WARNING, NOTICE, INFO, DEBUG or 0 to 10)", s)
}

// asciiEqualFold compares as C's strcasecmp does in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// DebugName is the name CTDB's tool prints for a debug level number
// (debug_level_to_string): "UNKNOWN" outside 0 to 10.
func DebugName(n int32) string {
	if n < 0 || n > DebugDebug {
		return "UNKNOWN"
	}
	return debugNames[n]
}

// ParseLevel reads a debug level as ParseDebugLevel does and returns the
// slog level a daemon at that level logs at.
func ParseLevel(s string) (slog.Level, error) {
	n, err := ParseDebugLevel(s)
	if err != nil {
		return 0, err
	}
	return FromCTDB(n), nil
}

// Name returns the CTDB name of the closest level at or above l.
func Name(l slog.Level) string { return DebugName(ToCTDB(l)) }

// ToCTDB converts a slog level to the canonical CTDB debug level number of
// the closest level at or above it.
func ToCTDB(l slog.Level) int32 {
	for i := len(levels) - 1; i >= 0; i-- {
		if l <= levels[i].level {
			return levels[i].ctdb
		}
	}
	return DebugError
}

// FromCTDB converts a CTDB debug level number to the slog level below
// which messages are dropped: a daemon at 7 logs what one at INFO (5)
// logs. Numbers below 0, with which Samba would log nothing at all, still
// log errors; numbers above 10 log everything.
func FromCTDB(n int32) slog.Level {
	for i := len(levels) - 1; i >= 0; i-- {
		if n >= levels[i].ctdb {
			return levels[i].level
		}
	}
	return LevelError
}

// DebugLevel is a daemon's CTDB debug level, changed at run time by
// SET_DEBUG. It keeps the number as set, which GET_DEBUG returns as ctdbd
// does, and drives the slog.LevelVar its handler filters with.
type DebugLevel struct {
	// mu orders Set calls, so that the number and the slog level always
	// come from the same call.
	mu sync.Mutex
	n  atomic.Int32
	lv *slog.LevelVar
}

// NewDebugLevel returns the debug level that controls lv, starting at n if
// lv is at n's slog level (a daemon started from its configuration), or
// else at the canonical number of lv's level (a caller that set lv
// itself).
func NewDebugLevel(lv *slog.LevelVar, n int32) *DebugLevel {
	d := &DebugLevel{lv: lv}
	if FromCTDB(n) != lv.Level() {
		n = ToCTDB(lv.Level())
	}
	d.n.Store(n)
	return d
}

// Set changes the level to the CTDB number n.
func (d *DebugLevel) Set(n int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n.Store(n)
	d.lv.Set(FromCTDB(n))
}

// Get returns the number last set.
func (d *DebugLevel) Get() int32 { return d.n.Load() }

// NewHandler returns a text handler writing to w whose level names are
// CTDB's, with the level controlled by lv.
func NewHandler(w io.Writer, lv *slog.LevelVar) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && len(groups) == 0 {
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(Name(l))
				}
			}
			return a
		},
	})
}
