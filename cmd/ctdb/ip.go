package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rctdb/rctdb/protocol"
)

// IpCmd is "ctdb ip [all] [-v]": the public addresses the addressed node
// knows and where it believes each is hosted, or with "all" the view of
// the whole cluster.
type IpCmd struct{ Args }

// Run follows control_ip: the list (of every active node, merged, with
// "all"), sorted, then GET_PUBLIC_IP_INFO for each address, asked of the
// addressed node, or with "all" of the node hosting it (none when it is
// not hosted).
func (c *IpCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) > 1 || (len(args) == 1 && args[0] != "all") {
		return t.usage()
	}
	all := len(args) == 1
	var ips []protocol.PublicIP
	var err error
	if all {
		ips, err = t.allPublicIPs()
	} else {
		ips, err = t.publicIPs(t.cmdPNN)
	}
	if err != nil {
		return err
	}
	slices.SortFunc(ips, func(a, b protocol.PublicIP) int { return compareSockAddr(a.Addr, b.Addr) })
	infos := make([]*protocol.PublicIPInfo, len(ips))
	for i, ip := range ips {
		pnn := t.cmdPNN
		if all {
			pnn = ip.PNN
		}
		if pnn == protocol.UnknownPNN {
			continue
		}
		ctx, cancel := t.tctx()
		infos[i], err = t.c.GetPublicIPInfo(ctx, pnn, ip.Addr)
		cancel()
		if err != nil {
			return t.ctrlErr(protocol.ControlGetPublicIPInfo, pnn, err)
		}
	}
	if t.opts.json {
		return t.printJSON(ipJSON(t.cmdPNN, all, ips, infos))
	}
	t.print(formatIP(ips, infos, all, t.cmdPNN, t.opts))
	return nil
}

// publicIPs is ctdb_ctrl_get_public_ips of every address pnn knows,
// reporting a failure as the client library does; the error is the exit
// status.
func (t *tool) publicIPs(pnn uint32) ([]protocol.PublicIP, error) {
	ctx, cancel := t.tctx()
	defer cancel()
	ips, err := t.c.GetPublicIPs(ctx, pnn, false)
	if err != nil {
		return nil, t.ctrlErr(protocol.ControlGetPublicIPs, pnn, err)
	}
	return ips, nil
}

// allPublicIPs is get_all_public_ips: the addresses of every active node.
// A node's claim to host an address itself wins (the last such claim);
// otherwise the address is shown unhosted. Any failure is status 1.
func (t *tool) allPublicIPs() ([]protocol.PublicIP, error) {
	nm, err := t.getNodemap(false)
	if err != nil {
		if fatal(err) {
			return nil, err
		}
		return nil, exitCode(1)
	}
	pnns := listOfNodes(nm, protocol.NodeFlagsInactive, protocol.UnknownPNN)
	if len(pnns) == 0 {
		return nil, exitCode(1)
	}
	merged := map[protocol.SockAddr]uint32{}
	var order []protocol.SockAddr
	for _, pnn := range pnns {
		ips, err := t.publicIPs(pnn)
		if err != nil {
			if fatal(err) {
				return nil, err
			}
			return nil, exitCode(1)
		}
		for _, ip := range ips {
			_, seen := merged[ip.Addr]
			if !seen {
				order = append(order, ip.Addr)
			}
			switch {
			case ip.PNN == pnn:
				merged[ip.Addr] = pnn
			case !seen:
				merged[ip.Addr] = protocol.UnknownPNN
			}
		}
	}
	out := make([]protocol.PublicIP, len(order))
	for i, a := range order {
		out[i] = protocol.PublicIP{PNN: merged[a], Addr: a}
	}
	return out, nil
}

// ipInterfaces is print_ip's view of an address's interfaces: the one
// carrying it on the node asked, those with link up, and all configured.
func ipInterfaces(info *protocol.PublicIPInfo) (active string, available, configured []string) {
	if info == nil {
		return "", nil, nil
	}
	for j, iface := range info.Ifaces {
		configured = append(configured, iface.Name)
		if uint32(j) == info.ActiveIdx {
			active = iface.Name
		}
		if iface.LinkState != 0 {
			available = append(available, iface.Name)
		}
	}
	return active, available, configured
}

// formatIP renders print_ip.
func formatIP(ips []protocol.PublicIP, infos []*protocol.PublicIPInfo, all bool, cmdPNN uint32, o options) string {
	var b strings.Builder
	sep := o.sep
	switch {
	case o.machine && o.verbose:
		fmt.Fprintf(&b, "%sPublic IP%sNode%sActiveInterfaces%sAvailableInterfaces%sConfiguredInterfaces%s\n", sep, sep, sep, sep, sep, sep)
	case o.machine:
		fmt.Fprintf(&b, "%sPublic IP%sNode%s\n", sep, sep, sep)
	case all:
		b.WriteString("Public IPs on ALL nodes\n")
	default:
		fmt.Fprintf(&b, "Public IPs on node %d\n", cmdPNN)
	}
	for i, ip := range ips {
		addr := sockAddrString(ip.Addr, false)
		pnn := int32(ip.PNN)
		if o.machine {
			fmt.Fprintf(&b, "%s%s%s%d%s", sep, addr, sep, pnn, sep)
		} else {
			b.WriteString(addr)
		}
		if !o.verbose {
			if o.machine {
				b.WriteString("\n")
			} else {
				fmt.Fprintf(&b, " %d\n", pnn)
			}
			continue
		}
		active, available, configured := ipInterfaces(infos[i])
		avail, conf := strings.Join(available, ","), strings.Join(configured, ",")
		if o.machine {
			fmt.Fprintf(&b, "%s%s%s%s%s%s\n", active, sep, avail, sep, conf, sep)
		} else {
			fmt.Fprintf(&b, " node[%d] active[%s] available[%s] configured[%s]\n", pnn, active, avail, conf)
		}
	}
	return b.String()
}

// jsonPublicIP is one address of the ip document.
type jsonPublicIP struct {
	Address              string   `json:"address"`
	PNN                  *uint32  `json:"pnn"`
	ActiveInterface      *string  `json:"active_interface"`
	AvailableInterfaces  []string `json:"available_interfaces"`
	ConfiguredInterfaces []string `json:"configured_interfaces"`
}

func ipJSON(cmdPNN uint32, all bool, ips []protocol.PublicIP, infos []*protocol.PublicIPInfo) any {
	doc := struct {
		PNN *uint32        `json:"pnn"`
		All bool           `json:"all"`
		IPs []jsonPublicIP `json:"ips"`
	}{All: all, IPs: []jsonPublicIP{}}
	if !all {
		doc.PNN = &cmdPNN
	}
	for i, ip := range ips {
		active, available, configured := ipInterfaces(infos[i])
		e := jsonPublicIP{
			Address: sockAddrString(ip.Addr, false), PNN: optPNN(ip.PNN),
			AvailableInterfaces: nonNil(available), ConfiguredInterfaces: nonNil(configured),
		}
		if active != "" {
			e.ActiveInterface = &active
		}
		doc.IPs = append(doc.IPs, e)
	}
	return doc
}

// nonNil makes an absent list an empty one, for JSON.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
