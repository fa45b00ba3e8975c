package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/events"
)

// formatEventStatus renders a STATUS reply as ctdb-event prints it.
func formatEventStatus(st *events.Status, loc *time.Location) string {
	var b strings.Builder
	for _, s := range st.Scripts {
		switch {
		case s.Status == events.ScriptTimedOut:
			fmt.Fprintf(&b, "%-20s %-10s %s", s.Name, "TIMEDOUT", ctime(s.Begin.Unix(), loc))
		case s.Status == events.ScriptDisabled:
			fmt.Fprintf(&b, "%-20s %-10s\n", s.Name, "DISABLED")
		case s.Status < 0:
			fmt.Fprintf(&b, "%-20s %-10s (%s)\n", s.Name, "CANNOT RUN", strerror(syscall.Errno(-s.Status)))
		default:
			state := "OK"
			if s.Status != 0 {
				state = "ERROR"
			}
			fmt.Fprintf(&b, "%-20s %-10s %.3f %s", s.Name, state, elapsed(s.Begin, s.End), ctime(s.Begin.Unix(), loc))
		}
		if s.Status != 0 && s.Status != events.ScriptDisabled {
			fmt.Fprintf(&b, "  OUTPUT: %s\n", s.Output)
		}
	}
	return b.String()
}

// elapsed is ctdb-event's timeval_delta: whole seconds plus the
// microseconds' difference, in double precision.
func elapsed(begin, end time.Time) float64 {
	sec := float64(end.Unix() - begin.Unix())
	usec := float64(end.Nanosecond()/1000 - begin.Nanosecond()/1000)
	return sec + usec*1.0e-6
}

// strerror is glibc's message for errno; Go's table differs from glibc's
// for some values, so those that scripts and the daemon produce are
// spelled out.
func strerror(errno syscall.Errno) string {
	if msg, ok := glibcErrors[errno]; ok {
		return msg
	}
	s := errno.Error()
	if strings.HasPrefix(s, "errno ") {
		return fmt.Sprintf("Unknown error %d", int(errno))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var glibcErrors = map[syscall.Errno]string{
	syscall.EPERM:        "Operation not permitted",
	syscall.ENOENT:       "No such file or directory",
	syscall.EINTR:        "Interrupted system call",
	syscall.EIO:          "Input/output error",
	syscall.E2BIG:        "Argument list too long",
	syscall.ENOEXEC:      "Exec format error",
	syscall.EACCES:       "Permission denied",
	syscall.ENOTDIR:      "Not a directory",
	syscall.EISDIR:       "Is a directory",
	syscall.EINVAL:       "Invalid argument",
	syscall.ETXTBSY:      "Text file busy",
	syscall.ENOMEM:       "Cannot allocate memory",
	syscall.ELOOP:        "Too many levels of symbolic links",
	syscall.ENAMETOOLONG: "File name too long",
	syscall.ECANCELED:    "Operation canceled",
	syscall.ETIMEDOUT:    "Connection timed out",
}

func (h *eventHelper) scriptList(args []string) helperRC {
	etc, data, _, ok := h.paths()
	if !ok {
		return helperRC{aborted: true}
	}
	component := args[0]
	list, err := events.Dirs{Etc: etc, Data: data + "/events"}.ListScripts(component)
	if err != nil {
		return h.scriptFailed(err)
	}
	h.notice("Command script list finished with result=0\n")
	if h.t.opts.json {
		doc := jsonScriptList{Component: component, Scripts: []jsonListedScript{}}
		for _, s := range list.Packaged {
			doc.Scripts = append(doc.Scripts, jsonListedScript{s.Name, s.Enabled, true})
		}
		for _, s := range list.Local {
			doc.Scripts = append(doc.Scripts, jsonListedScript{s.Name, s.Enabled, false})
		}
		return helperRC{err: h.t.printJSON(doc)}
	}
	var b strings.Builder
	line := func(s events.ListedScript) {
		flag := ' '
		if s.Enabled {
			flag = '*'
		}
		fmt.Fprintf(&b, "%c %s\n", flag, s.Name)
	}
	for _, s := range list.Packaged {
		line(s)
	}
	if list.Separated {
		b.WriteString("\n")
	}
	for _, s := range list.Local {
		line(s)
	}
	h.t.print(b.String())
	return helperRC{}
}

func (h *eventHelper) scriptEnable(args []string) helperRC {
	return h.scriptSet(args, true)
}

func (h *eventHelper) scriptDisable(args []string) helperRC {
	return h.scriptSet(args, false)
}

func (h *eventHelper) scriptSet(args []string, enable bool) helperRC {
	etc, data, _, ok := h.paths()
	if !ok {
		return helperRC{aborted: true}
	}
	dirs := events.Dirs{Etc: etc, Data: data + "/events"}
	var err error
	if enable {
		err = dirs.EnableScript(args[0], args[1])
	} else {
		err = dirs.DisableScript(args[0], args[1])
	}
	if err != nil {
		return h.scriptFailed(err)
	}
	return helperRC{}
}

// scriptFailed prints what ctdb-event prints for a failed script command
// and returns its status.
func (h *eventHelper) scriptFailed(err error) helperRC {
	var se *events.ScriptError
	if !errors.As(err, &se) {
		h.t.eprintf("%v\n", err)
		return helperRC{code: 1}
	}
	h.t.print(se.Stdout)
	h.t.eprintf("%s", se.Stderr)
	return helperRC{code: int(se.Errno)}
}

// The --json documents of the event commands.
type jsonEventRun struct {
	Component string  `json:"component"`
	Event     string  `json:"event"`
	Result    int32   `json:"result"`
	Message   *string `json:"message"`
}

type jsonEventStatus struct {
	Component string            `json:"component"`
	Event     string            `json:"event"`
	Result    int32             `json:"result"`
	Summary   *int32            `json:"summary"`
	Message   *string           `json:"message"`
	Scripts   []jsonScriptState `json:"scripts"`
}

type jsonScriptState struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Status int32  `json:"status"`
	Begin  string `json:"begin"`
	End    string `json:"end"`
	Output string `json:"output"`
}

type jsonScriptList struct {
	Component string             `json:"component"`
	Scripts   []jsonListedScript `json:"scripts"`
}

type jsonListedScript struct {
	Name     string `json:"name"`
	Enabled  bool   `json:"enabled"`
	Packaged bool   `json:"packaged"`
}

func optMessage(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func eventStatusDoc(component, event string, result int32, st *events.Status) jsonEventStatus {
	doc := jsonEventStatus{Component: component, Event: event, Result: result, Scripts: []jsonScriptState{}}
	if result != 0 || st == nil {
		doc.Message = optMessage(statusError(component, event, result))
		return doc
	}
	doc.Summary = &st.Summary
	for _, s := range st.Scripts {
		state := "OK"
		switch {
		case s.Status == events.ScriptTimedOut:
			state = "TIMEDOUT"
		case s.Status == events.ScriptDisabled:
			state = "DISABLED"
		case s.Status < 0:
			state = "CANNOT RUN"
		case s.Status > 0:
			state = "ERROR"
		}
		const layout = "2006-01-02T15:04:05.000000Z07:00"
		doc.Scripts = append(doc.Scripts, jsonScriptState{
			Name: s.Name, State: state, Status: s.Status,
			Begin: s.Begin.UTC().Format(layout), End: s.End.UTC().Format(layout), Output: s.Output,
		})
	}
	return doc
}
