package netrig

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// stateDir holds one file per live rig, written before the rig creates
// anything and removed after it removed everything, and the lock that
// serialises subnet picking and stale-rig cleanup across processes.
const stateDir = "/run/rctdb-netnstest" // the name from when only tests built rigs

// rigName matches every name a rig creates and captures the rig id.
var rigName = regexp.MustCompile(`^` + namePrefix + `([0-9a-f]{6})-`)

// state identifies the process that owns a rig; the start time tells a
// reused pid apart.
type state struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func statePath(id string) string { return filepath.Join(stateDir, id+".json") }

func writeState(id string) error {
	start, err := processStart(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", stateDir, err)
	}
	b, _ := json.Marshal(state{Pid: os.Getpid(), Start: start})
	// O_EXCL: an id another rig already uses is refused, not shared.
	f, err := os.OpenFile(statePath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create rig state: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write rig state: %w", err)
	}
	return nil
}

func removeState(id string) error {
	if err := os.Remove(statePath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove rig state: %w", err)
	}
	return nil
}

// lockState takes the machine-wide rig lock (released if the process dies).
func lockState() (unlock func(), err error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", stateDir, err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open rig lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock rigs: %w", err)
	}
	return func() { f.Close() }, nil
}

// processStart is the start time of pid in clock ticks since boot (field 22
// of /proc/PID/stat).
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after it
	// follow its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ownerAlive tells whether the process that wrote rig id's state still runs.
func ownerAlive(id string) (bool, error) {
	b, err := os.ReadFile(statePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return false, nil // a torn file: its writer died while writing
	}
	start, err := processStart(st.Pid)
	if err != nil {
		return false, nil
	}
	return start == st.Start, nil
}

// CleanupStale removes the rigs whose creating process has died (killed
// tests or benchmarks): their processes, links, namespaces and state files. Links and
// namespaces named like a rig's without any state file are stale too: a rig
// writes its state before creating anything and removes it last. It returns
// the ids it removed.
func CleanupStale() ([]string, error) {
	unlock, err := lockState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids := map[string]bool{}
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stateDir, err)
	}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			ids[id] = true
		}
	}
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if m := rigName.FindStringSubmatch(l.Attrs().Name); m != nil {
			ids[m[1]] = true
		}
	}
	if nss, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range nss {
			if m := rigName.FindStringSubmatch(e.Name()); m != nil {
				ids[m[1]] = true
			}
		}
	}
	var removed []string
	var errs []error
	for id := range ids {
		alive, err := ownerAlive(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if alive {
			continue
		}
		if err := removeRig(id); err != nil {
			errs = append(errs, fmt.Errorf("rig %s: %w", id, err))
			continue
		}
		removed = append(removed, id)
	}
	return removed, errors.Join(errs...)
}

// killProcessesIn kills every process (but this one) whose network
// namespace is the one bound at nsPath, and waits until they have left it.
func killProcessesIn(nsPath string) error {
	var target unix.Stat_t
	if err := unix.Stat(nsPath, &target); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", nsPath, err)
	}
	inNS := func() []int {
		var pids []int
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(filepath.Join("/proc", p.Name(), "ns/net"), &st) != nil {
				continue
			}
			if st.Dev == target.Dev && st.Ino == target.Ino {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := inNS()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in %s after SIGKILL", pids, nsPath)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
