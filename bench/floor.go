package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rctdb/rctdb/client"
)

// The floor: the message ring over the same path a daemon's messages
// take, client -> Unix socket -> node -> TCP loopback -> node -> Unix
// socket -> client, with nodes that only forward frames (floornode.go).
// One process per node, as daemons are. The clients are the same as in
// the daemons' rings, so what a daemon's ring loses against the floor is
// the daemon's own cost.
//
// A frame is a little-endian u32 total length, a u32 destination node and
// the payload.

const frameHeader = 8

type floorSpec struct {
	Index int    `json:"index"`
	Unix  string `json:"unix"`
	Addr  string `json:"addr"` // TCP address to listen on (port 0: any)
}

type floorReady struct {
	Addr string `json:"addr"`
}

type floorGo struct {
	Peers []string `json:"peers"` // every node's TCP address, by index
}

// forwardFrames reads frames from c and hands each to fn until c ends
// (io.EOF) or fn fails.
func forwardFrames(c net.Conn, fn func(dest uint32, frame []byte) error) error {
	br := bufio.NewReaderSize(c, 64<<10)
	var hdr [frameHeader]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n < frameHeader || n > 1<<20 {
			return fmt.Errorf("bad frame length %d", n)
		}
		f := make([]byte, n)
		copy(f, hdr[:])
		if _, err := io.ReadFull(br, f[frameHeader:]); err != nil {
			return err
		}
		if err := fn(binary.LittleEndian.Uint32(hdr[4:]), f); err != nil {
			return err
		}
	}
}

// FloorRing is MessageRing over floor nodes instead of daemons: one
// forwarder process per socket of t (only their number matters), on
// consecutive loopback addresses from p.FloorAddr.
func FloorRing(ctx context.Context, t Target, p Params) Outcome {
	r, cleanup, err := openFloor(ctx, len(t.Sockets), p)
	if err != nil {
		return Outcome{Err: err.Error()}
	}
	o := r.circulate(ctx, p.Duration, []int{1, -1}, func(int) error { return nil })
	r.close()
	if err := cleanup(); err != nil && o.Err == "" {
		o.Err = err.Error()
	}
	return o
}

// openFloor starts n floor nodes and connects a client to each; cleanup
// waits for the nodes to end after r.close and removes their sockets.
func openFloor(ctx context.Context, n int, p Params) (r *ring, cleanup func() error, err error) {
	exe, err := exePath(p.Exe)
	if err != nil {
		return nil, nil, err
	}
	first, err := netip.ParseAddr(p.FloorAddr)
	if err != nil || !first.Is4() || !first.IsLoopback() {
		return nil, nil, fmt.Errorf("floor: address %q is no IPv4 loopback address", p.FloorAddr)
	}
	dir, err := os.MkdirTemp("", "ctdb-bench-floor")
	if err != nil {
		return nil, nil, fmt.Errorf("floor: %w", err)
	}
	specs := make([]any, n)
	names := make([]string, n)
	for i := range specs {
		specs[i] = floorSpec{Index: i, Unix: filepath.Join(dir, fmt.Sprintf("node%d.sock", i)), Addr: first.String() + ":0"}
		names[i] = fmt.Sprintf("floor node %d", i)
		first = first.Next()
	}
	c, err := startCrew(exe, "floor-node", names, specs)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	fail := func(err error) (*ring, func() error, error) {
		c.close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	infos, err := c.ready(ctx, 30*time.Second)
	if err != nil {
		return fail(fmt.Errorf("floor: %w", err))
	}
	var g floorGo
	for _, raw := range infos {
		var fr floorReady
		if err := json.Unmarshal(raw, &fr); err != nil {
			return fail(fmt.Errorf("floor: decode ready: %w", err))
		}
		g.Peers = append(g.Peers, fr.Addr)
	}
	gos := make([]any, n)
	for i := range gos {
		gos[i] = g
	}
	if err := c.start(gos); err != nil {
		return fail(fmt.Errorf("floor: %w", err))
	}
	conns := make([]net.Conn, 0, n)
	r = &ring{}
	var readers sync.WaitGroup
	r.close = func() {
		for _, cn := range conns {
			cn.Close()
		}
		readers.Wait()
	}
	for i := 0; i < n; i++ {
		cn, err := dialFloor(ctx, specs[i].(floorSpec).Unix)
		if err != nil {
			r.close()
			return fail(fmt.Errorf("floor: node %d: %w", i, err))
		}
		conns = append(conns, cn)
		inbox := make(chan client.Message, 16)
		r.inbox = append(r.inbox, inbox)
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer close(inbox)
			forwardFrames(cn, func(_ uint32, f []byte) error {
				inbox <- client.Message{Data: f[frameHeader:]}
				return nil
			})
		}()
	}
	wmu := make([]sync.Mutex, n)
	r.send = func(from, to int, data []byte) error {
		f := make([]byte, frameHeader+len(data))
		binary.LittleEndian.PutUint32(f, uint32(len(f)))
		binary.LittleEndian.PutUint32(f[4:], uint32(to))
		copy(f[frameHeader:], data)
		wmu[from].Lock()
		defer wmu[from].Unlock()
		_, err := conns[from].Write(f)
		return err
	}
	cleanup = func() error {
		defer os.RemoveAll(dir)
		defer c.close()
		outs := make([]any, n)
		for i := range outs {
			outs[i] = &struct{}{}
		}
		if err := c.results(ctx, 10*time.Second, outs); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		return nil
	}
	return r, cleanup, nil
}

// dialFloor connects to a floor node and waits for its greeting, sent
// once it has dialled its peers.
func dialFloor(ctx context.Context, path string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	cn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		cn.SetReadDeadline(dl)
	}
	var b [1]byte
	if _, err := io.ReadFull(cn, b[:]); err != nil {
		cn.Close()
		return nil, fmt.Errorf("wait for greeting: %w", err)
	}
	cn.SetReadDeadline(time.Time{})
	return cn, nil
}
