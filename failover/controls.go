package failover

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/control"
	"github.com/rctdb/rctdb/noderpc"
	"github.com/rctdb/rctdb/protocol"
)

// Controls is the table of the public-IP and connection controls.
func (m *Manager) Controls() control.Table {
	return control.Table{
		protocol.ControlGetPublicIPs:        {Size: 0, Serve: m.ctrlGetPublicIPs},
		protocol.ControlGetPublicIPInfo:     {Size: protocol.SockAddrSize, Serve: m.ctrlGetPublicIPInfo},
		protocol.ControlGetIfaces:           {Size: 0, Serve: m.ctrlGetIfaces},
		protocol.ControlSetIfaceLinkState:   {Size: 24, Serve: m.ctrlSetIfaceLinkState},
		protocol.ControlReleaseIP:           {Size: 32, Serve: m.ctrlReleaseIP},
		protocol.ControlTakeoverIP:          {Size: 32, Blocking: true, Serve: m.ctrlTakeoverIP},
		protocol.ControlAddPublicIP:         {Size: control.AnySize, Serve: m.ctrlAddPublicIP},
		protocol.ControlDelPublicIP:         {Size: control.AnySize, Serve: m.ctrlDelPublicIP},
		protocol.ControlReloadPublicIPs:     {Size: 0, Blocking: true, Serve: m.ctrlReloadPublicIPs},
		protocol.ControlIpreallocated:       {Size: 0, Serve: m.ctrlIPReallocated},
		protocol.ControlSendGratuitousARP:   {Size: control.AnySize, Serve: m.ctrlSendGratuitousARP},
		protocol.ControlTCPClient:           {Size: protocol.ConnectionSize, LocalClient: true, Serve: m.ctrlTCPClient},
		protocol.ControlTCPAdd:              {Size: protocol.ConnectionSize, Serve: m.ctrlTCPAdd},
		protocol.ControlTCPAddDelayedUpdate: {Size: protocol.ConnectionSize, Serve: m.ctrlTCPAdd},
		protocol.ControlTCPRemove:           {Size: protocol.ConnectionSize, Serve: m.ctrlTCPRemove},
		protocol.ControlStartup:             {Size: 0, Serve: m.ctrlStartup},
		protocol.ControlGetTCPTickleList:    {Size: protocol.SockAddrSize, Serve: m.ctrlGetTCPTickleList},
		protocol.ControlSetTCPTickleList:    {Size: control.AnySize, Serve: m.ctrlSetTCPTickleList},
		protocol.ControlKillTCP:             {Size: control.AnySize, Serve: func(context.Context, *control.Request) control.Reply { return control.Fail("KILL_TCP is obsolete") }},
	}
}

// Messages are the handlers of the failover messages this node serves.
func (m *Manager) Messages() map[uint64]func(from uint32, data []byte) {
	return map[uint64]func(uint32, []byte){
		protocol.SrvIDTakeoverRun:         m.msgTakeoverRun,
		protocol.SrvIDDisableTakeoverRuns: m.msgDisableTakeoverRuns,
		protocol.SrvIDDisableIPCheck:      func(uint32, []byte) {}, // there is no periodic check to hold
		protocol.SrvIDRebalanceNode:       m.msgRebalanceNode,
	}
}

// find returns this node's entry for address a.
func (m *Manager) find(a netip.Addr) (config.PublicAddress, bool) {
	for _, pa := range m.node.config() {
		if pa.Prefix.Addr() == a.Unmap() {
			return pa, true
		}
	}
	return config.PublicAddress{}, false
}

// holder is the node the cluster assigned a to (UnknownPNN: none).
func (m *Manager) holder(a netip.Addr) uint32 {
	st, _ := m.raft.Current()
	if p, ok := st.Holder(a.Unmap()); ok {
		return p
	}
	return protocol.UnknownPNN
}

// ctrlGetPublicIPs lists this node's public addresses in reverse file
// order, as ctdbd does, each with the node the cluster assigned it to;
// with the available-only flag, only those this node can host now.
func (m *Manager) ctrlGetPublicIPs(ctx context.Context, r *control.Request) control.Reply {
	st, _ := m.raft.Current()
	onlyAvailable := r.Flags&protocol.CtrlFlagPublicIPOnlyAvailable != 0
	up := m.node.linksUp()
	running := st.View.IsMember(m.cfg.Self, st.Nodes[m.cfg.Self].Incarnation)
	var l protocol.PublicIPList
	addrs := m.node.config()
	for i := len(addrs) - 1; i >= 0; i-- {
		pa := addrs[i]
		if onlyAvailable {
			hs := HostState{NodeFlags: st.Flags(m.cfg.Self), Running: running, Configured: true}
			for _, iface := range pa.Ifaces {
				hs.LinksUp = append(hs.LinksUp, up[iface])
			}
			if !CanHost(hs) {
				continue
			}
		}
		l.IPs = append(l.IPs, protocol.PublicIP{PNN: m.holder(pa.Prefix.Addr()), Addr: protocol.SockAddrFrom(netip.AddrPortFrom(pa.Prefix.Addr(), 0))})
	}
	return control.OK(l.Marshal())
}

