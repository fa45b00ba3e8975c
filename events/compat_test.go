package events_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events"
	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/testutil"
)

// The same scripts on both daemons: Debian's real ones, and synthetic
// ones keyed on the event name.
func compatScripts(t *testing.T, b *eventstest.Base) {
	b.Link(t, "00.ctdb")
	b.Link(t, "05.system")
	b.Script(t, "10.ok", `echo "ok $*"`, 0o755)
	b.Script(t, "20.fail", `case "$1" in failme|takeip) echo "failing $*"; echo "on stderr" >&2; exit 3;; esac`, 0o755)
	b.Script(t, "30.disabled", `echo never`, 0o644)
	b.Script(t, "40.codes", `case "$1" in
sigme) kill -9 $$;;
exit*) echo "exiting with ${1#exit}"; exit "${1#exit}";;
garbage) printf 'no newline\001\002\377'; exit 1;;
esac`, 0o755)
	// A component of its own for the hanging script, so that its timeout
	// never strikes another script on a loaded machine.
	b.ComponentScript(t, "hang", "01.hang", eventstest.Hang("01.hang"), 0o755)
	b.ComponentScript(t, "hang", "02.after", `echo "after $1"`, 0o755)
	b.Script(t, "60.gate", `if [ -e "$CTDB_BASE/arm-$1" ]; then
  echo $$ >> "$CTDB_BASE/gate-$1.pids"; echo $$ >> "$CTDB_BASE/hung.pids"
  while [ ! -e "$CTDB_BASE/open-$1" ]; do sleep 0.05; done
  echo "$1 released"
fi`, 0o755)
	b.WriteFile(t, "events/legacy/README", "not a script\n", 0o644)
	b.WriteFile(t, "events/legacy/foo.script", "#!/bin/sh\n", 0o644)
}

