package protocol

import (
	"fmt"
	"strings"
)

// TunableDef describes one CTDB tunable: its name, 4.17 default, whether
// 4.17 considers it obsolete (still settable, not listed), and its index in
// struct ctdb_tunable_list (GET_ALL_TUNABLES).
type TunableDef struct {
	Name     string
	Default  uint32
	Obsolete bool
	Field    int
}

// Tunables lists every tunable in the order of ctdbd's tunable map, which
// is the order LIST_TUNABLES reports; Field gives the struct position,
// which differs for some of them.
var Tunables = [NumTunables]TunableDef{
	{"MaxRedirectCount", 3, true, 0},
	{"SeqnumInterval", 1000, false, 1},
	{"ControlTimeout", 60, false, 2},
	{"TraverseTimeout", 20, false, 3},
	{"KeepaliveInterval", 5, false, 4},
	{"KeepaliveLimit", 5, false, 5},
	{"RecoverTimeout", 30, false, 6},
	{"RecoverInterval", 1, false, 7},
	{"ElectionTimeout", 3, false, 8},
	{"TakeoverTimeout", 9, false, 9},
	{"MonitorInterval", 15, false, 10},
	{"TickleUpdateInterval", 20, false, 11},
	{"EventScriptTimeout", 30, false, 12},
	{"MonitorTimeoutCount", 20, false, 13},
	{"EventScriptUnhealthyOnTimeout", 0, true, 14},
	{"RecoveryGracePeriod", 120, false, 15},
	{"RecoveryBanPeriod", 300, false, 16},
	{"DatabaseHashSize", 100001, false, 17},
	{"DatabaseMaxDead", 5, false, 18},
	{"RerecoveryTimeout", 10, false, 19},
	{"EnableBans", 1, false, 20},
	{"DeterministicIPs", 0, true, 21},
	{"LCP2PublicIPs", 1, true, 41},
	{"ReclockPingPeriod", 60, true, 22},
	{"NoIPFailback", 0, false, 23},
	{"DisableIPFailover", 0, true, 24},
	{"VerboseMemoryNames", 0, false, 25},
	{"RecdPingTimeout", 60, false, 26},
	{"RecdFailCount", 10, false, 27},
	{"LogLatencyMs", 0, false, 28},
	{"RecLockLatencyMs", 1000, false, 29},
	{"RecoveryDropAllIPs", 120, false, 30},
	{"VerifyRecoveryLock", 1, true, 31},
	{"VacuumInterval", 10, false, 32},
	{"VacuumMaxRunTime", 120, false, 33},
	{"RepackLimit", 10000, false, 34},
	{"VacuumLimit", 5000, true, 35},
	{"VacuumFastPathCount", 60, false, 40},
	{"MaxQueueDropMsg", 1000000, false, 36},
	{"AllowUnhealthyDBRead", 0, false, 37},
	{"StatHistoryInterval", 1, false, 38},
	{"DeferredAttachTO", 120, false, 39},
	{"AllowClientDBAttach", 1, false, 42},
	{"RecoverPDBBySeqNum", 1, true, 43},
	{"DeferredRebalanceOnNodeAdd", 300, true, 44},
	{"FetchCollapse", 1, false, 45},
	{"HopcountMakeSticky", 50, false, 46},
	{"StickyDuration", 600, false, 47},
	{"StickyPindown", 200, false, 48},
	{"NoIPTakeover", 0, false, 49},
	{"DBRecordCountWarn", 100000, false, 50},
	{"DBRecordSizeWarn", 10000000, false, 51},
	{"DBSizeWarn", 100000000, false, 52},
	{"PullDBPreallocation", 10485760, false, 53},
	{"NoIPHostOnAllDisabled", 1, true, 54},
	{"Samba3AvoidDeadlocks", 0, true, 55},
	{"TDBMutexEnabled", 1, true, 56},
	{"LockProcessesPerDB", 200, false, 57},
	{"RecBufferSizeLimit", 1000000, false, 58},
	{"QueueBufferSize", 1024, false, 59},
	{"IPAllocAlgorithm", 2, false, 60},
	{"AllowMixedVersions", 0, false, 61},
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
	for _, t := range Tunables {
		l[t.Field] = t.Default
	}
	return l
}

// TunableList is struct ctdb_tunable_list, the GET_ALL_TUNABLES reply: the
// value of every tunable, indexed by TunableDef.Field.
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
	return l[Tunables[i].Field], true
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
