package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

// memNet is the network of an in-process cluster: the nodes' in-memory
// hosts say who has an address, and a connect to an address reaches the
// listener of the node that has it (the first, if several do).
type memNet struct {
	c *clustertest.InProcess

	mu        sync.Mutex
	listeners map[int]*memListener
}

func (n *memNet) Placement(addrs []netip.Addr) (map[netip.Addr][]int, error) {
	out := map[netip.Addr][]int{}
	for k := 0; k < n.c.Size(); k++ {
		for _, a := range addrs {
			if len(n.c.Host(uint32(k)).Holds(a)) > 0 {
				out[a] = append(out[a], k)
			}
		}
	}
	return out, nil
}

func (n *memNet) Listen(k int, port uint16) (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners == nil {
		n.listeners = map[int]*memListener{}
	}
	ln := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[k] = ln
	return ln, nil
}

func (n *memNet) Dial(addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	pl, _ := n.Placement([]netip.Addr{addr.Addr()})
	on := pl[addr.Addr()]
	if len(on) == 0 {
		return nil, fmt.Errorf("dial %s: no route to host", addr)
	}
	n.mu.Lock()
	ln := n.listeners[on[0]]
	n.mu.Unlock()
	if ln == nil {
		return nil, fmt.Errorf("dial %s: connection refused", addr)
	}
	client, server := net.Pipe()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ln.conns <- server:
		return client, nil
	case <-ln.done:
	case <-t.C:
	}
	client.Close()
	server.Close()
	return nil, fmt.Errorf("dial %s: connection refused", addr)
}

// memListener hands over the server ends of the connections to it.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return &net.TCPAddr{} }

const testPublic = "10.9.0.1/24 eth0\n10.9.0.2/24 eth0\n10.9.0.3/24 eth0\n"

// inProcessFailover is a 3-node in-process cluster as the failover
// workload sees it; killing a node shuts it down.
func inProcessFailover(t *testing.T) FailoverCluster {
	c := clustertest.Start(t, 3, clustertest.WithPublicAddresses(testPublic, "eth0"))
	fc := FailoverCluster{
		Target: Target{Name: Rctdb},
		Net:    &memNet{c: c},
		Start:  func(context.Context) error { return nil },
		Kill: func(pnn uint32) error {
			go c.StopNode(pnn)
			return nil
		},
	}
	for k := range 3 {
		fc.Sockets = append(fc.Sockets, c.Socket(uint32(k)))
		fc.Addrs = append(fc.Addrs, netip.MustParseAddr(fmt.Sprintf("10.9.0.%d", k+1)))
	}
	return fc
}

