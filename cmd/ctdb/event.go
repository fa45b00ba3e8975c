package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/internal/logging"
)

// EventCmd is "ctdb event ...". Debian's tool execs ctdb-event and exits
// with its status; we speak the event daemon's protocol ourselves (the
// script commands work on the files, as ctdb-event's do), print what
// ctdb-event prints, and exit as ctdb does after its helper.
//
// --json prints a document instead for run, status and script list:
//
//	run    {"component", "event", "result": int, "message": string|null}
//	status {"component", "event", "result": int, "summary": int|null,
//	        "message": string|null, "scripts": [{"name", "state": "OK"|
//	        "ERROR"|"TIMEDOUT"|"DISABLED"|"CANNOT RUN", "status": int,
//	        "begin", "end": RFC 3339 time, "output": string}]}
//	script list {"component", "scripts": [{"name", "enabled": bool,
//	        "packaged": bool}]}
type EventCmd struct{ Args }

// Run runs the event helper's command and maps its exit status.
func (c *EventCmd) Run(t *tool) error {
	return t.helperExit(t.eventHelper(c.Args.Args))
}

// ScriptstatusCmd is "ctdb scriptstatus [EVENT]": "event status legacy
// EVENT" (monitor by default); the helper's status is ignored.
type ScriptstatusCmd struct{ Args }

// Run follows control_scriptstatus.
func (c *ScriptstatusCmd) Run(t *tool) error {
	if len(c.Args.Args) > 1 {
		return t.usage()
	}
	event := "monitor"
	if len(c.Args.Args) == 1 {
		event = c.Args.Args[0]
	}
	err := t.helperExit(t.eventHelper([]string{"status", "legacy", event}))
	if errors.Is(err, errMaxRuntime) {
		return err
	}
	return nil
}

// helperRC is how the event helper ended: an exit status, or killed by
// SIGABRT (ctdb-event aborts when test mode has no CTDB_BASE).
type helperRC struct {
	code    int
	aborted bool
	err     error // errMaxRuntime: the -T limit ended the wait
}

// helperExit maps the helper's end as the real tool's run_helper does:
// statuses 64 to 254 are "errors" (64 + errno) and reported as such.
func (t *tool) helperExit(rc helperRC) error {
	switch {
	case rc.err != nil:
		return rc.err
	case rc.aborted:
		t.eprintf("event daemon helper terminated with signal %d\n", int(syscall.SIGABRT))
		return exitCode(syscall.EINTR)
	case rc.code >= 64 && rc.code < 255:
		t.eprintf("event daemon helper failed with error %d\n", rc.code-64)
		return exitCode(rc.code - 64)
	case rc.code != 0:
		return exitCode(rc.code)
	}
	return nil
}

// eventHelper is ctdb-event: it parses its own options, matches a
// command and returns its exit status.
func (t *tool) eventHelper(args []string) helperRC {
	h := &eventHelper{t: t}
	if len(args) == 0 {
		h.usageFull()
		h.usageFull()
		return helperRC{code: 1}
	}
	rest, ok := h.parseOptions(args)
	if !ok {
		h.usageFull()
		h.usageFull()
		return helperRC{code: 1}
	}
	cmd, cmdArgs := matchEventCommand(rest)
	if cmd == nil || h.help {
		if cmd != nil {
			h.usageCommand(cmd)
		} else {
			h.usageFull()
		}
		h.usageFull()
		return helperRC{code: 1}
	}
	if len(cmdArgs) < cmd.minArgs || (cmd.maxArgs >= 0 && len(cmdArgs) > cmd.maxArgs) {
		h.usageCommand(cmd)
		return helperRC{code: 1}
	}
	rc := cmd.run(h, cmdArgs)
	rc.code &= 0xff // exit() keeps 8 bits
	return rc
}

// eventHelper is the state of one ctdb-event run.
type eventHelper struct {
	t     *tool
	level int  // ctdb debug level: 0 ERROR, 1 WARNING, 3 NOTICE ...
	help  bool // -h
}

// ctdb-event's debug level that shows its NOTICE messages.
const levelNotice = 3

func (h *eventHelper) notice(format string, args ...any) {
	if h.level >= levelNotice {
		h.t.eprintf(format, args...)
	}
}

