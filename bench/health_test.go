package bench

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCadenceWatch: the cadence has reached MonitorInterval once two
// passing monitors were at least half of it apart, the first of them
// ended after the interval was set; a failing monitor or one seen again
// says nothing.
func TestCadenceWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(begin, end float64, ok bool) MonitorRun {
		return MonitorRun{Begin: t0.Add(time.Duration(begin * float64(time.Second))), End: t0.Add(time.Duration(end * float64(time.Second))), OK: ok}
	}
	steps := []struct {
		m    MonitorRun
		gap  time.Duration
		done bool
	}{
		{MonitorRun{}, 0, false},        // none completed yet
		{run(0, 0.5, true), 0, false},   // ended before the interval was set
		{run(8.5, 9, true), 0, false},   // 8 s after one that ended before it
		{run(9, 9.5, false), 0, false},  // failed
		{run(9, 9.5, false), 0, false},  // the same again
		{run(12.5, 13, true), 0, false}, // after a failed one
		{run(13, 13.5, true), 0, false}, // 0 s: the next at most 1 s away
		{run(13, 13.5, true), 0, false}, // the same again
		{run(21.5, 22, true), 8 * time.Second, true},
	}
	w := cadenceWatch{interval: 15 * time.Second, since: t0.Add(time.Second)}
	for i, s := range steps {
		gap, done := w.observe(s.m)
		if gap != s.gap || done != s.done {
			t.Errorf("step %d: gap %v done %v, want %v %v", i, gap, done, s.gap, s.done)
		}
	}
}

// smb2Server answers one NEGOTIATE on conn with reply (a whole SMB2
// message, without its session header).
func smb2Server(t *testing.T, conn net.Conn, reply []byte) {
	t.Helper()
	defer conn.Close()
	var nb [4]byte
	if _, err := io.ReadFull(conn, nb[:]); err != nil {
		t.Errorf("server: %v", err)
		return
	}
	req := make([]byte, binary.BigEndian.Uint32(nb[:]))
	if _, err := io.ReadFull(conn, req); err != nil {
		t.Errorf("server: %v", err)
		return
	}
	le := binary.LittleEndian
	if string(req[:4]) != "\xfeSMB" || le.Uint16(req[12:]) != smb2CmdNegotiate || le.Uint16(req[64:]) != smb2NegotiateRequestSize ||
		int(le.Uint16(req[66:])) != len(smb2Dialects) || len(req) != 64+36+2*len(smb2Dialects) {
		t.Errorf("server: not a NEGOTIATE of %d dialects: % x", len(smb2Dialects), req)
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(reply)))
	conn.Write(append(msg, reply...))
}

// smb2Reply is a NEGOTIATE response with status and dialect.
func smb2Reply(status uint32, dialect uint16) []byte {
	le := binary.LittleEndian
	m := make([]byte, smb2HeaderSize+smb2NegotiateResponseSize-1)
	copy(m, "\xfeSMB")
	le.PutUint16(m[4:], smb2HeaderSize)
	le.PutUint32(m[8:], status)
	le.PutUint16(m[12:], smb2CmdNegotiate)
	le.PutUint32(m[16:], smb2FlagsResponse)
	le.PutUint16(m[smb2HeaderSize:], smb2NegotiateResponseSize)
	le.PutUint16(m[smb2HeaderSize+4:], dialect)
	return m
}

