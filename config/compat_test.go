package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// options417 are the sections and options of ctdb.conf that CTDB 4.17
// defines (common/logging_conf.c, cluster/cluster_conf.c,
// database/database_conf.c, event/event_conf.c, failover/failover_conf.c,
// server/legacy_conf.c at samba-4.17.12), which ctdb.conf(5) documents
// (the deprecated recovery lock aside).
var options417 = map[string][]string{
	"logging":  {"location", "log level"},
	"cluster":  {"transport", "node address", "cluster lock", "recovery lock", "leader timeout", "leader capability"},
	"database": {"volatile database directory", "persistent database directory", "state database directory", "lock debug script", "tdb mutexes"},
	"event":    {"debug script"},
	"failover": {"disabled"},
	"legacy":   {"realtime scheduling", "lmaster capability", "start as stopped", "start as disabled", "script log level"},
}

// ctdbConfigTool is Debian's ctdb-config, or "" when the ctdb package is
// not installed (make test installs it).
func ctdbConfigTool() string {
	const path = "/usr/libexec/ctdb/ctdb-config"
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// ctdbBase makes a CTDB_BASE for testdata/every-key.conf: the database
// directories and the debug scripts 4.17 checks for exist in it.
func ctdbBase(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{"volatile", "persistent", "state"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"debug_locks.sh", "debug-hung-script.sh"} {
		if err := os.WriteFile(filepath.Join(base, s), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// readTestdata returns a file of testdata with @BASE@ replaced by base.
func readTestdata(t *testing.T, name, base string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "@BASE@", base)
}

// runCtdbConfig runs ctdb-config COMMAND in test mode on text as
// $CTDB_BASE/ctdb.conf.
func runCtdbConfig(t *testing.T, tool, base, text, command string) (string, error) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(base, "ctdb.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, command)
	cmd.Env = append(os.Environ(), "CTDB_TEST_MODE=yes", "CTDB_BASE="+base)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDebianShippedConf(t *testing.T) {
	c := mustParse(t, readTestdata(t, "debian-ctdb.conf", ""))
	want := Default()
	want.Logging = Logging{Location: "syslog", Level: "NOTICE"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Debian's ctdb.conf:\n got %+v\nwant %+v", c, want)
	}
}

func TestEveryDocumentedKey(t *testing.T) {
	base := ctdbBase(t)
	text := readTestdata(t, "every-key.conf", base)
	for sec, names := range options417 {
		for _, name := range names {
			if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=`).MatchString(text) {
				t.Errorf("testdata/every-key.conf does not set [%s] %s", sec, name)
			}
		}
	}
	if tool := ctdbConfigTool(); tool != "" {
		if out, err := runCtdbConfig(t, tool, base, text, "validate"); err != nil {
			t.Fatalf("ctdb-config validate refuses testdata/every-key.conf: %v\n%s", err, out)
		}
	} else {
		t.Log("Debian's ctdb-config is not installed: testdata/every-key.conf not checked against CTDB 4.17")
	}

	c := mustParse(t, text)
	if c.Logging.Location != "file:"+base+"/log.ctdb" ||
		c.Logging.Level != "info" || c.Cluster.NodeAddress.String() != "10.1.1.2" ||
		c.Cluster.LeaderCapability || c.Database.VolatileDir != base+"/volatile" ||
		c.Database.PersistentDir != base+"/persistent" || c.Database.StateDir != base+"/state" ||
		c.Event.DebugScript != "debug-hung-script.sh" || !c.Failover.Disabled || c.Legacy.LMasterCapability {
		t.Errorf("options that rctdb uses were not taken: %+v", c)
	}
	// One notice for each option that has no meaning for rctdb (tdb
	// mutexes is false here: rctdb behaves so).
	var noticed []string
	for _, w := range c.Warnings {
		m := regexp.MustCompile(`^` + regexp.QuoteMeta(testFile) + `:\d+: \[(\w+)\] ([a-z ]+?) is `).FindStringSubmatch(w)
		if m == nil {
			t.Errorf("notice %q is not \"file:line: [section] option is ...\"", w)
			continue
		}
		noticed = append(noticed, m[1]+"/"+m[2])
	}
	want := []string{"cluster/cluster lock", "cluster/recovery lock", "cluster/leader timeout",
		"database/lock debug script", "legacy/realtime scheduling", "legacy/script log level"}
	if !slices.Equal(noticed, want) {
		t.Errorf("notices for %q, want %q:\n%s", noticed, want, strings.Join(c.Warnings, "\n"))
	}
}

// TestCtdbConfigDump loads what 4.17's ctdb-config dump prints for an
// empty ctdb.conf (every option with its default, commented out), for
// Debian's shipped file, and for testdata/every-key.conf; and every option
// set to 4.17's default. The dumps are made by Debian's ctdb-config when it
// is installed, and must then match the copies in testdata, which stand in
// for it otherwise.
func TestCtdbConfigDump(t *testing.T) {
	base := ctdbBase(t)
	inputs := map[string]string{
		"ctdb-config-dump-defaults.conf":  "",
		"ctdb-config-dump-debian.conf":    readTestdata(t, "debian-ctdb.conf", base),
		"ctdb-config-dump-every-key.conf": readTestdata(t, "every-key.conf", base),
	}
	tool := ctdbConfigTool()
	if tool == "" {
		t.Log("Debian's ctdb-config is not installed: using the dumps in testdata")
	}
	dumps := map[string]string{}
	for name, input := range inputs {
		dump := readTestdata(t, name, base)
		if tool != "" {
			out, err := runCtdbConfig(t, tool, base, input, "dump")
			if err != nil {
				t.Fatalf("ctdb-config dump for %s: %v\n%s", name, err, out)
			}
			if out != dump {
				t.Errorf("ctdb-config dump differs from testdata/%s:\n%s", name, out)
			}
			dump = out
		}
		dumps[name] = dump
		c := mustParse(t, dump)
		if in := mustParse(t, input); !reflect.DeepEqual(withoutWarnings(c), withoutWarnings(in)) {
			t.Errorf("%s: the dump loads as\n%+v\nthe file as\n%+v", name, c, in)
		}
	}

	// Every option set to the default ctdb-config shows for it (those
	// without a default cannot be set empty).
	var b strings.Builder
	for _, line := range strings.Split(dumps["ctdb-config-dump-defaults.conf"], "\n") {
		opt := strings.TrimPrefix(strings.TrimSpace(line), "# ")
		if !strings.HasSuffix(opt, "=") {
			b.WriteString(opt + "\n")
		}
	}
	c := mustParse(t, b.String())
	if c.Logging.Location != "file:/var/log/ctdb/log.ctdb" || c.Logging.Level != "ERROR" || c.Database.TDBMutexes != true {
		t.Errorf("4.17's defaults set explicitly load as %+v\nfrom:\n%s", c, b.String())
	}
}

func withoutWarnings(c Config) Config {
	c.Warnings = nil
	return c
}

// TestMisspelledOption: a typo in an option or a section stays an error
// naming the file and line, as it is for 4.17.
func TestMisspelledOption(t *testing.T) {
	base := ctdbBase(t)
	text := readTestdata(t, "every-key.conf", base)
	tool := ctdbConfigTool()
	for _, tc := range []struct{ from, to, want string }{
		{"realtime scheduling", "realtime schedulling", `:35: unknown key "realtime schedulling" in section [legacy]`},
		{"[legacy]", "[legcy]", `:32: unknown section [legcy]`},
		{"leader timeout", "Leader Timeout", `:16: unknown key "Leader Timeout" in section [cluster] (keys are case-sensitive: "leader timeout")`},
	} {
		bad := strings.Replace(text, tc.from, tc.to, 1)
		_, err := Parse(testFile, strings.NewReader(bad))
		var e *Error
		if !errors.As(err, &e) || err.Error() != testFile+tc.want {
			t.Errorf("%s: error %v, want %s%s", tc.to, err, testFile, tc.want)
		}
		if tool != "" {
			if out, err := runCtdbConfig(t, tool, base, bad, "validate"); err == nil {
				t.Errorf("%s: ctdb-config validate accepts it:\n%s", tc.to, out)
			}
		}
	}
}

// TestValueForms417: values in the forms 4.17 accepts load, and those it
// refuses are refused.
func TestValueForms417(t *testing.T) {
	base := ctdbBase(t)
	tool := ctdbConfigTool()
	check := func(text string, good bool) {
		t.Helper()
		_, err := Parse(testFile, strings.NewReader(text))
		if (err == nil) != good {
			t.Errorf("%q: error %v, want accepted=%v", text, err, good)
		}
		if tool != "" {
			if out, err := runCtdbConfig(t, tool, base, text, "validate"); (err == nil) != good {
				t.Errorf("%q: ctdb-config validate: %v %s, want accepted=%v", text, err, out, good)
			}
		}
	}
	for _, v := range []string{"file:/var/log/ctdb/log.ctdb", "file:", "file", "file:-", "syslog", "syslog:nonblocking", "syslog:udp", "syslog:udp-rfc5424"} {
		check("[logging]\nlocation = "+v+"\n", true)
	}
	for _, v := range []string{"syslog:tcp", "journal", "sys"} {
		check("[logging]\nlocation = "+v+"\n", false)
	}
	for _, v := range []string{"ERROR", "warning", "Notice", "INFO", "debug", "err", "warn", "n", "inf", "d", "0", "3", "5", "7", "10"} {
		check("[logging]\nlog level = "+v+"\n", true)
		check("[legacy]\nscript log level = "+v+"\n", true)
	}
	for _, v := range []string{"11", "LOUD", "errors", "-1"} {
		check("[logging]\nlog level = "+v+"\n", false)
		check("[legacy]\nscript log level = "+v+"\n", false)
	}
	for _, v := range []string{"true", "false", "yes", "no", "YES", "No", "True"} {
		check("[failover]\ndisabled = "+v+"\n", true)
	}
	for _, v := range []string{"1", "0", "on", "off"} {
		check("[failover]\ndisabled = "+v+"\n", false)
	}
	for _, v := range []string{"5", "0x10", "010"} {
		check("[cluster]\nleader timeout = "+v+"\n", true)
	}
	check("[cluster]\ntransport = ib\n", false)
	check("[cluster]\nleader timeout = 0\n", false)
}
