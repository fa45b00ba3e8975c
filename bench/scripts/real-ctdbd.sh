#!/bin/bash
# Starts (up) or stops (down) a local cluster of the real ctdbd 4.17 in test
# mode, for comparisons: real-ctdbd.sh up BASE N [PREFIX] / down BASE.
# Nodes listen on PREFIX.1 .. PREFIX.N (default 127.77.0); sockets are
# BASE/nodeK/run/ctdbd.socket.
set -euo pipefail
cmd=${1:?up or down}
base=${2:?base directory}
case "$cmd" in
up)
	n=${3:?number of nodes}
	prefix=${4:-127.77.0}
	mkdir -p "$base"
	: >"$base/nodes"
	for i in $(seq 1 "$n"); do echo "$prefix.$i" >>"$base/nodes"; done
	for i in $(seq 0 $((n - 1))); do
		d="$base/node$i"
		mkdir -p "$d"/{run,volatile,persistent,state,var/scripts,events/legacy}
		cp "$base/nodes" "$d/nodes"
		cat >"$d/ctdb.conf" <<CONF
[logging]
	location = file:$d/log.ctdb
	log level = NOTICE
[cluster]
	node address = $prefix.$((i + 1))
[database]
	volatile database directory = $d/volatile
	persistent database directory = $d/persistent
	state database directory = $d/state
CONF
		for s in 00.ctdb 05.system; do
			ln -sf "/usr/share/ctdb/events/legacy/$s" "$d/events/legacy/$s"
		done
		CTDB_TEST_MODE=yes CTDB_BASE="$d" CTDB_SCRIPT_VARDIR="$d/var/scripts" ctdbd
	done
	deadline=$((SECONDS + 60))
	until CTDB_SOCKET="$base/node0/run/ctdbd.socket" ctdb nodestatus all >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "real ctdbd cluster not OK after 60 s" >&2
			exit 1
		fi
		sleep 0.5
	done
	echo "real ctdbd cluster of $n nodes OK"
	;;
down)
	for d in "$base"/node*; do
		[ -S "$d/run/ctdbd.socket" ] && CTDB_SOCKET="$d/run/ctdbd.socket" timeout 10 ctdb shutdown >/dev/null 2>&1 || true
	done
	;;
*)
	echo "usage: $0 up BASE N [PREFIX] | down BASE" >&2
	exit 2
	;;
esac
