package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ipSession compares our tool with the real one against the real cluster
// and keeps the real tool's output for samples-ipfailover.txt.
type ipSession struct {
	t  *testing.T
	c  *ipCluster
	mu sync.Mutex
	// capture is the sample file being written, in the order of the runs.
	capture strings.Builder
	runs    int // commands compared
}

// phase starts a section of the sample file.
func (s *ipSession) phase(comment string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.capture, "# %s\n\n", comment)
}

// record adds a run of the real tool to the sample file, normalised.
func (s *ipSession) record(k int, stdin string, args []string, r runResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs++
	if stdin != "" {
		fmt.Fprintf(&s.capture, "# standard input: %s\n", strconv.Quote(s.c.normalize(stdin)))
	}
	fmt.Fprintf(&s.capture, "$ ctdb-node.sh %d %s\n", k, s.c.normalize(strings.Join(args, " ")))
	s.capture.WriteString(s.c.normalize(r.stdout))
	if r.stderr != "" {
		for _, line := range strings.Split(strings.TrimSuffix(s.c.normalize(r.stderr), "\n"), "\n") {
			fmt.Fprintf(&s.capture, "stderr: %s\n", line)
		}
	}
	fmt.Fprintf(&s.capture, "[rc=%d]\n\n", r.rc)
}

// expand replaces the placeholders of a command line: @N is the public
// address SUBNET.N, @IF the public interface.
func (s *ipSession) expand(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "@IF", s.c.iface)
		for n := 9; n >= 1; n-- {
			a = strings.ReplaceAll(a, "@"+strconv.Itoa(n), s.c.ip(n))
		}
		out[i] = a
	}
	return out
}

// line splits a command line written with placeholders: "K ARGS...".
func (s *ipSession) line(cmd string) (int, []string) {
	f := strings.Fields(cmd)
	k, err := strconv.Atoi(f[0])
	if err != nil {
		s.t.Fatalf("bad command line %q", cmd)
	}
	return k, s.expand(f[1:])
}

func sameRun(a, b runResult) bool { return a == b }

func (s *ipSession) mismatch(what string, k int, args []string, real, ours tracedRun) {
	s.t.Helper()
	if real.runResult != ours.runResult {
		s.t.Errorf("%s: ctdb-node.sh %d %s:\nreal stdout %q\n     stderr %q\n     rc %d\nours stdout %q\n     stderr %q\n     rc %d",
			what, k, strings.Join(args, " "), real.stdout, real.stderr, real.rc, ours.stdout, ours.stderr, ours.rc)
		return
	}
	s.t.Errorf("%s: ctdb-node.sh %d %s: same output, but the tools sent\nreal:\n\t%s\nours:\n\t%s",
		what, k, strings.Join(args, " "), strings.Join(real.traffic, "\n\t"), strings.Join(ours.traffic, "\n\t"))
}

// same runs a command that changes nothing with both tools and requires
// the same output. When they differ, the real tool runs again: while its
// answer changes the cluster is still settling, and both are tried again
// (up to a deadline). It returns the real tool's output.
func (s *ipSession) same(cmd string) runResult {
	s.t.Helper()
	return s.sameAll([]string{cmd}, nil, true)[0]
}

// sameInput is same with standard input.
func (s *ipSession) sameInput(stdin, cmd string) runResult {
	s.t.Helper()
	return s.sameAll([]string{cmd}, []string{stdin}, true)[0]
}

// sameParallel is how many comparisons of commands that change nothing run
// at once.
const sameParallel = 4

