# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The caller sets here and kver; image, initrd, l2_count and l2_plan are
# for the caller.
# shellcheck disable=SC2034,SC2154
#
# What vfiosim_nested.sh and vfiosim_migrate.sh share: sourced, not run.
# TAP helpers numbering every line, the preconditions of a nested guest,
# the L2 boot files, and the reading of what L2 printed.

# What every L2 kernel gets.  no_timer_check: under TCG inside TCG on a
# busy host, the boot-time check that the timer ticks through the IO-APIC
# can time out and panic.  cryptomgr.notests and mitigations=off: the
# crypto self-tests and the speculation mitigations are half of a 7.3
# L2's boot under nested TCG (measured: init after 254 s instead of 369
# s), and neither is what the test is about.
L2_CMDLINE='console=ttyS0 quiet loglevel=3 panic=-1 no_timer_check cryptomgr.notests mitigations=off'

DMESG_BAD='WARNING:|BUG:|Oops|Call Trace|KASAN|UBSAN|lockdep|possible circular locking|general protection fault'

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; return 1; fi
}
finish() { echo "1..$n"; [ $failed -eq 0 ]; exit $?; }

# nested_preconditions QEMU TYPES TYPE KVER: exit with a TAP skip when a
# nested guest cannot run here.
nested_preconditions() {
	if [ -z "$1" ] || [ ! -d "$2/$3" ]; then
		echo "1..0 # SKIP qemu-system-x86_64 or the vfiosim module ($3) missing"
		exit 4
	fi
	if [ ! -r "/boot/vmlinuz-$4" ] || [ ! -d "/lib/modules/$4" ]; then
		echo "1..0 # SKIP no /boot/vmlinuz-$4 or /lib/modules/$4 for the nested guest"
		exit 4
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root"
		exit 4
	fi
}

# nested_boot_files KVER CACHE PROGRAM [INIT]: build (or reuse) L2's boot
# files in CACHE, report it; sets image and initrd, finishes on failure.
nested_boot_files() {
	local t0 cache=$2
	t0=$(date +%s)
	mkdir -p "$cache"
	image=$("$here/nested/mkinitramfs.sh" "$1" "$cache" "$3" ${4:+"$4"} 2>"$cache/build.err")
	if [ -s "$cache/initramfs.cpio.gz" ] && [ -n "$image" ] && [ -r "$image" ]; then
		ok "L2 initramfs for $1 in $cache ($(($(date +%s) - t0)) s)"
	else
		sed 's/^/# /' "$cache/build.err"
		not_ok "L2 initramfs for $1 in $cache"
		finish
	fi
	rm -f "$cache/build.err"
	initrd=$cache/initramfs.cpio.gz
}

# nested_cache NAME: where L2's boot files are kept, in the tree when it is
# writable here (the --root VMs), else in /tmp
nested_cache() {
	local cache=$here/build/$1/$kver
	if mkdir -p "$cache" 2>/dev/null && touch "$cache/.w" 2>/dev/null; then
		echo "$cache"
	else
		echo "/tmp/vfiosim-$1/$kver"
	fi
}

# stop_all PID...: end those of the processes that still run
stop_all() {
	local p
	for p in "$@"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}

# remove_devices UUID...: remove those of the devices that still exist
remove_devices() {
	local u
	for u in "$@"; do
		[ -n "$u" ] && [ -e "/sys/bus/mdev/devices/$u" ] &&
			echo 1 >"/sys/bus/mdev/devices/$u/remove"
	done
	return 0
}

# nest_l2_tap BODY PREFIX: L2's TAP lines renumbered into ours, prefixed;
# its other lines as comments.  Sets l2_count and l2_plan.
nest_l2_tap() {
	local line desc
	l2_plan=''
	l2_count=0
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			desc=$(echo "$line" | sed -E 's/^(not )?ok( [0-9]+)?( -)? ?//')
			case $line in
			"ok "*) ok "$2$desc" ;;
			*) not_ok "$2$desc" ;;
			esac
			echo "$line" | grep -qE '^(not )?ok [0-9]+' && l2_count=$((l2_count + 1))
			;;
		1..*) l2_plan=${line#1..} ;;
		*) echo "# $2L2: $line" ;;
		esac
	done <"$1"
}

# check_l2_dmesg DMESG PREFIX: L2 printed a dmesg free of warnings
check_l2_dmesg() {
	if [ ! -s "$1" ]; then
		not_ok "${2}L2 printed its dmesg"
	elif grep -Eq -- "$DMESG_BAD" "$1"; then
		not_ok "${2}L2 dmesg free of WARNING/BUG/Oops/Call Trace"
		echo "# L2 dmesg:"
		sed 's/^/#   /' "$1"
	else
		ok "${2}L2 dmesg free of WARNING/BUG/Oops/Call Trace ($(wc -l <"$1") lines)"
	fi
}
