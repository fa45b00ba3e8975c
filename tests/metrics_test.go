package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/internal/localcluster"
)

// scrape fetches node pnn's /metrics and returns the value of each
// unlabelled or labelled series by its full name.
func scrape(t *testing.T, c *localcluster.Cluster, pnn uint32, port int) map[string]float64 {
	t.Helper()
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + net.JoinHostPort(c.Nodes[pnn].Addr, strconv.Itoa(port)) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, m := range regexp.MustCompile(`(?m)^(\S+) (\S+)$`).FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			out[m[1]] = v
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	const port = 19379
	c := clusterWith(t, localcluster.Options{N: 3, MetricsPort: port})
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	mustTool(t, c, 0, "-n", "2", "stop")
	// Every node applies the stop, and a stopped leader hands leadership
	// away: wait until every node's metrics show the outcome.
	clustertest.WaitFor(t, 15*time.Second, "every node's metrics to show the stopped node", func() error {
		leaders := 0.0
		for p := uint32(0); p < 3; p++ {
			m := scrape(t, c, p, port)
			for _, name := range []string{
				"ctdb_raft_is_leader", "ctdb_raft_term", "ctdb_raft_applied_index",
				"ctdb_transport_peers_connected", "ctdb_transport_packets_sent_total",
				"ctdb_socket_clients", "ctdb_socket_connections_total", "ctdb_election_inactive",
				`ctdb_flags_nodes{flag="stopped"}`, `ctdb_flags_nodes{flag="banned"}`,
			} {
				if _, ok := m[name]; !ok {
					t.Fatalf("node %d: no %s", p, name)
				}
			}
			leaders += m["ctdb_raft_is_leader"]
			for name, want := range map[string]float64{
				"ctdb_transport_peers_connected":   2,
				"ctdb_election_inactive":           0,
				`ctdb_flags_nodes{flag="stopped"}`: 1,
				`ctdb_flags_nodes{flag="banned"}`:  0,
			} {
				if m[name] != want {
					return fmt.Errorf("node %d: %s = %v, want %v", p, name, m[name], want)
				}
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%v nodes report being the leader", leaders)
		}
		return nil
	})
	mustTool(t, c, 2, "continue")
}