// TestSMB2Negotiate: the probe offers its dialects and takes only a
// NEGOTIATE response that succeeded with one of them.
func TestSMB2Negotiate(t *testing.T) {
	cases := []struct {
		name  string
		reply []byte
		want  string // "" for success
	}{
		{"3.0.2", smb2Reply(0, 0x0302), ""},
		{"error status", smb2Reply(0xc0000022, 0x0302), "status"},
		{"dialect not offered", smb2Reply(0, 0x0311), "not offered"},
		{"not SMB2", bytes.Repeat([]byte{0xff}, 80), "not an SMB2 message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go smb2Server(t, server, c.reply)
			d, err := smb2Negotiate(client, 5*time.Second)
			switch {
			case c.want == "" && (err != nil || d != 0x0302):
				t.Fatalf("dialect %#x, %v", d, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
		})
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		io.Copy(io.Discard, io.LimitReader(server, 100))
		server.Close()
	}()
	if _, err := smb2Negotiate(client, 5*time.Second); err == nil {
		t.Fatal("no error when the server closes without an answer")
	}
}

func fakeHealth(target string, unhealthy, answered time.Duration) HealthOutcome {
	return HealthOutcome{Target: target, Nodes: 3, Addresses: 3, MonitorInterval: 15 * time.Second, AllOK: 10 * time.Second, Serving: 2 * time.Second,
		Victim: 1, Leader: 0, Unhealthy: unhealthy, Answered: answered, AnsweredBy: 2, FailPhase: unhealthy - 600*time.Millisecond,
		FailRun: 500 * time.Millisecond, FailReaction: 100 * time.Millisecond, Healthy: 11 * time.Second, HoldsAgain: 12 * time.Second}
}

// TestHealthRowsAndGoals: rctdb's (a) and (b) are judged against one
// MonitorInterval plus its failing monitor's run and an allowance, and
// against ctdbd; the other rows have no goal; a failed run takes the
// ratios away and is shown with its check.
func TestHealthRowsAndGoals(t *testing.T) {
	r := &HealthResults{Runs: 2, Targets: []string{Rctdb, Ctdbd}}
	r.Add(fakeHealth(Rctdb, 15*time.Second, 15500*time.Millisecond))
	r.Add(fakeHealth(Rctdb, 16*time.Second, 17*time.Second))
	r.Add(fakeHealth(Ctdbd, 15*time.Second, 16*time.Second))
	r.Add(fakeHealth(Ctdbd, 15*time.Second, 16*time.Second))
	rows := r.Rows()
	if len(rows) != 12 {
		t.Fatalf("%d rows, want 12", len(rows))
	}
	byMetric := map[string]FailoverRow{}
	for _, row := range rows {
		byMetric[strings.TrimSpace(row.Metric)] = row
	}
	a := byMetric["(a) smbd killed -> node UNHEALTHY on every node"]
	if a.Rctdb == nil || a.Rctdb.Median != 15500 || a.Ctdbd == nil || a.Ctdbd.Median != 15000 {
		t.Fatalf("(a): %+v %+v", a.Rctdb, a.Ctdbd)
	}
	// 15 s + 0.5 s + 0.5 s: met; but ctdbd was faster.
	if a.Goal != "median <= 16s, ctdbd/rctdb >= 1" || a.Met == nil || *a.Met {
		t.Errorf("(a): goal %q met %v", a.Goal, a.Met)
	}
	b := byMetric["(b) smbd killed -> address answers SMB on another node"]
	if b.Goal != "median <= 16.5s, ctdbd/rctdb >= 1" || b.Met == nil || *b.Met {
		t.Errorf("(b): goal %q met %v (rctdb %+v)", b.Goal, b.Met, b.Rctdb)
	}
	if c := byMetric["(c) smbd started -> node healthy on every node"]; c.Goal != "" || c.Met != nil || c.Ratio == nil {
		t.Errorf("(c): goal %q met %v ratio %v", c.Goal, c.Met, c.Ratio)
	}
	bad := fakeHealth(Ctdbd, time.Second, time.Second)
	bad.Failed = "an address was on two nodes"
	r.Outcomes[Ctdbd][1] = bad
	for _, row := range r.Rows() {
		if row.Ratio != nil || !strings.Contains(row.Reason, "ctdbd run 2 failed its check") {
			t.Errorf("%s with a failed run: ratio %v, reason %q", row.Metric, row.Ratio, row.Reason)
		}
	}
	var table strings.Builder
	r.WriteTable(&table)
	for _, want := range []string{"MonitorInterval 15s", "ctdbd run 2", "CHECK FAILED: an address was on two nodes"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var back rowsAndRuns[FailoverRow, map[string][]HealthOutcome]
	jsonRoundTrip(t, func(path string) error { return WriteHealthJSON(path, r) }, &back)
	if len(back.Rows) != 12 || len(back.Runs[Ctdbd]) != 2 || back.Runs[Ctdbd][1].Failed == "" || back.Runs[Rctdb][0].Unhealthy != 15*time.Second {
		t.Fatalf("JSON round trip: %d rows, runs %+v", len(back.Rows), back.Runs)
	}
}
