package transport

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// Samba releases. ctdbd 4.17 puts its Samba release in every keepalive
// (major<<16 | minor, 0x00040011 for 4.17) and a node that hears another
// release from a peer that has run longer shuts down ("CTDB Cluster with
// mixed versions, cannot continue"), unless the AllowMixedVersions tunable
// is set. rctdb checks the release once, in the handshake of every node
// link, and refuses the link: a node of another release never joins.

// sambaVersionEnv overrides the release, as it does for ctdbd's tests.
const sambaVersionEnv = "CTDB_TEST_SAMBA_VERSION"

// SambaVersionFromEnv returns the release CTDB_TEST_SAMBA_VERSION names, read
// as ctdbd reads it (C's atoi; only a positive value counts), or 0 when the
// variable is unset or not a positive number, which leaves the default
// (4.17).
func SambaVersionFromEnv(lookupEnv func(string) (string, bool)) uint32 {
	s, ok := lookupEnv(sambaVersionEnv)
	if !ok {
		return 0
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(s[:end], 10, 32)
	if err != nil || v <= 0 {
		return 0
	}
	return uint32(v)
}

// sambaRelease renders an encoded release: "4.17".
func sambaRelease(v uint32) string { return fmt.Sprintf("%d.%d", v>>16, v&0xffff) }

// softwareVersion is rctdb's module version, "devel" in a development
// build.
func softwareVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// mixedVersionLogEvery bounds how often the refusal of one peer of another
// release is logged at error level (it redials every second).
const mixedVersionLogEvery = 30 * time.Second

// checkSambaVersion returns why a hello of another Samba release is
// refused, or "", and logs the refusal with ctdbd's words.
func (t *TCP) checkSambaVersion(h hello, remote string) string {
	if h.Version < firstVersionWithSamba || h.SambaVersion == t.cfg.SambaVersion {
		return ""
	}
	if t.cfg.AllowMixedVersions != nil && t.cfg.AllowMixedVersions() {
		return ""
	}
	if ok, _ := t.mixedLog.note(hostOf(remote), "mixed versions", time.Now()); ok {
		t.log.Error(fmt.Sprintf("Keepalive version mismatch 0x%08x != 0x%08x from node %d",
			t.cfg.SambaVersion, h.SambaVersion, h.PNN),
			"remote", remote, "ours", sambaRelease(t.cfg.SambaVersion), "theirs", sambaRelease(h.SambaVersion),
			"action", "link refused: CTDB cluster with mixed versions (AllowMixedVersions is 0)")
	}
	return fmt.Sprintf("CTDB cluster with mixed versions: node %d runs Samba %s (0x%08x), node %d runs %s (0x%08x)",
		h.PNN, sambaRelease(h.SambaVersion), h.SambaVersion, t.cfg.Self, sambaRelease(t.cfg.SambaVersion), t.cfg.SambaVersion)
}

// defaultSambaVersion is the release rctdb is compatible with.
const defaultSambaVersion = protocol.KeepaliveVersion