// sameAll is same for several commands (with their standard input, if
// stdins is not nil), run a few at a time; with record, they are recorded
// in order.
func (s *ipSession) sameAll(cmds, stdins []string, record bool) []runResult {
	s.t.Helper()
	type outcome struct {
		real, ours tracedRun
		ok         bool
	}
	outcomes := make([]outcome, len(cmds))
	sem := make(chan struct{}, sameParallel)
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		stdin := ""
		if stdins != nil {
			stdin = stdins[i]
		}
		k, args := s.line(cmd)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			deadline := time.Now().Add(20 * time.Second)
			r := s.c.traced(true, k, stdin, args...)
			for {
				o := s.c.traced(false, k, stdin, args...)
				if o.same(r) {
					outcomes[i] = outcome{r, o, true}
					return
				}
				r2 := s.c.traced(true, k, stdin, args...)
				if r2.same(r) && o.same(s.c.traced(false, k, stdin, args...)) || time.Now().After(deadline) {
					outcomes[i] = outcome{r, o, false}
					return
				}
				r = r2
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	results := make([]runResult, len(cmds))
	for i, cmd := range cmds {
		k, args := s.line(cmd)
		stdin := ""
		if stdins != nil {
			stdin = stdins[i]
		}
		if record {
			s.record(k, stdin, args, outcomes[i].real.runResult)
		}
		if !outcomes[i].ok {
			s.mismatch("output differs", k, args, outcomes[i].real, outcomes[i].ours)
		}
		results[i] = outcomes[i].real.runResult
	}
	return results
}

// flowStep is one step of a flow: a command run with the tool of the pass
// (cmd), a command that only reads, compared between both tools and
// between both passes (check), or a wait for the cluster.
type flowStep struct {
	cmd, check string
	stdin      string
	wait       func()
}

func step(cmd string) flowStep             { return flowStep{cmd: cmd} }
func stepInput(stdin, cmd string) flowStep { return flowStep{cmd: cmd, stdin: stdin} }
func check(cmd string) flowStep            { return flowStep{check: cmd} }
func waitFor(f func()) flowStep            { return flowStep{wait: f} }

// flow runs the steps with the real tool, then again with ours from the
// same starting state (restore brings it back after each pass): each
// command must give the same output in both passes, and so must each check
// (the state left by our tool is the one left by the real one).
func (s *ipSession) flow(name string, restore func(), steps ...flowStep) {
	s.t.Helper()
	s.phase(name)
	realOut := make([]runResult, len(steps))
	realCmd := make([]tracedRun, len(steps))
	for _, ours := range []bool{false, true} {
		for i := 0; i < len(steps); i++ {
			st := steps[i]
			switch {
			case st.wait != nil:
				st.wait()
			case st.check != "":
				// Consecutive checks run together.
				j := i
				var cmds []string
				for ; j < len(steps) && steps[j].check != ""; j++ {
					cmds = append(cmds, steps[j].check)
				}
				for n, r := range s.sameAll(cmds, nil, !ours) {
					if ours && !sameRun(r, realOut[i+n]) {
						k, args := s.line(cmds[n])
						s.mismatch(fmt.Sprintf("%s: state after our tool differs (step %d)", name, i+n), k, args,
							tracedRun{runResult: realOut[i+n]}, tracedRun{runResult: r})
					}
					realOut[i+n] = r
				}
				i = j - 1
			default:
				k, args := s.line(st.cmd)
				if !ours {
					realCmd[i] = s.c.traced(true, k, st.stdin, args...)
					s.record(k, st.stdin, args, realCmd[i].runResult)
					continue
				}
				if o := s.c.traced(false, k, st.stdin, args...); !o.same(realCmd[i]) {
					s.mismatch(fmt.Sprintf("%s (step %d)", name, i), k, args, realCmd[i], o)
				}
			}
		}
		if restore != nil {
			restore()
		}
	}
}

// slowResult is a command of slow and what both tools printed.
type slowResult struct {
	cmd        string
	real, ours tracedRun
}

// slow runs commands that take long (retries 3 s apart) with both tools at
// once, all of them concurrently. It only runs them: the caller records
// and checks them (recordSlow) in its own goroutine, so that the sample
// file keeps a fixed order.
func (s *ipSession) slow(cmds ...string) []slowResult {
	results := make([]slowResult, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		k, args := s.line(cmd)
		results[i].cmd = cmd
		wg.Add(2)
		go func() { defer wg.Done(); results[i].real = s.c.traced(true, k, "", args...) }()
		go func() { defer wg.Done(); results[i].ours = s.c.traced(false, k, "", args...) }()
	}
	wg.Wait()
	return results
}

// recordSlow records slow's results and requires the same output.
func (s *ipSession) recordSlow(results []slowResult) {
	s.t.Helper()
	for _, r := range results {
		k, args := s.line(r.cmd)
		s.record(k, "", args, r.real.runResult)
		if !r.real.same(r.ours) {
			s.mismatch("slow command", k, args, r.real, r.ours)
		}
	}
}
