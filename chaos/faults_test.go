package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestScheduleIsDeterminedBySeed(t *testing.T) {
	a, b := Schedule(42, 300, Nodes), Schedule(42, 300, Nodes)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two schedules of seed 42 differ")
	}
	if reflect.DeepEqual(a, Schedule(43, 300, Nodes)) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
	seen := map[FaultKind]int{}
	for i, f := range a {
		seen[f.Kind]++
		if f.Cycle != i+1 || len(f.Nodes) == 0 || f.Hold < 0 {
			t.Fatalf("bad fault %s", f)
		}
		if f.Kind == FaultSplit && (len(f.Nodes) != 2 || len(f.Peers) != 3) {
			t.Fatalf("split is not 2|3: %s", f)
		}
		if f.Kind == FaultPauseShort && f.Hold >= 400e6 {
			t.Fatalf("short pause not below the 400 ms Raft timeouts: %s", f)
		}
	}
	for _, k := range faultKinds {
		if seen[k] == 0 {
			t.Errorf("300 cycles never chose %s", k)
		}
	}
}

// fakeTarget records the actions done to it; fail makes one action fail.
type fakeTarget struct {
	log  []string
	fail string
}

func (f *fakeTarget) do(s string) error {
	f.log = append(f.log, s)
	if s == f.fail {
		return errors.New("refused")
	}
	return nil
}

func (f *fakeTarget) Kill(n int) error        { return f.do(fmt.Sprint("kill ", n)) }
func (f *fakeTarget) Start(n int) error       { return f.do(fmt.Sprint("start ", n)) }
func (f *fakeTarget) Restart(n int) error     { return f.do(fmt.Sprint("restart ", n)) }
func (f *fakeTarget) Pause(n int) error       { return f.do(fmt.Sprint("pause ", n)) }
func (f *fakeTarget) Resume(n int) error      { return f.do(fmt.Sprint("resume ", n)) }
func (f *fakeTarget) CutLink(n int) error     { return f.do(fmt.Sprint("cut ", n)) }
func (f *fakeTarget) RestoreLink(n int) error { return f.do(fmt.Sprint("restore ", n)) }
func (f *fakeTarget) Blackhole(a, b int) error {
	return f.do(fmt.Sprintf("blackhole %d>%d", a, b))
}
func (f *fakeTarget) Unblackhole(a, b int) error {
	return f.do(fmt.Sprintf("unblackhole %d>%d", a, b))
}

func TestInjectAndHeal(t *testing.T) {
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: FaultKill, Nodes: []int{2}}, "kill 2|start 2"},
		{Fault{Kind: FaultPauseLong, Nodes: []int{1}}, "pause 1|resume 1"},
		{Fault{Kind: FaultIsolate, Nodes: []int{4}}, "cut 4|restore 4"},
		{Fault{Kind: FaultOneWayPair, Nodes: []int{0}, Peers: []int{3}}, "blackhole 0>3|unblackhole 0>3"},
		{Fault{Kind: FaultOneWay, Nodes: []int{1}}, "blackhole 1>0|blackhole 1>2|blackhole 1>3|blackhole 1>4|unblackhole 1>4|unblackhole 1>3|unblackhole 1>2|unblackhole 1>0"},
	} {
		ft := &fakeTarget{}
		heal, err := Inject(ft, tc.f, Nodes)
		if err != nil {
			t.Fatalf("%s: %v", tc.f, err)
		}
		if err := heal(); err != nil {
			t.Fatalf("%s: heal: %v", tc.f, err)
		}
		if got := strings.Join(ft.log, "|"); got != tc.want {
			t.Errorf("%s: did %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestInjectSplitCutsBothWaysAndUndoesOnError(t *testing.T) {
	ft := &fakeTarget{}
	heal, err := Inject(ft, Fault{Kind: FaultSplit, Nodes: []int{0, 1}, Peers: []int{2, 3, 4}}, Nodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(ft.log) != 12 || !slices.Contains(ft.log, "blackhole 4>1") || !slices.Contains(ft.log, "blackhole 1>4") {
		t.Fatalf("split did %v", ft.log)
	}
	heal()
	if len(ft.log) != 24 {
		t.Fatalf("heal undid %d of 12 routes", len(ft.log)-12)
	}
	// A failure half way undoes what was applied and reports it.
	ft = &fakeTarget{fail: "blackhole 2>0"}
	if _, err := Inject(ft, Fault{Kind: FaultSplit, Nodes: []int{0, 1}, Peers: []int{2, 3, 4}}, Nodes); err == nil {
		t.Fatal("no error from a failed blackhole")
	}
	if got := strings.Join(ft.log, "|"); got != "blackhole 0>2|blackhole 2>0|unblackhole 0>2" {
		t.Fatalf("after the failure: %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Dir: "/tmp/x", Ctdbd: "ctdbd", Exe: "x"}
	good.setDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, c := range map[string]Config{
		"Cycles": {Cycles: -1, Dir: "d", Ctdbd: "c", Exe: "x", Keys: 1, OpTimeout: 1, HealTimeout: 1, CheckTimeout: 1},
		"Dir":    {Cycles: 1, Ctdbd: "c", Exe: "x", Keys: 1, OpTimeout: 1, HealTimeout: 1, CheckTimeout: 1},
		"Ctdbd":  {Cycles: 1, Dir: "d", Exe: "x", Keys: 1, OpTimeout: 1, HealTimeout: 1, CheckTimeout: 1},
		"Keys":   {Cycles: 1, Dir: "d", Ctdbd: "c", Exe: "x", OpTimeout: 1, HealTimeout: 1, CheckTimeout: 1},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("bad %s: error %v", field, err)
		}
	}
}
