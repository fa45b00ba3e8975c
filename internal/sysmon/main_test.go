package sysmon

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary call KeepAwake and print what it sees.
const helperEnv = "SYSMON_TEST_HELPER"

func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(helperEnv); ok {
		os.Exit(helper())
	}
	goleak.VerifyTestMain(m)
}

// helper prints its pid, GODEBUG as the runtime read it at exec
// (/proc/self/environ), and GODEBUG as its own children would get it.
func helper() int {
	if err := KeepAwake(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	raw, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	runtimeSaw := "<unset>"
	for _, kv := range strings.Split(string(raw), "\x00") {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			runtimeSaw = v
			break
		}
	}
	children, set := os.LookupEnv("GODEBUG")
	if !set {
		children = "<unset>"
	}
	_, marker := os.LookupEnv(markerEnv)
	fmt.Printf("pid=%d\nruntime=%s\nchildren=%s\nmarker=%v\n", os.Getpid(), runtimeSaw, children, marker)
	return 0
}
