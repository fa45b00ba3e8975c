package protocol

import "fmt"

// PublicIP is ctdb_public_ip (32 bytes): an address and the node hosting it.
type PublicIP struct {
	PNN  uint32
	Addr SockAddr
}

const publicIPSize = 4 + SockAddrSize

func (e *encoder) publicIP(ip PublicIP) { e.u32(ip.PNN); e.sockAddr(ip.Addr) }
func (d *decoder) publicIP() PublicIP   { return PublicIP{PNN: d.u32(), Addr: d.sockAddr()} }

// Marshal encodes one public IP (RELEASE_IP, TAKEOVER_IP requests).
func (ip *PublicIP) Marshal() []byte {
	e := encoder{b: make([]byte, 0, publicIPSize)}
	e.publicIP(*ip)
	return e.b
}

// Unmarshal decodes one public IP.
func (ip *PublicIP) Unmarshal(b []byte) error {
	d := newDecoder("public ip", b)
	*ip = d.publicIP()
	return d.err
}

// PublicIPList is ctdb_public_ip_list, the GET_PUBLIC_IPS reply.
type PublicIPList struct {
	IPs []PublicIP
}

// Marshal encodes the list.
func (l *PublicIPList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 4+publicIPSize*len(l.IPs))}
	e.u32(uint32(len(l.IPs)))
	for _, ip := range l.IPs {
		e.publicIP(ip)
	}
	return e.b
}

// Unmarshal decodes the list.
func (l *PublicIPList) Unmarshal(b []byte) error {
	d := newDecoder("public ip list", b)
	n := d.count(publicIPSize)
	l.IPs = make([]PublicIP, n)
	for i := range l.IPs {
		l.IPs[i] = d.publicIP()
	}
	return d.err
}

// Iface is ctdb_iface (24 bytes).
type Iface struct {
	Name       string // at most IfaceNameSize bytes
	LinkState  uint16 // 0 down, 1 up
	References uint32
}

const ifaceSize = 24
const ifaceNameField = IfaceNameSize + 2

func (e *encoder) iface(i Iface) {
	var name [ifaceNameField]byte
	copy(name[:ifaceNameField-1], i.Name)
	e.bytes(name[:])
	e.u16(i.LinkState)
	e.u32(i.References)
}

func (d *decoder) iface() Iface {
	var i Iface
	if nb := d.bytes(ifaceNameField); nb != nil {
		// The last byte of the field is always a terminator (ctdb forces
		// it to NUL on pull), so a name is at most ifaceNameField-1 bytes.
		i.Name = ParseCString(nb[:ifaceNameField-1])
	}
	i.LinkState = d.u16()
	i.References = d.u32()
	return i
}

// Marshal encodes one interface (SET_IFACE_LINK_STATE request).
func (i *Iface) Marshal() []byte {
	e := encoder{b: make([]byte, 0, ifaceSize)}
	e.iface(*i)
	return e.b
}

// Unmarshal decodes one interface.
func (i *Iface) Unmarshal(b []byte) error {
	d := newDecoder("iface", b)
	*i = d.iface()
	return d.err
}

// IfaceList is ctdb_iface_list, the GET_IFACES reply.
type IfaceList struct {
	Ifaces []Iface
}

func (e *encoder) ifaceList(l []Iface) {
	e.u32(uint32(len(l)))
	for _, i := range l {
		e.iface(i)
	}
}

func (d *decoder) ifaceList() []Iface {
	n := d.count(ifaceSize)
	l := make([]Iface, n)
	for i := range l {
		l[i] = d.iface()
	}
	return l
}

// Marshal encodes the list.
func (l *IfaceList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 4+ifaceSize*len(l.Ifaces))}
	e.ifaceList(l.Ifaces)
	return e.b
}

// Unmarshal decodes the list.
func (l *IfaceList) Unmarshal(b []byte) error {
	d := newDecoder("iface list", b)
	l.Ifaces = d.ifaceList()
	return d.err
}

// PublicIPInfo is ctdb_public_ip_info, the GET_PUBLIC_IP_INFO reply.
type PublicIPInfo struct {
	IP        PublicIP
	ActiveIdx uint32
	Ifaces    []Iface
}

// Marshal encodes the structure.
func (p *PublicIPInfo) Marshal() []byte {
	e := encoder{b: make([]byte, 0, publicIPSize+8+ifaceSize*len(p.Ifaces))}
	e.publicIP(p.IP)
	e.u32(p.ActiveIdx)
	e.ifaceList(p.Ifaces)
	return e.b
}

// Unmarshal decodes the structure.
func (p *PublicIPInfo) Unmarshal(b []byte) error {
	d := newDecoder("public ip info", b)
	p.IP = d.publicIP()
	p.ActiveIdx = d.u32()
	p.Ifaces = d.ifaceList()
	return d.err
}

// AddrInfo is ctdb_addr_info (ADD_PUBLIC_IP, DEL_PUBLIC_IP,
// SEND_GRATUITOUS_ARP).
type AddrInfo struct {
	Addr  SockAddr
	Mask  uint32
	Iface string
}

// Marshal encodes the structure; the interface name is a stringn with NUL.
func (a *AddrInfo) Marshal() []byte {
	e := encoder{b: make([]byte, 0, SockAddrSize+8+len(a.Iface)+1)}
	e.sockAddr(a.Addr)
	e.u32(a.Mask)
	e.datan(CString(a.Iface))
	return e.b
}

// Unmarshal decodes the structure.
func (a *AddrInfo) Unmarshal(b []byte) error {
	d := newDecoder("addr info", b)
	a.Addr = d.sockAddr()
	a.Mask = d.u32()
	a.Iface = ParseCString(d.bytes(int(d.u32())))
	return d.err
}

// Connection is ctdb_connection (56 bytes): for TCP_CLIENT, Src is the SMB
// client's address and Dst the server's public address.
type Connection struct {
	Src SockAddr
	Dst SockAddr
}

// ConnectionSize is the exact encoded size.
const ConnectionSize = 2 * SockAddrSize

// Marshal encodes the connection.
func (c *Connection) Marshal() []byte {
	e := encoder{b: make([]byte, 0, ConnectionSize)}
	e.sockAddr(c.Src)
	e.sockAddr(c.Dst)
	return e.b
}

// Unmarshal decodes the connection.
func (c *Connection) Unmarshal(b []byte) error {
	d := newDecoder("connection", b)
	c.Src, c.Dst = d.sockAddr(), d.sockAddr()
	return d.err
}

// TickleList is ctdb_tickle_list (GET/SET_TCP_TICKLE_LIST).
type TickleList struct {
	Addr  SockAddr
	Conns []Connection
}

// Marshal encodes the list.
func (t *TickleList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, SockAddrSize+4+ConnectionSize*len(t.Conns))}
	e.sockAddr(t.Addr)
	e.u32(uint32(len(t.Conns)))
	for _, c := range t.Conns {
		e.sockAddr(c.Src)
		e.sockAddr(c.Dst)
	}
	return e.b
}

// Unmarshal decodes the list.
func (t *TickleList) Unmarshal(b []byte) error {
	d := newDecoder("tickle list", b)
	t.Addr = d.sockAddr()
	n := d.count(ConnectionSize)
	t.Conns = make([]Connection, n)
	for i := range t.Conns {
		t.Conns[i] = Connection{Src: d.sockAddr(), Dst: d.sockAddr()}
	}
	if d.err != nil {
		return fmt.Errorf("tickle list: %w", d.err)
	}
	return nil
}
