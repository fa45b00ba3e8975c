package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// refTunables is the table of reference §11.8: byte offset in
// GET_ALL_TUNABLES, name, 4.17 default, obsolete. Its order is the struct's;
// LIST_TUNABLES follows ctdbd's tunable map instead (refListOrder).
var refTunables = []struct {
	off      int
	name     string
	def      uint32
	obsolete bool
}{
	{0, "MaxRedirectCount", 3, true},
	{4, "SeqnumInterval", 1000, false},
	{8, "ControlTimeout", 60, false},
	{12, "TraverseTimeout", 20, false},
	{16, "KeepaliveInterval", 5, false},
	{20, "KeepaliveLimit", 5, false},
	{24, "RecoverTimeout", 30, false},
	{28, "RecoverInterval", 1, false},
	{32, "ElectionTimeout", 3, false},
	{36, "TakeoverTimeout", 9, false},
	{40, "MonitorInterval", 15, false},
	{44, "TickleUpdateInterval", 20, false},
	{48, "EventScriptTimeout", 30, false},
	{52, "MonitorTimeoutCount", 20, false},
	{56, "EventScriptUnhealthyOnTimeout", 0, true},
	{60, "RecoveryGracePeriod", 120, false},
	{64, "RecoveryBanPeriod", 300, false},
	{68, "DatabaseHashSize", 100001, false},
	{72, "DatabaseMaxDead", 5, false},
	{76, "RerecoveryTimeout", 10, false},
	{80, "EnableBans", 1, false},
	{84, "DeterministicIPs", 0, true},
	{88, "ReclockPingPeriod", 60, true},
	{92, "NoIPFailback", 0, false},
	{96, "DisableIPFailover", 0, true},
	{100, "VerboseMemoryNames", 0, false},
	{104, "RecdPingTimeout", 60, false},
	{108, "RecdFailCount", 10, false},
	{112, "LogLatencyMs", 0, false},
	{116, "RecLockLatencyMs", 1000, false},
	{120, "RecoveryDropAllIPs", 120, false},
	{124, "VerifyRecoveryLock", 1, true},
	{128, "VacuumInterval", 10, false},
	{132, "VacuumMaxRunTime", 120, false},
	{136, "RepackLimit", 10000, false},
	{140, "VacuumLimit", 5000, true},
	{144, "MaxQueueDropMsg", 1000000, false},
	{148, "AllowUnhealthyDBRead", 0, false},
	{152, "StatHistoryInterval", 1, false},
	{156, "DeferredAttachTO", 120, false},
	{160, "VacuumFastPathCount", 60, false},
	{164, "LCP2PublicIPs", 1, true},
	{168, "AllowClientDBAttach", 1, false},
	{172, "RecoverPDBBySeqNum", 1, true},
	{176, "DeferredRebalanceOnNodeAdd", 300, true},
	{180, "FetchCollapse", 1, false},
	{184, "HopcountMakeSticky", 50, false},
	{188, "StickyDuration", 600, false},
	{192, "StickyPindown", 200, false},
	{196, "NoIPTakeover", 0, false},
	{200, "DBRecordCountWarn", 100000, false},
	{204, "DBRecordSizeWarn", 10000000, false},
	{208, "DBSizeWarn", 100000000, false},
	{212, "PullDBPreallocation", 10485760, false},
	{216, "NoIPHostOnAllDisabled", 1, true},
	{220, "Samba3AvoidDeadlocks", 0, true},
	{224, "TDBMutexEnabled", 1, true},
	{228, "LockProcessesPerDB", 200, false},
	{232, "RecBufferSizeLimit", 1000000, false},
	{236, "QueueBufferSize", 1024, false},
	{240, "IPAllocAlgorithm", 2, false},
	{244, "AllowMixedVersions", 0, false},
}

