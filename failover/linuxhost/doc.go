// Package linuxhost is the operating-system side of public-IP failover on
// Linux: it reads link state and addresses, puts public addresses on
// interfaces (with a kernel-enforced lease) and takes them off, reports
// address and link changes, announces a taken-over address (gratuitous ARP,
// unsolicited neighbour advertisement), sends CTDB's tickle ACKs and resets
// the TCP connections of a released address.
//
// It owns no policy: which node holds which address is decided elsewhere; a
// reconciler calls Host to make the kernel match that decision. All work can
// be directed at another network namespace (Options.Netns), which is how the
// tests give every node its own interfaces (internal/netnstest).
//
// Kernel facts the daemon relies on (Linux 6.18, checked by the tests):
//
//   - A lease is valid_lft = preferred_lft. The kernel deletes the address
//     itself when it runs out, even if the daemon is stopped: measured 7 to
//     84 ms after 1 to 3 s leases and 118 to 272 ms after 5 to 20 s leases,
//     never before (its lifetime check runs on a timer rounded up to whole
//     seconds, so allow up to a second). Refreshing is RTM_NEWADDR with NLM_F_REPLACE: the lifetimes
//     change in place, no RTM_DELADDR, connections survive.
//   - Going from a permanent to a finite lifetime corrupts the expiry of an
//     IPv6 prefix route (it lies in the past and the subnet becomes
//     unreachable); SetAddress repeats the update, which repairs it.
//   - IPv6 addresses are added with IFA_F_NODAD: duplicate address detection
//     would keep a taken-over address tentative (unusable) for a second, and
//     mark it "dadfailed" (unusable until removed) if the old holder still
//     answers. Raft decides the single holder; the unsolicited NA with the
//     Override flag moves neighbours over at once.
//   - Even so, a new IPv6 address joins its solicited-node multicast group a
//     little after RTM_NEWADDR is acknowledged (work queue); a neighbour
//     solicitation arriving before is dropped and costs that client a
//     1 s retransmission. SetAddress waits for the join (a new IPv6
//     address costs about 1 ms in BenchmarkTakeover, IPv4 0.2 ms).
//   - Deleting the primary IPv4 address of a subnet deletes its secondaries
//     unless net.ipv4.conf.IFACE.promote_secondaries=1; Host sets it once per
//     interface before its first IPv4 change there, as CTDB 4.17 does.
//   - An interface set administratively down loses all its IPv6 addresses
//     (keep_addr_on_down=0, and leased addresses are never kept); IPv4
//     addresses stay. Losing carrier keeps both. Carrier loss is reported at
//     once; the kernel may report carrier return up to a second late (link
//     watch rate limit; 0 to 1 ms measured on a quiet veth).
//   - SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY, `ss -K`) is available; the
//     aborted socket's owner gets ECONNABORTED and its peer a RST.
//   - CTDB's 10.interface sets net.ipv4.conf.all.arp_filter=1 so that a node
//     with several interfaces on one subnet answers ARP only on the one that
//     routes the address. Host does not touch global sysctls; the daemon's
//     setup should.
package linuxhost
