#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Real VMMs accept the device.  The QEMU on PATH (Debian 12's 7.2, or 11.1
# in the Debian 13 root) attaches each vfiosim type with
# -device vfio-pci,sysfsdev=..., and, where it has vfio-user-pci (10.1+),
# through vfiosim-userd with -device vfio-user-pci and its socket.  Its firmware
# assigns the BARs, QEMU prints nothing on stderr, and the monitor's
# "info pci" shows our IDs and BAR sizes.  Runs as root in the test guest
# with the module loaded.
set -u

here=$(cd "$(dirname "$0")" && pwd)
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
qemu=$(command -v qemu-system-x86_64)
userd=${VFIOSIM_USERD:-$here/../../userspace/build/asan/vfiosim-userd}
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

echo "TAP version 13"
if [ -z "$qemu" ] || [ ! -d "$types" ]; then
	echo "1..0 # SKIP qemu-system-x86_64 or the vfiosim module missing"
	exit 4
fi
qver=$("$qemu" --version | sed -nE '1s/.*version ([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/p')
echo "# $("$qemu" --version | head -n 1)"

# bar_size INFO BAR: size in bytes of an assigned BAR in "info pci" output
bar_size() {
	local line start end
	# the last answer is the one asked after the firmware ran
	line=$(grep "$2: " "$1" | tail -n 1)
	start=$(echo "$line" | sed -nE 's/.* at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\].*/\1/p')
	end=$(echo "$line" | sed -nE 's/.* at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\].*/\2/p')
	[ -n "$start" ] && [ "$start" != 0xffffffffffffffff ] || return 1
	echo $((end - start + 1))
}

# run_qemu TYPE DEVICE_ID BAR2_SIZE vfio-pci|vfio-user-pci
run_qemu() {
	local type=$1 devid=$2 bar2=$3 how=$4 uuid dir i dev pid= rc what
	uuid=$(cat /proc/sys/kernel/random/uuid)
	dir=$(mktemp -d)
	what="QEMU $qver $how, $type"
	echo "$uuid" >"$types/$type/create"

	if [ "$how" = vfio-user-pci ]; then
		"$userd" --socket "$dir/sock" --device "$uuid" 2>"$dir/userd.log" &
		pid=$!
		for i in $(seq 100); do
			grep -q '^vfiosim-userd: listening on' "$dir/userd.log" && break
			sleep 0.1
		done
		# QEMU 11 takes the socket as a SocketAddress: JSON syntax.  It
		# waits 5 s of wall time for a reply, sized for hardware; this
		# guest runs under TCG, on a host that may be loaded.
		dev="{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$dir/sock\"},\"x-msg-timeout\":30000}"
	else
		dev="vfio-pci,sysfsdev=/sys/bus/mdev/devices/$uuid"
	fi

	# Firmware (SeaBIOS) assigns the BARs; ask until it has, then quit.
	{
		for i in $(seq 1 60); do
			echo "info pci"
			sleep 1
			grep "BAR0: 32 bit memory at" "$dir/out" 2>/dev/null |
				grep -qv 0xffffffffffffffff && break
		done
		echo quit
	} | "$qemu" -machine pc -m 128 -nodefaults -display none \
		-serial none -monitor stdio -device "$dev" \
		>"$dir/out" 2>"$dir/err"
	rc=$?
	tr -d '\033' <"$dir/out" >"$dir/info"

	check "$what: qemu exits cleanly (status $rc)" test $rc -eq 0
	check "$what: qemu printed no error or warning" test ! -s "$dir/err"
	[ -s "$dir/err" ] && sed 's/^/# qemu: /' "$dir/err"
	check "$what: info pci shows 5653:$devid" grep -q "PCI device 5653:$devid" "$dir/info"
	check "$what: subsystem 5653:$devid" grep -q "PCI subsystem 5653:$devid" "$dir/info"
	check "$what: BAR0 is 32-bit memory of 8 KiB" test "$(bar_size "$dir/info" BAR0)" = 8192
	check "$what: BAR2 is 64-bit prefetchable memory of $bar2 bytes" \
		test "$(bar_size "$dir/info" BAR2)" = "$bar2"
	check "$what: BAR2 is 64-bit prefetchable" grep -q "BAR2: 64 bit prefetchable memory" "$dir/info"
	grep -A6 "5653:$devid" "$dir/info" | tail -n 7 | sed 's/^/# /'

	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		check "$what: vfiosim-userd exits 0 on SIGTERM" test $? -eq 0
		grep -v '^vfiosim-userd: listening on' "$dir/userd.log" | sed 's/^/# userd: /'
	fi
	echo 1 >/sys/bus/mdev/devices/"$uuid"/remove
	rm -rf "$dir"
}

for t in "vfiosim-full 0002 $((16 << 20))" "vfiosim-small 0001 $((64 << 10))"; do
	# shellcheck disable=SC2086 # three words
	run_qemu $t vfio-pci
done
# vfio-user-pci arrived in QEMU 10.1.
if "$qemu" -device help 2>/dev/null | grep -q '"vfio-user-pci"'; then
	if [ -x "$userd" ]; then
		for t in "vfiosim-full 0002 $((16 << 20))" "vfiosim-small 0001 $((64 << 10))"; do
			# shellcheck disable=SC2086 # three words
			run_qemu $t vfio-user-pci
		done
	else
		not_ok "QEMU $qver has vfio-user-pci but $userd is not built"
	fi
else
	echo "# QEMU $qver has no vfio-user-pci (it came in 10.1)"
fi
echo "1..$n"
[ $failed -eq 0 ]
