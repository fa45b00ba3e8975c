package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/events/eventstest"
)

// Our `ctdb event ...` and `ctdb scriptstatus` against Debian's tool
// (which execs ctdb-event), both pointed at Debian's ctdb-eventd and at
// our events.Server in turn: the outputs and exit statuses must be the
// same, start times and durations aside.

func eventScripts(t *testing.T, b *eventstest.Base) {
	b.Link(t, "00.ctdb")
	b.Link(t, "05.system")
	b.Script(t, "10.ok", `echo "ok $*"`, 0o755)
	b.Script(t, "20.fail", `case "$1" in failme|takeip) echo "failing $*"; echo "on stderr" >&2; exit 3;; esac`, 0o755)
	b.Script(t, "30.disabled", `echo never`, 0o644)
	b.Script(t, "40.codes", `case "$1" in
sigme) kill -9 $$;;
exit*) exit "${1#exit}";;
esac`, 0o755)
	b.ComponentScript(t, "hang", "01.hang", eventstest.Hang("01.hang"), 0o755)
	b.WriteFile(t, "events/legacy/foo.script", "#!/bin/sh\n", 0o644)
}

var (
	eventCtimeRE    = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}`)
	eventDurationRE = regexp.MustCompile(`(?m)^(\S+ +(OK|ERROR) +)[0-9]+\.[0-9]{3} `)
)

func normaliseEvent(s, dir string) string {
	if dir != "" {
		s = strings.ReplaceAll(s, dir, "$BASE")
	}
	s = eventDurationRE.ReplaceAllString(s, "${1}D.DDD ")
	return eventCtimeRE.ReplaceAllString(s, "CTIME")
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// ours runs our tool in-process with the base's environment.
func ours(t *testing.T, b *eventstest.Base, extra []string, args ...string) eventstest.Output {
	env := envMap(append(append([]string(nil), b.Env...), extra...))
	r := runTool(nil, env, args...)
	return eventstest.Output{Stdout: r.stdout, Stderr: r.stderr, RC: r.rc}
}

func norm(o eventstest.Output, dir string) eventstest.Output {
	o.Stdout, o.Stderr = normaliseEvent(o.Stdout, dir), normaliseEvent(o.Stderr, dir)
	return o
}

func TestEventCommandsMatchDebianTool(t *testing.T) {
	realBase, ourBase := eventstest.NewBase(t, ""), eventstest.NewBase(t, "")
	eventScripts(t, realBase)
	eventScripts(t, ourBase)
	eventstest.StartReal(t, realBase)
	eventstest.StartOurs(t, ourBase)

	runAll := []string{"CTDB_EVENT_RUN_ALL=1"}
	steps := []struct {
		env  []string
		args []string
	}{
		{nil, []string{"event", "status", "legacy", "monitor"}},
		{nil, []string{"scriptstatus"}},
		{nil, []string{"event", "run", "30", "legacy", "monitor"}},
		{nil, []string{"event", "status", "legacy", "monitor"}},
		{nil, []string{"scriptstatus"}},
		{nil, []string{"scriptstatus", "monitor"}},
		{nil, []string{"event", "run", "30", "legacy", "failme"}},
		{nil, []string{"event", "status", "legacy", "failme"}},
		{runAll, []string{"event", "run", "30", "legacy", "failme"}},
		{nil, []string{"event", "status", "legacy", "failme"}},
		{nil, []string{"scriptstatus", "failme"}},
		{nil, []string{"event", "run", "30", "legacy", "takeip", "eth0", "10.0.0.1", "24"}},
		{nil, []string{"event", "status", "legacy", "takeip"}},
		{nil, []string{"event", "run", "30", "legacy", "sigme"}},
		{nil, []string{"event", "status", "legacy", "sigme"}},
		{nil, []string{"event", "run", "30", "legacy", "exit65"}},
		{nil, []string{"event", "status", "legacy", "exit65"}},
		{nil, []string{"event", "run", "30", "legacy", "exit77"}},
		{nil, []string{"event", "status", "legacy", "exit77"}},
		{nil, []string{"event", "run", "30", "legacy", "exit174"}},
		{nil, []string{"event", "status", "legacy", "exit174"}},
		{nil, []string{"scriptstatus", "exit174"}},
		{nil, []string{"event", "run", "30", "legacy", "exit255"}},
		{nil, []string{"event", "status", "legacy", "exit255"}},
		{nil, []string{"event", "run", "2", "hang", "hangme"}},
		{nil, []string{"event", "status", "hang", "hangme"}},
		{nil, []string{"event", "run", "0", "legacy", "startup"}},
		{nil, []string{"event", "run", "x5", "legacy", "startup"}},
		{nil, []string{"event", "status", "legacy", "startup"}},
		{nil, []string{"event", "run", "30", "nonex", "monitor"}},
		{nil, []string{"event", "status", "nonex", "monitor"}},
		{nil, []string{"event", "status", "legacy", "never"}},
		{nil, []string{"scriptstatus", "never"}},
		{nil, []string{"event", "--", "-d", "NOTICE", "status", "legacy", "monitor"}},
		{nil, []string{"event", "--", "--debug=no", "run", "30", "legacy", "failme"}},
		{nil, []string{"event", "--", "-dnotice", "script", "list", "nonex"}},
		{nil, []string{"event", "--", "-d", "3", "script", "list", "legacy"}},
	}
	for _, s := range steps {
		var results []eventstest.Output
		for _, b := range []*eventstest.Base{realBase, ourBase} {
			deb := norm(b.Tool(t, s.env, s.args...), b.Dir)
			mine := norm(ours(t, b, s.env, s.args...), b.Dir)
			results = append(results, deb, mine)
		}
		for i, who := range []string{"Debian's tool on ctdb-eventd", "our tool on ctdb-eventd", "Debian's tool on rctdb", "our tool on rctdb"} {
			if results[i] != results[0] {
				t.Errorf("ctdb %s:\n%-29s %v\n%-29s %v", strings.Join(s.args, " "), "Debian's tool on ctdb-eventd:", results[0], who+":", results[i])
			}
		}
	}
}

// The script commands work on the files: Debian's tool on one base, ours
// on an identical one, step by step.
func TestEventScriptCommandsMatchDebianTool(t *testing.T) {
	debBase, ourBase := eventstest.NewBase(t, ""), eventstest.NewBase(t, "")
	eventScripts(t, debBase)
	eventScripts(t, ourBase)
	for _, b := range []*eventstest.Base{debBase, ourBase} {
		os.Mkdir(filepath.Join(b.Dir, "events/legacy/07.dir.script"), 0o755)
		os.Symlink("/nowhere", filepath.Join(b.Dir, "events/legacy/08.dangling.script"))
		os.Symlink(filepath.Join(b.Dir, "share/events/legacy/11.natgw.script"), filepath.Join(b.Dir, "events/legacy/11.natgw.script"))
		os.Mkdir(filepath.Join(b.Dir, "events/local"), 0o755)
		b.WriteFile(t, "events/local/01.mine.script", "#!/bin/sh\n", 0o755)
	}
	steps := [][]string{
		{"event", "script", "list", "legacy"},
		{"event", "script", "list", "local"},
		{"event", "script", "list", "nonex"},
		{"event", "script", "disable", "legacy", "00.ctdb"},
		{"event", "script", "enable", "legacy", "10.interface"},
		{"event", "script", "disable", "legacy", "10.ok"},
		{"event", "script", "enable", "legacy", "30.disabled"},
		{"event", "script", "enable", "legacy", "99.nosuch"},
		{"event", "script", "enable", "legacy", "foo"},
		{"event", "script", "disable", "legacy", "foo"},
		{"event", "script", "disable", "legacy", "99.nosuch"},
		{"event", "script", "enable", "legacy", "07.dir"},
		{"event", "script", "disable", "legacy", "07.dir"},
		{"event", "script", "enable", "legacy", "08.dangling"},
		{"event", "script", "enable", "legacy", "00.ctdb.script"},
		{"event", "script", "enable", "nonex", "00.ctdb"},
		{"event", "script", "disable", "legacy", "11.natgw"},
		{"event", "script", "list", "legacy"},
		{"event", "script", "enable", "local", "01.mine"},
		{"event", "script", "list", "local"},
	}
	for _, args := range steps {
		deb := norm(debBase.Tool(t, nil, args...), debBase.Dir)
		mine := norm(ours(t, ourBase, nil, args...), ourBase.Dir)
		if deb != mine {
			t.Errorf("ctdb %s:\nDebian's tool: %v\nours:          %v", strings.Join(args, " "), deb, mine)
		}
		if args[2] == "list" {
			continue
		}
		// And the files look the same afterwards.
		l1 := norm(debBase.Tool(t, nil, "event", "script", "list", args[3]), debBase.Dir)
		l2 := norm(ours(t, ourBase, nil, "event", "script", "list", args[3]), ourBase.Dir)
		if l1 != l2 {
			t.Errorf("after ctdb %s:\nDebian's tool: %v\nours:          %v", strings.Join(args, " "), l1, l2)
		}
	}
}

// Command lines that need no daemon: usage texts, option errors, paths.
func TestEventCommandLinesMatchDebianTool(t *testing.T) {
	b := eventstest.NewBase(t, "") // no daemon on it
	cases := []struct {
		env  []string
		args []string
	}{
		{nil, []string{"event"}},
		{nil, []string{"event", "foo"}},
		{nil, []string{"event", "script"}},
		{nil, []string{"event", "script", "foo"}},
		{nil, []string{"event", "run"}},
		{nil, []string{"event", "run", "1", "legacy"}},
		{nil, []string{"event", "status", "legacy"}},
		{nil, []string{"event", "status", "legacy", "a", "b"}},
		{nil, []string{"event", "script", "list"}},
		{nil, []string{"event", "script", "list", "a", "b"}},
		{nil, []string{"event", "script", "enable", "legacy"}},
		{nil, []string{"event", "script", "disable", "legacy"}},
		{nil, []string{"event", "run", "-1", "legacy", "monitor"}},
		{nil, []string{"event", "--", "run", "-1", "legacy", "monitor"}},
		{nil, []string{"event", "--", "-x", "status", "legacy", "monitor"}},
		{nil, []string{"event", "--", "-h"}},
		{nil, []string{"event", "--", "status", "-h", "legacy", "monitor"}},
		{nil, []string{"event", "--", "-d"}},
		{nil, []string{"event", "status", "legacy", "monitor"}},
		{nil, []string{"event", "run", "5", "legacy", "monitor"}},
		{nil, []string{"scriptstatus"}},
		{nil, []string{"scriptstatus", "a", "b"}},
		{nil, []string{"-n", "1", "event", "status", "legacy", "monitor"}},
		{nil, []string{"-n", "0", "scriptstatus"}},
		{nil, []string{"-X", "scriptstatus"}},
	}
	for _, c := range cases {
		deb := norm(b.Tool(t, c.env, c.args...), b.Dir)
		mine := norm(ours(t, b, c.env, c.args...), b.Dir)
		if deb != mine {
			t.Errorf("ctdb %s:\nDebian's tool: %v\nours:          %v", strings.Join(c.args, " "), deb, mine)
		}
	}
	// Test mode without CTDB_BASE: ctdb-event aborts; and outside test
	// mode the compiled-in paths (no daemon runs on /run/ctdb here).
	for _, env := range [][]string{
		{"CTDB_TEST_MODE=yes"},
		{},
	} {
		for _, args := range [][]string{
			{"event", "status", "legacy", "monitor"},
			{"event", "script", "list", "legacy"},
			{"event", "script", "enable", "legacy", "99.none"},
			{"scriptstatus"},
		} {
			fullEnv := append([]string{"PATH=" + os.Getenv("PATH"), "TZ=UTC"}, env...)
			bare := &eventstest.Base{Dir: b.Dir, Env: fullEnv}
			deb := bare.Tool(t, nil, args...)
			mine := ours(t, bare, nil, args...)
			if deb != mine {
				t.Errorf("env %q ctdb %s:\nDebian's tool: %v\nours:          %v", env, strings.Join(args, " "), deb, mine)
			}
		}
	}
}
