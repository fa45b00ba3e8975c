package failover

import "slices"

// unavailableFlags are the node flags under which a 4.17 node offers none of
// its addresses: INACTIVE (DISCONNECTED, BANNED, DELETED, STOPPED) and
// DISABLED (UNHEALTHY, PERMANENTLY_DISABLED), the bits 0x3F of the node map.
const unavailableFlags uint32 = 0x3F

// HostState is what decides whether a node can host one public address:
// the node's state and its view of the address.
type HostState struct {
	// NodeFlags are the node's NODE_FLAGS_* bits.
	NodeFlags uint32
	// Running reports that the node's runstate is RUNNING; a node still
	// starting up (or shutting down) hosts nothing.
	Running bool
	// Configured reports that the address is in the node's
	// public_addresses; a node can host only the addresses it lists.
	Configured bool
	// DeletePending reports that the address was deleted from the node
	// (ctdb delip) while the node held it; it stays there until the next
	// takeover run moves it away.
	DeletePending bool
	// LinksUp holds the link state of each of the address's interfaces on
	// the node.
	LinksUp []bool
}

// CanHost is 4.17's "available" rule (the addresses a node returns for
// GET_PUBLIC_IPS with the available-only flag): the node is RUNNING, has
// none of the INACTIVE or DISABLED flags, lists the address and has not
// deleted it, and at least one of the address's interfaces has its link up.
// The nodes for which it holds are the address's Hosts in an allocation.
func CanHost(s HostState) bool {
	return s.Running &&
		s.NodeFlags&unavailableFlags == 0 &&
		s.Configured &&
		!s.DeletePending &&
		slices.Contains(s.LinksUp, true)
}
