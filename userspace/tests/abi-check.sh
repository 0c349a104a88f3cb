#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libvfiosim's ABI, held still: the .so exports exactly the functions
# lib/vfiosim.h declares, under SONAME libvfiosim.so.0 and version node
# LIBVFIOSIM_0, and abidiff finds no incompatible change against the
# committed baseline lib/libvfiosim.abi (additions are fine; after one,
# regenerate it: abidw --no-corpus-path --headers-dir lib \
#   build/libvfiosim.so > lib/libvfiosim.abi).
# TAP; usage: abi-check.sh BUILD/vfiosimctl|BUILD/libvfiosim.so (run from
# userspace/; tests/run.sh passes the vfiosimctl of the build under test)
arg=${1:?usage: abi-check.sh BUILD/vfiosimctl or BUILD/libvfiosim.so}
case $arg in
*.so*) so=$arg ;;
*) so=$(dirname "$arg")/libvfiosim.so ;;
esac
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

grep -oE '\bvfiosim_[a-z0-9_]+\(' lib/vfiosim.h | tr -d '(' | sort -u > "$tmp/declared"
nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "R" { print $3 }' |
	sed 's/@.*//' | sort -u > "$tmp/exported"
if cmp -s "$tmp/declared" "$tmp/exported"; then
	ok "abi: the .so exports exactly the $(wc -l < "$tmp/declared") functions vfiosim.h declares"
else
	not_ok "abi: exports and declarations differ"
	diff "$tmp/declared" "$tmp/exported" | sed 's/^/# /'
fi
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libvfiosim.so.0 ] && ok "abi: SONAME $soname" ||
	not_ok "abi: SONAME '$soname', want libvfiosim.so.0"
if nm -D --defined-only "$so" | grep -q ' vfiosim_dev_open@@LIBVFIOSIM_0$'; then
	ok "abi: symbols carry version LIBVFIOSIM_0"
else
	not_ok "abi: vfiosim_dev_open is not versioned LIBVFIOSIM_0"
fi
if ! command -v abidiff >/dev/null; then
	not_ok "abi: abidiff missing (abigail-tools; make deps)"
else
	abidiff --headers-dir2 lib lib/libvfiosim.abi "$so" > "$tmp/abidiff" 2>&1
	st=$?
	# bit 2: an ABI change; bit 3: an incompatible one; bit 0/1: errors
	if [ $((st & 11)) -eq 0 ]; then
		ok "abi: abidiff against lib/libvfiosim.abi: no incompatible change (status $st)"
	else
		not_ok "abi: abidiff against lib/libvfiosim.abi (status $st)"
	fi
	[ $((st & 4)) -eq 0 ] || sed 's/^/# /' "$tmp/abidiff" | head -n 40
fi
echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
