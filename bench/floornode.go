package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

// A floor node is what a C daemon's event loop would be with the logic
// taken out: one thread in epoll_wait, a read when a socket is readable,
// a write of each whole frame to where it goes. Go's netpoller and
// goroutine hand-offs cost several scheduler wake-ups per message on this
// 2-core machine, more than ctdbd's own work, so a goroutine-per-socket
// forwarder would be no floor. The sockets are set up with package net
// and then driven by raw system calls on one locked thread.

func init() { roles["floor-node"] = floorNode }

// floorNode is a forwarder process: it listens, learns its peers, dials
// one TCP connection to each for its sends, accepts theirs and its
// client's, greets the client and forwards frames until the client hangs
// up.
func floorNode(ctx context.Context, raw json.RawMessage, w *workerConn) (any, error) {
	var spec floorSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	ul, err := net.Listen("unix", spec.Unix)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer ul.Close()
	tl, err := net.Listen("tcp", spec.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer tl.Close()
	if raw, err = w.ready(floorReady{Addr: tl.Addr().String()}); err != nil {
		return nil, err
	}
	var g floorGo
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("decode go: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var fds []int // every socket, closed at the end
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	out := make([]int, len(g.Peers))
	for j, a := range g.Peers {
		if j == spec.Index {
			continue
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return nil, fmt.Errorf("dial node %d: %w", j, err)
		}
		if out[j], err = rawFD(c); err != nil {
			return nil, fmt.Errorf("dial node %d: %w", j, err)
		}
		fds = append(fds, out[j])
	}
	var in []int
	for range len(g.Peers) - 1 {
		fd, err := acceptFD(ctx, tl)
		if err != nil {
			return nil, fmt.Errorf("accept peer: %w", err)
		}
		fds = append(fds, fd)
		in = append(in, fd)
	}
	cl, err := acceptFD(ctx, ul)
	if err != nil {
		return nil, fmt.Errorf("accept client: %w", err)
	}
	fds = append(fds, cl)
	if err := writeAll(cl, []byte{1}); err != nil { // ready for frames
		return nil, fmt.Errorf("greet client: %w", err)
	}
	if err := floorLoop(spec.Index, cl, in, out); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// rawFD takes a blocking duplicate of c's socket and closes c.
func rawFD(c net.Conn) (int, error) {
	defer c.Close()
	f, err := c.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return -1, err
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// acceptFD accepts one connection on l, within ctx.
func acceptFD(ctx context.Context, l net.Listener) (int, error) {
	if dl, ok := ctx.Deadline(); ok {
		if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
			d.SetDeadline(dl)
		}
	}
	c, err := l.Accept()
	if err != nil {
		return -1, err
	}
	return rawFD(c)
}

// floorLoop is the event loop: frames from the client go to the node they
// name (itself included), frames from peers go to the client. It returns
// when the client hangs up.
func floorLoop(self, cl int, in, out []int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	defer syscall.Close(ep)
	bufs := map[int]*frameBuf{}
	for _, fd := range append([]int{cl}, in...) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("epoll add: %w", err)
		}
		bufs[fd] = &frameBuf{b: make([]byte, 64<<10)}
	}
	events := make([]syscall.EpollEvent, 8)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll wait: %w", err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			fb := bufs[fd]
			r, err := syscall.Read(fd, fb.b[fb.n:])
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			if r <= 0 || err != nil {
				if fd == cl {
					return nil // the client is done
				}
				syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil)
				continue
			}
			fb.n += r
			if err := fb.frames(func(dest uint32, f []byte) error {
				to := cl
				if fd == cl && int(dest) != self {
					if int(dest) >= len(out) {
						return fmt.Errorf("frame for node %d of %d", dest, len(out))
					}
					to = out[dest]
				}
				return writeAll(to, f)
			}); err != nil {
				return err
			}
		}
	}
}

// frameBuf collects a socket's bytes into frames.
type frameBuf struct {
	b []byte
	n int
}

// frames hands every whole frame to fn and keeps the rest.
func (fb *frameBuf) frames(fn func(dest uint32, f []byte) error) error {
	off := 0
	for fb.n-off >= frameHeader {
		l := int(binary.LittleEndian.Uint32(fb.b[off:]))
		if l < frameHeader || l > len(fb.b) {
			return fmt.Errorf("bad frame length %d", l)
		}
		if fb.n-off < l {
			break
		}
		if err := fn(binary.LittleEndian.Uint32(fb.b[off+4:]), fb.b[off:off+l]); err != nil {
			return err
		}
		off += l
	}
	fb.n = copy(fb.b, fb.b[off:fb.n])
	return nil
}

// writeAll writes b to a blocking socket.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
	}
	return nil
}
