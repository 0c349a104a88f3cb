#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the accelerator a test VM should use: "kvm" or "tcg".
#
#   scripts/vm/accel.sh [QEMU [KERNEL_IMAGE]]
#
# /dev/kvm existing proves nothing: on some hosts QEMU aborts at once
# ("failed to set MSR 0x10a") or stops on "KVM internal error".  So KVM is
# chosen only when a kernel actually boots under it: the probe boots
# KERNEL_IMAGE with no root filesystem and waits for the kernel's own
# panic about it, which a working KVM reaches in about a second.
# VFIOSIM_ACCEL=kvm|tcg overrides the probe.  The reason goes to stderr.
# With VFIOSIM_ACCEL_CACHE=FILE the answer is kept there and reused while
# the host has not rebooted and QEMU is the same.
set -u

qemu=${1:-qemu-system-x86_64}
image=${2:-}

case ${VFIOSIM_ACCEL:-} in
kvm | tcg)
	echo "accel: $VFIOSIM_ACCEL (VFIOSIM_ACCEL)" >&2
	echo "$VFIOSIM_ACCEL"
	exit 0
	;;
'') ;;
*)
	echo "accel: VFIOSIM_ACCEL='$VFIOSIM_ACCEL' is not kvm or tcg" >&2
	exit 2
	;;
esac

cache=${VFIOSIM_ACCEL_CACHE:-}
key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $("$qemu" --version 2>/dev/null | head -n 1)"
if [ -n "$cache" ] && [ -f "$cache" ] && [ "$(head -n 1 "$cache")" = "$key" ]; then
	answer=$(sed -n 2p "$cache")
	case $answer in
	kvm | tcg)
		echo "accel: $answer (probed earlier this boot; $cache)" >&2
		echo "$answer"
		exit 0
		;;
	esac
fi

answer() {
	[ -z "$cache" ] || printf '%s\n%s\n' "$key" "$1" >"$cache" 2>/dev/null || true
	echo "$1"
	exit 0
}

tcg() {
	echo "accel: tcg ($*)" >&2
	answer tcg
}

[ -e /dev/kvm ] || tcg "no /dev/kvm"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || tcg "/dev/kvm not read-writable"
if [ -z "$image" ]; then
	image=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$image" ] || tcg "no kernel in /boot to probe KVM with"
fi

out=$(mktemp)
# A panic ends the guest at once with -no-reboot.  A broken KVM either
# exits or stops the guest with an error: stop waiting when one shows.
"$qemu" -accel kvm -machine q35 -cpu max -m 256 \
	-nodefaults -no-user-config -display none -serial "file:$out" \
	-no-reboot -kernel "$image" \
	-append "console=ttyS0 panic=-1 root=/dev/vfiosim-probe-none" \
	>"$out.err" 2>&1 &
pid=$!
# A paused guest (KVM internal error) would otherwise outlive us.
trap 'kill -9 $pid 2>/dev/null; rm -f "$out" "$out.err"' EXIT
for _ in $(seq 100); do
	kill -0 $pid 2>/dev/null || break
	grep -qE 'KVM internal error|failed to set MSR' "$out.err" && break
	sleep 0.2
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
rc=$?
booted=0
grep -qE 'Kernel panic|VFS: Unable to mount root' "$out" && booted=1
why=$(grep -m1 -E 'KVM internal error|failed to set MSR|kvm' "$out.err")
rm -f "$out" "$out.err"

if [ $booted = 1 ] && [ -z "$why" ]; then
	echo "accel: kvm (a kernel booted under it)" >&2
	answer kvm
fi
if [ -n "$why" ]; then
	tcg "KVM probe failed: $why"
fi
tcg "KVM probe did not reach the kernel (qemu status $rc)"
