package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestParseDebugLevel follows debug_level_parse of CTDB 4.17: names by
// prefix in any case, numbers 0 to 10 read up to the first non-digit.
func TestParseDebugLevel(t *testing.T) {
	good := map[string]int32{
		"ERROR": 0, "error": 0, "ERR": 0, "e": 0,
		"WARNING": 1, "warn": 1, "W": 1,
		"NOTICE": 3, "notice": 3, "N": 3,
		"INFO": 5, "Info": 5, "i": 5,
		"DEBUG": 10, "debug": 10, "d": 10,
		"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "10": 10,
		"007": 7, "3x": 3,
	}
	for s, want := range good {
		got, err := ParseDebugLevel(s)
		if err != nil || got != want {
			t.Errorf("ParseDebugLevel(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "11", "99999999999999999999", "-1", " 3", "ERRORS", "LOUD", "warnings", "x"} {
		if got, err := ParseDebugLevel(s); err == nil {
			t.Errorf("ParseDebugLevel(%q) = %d, want an error", s, got)
		}
	}
}

// TestDebugNames are debug_level_to_string's names, which the tool's
// getdebug prints.
func TestDebugNames(t *testing.T) {
	want := []string{"ERROR", "WARNING", "WARNING", "NOTICE", "NOTICE", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG"}
	for n, w := range want {
		if got := DebugName(int32(n)); got != w {
			t.Errorf("DebugName(%d) = %s, want %s", n, got, w)
		}
	}
	if DebugName(-1) != "UNKNOWN" || DebugName(11) != "UNKNOWN" {
		t.Error("numbers outside 0 to 10 are not UNKNOWN")
	}
}

// TestLevelMapping checks that each number logs what 4.17 logs at it:
// the messages of every canonical level at or below it.
func TestLevelMapping(t *testing.T) {
	for n := int32(-2); n <= 12; n++ {
		lvl := FromCTDB(n)
		for _, l := range levels {
			logged := lvl <= l.level
			want := l.ctdb <= n || l.ctdb == DebugError
			if logged != want {
				t.Errorf("at %d, a message at %s logged=%v, want %v", n, DebugName(l.ctdb), logged, want)
			}
		}
	}
	for _, l := range levels {
		if ToCTDB(l.level) != l.ctdb || FromCTDB(l.ctdb) != l.level || Name(l.level) != DebugName(l.ctdb) {
			t.Errorf("%s does not round-trip", DebugName(l.ctdb))
		}
		if got, err := ParseLevel(DebugName(l.ctdb)); err != nil || got != l.level {
			t.Errorf("ParseLevel(%s) = %v, %v", DebugName(l.ctdb), got, err)
		}
	}
	if ToCTDB(LevelError+4) != DebugError {
		t.Error("a level quieter than ERROR is not ERROR")
	}
}

func TestDebugLevel(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(LevelInfo)
	if d := NewDebugLevel(lv, 7); d.Get() != 7 {
		t.Errorf("started from the configuration's 7, Get = %d", d.Get())
	}
	// A caller that set lv itself gets lv's level.
	d := NewDebugLevel(lv, DebugNotice)
	if d.Get() != DebugInfo {
		t.Errorf("lv at INFO, configuration NOTICE: Get = %d", d.Get())
	}
	for n := int32(0); n <= DebugDebug; n++ {
		d.Set(n)
		if d.Get() != n || lv.Level() != FromCTDB(n) {
			t.Errorf("Set(%d): Get %d, level %v", n, d.Get(), lv.Level())
		}
	}

	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, lv))
	d.Set(4)
	log.Log(context.Background(), LevelInfo, "hidden")
	log.Log(context.Background(), LevelNotice, "shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "level=NOTICE") {
		t.Fatalf("output %q", s)
	}
}