func TestTunablesTable(t *testing.T) {
	if NumTunables != 62 || len(Tunables) != 62 || len(refTunables) != 62 {
		t.Fatalf("NumTunables %d, len(Tunables) %d, reference rows %d; want 62", NumTunables, len(Tunables), len(refTunables))
	}
	fields := make(map[int]bool)
	for i, r := range refTunables {
		if r.off != 4*i {
			t.Fatalf("reference row %d has offset %d", i, r.off)
		}
		j, ok := TunableIndex(r.name)
		if !ok {
			t.Errorf("tunable %s missing", r.name)
			continue
		}
		got := Tunables[j]
		if got.Name != r.name || got.Default != r.def || got.Obsolete != r.obsolete || got.Field != i {
			t.Errorf("Tunables[%d] = %+v, reference %s default %d obsolete %v field %d", j, got, r.name, r.def, r.obsolete, i)
		}
		fields[got.Field] = true
	}
	if len(fields) != 62 {
		t.Errorf("%d distinct struct fields, want 62", len(fields))
	}
}

// refListOrder is the order in which the real ctdb 4.17 tool's listvars
// prints the tunables (reference capture samples-formats.txt), which is the
// order of LIST_TUNABLES.
var refListOrder = []string{"SeqnumInterval", "ControlTimeout", "TraverseTimeout", "KeepaliveInterval",
	"KeepaliveLimit", "RecoverTimeout", "RecoverInterval", "ElectionTimeout", "TakeoverTimeout",
	"MonitorInterval", "TickleUpdateInterval", "EventScriptTimeout", "MonitorTimeoutCount",
	"RecoveryGracePeriod", "RecoveryBanPeriod", "DatabaseHashSize", "DatabaseMaxDead",
	"RerecoveryTimeout", "EnableBans", "NoIPFailback", "VerboseMemoryNames", "RecdPingTimeout",
	"RecdFailCount", "LogLatencyMs", "RecLockLatencyMs", "RecoveryDropAllIPs", "VacuumInterval",
	"VacuumMaxRunTime", "RepackLimit", "VacuumFastPathCount", "MaxQueueDropMsg",
	"AllowUnhealthyDBRead", "StatHistoryInterval", "DeferredAttachTO", "AllowClientDBAttach",
	"FetchCollapse", "HopcountMakeSticky", "StickyDuration", "StickyPindown", "NoIPTakeover",
	"DBRecordCountWarn", "DBRecordSizeWarn", "DBSizeWarn", "PullDBPreallocation",
	"LockProcessesPerDB", "RecBufferSizeLimit", "QueueBufferSize", "IPAllocAlgorithm",
	"AllowMixedVersions"}

