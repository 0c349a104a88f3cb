# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What make check-debug (check-debug.sh) and make torture (torture.sh)
# share: sourced after tap.sh, with $top and $logs set.
#   debug_prepare       the debug kernel (built on first use), vfiosim.ko
#                       built W=1 against its tree, userspace and selftests
#                       with ASan and UBSan; sets $dir, $kver and $ko_dir,
#                       prints TAP, and finishes (fails) if any is missing
#   debug_results RES   an empty RES for the guest's results; exports
#                       VFIOSIM_ACCEL (probed unless set)
#   debug_judge_dmesg RES  TAP on RES/dmesg.txt (or, after a panic, on
#                       RES/dmesg-live.txt): any KASAN, lockdep, UBSAN,
#                       debug-objects, list or WARN/BUG report fails
#   debug_judge_kmemleak FILE  TAP on a kmemleak report: an object that
#                       vfiosim, VFIO or mdev allocated, or a vfiosim task
#                       or insmod did, fails; other reports are listed,
#                       not judged

# Lockdep's reports, not its boot banner ("RCU lockdep checking is enabled").
# shellcheck disable=SC2154 # top and logs are the sourcing script's
debug_bad='WARNING:|BUG:|Oops|Call Trace|KASAN|UBSAN|lockdep is turned off|inconsistent lock state|suspicious RCU usage|possible circular locking|possible recursive locking|general protection fault|ODEBUG|list_add corruption|list_del corruption'

debug_prepare() {
	if ! dir=$("$top/scripts/debug-kernel.sh"); then
		not_ok "debug kernel built (scripts/debug-kernel.sh)"
		finish
	fi
	kver=$(cat "$dir/kernelrelease")
	ok "debug kernel $kver in $dir (build $(cat "$dir/build-seconds") s)"

	ko_dir=$top/build/kmod/$kver
	if "$top/scripts/kbuild.sh" "$dir/src" "$ko_dir" W=1 >"$logs/kbuild-debug.log" 2>&1 &&
	   ! grep -q 'warning:' "$logs/kbuild-debug.log"; then
		ok "module builds W=1 warning-free against the debug kernel's tree"
	else
		grep -E 'warning:|error:' "$logs/kbuild-debug.log" | sed 's/^/# /'
		not_ok "module builds W=1 warning-free against the debug kernel's tree"
		finish
	fi
	if make -C "$top/userspace" SANITIZE=1 BUILD=build/asan >"$logs/userspace.log" 2>&1 &&
	   make -C "$top/selftests/vfiosim" SANITIZE=1 \
		LIBVFIOSIM="$top/userspace/build/asan/libvfiosim.a" >"$logs/selftests.log" 2>&1; then
		ok "userspace and selftests build (ASan, UBSan)"
	else
		tail -n 20 "$logs/userspace.log" "$logs/selftests.log" | sed 's/^/# /'
		not_ok "userspace and selftests build (ASan, UBSan)"
		finish
	fi
}

debug_results() {
	VFIOSIM_ACCEL=${VFIOSIM_ACCEL:-$("$top/scripts/vm/accel.sh" 2>"$logs/accel.log")}
	export VFIOSIM_ACCEL
	rm -rf "$1"
	mkdir -p "$1"
}

debug_judge_dmesg() {
	local res=$1

	# A guest that panicked saved no dmesg.txt: the log streamed to
	# dmesg-live.txt is all there is.
	[ -f "$res/dmesg.txt" ] || [ ! -s "$res/dmesg-live.txt" ] ||
		grep -nE "$debug_bad" "$res/dmesg-live.txt" | head -n 40 |
		sed 's/^/# dmesg before the end: /'
	if [ ! -f "$res/dmesg.txt" ]; then
		not_ok "the guest finished and saved its kernel log"
	elif grep -qE "$debug_bad" "$res/dmesg.txt"; then
		grep -nE "$debug_bad" "$res/dmesg.txt" | head -n 40 | sed 's/^/# dmesg: /'
		not_ok "no KASAN, lockdep, UBSAN, debug-objects or list report in the guest's kernel log"
	else
		ok "no KASAN, lockdep, UBSAN, debug-objects or list report in the guest's kernel log"
	fi
}

debug_judge_kmemleak() {
	local file=$1 ours all

	# One block per object, "unreferenced object ..." first.  Our
	# module's init frames have no names once .init.text is freed, but
	# the task is insmod, which loads only vfiosim in these guests
	# (its dependencies come with modprobe).
	if [ ! -f "$file" ]; then
		not_ok "kmemleak report read"
		return
	fi
	ours=$(awk -v RS='unreferenced object' 'NR > 1 &&
		/vfiosim|vfio_|mdev_|comm "vfiosim|comm "insmod"/ { n++ } END { print n + 0 }' "$file")
	all=$(grep -c '^unreferenced object' "$file")
	if [ "$ours" -eq 0 ]; then
		ok "kmemleak: nothing of vfiosim, VFIO, mdev or a test leaked ($all reports, none ours)"
	else
		sed 's/^/# kmemleak: /' "$file" | head -n 200
		not_ok "kmemleak: $ours leaked objects of vfiosim, VFIO, mdev or a test"
	fi
	if [ "$all" -gt "$ours" ]; then
		grep -A3 '^unreferenced object' "$file" | head -n 40 |
			sed 's/^/# kmemleak (all reports): /'
	fi
}
