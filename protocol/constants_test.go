package protocol

import "testing"

// Flag rendering of ctdb 4.17's pretty_print_flags (ctdb/tools/ctdb.c):
// names in the order DISCONNECTED, UNKNOWN, DISABLED, BANNED, UNHEALTHY,
// DELETED, STOPPED, INACTIVE, joined with '|'.
func TestNodeFlagsString(t *testing.T) {
	cases := map[uint32]string{
		0x00: "OK",
		0x01: "DISCONNECTED|INACTIVE",
		0x02: "UNHEALTHY",
		0x03: "DISCONNECTED|UNHEALTHY|INACTIVE",
		0x04: "DISABLED",
		0x06: "DISABLED|UNHEALTHY",
		0x08: "BANNED|INACTIVE",
		0x10: "DELETED|INACTIVE",
		0x20: "STOPPED|INACTIVE",
		0x24: "DISABLED|STOPPED|INACTIVE",
		0x40: "UNKNOWN",
		0x7f: "DISCONNECTED|UNKNOWN|DISABLED|BANNED|UNHEALTHY|DELETED|STOPPED|INACTIVE",
	}
	for flags, want := range cases {
		if got := NodeFlagsString(flags); got != want {
			t.Errorf("NodeFlagsString(%#02x) = %q, want %q", flags, got, want)
		}
	}
}

func TestFlagMasks(t *testing.T) {
	if NodeFlagsDisabled != 0x06 || NodeFlagsInactive != 0x39 {
		t.Errorf("DISABLED %#x INACTIVE %#x", NodeFlagsDisabled, NodeFlagsInactive)
	}
	if CapDefault != 0x00030003 || CapFeatures != 0x00030000 {
		t.Errorf("CapDefault %#x CapFeatures %#x", CapDefault, CapFeatures)
	}
	if RecFlagsRO != RecFlagROHaveDelegations|RecFlagROHaveReadonly|RecFlagRORevokingReadonly|RecFlagRORevokeComplete {
		t.Errorf("RecFlagsRO %#x", RecFlagsRO)
	}
	if string(DBSeqnumKey) != "__db_sequence_number__\x00" || len(DBSeqnumKey) != 23 {
		t.Errorf("DBSeqnumKey %q", DBSeqnumKey)
	}
}

func TestRunstateString(t *testing.T) {
	names := []string{"UNKNOWN", "INIT", "SETUP", "FIRST_RECOVERY", "STARTUP", "RUNNING", "SHUTDOWN"}
	for i, n := range names {
		if got := Runstate(i).String(); got != n {
			t.Errorf("Runstate(%d) = %q, want %q", i, got, n)
		}
	}
	if got := Runstate(99).String(); got != "UNKNOWN" {
		t.Errorf("Runstate(99) = %q", got)
	}
}