// ifaceList is this node's interfaces in reverse order of first
// appearance, as ctdbd lists them, with their links and the number of
// public addresses each carries here.
func (m *Manager) ifaceList() []protocol.Iface {
	up := m.node.linksUp()
	carried := m.carried()
	var names []string
	for _, pa := range m.node.config() {
		for _, i := range pa.Ifaces {
			if !slices.Contains(names, i) {
				names = append(names, i)
			}
		}
	}
	var out []protocol.Iface
	for i := len(names) - 1; i >= 0; i-- {
		f := protocol.Iface{Name: names[i], References: uint32(carried[names[i]])}
		if up[names[i]] {
			f.LinkState = 1
		}
		out = append(out, f)
	}
	return out
}

// carried counts the public addresses each interface carries now, and
// returns which interface carries each.
func (m *Manager) carried() map[string]int {
	n := map[string]int{}
	observed, err := m.host.Addresses(m.node.ifaces())
	if err != nil {
		return n
	}
	for iface, ps := range observed {
		for _, p := range ps {
			if _, ok := m.find(p.Addr()); ok {
				n[iface]++
			}
		}
	}
	return n
}

// carrier is the interface that carries a here, if any.
func (m *Manager) carrier(a netip.Addr) (string, bool) {
	observed, err := m.host.Addresses(m.node.ifaces())
	if err != nil {
		return "", false
	}
	for iface, ps := range observed {
		for _, p := range ps {
			if p.Addr() == a {
				return iface, true
			}
		}
	}
	return "", false
}

func (m *Manager) ctrlGetIfaces(ctx context.Context, r *control.Request) control.Reply {
	l := protocol.IfaceList{Ifaces: m.ifaceList()}
	return control.OK(l.Marshal())
}

func (m *Manager) ctrlGetPublicIPInfo(ctx context.Context, r *control.Request) control.Reply {
	sa, err := protocol.DecodeSockAddr(r.Data)
	if err != nil {
		return control.FailErr(err)
	}
	a := sa.Addr.Unmap()
	pa, ok := m.find(a)
	if !ok {
		return control.Fail("%s is not a public address of node %d", a, m.cfg.Self)
	}
	up := m.node.linksUp()
	carried := m.carried()
	cur, _ := m.carrier(a)
	info := protocol.PublicIPInfo{
		IP:        protocol.PublicIP{PNN: m.holder(a), Addr: protocol.SockAddrFrom(netip.AddrPortFrom(a, 0))},
		ActiveIdx: protocol.UnknownPNN,
	}
	for i, name := range pa.Ifaces {
		f := protocol.Iface{Name: name, References: uint32(carried[name])}
		if up[name] {
			f.LinkState = 1
		}
		if name == cur {
			info.ActiveIdx = uint32(i)
		}
		info.Ifaces = append(info.Ifaces, f)
	}
	return control.OK(info.Marshal())
}

func (m *Manager) ctrlSetIfaceLinkState(ctx context.Context, r *control.Request) control.Reply {
	var f protocol.Iface
	if err := f.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if r.Data[protocol.IfaceNameSize] != 0 || f.LinkState > 1 || f.References != 0 {
		return control.Fail("SET_IFACE_LINK_STATE: bad request for %q", f.Name)
	}
	if !slices.Contains(m.node.ifaces(), f.Name) {
		return control.Fail("interface %s is not used by a public address of node %d", f.Name, m.cfg.Self)
	}
	m.node.mu.Lock()
	if f.LinkState == 0 {
		m.node.adminDown[f.Name] = true
	} else {
		delete(m.node.adminDown, f.Name)
	}
	m.node.mu.Unlock()
	m.log.Info("interface link set", "iface", f.Name, "up", f.LinkState == 1)
	m.node.wake()
	return control.Status(0)
}

