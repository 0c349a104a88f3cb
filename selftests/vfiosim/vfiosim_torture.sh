#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make torture, inside the guest (scripts/torture.sh boots it): load
# vfiosim, take the memory baseline, run vfiosim_torture for $TORTURE_S
# seconds, then check that everything came back:
#  - the program's own checks (no unexplained death or hang, device
#    promises kept, every device removed, no fd leaked in any worker);
#  - Percpu back to the baseline within TORTURE_PERCPU_KIB (default 64),
#    unreclaimable slab (SUnreclaim) within TORTURE_SLAB_KIB (default
#    3072).  Both readings follow the same churn (vfiosim_torture
#    --churn-mb) and drop_caches, so KASAN's quarantine holds the same
#    kind of objects each time; what is left is SLUB's partial slabs and
#    frees still waiting for RCU, 1 to 2 MiB in runs here, and the
#    caches that grew most are listed.  kmemleak is the fine check;
#    this one catches what stays referenced (a list that only grows);
#  - vfiosim unloads.
# kmemleak's reports (before and after the unload) and the kernel log are
# judged by scripts/torture.sh on the host.  Prints TAP
# and "N passed, N failed, N skipped"; exits non-zero if anything failed.
#
# Environment: VFIOSIM_KO (required), VFIOSIM_RESULTS (required),
# TORTURE_S (default 180), TORTURE_SEED, TORTURE_WORKERS, TORTURE_ARGS
# (more vfiosim_torture options, e.g. --no-vfio-dma).

set -u
here=$(cd "$(dirname "$0")" && pwd)
ko=${VFIOSIM_KO:?VFIOSIM_KO must name vfiosim.ko}
results=${VFIOSIM_RESULTS:?VFIOSIM_RESULTS must name a writable directory}
prog=$here/build/vfiosim_torture
leak=/sys/kernel/debug/kmemleak
percpu_tol=${TORTURE_PERCPU_KIB:-64}
slab_tol=${TORTURE_SLAB_KIB:-3072}
# More than KASAN's quarantine (1/32 of memory) in MiB.
churn_mb=$(awk '$1 == "MemTotal:" { printf "%d", $2 / 1024 / 32 * 2 + 16 }' /proc/meminfo)

# shellcheck source=vfiosim_lib.sh
. "$here/vfiosim_lib.sh"
# shellcheck source=../../scripts/tap.sh
. "$here/../../scripts/tap.sh"

meminfo() {
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

# SUnreclaim, Percpu and Slab in KiB, after churn and drop_caches;
# /proc/slabinfo into $1.
settled_memory() {
	"$prog" --churn-mb "$churn_mb" || return 1
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 2
	cat /proc/slabinfo >"$1" 2>/dev/null
	echo "$(meminfo SUnreclaim) $(meminfo Percpu) $(meminfo Slab)"
}

# The caches whose active objects grew most between two slabinfo files.
slab_growth() {
	awk 'FNR == NR { if (FNR > 2) was[$1] = $2 * $4; next }
	     FNR > 2 { d = $2 * $4 - was[$1]; if (d > 4096) printf "%d %s\n", d / 1024, $1 }' \
		"$1" "$2" | sort -rn | head -n 10 |
		awk '{ printf "#   %-28s %6d KiB more\n", $2, $1 }'
}

echo "TAP version 13"
echo "# kernel $(uname -r), module $ko"
[ -x "$prog" ] || { not_ok "$prog built"; finish; }
if load_any vfio && load_any vfio_iommu_type1 && load_any mdev vfio_mdev; then
	ok "load vfio, vfio_iommu_type1 and mdev"
else
	not_ok "load vfio, vfio_iommu_type1 and mdev"
	finish
fi
if insmod "$ko"; then
	ok "insmod $ko"
else
	not_ok "insmod $ko"
	finish
fi
[ -w "$leak" ] && echo clear >"$leak"
# The kernel log is streamed to dmesg-live.txt and saved whole; on the
# console, each device's iommu-group lines would slow TCG and bury ours.
dmesg -n 4

read -r slab0 percpu0 all0 < <(settled_memory "$results/slabinfo-before.txt")
echo "# baseline after load: SUnreclaim $slab0 KiB (Slab $all0), Percpu $percpu0 KiB (churn $churn_mb MiB first)"

seed_arg=()
[ -n "${TORTURE_SEED:-}" ] && seed_arg=(--seed "$TORTURE_SEED")
workers_arg=()
[ -n "${TORTURE_WORKERS:-}" ] && workers_arg=(--workers "$TORTURE_WORKERS")
# Our own SIGBUS handler guards the mapping touches (not ASan's).
# TORTURE_ARGS is a list of options: split on spaces.
read -ra more_args <<<"${TORTURE_ARGS:-}"
(cd /tmp && ASAN_OPTIONS=handle_sigbus=0:detect_leaks=1 \
	"$prog" --seconds "${TORTURE_S:-180}" "${seed_arg[@]}" "${workers_arg[@]}" \
		"${more_args[@]}") 2>&1 | tee "$results/torture.log"
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
	ok "vfiosim_torture: no unexplained death or hang, promises kept, every device removed, no fd leaked"
else
	not_ok "vfiosim_torture (log: $results/torture.log)"
fi

read -r slab1 percpu1 all1 < <(settled_memory "$results/slabinfo-after.txt")
dslab=$((slab1 - slab0))
dpercpu=$((percpu1 - percpu0))
echo "# after: SUnreclaim $slab1 KiB ($dslab), Slab $all1 KiB ($((all1 - all0))), Percpu $percpu1 KiB ($dpercpu); caches that grew:"
slab_growth "$results/slabinfo-before.txt" "$results/slabinfo-after.txt"
if [ "$dpercpu" -le "$percpu_tol" ]; then
	ok "Percpu back to the baseline: $dpercpu KiB (tolerance $percpu_tol)"
else
	not_ok "Percpu back to the baseline: $dpercpu KiB (tolerance $percpu_tol)"
fi
if [ "$dslab" -le "$slab_tol" ]; then
	ok "unreclaimable slab back to the baseline: $dslab KiB (tolerance $slab_tol)"
else
	not_ok "unreclaimable slab back to the baseline: $dslab KiB (tolerance $slab_tol)"
fi

# kmemleak: read once with the module loaded (its frames still have
# names), and once after rmmod; scripts/torture.sh judges both.
kmemleak_read() {
	[ -w "$leak" ] || return 0
	"$here/../../scripts/kmemleak-read.sh" "$1"
}
kmemleak_read "$results/kmemleak-loaded.txt"

for _ in 1 2 3 4 5; do
	rmmod vfiosim 2>"$results/rmmod.err" && break
	sleep 1
done
if [ ! -d /sys/module/vfiosim ]; then
	ok "rmmod vfiosim"
else
	sed 's/^/# /' "$results/rmmod.err"
	not_ok "rmmod vfiosim (refcount $(cat /sys/module/vfiosim/refcnt))"
fi
kmemleak_read "$results/kmemleak.txt"
finish
