package protocol

import "unsafe"

// TunableValues is struct ctdb_tunable_list field by field, in the order of
// the wire (TunableDef.Field): the typed view of a TunableList, so that
// code reads st.Tunables().ControlTimeout instead of looking a name up.
type TunableValues struct {
	MaxRedirectCount              uint32
	SeqnumInterval                uint32
	ControlTimeout                uint32
	TraverseTimeout               uint32
	KeepaliveInterval             uint32
	KeepaliveLimit                uint32
	RecoverTimeout                uint32
	RecoverInterval               uint32
	ElectionTimeout               uint32
	TakeoverTimeout               uint32
	MonitorInterval               uint32
	TickleUpdateInterval          uint32
	EventScriptTimeout            uint32
	MonitorTimeoutCount           uint32
	EventScriptUnhealthyOnTimeout uint32
	RecoveryGracePeriod           uint32
	RecoveryBanPeriod             uint32
	DatabaseHashSize              uint32
	DatabaseMaxDead               uint32
	RerecoveryTimeout             uint32
	EnableBans                    uint32
	DeterministicIPs              uint32
	ReclockPingPeriod             uint32
	NoIPFailback                  uint32
	DisableIPFailover             uint32
	VerboseMemoryNames            uint32
	RecdPingTimeout               uint32
	RecdFailCount                 uint32
	LogLatencyMs                  uint32
	RecLockLatencyMs              uint32
	RecoveryDropAllIPs            uint32
	VerifyRecoveryLock            uint32
	VacuumInterval                uint32
	VacuumMaxRunTime              uint32
	RepackLimit                   uint32
	VacuumLimit                   uint32
	MaxQueueDropMsg               uint32
	AllowUnhealthyDBRead          uint32
	StatHistoryInterval           uint32
	DeferredAttachTO              uint32
	VacuumFastPathCount           uint32
	LCP2PublicIPs                 uint32
	AllowClientDBAttach           uint32
	RecoverPDBBySeqNum            uint32
	DeferredRebalanceOnNodeAdd    uint32
	FetchCollapse                 uint32
	HopcountMakeSticky            uint32
	StickyDuration                uint32
	StickyPindown                 uint32
	NoIPTakeover                  uint32
	DBRecordCountWarn             uint32
	DBRecordSizeWarn              uint32
	DBSizeWarn                    uint32
	PullDBPreallocation           uint32
	NoIPHostOnAllDisabled         uint32
	Samba3AvoidDeadlocks          uint32
	TDBMutexEnabled               uint32
	LockProcessesPerDB            uint32
	RecBufferSizeLimit            uint32
	QueueBufferSize               uint32
	IPAllocAlgorithm              uint32
	AllowMixedVersions            uint32
}

// The typed view and the list must have the same size; the field order is
// checked against Tunables by a test.
var _ [unsafe.Sizeof(TunableValues{})]byte = [4 * NumTunables]byte{}

// Values returns the typed view of the list; it aliases l.
func (l *TunableList) Values() *TunableValues { return (*TunableValues)(unsafe.Pointer(l)) }

// DefaultTunableValues returns the 4.17 defaults, typed.
func DefaultTunableValues() TunableValues {
	l := DefaultTunables()
	return *l.Values()
}
