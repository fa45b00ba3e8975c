package logging

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLocation(t *testing.T) {
	good := map[string]Location{
		"stderr":                 {To: ToStderr},
		"file":                   {To: ToStderr},
		"file:":                  {To: ToStderr},
		"file:-":                 {To: ToStderr},
		"file:/var/log/log.ctdb": {To: ToFile, Path: "/var/log/log.ctdb"},
		"syslog":                 {To: ToSyslog},
		"syslog:":                {To: ToSyslog},
		"syslog:nonblocking":     {To: ToSyslog, Syslog: "nonblocking"},
		"syslog:udp":             {To: ToSyslog, Syslog: "udp"},
		"syslog:udp-rfc5424":     {To: ToSyslog, Syslog: "udp-rfc5424"},
	}
	for s, want := range good {
		if got, err := ParseLocation(s); err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "stderr:", "file:log.ctdb", "syslog:tcp", "SYSLOG", "journal"} {
		if got, err := ParseLocation(s); err == nil {
			t.Errorf("ParseLocation(%q) = %+v, want an error", s, got)
		}
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.ctdb")
	w, closeLog, err := Open(Location{To: ToFile, Path: path}, "ctdbd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	closeLog()
	if b, err := os.ReadFile(path); err != nil || string(b) != "line\n" {
		t.Fatalf("log file %q, %v", b, err)
	}
	if _, _, err := Open(Location{To: ToFile, Path: filepath.Join(path, "x")}, "ctdbd"); err == nil {
		t.Error("a log file under a file opened")
	}
}

// TestSyslogWithoutDaemon: without a syslog daemon (no /dev/log, nothing
// on the UDP port) the log still opens and lines are dropped, as 4.17's
// syslog(3) drops them; ctdbd starts all the same.
func TestSyslogWithoutDaemon(t *testing.T) {
	for _, loc := range []string{"syslog", "syslog:udp"} {
		l, err := ParseLocation(loc)
		if err != nil {
			t.Fatal(err)
		}
		w, closeLog, err := Open(l, "test")
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if n, err := w.Write([]byte("hello\n")); n != 6 || err != nil {
			t.Errorf("%s: write: %d, %v", loc, n, err)
		}
		closeLog()
	}
}

func TestFileLocationMakesItsDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "ctdb", "log.ctdb")
	w, closeLog, err := Open(Location{To: ToFile, Path: path}, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	if _, err := w.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "hello\n" {
		t.Errorf("log file holds %q, %v", b, err)
	}
}