// parseOptions takes ctdb-event's options (-d LEVEL, -h) out of args, as
// popt does: anywhere before "--".
func (h *eventHelper) parseOptions(args []string) ([]string, bool) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i+1:]...), true
		case a == "-" || !strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		case a == "-h" || a == "--help":
			h.help = true
		case a == "-d" || a == "--debug":
			if i+1 >= len(args) {
				h.t.eprintf("Invalid option %s: missing argument\n", a)
				return nil, false
			}
			i++
			h.level = debugLevel(args[i])
		case strings.HasPrefix(a, "--debug="):
			h.level = debugLevel(strings.TrimPrefix(a, "--debug="))
		case strings.HasPrefix(a, "-d") && !strings.HasPrefix(a, "--"):
			h.level = debugLevel(strings.TrimPrefix(strings.TrimPrefix(a, "-d"), "="))
		default:
			h.t.eprintf("Invalid option %s: unknown option\n", a)
			return nil, false
		}
	}
	return rest, true
}

// debugLevel parses a level as ctdb's debug_level_from_string: ERROR when
// it is not one.
func debugLevel(s string) int {
	n, err := logging.ParseDebugLevel(s)
	if err != nil {
		return int(logging.DebugError)
	}
	return int(n)
}

// eventCommand is a command of ctdb-event.
type eventCommand struct {
	name             string
	args, help       string
	minArgs, maxArgs int // maxArgs -1: any
	run              func(h *eventHelper, args []string) helperRC
}

var eventCommands = []*eventCommand{
	{"run", "<timeout> <component> <event> <args>", "Run an event", 3, -1, (*eventHelper).run},
	{"status", "<component> <event>", "Get status of an event", 2, 2, (*eventHelper).status},
	{"script list", "<component>", "List event scripts", 1, 1, (*eventHelper).scriptList},
	{"script enable", "<component> <script>", "Enable an event script", 2, 2, (*eventHelper).scriptEnable},
	{"script disable", "<component> <script>", "Disable an event script", 2, 2, (*eventHelper).scriptDisable},
}

