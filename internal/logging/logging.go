// Package logging maps CTDB's debug levels (ERROR, WARNING, NOTICE, INFO,
// DEBUG) onto log/slog and builds the daemon's loggers.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
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

var names = []struct {
	level slog.Level
	name  string
	ctdb  int32
}{
	{LevelError, "ERROR", 0},
	{LevelWarning, "WARNING", 1},
	{LevelNotice, "NOTICE", 2},
	{LevelInfo, "INFO", 3},
	{LevelDebug, "DEBUG", 4},
}

// ParseLevel accepts a CTDB level name (ERR and WARN too), case-insensitive.
func ParseLevel(s string) (slog.Level, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "ERR":
		return LevelError, nil
	case "WARN":
		return LevelWarning, nil
	default:
		for _, n := range names {
			if n.name == u {
				return n.level, nil
			}
		}
	}
	return 0, fmt.Errorf("unknown log level %q (want ERROR, WARNING, NOTICE, INFO or DEBUG)", s)
}

// Name returns the CTDB name of the closest level at or above l.
func Name(l slog.Level) string {
	for i := len(names) - 1; i >= 0; i-- {
		if l <= names[i].level {
			return names[i].name
		}
	}
	return "ERROR"
}

// ToCTDB converts a level to CTDB's numeric debug level (GET_DEBUG).
func ToCTDB(l slog.Level) int32 {
	for i := len(names) - 1; i >= 0; i-- {
		if l <= names[i].level {
			return names[i].ctdb
		}
	}
	return 0
}

// FromCTDB converts CTDB's numeric debug level (SET_DEBUG) to a level.
func FromCTDB(v int32) slog.Level {
	switch {
	case v <= 0:
		return LevelError
	case v >= 4:
		return LevelDebug
	}
	return names[v].level
}

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
