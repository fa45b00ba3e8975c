package eventstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LayOut fills dir, a node's CTDB_BASE, the way Debian's package fills
// /etc/ctdb: the packaged scripts named in enable linked into
// events/legacy, CTDB's functions, and extra (path relative to dir ->
// content; a file starting with #!, and rc.local, is made executable:
// CTDB's functions source rc.local only if it is).
func LayOut(dir string, enable []string, extra map[string]string) error {
	legacy := filepath.Join(dir, "events", "legacy")
	if err := os.MkdirAll(legacy, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(Functions, filepath.Join(dir, "functions")); err != nil {
		return err
	}
	for _, s := range enable {
		if err := os.Symlink(filepath.Join(PackagedDir, "events", "legacy", s+".script"), filepath.Join(legacy, s+".script")); err != nil {
			return err
		}
	}
	for rel, content := range extra {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") || filepath.Base(rel) == "rc.local" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// sambaDirs are the smb.conf directories each node has of its own, under
// dir/samba.
var sambaDirs = []string{"lock directory", "state directory", "cache directory", "private dir", "pid directory", "ncalrpc dir", "binddns dir"}

// SambaPidDir is where a node laid out by LayOutSambaNode keeps smbd's
// pid file, relative to the node's directory.
const SambaPidDir = "samba/pid_directory"

// LayOutSambaNode lays out dir as LayOut does with the scripts in enable,
// plus what Debian's 50.samba needs to start, stop and monitor this
// node's own smbd, whichever daemon (ctdbd or rctdb) runs the scripts: an
// smb.conf (clustered, talking to the daemon's socket dir/run/ctdbd.socket,
// serving share as [share] to guests on every address of the node's
// network namespace), and CTDB's site hook rc.local pointing service and
// testparm at it and keeping killall away from the other nodes' smbd
// (50.samba kills every smbd before it starts one).
func LayOutSambaNode(dir, share string, enable ...string) error {
	for _, d := range sambaDirs {
		if err := os.MkdirAll(filepath.Join(dir, "samba", strings.ReplaceAll(d, " ", "_")), 0o755); err != nil {
			return err
		}
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `[global]
	clustering = yes
	ctdbd socket = %s
	netbios name = RCTDBEV
	workgroup = RCTDB
	bind interfaces only = no
	smb ports = 445
	log file = %s
	log level = 1
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	multicast dns register = no
	map to guest = Bad User
`, filepath.Join(dir, "run", "ctdbd.socket"), filepath.Join(dir, "samba", "log.smbd"))
	for _, d := range sambaDirs {
		fmt.Fprintf(&conf, "\t%s = %s\n", d, filepath.Join(dir, "samba", strings.ReplaceAll(d, " ", "_")))
	}
	fmt.Fprintf(&conf, "\n[share]\n\tpath = %s\n\tread only = no\n\tguest ok = yes\n\tforce user = root\n", share)
	return LayOut(dir, enable, map[string]string{
		"smb.conf":         conf.String(),
		"rc.local":         sambaRCLocal,
		"bin/test-service": sambaService,
		"bin/testparm":     sambaTestparm,
	})
}

const sambaRCLocal = `# Sourced by CTDB's functions: this test node's smbd, never the host's.
PATH="$CTDB_BASE/bin:$PATH"
service () { "$CTDB_BASE/bin/test-service" "$@"; }
nice_service () { nice "$CTDB_BASE/bin/test-service" "$@"; }
killall () { return 1; }
`

const sambaService = `#!/bin/sh
# service(8) for a test node: smbd with $CTDB_BASE/smb.conf, nothing else.
[ "$1" = smbd ] || { echo "test service: $1 is not a test service" >&2; exit 1; }
piddir="$CTDB_BASE/` + SambaPidDir + `"
running () {
	for f in "$piddir"/smbd*.pid; do
		[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
	done
	return 1
}
listening () { [ -n "$(ss -Hltn 'sport = :445')" ]; }
stop () {
	for f in "$piddir"/smbd*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
	for i in $(seq 50); do running || return 0; sleep 0.1; done
	for f in "$piddir"/smbd*.pid; do [ -f "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null; done
	return 0
}
case "$2" in
start)
	# The smbd of a fresh cluster record their version under a g_lock,
	# and Samba refuses one of two that do it at once (it logs
	# NT_STATUS_SXS_VERSION_CONFLICT and exits a moment later): start
	# again until it listens, as an init system with restarts would.
	for try in 1 2 3 4; do
		smbd --daemon --configfile="$CTDB_BASE/smb.conf" || exit 1
		for i in $(seq 50); do
			listening && exit 0
			sleep 0.1
		done
		echo "smbd does not listen after 5 s (try $try)"
		stop
	done
	exit 1 ;;
stop)
	stop
	exit 0 ;;
esac
echo "test service smbd: $2 is not supported" >&2
exit 1
`

const sambaTestparm = `#!/bin/sh
# testparm reads this node's smb.conf unless given a file.
for a; do case "$a" in -*) ;; *) exec /usr/bin/testparm "$@" ;; esac; done
exec /usr/bin/testparm "$@" "$CTDB_BASE/smb.conf"
`
