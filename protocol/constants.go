package protocol

import "strings"

// Node flags (NODE_FLAGS_*), as carried in the node map.
const (
	NodeFlagDisconnected        uint32 = 0x01
	NodeFlagUnhealthy           uint32 = 0x02
	NodeFlagPermanentlyDisabled uint32 = 0x04
	NodeFlagBanned              uint32 = 0x08
	NodeFlagDeleted             uint32 = 0x10
	NodeFlagStopped             uint32 = 0x20
	// NodeFlagsDisabled is the mask the tool calls DISABLED.
	NodeFlagsDisabled = NodeFlagUnhealthy | NodeFlagPermanentlyDisabled
	// NodeFlagsInactive is the mask of flags that take a node out of the
	// active set.
	NodeFlagsInactive = NodeFlagDeleted | NodeFlagDisconnected | NodeFlagBanned | NodeFlagStopped
	// NodeFlagUnknown is display-only in the ctdb tool.
	NodeFlagUnknown uint32 = 0x40
)

// NodeFlagsString renders flags the way ctdb 4.17's status does:
// "OK", or the set names joined with '|' in the tool's order.
func NodeFlagsString(flags uint32) string {
	names := []struct {
		flag uint32
		name string
	}{
		{NodeFlagDisconnected, "DISCONNECTED"},
		{NodeFlagUnknown, "UNKNOWN"},
		{NodeFlagPermanentlyDisabled, "DISABLED"},
		{NodeFlagBanned, "BANNED"},
		{NodeFlagUnhealthy, "UNHEALTHY"},
		{NodeFlagDeleted, "DELETED"},
		{NodeFlagStopped, "STOPPED"},
	}
	var parts []string
	for _, n := range names {
		if flags&n.flag != 0 {
			parts = append(parts, n.name)
		}
	}
	if flags&NodeFlagsInactive != 0 {
		parts = append(parts, "INACTIVE")
	}
	if len(parts) == 0 {
		return "OK"
	}
	return strings.Join(parts, "|")
}

// Recovery modes.
const (
	RecoveryNormal uint32 = 0
	RecoveryActive uint32 = 1
)

// Runstate is enum ctdb_runstate.
type Runstate uint32

// Runstates.
const (
	RunstateUnknown Runstate = iota
	RunstateInit
	RunstateSetup
	RunstateFirstRecovery
	RunstateStartup
	RunstateRunning
	RunstateShutdown
)

func (r Runstate) String() string {
	switch r {
	case RunstateInit:
		return "INIT"
	case RunstateSetup:
		return "SETUP"
	case RunstateFirstRecovery:
		return "FIRST_RECOVERY"
	case RunstateStartup:
		return "STARTUP"
	case RunstateRunning:
		return "RUNNING"
	case RunstateShutdown:
		return "SHUTDOWN"
	}
	return "UNKNOWN"
}

// Capabilities (GET_CAPABILITIES).
const (
	CapRecMaster          uint32 = 0x00000001
	CapLMaster            uint32 = 0x00000002
	CapLVS                uint32 = 0x00000004
	CapNATGW              uint32 = 0x00000008
	CapParallelRecovery   uint32 = 0x00010000
	CapFragmentedControls uint32 = 0x00020000
	CapFeatures                  = CapParallelRecovery | CapFragmentedControls
	CapDefault                   = CapRecMaster | CapLMaster | CapFeatures
)

