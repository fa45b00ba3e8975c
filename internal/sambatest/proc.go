package sambatest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2).
const prSetChildSubreaper = 36

var subreaperOnce sync.Once

// becomeSubreaper makes this process the reaper of its orphaned
// descendants. smbd's children (smbd-notifyd, smbd-cleanupd, one process
// per client connection) outlive the parent by a moment when it exits, and
// an init that never reaps (as in some containers) would keep them as
// zombies forever; as subreaper this process inherits them and reapGroup
// collects them. Only processes of an smbd's process group are ever
// waited for, so other children's exit statuses are never stolen.
func becomeSubreaper() {
	subreaperOnce.Do(func() {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}

// member is one process of a process group, from /proc/PID/stat.
type member struct {
	pid, ppid int
	zombie    bool
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) ([]member, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []member
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and
		// parentheses, so the fields are counted from the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 {
			continue
		}
		pg, _ := strconv.Atoi(string(f[2]))
		if pg != pgid {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		out = append(out, member{pid: pid, ppid: ppid, zombie: string(f[0]) == "Z"})
	}
	return out, nil
}

// reapGroup waits until no process of group pgid runs and reaps the
// zombies of it that are this process's children. After grace the group
// gets SIGKILL; after timeout it gives up with the pids left.
func reapGroup(pgid int, grace, timeout time.Duration) error {
	self := os.Getpid()
	start := time.Now()
	killed := false
	for {
		ms, err := groupMembers(pgid)
		if err != nil {
			return err
		}
		var left []int
		for _, m := range ms {
			if m.zombie && m.ppid == self {
				var ws syscall.WaitStatus
				syscall.Wait4(m.pid, &ws, syscall.WNOHANG, nil)
				continue
			}
			// A zombie of another parent is that parent's to reap
			// (or ours once it is orphaned); only live ones count.
			if !m.zombie {
				left = append(left, m.pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if !killed && time.Since(start) > grace {
			syscall.Kill(-pgid, syscall.SIGKILL)
			killed = true
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("processes %v of group %d still run after %v", left, pgid, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ReapGroup is reapGroup for tests that run other daemons (the real
// ctdbd 4.17 and its event daemon) in a process group of their own: once
// a test process is a subreaper (any sambatest cluster makes it one), the
// orphans of such a group are its to reap, or they stay as zombies.
func ReapGroup(pgid int, grace, timeout time.Duration) error {
	return reapGroup(pgid, grace, timeout)
}
