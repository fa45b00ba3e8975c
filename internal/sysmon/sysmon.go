package sysmon

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Setting is the GODEBUG entry that keeps sysmon out of its deep sleep:
// schedtrace's largest period, in milliseconds.
const Setting = "schedtrace=2147483647"

// markerEnv is set in the program started again; it holds GODEBUG as it
// was ("=" followed by the value when it was set), so that the processes
// the daemon starts (event scripts, the ctdb tool they run) get the
// caller's environment back and print no trace of their own.
const markerEnv = "RCTDB_SYSMON_GODEBUG"

// KeepAwake makes this process run with Setting. A process that already
// runs with it (started again by KeepAwake, or with schedtrace in GODEBUG
// by its caller, who then keeps that) returns at once; otherwise the
// program is executed again in place (the same pid, arguments and open
// files) and KeepAwake does not return. An error means the exec failed
// and the process goes on as it was.
func KeepAwake() error {
	if before, ok := os.LookupEnv(markerEnv); ok {
		os.Unsetenv(markerEnv)
		if v, set := strings.CutPrefix(before, "="); set {
			os.Setenv("GODEBUG", v)
		} else {
			os.Unsetenv("GODEBUG")
		}
		return nil
	}
	godebug, set := os.LookupEnv("GODEBUG")
	if hasSchedtrace(godebug) {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("keep sysmon awake: find own executable: %w", err)
	}
	env := append(without(os.Environ(), "GODEBUG"), markerEnv+"="+marker(godebug, set), "GODEBUG="+withSetting(godebug))
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("keep sysmon awake: exec %s: %w", exe, err)
	}
	return nil // not reached
}

func marker(godebug string, set bool) string {
	if !set {
		return ""
	}
	return "=" + godebug
}

// withSetting adds Setting to a GODEBUG value.
func withSetting(godebug string) string {
	if godebug == "" {
		return Setting
	}
	return godebug + "," + Setting
}

func hasSchedtrace(godebug string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return true
		}
	}
	return false
}

// without drops name's entries from env: the runtime reads the first one.
func without(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
