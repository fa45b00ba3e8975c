package tests

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/rctdb/rctdb/internal/clustertest"
)

// The bounds asserted here are loose on purpose: CI machines are noisy. The
// measured times are logged; the targets (and ctdbd's figures) are in the
// README.

func TestKillLeader(t *testing.T) {
	c := cluster(t, 3)
	leader := clustertest.WaitAgreed(t, c, clustertest.Want{}).Leader
	start := time.Now()
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	survivors := others(3, leader)
	d := waitSince(t, start, 10*time.Second, "new leader and dead node DISCONNECTED", func() error {
		l, err := agreed(c, survivors, map[uint32]uint32{leader: dead, survivors[0]: 0, survivors[1]: 0})
		if err == nil && l == leader {
			return fmt.Errorf("survivors still follow the dead leader")
		}
		return err
	})
	t.Logf("kill -9 of leader %d: survivors agree on a new leader, node %d DISCONNECTED, after %v", leader, leader, d.Round(time.Millisecond))

	start = time.Now()
	if err := c.Restart(leader); err != nil {
		t.Fatal(err)
	}
	d = waitSince(t, start, 15*time.Second, "restarted node OK everywhere", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: 0, 2: 0})
		return err
	})
	t.Logf("restarted node %d OK on every node after %v", leader, d.Round(time.Millisecond))
}

func TestKillNonLeader(t *testing.T) {
	c := cluster(t, 3)
	leader := clustertest.WaitAgreed(t, c, clustertest.Want{}).Leader
	victim := (leader + 1) % 3
	start := time.Now()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	survivors := others(3, victim)
	d := waitSince(t, start, 10*time.Second, "dead node DISCONNECTED", func() error {
		l, err := agreed(c, survivors, map[uint32]uint32{victim: dead, survivors[0]: 0, survivors[1]: 0})
		if err == nil && l != leader {
			return fmt.Errorf("leader changed from %d to %d", leader, l)
		}
		return err
	})
	t.Logf("kill -9 of non-leader %d: DISCONNECTED on the survivors after %v", victim, d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	start = time.Now()
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	d = waitSince(t, start, 15*time.Second, "restarted node OK everywhere", func() error {
		_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: 0, 2: 0})
		return err
	})
	t.Logf("restarted node %d OK on every node after %v", victim, d.Round(time.Millisecond))
}

// TestSigstop pauses a non-leader, then the leader: a silent node must be
// declared DISCONNECTED within the dead-peer bound, and come back when
// continued.
func TestSigstop(t *testing.T) {
	c := cluster(t, 3)
	for _, role := range []string{"non-leader", "leader"} {
		leader := clustertest.WaitAgreed(t, c, clustertest.Want{}).Leader
		victim := leader
		if role == "non-leader" {
			victim = (leader + 1) % 3
		}
		start := time.Now()
		if err := c.Signal(victim, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		survivors := others(3, victim)
		d := waitSince(t, start, 15*time.Second, "paused node DISCONNECTED", func() error {
			_, err := agreed(c, survivors, map[uint32]uint32{victim: dead, survivors[0]: 0, survivors[1]: 0})
			return err
		})
		t.Logf("SIGSTOP of %s %d: DISCONNECTED on the others after %v", role, victim, d.Round(time.Millisecond))
		start = time.Now()
		if err := c.Signal(victim, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		d = waitSince(t, start, 15*time.Second, "continued node OK everywhere", func() error {
			_, err := agreed(c, others(3), map[uint32]uint32{0: 0, 1: 0, 2: 0})
			return err
		})
		t.Logf("SIGCONT of %s %d: OK everywhere after %v", role, victim, d.Round(time.Millisecond))
	}
}
