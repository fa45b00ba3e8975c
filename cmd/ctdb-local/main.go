package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/protocol"
)

type baseFlag struct {
	Base string `required:"" help:"Directory holding the cluster's state." type:"path"`
}

type upCmd struct {
	N int `arg:"" help:"Number of nodes."`
	baseFlag
	Addr     string        `help:"First node's loopback address (default: a free 127.x.y.1 range)."`
	Ctdbd    string        `help:"ctdbd binary (default: beside ctdb-local, else on PATH)."`
	Port     int           `default:"4379" help:"Port every node listens on."`
	LogLevel string        `default:"NOTICE" help:"Daemon log level."`
	Timeout  time.Duration `default:"30s" help:"How long to wait for every node to be OK."`
	TLS      bool          `name:"tls" help:"Make a cluster CA and a certificate per node (under the base directory) and run the node links over mutual TLS."`
}

func (u *upCmd) Run() error {
	opts := localcluster.Options{N: u.N, Base: u.Base, Ctdbd: u.Ctdbd, Port: u.Port, LogLevel: u.LogLevel, Timeout: u.Timeout, TLS: u.TLS}
	if u.Addr != "" {
		a, err := netip.ParseAddr(u.Addr)
		if err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
		opts.Addr = a
	}
	start := time.Now()
	c, err := localcluster.Up(context.Background(), opts)
	if err != nil {
		return err
	}
	for i := range c.Nodes {
		fmt.Println(c.Line(uint32(i)))
	}
	fmt.Fprintf(os.Stderr, "all %d nodes OK after %.2fs\n", len(c.Nodes), time.Since(start).Seconds())
	return nil
}

type downCmd struct {
	baseFlag
	Purge bool `help:"Remove the base directory afterwards."`
}

func (d *downCmd) Run() error {
	c, err := localcluster.Load(d.Base)
	if err != nil {
		return err
	}
	if err := c.Down(context.Background()); err != nil {
		return err
	}
	if d.Purge {
		return os.RemoveAll(c.Base)
	}
	return nil
}

type statusCmd struct{ baseFlag }

func (s *statusCmd) Run() error {
	c, err := localcluster.Load(s.Base)
	if err != nil {
		return err
	}
	for i := range c.Nodes {
		fmt.Printf("%s state=%s\n", c.Line(uint32(i)), nodeState(c, uint32(i)))
	}
	return nil
}

// nodeState describes a node's process and, if it answers, its own flags.
func nodeState(c *localcluster.Cluster, pnn uint32) string {
	if !c.Alive(pnn) {
		return "dead"
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Nodes[pnn].PID)); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'T' {
			return "paused"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, c.Nodes[pnn].Socket)
	if err != nil {
		return "running flags=unreachable"
	}
	defer cl.Close()
	nm, err := cl.GetNodeMap(ctx, protocol.CurrentNode)
	if err != nil {
		return "running flags=unknown"
	}
	node, _ := nm.Node(pnn)
	return "running flags=" + protocol.NodeFlagsString(node.Flags)
}

type nodeArg struct {
	K uint32 `arg:"" help:"Node number."`
	baseFlag
}

type killCmd struct{ nodeArg }

func (k *killCmd) Run() error {
	return withCluster(k.Base, func(c *localcluster.Cluster) error { return c.Kill(k.K) })
}

type pauseCmd struct{ nodeArg }

func (p *pauseCmd) Run() error {
	return withCluster(p.Base, func(c *localcluster.Cluster) error { return c.Signal(p.K, syscall.SIGSTOP) })
}

type resumeCmd struct{ nodeArg }

func (r *resumeCmd) Run() error {
	return withCluster(r.Base, func(c *localcluster.Cluster) error { return c.Signal(r.K, syscall.SIGCONT) })
}

type restartCmd struct{ nodeArg }

func (r *restartCmd) Run() error {
	return withCluster(r.Base, func(c *localcluster.Cluster) error {
		if err := c.Restart(r.K); err != nil {
			return err
		}
		fmt.Println(c.Line(r.K))
		return nil
	})
}

type addCmd struct{ baseFlag }

// Run lays out and starts one more node; the cluster takes it in at the
// next `ctdb reloadnodes`.
func (a *addCmd) Run() error {
	return withCluster(a.Base, func(c *localcluster.Cluster) error {
		pnn, err := c.AddNode()
		if err != nil {
			return err
		}
		if err := c.StartNode(pnn); err != nil {
			return err
		}
		fmt.Println(c.Line(pnn))
		fmt.Fprintf(os.Stderr, "node %d added to %s/nodes and started; it joins at: CTDB_BASE=%s CTDB_SOCKET=%s ctdb reloadnodes\n",
			pnn, c.Base, c.Base, c.Nodes[0].Socket)
		return nil
	})
}

type removeCmd struct{ nodeArg }

// Run stops node K and comments its line out of the nodes file; the
// cluster lets it go at the next `ctdb reloadnodes`.
func (r *removeCmd) Run() error {
	return withCluster(r.Base, func(c *localcluster.Cluster) error {
		if err := c.Stop(r.K, 10*time.Second); err != nil {
			return err
		}
		if err := c.RemoveNodeLine(r.K); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "node %d stopped and commented out of %s/nodes; it leaves at: CTDB_BASE=%s ctdb reloadnodes\n", r.K, c.Base, c.Base)
		return nil
	})
}

func withCluster(base string, f func(*localcluster.Cluster) error) error {
	c, err := localcluster.Load(base)
	if err != nil {
		return err
	}
	return f(c)
}

type cli struct {
	Up      upCmd      `cmd:"" help:"Start a cluster of N nodes and wait until every node sees every node OK."`
	Down    downCmd    `cmd:"" help:"Stop every node of the cluster."`
	Status  statusCmd  `cmd:"" help:"Show every node."`
	Kill    killCmd    `cmd:"" help:"SIGKILL node K."`
	Pause   pauseCmd   `cmd:"" help:"SIGSTOP node K."`
	Resume  resumeCmd  `cmd:"" help:"SIGCONT node K."`
	Restart restartCmd `cmd:"" help:"Stop node K and start it again with its state."`
	Add     addCmd     `cmd:"" help:"Add a node to the nodes file and start it (then run ctdb reloadnodes)."`
	Remove  removeCmd  `cmd:"" help:"Stop node K and comment it out of the nodes file (then run ctdb reloadnodes)."`
}

func main() {
	var c cli
	kctx := kong.Parse(&c, kong.Name(filepath.Base(os.Args[0])),
		kong.Description("Run a local rctdb cluster on loopback addresses."))
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "ctdb-local:", err)
		os.Exit(1)
	}
}
