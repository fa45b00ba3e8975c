package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	for _, n := range names {
		l, err := ParseLevel(strings.ToLower(n.name))
		if err != nil || l != n.level {
			t.Fatalf("%s: %v %v", n.name, l, err)
		}
		if Name(l) != n.name || ToCTDB(l) != n.ctdb || FromCTDB(n.ctdb) != l {
			t.Fatalf("%s: name %s ctdb %d from %v", n.name, Name(l), ToCTDB(l), FromCTDB(n.ctdb))
		}
	}
	if _, err := ParseLevel("LOUD"); err == nil {
		t.Fatal("accepted LOUD")
	}
	if FromCTDB(-3) != LevelError || FromCTDB(9) != LevelDebug {
		t.Fatal("out of range levels not clamped")
	}
	var buf bytes.Buffer
	lv := &slog.LevelVar{}
	lv.Set(LevelNotice)
	log := slog.New(NewHandler(&buf, lv))
	log.Log(context.Background(), LevelInfo, "hidden")
	log.Log(context.Background(), LevelNotice, "shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "level=NOTICE") {
		t.Fatalf("output %q", s)
	}
}
