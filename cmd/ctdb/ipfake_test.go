package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rctdb/rctdb/protocol"
)

// ipModel is the public-IP state of a whole cluster, served by fake
// daemons (one per node the tool connects to) as ctdbd 4.17 serves it: the
// public addresses each node knows and where it believes they are, its
// interfaces, and its connection lists.
type ipModel struct {
	mu      sync.Mutex
	nodemap *protocol.NodeMap
	nodes   []*ipModelNode
}

// ipModelNode is one node's view.
type ipModelNode struct {
	ips     []protocol.PublicIP // in GET_PUBLIC_IPS order
	ifaces  []protocol.Iface    // References are computed
	tickles map[protocol.SockAddr][]protocol.Connection
}

// newIPModel makes n nodes, all OK, without addresses.
func newIPModel(n int) *ipModel {
	m := &ipModel{nodemap: threeNodes(make([]uint32, n)...)}
	for range n {
		m.nodes = append(m.nodes, &ipModelNode{tickles: map[protocol.SockAddr][]protocol.Connection{}})
	}
	return m
}

// addIP gives node k the public address a on iface, believed hosted by
// holder. Like ctdbd, a node lists its addresses in reverse file order.
func (m *ipModel) addIP(k int, a string, holder uint32, iface string) {
	n := m.nodes[k]
	n.ips = append([]protocol.PublicIP{{PNN: holder, Addr: mustSockAddr(a)}}, n.ips...)
	for _, i := range n.ifaces {
		if i.Name == iface {
			return
		}
	}
	n.ifaces = append([]protocol.Iface{{Name: iface, LinkState: 1}}, n.ifaces...)
}

func mustSockAddr(s string) protocol.SockAddr {
	a, ok := parseSockAddr(s, false)
	if !ok {
		panic("bad address " + s)
	}
	return a
}

// canonicalModel is the state of samples-ipfailover.txt's first section:
// nodes 0 and 1 know 10.99.0.1-3 on ctdb0, node 0 hosts .2, node 1 .1
// and .3; node 2 has no addresses.
func canonicalModel() *ipModel {
	m := newIPModel(3)
	holders := map[int]uint32{1: 1, 2: 0, 3: 1}
	for k := 0; k < 2; k++ {
		for i := 1; i <= 3; i++ {
			m.addIP(k, "10.99.0."+strconv.Itoa(i), holders[i], "ctdb0")
		}
	}
	return m
}

// node is the model of the node a control is for.
func (m *ipModel) node(fd *fakeDaemon, req *protocol.ReqControl) (uint32, *ipModelNode) {
	dest := req.DestNode
	if dest == protocol.CurrentNode {
		dest = fd.pnn
	}
	if int(dest) >= len(m.nodes) {
		return dest, nil
	}
	return dest, m.nodes[dest]
}

// references is how many addresses node pnn hosts on iface.
func (n *ipModelNode) references(pnn uint32, iface string) uint32 {
	if iface == "" {
		return 0
	}
	var refs uint32
	for _, ip := range n.ips {
		if ip.PNN == pnn {
			refs++
		}
	}
	return refs
}

func (n *ipModelNode) find(a protocol.SockAddr) int {
	for i, ip := range n.ips {
		if sameIP(ip.Addr, a) {
			return i
		}
	}
	return -1
}

func (n *ipModelNode) ifaceList(pnn uint32) []protocol.Iface {
	l := make([]protocol.Iface, len(n.ifaces))
	for i, f := range n.ifaces {
		f.References = n.references(pnn, f.Name)
		l[i] = f
	}
	return l
}

