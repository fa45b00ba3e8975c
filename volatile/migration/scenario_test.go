package migration

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

var rewrite = flag.Bool("rewrite", false, "write the scenario files' expected output from what happens")

// TestScenarios runs every file in testdata/scenarios. A file is a list of
// commands, each followed by a line "----" and what it must print, up to
// a blank line; lines starting with # are comments. After every command
// the cluster's invariants must hold (see sim.check). Commands:
//
//	nodes N                 a cluster of N nodes, generation 1 (first)
//	lmaster KEY NODE        KEY's lmaster
//	readonly                the database hands out read-only copies
//	record NODE KEY RSN DMASTER DATA   NODE's file holds this record of KEY
//	call NODE KEY [fetch|null|readonly]  a local client's call
//	deliver [FROM TO]       the next packet on a link, or all until quiet
//	tick DURATION           time passes: resends, pins, revocations
//	write NODE KEY DATA     NODE's client writes the record it holds
//	lock NODE KEY, unlock NODE KEY     a local process holds KEY's chain
//	kill NODE, recover      a node dies; a recovery into a new generation
//	state KEY               every live node's record of KEY and Core state
//	clients                 every client's answer so far
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

func runScenario(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s *sim
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	for {
		cmd, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(cmd) == "" || strings.HasPrefix(cmd, "#") {
			out.WriteString(cmd + "\n")
			continue
		}
		at := line
		if sep, _ := next(); sep != "----" {
			t.Fatalf("%s:%d: %q is not followed by ----", path, at, cmd)
		}
		var want []string
		for {
			l, ok := next()
			if !ok || l == "" {
				break
			}
			want = append(want, l)
		}
		got, err := s.run(&s, cmd)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", path, at, cmd, err)
		}
		if setup[strings.Fields(cmd)[0]] {
			// The invariants hold from the first command on a set-up cluster.
		} else if err := s.check(); err != nil {
			t.Fatalf("%s:%d: after %s: %v\n%s", path, at, cmd, err, strings.Join(got, "\n"))
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s:\ngot:\n%s\nwant:\n%s", path, at, cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		out.WriteString(cmd + "\n----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		out.WriteString("\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setup are the commands that build the cluster's starting state.
var setup = map[string]bool{"nodes": true, "lmaster": true, "readonly": true, "record": true}

// run runs one command and returns what it printed; "nodes" replaces *sp.
func (s *sim) run(sp **sim, cmd string) ([]string, error) {
	f := strings.Fields(cmd)
	num := func(i int) (uint32, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("argument %d missing", i)
		}
		v, err := strconv.ParseUint(f[i], 10, 32)
		if err == nil && f[0] != "nodes" && s != nil && int(v) >= len(s.nodes) {
			return 0, fmt.Errorf("no node %d", v)
		}
		return uint32(v), err
	}
	if f[0] == "nodes" {
		n, err := num(1)
		if err != nil {
			return nil, err
		}
		*sp = newSim(int(n))
		return nil, nil
	}
	if s == nil {
		return nil, fmt.Errorf("nodes must come first")
	}
	s.out = nil
	switch f[0] {
	case "lmaster":
		n, err := num(2)
		if err != nil {
			return nil, err
		}
		s.lmasters[f[1]] = n
	case "readonly":
		s.readonly = true
	case "record":
		n, err := num(1)
		if err != nil || len(f) != 6 {
			return nil, fmt.Errorf("record NODE KEY RSN DMASTER DATA: %v", err)
		}
		rsn, err1 := strconv.ParseUint(f[3], 10, 64)
		d, err2 := num(4)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("record: bad rsn or dmaster")
		}
		s.nodes[n].file[f[2]] = Record{Header: protocol.LtdbHeader{RSN: rsn, DMaster: d}, Data: []byte(f[5]), Exists: true}
	case "call":
		n, err := num(1)
		if err != nil || len(f) < 3 {
			return nil, fmt.Errorf("call NODE KEY [fetch|null|readonly]: %v", err)
		}
		callid, flags := protocol.CallFetchFunc, uint32(0)
		if len(f) > 3 {
			switch f[3] {
			case "null":
				callid = protocol.CallNullFunc
			case "readonly":
				flags = protocol.CallFlagWantReadonly
			case "fetch":
			default:
				return nil, fmt.Errorf("call kind %q", f[3])
			}
		}
		s.call(n, f[2], callid, flags)
	case "deliver":
		if len(f) == 3 {
			from, err1 := num(1)
			to, err2 := num(2)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("deliver FROM TO")
			}
			if !s.deliver([2]uint32{from, to}) {
				return nil, fmt.Errorf("nothing queued from n%d to n%d", from, to)
			}
		} else if !s.deliverAll(1000) {
			return nil, fmt.Errorf("packets still flowing after 1000 deliveries")
		}
	case "tick":
		if len(f) != 2 {
			return nil, fmt.Errorf("tick DURATION")
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return nil, err
		}
		s.tick(d)
	case "write":
		n, err := num(1)
		if err != nil || len(f) != 4 {
			return nil, fmt.Errorf("write NODE KEY DATA: %v", err)
		}
		if err := s.write(s.nodes[n], f[2], f[3]); err != nil {
			return nil, err
		}
	case "lock", "unlock":
		n, err := num(1)
		if err != nil || len(f) != 3 {
			return nil, fmt.Errorf("%s NODE KEY: %v", f[0], err)
		}
		if f[0] == "lock" {
			s.nodes[n].locked[f[2]] = true
		} else {
			s.unlock(s.nodes[n], f[2])
		}
	case "kill":
		n, err := num(1)
		if err != nil {
			return nil, err
		}
		s.kill(n)
	case "recover":
		s.recover()
	case "state":
		if len(f) != 2 {
			return nil, fmt.Errorf("state KEY")
		}
		for _, n := range s.nodes {
			if !n.alive {
				continue
			}
			r := s.record(n, []byte(f[1]))
			st := "missing"
			if r.Exists {
				st = describeRecord(r)
			}
			s.logf("n%d: %s; %s", n.pnn, st, n.core.Describe([]byte(f[1]), s.now))
		}
	case "clients":
		for _, c := range s.clients {
			if c.answered {
				s.logf("%s on n%d: status %d data %q", c.name, c.node, c.status, c.data)
			} else {
				s.logf("%s on n%d: waiting", c.name, c.node)
			}
		}
	default:
		return nil, fmt.Errorf("unknown command %q", f[0])
	}
	return s.out, nil
}

// write is a local client writing the record its node is dmaster of, as
// Samba does: the header stays, the data changes.
func (s *sim) write(n *simNode, key, data string) error {
	r, ok := n.file[key]
	if !ok && s.lmaster([]byte(key)) == n.pnn {
		r = s.record(n, []byte(key))
		r.Header.Flags &^= protocol.RecFlagAutomatic
	} else if !ok || r.Header.DMaster != n.pnn {
		return fmt.Errorf("n%d is not the dmaster of %s", n.pnn, key)
	}
	r.Data, r.Exists = []byte(data), true
	n.file[key] = r
	s.logf("n%d client writes %s %s", n.pnn, key, describeRecord(r))
	if s.onStore != nil {
		s.onStore(n, Store{Key: []byte(key), Record: r})
	}
	return nil
}
