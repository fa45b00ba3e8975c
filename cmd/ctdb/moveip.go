package main

import (
	"sync/atomic"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// MoveipCmd is "ctdb moveip IP PNN": move a public address to node PNN at
// once, without a takeover run (the leader's next run may move it again).
type MoveipCmd struct{ Args }

// moveipRetryDelay is the pause after each failed attempt of moveip and
// addip (the real tool's sleep(3)), in nanoseconds; tests shorten it.
var moveipRetryDelay atomic.Int64

func init() { moveipRetryDelay.Store(int64(3 * time.Second)) }

// retryDelay is moveipRetryDelay.
func retryDelay() time.Duration { return time.Duration(moveipRetryDelay.Load()) }

// moveipAttempts is how many times moveip and addip try.
const moveipAttempts = 5

// Run follows control_moveip: up to five attempts, with a pause after each
// failure, the last one included.
func (c *MoveipCmd) Run(t *tool) error {
	if len(c.Args.Args) != 2 {
		return t.usage()
	}
	arg, pnnArg := c.Args.Args[0], c.Args.Args[1]
	addr, ok := parseSockAddr(arg, false)
	if !ok {
		t.eprintf("Invalid IP address %s\n", arg)
		return exitCode(1)
	}
	v, errno := smbStrtoulBase(pnnArg, 10, false)
	pnn := uint32(v)
	if errno != 0 || pnn == protocol.UnknownPNN {
		t.eprintf("Invalid PNN %s\n", pnnArg)
		return exitCode(1)
	}
	var err error
	for range moveipAttempts {
		if err = t.moveIP(addr, pnn); err == nil || fatal(err) {
			break
		}
		if serr := t.sleep(retryDelay()); serr != nil {
			return serr
		}
	}
	if fatal(err) {
		return err
	}
	if err != nil {
		t.eprintf("Failed to move IP %s to node %d\n", arg, pnn)
		return err
	}
	return t.ipDone(jsonIPAction{jsonAction{t.name, pnn, true}, sockAddrString(addr, false), ""})
}

// moveIP is one attempt: hold the IP checks for twice -t everywhere, check
// that pnn can host the address, tell every other active node that pnn
// now has it (RELEASE_IP), then ask pnn to take it.
func (t *tool) moveIP(addr protocol.SockAddr, pnn uint32) error {
	if err := t.c.DisableIPCheck(protocol.BroadcastConnected, t.twiceTimelimit()); err != nil {
		return errDisconnected
	}
	ips, err := t.publicIPs(pnn)
	if err != nil {
		if !fatal(err) {
			t.eprintf("Failed to get Public IPs from node %d\n", pnn)
		}
		return err
	}
	if !knowsIP(ips, addr) {
		t.eprintf("Node %d CANNOT host IP address %s\n", pnn, sockAddrString(addr, false))
		return exitCode(1)
	}
	nm, err := t.getNodemap(false)
	if err != nil {
		if fatal(err) {
			return err
		}
		return exitCode(1)
	}
	others := listOfNodes(nm, protocol.NodeFlagsInactive, pnn)
	if len(others) == 0 {
		t.eprintf("Memory allocation error\n")
		return exitCode(1)
	}
	pubip := protocol.PublicIP{PNN: pnn, Addr: addr}
	if _, err := t.sendAll(sameControl(others, protocol.ControlReleaseIP, pubip.Marshal())); err != nil {
		err = t.multiCode(err)
		if !fatal(err) {
			t.eprintf("Failed to release IP on nodes\n")
		}
		return err
	}
	ctx, cancel := t.tctx()
	err = t.c.TakeoverIP(ctx, pnn, pubip)
	cancel()
	if err != nil {
		err = t.ctrlErr(protocol.ControlTakeoverIP, pnn, err)
		if !fatal(err) {
			t.eprintf("Failed to takeover IP on node %d\n", pnn)
		}
		return err
	}
	return nil
}

// twiceTimelimit is 2*-t in seconds, as the real tool computes it in an
// int and sends it as a uint32.
func (t *tool) twiceTimelimit() uint32 {
	return 2 * uint32(t.opts.timelimit/time.Second)
}

// knowsIP reports whether addr is in ips (ports ignored).
func knowsIP(ips []protocol.PublicIP, addr protocol.SockAddr) bool {
	for _, ip := range ips {
		if sameIP(addr, ip.Addr) {
			return true
		}
	}
	return false
}

// jsonIPAction is the document of the commands that change public
// addresses and interfaces: jsonAction with the address and interface
// concerned.
type jsonIPAction struct {
	jsonAction
	Address   string `json:"address,omitempty"`
	Interface string `json:"interface,omitempty"`
}
