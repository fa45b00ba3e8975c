package client

import (
	"context"
	"fmt"

	"github.com/rctdb/rctdb/protocol"
)

// The public-IP and connection ("tickle") controls, and the messages that
// steer takeover runs. GetPublicIPs and GetIfaces are in controls.go.

// GetPublicIPInfo returns what dest knows about the public address addr:
// the node it believes holds it, the interface carrying it on dest, and
// the interfaces it may use. A daemon that does not know addr answers
// with status -1 (a *ControlError).
func (c *Client) GetPublicIPInfo(ctx context.Context, dest uint32, addr protocol.SockAddr) (*protocol.PublicIPInfo, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetPublicIPInfo, addr.AppendTo(nil))
	if err != nil {
		return nil, err
	}
	var info protocol.PublicIPInfo
	if err := info.Unmarshal(r.Data); err != nil {
		return nil, fmt.Errorf("control %s reply: %w", protocol.ControlGetPublicIPInfo, err)
	}
	return &info, nil
}

// SetIfaceLinkState sets the link state of dest's interface iface.Name to
// iface.LinkState (0 down, 1 up). The daemon refuses a non-zero
// References, as it counts them itself.
func (c *Client) SetIfaceLinkState(ctx context.Context, dest uint32, iface protocol.Iface) error {
	_, err := c.call(ctx, dest, protocol.ControlSetIfaceLinkState, iface.Marshal())
	return err
}

// ReleaseIP tells dest that ip.Addr now belongs to ip.PNN (UnknownPNN:
// nobody); dest releases the address if it holds it.
func (c *Client) ReleaseIP(ctx context.Context, dest uint32, ip protocol.PublicIP) error {
	_, err := c.call(ctx, dest, protocol.ControlReleaseIP, ip.Marshal())
	return err
}

// TakeoverIP asks dest to host ip.Addr; ip.PNN must be dest.
func (c *Client) TakeoverIP(ctx context.Context, dest uint32, ip protocol.PublicIP) error {
	_, err := c.call(ctx, dest, protocol.ControlTakeoverIP, ip.Marshal())
	return err
}

// AddPublicIP adds a public address to dest's list (what "ctdb addip"
// sends); the daemon refuses a duplicate or an unknown interface.
func (c *Client) AddPublicIP(ctx context.Context, dest uint32, info protocol.AddrInfo) error {
	_, err := c.call(ctx, dest, protocol.ControlAddPublicIP, info.Marshal())
	return err
}

// DelPublicIP removes a public address from dest's list. An empty
// info.Iface is sent as no string at all (length 0), as the ctdb tool
// sends it, rather than as an empty string.
func (c *Client) DelPublicIP(ctx context.Context, dest uint32, info protocol.AddrInfo) error {
	_, err := c.call(ctx, dest, protocol.ControlDelPublicIP, marshalAddrInfoNullIface(info))
	return err
}

// marshalAddrInfoNullIface encodes info, with the C tool's NULL interface
// (a zero length) when the name is empty.
func marshalAddrInfoNullIface(info protocol.AddrInfo) []byte {
	if info.Iface != "" {
		return info.Marshal()
	}
	b := info.Addr.AppendTo(nil)
	b = append(b, protocol.U32(info.Mask)...)
	return append(b, protocol.U32(0)...)
}

// ReloadPublicIPs asks dest to re-read its public addresses file, adding
// and deleting addresses; it answers once done.
func (c *Client) ReloadPublicIPs(ctx context.Context, dest uint32) error {
	_, err := c.call(ctx, dest, protocol.ControlReloadPublicIPs, nil)
	return err
}

// SendGratuitousARP asks dest to announce info.Addr on info.Iface; dest
// answers at once and sends the announcements afterwards.
func (c *Client) SendGratuitousARP(ctx context.Context, dest uint32, info protocol.AddrInfo) error {
	_, err := c.call(ctx, dest, protocol.ControlSendGratuitousARP, info.Marshal())
	return err
}

// GetTCPTickleList returns the connections dest records for the public
// address addr; a non-zero addr.Port keeps only the connections to that
// port. A daemon answers status 1 for an address that is not public.
func (c *Client) GetTCPTickleList(ctx context.Context, dest uint32, addr protocol.SockAddr) (*protocol.TickleList, error) {
	r, err := c.call(ctx, dest, protocol.ControlGetTCPTickleList, addr.AppendTo(nil))
	if err != nil {
		return nil, err
	}
	var l protocol.TickleList
	if err := l.Unmarshal(r.Data); err != nil {
		return nil, fmt.Errorf("control %s reply: %w", protocol.ControlGetTCPTickleList, err)
	}
	return &l, nil
}

// TCPAddDelayedUpdate records a connection (Src the client, Dst the public
// address) on dest and marks its list for the next update to the other
// nodes, as "ctdb addtickle" does.
func (c *Client) TCPAddDelayedUpdate(ctx context.Context, dest uint32, conn protocol.Connection) error {
	_, err := c.call(ctx, dest, protocol.ControlTCPAddDelayedUpdate, conn.Marshal())
	return err
}

// TCPRemove removes a connection from dest's lists.
func (c *Client) TCPRemove(ctx context.Context, dest uint32, conn protocol.Connection) error {
	_, err := c.call(ctx, dest, protocol.ControlTCPRemove, conn.Marshal())
	return err
}

// DisableIPCheck asks the recovery daemons of dest (a pnn or a broadcast)
// not to check their nodes' addresses, nor to request takeover runs, for
// timeout seconds. Nothing answers.
func (c *Client) DisableIPCheck(dest uint32, timeout uint32) error {
	return c.SendMessage(dest, protocol.SrvIDDisableIPCheck, protocol.U32(timeout))
}

// RebalanceNode asks the leader, reached through dest (a pnn or a
// broadcast), to move addresses onto pnn at its next takeover run.
func (c *Client) RebalanceNode(dest uint32, pnn uint32) error {
	return c.SendMessage(dest, protocol.SrvIDRebalanceNode, protocol.U32(pnn))
}

// RefusedError is a negative answer to a request message.
type RefusedError struct {
	SrvID  uint64 // the request's srvid
	Status int32  // the answer, e.g. -EAGAIN
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("request 0x%016X refused with %d", e.SrvID, e.Status)
}

// DisableTakeoverRuns asks the recovery daemon of each of pnns to hold
// takeover runs for timeout seconds (0 lets them run again), and waits
// until each has confirmed with its pnn. The first negative answer (a run
// is in progress) ends the wait with a *RefusedError; answers of the wrong
// size or from other nodes are ignored, as the ctdb tool ignores them.
func (c *Client) DisableTakeoverRuns(ctx context.Context, pnns []uint32, timeout uint32) error {
	return c.disableOn(ctx, "disable takeover runs", protocol.SrvIDDisableTakeoverRuns, pnns, timeout)
}
