#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A real VMM accepts the device: Debian's QEMU attaches each vfiosim type with
# -device vfio-pci,sysfsdev=..., its firmware assigns the BARs, and the
# monitor's "info pci" shows our IDs and BAR sizes.  Runs as root in the
# test guest with the module loaded.
set -u

types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
qemu=$(command -v qemu-system-x86_64)
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
echo "1..14"

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

# run_qemu TYPE DEVICE_ID BAR2_SIZE
run_qemu() {
	local type=$1 devid=$2 bar2=$3 uuid dir i
	uuid=$(cat /proc/sys/kernel/random/uuid)
	dir=$(mktemp -d)
	echo "$uuid" >"$types/$type/create"

	# Firmware (SeaBIOS) assigns the BARs; ask until it has, then quit.
	{
		for i in $(seq 1 60); do
			echo "info pci"
			sleep 1
			grep "BAR0: 32 bit memory at" "$dir/out" |
				grep -qv 0xffffffffffffffff && break
		done
		echo quit
	} | "$qemu" -machine pc -m 128 -nodefaults -display none \
		-serial none -monitor stdio \
		-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/"$uuid" \
		>"$dir/out" 2>"$dir/err"
	local rc=$?
	tr -d '\033' <"$dir/out" >"$dir/info"

	check "$type: qemu exits cleanly (status $rc)" test $rc -eq 0
	check "$type: qemu printed no error or warning" test ! -s "$dir/err"
	[ -s "$dir/err" ] && sed 's/^/# qemu: /' "$dir/err"
	check "$type: info pci shows 5653:$devid" grep -q "PCI device 5653:$devid" "$dir/info"
	check "$type: subsystem 5653:$devid" grep -q "PCI subsystem 5653:$devid" "$dir/info"
	check "$type: BAR0 is 32-bit memory of 8 KiB" test "$(bar_size "$dir/info" BAR0)" = 8192
	check "$type: BAR2 is 64-bit prefetchable memory of $bar2 bytes" \
		test "$(bar_size "$dir/info" BAR2)" = "$bar2"
	check "$type: BAR2 is 64-bit prefetchable" grep -q "BAR2: 64 bit prefetchable memory" "$dir/info"
	grep -A6 "5653:$devid" "$dir/info" | tail -n 7 | sed 's/^/# /'

	echo 1 >/sys/bus/mdev/devices/"$uuid"/remove
	rm -rf "$dir"
}

run_qemu vfiosim-full 0002 $((16 << 20))
run_qemu vfiosim-small 0001 $((64 << 10))
[ $failed -eq 0 ]
