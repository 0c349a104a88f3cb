#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run each host test binary (passing it the vfiosimctl to test), echo its
# TAP, and end with one "N passed, N failed[, N skipped]" line for all of
# them.  A binary that dies before its summary (e.g. a sanitizer abort)
# counts as a failure.
#
# usage: run.sh VFIOSIMCTL TEST...

ctl=$1
shift
p=0 f=0 s=0 rc=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	"$t" "$ctl" >"$log" 2>&1
	st=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "not ok - $t died (status $st) before its summary"
		f=$((f + 1))
		rc=1
		continue
	fi
	n=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	m=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	k=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	p=$((p + n))
	f=$((f + m))
	s=$((s + ${k:-0}))
	[ "$st" -eq 0 ] || rc=1
done

if [ "$s" -gt 0 ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
exit $rc
