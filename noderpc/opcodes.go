package noderpc

// rctdb's node-to-node control opcodes: every one of them is declared
// here. They lie far above CTDB's (the last of 4.17 is 158), in blocks of
// 0x100 per subsystem; clients may not send them (IsInternal).
const (
	// Raft layer: OpApply commits an encoded command through the leader
	// (reply: u64 index); OpReadIndex returns a linearizable read index
	// (u64); OpWaitApplied (data: u64 index) answers once the node has
	// installed the state of that index.
	OpApply       uint32 = 0x7C000001
	OpReadIndex   uint32 = 0x7C000002
	OpWaitApplied uint32 = 0x7C000003

	// Recovery: the leader's pulls, pushes and per-database thaw (layouts
	// in package recovery).
	OpRecoveryPull uint32 = 0x7C000101
	OpRecoveryPush uint32 = 0x7C000102
	OpRecoveryThaw uint32 = 0x7C000103

	// Traverse: a walker asks the coordinator to answer once the client
	// has drained its queue (data: u32 traverse id).
	OpTraversePace uint32 = 0x7C000201

	// Failover: OpFailoverLease asks the leader for a lease on the public
	// addresses assigned to the caller (reply: u32 lease in milliseconds,
	// from the time the request was sent, and u64 the assignment sequence
	// number the leader had applied); OpFailoverReleased (data: u64
	// assignment sequence number) answers once the node reconciled its
	// interfaces with that assignment or a later one; OpFailoverMove (data:
	// a sockaddr and a u32 pnn) asks the leader to move an address to a
	// node (ctdb moveip).
	OpFailoverLease    uint32 = 0x7C000301
	OpFailoverReleased uint32 = 0x7C000302
	OpFailoverMove     uint32 = 0x7C000303
)

// internalBase and internalEnd bound the opcodes reserved for rctdb.
const (
	internalBase uint32 = 0x7C000000
	internalEnd  uint32 = 0x7D000000
)

// IsInternal reports whether op is one of rctdb's own node-to-node
// controls, which clients may not send.
func IsInternal(op uint32) bool { return op >= internalBase && op < internalEnd }
