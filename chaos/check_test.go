package chaos

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// reg builds a register operation of key p0 on node 0.
func reg(id string, call, ret int64, res Result, read string, n int) Op {
	return Op{ID: id, Kind: KindPersistent, Key: "p0", Call: call, Return: ret, Result: res, Read: read, Wrote: registerValue(n, id)}
}

func TestRegistersLinearizable(t *testing.T) {
	ops := []Op{
		reg("a", 0, 10, ResultOK, "", 1),
		reg("b", 5, 20, ResultOK, "1:a", 2),
		// c's commit is in doubt, and d read what c wrote: c happened.
		{ID: "c", Kind: KindPersistent, Key: "p0", Call: 21, Result: ResultUnknown, Read: "2:b", Wrote: "3:c"},
		reg("d", 40, 50, ResultOK, "3:c", 4),
		// e is in doubt and never seen: left out.
		{ID: "e", Kind: KindPersistent, Key: "p0", Call: 51, Result: ResultUnknown, Wrote: "5:e"},
		reg("f", 60, 70, ResultOK, "4:d", 5),
		// A failed operation changed nothing.
		{ID: "g", Kind: KindPersistent, Key: "p0", Call: 71, Return: 72, Result: ResultFailed},
	}
	v, checked, _ := checkRegisters(ops, make([][]window, Nodes), time.Minute)
	if len(v) != 0 {
		t.Fatalf("violations in a linearizable history: %v", v)
	}
	if checked != 5 {
		t.Errorf("checked %d operations, want 5 (a, b, c, d, f)", checked)
	}
}

func TestRegistersLostUpdate(t *testing.T) {
	ops := []Op{
		reg("a", 0, 10, ResultOK, "", 1),
		reg("b", 20, 30, ResultOK, "1:a", 2),
		// c started after b returned but read what b overwrote.
		reg("c", 40, 50, ResultOK, "1:a", 2),
	}
	v, _, _ := checkRegisters(ops, make([][]window, Nodes), time.Minute)
	if len(v) != 1 || v[0].Check != "linearizability" || !strings.Contains(v[0].Detail, "lost update") {
		t.Fatalf("violations %v, want one lost update", v)
	}
}

func TestRegistersStaleReadAfterReturn(t *testing.T) {
	ops := []Op{
		reg("a", 0, 10, ResultOK, "", 1),
		reg("b", 20, 30, ResultOK, "1:a", 2),
		// c ran after b and read the empty register again.
		reg("c", 40, 50, ResultOK, "", 1),
	}
	if v, _, _ := checkRegisters(ops, make([][]window, Nodes), time.Minute); len(v) != 1 {
		t.Fatalf("violations %v, want one", v)
	}
}

func TestSectionOnCutOffNodeReadNotChecked(t *testing.T) {
	sec := func(id string, node int, call, ret int64, read string, n int) Op {
		return Op{ID: id, Kind: KindGLock, Key: "g0", Node: node, Call: call, Return: ret, Result: ResultOK, Read: read, Wrote: registerValue(n, id)}
	}
	ops := []Op{
		sec("a", 0, 0, 10, "", 1),
		// b read 1:a, its node was cut off, others went on, b committed last.
		sec("b", 3, 11, 100, "1:a", 2),
		sec("c", 1, 40, 50, "1:a", 2),
		sec("d", 1, 101, 110, "2:b", 3),
	}
	inactive := make([][]window, Nodes)
	if v, _, _ := checkRegisters(ops, inactive, time.Minute); len(v) != 1 {
		t.Fatalf("without a cut: violations %v, want one", v)
	}
	inactive[3] = []window{{30, 60}}
	v, _, lost := checkRegisters(ops, inactive, time.Minute)
	if len(v) != 0 || lost != 1 {
		t.Fatalf("with node 3 cut off: violations %v and %d sections not checked, want none and 1", v, lost)
	}
}

