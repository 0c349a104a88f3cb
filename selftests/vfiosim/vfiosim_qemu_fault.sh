#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A real VMM under fault.  QEMU holds a vfiosim device and the device
# misbehaves on cue:
#
#   1. vfio-user-pci through vfiosim-userd (QEMU >= 10.1): once the
#      firmware has assigned the BARs, the bridge holds every reply past
#      QEMU's message timeout (x-msg-timeout) while the monitor's "xp"
#      makes QEMU read the ID register in BAR0 (a REGION_READ).
#   2. vfio-pci: the device is removed while QEMU holds it, so the VFIO
#      core asks QEMU through the REQ interrupt to let go.  QEMU has no
#      guest OS to eject the device, so the removal waits, and ends when
#      QEMU is told to quit.
#
# What QEMU does is reported, not judged ("# qemu: ..." lines); what is
# checked is that the fault reached QEMU, that QEMU could be stopped, that
# the kernel stays clean (run_vm_suite.sh checks dmesg) and that the
# device (or, after removal, a new one) is usable afterwards by another
# client.  Runs as root in the test guest with the module loaded.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
qemu=$(command -v qemu-system-x86_64)
userd=${VFIOSIM_USERD:-$repo/userspace/build/asan/vfiosim-userd}
ctl=${VFIOSIM_CTL:-$repo/userspace/build/asan/vfiosimctl}
qmp=$here/nested/qmp.py
tmp=$(mktemp -d)
n=0
failed=0
qpid="" upid=""

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
skip() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }

cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	[ -n "$upid" ] && kill "$upid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "TAP version 13"
if [ -z "$qemu" ] || [ ! -d "$types" ] || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP qemu-system-x86_64, python3 or the vfiosim module missing"
	exit 4
fi
echo "# $("$qemu" --version | head -n 1)"

hmp() { python3 "$qmp" "$1" human-monitor-command "{\"command-line\": \"$2\"}"; }

# wait_bars QMP: until the firmware assigned BAR0 (60 s)
wait_bars() {
	for _ in $(seq 60); do
		hmp "$1" "info pci" 2>/dev/null | grep "BAR0: 32 bit memory at" |
			grep -qv 0xffffffffffffffff && return 0
		sleep 1
	done
	return 1
}

# start_qemu DIR DEVICE: QEMU with no guest OS, SeaBIOS assigns the BARs
start_qemu() {
	"$qemu" -machine pc -m 128 -nodefaults -display none -serial none \
		-qmp "unix:$1/qmp,server=on,wait=off" -device "$2" \
		-trace "enable=acpi_pci_unplug_request,file=$1/trace.log" \
		>"$1/qemu.out" 2>"$1/qemu.err" &
	qpid=$!
	for _ in $(seq 100); do [ -S "$1/qmp" ] && return 0; sleep 0.1; done
	return 1
}

# stop_qemu DIR: quit over QMP; SIGKILL after 30 s.  Sets qrc.
stop_qemu() {
	python3 "$qmp" "$1/qmp" quit >/dev/null 2>&1
	for _ in $(seq 300); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$qpid" 2>/dev/null; then
		echo "# qemu did not quit within 30 s: SIGKILL"
		kill -9 "$qpid"
	fi
	wait "$qpid"
	qrc=$?
	qpid=
}

# reads_id SPEC: another client reads the device's ID register
reads_id() {
	"$ctl" region read "$1" bar0 0x0 2>/dev/null | grep -qi 0x5646534d
}

# delay UUID MS: the bridge daemon's delay_reply_ms for the device
delay() { "$ctl" fault --control "$tmp/u/control.sock" "$1" delay_reply_ms "$2" >/dev/null; }
# shellcheck source-path=SCRIPTDIR source=nested/userd_fired.sh
. "$here/nested/userd_fired.sh"

