package tests

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// TestSetdebugAndHotKeys: every level name and number set with Debian's
// tool or ours reads back the same through both, the daemon logs at the
// level set, and dbstatistics lists the hot keys as 4.17 does.
func TestSetdebugAndHotKeys(t *testing.T) {
	c := cluster(t, 2)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	tools := map[string]string{"Debian's tool": realCtdb(t), "ours": filepath.Join(binDir, "ctdb")}
	run := func(bin string, args ...string) string {
		t.Helper()
		out, errs, rc := nodeEventTool(t, bin, c, 0, args...)
		return fmt.Sprintf("rc=%d\n%s%s", rc, out, errs)
	}

	// Each level is set by one of the tools, in turn, and read by both:
	// names (or prefixes) and numbers, named as 4.17's tool names them.
	levels := [][2]string{
		{"ERROR", "ERROR"}, {"WARNING", "WARNING"}, {"NOTICE", "NOTICE"}, {"INFO", "INFO"}, {"DEBUG", "DEBUG"},
		{"warn", "WARNING"}, {"err", "ERROR"}, {"Info", "INFO"}, {"n", "NOTICE"}, {"d", "DEBUG"},
		{"0", "ERROR"}, {"1", "WARNING"}, {"2", "WARNING"}, {"3", "NOTICE"}, {"4", "NOTICE"}, {"5", "INFO"},
		{"6", "INFO"}, {"7", "INFO"}, {"8", "INFO"}, {"9", "INFO"}, {"10", "DEBUG"},
	}
	setters := []string{"Debian's tool", "ours"}
	for i, l := range levels {
		setter := setters[i%2]
		if got := run(tools[setter], "setdebug", l[0]); got != "rc=0\n" {
			t.Fatalf("setdebug %s with %s: %q", l[0], setter, got)
		}
		for getter, bin := range tools {
			if got, want := run(bin, "getdebug"), "rc=0\n"+l[1]+"\n"; got != want {
				t.Errorf("setdebug %s with %s, getdebug with %s: %q, want %q", l[0], setter, getter, got, want)
			}
		}
	}
	for _, args := range [][]string{{"setdebug", "LOUD"}, {"setdebug", "11"}, {"setdebug", "-1"}, {"setdebug"}, {"getdebug", "x"}, {"-n", "1", "setdebug", "INFO"}, {"-n", "1", "getdebug"}} {
		if real, ours := run(tools["Debian's tool"], args...), run(tools["ours"], args...); real != ours {
			t.Errorf("ctdb %s: Debian's tool and ours differ:\n--- Debian\n%s--- ours\n%s", strings.Join(args, " "), real, ours)
		}
	}
	if got := run(tools["ours"], "-n", "1", "getdebug"); got != "rc=0\nINFO\n" {
		t.Errorf("getdebug on node 1 after setdebug -n 1 INFO: %q", got)
	}

	// ctdbd logs a key entering the hot keys at NOTICE: not at 2, which
	// is WARNING, but at 4, which is NOTICE.
	mustTool(t, c, 0, "attach", "hot.tdb")
	var order []string
	migrate := func(key string) {
		mustTool(t, c, 1, "readkey", "hot.tdb", key)
		mustTool(t, c, 0, "readkey", "hot.tdb", key)
		order = append(order, hex.EncodeToString([]byte(key)))
	}
	mustTool(t, c, 0, "setdebug", "2")
	migrate("quiet")
	mustTool(t, c, 0, "setdebug", "4")
	migrate("loud")
	logHas(t, c, 0, "Added hot key database=hot.tdb key="+order[1]+" count=1")
	if b, _ := os.ReadFile(filepath.Join(c.Nodes[0].Dir, "log.ctdb")); strings.Contains(string(b), "key="+order[0]) {
		t.Error("node 0 logged a NOTICE while at WARNING")
	}

	// Hot keys come in the order of their counts, ties in arrival order,
	// and the empty slots last.
	migrate("middle")
	want := "rc=0\n Num Hot Keys:     10\n"
	for i := 0; i < 10; i++ {
		if i < len(order) {
			want += "     Count:1 Key:" + order[i] + "\n"
		} else {
			want += "     Count:0 Key:\n"
		}
	}
	for name, bin := range tools {
		got := run(bin, "dbstatistics", "hot.tdb")
		if i := strings.Index(got, " Num Hot Keys:"); i >= 0 {
			got = got[:strings.Index(got, "\n")+1] + got[i:]
		}
		if got != want {
			t.Errorf("dbstatistics with %s:\n%s\nwant:\n%s", name, got, want)
		}
	}
}
