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

echo "TAP version 13"
t0=$(date +%s)
if ! dir=$(scripts/debug-kernel.sh); then
	not_ok "debug kernel built (scripts/debug-kernel.sh)"
	finish
fi
kver=$(cat "$dir/kernelrelease")
ok "debug kernel $kver in $dir (build $(cat "$dir/build-seconds") s)"

ko_dir=$build/kmod/debug
if scripts/kbuild.sh "$dir/src" "$ko_dir" W=1 >"$logs/kbuild-debug.log" 2>&1 &&
   ! grep -q 'warning:' "$logs/kbuild-debug.log"; then
	ok "module builds W=1 warning-free against the debug kernel's tree"
else
	grep -E 'warning:|error:' "$logs/kbuild-debug.log" | sed 's/^/# /'
	not_ok "module builds W=1 warning-free against the debug kernel's tree"
	finish
fi
if make -C userspace SANITIZE=1 BUILD=build/asan >"$logs/userspace.log" 2>&1 &&
   make -C selftests/vfiosim SANITIZE=1 \
	LIBVFIOSIM="$top/userspace/build/asan/libvfiosim.a" >"$logs/selftests.log" 2>&1; then
	ok "userspace and selftests build (ASan, UBSan)"
else
	tail -n 20 "$logs/userspace.log" "$logs/selftests.log" | sed 's/^/# /'
	not_ok "userspace and selftests build (ASan, UBSan)"
	finish
fi

VFIOSIM_ACCEL=${VFIOSIM_ACCEL:-$(scripts/vm/accel.sh 2>"$logs/accel.log")}
export VFIOSIM_ACCEL
rm -rf "$res"
mkdir -p "$res"
echo "# the suite in a guest of $kver (accel $VFIOSIM_ACCEL)"
# kmemleak: forget what boot left, run the suite, then two scans (an
# object must stay unreferenced over a scan, and be 5 s old) before the
# report is read.
# shellcheck disable=SC2016 # expanded in the guest
scripts/vm/run --kernel "$kver" --kernel-dir "$dir" --results "$res" \
	--timeout "${VFIOSIM_DEBUG_VM_TIMEOUT:-5400}" --mem 3072 -- \
	env VFIOSIM_KO="$ko_dir/vfiosim.ko" VFIOSIM_NESTED=0 \
	VFIOSIM_TEST_TIMEOUT="${VFIOSIM_TEST_TIMEOUT:-2700}" \
	sh -c 'leak=/sys/kernel/debug/kmemleak
		dmesg -w >"$VFIOSIM_RESULTS/dmesg-live.txt" 2>&1 &
		echo clear >"$leak"
		"$0"
		rc=$?
		sleep 6; echo scan >"$leak"; sleep 6; echo scan >"$leak"
		cat "$leak" >"$VFIOSIM_RESULTS/kmemleak.txt"
		exit $rc' selftests/vfiosim/run_vm_suite.sh 2>&1 |
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
# fails the run on them, and here they count.  A guest that panicked
# saved no dmesg.txt: the log streamed to dmesg-live.txt is all there is.
[ -f "$res/dmesg.txt" ] || [ ! -s "$res/dmesg-live.txt" ] ||
	grep -nE 'KASAN|UBSAN|lockdep|circular locking|ODEBUG|corruption|WARNING:|BUG:' \
		"$res/dmesg-live.txt" | head -n 40 | sed 's/^/# dmesg before the end: /'
bad='WARNING:|BUG:|Oops|Call Trace|KASAN|UBSAN|lockdep|possible circular locking|possible recursive locking|general protection fault|ODEBUG|list_add corruption|list_del corruption'
if [ ! -f "$res/dmesg.txt" ]; then
	not_ok "the guest finished and saved its kernel log"
elif grep -qE "$bad" "$res/dmesg.txt"; then
	grep -nE "$bad" "$res/dmesg.txt" | head -n 40 | sed 's/^/# dmesg: /'
	not_ok "no KASAN, lockdep, UBSAN, debug-objects or list report in the guest's kernel log"
else
	ok "no KASAN, lockdep, UBSAN, debug-objects or list report in the guest's kernel log"
fi

# kmemleak: one block per object, "unreferenced object ..." first.
if [ ! -f "$res/kmemleak.txt" ]; then
	not_ok "kmemleak report read"
else
	ours=$(awk -v RS='unreferenced object' 'NR > 1 &&
		/vfiosim|vfio_|mdev_|comm "vfiosim/ { n++ } END { print n + 0 }' "$res/kmemleak.txt")
	all=$(grep -c '^unreferenced object' "$res/kmemleak.txt")
	if [ "$ours" -eq 0 ]; then
		ok "kmemleak: nothing of vfiosim, VFIO, mdev or a test leaked ($all reports, none ours)"
	else
		sed 's/^/# kmemleak: /' "$res/kmemleak.txt" | head -n 200
		not_ok "kmemleak: $ours leaked objects of vfiosim, VFIO, mdev or a test"
	fi
	if [ "$all" -gt "$ours" ]; then
		grep -A3 '^unreferenced object' "$res/kmemleak.txt" | head -n 40 |
			sed 's/^/# kmemleak (all reports): /'
	fi
fi
echo "# check-debug took $(($(date +%s) - t0)) s"
finish
