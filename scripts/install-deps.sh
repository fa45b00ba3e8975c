#!/bin/bash
# Installs the Debian packages the tests and the demo need, if missing:
# the real ctdb 4.17 tool and daemon (reference and client under test),
# Samba and its tools (clients under test), libtdb for cgo, and what
# the packaged event scripts run (ethtool, iptables: ctdb recommends them).
set -euo pipefail
pkgs=(ctdb samba samba-common-bin smbclient tdb-tools libtdb-dev python3-samba gcc pkg-config ethtool iptables iproute2)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's packages start their services; the tests run their own daemons.
for s in ctdb smbd nmbd winbind samba-ad-dc; do
	systemctl stop "$s" 2>/dev/null || service "$s" stop 2>/dev/null || true
done