// TestFailoverInProcess runs the workload's both cases on in-process
// clusters: it measures, kills the right node, and its checks hold.
func TestFailoverInProcess(t *testing.T) {
	for _, leader := range []bool{false, true} {
		t.Run(FailoverCase(leader), func(t *testing.T) {
			fc := inProcessFailover(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := Failover(ctx, fc, FailoverParams{KillLeader: leader, Quiet: 100 * time.Millisecond, Timeout: 30 * time.Second})
			if !o.OK() {
				t.Fatalf("run failed: %s%s\nchecks: %v", o.Err, o.Failed, o.Checks)
			}
			if (o.Victim == o.Leader) != leader || o.Leader == protocol.UnknownPNN {
				t.Errorf("killed node %d, leader %d; want the leader: %v", o.Victim, o.Leader, leader)
			}
			if o.AnsweredBy < 0 || uint32(o.AnsweredBy) == o.Victim || o.Answered <= 0 || o.OnSurvivor <= 0 || o.Answered < o.OnSurvivor {
				t.Errorf("answered by node %d after %v, on a survivor after %v", o.AnsweredBy, o.Answered, o.OnSurvivor)
			}
			if len(o.Checks) != 3 {
				t.Errorf("checks %q, want before, end and overlaps", o.Checks)
			}
		})
	}
}

// TestFailoverKillThatFailsEndsTheRun: a kill that fails is the run's
// error; nothing is measured.
func TestFailoverKillThatFailsEndsTheRun(t *testing.T) {
	fc := inProcessFailover(t)
	fc.Kill = func(uint32) error { return errors.New("no such process") }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := Failover(ctx, fc, FailoverParams{Quiet: 100 * time.Millisecond, Timeout: 5 * time.Second})
	if o.Err == "" || !strings.Contains(o.Err, "no such process") {
		t.Fatalf("err %q, want the kill's error", o.Err)
	}
}

func fakeFailover(target string, leader bool, answered time.Duration) FailoverOutcome {
	return FailoverOutcome{Target: target, KillLeader: leader, Nodes: 3, Addresses: 3, AllOK: 700 * time.Millisecond,
		Balanced: 50 * time.Millisecond, OnSurvivor: answered - time.Millisecond, Answered: answered, AnsweredBy: 1}
}

func TestFailoverRowsAndGoals(t *testing.T) {
	r := &FailoverResults{Runs: 1, Targets: []string{Rctdb, Ctdbd}, Cases: []string{KillNonLeader, KillLeader}}
	r.Add(fakeFailover(Rctdb, false, 100*time.Millisecond))
	r.Add(fakeFailover(Ctdbd, false, 500*time.Millisecond))
	r.Add(fakeFailover(Rctdb, true, 800*time.Millisecond))
	r.Add(fakeFailover(Ctdbd, true, 3200*time.Millisecond))
	rows := r.Rows()
	if len(rows) != 7 {
		t.Fatalf("%d rows, want 3 start rows and 2 per case", len(rows))
	}
	byMetric := map[string]FailoverRow{}
	for _, row := range rows {
		byMetric[row.Metric] = row
	}
	nl := byMetric["kill -9 of a non-leader holder -> address answers on a survivor"]
	if nl.Ratio == nil || *nl.Ratio != 5 || nl.Met == nil || !*nl.Met {
		t.Errorf("non-leader row %+v: want ratio 5, goal met", nl)
	}
	// 800 ms is within a second, but ctdbd took only 4 times as long.
	l := byMetric["kill -9 of the leader holder -> address answers on a survivor"]
	if l.Ratio == nil || *l.Ratio != 4 || l.Met == nil || *l.Met {
		t.Errorf("leader row %+v: want ratio 4, goal missed", l)
	}
	if b := byMetric["all nodes OK -> balanced"]; b.Rctdb == nil || len(b.Rctdb.Runs) != 2 || b.Met == nil || !*b.Met {
		t.Errorf("balance row %+v: want both cases' runs, goal met", b)
	}
	var tbl strings.Builder
	r.WriteTable(&tbl)
	for _, want := range []string{"all nodes OK -> balanced", "5.00", "4.00", " NO", "yes"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	// Without ctdbd's runs the ratio part of a goal cannot be judged.
	only := &FailoverResults{Runs: 1, Targets: []string{Rctdb}, Cases: []string{KillLeader}}
	only.Add(fakeFailover(Rctdb, true, 800*time.Millisecond))
	for _, row := range only.Rows() {
		if row.Metric == l.Metric && row.Met != nil {
			t.Errorf("rctdb only: leader row judged %v", *row.Met)
		}
	}
	// A failed ctdbd run of one case takes that case's ratios away and says why.
	bad := fakeFailover(Ctdbd, true, 0)
	bad.Err = "did not answer"
	r.Outcomes[KillLeader][Ctdbd] = []FailoverOutcome{bad}
	for _, row := range r.Rows() {
		if row.Case == KillLeader && (row.Ratio != nil || !strings.Contains(row.Reason, "did not answer")) {
			t.Errorf("row %s: ratio %v, reason %q", row.Metric, row.Ratio, row.Reason)
		}
		if row.Case == KillNonLeader && row.Ratio == nil {
			t.Errorf("row %s lost its ratio", row.Metric)
		}
	}
	var back rowsAndRuns[FailoverRow, map[string]map[string][]FailoverOutcome]
	jsonRoundTrip(t, func(path string) error { return WriteFailoverJSON(path, r) }, &back)
	if len(back.Rows) != 7 || len(back.Runs[KillNonLeader][Rctdb]) != 1 {
		t.Fatalf("JSON: %d rows, runs %+v", len(back.Rows), back.Runs)
	}
}

// jsonRoundTrip writes a file with write and decodes it into v.
func jsonRoundTrip(t *testing.T, write func(path string) error, v any) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	if err := write(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("JSON: %v", err)
	}
}
