package failover_test

import (
	"fmt"
	"net/netip"

	"github.com/rctdb/rctdb/failover"
)

// Three unhosted addresses on three healthy nodes (4.17's
// takeover_helper/010): LCP2 places the highest address first, each on the
// emptiest node, lowest pnn first.
func ExampleAllocate() {
	in := failover.Input{NumNodes: 3, Algorithm: failover.LCP2}
	for _, s := range []string{"10.0.0.31", "10.0.0.32", "10.0.0.33"} {
		in.Addresses = append(in.Addresses, failover.Address{
			Addr:  netip.MustParseAddr(s),
			Owner: failover.NoNode,
			Hosts: []uint32{0, 1, 2},
		})
	}
	res, err := failover.Allocate(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range res.Assignments {
		fmt.Println(a.Addr, a.Owner)
	}
	for _, m := range res.Moves {
		fmt.Printf("%q\n", m)
	}
	// Output:
	// 10.0.0.33 0
	// 10.0.0.32 1
	// 10.0.0.31 2
	// " 10.0.0.33 -> 0 [+0]"
	// " 10.0.0.32 -> 1 [+0]"
	// " 10.0.0.31 -> 2 [+0]"
}

// A node's view of one of its addresses decides whether it can host it.
func ExampleCanHost() {
	healthy := failover.HostState{Running: true, Configured: true, LinksUp: []bool{false, true}}
	unhealthy := healthy
	unhealthy.NodeFlags = 0x2 // NODE_FLAGS_UNHEALTHY
	fmt.Println(failover.CanHost(healthy), failover.CanHost(unhealthy))
	// Output: true false
}
