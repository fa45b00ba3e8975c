package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadTunablesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, TunablesFileName)
	text := "# comment\n\nRecoverTimeout = 30\n; also a comment\n  MonitorInterval=0x10\nVacuumInterval = 010\n" +
		"[section]\nEmpty =\nBad = ten\nNeg = -1\nBig = 4294967296\nUnderscore = 1_0\nNoEquals\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTunablesFile(path)
	want := []TunableSetting{{"RecoverTimeout", 30, 3}, {"MonitorInterval", 16, 5}, {"VacuumInterval", 8, 6}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings %+v, want %+v", got, want)
	}
	if err == nil {
		t.Fatal("bad lines gave no error")
	}
	for _, line := range []string{":7: sections", ":8: want", ":9: invalid value", ":10: invalid value", ":11: invalid value", ":12: invalid value", ":13: want"} {
		if !strings.Contains(err.Error(), path+line) {
			t.Errorf("error does not name %s%s: %v", path, line, err)
		}
	}

	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte("RecoverTimeout = 30\n# "+strings.Repeat("x", 70<<10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTunablesFile(long); err == nil || !strings.Contains(err.Error(), long+":2: line longer than 65536 bytes") {
		t.Errorf("a 70 KiB line: %v, want its file and line named", err)
	}

	if got, err := ReadTunablesFile(filepath.Join(dir, "missing")); got != nil || err != nil {
		t.Errorf("missing file: %v %v, want nothing", got, err)
	}
}

func TestLoadNamesTheTunablesFileBesideTheConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ctdb.conf")
	if err := os.WriteFile(filepath.Join(dir, "nodes"), []byte("127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[cluster]\nnode address = 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, TunablesFileName); c.TunablesFile != want {
		t.Errorf("TunablesFile %q, want %q", c.TunablesFile, want)
	}
}
