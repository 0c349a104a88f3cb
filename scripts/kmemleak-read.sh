#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kmemleak-read.sh FILE: run in a guest of the debug kernel, save kmemleak's
# report in FILE.  Two scans first: an object is reported only once it
# has stayed unreferenced over a scan and is 5 s old.
leak=/sys/kernel/debug/kmemleak
out=${1:?usage: kmemleak-read.sh FILE}

if [ ! -w "$leak" ]; then
	echo "kmemleak-read.sh: no $leak (CONFIG_DEBUG_KMEMLEAK, debugfs)" >&2
	exit 1
fi
sleep 6
echo scan >"$leak"
sleep 6
echo scan >"$leak"
cat "$leak" >"$out"
