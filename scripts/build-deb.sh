#!/bin/bash
# build-deb.sh BIN VERSION OUTDIR: builds OUTDIR/rctdb_VERSION_ARCH.deb from
# BIN/ctdbd and BIN/ctdb with dpkg-deb (see the Makefile's deb target).
set -euo pipefail
bin=$1 version=$2 out=$3
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin"
install -m 0755 "$bin/ctdbd" "$root/usr/sbin/ctdbd"
install -m 0755 "$bin/ctdb" "$root/usr/bin/ctdb"
cat > "$root/DEBIAN/control" <<CONTROL
Package: rctdb
Version: $version
Architecture: $arch
Maintainer: rctdb developers <rctdb@localhost>
Depends: ctdb (>= 2:4.17), ctdb (<< 2:4.18)
Section: net
Priority: optional
Description: CTDB 4.17 compatible cluster daemon with Raft-based leader election
 Replaces ctdb's ctdbd and ctdb tool (diverted to *.distrib) with rctdb's;
 keeps ctdb's event scripts, configuration and systemd unit.
CONTROL
for f in /usr/sbin/ctdbd /usr/bin/ctdb; do
	echo "dpkg-divert --package rctdb --add --rename --divert $f.distrib $f" >> "$root/DEBIAN/preinst.body"
	echo "dpkg-divert --package rctdb --remove --rename --divert $f.distrib $f" >> "$root/DEBIAN/postrm.body"
done
{
	printf '#!/bin/sh\nset -e\nif [ "$1" = install ] || [ "$1" = upgrade ]; then\n'
	sed 's/^/\t/' "$root/DEBIAN/preinst.body"
	printf 'fi\n'
} > "$root/DEBIAN/preinst"
{
	printf '#!/bin/sh\nset -e\nif [ "$1" = remove ] || [ "$1" = abort-install ] || [ "$1" = disappear ]; then\n'
	sed 's/^/\t/' "$root/DEBIAN/postrm.body"
	printf 'fi\n'
} > "$root/DEBIAN/postrm"
rm "$root/DEBIAN/preinst.body" "$root/DEBIAN/postrm.body"
chmod 0755 "$root/DEBIAN/preinst" "$root/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --root-owner-group --build "$root" "$out/rctdb_${version}_${arch}.deb"
