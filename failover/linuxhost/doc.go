// Package linuxhost is the operating-system side of public-IP failover on
// Linux: it reads link state and addresses, puts public addresses on
// interfaces (with a kernel-enforced lease) and takes them off, reports
// address and link changes, announces a taken-over address (gratuitous ARP,
// unsolicited neighbour advertisement), sends CTDB's tickle ACKs and resets
// the TCP connections of a released address.
//
// It owns no policy: which node holds which address is decided elsewhere;
// a reconciler calls Host to make the kernel match that decision. All work
// can be directed at another network namespace (Options.Netns), which is how
// the tests give every node its own interfaces.
//
// Kernel facts the daemon relies on (measured on Linux 6.18, see the tests):
//
//   - SetAddress with a lease sets valid_lft = preferred_lft; the kernel
//     deletes the address on its own when the lease runs out, even if the
//     daemon is stopped. Refreshing uses RTM_NEWADDR with NLM_F_REPLACE, which
//     updates the lifetimes in place (no delete, no RTM_DELADDR, connections
//     survive). The kernel checks lifetimes on a coarse, rounded-up timer:
//     expect the address to vanish up to about one second after the lease.
//   - IPv6 addresses are added with IFA_F_NODAD: duplicate address detection
//     would keep a taken-over address tentative (unusable) for about a
//     second, and mark it "dadfailed" (unusable until removed) if the old
//     holder still answers; Raft already guarantees a single holder, and the
//     unsolicited NA with the Override flag moves neighbours over at once.
//   - Deleting the primary IPv4 address of a subnet deletes its secondaries
//     too unless net.ipv4.conf.IFACE.promote_secondaries=1; Host sets it once
//     per interface before the first IPv4 change there, as CTDB 4.17 does.
//   - An interface that goes administratively down loses all its IPv6
//     addresses (net.ipv6.conf.*.keep_addr_on_down=0, and leased addresses
//     are never kept); IPv4 addresses stay. Losing carrier keeps both.
//   - CTDB's 10.interface sets net.ipv4.conf.all.arp_filter=1 so that a node
//     with several interfaces on one subnet answers ARP only on the interface
//     that routes the address; Host does not touch global sysctls.
package linuxhost
