package events

import (
	"errors"
	"syscall"
	"time"
)

// RunFlags modify how an event runs.
type RunFlags uint32

// RunAll keeps running the scripts after one fails (ctdb-event sets it in
// test mode when CTDB_EVENT_RUN_ALL is set); the summary is then the last
// failure's status.
const RunAll RunFlags = 1

// Result codes of a run, as ctdb-eventd replies them: 0 or a positive
// errno.
const (
	ResultOK       int32 = 0
	ResultNoDir    int32 = int32(syscall.ENOENT)    // no events/<component> directory
	ResultFailed   int32 = int32(syscall.ENOEXEC)   // a script failed
	ResultTimedOut int32 = int32(syscall.ETIMEDOUT) // the event's timeout expired
	ResultCanceled int32 = int32(syscall.ECANCELED) // monitor pre-empted, or the runner closed
)

// Script statuses other than an exit code: minus an errno.
const (
	ScriptDisabled int32 = -int32(syscall.ENOEXEC)   // not executable: skipped
	ScriptTimedOut int32 = -int32(syscall.ETIMEDOUT) // killed at the event's deadline
	ScriptSignaled int32 = -int32(syscall.EINTR)     // died of a signal
)

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("events: runner closed")

// ScriptResult is one script's part of a run.
type ScriptResult struct {
	// Name is the file name without ".script".
	Name string
	// Begin and End bound the script's run (equal when it did not start).
	Begin, End time.Time
	// Status is the exit code, or ScriptDisabled, ScriptTimedOut,
	// ScriptSignaled, or minus the errno of a failed stat or exec.
	Status int32
	// Output is what the script wrote to stdout and stderr, up to the
	// first NUL byte and Config.MaxOutput.
	Output string
}

// Status is a completed run of an event: what `ctdb event status` shows.
type Status struct {
	// Summary is 0, or the status of the script that failed (the last
	// one to fail with RunAll).
	Summary int32
	// Scripts are the scripts run, in order, up to the one that failed
	// (all of them with RunAll).
	Scripts []ScriptResult
}

func (s *Status) clone() *Status {
	if s == nil {
		return nil
	}
	c := *s
	c.Scripts = append([]ScriptResult(nil), s.Scripts...)
	return &c
}

// Result is the outcome of Runner.Run.
type Result struct {
	// Code is what ctdb-eventd replies: ResultOK, ResultTimedOut,
	// ResultFailed, ResultCanceled, ResultNoDir or another errno.
	Code int32
	// Status is the run that was stored as the event's status; nil when
	// the event was cancelled or could not run.
	Status *Status
}

// resultCode maps a run's summary to the reply ctdb-eventd sends.
func resultCode(summary int32) int32 {
	switch {
	case summary == 0:
		return ResultOK
	case summary == ScriptTimedOut:
		return ResultTimedOut
	default:
		return ResultFailed
	}
}

// errnoOf extracts the errno of a system call error; EIO when there is
// none.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return syscall.EIO
}
