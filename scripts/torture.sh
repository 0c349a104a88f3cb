#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make torture: vfiosim_torture (selftests/vfiosim/vfiosim_torture.c) for
# TORTURE_S seconds (default 180) in a guest of the debug kernel
# (scripts/debug-kernel.sh, built on first use), through
# selftests/vfiosim/vfiosim_torture.sh, which also checks Slab, Percpu,
# the unload and saves kmemleak's reports.  Here: the guest's verdicts,
# then its kernel log (any KASAN, lockdep, UBSAN, debug-objects, list or
# WARN/BUG report fails) and kmemleak (anything of vfiosim, VFIO, mdev or
# the torture fails).  TORTURE_SEED repeats a run; TORTURE_WORKERS sets
# the processes per user role; TORTURE_ARGS passes more options
# (vfiosim_torture --help).  Prints TAP and, last,
# "N passed, N failed, N skipped".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logs=$top/build/logs
res=$top/build/results/torture
mkdir -p "$logs"

# shellcheck source=tap.sh
. "$top/scripts/tap.sh"
# shellcheck source=debug-common.sh
. "$top/scripts/debug-common.sh"

secs=${TORTURE_S:-180}
case $secs in
'' | *[!0-9]* | 0) echo "torture: TORTURE_S must be a positive number of seconds, not '$secs'" >&2; exit 2 ;;
esac

echo "TAP version 13"
t0=$(date +%s)
debug_prepare

debug_results "$res"
echo "# torture for $secs s in a guest of $kver (accel $VFIOSIM_ACCEL)"
# Boot, load and the memory readings take minutes under TCG and KASAN.
# shellcheck disable=SC2016 # expanded in the guest
scripts/vm/run --kernel "$kver" --kernel-dir "$dir" --results "$res" \
	--timeout $((secs + 1800)) --mem 2048 -- \
	env VFIOSIM_KO="$ko_dir/vfiosim.ko" TORTURE_S="$secs" \
	${TORTURE_SEED:+TORTURE_SEED="$TORTURE_SEED"} \
	${TORTURE_WORKERS:+TORTURE_WORKERS="$TORTURE_WORKERS"} \
	${TORTURE_ARGS:+TORTURE_ARGS="$TORTURE_ARGS"} \
	sh -c 'dmesg -w >"$VFIOSIM_RESULTS/dmesg-live.txt" 2>&1 &
		exec "$0"' selftests/vfiosim/vfiosim_torture.sh 2>&1 |
	tee "$res/guest.tap" | sed -u 's/^/# guest: /'
vm_rc=${PIPESTATUS[0]}
# The guest's TAP lines, renumbered into ours.
while IFS= read -r line; do
	case $line in
	"ok "*" - "*"# SKIP") l=${line#* - }; skip "guest: ${l% # SKIP}" ;;
	"ok "*" - "*) ok "guest: ${line#* - }" ;;
	"not ok "*" - "*) not_ok "guest: ${line#* - }" ;;
	esac
done <"$res/guest.tap"
grep -qE '^torture: (PASS|FAIL)' "$res/torture.log" 2>/dev/null ||
	not_ok "the guest ran the torture to its end (guest exit $vm_rc; console $res/console.log)"

debug_judge_dmesg "$res"
debug_judge_kmemleak "$res/kmemleak-loaded.txt"
debug_judge_kmemleak "$res/kmemleak.txt"
echo "# torture took $(($(date +%s) - t0)) s"
finish
