#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: the selftest suite, every backend, in a guest of the
# debug kernel (scripts/debug-kernel.sh: KASAN, lockdep, kmemleak, UBSAN,
# debug objects and lists; built on first use, about 30 minutes), then a
# kmemleak scan.  Fails on a failed test, on any checker report in the
# guest's kernel log (scripts/vm/run's dmesg check), and on any kmemleak
# report of an object that vfiosim, VFIO or mdev allocated, or that a
# test's task did; other kmemleak reports are listed, not judged.  The
# nested guest is left out (a reported skip): L2 would not be a debug
# kernel, and TCG inside a KASAN TCG guest takes most of an hour.
# Prints TAP and, last, "N passed, N failed, N skipped".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=$top/build
logs=$build/logs
res=$build/results/debug
mkdir -p "$logs"

# shellcheck source=tap.sh
. "$top/scripts/tap.sh"
# shellcheck source=debug-common.sh
. "$top/scripts/debug-common.sh"

echo "TAP version 13"
t0=$(date +%s)
debug_prepare

debug_results "$res"
echo "# the suite in a guest of $kver (accel $VFIOSIM_ACCEL)"
# kmemleak: forget what boot left, run the suite, then read the report
# twice: with vfiosim still loaded, so that its frames have names (a leak
# from a kworker names no test), and after its rmmod.
# shellcheck disable=SC2016 # expanded in the guest
scripts/vm/run --kernel "$kver" --kernel-dir "$dir" --results "$res" \
	--timeout "${VFIOSIM_DEBUG_VM_TIMEOUT:-5400}" --mem 3072 -- \
	env VFIOSIM_KO="$ko_dir/vfiosim.ko" VFIOSIM_NESTED=0 \
	VFIOSIM_TEST_TIMEOUT="${VFIOSIM_TEST_TIMEOUT:-2700}" \
	VFIOSIM_BEFORE_UNLOAD="$top/scripts/kmemleak-read.sh $res/kmemleak-loaded.txt" \
	sh -c 'dmesg -w >"$VFIOSIM_RESULTS/dmesg-live.txt" 2>&1 &
		echo clear >/sys/kernel/debug/kmemleak
		"$0"
		rc=$?
		"$1" "$VFIOSIM_RESULTS/kmemleak.txt"
		exit $rc' selftests/vfiosim/run_vm_suite.sh "$top/scripts/kmemleak-read.sh" 2>&1 |
	sed -u 's/^/# /'
vm_rc=${PIPESTATUS[0]}

if [ -f "$res/counts" ]; then
	read -r p f s <"$res/counts"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	echo "# $kver: $p passed, $f failed, $s skipped"
else
	not_ok "the suite wrote its counts (guest exit $vm_rc; console $res/console.log)"
fi

# The checkers report in the kernel log; scripts/vm/run's dmesg check
# fails the run on them, and here they count.
debug_judge_dmesg "$res"
debug_judge_kmemleak "$res/kmemleak-loaded.txt"
debug_judge_kmemleak "$res/kmemleak.txt"
took=$(($(date +%s) - t0))
echo "# check-debug took $took s"
# What .ci/run reads to decide whether check-debug still fits CI's time:
# only a whole run's time says that.
[ -n "${VFIOSIM_ONLY:-}" ] ||
	echo "$took" >"$dir/check-debug-seconds" 2>/dev/null || true
finish
