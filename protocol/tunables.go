package protocol

import (
	"fmt"
	"strings"
)

// TunableDef describes one CTDB tunable: its name, 4.17 default and whether
// 4.17 considers it obsolete (still settable, not listed).
type TunableDef struct {
	Name     string
	Default  uint32
	Obsolete bool
}

// Tunables lists every tunable in the order of struct ctdb_tunable_list,
// which is also the order of GET_ALL_TUNABLES and of LIST_TUNABLES.
var Tunables = [NumTunables]TunableDef{
	{"MaxRedirectCount", 3, true},
	{"SeqnumInterval", 1000, false},
	{"ControlTimeout", 60, false},
	{"TraverseTimeout", 20, false},
	{"KeepaliveInterval", 5, false},
	{"KeepaliveLimit", 5, false},
	{"RecoverTimeout", 30, false},
	{"RecoverInterval", 1, false},
	{"ElectionTimeout", 3, false},
	{"TakeoverTimeout", 9, false},
	{"MonitorInterval", 15, false},
	{"TickleUpdateInterval", 20, false},
	{"EventScriptTimeout", 30, false},
	{"MonitorTimeoutCount", 20, false},
	{"EventScriptUnhealthyOnTimeout", 0, true},
	{"RecoveryGracePeriod", 120, false},
	{"RecoveryBanPeriod", 300, false},
	{"DatabaseHashSize", 100001, false},
	{"DatabaseMaxDead", 5, false},
	{"RerecoveryTimeout", 10, false},
	{"EnableBans", 1, false},
	{"DeterministicIPs", 0, true},
	{"ReclockPingPeriod", 60, true},
	{"NoIPFailback", 0, false},
	{"DisableIPFailover", 0, true},
	{"VerboseMemoryNames", 0, false},
	{"RecdPingTimeout", 60, false},
	{"RecdFailCount", 10, false},
	{"LogLatencyMs", 0, false},
	{"RecLockLatencyMs", 1000, false},
	{"RecoveryDropAllIPs", 120, false},
	{"VerifyRecoveryLock", 1, true},
	{"VacuumInterval", 10, false},
	{"VacuumMaxRunTime", 120, false},
	{"RepackLimit", 10000, false},
	{"VacuumLimit", 5000, true},
	{"MaxQueueDropMsg", 1000000, false},
	{"AllowUnhealthyDBRead", 0, false},
	{"StatHistoryInterval", 1, false},
	{"DeferredAttachTO", 120, false},
	{"VacuumFastPathCount", 60, false},
	{"LCP2PublicIPs", 1, true},
	{"AllowClientDBAttach", 1, false},
	{"RecoverPDBBySeqNum", 1, true},
	{"DeferredRebalanceOnNodeAdd", 300, true},
	{"FetchCollapse", 1, false},
	{"HopcountMakeSticky", 50, false},
	{"StickyDuration", 600, false},
	{"StickyPindown", 200, false},
	{"NoIPTakeover", 0, false},
	{"DBRecordCountWarn", 100000, false},
	{"DBRecordSizeWarn", 10000000, false},
	{"DBSizeWarn", 100000000, false},
	{"PullDBPreallocation", 10485760, false},
	{"NoIPHostOnAllDisabled", 1, true},
	{"Samba3AvoidDeadlocks", 0, true},
	{"TDBMutexEnabled", 1, true},
	{"LockProcessesPerDB", 200, false},
	{"RecBufferSizeLimit", 1000000, false},
	{"QueueBufferSize", 1024, false},
	{"IPAllocAlgorithm", 2, false},
	{"AllowMixedVersions", 0, false},
}

// NumTunables is the number of u32 fields of struct ctdb_tunable_list.
const NumTunables = 62

// TunableIndex returns the index of a tunable by case-insensitive name.
func TunableIndex(name string) (int, bool) {
	for i, t := range Tunables {
		if strings.EqualFold(t.Name, name) {
			return i, true
		}
	}
	return 0, false
}

// DefaultTunables returns the 4.17 defaults of every tunable.
func DefaultTunables() TunableList {
	var l TunableList
	for i, t := range Tunables {
		l[i] = t.Default
	}
	return l
}

// TunableList is struct ctdb_tunable_list, the GET_ALL_TUNABLES reply: the
// value of every tunable in table order.
type TunableList [NumTunables]uint32

// Marshal encodes the list (248 bytes).
func (l *TunableList) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 4*NumTunables)}
	for _, v := range l {
		e.u32(v)
	}
	return e.b
}

// Unmarshal decodes the list.
func (l *TunableList) Unmarshal(b []byte) error {
	d := newDecoder("tunable list", b)
	for i := range l {
		l[i] = d.u32()
	}
	return d.err
}

// Get returns a tunable's value by case-insensitive name.
func (l *TunableList) Get(name string) (uint32, bool) {
	i, ok := TunableIndex(name)
	if !ok {
		return 0, false
	}
	return l[i], true
}

// SetTunable is ctdb_tunable, the SET_TUNABLE request.
type SetTunable struct {
	Name  string
	Value uint32
}

// Marshal encodes the request: value, then the name as a stringn with NUL.
func (t *SetTunable) Marshal() []byte {
	e := encoder{b: U32(t.Value)}
	e.datan(CString(t.Name))
	return e.b
}

// Unmarshal decodes the request; a name without NUL is accepted.
func (t *SetTunable) Unmarshal(b []byte) error {
	d := newDecoder("tunable", b)
	t.Value = d.u32()
	t.Name = ParseCString(d.bytes(int(d.u32())))
	return d.err
}

// StringN encodes a stringn: u32 length (NUL included), then the bytes.
func StringN(s string) []byte {
	e := encoder{}
	e.datan(CString(s))
	return e.b
}

// ParseStringN decodes a stringn.
func ParseStringN(b []byte) (string, error) {
	d := newDecoder("stringn", b)
	s := ParseCString(d.bytes(int(d.u32())))
	return s, d.err
}

// VarList is ctdb_var_list, the LIST_TUNABLES reply.
type VarList struct {
	Names []string
}

// Marshal encodes the names as ctdbd 4.17 does: u32 length, then
// ":Name1:Name2...:NameN" with a terminating NUL.
func (v *VarList) Marshal() []byte {
	var sb strings.Builder
	for _, n := range v.Names {
		sb.WriteByte(':')
		sb.WriteString(n)
	}
	return StringN(sb.String())
}

// Unmarshal decodes the list, ignoring empty names.
func (v *VarList) Unmarshal(b []byte) error {
	s, err := ParseStringN(b)
	if err != nil {
		return fmt.Errorf("var list: %w", err)
	}
	v.Names = v.Names[:0]
	for _, n := range strings.Split(s, ":") {
		if n != "" {
			v.Names = append(v.Names, n)
		}
	}
	return nil
}

// ListedTunables returns the names LIST_TUNABLES reports: the non-obsolete
// tunables in table order.
func ListedTunables() []string {
	var names []string
	for _, t := range Tunables {
		if !t.Obsolete {
			names = append(names, t.Name)
		}
	}
	return names
}
