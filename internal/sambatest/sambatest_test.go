package sambatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigureWritesClusteredConf(t *testing.T) {
	if _, err := exec.LookPath("smbd"); err != nil {
		t.Skip("smbd is not installed")
	}
	dir := t.TempDir()
	c, err := New(Options{
		Nodes: []Node{
			{Socket: "/s0.socket", Addr: "127.9.8.1", Dir: filepath.Join(dir, "n0")},
			{Socket: "/s1.socket", Addr: "127.9.8.2", Dir: filepath.Join(dir, "n1")},
		},
		ShareDir: filepath.Join(dir, "share"),
		Registry: true,
		Global:   "\tkernel oplocks = no",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.Servers[1].Conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"\tclustering = yes\n", "\tctdbd socket = /s1.socket\n", "\tinterfaces = 127.9.8.2/8\n",
		"\tbind interfaces only = yes\n", "\tnetbios name = RCTDBSMB\n",
		"\tlock directory = " + filepath.Join(dir, "n1", "lock_directory") + "\n",
		"\tkernel oplocks = no\n\tinclude = registry\n\n[share]\n\tpath = " + filepath.Join(dir, "share") + "\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("smb.conf of node 1 lacks %q:\n%s", want, conf)
		}
	}
	for _, d := range sambaDirs {
		if st, err := os.Stat(filepath.Join(dir, "n1", strings.ReplaceAll(d, " ", "_"))); err != nil || !st.IsDir() {
			t.Errorf("%s of node 1 not created: %v", d, err)
		}
	}
	if _, err := New(Options{Nodes: []Node{{Socket: "/s", Addr: "::1", Dir: dir}}, ShareDir: dir}); err == nil {
		t.Error("an IPv6 address was accepted")
	}
}

// TestReapGroupCollectsOrphans: children left running by a dead group
// leader are killed after the grace period and reaped by this process.
func TestReapGroupCollectsOrphans(t *testing.T) {
	becomeSubreaper()
	cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms, err := groupMembers(pgid)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d has %d processes, want 3", pgid, len(ms))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	start := time.Now()
	if err := reapGroup(pgid, 100*time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("reapGroup returned after %v, before the grace period killed the orphans", d)
	}
	ms, err := groupMembers(pgid)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Errorf("left in group %d after reapGroup: %+v", pgid, ms)
	}
}
