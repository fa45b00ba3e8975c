package tests

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/client"
	"github.com/rctdb/rctdb/internal/clustertest"
	"github.com/rctdb/rctdb/protocol"
)

// TestOtherClusterRefused starts a ctdbd of another cluster on the address
// of a dead node: it must be refused on both sides, never merged.
func TestOtherClusterRefused(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "node 2 DISCONNECTED", func() error {
		_, err := agreed(c, others(3, 2), map[uint32]uint32{2: dead})
		return err
	})

	// The intruder: same nodes file and address as node 2, another cluster id.
	dir, err := os.MkdirTemp("", "rctdb-intruder")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf, err := os.ReadFile(c.Nodes[2].Config)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(conf), c.Nodes[2].Dir, dir)
	s = strings.ReplaceAll(s, "cluster id = "+c.ClusterID, "cluster id = intruder")
	confPath := filepath.Join(dir, "ctdb.conf")
	if err := os.WriteFile(confPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "ctdbd"), "--interactive", "--config", confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sock := filepath.Join(dir, "run", "ctdbd.socket")
	waitUntil(t, 10*time.Second, "intruder's socket", func() error {
		_, err := os.Stat(sock)
		return err
	})

	// For three seconds the cluster keeps node 2 DISCONNECTED and the
	// intruder stays alone.
	clustertest.WaitAgreed(t, c, clustertest.Want{Observers: others(3, 2), Flags: map[uint32]uint32{0: 0, 1: 0, 2: dead}})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, o := range others(3, 2) {
			v, err := observe(c, o)
			if err != nil {
				continue // a busy node answers late; the flags are what matters
			}
			if v.Flags[2] != dead {
				t.Fatalf("node %d sees node 2 as %s while the intruder runs", o, protocol.NodeFlagsString(v.Flags[2]))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ic, err := client.Connect(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	nm, err := ic.GetNodeMap(ctx, protocol.CurrentNode)
	ic.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nm.Nodes {
		if n.Flags&protocol.NodeFlagDisconnected == 0 {
			t.Fatalf("intruder sees node %d as %s: it joined", n.PNN, protocol.NodeFlagsString(n.Flags))
		}
	}
	// Both sides said why in their logs.
	ours, _ := os.ReadFile(filepath.Join(c.Nodes[0].Dir, "log.ctdb"))
	theirs, _ := os.ReadFile(filepath.Join(dir, "log.ctdb"))
	if !bytes.Contains(ours, []byte(`cluster id \"intruder\" is not ours`)) {
		t.Errorf("node 0 did not log the refusal")
	}
	if !bytes.Contains(theirs, []byte("refused")) {
		t.Errorf("the intruder did not log being refused")
	}

	// The real node 2 comes back.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "node 2 back", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: 0, 2: 0})
		return err
	})
}

// TestBadInputClosesOnlyThatConnection feeds garbage to the client socket
// and to the node port: each bad connection is closed with a log line and
// the daemon keeps serving everyone else.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	c := cluster(t, 3)
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	hdr := func(length, magic, version, op uint32) []byte {
		b := make([]byte, 32)
		binary.LittleEndian.PutUint32(b[0:], length)
		binary.LittleEndian.PutUint32(b[4:], magic)
		binary.LittleEndian.PutUint32(b[8:], version)
		binary.LittleEndian.PutUint32(b[16:], op)
		binary.LittleEndian.PutUint32(b[20:], protocol.CurrentNode)
		return b
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rand.IntN(256))
	}
	badControl := hdr(60, protocol.Magic, protocol.Version, uint32(protocol.OpReqControl))
	badControl = append(badControl, make([]byte, 28)...)
	binary.LittleEndian.PutUint32(badControl[56:], 1<<30) // datalen far beyond the packet
	cases := map[string][]byte{
		"random bytes":        random,
		"length below header": hdr(8, protocol.Magic, protocol.Version, 7),
		"absurd length":       append(hdr(0x7FFFFFF8, protocol.Magic, protocol.Version, 7), make([]byte, 100)...),
		"bad magic":           hdr(32, 0xdeadbeef, protocol.Version, 7),
		"bad version":         hdr(32, protocol.Magic, 9, 7),
		"inner length":        badControl,
		"unknown operation":   hdr(32, protocol.Magic, protocol.Version, 77),
	}
	for name, payload := range cases {
		conn, err := net.Dial("unix", c.Nodes[0].Socket)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(payload)
		if name == "absurd length" {
			// The daemon waits for the rest of the packet; a truncated
			// stream must end the connection when the client goes away.
			conn.(*net.UnixConn).CloseWrite()
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			t.Errorf("%s: connection not closed by the daemon: %v", name, err)
		}
		conn.Close()
	}
	// Truncated packets on the node port.
	for _, payload := range [][]byte{random, []byte("C"), append([]byte("CRCTD"), make([]byte, 20)...)} {
		conn, err := net.Dial("tcp", net.JoinHostPort(c.Nodes[1].Addr, fmt.Sprint(c.Port)))
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(payload)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadAll(conn)
		conn.Close()
	}
	// Every daemon is up and the cluster unchanged.
	for p := range c.Nodes {
		if !c.Alive(uint32(p)) {
			t.Fatalf("node %d died", p)
		}
	}
	clustertest.WaitAgreed(t, c, clustertest.Want{})
	if got := mustTool(t, c, 0, "pnn"); got != "0\n" {
		t.Fatalf("pnn after garbage: %q", got)
	}
	log0, _ := os.ReadFile(filepath.Join(c.Nodes[0].Dir, "log.ctdb"))
	if n := bytes.Count(log0, []byte("closing client connection")); n < len(cases)-1 {
		t.Errorf("node 0 logged %d closed connections for %d bad inputs", n, len(cases))
	}
	log1, _ := os.ReadFile(filepath.Join(c.Nodes[1].Dir, "log.ctdb"))
	if !bytes.Contains(log1, []byte("refused connection")) {
		t.Errorf("node 1 did not log the refused node-port connections")
	}
}