var (
	ctimeRE    = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}`)
	durationRE = regexp.MustCompile(`(?m)^(\S+ +(OK|ERROR) +)[0-9]+\.[0-9]{3} `)
)

// normalise replaces what legitimately differs between two runs: the
// base directory, start times and durations.
func normalise(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "$BASE")
	s = durationRE.ReplaceAllString(s, "${1}D.DDD ")
	return ctimeRE.ReplaceAllString(s, "CTIME")
}

// pair is the same base layout served by Debian's ctdb-eventd and by us.
type pair struct {
	real, ours *eventstest.Base
}

func newPair(t *testing.T, debugScript string, setup func(*testing.T, *eventstest.Base)) *pair {
	p := &pair{real: eventstest.NewBase(t, debugScript), ours: eventstest.NewBase(t, debugScript)}
	for _, b := range []*eventstest.Base{p.real, p.ours} {
		setup(t, b)
	}
	eventstest.StartReal(t, p.real)
	eventstest.StartOurs(t, p.ours)
	return p
}

// both runs Debian's ctdb with args against both daemons and reports a
// difference; it returns the (normalised) output of the real one.
func (p *pair) both(t *testing.T, env []string, args ...string) eventstest.Output {
	t.Helper()
	r, o := p.real.Tool(t, env, args...), p.ours.Tool(t, env, args...)
	for _, x := range []*eventstest.Output{&r, &o} {
		dir := p.real.Dir
		if x == &o {
			dir = p.ours.Dir
		}
		x.Stdout, x.Stderr = normalise(x.Stdout, dir), normalise(x.Stderr, dir)
	}
	if r != o {
		t.Errorf("ctdb %s:\nctdb-eventd: %v\nrctdb:       %v", strings.Join(args, " "), r, o)
	}
	return r
}

func (p *pair) each(f func(b *eventstest.Base)) {
	f(p.real)
	f(p.ours)
}

func TestDebianToolAgainstBothDaemons(t *testing.T) {
	p := newPair(t, "", compatScripts)
	runAll := []string{"CTDB_EVENT_RUN_ALL=1"}
	expect := func(got eventstest.Output, stdout string, rc int) {
		t.Helper()
		if !strings.Contains(got.Stdout, stdout) || got.RC != rc {
			t.Errorf("real ctdb-eventd printed %v; the test expects %q, rc %d", got, stdout, rc)
		}
	}

	expect(p.both(t, nil, "event", "status", "legacy", "monitor"), "Event monitor has never run in legacy", 22)
	for _, ev := range []string{"init", "setup", "startup", "monitor"} {
		expect(p.both(t, nil, "event", "run", "30", "legacy", ev), "", 0)
		expect(p.both(t, nil, "event", "status", "legacy", ev), "00.ctdb              OK         D.DDD CTIME\n", 0)
	}
	expect(p.both(t, nil, "event", "run", "30", "legacy", "failme"), "Event failme in legacy failed", 8)
	expect(p.both(t, nil, "event", "status", "legacy", "failme"), "  OUTPUT: failing failme\non stderr\n", 3)
	expect(p.both(t, runAll, "event", "run", "30", "legacy", "failme"), "failed", 8)
	expect(p.both(t, nil, "event", "status", "legacy", "failme"), "60.gate", 3)
	expect(p.both(t, nil, "event", "run", "30", "legacy", "takeip", "eth0", "10.0.0.1", "24"), "failed", 8)
	expect(p.both(t, nil, "event", "status", "legacy", "takeip"), "failing takeip eth0 10.0.0.1 24", 3)
	expect(p.both(t, nil, "event", "run", "30", "legacy", "releaseip", "__none__", "  10.0.0.1", "24"), "", 0)
	for _, c := range []struct {
		event string
		rc    int
		line  string
	}{
		{"sigme", 4, "CANNOT RUN (Interrupted system call)"},
		{"exit64", 0, "40.codes             OK"},
		{"exit65", 1, "CANNOT RUN (Operation not permitted)"},
		{"exit77", 0, "40.codes             DISABLED"},
		{"exit174", 46, "40.codes             TIMEDOUT"},
		{"exit255", 255, "40.codes             ERROR"},
		{"garbage", 1, "  OUTPUT: no newline\001\002\377\n"},
	} {
		p.both(t, nil, "event", "run", "30", "legacy", c.event)
		expect(p.both(t, nil, "event", "status", "legacy", c.event), c.line, c.rc)
	}
	expect(p.both(t, nil, "event", "run", "2", "hang", "hangme"), "Event hangme in hang timed out", 46)
	expect(p.both(t, nil, "event", "status", "hang", "hangme"), "01.hang              TIMEDOUT   CTIME\n  OUTPUT: 01.hang hanging\n\n", 46)
	// Which script a 0 s timeout catches is a race in the event daemon's
	// loop (on a loaded machine ctdb-eventd now and then lets 00.ctdb
	// finish first): both must time the event out and show a TIMEDOUT.
	for _, timeout := range []string{"0", "abc"} {
		expect(p.both(t, nil, "event", "run", timeout, "legacy", "monitor"), "timed out", 46)
		p.each(func(b *eventstest.Base) {
			if got := b.Tool(t, nil, "event", "status", "legacy", "monitor"); got.RC != 46 || !strings.Contains(got.Stdout, "TIMEDOUT   ") {
				t.Errorf("%s: event status after a %s s timeout: %v", b.Dir, timeout, got)
			}
		})
	}
	expect(p.both(t, nil, "event", "run", "-1", "legacy", "x"), "", 1) // ctdb's own option parser refuses -1
	expect(p.both(t, nil, "event", "run", "30", "nonex", "monitor"), "Event dir for nonex does not exist", 2)
	expect(p.both(t, nil, "event", "status", "nonex", "monitor"), "Event dir for nonex does not exist", 2)
	// A monitor that times out where the test says: at 60.gate.
	p.each(func(b *eventstest.Base) { b.WriteFile(t, "arm-monitor", "", 0o644) })
	expect(p.both(t, nil, "event", "run", "5", "legacy", "monitor"), "timed out", 46)
	p.each(func(b *eventstest.Base) { os.Remove(filepath.Join(b.Dir, "arm-monitor")) })
	expect(p.both(t, nil, "event", "status", "legacy", "monitor"), "60.gate              TIMEDOUT   CTIME\n  OUTPUT: \n", 46)
	expect(p.both(t, nil, "scriptstatus"), "60.gate              TIMEDOUT", 0)
	expect(p.both(t, nil, "scriptstatus", "failme"), "failing failme", 0)
	expect(p.both(t, nil, "scriptstatus", "nosuchevent"), "Event nosuchevent has never run in legacy", 0)

	// A dangling symlink fails every event.
	p.each(func(b *eventstest.Base) {
		os.Symlink(filepath.Join(b.Dir, "nowhere"), filepath.Join(b.Dir, "events/legacy/01.dangling.script"))
	})
	expect(p.both(t, nil, "event", "run", "30", "legacy", "monitor"), "failed", 8)
	expect(p.both(t, nil, "event", "status", "legacy", "monitor"), "01.dangling          CANNOT RUN (No such file or directory)\n  OUTPUT: \n", 2)
	p.each(func(b *eventstest.Base) { os.Remove(filepath.Join(b.Dir, "events/legacy/01.dangling.script")) })

	// An event directory without scripts.
	p.each(func(b *eventstest.Base) { os.Mkdir(filepath.Join(b.Dir, "events/empty"), 0o755) })
	expect(p.both(t, nil, "event", "run", "30", "empty", "monitor"), "", 0)
	expect(p.both(t, nil, "event", "status", "empty", "monitor"), "", 0)

	// The script commands work on the files (no daemon involved).
	expect(p.both(t, nil, "event", "script", "list", "legacy"), "* 00.ctdb\n  01.reclock\n* 05.system\n", 0)
	for _, c := range [][]string{
		{"disable", "00.ctdb"}, {"enable", "10.interface"}, {"disable", "10.ok"}, {"enable", "30.disabled"},
		{"enable", "99.nosuch"}, {"enable", "foo"}, {"disable", "99.nosuch"}, {"enable", "10.interface"},
		{"enable", "00.ctdb.script"},
	} {
		p.both(t, nil, "event", "script", c[0], "legacy", c[1])
		p.both(t, nil, "event", "script", "list", "legacy")
	}
	expect(p.both(t, nil, "event", "script", "list", "nonex"), "", 2)
	expect(p.both(t, nil, "event", "run", "30", "legacy", "monitor"), "", 0)
	expect(p.both(t, nil, "event", "status", "legacy", "monitor"), "10.ok                DISABLED  \n", 0)
}

// Cancellation: a new event cancels a running monitor; a monitor
// arriving while another event runs is cancelled at once.
func TestDebianToolCancellationAgainstBothDaemons(t *testing.T) {
	p := newPair(t, "", compatScripts)
	background := func(b *eventstest.Base, args ...string) chan eventstest.Output {
		ch := make(chan eventstest.Output, 1)
		go func() { ch <- b.Tool(t, nil, args...) }()
		return ch
	}
	waitGate := func(b *eventstest.Base, event string) {
		testutil.WaitFor(t, 30*time.Second, "gate of "+event, func() error {
			if data, _ := os.ReadFile(filepath.Join(b.Dir, "gate-"+event+".pids")); len(data) == 0 {
				return fmt.Errorf("%s not started", event)
			}
			return nil
		})
	}
	results := map[string][]string{}
	p.each(func(b *eventstest.Base) {
		b.WriteFile(t, "arm-monitor", "", 0o644)
		mon := background(b, "event", "run", "60", "legacy", "monitor")
		waitGate(b, "monitor")
		start := b.Tool(t, nil, "event", "run", "60", "legacy", "startup")
		m := <-mon
		os.Remove(filepath.Join(b.Dir, "arm-monitor"))

		b.WriteFile(t, "arm-startup", "", 0o644)
		st := background(b, "event", "run", "60", "legacy", "startup")
		waitGate(b, "startup")
		mon2 := b.Tool(t, nil, "event", "run", "60", "legacy", "monitor")
		b.WriteFile(t, "open-startup", "", 0o644)
		st2 := <-st
		status := b.Tool(t, nil, "event", "status", "legacy", "startup")
		status.Stdout = normalise(status.Stdout, b.Dir)
		results[b.Dir] = []string{m.String(), start.String(), mon2.String(), st2.String(), status.String()}
	})
	r, o := results[p.real.Dir], results[p.ours.Dir]
	want := []string{
		`stdout "Event monitor in legacy got cancelled\n" stderr "event daemon helper failed with error 61\n" rc 61`,
		`stdout "" stderr "" rc 0`,
		`stdout "Event monitor in legacy got cancelled\n" stderr "event daemon helper failed with error 61\n" rc 61`,
		`stdout "" stderr "" rc 0`,
	}
	for i := range want {
		if r[i] != want[i] || o[i] != r[i] {
			t.Errorf("step %d:\nctdb-eventd: %s\nrctdb:       %s\nexpected:    %s", i, r[i], o[i], want[i])
		}
	}
	if r[4] != o[4] || !strings.Contains(r[4], `60.gate              OK         D.DDD CTIME\n`) {
		t.Errorf("status:\nctdb-eventd: %s\nrctdb:       %s", r[4], o[4])
	}
	// The cancelled monitor's script was killed by both.
	p.each(func(b *eventstest.Base) {
		data, _ := os.ReadFile(filepath.Join(b.Dir, "gate-monitor.pids"))
		for _, f := range strings.Fields(string(data)) {
			testutil.WaitFor(t, 20*time.Second, "cancelled monitor script gone", func() error {
				if _, err := os.Stat("/proc/" + f + "/cmdline"); err == nil {
					if c, _ := os.ReadFile("/proc/" + f + "/cmdline"); strings.Contains(string(c), b.Dir) {
						return fmt.Errorf("pid %s alive", f)
					}
				}
				return nil
			})
		}
	})
}

// With a debug script both daemons run it with the hung script's pid and
// the event, then the hung script dies.
func TestDebugScriptAgainstBothDaemons(t *testing.T) {
	debug := "#!/bin/sh\necho \"$1 $2\" > \"$CTDB_BASE/debugged\"\necho \"debugging $2\"\n"
	p := newPair(t, "debug.sh", func(t *testing.T, b *eventstest.Base) {
		compatScripts(t, b)
		b.WriteFile(t, "debug.sh", debug, 0o755)
	})
	p.both(t, nil, "event", "run", "2", "hang", "hangme")
	p.each(func(b *eventstest.Base) {
		var got string
		testutil.WaitFor(t, 30*time.Second, "debug script output", func() error {
			data, _ := os.ReadFile(filepath.Join(b.Dir, "debugged"))
			if got = strings.TrimSpace(string(data)); got == "" {
				return fmt.Errorf("debug script did not run")
			}
			return nil
		})
		pids, _ := os.ReadFile(filepath.Join(b.Dir, "hung.pids"))
		pid := strings.TrimSpace(string(pids))
		if got != pid+" hangme" {
			t.Errorf("%s: debug script got %q, hung script is %s", b.Dir, got, pid)
		}
		testutil.WaitFor(t, 30*time.Second, "hung script gone", func() error {
			out, _ := exec.Command("pgrep", "-g", pid).Output()
			if len(out) > 0 {
				return fmt.Errorf("group %s still has %s", pid, out)
			}
			return nil
		})
	})
	log, _ := os.ReadFile(filepath.Join(p.real.Dir, "log.eventd"))
	if !strings.Contains(string(log), "event_debug: debugging hangme") {
		t.Errorf("real daemon's log lacks the debug output:\n%s", log)
	}
}

// The SCRIPT command (nobody in 4.17 sends it, but ctdb-eventd serves
// it): our client against both daemons.
func TestScriptCommandAgainstBothDaemons(t *testing.T) {
	p := newPair(t, "", compatScripts)
	ctx := context.Background()
	type res struct {
		code int32
		mode os.FileMode
	}
	got := map[string][]res{}
	p.each(func(b *eventstest.Base) {
		c, err := events.Dial(ctx, b.Socket())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, s := range []struct {
			comp, script string
			enable       bool
		}{
			{"legacy", "30.disabled", true}, {"legacy", "10.ok.script", false}, {"legacy", "00.ctdb", false},
			{"legacy", "99.none", true}, {"legacy", "foo", true}, {"nonex", "10.ok", true}, {"legacy", "README", true},
		} {
			code, err := c.Script(ctx, s.comp, s.script, s.enable)
			if err != nil {
				t.Fatalf("%s/%s: %v", s.comp, s.script, err)
			}
			name := strings.TrimSuffix(s.script, ".script") + ".script"
			var mode os.FileMode
			if st, err := os.Lstat(filepath.Join(b.Dir, "events", s.comp, name)); err == nil {
				mode = st.Mode()
			}
			got[b.Dir] = append(got[b.Dir], res{code, mode})
		}
	})
	if r, o := fmt.Sprint(got[p.real.Dir]), fmt.Sprint(got[p.ours.Dir]); r != o {
		t.Errorf("SCRIPT results:\nctdb-eventd: %s\nrctdb:       %s", r, o)
	}
}

// Debian's own debug-hung-script.sh: it runs pstree on the hung script
// and calls back into the daemon (`ctdb scriptstatus EVENT`) while the
// daemon is still killing the script. Both daemons must give it the same
// material.
func TestPackagedDebugScriptAgainstBothDaemons(t *testing.T) {
	packaged, err := os.ReadFile("/etc/ctdb/debug-hung-script.sh")
	if err != nil {
		t.Fatalf("Debian's ctdb package: %v", err)
	}
	p := newPair(t, "debug-hung-script.sh", func(t *testing.T, b *eventstest.Base) {
		b.WriteFile(t, "debug-hung-script.sh", string(packaged), 0o755)
		b.Script(t, "01.hang", eventstest.Hang("01.hang"), 0o755)
		b.Env = append(b.Env, "CTDB_DEBUG_HUNG_SCRIPT_LOGFILE="+filepath.Join(b.Dir, "debug.log"))
	})
	p.both(t, nil, "event", "run", "2", "legacy", "startrecovery")
	logs := map[string]string{}
	p.each(func(b *eventstest.Base) {
		testutil.WaitFor(t, 60*time.Second, "debug-hung-script.sh log", func() error {
			data, err := os.ReadFile(filepath.Join(b.Dir, "debug.log"))
			if err != nil {
				return err
			}
			logs[b.Dir] = normalise(string(data), b.Dir)
			return nil
		})
		pids, _ := os.ReadFile(filepath.Join(b.Dir, "hung.pids"))
		pid := strings.TrimSpace(string(pids))
		logs[b.Dir] = regexp.MustCompile(`\b[0-9]{3,}\b`).ReplaceAllString(strings.ReplaceAll(logs[b.Dir], pid, "PID"), "N")
		testutil.WaitFor(t, 30*time.Second, "hung script gone", func() error {
			if out, _ := exec.Command("pgrep", "-g", pid).Output(); len(out) > 0 {
				return fmt.Errorf("group %s still has %s", pid, out)
			}
			return nil
		})
	})
	r, o := logs[p.real.Dir], logs[p.ours.Dir]
	if r != o || !strings.Contains(r, `01.hang              TIMEDOUT   CTIME`) || !strings.Contains(r, "`-sleep,N N\n") {
		t.Errorf("debug-hung-script.sh logs differ:\nctdb-eventd:\n%s\nrctdb:\n%s", r, o)
	}
}

// BenchmarkDaemons compares an event of one trivial script and a STATUS
// request, through the socket, on Debian's ctdb-eventd and on ours.
func BenchmarkDaemons(b *testing.B) {
	for _, who := range []string{"ctdb-eventd", "rctdb"} {
		base := eventstest.NewBase(b, "")
		base.ComponentScript(b, "bench", "01.ok", "exit 0", 0o755)
		if who == "ctdb-eventd" {
			eventstest.StartReal(b, base)
		} else {
			eventstest.StartOurs(b, base)
		}
		c, err := events.Dial(context.Background(), base.Socket())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		b.Run(who+"/run", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if code, err := c.Run(context.Background(), "bench", "monitor", nil, time.Minute, 0); err != nil || code != 0 {
					b.Fatalf("%d %v", code, err)
				}
			}
		})
		b.Run(who+"/status", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if code, _, err := c.Status(context.Background(), "bench", "monitor"); err != nil || code != 0 {
					b.Fatalf("%d %v", code, err)
				}
			}
		})
	}
}