func inc(id string, call, ret int64, res Result, read uint64) Op {
	return Op{ID: id, Kind: KindVolatile, Key: "v0", Call: call, Return: ret, Result: res,
		Read: itoa(read), Wrote: itoa(read + 1)}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestVolatileLostIncrement(t *testing.T) {
	ops := []Op{inc("a", 0, 10, ResultOK, 0), inc("b", 20, 30, ResultOK, 1), inc("c", 40, 50, ResultOK, 0)}
	v, _ := checkVolatile(ops, nil)
	if len(v) != 1 || !strings.Contains(v[0].Detail, "lost confirmed increment") {
		t.Fatalf("violations %v, want one lost increment", v)
	}
	// A recovery between b and c excuses it: the record's dmaster left.
	if v, _ := checkVolatile(ops, []window{{32, 35}}); len(v) != 0 {
		t.Fatalf("violations %v after a recovery, want none", v)
	}
	// So does one that began before c returned, during c.
	if v, _ := checkVolatile(ops, []window{{45, 60}}); len(v) != 0 {
		t.Fatalf("violations %v with a recovery during the read, want none", v)
	}
	// One that ended before b was called does not: b came after it.
	if v, _ := checkVolatile(ops, []window{{12, 15}}); len(v) != 1 {
		t.Fatalf("violations %v with a recovery before b, want one", v)
	}
}

func TestVolatileTooHigh(t *testing.T) {
	ops := []Op{inc("a", 0, 10, ResultOK, 0), inc("b", 20, 30, ResultOK, 5)}
	v, _ := checkVolatile(ops, nil)
	if len(v) != 1 || !strings.Contains(v[0].Detail, "had started") {
		t.Fatalf("violations %v, want one value above the attempts", v)
	}
}

func TestVolatileConcurrentAndUnknown(t *testing.T) {
	ops := []Op{
		inc("a", 0, 10, ResultOK, 0),
		{ID: "b", Kind: KindVolatile, Key: "v0", Call: 11, Result: ResultUnknown, Read: "1", Wrote: "2"},
		inc("c", 20, 30, ResultOK, 2),
		inc("d", 25, 40, ResultOK, 3),
	}
	if v, n := checkVolatile(ops, nil); len(v) != 0 || n != 4 {
		t.Fatalf("violations %v over %d operations, want none over 4", v, n)
	}
}

func TestInactiveWindowsAndCommits(t *testing.T) {
	flags := func(inactive ...int) []uint32 {
		f := make([]uint32, Nodes)
		for _, k := range inactive {
			f[k] = protocol.NodeFlagDisconnected
		}
		return f
	}
	var samples []Sample
	// Nodes 0-3 see node 4 disconnected from 100 to 300.
	for at := int64(0); at <= 400; at += 100 {
		for o := range 4 {
			s := Sample{Node: o, At: at + int64(o), Flags: flags()}
			if at >= 100 && at <= 300 {
				s.Flags = flags(4)
			}
			samples = append(samples, s)
		}
	}
	ws := surelyInactiveWindows(samples, Nodes)
	if len(ws[4]) != 1 || len(ws[0]) != 0 || ws[4][0].From != 102 || ws[4][0].To != 301 {
		t.Fatalf("windows %v, want one for node 4 from 102 to 301 (while three observers agree)", ws)
	}
	if lenient := inactiveWindows(samples, Nodes); len(lenient[4]) != 1 {
		t.Fatalf("possible windows %v, want one for node 4", lenient)
	}
	ops := []Op{
		{ID: "in", Kind: KindPersistent, Node: 4, Call: 150, Return: 250, Result: ResultOK},
		{ID: "across", Kind: KindPersistent, Node: 4, Call: 50, Return: 250, Result: ResultOK},
		{ID: "other", Kind: KindPersistent, Node: 1, Call: 150, Return: 250, Result: ResultOK},
	}
	v := checkInactiveCommits(ops, ws)
	if len(v) != 1 || !strings.Contains(v[0].Detail, "in ") {
		t.Fatalf("violations %v, want only op in", v)
	}
}

func TestRecoveryWindows(t *testing.T) {
	samples := []Sample{{Node: 0, At: 1, Generation: 7}, {Node: 1, At: 2, Generation: 7}, {Node: 0, At: 5, Generation: 8}, {Node: 1, At: 6, Generation: 7}}
	ws := recoveryWindows(samples)
	if len(ws) != 1 || ws[0] != (window{1, 5}) {
		t.Fatalf("windows %v, want [{1 5}]", ws)
	}
}

func TestLeaders(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		`time=x level=INFO msg="raft leader changed" leader=0 term=2`,
		`time=x level=INFO msg="raft leader changed" leader=1 term=3`,
		`time=x level=INFO msg="raft leader changed" leader="" term=4`,
		`time=x level=INFO msg="raft leader changed" leader=1 term=5`,
		`time=x level=INFO msg="raft leader changed" leader=2 term=5`,
	}
	var logs []string
	for k := range 3 {
		p := filepath.Join(dir, "log"+strconv.Itoa(k))
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		logs = append(logs, p)
	}
	v, err := checkLeaders(logs)
	if err != nil {
		t.Fatal(err)
	}
	// Each node claims only the lines naming itself: 0 in term 2, 1 in 3
	// and 5, 2 in 5: term 5 has two leaders.
	if len(v) != 1 || !strings.Contains(v[0].Detail, "term 5: nodes [1 2]") {
		t.Fatalf("violations %v, want term 5 with nodes 1 and 2", v)
	}
	if _, err := checkLeaders([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing log gave no error")
	}
}

// TestInactiveCommitNeedsFreshViews: the observers last saw node 4
// disconnected at 300 and answered again only at 600 (slow while the
// cluster recovered), seeing it back; a commit of node 4 at 400-450 may
// have come after they saw it back, and is no violation. Their views up
// to 300 still excuse a g_lock section's read there.
func TestInactiveCommitNeedsFreshViews(t *testing.T) {
	var samples []Sample
	for _, at := range []int64{0, 100, 200, 300, 600} {
		for o := range 4 {
			f := make([]uint32, Nodes)
			if at >= 100 && at <= 300 {
				f[4] = protocol.NodeFlagDisconnected
			}
			samples = append(samples, Sample{Node: o, At: at + int64(o), Flags: f})
		}
	}
	op := Op{ID: "late", Kind: KindGLock, Node: 4, Call: 400, Return: 450, Result: ResultOK}
	if v := checkInactiveCommits([]Op{op}, surelyInactiveWindows(samples, Nodes)); len(v) != 0 {
		t.Fatalf("violations %v: the observers' views of 300 say nothing of 400", v)
	}
	if !overlapsAny(inactiveWindows(samples, Nodes)[4], 250, 260) {
		t.Fatal("a section at 250-260 on node 4 must be excused")
	}
}
