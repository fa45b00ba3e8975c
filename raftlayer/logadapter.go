package raftlayer

import (
	"bytes"
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger routes hashicorp/raft's hclog output into slog.
func newHCLogger(log *slog.Logger) hclog.Logger {
	level := hclog.Warn
	switch {
	case log.Enabled(context.Background(), slog.LevelDebug):
		level = hclog.Debug
	case log.Enabled(context.Background(), slog.LevelInfo):
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       level,
		Output:      &hclogWriter{log: log},
		DisableTime: true,
	})
}

// hclogWriter turns hclog's text lines ("[WARN]  raft: msg: k=v") into slog
// records at the matching level.
type hclogWriter struct{ log *slog.Logger }

var _ io.Writer = (*hclogWriter)(nil)

func (w *hclogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		level := slog.LevelInfo
		msg := line
		if i := bytes.IndexByte(line, ']'); i > 0 && line[0] == '[' {
			switch string(line[1:i]) {
			case "ERROR":
				level = slog.LevelError
			case "WARN":
				level = slog.LevelWarn
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			}
			msg = bytes.TrimSpace(line[i+1:])
		}
		w.log.Log(context.Background(), level, string(msg))
	}
	return len(p), nil
}