// Reserved srvids.
const (
	SrvIDAll                 uint64 = 0xFFFFFFFFFFFFFFFF
	SrvIDRecovery            uint64 = 0xF001000000000000
	SrvIDBanning             uint64 = 0xF002000000000000
	SrvIDElection            uint64 = 0xF100000000000000
	SrvIDLeader              uint64 = 0xF101000000000000
	SrvIDReconfigure         uint64 = 0xF200000000000000
	SrvIDReleaseIP           uint64 = 0xF300000000000000
	SrvIDTakeIP              uint64 = 0xF301000000000000
	SrvIDSetNodeFlags        uint64 = 0xF400000000000000
	SrvIDRecdUpdateIP        uint64 = 0xF500000000000000
	SrvIDVacuumFetch         uint64 = 0xF700000000000000
	SrvIDDetachDatabase      uint64 = 0xF701000000000000
	SrvIDMemDump             uint64 = 0xF800000000000000
	SrvIDGetLog              uint64 = 0xF801000000000000
	SrvIDClearLog            uint64 = 0xF802000000000000
	SrvIDPushNodeFlags       uint64 = 0xF900000000000000
	SrvIDReloadNodes         uint64 = 0xFA00000000000000
	SrvIDTakeoverRun         uint64 = 0xFB00000000000000
	SrvIDRebalanceNode       uint64 = 0xFB01000000000000
	SrvIDDisableTakeoverRuns uint64 = 0xFB03000000000000
	SrvIDDisableRecoveries   uint64 = 0xFB04000000000000
	SrvIDDisableIPCheck      uint64 = 0xFC00000000000000
	SrvIDSambaRange          uint64 = 0xFE00000000000000
	SrvIDSambaNotify         uint64 = 0xFE00000000000000
	SrvIDSambaNotifyProxy    uint64 = 0xFE00000000000001
	SrvIDSambaProcess        uint64 = 0xFE00000000000002
	SrvIDNFSDRange           uint64 = 0xEE00000000000000
	SrvIDISCSIDRange         uint64 = 0xDE00000000000000
	SrvIDToolRange           uint64 = 0xCE00000000000000
	SrvIDClientRange         uint64 = 0xBE00000000000000
	SrvIDTestRange           uint64 = 0xAE00000000000000
	SrvIDTunnelTest          uint64 = 0xFFFFFFFF00000000
)

// Database flags (ctdb_dbid.flags).
const (
	DBFlagPersistent uint8 = 0x01
	DBFlagReadonly   uint8 = 0x02
	DBFlagSticky     uint8 = 0x04
	DBFlagReplicated uint8 = 0x08
)

// Record flags (ctdb_ltdb_header.flags).
const (
	RecFlagDefault            uint32 = 0x00000000
	RecFlagMigratedWithData   uint32 = 0x00010000
	RecFlagVacuumMigrated     uint32 = 0x00020000
	RecFlagAutomatic          uint32 = 0x00040000
	RecFlagROHaveDelegations  uint32 = 0x01000000
	RecFlagROHaveReadonly     uint32 = 0x02000000
	RecFlagRORevokingReadonly uint32 = 0x04000000
	RecFlagRORevokeComplete   uint32 = 0x08000000
	RecFlagsRO                uint32 = 0x0F000000
)

// TDB open flags as reported by DB_OPEN_FLAGS.
const (
	TDBClearIfFirst     int32 = 0x0001
	TDBInternal         int32 = 0x0002
	TDBNoLock           int32 = 0x0004
	TDBNoMmap           int32 = 0x0008
	TDBConvert          int32 = 0x0010
	TDBBigEndian        int32 = 0x0020
	TDBNoSync           int32 = 0x0040
	TDBSeqnum           int32 = 0x0080
	TDBVolatile         int32 = 0x0100
	TDBAllowNesting     int32 = 0x0200
	TDBDisallowNesting  int32 = 0x0400
	TDBIncompatibleHash int32 = 0x0800
	TDBMutexLocking     int32 = 0x1000
)

// Miscellaneous constants.
const (
	DefaultPort       = 4379
	InvalidGeneration = 1
	LMasterAny        = 0xFFFFFFFF
	MaxCountBuckets   = 16
	MaxHotKeys        = 10
	IfaceNameSize     = 16
)

// DBSeqnumKey is the key of the persistent database sequence number record,
// NUL included as CTDB uses it.
var DBSeqnumKey = []byte("__db_sequence_number__\x00")