// serve makes fd answer the public-IP controls from the model.
func (m *ipModel) serve(fd *fakeDaemon) {
	h := func(f func(pnn uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte)) handler {
		return func(req *protocol.ReqControl) (int32, []byte, bool) {
			m.mu.Lock()
			defer m.mu.Unlock()
			pnn, n := m.node(fd, req)
			if n == nil {
				return -1, nil, true
			}
			st, data := f(pnn, n, req)
			return st, data, true
		}
	}
	fd.on(protocol.ControlGetNodeMap, func(*protocol.ReqControl) (int32, []byte, bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return 0, m.nodemap.Marshal(), true
	})
	fd.on(protocol.ControlGetPublicIPs, h(func(_ uint32, n *ipModelNode, _ *protocol.ReqControl) (int32, []byte) {
		return 0, (&protocol.PublicIPList{IPs: n.ips}).Marshal()
	}))
	fd.on(protocol.ControlGetIfaces, h(func(pnn uint32, n *ipModelNode, _ *protocol.ReqControl) (int32, []byte) {
		return 0, (&protocol.IfaceList{Ifaces: n.ifaceList(pnn)}).Marshal()
	}))
	fd.on(protocol.ControlGetPublicIPInfo, h(func(pnn uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		a, _ := protocol.DecodeSockAddr(req.Data)
		i := n.find(a)
		if i < 0 {
			return -1, nil
		}
		info := protocol.PublicIPInfo{IP: n.ips[i], ActiveIdx: 0xFFFFFFFF, Ifaces: n.ifaceList(pnn)}
		if n.ips[i].PNN == pnn {
			info.ActiveIdx = 0
		}
		return 0, info.Marshal()
	}))
	fd.on(protocol.ControlSetIfaceLinkState, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var in protocol.Iface
		if in.Unmarshal(req.Data) != nil || in.References != 0 || in.LinkState > 1 {
			return -1, nil
		}
		for i := range n.ifaces {
			if n.ifaces[i].Name == in.Name {
				n.ifaces[i].LinkState = in.LinkState
				return 0, nil
			}
		}
		return -1, nil
	}))
	fd.on(protocol.ControlGetTCPTickleList, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		a, _ := protocol.DecodeSockAddr(req.Data)
		if n.find(a) < 0 {
			return 1, nil
		}
		key := a
		key.Port = 0
		l := protocol.TickleList{Addr: a}
		for _, c := range n.tickles[key] {
			if a.Port == 0 || c.Dst.Port == a.Port {
				l.Conns = append(l.Conns, c)
			}
		}
		return 0, l.Marshal()
	}))
	fd.on(protocol.ControlTCPAddDelayedUpdate, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var c protocol.Connection
		if c.Unmarshal(req.Data) != nil || n.find(c.Dst) < 0 {
			return -1, nil
		}
		key := c.Dst
		key.Port = 0
		for _, x := range n.tickles[key] {
			if x == c {
				return 0, nil
			}
		}
		n.tickles[key] = append(n.tickles[key], c)
		return 0, nil
	}))
	fd.on(protocol.ControlTCPRemove, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var c protocol.Connection
		if c.Unmarshal(req.Data) != nil {
			return 0, nil
		}
		key := c.Dst
		key.Port = 0
		l := n.tickles[key]
		for i, x := range l {
			if x == c {
				// ctdbd moves the last entry into the hole.
				l[i] = l[len(l)-1]
				n.tickles[key] = l[:len(l)-1]
				break
			}
		}
		return 0, nil
	}))
	fd.on(protocol.ControlSendGratuitousARP, h(func(uint32, *ipModelNode, *protocol.ReqControl) (int32, []byte) {
		return 0, nil
	}))
	fd.on(protocol.ControlReleaseIP, h(func(pnn uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var ip protocol.PublicIP
		if ip.Unmarshal(req.Data) != nil {
			return -1, nil
		}
		if i := n.find(ip.Addr); i >= 0 {
			n.ips[i].PNN = ip.PNN
		}
		return 0, nil
	}))
	fd.on(protocol.ControlTakeoverIP, h(func(pnn uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var ip protocol.PublicIP
		if ip.Unmarshal(req.Data) != nil || ip.PNN != pnn {
			return -1, nil
		}
		if i := n.find(ip.Addr); i >= 0 {
			n.ips[i].PNN = pnn
		}
		return 0, nil
	}))
	fd.on(protocol.ControlAddPublicIP, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var ai protocol.AddrInfo
		if ai.Unmarshal(req.Data) != nil || n.find(ai.Addr) >= 0 || !strings.HasPrefix(ai.Iface, "ctdb") {
			return -1, nil
		}
		n.ips = append([]protocol.PublicIP{{PNN: protocol.UnknownPNN, Addr: ai.Addr}}, n.ips...)
		return 0, nil
	}))
	fd.on(protocol.ControlDelPublicIP, h(func(_ uint32, n *ipModelNode, req *protocol.ReqControl) (int32, []byte) {
		var ai protocol.AddrInfo
		if ai.Unmarshal(req.Data) != nil {
			return -1, nil
		}
		i := n.find(ai.Addr)
		if i < 0 {
			return -1, nil
		}
		n.ips = append(n.ips[:i], n.ips[i+1:]...)
		return 0, nil
	}))
	fd.reply(protocol.ControlReloadPublicIPs, 0, nil)
}

// ipFakes starts one fake daemon per node of the model.
func ipFakes(t *testing.T, m *ipModel) []*fakeDaemon {
	var fds []*fakeDaemon
	for k := range m.nodes {
		fd := newFakeDaemon(t, uint32(k))
		m.serve(fd)
		fds = append(fds, fd)
	}
	return fds
}