// ctrlReleaseIP: 4.17's tool sends it before TAKEOVER_IP (moveip) to every
// node but the new holder. Here the leader moves the address when the new
// holder asks for it, releasing before it takes, so there is nothing to do.
func (m *Manager) ctrlReleaseIP(ctx context.Context, r *control.Request) control.Reply {
	var ip protocol.PublicIP
	if err := ip.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

// ctrlTakeoverIP moves the address to this node through the leader.
func (m *Manager) ctrlTakeoverIP(ctx context.Context, r *control.Request) control.Reply {
	var ip protocol.PublicIP
	if err := ip.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if ip.PNN != m.cfg.Self {
		return control.Fail("TAKEOVER_IP for node %d sent to node %d", ip.PNN, m.cfg.Self)
	}
	a := ip.Addr.Addr.Unmap()
	if _, ok := m.find(a); !ok {
		return control.Status(0)
	}
	if st, _ := m.raft.Current(); m.hosting(st)(a) {
		return control.Status(0) // a redundant takeover, as 4.17 answers it
	}
	data := append(protocol.SockAddrFrom(netip.AddrPortFrom(a, 0)).AppendTo(nil), binary.LittleEndian.AppendUint32(nil, m.cfg.Self)...)
	var err error
	if leader, ok := m.raft.Leader(); !ok {
		err = fmt.Errorf("no leader")
	} else if leader == m.cfg.Self {
		_, err = m.lead.serveMove(ctx, m.cfg.Self, data)
	} else {
		_, err = m.rpc.Call(ctx, leader, noderpc.OpFailoverMove, data)
	}
	if err != nil {
		return control.FailErr(fmt.Errorf("take over %s: %w", a, err))
	}
	return control.Status(0)
}

// addrInfo decodes an ADD_PUBLIC_IP / DEL_PUBLIC_IP request.
func addrInfo(r *control.Request) (protocol.AddrInfo, error) {
	var ai protocol.AddrInfo
	if err := ai.Unmarshal(r.Data); err != nil {
		return ai, err
	}
	if len(r.Data) != protocol.SockAddrSize+8+int(binary.LittleEndian.Uint32(r.Data[protocol.SockAddrSize+4:])) {
		return ai, fmt.Errorf("address info of %d bytes", len(r.Data))
	}
	return ai, nil
}

// ctrlAddPublicIP adds a public address to this node (not to its file, as
// in ctdbd); the leader takes it into account at once.
func (m *Manager) ctrlAddPublicIP(ctx context.Context, r *control.Request) control.Reply {
	ai, err := addrInfo(r)
	if err != nil {
		return control.FailErr(err)
	}
	a := ai.Addr.Addr.Unmap()
	p, err := a.Prefix(int(ai.Mask))
	if err != nil || ai.Iface == "" {
		return control.Fail("add public address %s/%d %q: bad address or interface", a, ai.Mask, ai.Iface)
	}
	p = netip.PrefixFrom(a, p.Bits())
	pa := config.PublicAddress{Prefix: p, Ifaces: splitIfaces(ai.Iface)}
	if _, dup := m.find(a); dup {
		return control.Fail("add public address %s: already a public address of node %d", a, m.cfg.Self)
	}
	if err := m.checkIfaces([]config.PublicAddress{pa}); err != nil {
		return control.FailErr(err)
	}
	m.node.mu.Lock()
	m.node.addrs = append(m.node.addrs, pa)
	m.node.mu.Unlock()
	m.log.Info("public address added", "addr", p, "ifaces", pa.Ifaces)
	m.node.wake()
	return control.Status(0)
}

func splitIfaces(s string) []string {
	return slices.DeleteFunc(strings.Split(s, ","), func(f string) bool { return f == "" })
}

// ctrlDelPublicIP removes a public address from this node; if it holds
// it, the leader moves it away.
func (m *Manager) ctrlDelPublicIP(ctx context.Context, r *control.Request) control.Reply {
	ai, err := addrInfo(r)
	if err != nil {
		return control.FailErr(err)
	}
	a := ai.Addr.Addr.Unmap()
	m.node.mu.Lock()
	i := slices.IndexFunc(m.node.addrs, func(pa config.PublicAddress) bool { return pa.Prefix.Addr() == a })
	if i >= 0 {
		m.node.addrs = slices.Delete(m.node.addrs, i, i+1)
	}
	m.node.mu.Unlock()
	if i < 0 {
		return control.Fail("delete public address %s: not a public address of node %d", a, m.cfg.Self)
	}
	m.log.Info("public address deleted", "addr", a)
	m.node.wake()
	return control.Status(0)
}

// ctrlReloadPublicIPs reads public_addresses again: addresses it gained
// are added, those it lost deleted (a changed mask or interface list of
// a kept address is not taken, as in 4.17).
func (m *Manager) ctrlReloadPublicIPs(ctx context.Context, r *control.Request) control.Reply {
	fresh, err := config.LoadPublicAddresses(m.cfg.AddressesFile)
	if err != nil {
		return control.FailErr(err)
	}
	if err := m.checkIfaces(fresh); err != nil {
		return control.FailErr(err)
	}
	m.node.mu.Lock()
	var kept []config.PublicAddress
	for _, pa := range m.node.addrs {
		if slices.ContainsFunc(fresh, func(f config.PublicAddress) bool { return f.Prefix.Addr() == pa.Prefix.Addr() }) {
			kept = append(kept, pa)
		}
	}
	for _, f := range fresh {
		if !slices.ContainsFunc(kept, func(k config.PublicAddress) bool { return k.Prefix.Addr() == f.Prefix.Addr() }) {
			kept = append(kept, f)
		}
	}
	m.node.addrs = kept
	m.node.mu.Unlock()
	m.log.Info("public addresses reloaded", "file", m.cfg.AddressesFile, "addresses", len(kept))
	m.node.wake()
	return control.Status(0)
}

// ctrlIPReallocated runs the ipreallocated event, as at the end of a
// takeover run (rctdb's nodes run it on their own after each new
// assignment; this serves 4.17's takeover helper).
func (m *Manager) ctrlIPReallocated(ctx context.Context, r *control.Request) control.Reply {
	if err := m.events.RunEvent(ctx, "ipreallocated"); err != nil {
		return control.FailErr(err)
	}
	return control.Status(0)
}

// ctrlSendGratuitousARP announces an address on an interface now and
// twice more, a second apart, as `ctdb gratarp` asks.
func (m *Manager) ctrlSendGratuitousARP(ctx context.Context, r *control.Request) control.Reply {
	var ai protocol.AddrInfo
	if err := ai.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	a, iface := ai.Addr.Addr.Unmap(), ai.Iface
	send := func() {
		if err := m.host.Announce(iface, a); err != nil {
			m.log.Warn("gratuitous ARP failed", "addr", a, "iface", iface, "err", err)
		}
	}
	send()
	for _, after := range []time.Duration{time.Second, 2 * time.Second} {
		time.AfterFunc(after, func() {
			select {
			case <-m.stopping:
			default:
				send()
			}
		})
	}
	return control.Status(0)
}

// ctrlTCPClient records a connection smbd accepted on a public address of
// this node and tells every node.
func (m *Manager) ctrlTCPClient(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	dst := c.Dst.Addr.Unmap()
	if _, public := m.find(dst); !public {
		return control.Status(0)
	}
	if m.holder(dst) != m.cfg.Self {
		return control.Fail("TCP_CLIENT for %s, which node %d does not hold", dst, m.cfg.Self)
	}
	m.conns.Add(r.Client, c)
	st, _ := m.raft.Current()
	add := protocol.ReqControl{Opcode: protocol.ControlTCPAdd, Flags: protocol.CtrlFlagNoReply, Data: c.Marshal()}
	for p := range st.Nodes {
		if uint32(p) != m.cfg.Self && m.tr.Connected(uint32(p)) {
			m.rpc.Go(uint32(p), add, 0, func(int32, []byte, []byte) {})
		}
	}
	return control.Status(0)
}

// ctrlTCPAdd records a connection another node learnt of (or `ctdb
// addtickle`).
func (m *Manager) ctrlTCPAdd(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	if _, public := m.find(c.Dst.Addr.Unmap()); !public && len(m.node.config()) > 0 {
		return control.Fail("%s is not a public address of node %d", c.Dst.Addr, m.cfg.Self)
	}
	m.conns.Add(nil, c)
	return control.Status(0)
}

func (m *Manager) ctrlTCPRemove(ctx context.Context, r *control.Request) control.Reply {
	var c protocol.Connection
	if err := c.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	m.conns.Remove(c)
	return control.Status(0)
}

// ctrlStartup: a node that started asks for every connection list now.
func (m *Manager) ctrlStartup(ctx context.Context, r *control.Request) control.Reply {
	st, _ := m.raft.Current()
	m.conns.MarkDirty(st.HeldBy(m.cfg.Self))
	m.pushLists(m.conns.TakeDirty(m.hosting(st)))
	return control.Status(0)
}

func (m *Manager) ctrlGetTCPTickleList(ctx context.Context, r *control.Request) control.Reply {
	sa, err := protocol.DecodeSockAddr(r.Data)
	if err != nil {
		return control.FailErr(err)
	}
	a := sa.Addr.Unmap()
	if _, public := m.find(a); !public {
		return control.Status(1)
	}
	list := m.conns.List(a)
	if sa.Port != 0 {
		list = slices.DeleteFunc(list, func(c protocol.Connection) bool { return c.Dst.Port != sa.Port })
	}
	tl := protocol.TickleList{Addr: protocol.SockAddrFrom(netip.AddrPortFrom(a, 0)), Conns: list}
	return control.OK(tl.Marshal())
}

// ctrlSetTCPTickleList installs the list the holder of an address sent;
// the holder keeps its own.
func (m *Manager) ctrlSetTCPTickleList(ctx context.Context, r *control.Request) control.Reply {
	var tl protocol.TickleList
	if err := tl.Unmarshal(r.Data); err != nil {
		return control.FailErr(err)
	}
	a := tl.Addr.Addr.Unmap()
	if _, public := m.find(a); !public {
		return control.Status(1)
	}
	if m.holder(a) != m.cfg.Self {
		m.conns.Replace(a, tl.Conns)
	}
	return control.Status(0)
}

// pushLists sends every connected node the lists given.
func (m *Manager) pushLists(lists map[netip.Addr][]protocol.Connection) {
	if len(lists) == 0 {
		return
	}
	st, _ := m.raft.Current()
	for a, list := range lists {
		tl := protocol.TickleList{Addr: protocol.SockAddrFrom(netip.AddrPortFrom(a, 0)), Conns: list}
		req := protocol.ReqControl{Opcode: protocol.ControlSetTCPTickleList, Flags: protocol.CtrlFlagNoReply, Data: tl.Marshal()}
		for p := range st.Nodes {
			if uint32(p) != m.cfg.Self && m.tr.Connected(uint32(p)) {
				m.rpc.Go(uint32(p), req, 0, func(int32, []byte, []byte) {})
			}
		}
	}
}

// msgTakeoverRun runs a takeover on the leader and answers the requester
// with the leader's pnn once it is done (`ctdb ipreallocate`).
func (m *Manager) msgTakeoverRun(from uint32, data []byte) {
	var req protocol.SrvIDMessage
	if err := req.Unmarshal(data); err != nil {
		m.log.Warn("malformed TAKEOVER_RUN request", "from", from, "err", err)
		return
	}
	if !m.raft.IsLeader() || m.quorum.Inactive() {
		return
	}
	m.lead.request(func(ok bool) {
		if req.SrvID == 0 {
			return
		}
		answer := int32(m.cfg.Self)
		if !ok {
			answer = -1
		}
		m.msgs.SendMessage(req.PNN, req.SrvID, binary.LittleEndian.AppendUint32(nil, uint32(answer)))
	})
}

// msgDisableTakeoverRuns holds the leader's runs for the timeout given (0:
// lets them go again) and answers with this node's pnn.
func (m *Manager) msgDisableTakeoverRuns(from uint32, data []byte) {
	var req protocol.DisableMessage
	if err := req.Unmarshal(data); err != nil {
		m.log.Warn("malformed DISABLE_TAKEOVER_RUNS request", "from", from, "err", err)
		return
	}
	m.lead.mu.Lock()
	if req.Timeout == 0 {
		m.lead.disabledUntil = time.Time{}
	} else {
		m.lead.disabledUntil = time.Now().Add(time.Duration(req.Timeout) * time.Second)
	}
	m.lead.mu.Unlock()
	if req.Timeout == 0 {
		m.lead.request(nil)
	}
	if req.SrvID != 0 {
		m.msgs.SendMessage(req.PNN, req.SrvID, binary.LittleEndian.AppendUint32(nil, m.cfg.Self))
	}
}

// msgRebalanceNode lets the next LCP2 run move addresses onto a node
// (addip, reloadips).
func (m *Manager) msgRebalanceNode(from uint32, data []byte) {
	pnn, err := protocol.ParseU32(data)
	if err != nil {
		m.log.Warn("malformed REBALANCE_NODE request", "from", from, "err", err)
		return
	}
	m.lead.mu.Lock()
	if !slices.Contains(m.lead.force, pnn) {
		m.lead.force = append(m.lead.force, pnn)
	}
	m.lead.mu.Unlock()
	m.lead.request(nil)
}
