package chaos

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
)

// leaderLine matches the daemon's log line for a Raft leader observation
// (raftlayer: "raft leader changed" leader=ID term=N).
var leaderLine = regexp.MustCompile(`raft leader changed.*\bleader="?([0-9]*)"?.*\bterm=([0-9]+)`)

// checkLeaders reads each node's log (logs[k] is node k's) and finds the
// terms in which more than one node claimed the leadership: a node that
// observes itself as leader logs its own id with the term it is in.
func checkLeaders(logs []string) ([]Violation, error) {
	claims := map[uint64][]int{} // term -> nodes that led it
	for k, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read leader claims of node %d: %w", k, err)
		}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		self := strconv.Itoa(k)
		for s.Scan() {
			m := leaderLine.FindSubmatch(s.Bytes())
			if m == nil || string(m[1]) != self {
				continue
			}
			term, _ := strconv.ParseUint(string(m[2]), 10, 64)
			if !slices.Contains(claims[term], k) {
				claims[term] = append(claims[term], k)
			}
		}
		err = s.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read leader claims of node %d: %w", k, err)
		}
	}
	var out []Violation
	terms := make([]uint64, 0, len(claims))
	for t := range claims {
		terms = append(terms, t)
	}
	slices.Sort(terms)
	for _, t := range terms {
		if len(claims[t]) > 1 {
			out = append(out, Violation{Check: "leaders", Detail: fmt.Sprintf("term %d: nodes %v each logged itself as leader", t, claims[t])})
		}
	}
	return out, nil
}