# ---- 1. a bridge reply delayed past QEMU's vfio-user timeout ----
bridge_delay() {
	local d=$tmp/u uuid t0 t1 out late bar0
	mkdir -p "$d"
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$types/vfiosim-full/create"
	"$userd" --control "$d/control.sock" --socket "$d/sock" \
		--device "$uuid" 2>"$d/userd.log" &
	upid=$!
	for _ in $(seq 100); do [ -S "$d/control.sock" ] && break; sleep 0.1; done
	# 3 s timeout, 5 s delay: past it, without making the test slow
	start_qemu "$d" "{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$d/sock\"},\"x-msg-timeout\":3000}" ||
		not_ok "bridge: QEMU's QMP socket appeared"
	check "bridge: QEMU realized vfio-user-pci and the firmware assigned BAR0" wait_bars "$d/qmp"

	bar0=$(hmp "$d/qmp" "info pci" | tr -d '\033' |
	       sed -nE 's/.*BAR0: 32 bit memory at (0x[0-9a-f]+) .*/\1/p' | tail -n 1)
	out=$(hmp "$d/qmp" "xp /1wx $bar0" 2>&1)
	echo "# xp /1wx $bar0 (BAR0 + 0, the ID register): $out"
	check "bridge: QEMU reads the ID register through the bridge" \
		sh -c "echo '$out' | grep -qi 0x5646534d"

	delay "$uuid" 5000
	t0=$(date +%s%N)
	out=$(timeout 120 python3 "$qmp" "$d/qmp" human-monitor-command \
		"{\"command-line\": \"xp /1wx $bar0\"}" 2>&1)
	t1=$(date +%s%N)
	echo "# the same read with replies held 5 s: $out, after $(((t1 - t0) / 1000000)) ms"
	late=$(userd_fired "$ctl" "$tmp/u/control.sock" "$uuid" delay_reply_ms)
	check "bridge: the delay knob held replies QEMU was waiting for (fired ${late:-?})" \
		test "${late:-0}" -ge 1
	delay "$uuid" 0
	sleep 6		# the held replies go out, late
	out=$(timeout 60 python3 "$qmp" "$d/qmp" human-monitor-command \
		"{\"command-line\": \"xp /1wx $bar0\"}" 2>&1)
	echo "# after the delay, the knob off: xp reads $(echo "$out" | head -c 200)"
	stop_qemu "$d"
	echo "# qemu exit status $qrc"
	head -20 "$d/qemu.err" | sed 's/^/# qemu: /'
	# stop_qemu falls back to SIGKILL: a QEMU that needed it did not stop
	check "bridge: QEMU quit when asked over QMP (exit status $qrc)" test "$qrc" != 137
	check "bridge: vfiosim-userd is still running" kill -0 "$upid"
	check "bridge: another client is served on the socket afterwards" \
		reads_id "unix:$d/sock"
	kill "$upid"
	wait "$upid"
	check "bridge: vfiosim-userd exits 0 on SIGTERM" test $? -eq 0
	upid=
	grep 'fault:\|disconnected' "$d/userd.log" | sort | uniq -c | head -10 |
		sed 's/^/# userd: /'
	! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$d/userd.log" ||
		not_ok "bridge: a sanitizer report in vfiosim-userd's log"
	check "bridge: the device is usable over VFIO afterwards" reads_id "vfio:$uuid"
	echo 1 >/sys/bus/mdev/devices/"$uuid"/remove
}

# ---- 2. removal while QEMU holds the device: REQ ----
surprise_removal() {
	local d=$tmp/r uuid rpid t0 done_at=
	mkdir -p "$d"
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$types/vfiosim-full/create"
	start_qemu "$d" "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$uuid,id=sim0" ||
		not_ok "removal: QEMU's QMP socket appeared"
	check "removal: QEMU realized vfio-pci and the firmware assigned BAR0" wait_bars "$d/qmp"

	t0=$(date +%s)
	(echo 1 >/sys/bus/mdev/devices/"$uuid"/remove) 2>"$d/remove.err" &
	rpid=$!
	sleep 5
	if kill -0 "$rpid" 2>/dev/null; then
		echo "# removal still waiting after 5 s: QEMU holds the device"
	else
		done_at=$(($(date +%s) - t0))
		echo "# removal done after $done_at s: QEMU let go on its own"
	fi
	# QEMU answers REQ with qdev_unplug(): on this machine an ACPI
	# unplug request to a guest that is not there
	check "removal: QEMU got the REQ and asked the guest to unplug ($(grep -c acpi_pci_unplug_request "$d/trace.log") requests)" \
		grep -q acpi_pci_unplug_request "$d/trace.log"
	stop_qemu "$d"
	echo "# qemu exit status $qrc"
	head -20 "$d/qemu.err" | sed 's/^/# qemu: /'
	for _ in $(seq 100); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
	check "removal: the removal completes once QEMU is gone" sh -c "! kill -0 $rpid 2>/dev/null"
	wait "$rpid"
	check "removal: the device is gone" test ! -e /sys/bus/mdev/devices/"$uuid"
	dmesg | grep -i "$uuid" | tail -5 | sed 's/^/# dmesg: /'
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$types/vfiosim-full/create"
	check "removal: a new device works afterwards" reads_id "vfio:$uuid"
	echo 1 >/sys/bus/mdev/devices/"$uuid"/remove
}

if "$qemu" -device help 2>/dev/null | grep -q '"vfio-user-pci"'; then
	if [ -x "$userd" ] && [ -x "$ctl" ]; then
		bridge_delay
	else
		not_ok "QEMU has vfio-user-pci but $userd or $ctl is not built"
	fi
else
	skip "bridge delay: this QEMU has no vfio-user-pci (it came in 10.1)"
fi
surprise_removal
echo "1..$n"
[ $failed -eq 0 ]