func TestTunableListEncoding(t *testing.T) {
	l := DefaultTunables()
	enc := l.Marshal()
	if len(enc) != 248 {
		t.Fatalf("GET_ALL_TUNABLES reply is %d bytes, want 248", len(enc))
	}
	for _, r := range refTunables {
		checkAt(t, r.name, enc, []at{{r.off, le32(r.def)}})
	}
	// Distinct values catch a misplaced field.
	var d TunableList
	for i := range d {
		d[i] = 0x1000 + uint32(i)
	}
	enc = d.Marshal()
	var got TunableList
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("round trip: %v", got)
	}
	if v, ok := d.Get("controltimeout"); !ok || v != 0x1002 {
		t.Errorf("Get(controltimeout) = %#x, %v", v, ok)
	}
	if _, ok := d.Get("NoSuchTunable"); ok {
		t.Error("Get found an unknown tunable")
	}
	for _, n := range []int{0, 4, 244, 247} {
		if err := new(TunableList).Unmarshal(enc[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestTunableIndexCaseInsensitive(t *testing.T) {
	for _, name := range []string{"ControlTimeout", "controltimeout", "CONTROLTIMEOUT", "cOnTrOlTiMeOuT"} {
		if i, ok := TunableIndex(name); !ok || i != 2 {
			t.Errorf("TunableIndex(%q) = %d, %v", name, i, ok)
		}
	}
	for _, r := range refTunables {
		if got, ok := TunableIndex(strings.ToLower(r.name)); !ok || Tunables[got].Name != r.name {
			t.Errorf("TunableIndex(%q) = %d, %v", strings.ToLower(r.name), got, ok)
		}
	}
	for _, name := range []string{"", "Control", "ControlTimeout2", "Control Timeout"} {
		if _, ok := TunableIndex(name); ok {
			t.Errorf("TunableIndex(%q) found", name)
		}
	}
}

func TestListTunables(t *testing.T) {
	want := refListOrder
	names := ListedTunables()
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("ListedTunables:\n got  %v\n want %v", names, want)
	}
	if len(names) != 49 {
		t.Errorf("%d listed tunables, want 49", len(names))
	}

	enc := (&VarList{Names: names}).Marshal()
	// u32 length 819, then ":SeqnumInterval:...:AllowMixedVersions\0".
	if l := le.Uint32(enc); l != 819 || len(enc) != 4+819 {
		t.Fatalf("LIST_TUNABLES length %d, %d bytes; want 819", l, len(enc))
	}
	s := string(enc[4:])
	if !strings.HasPrefix(s, ":SeqnumInterval:ControlTimeout:") || !strings.HasSuffix(s, ":AllowMixedVersions\x00") {
		t.Errorf("LIST_TUNABLES string %q", s)
	}
	if strings.Count(s, ":") != 49 || strings.Count(s, "\x00") != 1 {
		t.Errorf("LIST_TUNABLES string has %d colons, %d NULs", strings.Count(s, ":"), strings.Count(s, "\x00"))
	}
	var v VarList
	if err := v.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	if strings.Join(v.Names, ",") != strings.Join(want, ",") {
		t.Errorf("decoded %v", v.Names)
	}
}

func TestVarListIgnoresEmptyTokens(t *testing.T) {
	cases := map[string][]string{
		":A:B\x00":          {"A", "B"},
		"A:B":               {"A", "B"}, // no leading colon, no NUL
		"::A:::B::\x00":     {"A", "B"},
		"\x00":              nil,
		":::\x00":           nil,
		"A\x00:Ignored\x00": {"A"}, // text stops at the first NUL
	}
	for in, want := range cases {
		v := VarList{Names: []string{"stale"}}
		if err := v.Unmarshal(cat(le32(uint32(len(in))), []byte(in))); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if strings.Join(v.Names, ",") != strings.Join(want, ",") || len(v.Names) != len(want) {
			t.Errorf("%q decoded as %q, want %q", in, v.Names, want)
		}
	}
	if err := new(VarList).Unmarshal(cat(le32(10), []byte("short"))); !errors.Is(err, ErrShort) {
		t.Errorf("truncated var list: %v", err)
	}
}

func TestSetTunableWithoutNUL(t *testing.T) {
	var st SetTunable
	if err := st.Unmarshal(cat(le32(7), le32(10), []byte("EnableBans"))); err != nil {
		t.Fatal(err)
	}
	if st.Name != "EnableBans" || st.Value != 7 {
		t.Errorf("decoded %+v", st)
	}
	enc := st.Marshal()
	if !bytes.Equal(enc, cat(le32(7), le32(11), []byte("EnableBans\x00"))) {
		t.Errorf("re-encoded as %x", enc)
	}
}

// TestTunableValuesMatchFields: every field of the typed view sits at the
// offset of the tunable of the same name.
func TestTunableValuesMatchFields(t *testing.T) {
	typ := reflect.TypeOf(TunableValues{})
	if typ.NumField() != NumTunables {
		t.Fatalf("%d fields, want %d", typ.NumField(), NumTunables)
	}
	for _, def := range Tunables {
		f, ok := typ.FieldByName(def.Name)
		if !ok {
			t.Fatalf("no field %s", def.Name)
		}
		if f.Offset != uintptr(4*def.Field) {
			t.Fatalf("%s at offset %d, want %d", def.Name, f.Offset, 4*def.Field)
		}
	}
	l := DefaultTunables()
	if v := l.Values(); v.ControlTimeout != 60 || v.AllowMixedVersions != 0 || v.IPAllocAlgorithm != 2 {
		t.Fatalf("defaults through the typed view: %+v", *v)
	}
}