// matchEventCommand finds the command whose words begin args.
func matchEventCommand(args []string) (*eventCommand, []string) {
	for _, c := range eventCommands {
		words := strings.Fields(c.name)
		if len(args) < len(words) {
			continue
		}
		match := true
		for i, w := range words {
			if args[i] != w {
				match = false
				break
			}
		}
		if match {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

// The helper's usage texts, as popt and ctdb's cmdline print them.
const eventUsageHead = "Usage: ctdb-event [<options>] <command> [<args>]\n\n" +
	"Help Options:\n" +
	"  -h, --help                                      Show this help message\n\n" +
	"Options:\n" +
	"  -d, --debug=ERROR|WARNING|NOTICE|INFO|DEBUG     debug level\n\n" +
	"Commands:\n"

const eventUsageCommandHead = "Usage: ctdb-event [-h] [-h|--help]\n" +
	"        [-d|--debug=ERROR|WARNING|NOTICE|INFO|DEBUG] <command> [<args>]\n\n"

func (h *eventHelper) usageFull() {
	width := 0
	for _, c := range eventCommands {
		width = max(width, len(c.name)+len(c.args))
	}
	var b strings.Builder
	b.WriteString(eventUsageHead)
	for _, c := range eventCommands {
		fmt.Fprintf(&b, "  %s %-*s     %s\n", c.name, width-len(c.name), c.args, c.help)
	}
	h.t.print(b.String())
}

func (h *eventHelper) usageCommand(c *eventCommand) {
	h.t.print(eventUsageCommandHead + fmt.Sprintf("  %s %s     %s\n", c.name, c.args, c.help))
}

// paths are ctdb's compiled-in directories, or $CTDB_BASE's in test mode;
// ok is false when test mode has no CTDB_BASE (ctdb-event aborts).
func (h *eventHelper) paths() (etc, data, run string, ok bool) {
	if _, test := h.t.getenv("CTDB_TEST_MODE"); !test {
		return "/etc/ctdb", "/usr/share/ctdb", "/run/ctdb", true
	}
	base, set := h.t.getenv("CTDB_BASE")
	if !set {
		h.t.eprintf("Broken CTDB setup, CTDB_BASE not set in test mode\n")
		return "", "", "", false
	}
	return base, base + "/share", base + "/run", true
}

// maxSocketPath is sizeof(sun_path) less the NUL.
const maxSocketPath = 107

// connect connects to the event daemon as ctdb-event does.
func (h *eventHelper) connect() (*events.Client, helperRC, bool) {
	_, _, run, ok := h.paths()
	if !ok {
		return nil, helperRC{aborted: true}, false
	}
	path := run + "/eventd.socket"
	if len(path) > maxSocketPath {
		h.t.eprintf("socket path too long: %s\n", path)
		h.t.eprintf("Failed to initialize event client, ret=%d\n", int(syscall.EIO))
		return nil, helperRC{code: int(syscall.EIO)}, false
	}
	c, err := events.Dial(h.t.ctx, path)
	if err != nil {
		if h.t.ctx.Err() != nil {
			return nil, helperRC{err: errMaxRuntime}, false
		}
		h.t.eprintf("socket connect failed - %s\n", path)
		h.t.eprintf("Failed to initialize event client, ret=%d\n", int(syscall.EIO))
		return nil, helperRC{code: int(syscall.EIO)}, false
	}
	return c, helperRC{}, true
}

// callFailed reports a request that got no reply: the daemon went away
// (ctdb-event exits 1, saying so only at NOTICE), or the -T limit.
func (h *eventHelper) callFailed(err error, msg string) helperRC {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return helperRC{err: errMaxRuntime}
	}
	if errors.Is(err, events.ErrClientClosed) {
		h.notice("connection to daemon closed, exiting\n")
		return helperRC{code: 1}
	}
	h.t.eprintf("%s, ret=%d\n", msg, int(eventErrno(err)))
	return helperRC{code: 1}
}

func eventErrno(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

func (h *eventHelper) run(args []string) helperRC {
	c, rc, ok := h.connect()
	if !ok {
		return rc
	}
	defer c.Close()
	timeout := max(int(atoi(args[0])), 0)
	component, event := args[1], args[2]
	var flags events.RunFlags
	if _, test := h.t.getenv("CTDB_TEST_MODE"); test {
		if _, all := h.t.getenv("CTDB_EVENT_RUN_ALL"); all {
			flags = events.RunAll
		}
	}
	result, err := c.Run(h.t.ctx, component, event, args[3:], time.Duration(timeout)*time.Second, flags)
	if err != nil {
		return h.callFailed(err, fmt.Sprintf("Failed to run event %s in %s", event, component))
	}
	h.notice("Command run finished with result=%d\n", result)
	msg := runMessage(component, event, result)
	if h.t.opts.json {
		return helperRC{code: int(result), err: h.t.printJSON(jsonEventRun{component, event, result, optMessage(msg)})}
	}
	if msg != "" {
		h.t.print(msg + "\n")
	}
	return helperRC{code: int(result)}
}

// runMessage is what ctdb-event prints after a run.
func runMessage(component, event string, result int32) string {
	switch result {
	case 0:
		return ""
	case events.ResultNoDir:
		return fmt.Sprintf("Event dir for %s does not exist", component)
	case events.ResultTimedOut:
		return fmt.Sprintf("Event %s in %s timed out", event, component)
	case events.ResultCanceled:
		return fmt.Sprintf("Event %s in %s got cancelled", event, component)
	case events.ResultFailed:
		return fmt.Sprintf("Event %s in %s failed", event, component)
	}
	return fmt.Sprintf("Failed to run event %s in %s, result=%d", event, component, result)
}

func (h *eventHelper) status(args []string) helperRC {
	c, rc, ok := h.connect()
	if !ok {
		return rc
	}
	defer c.Close()
	component, event := args[0], args[1]
	result, st, err := c.Status(h.t.ctx, component, event)
	if err != nil {
		return h.callFailed(err, fmt.Sprintf("Failed to get status for event %s in %s", event, component))
	}
	h.notice("Command status finished with result=%d\n", result)
	code := int(result)
	if result == 0 && st != nil {
		code = int(st.Summary)
		if code < 0 {
			code = -code
		}
	}
	if h.t.opts.json {
		return helperRC{code: code, err: h.t.printJSON(eventStatusDoc(component, event, result, st))}
	}
	if result != 0 {
		h.t.print(statusError(component, event, result) + "\n")
	} else if st != nil {
		h.t.print(formatEventStatus(st, h.t.loc))
	}
	return helperRC{code: code}
}

// statusError is what ctdb-event prints when STATUS fails.
func statusError(component, event string, result int32) string {
	switch result {
	case events.ResultNoDir:
		return fmt.Sprintf("Event dir for %s does not exist", component)
	case int32(syscall.EINVAL):
		return fmt.Sprintf("Event %s has never run in %s", event, component)
	}
	return fmt.Sprintf("Unknown error (%d) for event %s in %s", result, event, component)
}
