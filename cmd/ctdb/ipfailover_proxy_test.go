package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/rctdb/rctdb/protocol"
)

// A recording proxy between a tool and a daemon's socket: what the tool
// sends, packet by packet, normalised so that two tools doing the same
// thing give the same list.

var proxySeq atomic.Int64

// trafficProxy forwards one tool connection to a daemon socket and records
// the packets the tool sends.
type trafficProxy struct {
	path string
	ln   net.Listener
	wg   sync.WaitGroup

	mu  sync.Mutex
	log []string
}

// startProxy listens on a new socket in dir that leads to target.
func startProxy(dir, target string) (*trafficProxy, error) {
	p := &trafficProxy{path: filepath.Join(dir, fmt.Sprintf("proxy%d.socket", proxySeq.Add(1)))}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		return nil, err
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(target)
	return p, nil
}

func (p *trafficProxy) serve(target string) {
	defer p.wg.Done()
	tool, err := p.ln.Accept()
	if err != nil {
		return
	}
	defer tool.Close()
	daemon, err := net.Dial("unix", target)
	if err != nil {
		p.add(fmt.Sprintf("dial %s: %v", target, err))
		return
	}
	defer daemon.Close()
	back := make(chan struct{})
	go func() {
		io.Copy(tool, daemon)
		tool.Close()
		close(back)
	}()
	pr := protocol.NewPacketReader(tool, 1<<24)
	for {
		pkt, err := pr.Next()
		if err != nil {
			break
		}
		p.add(describePacket(pkt))
		if _, err := daemon.Write(pkt); err != nil {
			break
		}
	}
	daemon.Close()
	<-back
}

func (p *trafficProxy) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, s)
}

// stop ends the proxy (a tool that never connected included) and returns
// what the tool sent.
func (p *trafficProxy) stop() []string {
	p.ln.Close()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log
}

// toolSrvIDMask is the part of a ctdb tool's private srvid that names
// the tool (its range and process); the rest counts its requests.
const toolSrvIDMask = 0xFFFF000000000000

func normSrvID(id uint64) string {
	if id&0xFF00000000000000 == protocol.SrvIDToolRange {
		return fmt.Sprintf("tool(%#x)", id&toolSrvIDMask)
	}
	return fmt.Sprintf("%#x", id)
}

// describePacket renders a packet the tool sent, without what differs
// between two runs of the same command: request ids, the process id in
// the tool's srvids (in the header and in the requests that carry one)
// and the mask of SEND_GRATUITOUS_ARP, which the real tool leaves
// uninitialised.
func describePacket(pkt []byte) string {
	switch protocol.PacketOp(pkt) {
	case protocol.OpReqControl:
		var r protocol.ReqControl
		if err := r.Unmarshal(pkt); err != nil {
			return fmt.Sprintf("bad control: %v", err)
		}
		data := append([]byte(nil), r.Data...)
		if r.Opcode == protocol.ControlSendGratuitousARP && len(data) >= protocol.SockAddrSize+4 {
			copy(data[protocol.SockAddrSize:], make([]byte, 4))
		}
		return fmt.Sprintf("control %s dest=%#x srvid=%s flags=%#x data=%x", r.Opcode, r.DestNode, normSrvID(r.SrvID), r.Flags, data)
	case protocol.OpReqMessage:
		var m protocol.ReqMessage
		if err := m.Unmarshal(pkt); err != nil {
			return fmt.Sprintf("bad message: %v", err)
		}
		data := append([]byte(nil), m.Data...)
		switch m.SrvID {
		case protocol.SrvIDTakeoverRun, protocol.SrvIDDisableTakeoverRuns, protocol.SrvIDDisableRecoveries:
			// ctdb_srvid_message and ctdb_disable_message: the reply
			// srvid at offset 8.
			if len(data) >= 16 {
				if id := binary.LittleEndian.Uint64(data[8:]); id&0xFF00000000000000 == protocol.SrvIDToolRange {
					binary.LittleEndian.PutUint64(data[8:], id&toolSrvIDMask)
				}
			}
		}
		return fmt.Sprintf("message srvid=%s dest=%#x data=%x", normSrvID(m.SrvID), m.DestNode, data)
	}
	return fmt.Sprintf("operation %d", protocol.PacketOp(pkt))
}
