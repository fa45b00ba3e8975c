package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rctdb/rctdb/events/eventstest"
	"github.com/rctdb/rctdb/internal/localcluster"
	"github.com/rctdb/rctdb/internal/sysmon"
)

// envScript records, at startup, the GODEBUG an event script gets and
// whether internal/sysmon's marker leaked to it.
const envScript = `#!/bin/sh
if [ "$1" = startup ]; then
	printf 'GODEBUG=%s marker=%s\n' "${GODEBUG-unset}" "${RCTDB_SYSMON_GODEBUG-unset}" > "$CTDB_BASE/env.tmp"
	mv "$CTDB_BASE/env.tmp" "$CTDB_BASE/env.out"
fi
exit 0
`

// TestDaemonKeepsSysmonAwake: ctdbd runs with the runtime setting that
// keeps sysmon from waking per packet (internal/sysmon), in the process its
// launcher started, and the event scripts it runs get the launcher's
// GODEBUG back.
func TestDaemonKeepsSysmonAwake(t *testing.T) {
	c := clusterWith(t, localcluster.Options{N: 1, Env: []string{"GODEBUG=madvdontneed=1"},
		Prepare: func(pnn uint32, dir string) error {
			return eventstest.LayOut(dir, nil, map[string]string{"events/legacy/05.env.script": envScript})
		}})
	pid := c.Nodes[0].PID
	if got, want := runtimeGODEBUG(t, pid), []string{"GODEBUG=madvdontneed=1," + sysmon.Setting}; !slices.Equal(got, want) {
		t.Errorf("pid %d runs with %q, want %q", pid, got, want)
	}
	out := filepath.Join(c.Nodes[0].Dir, "env.out")
	waitUntil(t, 30*time.Second, "the startup event's record of its environment", func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if got, want := string(b), "GODEBUG=madvdontneed=1 marker=unset\n"; got != want {
			return fmt.Errorf("event script saw %q, want %q", got, want)
		}
		return nil
	})
}

// runtimeGODEBUG is the GODEBUG entries of process pid's environment as
// its runtime read them at exec.
func runtimeGODEBUG(t *testing.T, pid int) []string {
	t.Helper()
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	var godebug []string
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if bytes.HasPrefix(kv, []byte("GODEBUG=")) {
			godebug = append(godebug, string(kv))
		}
	}
	return godebug
}
