package failover

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The acceptance vectors of testdata/*.txt: Samba 4.17.12's UNIT tests of
// its IP allocation, as data. The format is described at the top of each
// file.

// vectorView says how a vector's node lists become an allocation input.
type vectorView int

const (
	// harnessView is ctdb_takeover_tests: every node's list counts.
	harnessView vectorView = iota
	// helperView is ctdb_takeover_helper: only connected nodes are asked.
	helperView
)

const runstateRunning = 5

// Log levels of 4.17, least verbose first.
var logLevels = map[string]int{"ERR": 0, "WARNING": 1, "NOTICE": 2, "INFO": 3, "DEBUG": 4}

type layoutLine struct {
	addr    netip.Addr
	pnn     uint32
	allowed []uint32 // nil: every node
}

type vector struct {
	where        string // file:line of the case
	name, desc   string
	algorithm    Algorithm
	flags        []uint32
	runstates    []uint32
	noTakeover   bool
	noFailback   bool
	rebalance    []uint32
	logLevel     int
	inputs       [][]layoutLine
	expect       []Assignment
	logs         []string
	sawLogLevel  bool
	sawAlgorithm bool
}

func parseUint32List(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(f, 0, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, uint32(v))
	}
	return out, nil
}

// parsePNN reads a harness pnn: -1 is no node.
func parsePNN(s string) (uint32, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v == -1 {
		return NoNode, nil
	}
	if v < 0 || v > 0xFFFFFFFE {
		return 0, fmt.Errorf("pnn %s out of range", s)
	}
	return uint32(v), nil
}

func readVectors(t *testing.T, path string) []*vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open vectors: %v", err)
	}
	defer f.Close()

	var (
		out     []*vector
		cur     *vector
		section string
		lineNo  int
	)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s:%d: %s", path, lineNo, fmt.Sprintf(format, args...))
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if cur == nil {
			if word != "case" {
				fail("expected \"case\", got %q", line)
			}
			cur = &vector{name: rest, where: fmt.Sprintf("%s:%d", path, lineNo)}
			section = ""
			continue
		}
		switch section {
		case "input":
			if word != "input" && word != "expect" {
				fields := strings.Fields(line)
				if len(fields) < 2 || len(fields) > 3 {
					fail("bad layout line %q", line)
				}
				var l layoutLine
				if l.addr, err = netip.ParseAddr(fields[0]); err != nil {
					fail("%v", err)
				}
				if l.pnn, err = parsePNN(fields[1]); err != nil {
					fail("%v", err)
				}
				if len(fields) == 3 {
					if l.allowed, err = parseUint32List(fields[2]); err != nil {
						fail("%v", err)
					}
				}
				in := cur.inputs[len(cur.inputs)-1]
				cur.inputs[len(cur.inputs)-1] = append(in, l)
				continue
			}
		case "expect":
			switch {
			case word == "log":
				cur.logs = append(cur.logs, rest)
				continue
			case word == "end":
			default:
				fields := strings.Fields(line)
				if len(fields) != 2 {
					fail("bad expect line %q", line)
				}
				var a Assignment
				if a.Addr, err = netip.ParseAddr(fields[0]); err != nil {
					fail("%v", err)
				}
				if a.Owner, err = parsePNN(fields[1]); err != nil {
					fail("%v", err)
				}
				cur.expect = append(cur.expect, a)
				continue
			}
		}
		switch word {
		case "desc":
			cur.desc = rest
		case "algorithm":
			cur.sawAlgorithm = true
			switch rest {
			case "lcp2":
				cur.algorithm = LCP2
			case "nondet":
				cur.algorithm = NonDeterministic
			case "det":
				cur.algorithm = Deterministic
			default:
				fail("unknown algorithm %q", rest)
			}
		case "nodes":
			if cur.flags, err = parseUint32List(rest); err != nil {
				fail("%v", err)
			}
		case "runstates":
			if cur.runstates, err = parseUint32List(rest); err != nil {
				fail("%v", err)
			}
		case "NoIPTakeover":
			cur.noTakeover = rest != "0"
		case "NoIPFailback":
			cur.noFailback = rest != "0"
		case "rebalance":
			if cur.rebalance, err = parseUint32List(rest); err != nil {
				fail("%v", err)
			}
		case "loglevel":
			lvl, ok := logLevels[rest]
			if !ok {
				fail("unknown log level %q", rest)
			}
			cur.logLevel, cur.sawLogLevel = lvl, true
		case "input":
			section = "input"
			cur.inputs = append(cur.inputs, nil)
		case "expect":
			section = "expect"
		case "end":
			if !cur.sawAlgorithm || !cur.sawLogLevel || cur.flags == nil ||
				len(cur.inputs) == 0 || len(cur.expect) == 0 {
				fail("case %s is incomplete", cur.name)
			}
			if len(cur.inputs) > 1 && len(cur.inputs) != len(cur.flags) {
				fail("case %s: %d input sections for %d nodes", cur.name, len(cur.inputs), len(cur.flags))
			}
			if cur.runstates != nil && len(cur.runstates) != len(cur.flags) {
				fail("case %s: %d runstates for %d nodes", cur.name, len(cur.runstates), len(cur.flags))
			}
			out = append(out, cur)
			cur = nil
		default:
			fail("unexpected %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if cur != nil {
		t.Fatalf("%s: case %s has no end", path, cur.name)
	}
	return out
}

// input turns a vector's node lists into an allocation input the way 4.17
// builds its merged list (see the file format).
func (v *vector) input(view vectorView) Input {
	numNodes := len(v.flags)
	type claim struct {
		addr netip.Addr
		pnn  uint32
	}
	known := make([][]claim, numNodes)
	if len(v.inputs) == 1 {
		for _, l := range v.inputs[0] {
			nodes := l.allowed
			if nodes == nil {
				for n := range numNodes {
					nodes = append(nodes, uint32(n))
				}
			}
			for _, n := range nodes {
				known[n] = append(known[n], claim{l.addr, l.pnn})
			}
		}
	} else {
		for n, section := range v.inputs {
			for _, l := range section {
				known[n] = append(known[n], claim{l.addr, l.pnn})
			}
		}
	}

	byAddr := map[netip.Addr]*Address{}
	var order []netip.Addr
	for n := range numNodes {
		if view == helperView && v.flags[n]&0x1 != 0 {
			continue // disconnected: never asked
		}
		running := v.runstates == nil || v.runstates[n] == runstateRunning
		available := running && v.flags[n]&0x3F == 0
		for _, c := range known[n] {
			a := byAddr[c.addr]
			if a == nil {
				a = &Address{Addr: c.addr, Owner: NoNode}
				byAddr[c.addr] = a
				order = append(order, c.addr)
			}
			if c.pnn == uint32(n) {
				a.Owner = uint32(n)
			}
			if available {
				a.Hosts = append(a.Hosts, uint32(n))
			}
		}
	}
	in := Input{
		NumNodes:       numNodes,
		Algorithm:      v.algorithm,
		NoIPTakeover:   v.noTakeover,
		NoIPFailback:   v.noFailback,
		ForceRebalance: v.rebalance,
	}
	for _, addr := range order {
		in.Addresses = append(in.Addresses, *byAddr[addr])
	}
	return in
}

var (
	rebalanceLogLine = regexp.MustCompile(`^\d+ \[-?\d+\] -> [0-9a-fA-F.:]+ -> \d+ \[\+-?\d+\]$`)
	placementLogLine = regexp.MustCompile(`^ [0-9a-fA-F.:]+ -> \d+ \[\+-?\d+\]$`)
)

const failedLogPrefix = "Failed to find node to cover ip "

// expectedMoves returns the INFO move lines of the log, or ok=false if the
// log level hides them.
func (v *vector) expectedMoves(t *testing.T) (lines []string, ok bool) {
	if v.logLevel < logLevels["INFO"] {
		return nil, false
	}
	for _, l := range v.logs {
		switch {
		case rebalanceLogLine.MatchString(l):
			lines = append(lines, l)
		case placementLogLine.MatchString(l):
			// At DEBUG 4.17 prints every candidate placement in
			// the same format as the chosen one.
			if v.logLevel > logLevels["INFO"] {
				t.Fatalf("%s: placement line %q is ambiguous at DEBUG", v.where, l)
			}
			lines = append(lines, l)
		}
	}
	return lines, true
}

func (v *vector) expectedUnhosted() (addrs []string, ok bool) {
	if v.logLevel < logLevels["WARNING"] {
		return nil, false
	}
	for _, l := range v.logs {
		if a, found := strings.CutPrefix(l, failedLogPrefix); found {
			addrs = append(addrs, a)
		}
	}
	return addrs, true
}

func formatAssignments(as []Assignment) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s %d\n", a.Addr, int32(a.Owner))
	}
	return b.String()
}

func (v *vector) check(t *testing.T, view vectorView) {
	t.Helper()
	res, err := Allocate(v.input(view))
	if err != nil {
		t.Fatalf("%s: Allocate: %v", v.where, err)
	}
	if got, want := formatAssignments(res.Assignments), formatAssignments(v.expect); got != want {
		t.Errorf("%s (%s): result\n%s\nwant\n%s", v.where, v.desc, got, want)
	}
	if want, ok := v.expectedMoves(t); ok {
		var got []string
		for _, m := range res.Moves {
			got = append(got, m.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s): moves\n%s\nwant\n%s", v.where, v.desc,
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if want, ok := v.expectedUnhosted(); ok {
		var got []string
		for _, a := range res.Unhosted() {
			got = append(got, a.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s): unhosted %v, want %v", v.where, v.desc, got, want)
		}
	}
}

func runVectors(t *testing.T, path string, view vectorView, wantCases int) {
	vectors := readVectors(t, path)
	if len(vectors) != wantCases {
		t.Fatalf("%s: %d cases, want %d", path, len(vectors), wantCases)
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) { v.check(t, view) })
	}
}

func TestUnitTakeoverVectors(t *testing.T) {
	runVectors(t, "testdata/takeover.txt", harnessView, 48)
}

func TestUnitTakeover900Vectors(t *testing.T) {
	runVectors(t, "testdata/takeover_900.txt", harnessView, 2)
}

func TestUnitTakeoverHelperVectors(t *testing.T) {
	runVectors(t, "testdata/takeover_helper.txt", helperView, 18)
}
