#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The selftests as kselftest CI systems (KernelCI, LKFT) run them: install
# them as a kselftest tree (make -C selftests/vfiosim install), boot one
# guest and run the kernel's own run_kselftest.sh -c vfiosim over that
# tree.  The runner's top-level ok / not ok lines are the results; this
# script checks that they match the list it was given, quotes the
# runner's TAP as comments, and prints its own TAP and, last,
# "N passed, N failed, N skipped".  Exit status 0 only if nothing failed.
#
#   scripts/kselftest-check.sh KVER [PROG...]
#
# PROG...: the C programs to install and run (default: a quick subset,
# about two minutes under TCG; every TEST_GEN_PROGS name works).  Uses the
# ASan selftests build (check.sh builds it) and the module in
# build/kmod/KVER.  The unix variants get the ASan vfiosim-userd
# (VFIOSIM_USERD), which links libasan in, so that the runner's stdbuf
# LD_PRELOAD cannot come ahead of it.
# VFIOSIM_KSFT_VM_TIMEOUT: seconds for the guest (600; the whole
# collection wants 1800 under TCG).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=$top/build
kver=${1:?usage: scripts/kselftest-check.sh KVER [PROG...]}
shift
progs=${*:-vfiosim_info_test vfiosim_lifecycle_test vfiosim_mmap_test vfiosim_dmabuf_test}
read -ra list <<<"$progs"
progs="${list[*]}"
tree=$build/kselftest
res=$build/results/kselftest-$kver
log=$build/logs/kselftest-install.log
mkdir -p "$build/logs"

# shellcheck source=tap.sh
. "$top/scripts/tap.sh"

echo "TAP version 13"
rm -rf "$tree"
if make -s -C selftests/vfiosim install INSTALL_PATH="$tree" KSFT_PROGS="$progs" \
	SANITIZE=1 LIBVFIOSIM="$top/userspace/build/asan/libvfiosim.a" >"$log" 2>&1 &&
   make -s -C userspace SANITIZE=1 BUILD=build/asan userd >>"$log" 2>&1; then
	ok "make -C selftests/vfiosim install INSTALL_PATH=build/kselftest ($progs)"
else
	not_ok "make -C selftests/vfiosim install"
	sed 's/^/# /' "$log" | tail -n 20
	finish
fi

# What the runner will run: its own -l, which reads kselftest-list.txt.
want=$(for p in vfiosim_load.sh "${list[@]}" vfiosim_unload.sh; do echo "vfiosim:$p"; done)
listed=$("$tree/run_kselftest.sh" -l 2>&1)
if [ "$listed" = "$want" ]; then
	ok "run_kselftest.sh -l lists vfiosim_load.sh, the programs, vfiosim_unload.sh"
else
	not_ok "run_kselftest.sh -l lists what was installed"
	while IFS= read -r l; do echo "# listed: $l"; done <<<"$listed"
fi
for f in kselftest/runner.sh kselftest/prefix.pl kselftest/ktap_helpers.sh \
	 vfiosim/settings vfiosim/config; do
	[ -r "$tree/$f" ] || not_ok "install tree has $f"
done

root=$(scripts/kernels.sh --root "$kver")
rm -rf "$res"
mkdir -p "$res"
start=$(date +%s)
# The guest's command writes the runner's output where the host reads it,
# a line at a time: the runner's prefix.pl writes a byte at a time, and
# one 9p write per byte of TAP takes the guest minutes per program.
# shellcheck disable=SC2016 # expanded in the guest
VFIOSIM_KO=$build/kmod/$kver/vfiosim.ko \
VFIOSIM_USERD=$top/userspace/build/asan/vfiosim-userd \
	scripts/vm/run --kernel "$kver" --root "$root" --results "$res" \
	--timeout "${VFIOSIM_KSFT_VM_TIMEOUT:-600}" -- \
	sh -c '"$0" -c vfiosim 2>&1 | sed -u "" >"$VFIOSIM_RESULTS/kselftest.tap"' \
	"$tree/run_kselftest.sh" >"$res/vm.log" 2>&1
vm_rc=$?
echo "# $kver: run_kselftest.sh -c vfiosim took $(($(date +%s) - start)) s, guest boot included"
tap=$res/kselftest.tap
if [ ! -s "$tap" ]; then
	not_ok "$kver: run_kselftest.sh wrote its TAP (guest exit $vm_rc)"
	sed 's/^/# /' "$res/vm.log" | tail -n 20
	finish
fi
awk '{ print "# " $0 }' "$tap"	# a last line cut short still ends here

# The runner's own lines are the top-level ones; the tests' are "# "-prefixed.
plan=$(grep -E '^1\.\.[0-9]+$' "$tap" | head -n 1)
count=$(echo "$want" | wc -l)
if [ "$plan" = "1..$count" ]; then
	ok "$kver: the runner's plan is $plan, one per list entry"
else
	not_ok "$kver: the runner's plan is '${plan:-none}', not 1..$count"
fi
seen=0
while IFS= read -r line; do
	seen=$((seen + 1))
	what="$kver: ${line#* [0-9]* }"
	case $line in
	"not ok "*) not_ok "$what" ;;
	"ok "*"# SKIP"*) skip "${what%% # SKIP*}" ;;
	*) ok "$what" ;;
	esac
done < <(grep -E '^(not )?ok [0-9]+ selftests: vfiosim: ' "$tap")
[ "$seen" -eq "$count" ] ||
	not_ok "$kver: the runner reported $seen results for $count list entries"

# A clean guest: scripts/vm/run fails the run on a WARN/BUG/Oops in dmesg.
if [ "$vm_rc" -eq 0 ]; then
	ok "$kver: guest finished, dmesg free of WARN/BUG/Oops"
else
	not_ok "$kver: guest exit $vm_rc (dmesg: $res/dmesg.txt)"
	sed 's/^/# /' "$res/vm.log" | tail -n 20
fi
finish
