#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vfiosimctl against a live module, as a user types it: device management,
# region access, interrupts and DMA engine transfers over the vfio,
# netlink and unix (vfiosim-userd) backends, text and JSON.  Runs as root
# in the test guest with the module loaded; uses the ASan builds that make
# check makes, so a sanitizer report fails the command that printed it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../userspace/build/asan
ctl=${VFIOSIM_CTL:-$build/vfiosimctl}
userd=${VFIOSIM_USERD:-$build/vfiosim-userd}
sock=/tmp/vfiosim-ctl-test.sock
n=0
failed=0
out=""
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# run NAME STATUS CMD...: CMD exits STATUS; its stdout+stderr in $out.
run() {
	local name=$1 want=$2 st
	shift 2
	out=$("$@" 2>&1)
	st=$?
	if [ "$st" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name (exit $st, want $want)"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
}

has() {
	if grep -q -- "$2" <<<"$out"; then
		ok "$1"
	else
		not_ok "$1 ('$2' not in output)"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
}

# json_is NAME PYEXPR: PYEXPR over the JSON in $out (as j) is true.
json_is() {
	if python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); sys.exit(0 if ('"$2"') else 1)' <<<"$out" 2>/dev/null; then
		ok "$1"
	else
		not_ok "$1 ($2)"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
}

echo "TAP version 13"
if [ ! -d /sys/class/mdev_bus/vfiosim ] || [ ! -x "$ctl" ] ||
   [ ! -x "$userd" ] || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP vfiosim module, $ctl, $userd or python3 missing"
	exit 4
fi

uuid=$("$ctl" dev add vfiosim-full) || uuid=""
ux=$("$ctl" dev add vfiosim-small) || ux=""
if [ -z "$uuid" ] || [ -z "$ux" ]; then
	echo "1..0 # SKIP vfiosimctl dev add failed"
	exit 1
fi
upid=""
cleanup() {
	[ -z "$upid" ] || { kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null; }
	"$ctl" dev del "$uuid" >/dev/null 2>&1
	"$ctl" dev del "$ux" >/dev/null 2>&1
}
trap cleanup EXIT

run "dev show" 0 "$ctl" -j dev show "$uuid"
json_is "dev show: type and owner" \
	'j["device"]["type"] == "vfiosim-full" and j["device"]["owner"] == "none"'
run "region write scratch" 0 "$ctl" region write "$uuid" bar0 0x10 0xdeadbeef
run "region read scratch" 0 "$ctl" region read "$uuid" bar0 0x10
has "region read: reset at open, reads 0 after the writer closed" "0x00000000"
run "irq over msix" 0 "$ctl" irq "$uuid" --mode msix --count 3
has "irq: a median" "median"

# Fault knobs (debugfs): list, set, provoke, count, reset, bad input.
if [ -d "/sys/kernel/debug/vfiosim/$uuid" ]; then
	run "fault: list" 0 "$ctl" fault "$uuid"
	has "fault: knob header" "^knob  *value  *fired$"
	has "fault: access_fail off, never fired" "^access_fail  *0  *0$"
	has "fault: parameter header" "^parameter  *value$"
	has "fault: access_fail_errno defaults to EIO" "^access_fail_errno  *5$"
	run "fault: list JSON" 0 "$ctl" -j fault "$uuid"
	json_is "fault: JSON names the device, knobs have fired, parameters not" \
		'j["device"] == "'"$uuid"'" and
		 {"access_fail", "dma_stall", "remove_after_ms"} <= {k["name"] for k in j["knobs"]} and
		 all(k["value"] == 0 and k["fired"] == 0 for k in j["knobs"]) and
		 {"access_fail_errno", "dma_fail_status"} <= {p["name"] for p in j["params"]} and
		 all("fired" not in p for p in j["params"])'
	run "fault: set access_fail_errno 6 (ENXIO)" 0 \
		"$ctl" fault "$uuid" access_fail_errno 6
	run "fault: set access_fail_regions BAR0" 0 \
		"$ctl" fault "$uuid" access_fail_regions 1
	run "fault: set access_fail 1" 0 "$ctl" fault "$uuid" access_fail 1
	run "fault: list shows it armed" 0 "$ctl" fault "$uuid"
	has "fault: access_fail 1, not fired yet" "^access_fail  *1  *0$"
	has "fault: access_fail_errno 6" "^access_fail_errno  *6$"
	run "fault: the armed access fails" 1 "$ctl" region read "$uuid" bar0 0x10
	has "fault: region read says ENXIO" "No such device or address"
	has "fault: region read names the command" "region read"
	run "fault: list after it fired (JSON)" 0 "$ctl" -j fault "$uuid"
	json_is "fault: access_fail used up, fired once" \
		'[(k["value"], k["fired"]) for k in j["knobs"] if k["name"] == "access_fail"] == [(0, 1)]'
	run "fault: the next access works" 0 "$ctl" region read "$uuid" bar0 0x10
	has "fault: region read value" "0x00000000"
	run "fault: arm again" 0 "$ctl" fault "$uuid" access_fail 5
	run "fault: 0 turns it off" 0 "$ctl" fault "$uuid" access_fail 0
	run "fault: off, an access works" 0 "$ctl" region read "$uuid" bar0 0x10
	run "fault: list after the reset (JSON)" 0 "$ctl" -j fault "$uuid"
	json_is "fault: 0 reset the parameters, the count stays" \
		'[(k["value"], k["fired"]) for k in j["knobs"] if k["name"] == "access_fail"] == [(0, 1)] and
		 {p["name"]: p["value"] for p in j["params"]}["access_fail_errno"] == 5 and
		 {p["name"]: p["value"] for p in j["params"]}["access_fail_regions"] == 0'

	run "fault: unknown knob" 1 "$ctl" fault "$uuid" no_such_knob 1
	has "fault: unknown knob named, with the device" \
		"device $uuid has no knob 'no_such_knob'"
	run "fault: a _fired count is read-only" 1 \
		"$ctl" fault "$uuid" access_fail_fired 1
	has "fault: read-only named" "access_fail_fired is a count, read-only"
	run "fault: bad value is a usage error" 2 \
		"$ctl" fault "$uuid" access_fail lots
	has "fault: bad value named" "device $uuid knob access_fail: bad value 'lots'"
	run "fault: negative value is a usage error" 2 \
		"$ctl" fault "$uuid" access_fail -1
	run "fault: a value the kernel refuses" 1 \
		"$ctl" fault "$uuid" access_fail 4294967296
	has "fault: the kernel's refusal named" \
		"device $uuid knob access_fail = 4294967296: Invalid argument"
	run "fault: missing VALUE" 2 "$ctl" fault "$uuid" access_fail
	has "fault: missing VALUE named" "missing VALUE for knob 'access_fail'"
	gone=$(python3 -c 'import uuid; print(uuid.uuid4())')
	run "fault: unknown device" 1 "$ctl" fault "$gone"
	has "fault: unknown device named" "no mdev device $gone"
	run "fault: unknown device, setting a knob" 1 \
		"$ctl" fault "$gone" access_fail 1
	has "fault: unknown device named (set)" "no mdev device $gone"
	run "fault: malformed uuid" 1 "$ctl" fault not-a-uuid
	has "fault: malformed uuid named" "invalid uuid 'not-a-uuid'"
	run "fault: a path is not a uuid" 1 "$ctl" fault ../../vfiosim access_fail 1
	has "fault: a path is refused as a uuid" "invalid uuid '../../vfiosim'"
	# The device exists, its knobs do not: debugfs hidden in a mount
	# namespace of its own.
	if command -v unshare >/dev/null; then
		# shellcheck disable=SC2016 # expanded by the inner sh
		run "fault: no debugfs" 1 unshare -m sh -c \
			'mount -t tmpfs none /sys/kernel/debug && exec "$0" fault "$1"' \
			"$ctl" "$uuid"
		has "fault: no debugfs: the device and the cause named" \
			"device $uuid has no fault knobs (/sys/kernel/debug/vfiosim/$uuid: No such file or directory): is debugfs mounted"
	else
		ok "fault: no debugfs # SKIP no unshare(1) for a mount namespace"
	fi
else
	ok "fault knobs # SKIP no /sys/kernel/debug/vfiosim/$uuid (debugfs not mounted)"
fi

# The userd serving the small device, for the unix backend.
rm -f "$sock"
"$userd" --socket "$sock" --device "$ux" 2>/tmp/vfiosim-ctl-userd.log &
upid=$!
for _ in $(seq 100); do
	grep -q listening /tmp/vfiosim-ctl-userd.log 2>/dev/null && break
	sleep 0.1
done

for spec in "vfio:$uuid" "netlink:$uuid" "unix:$sock"; do
	b=${spec%%:*}
	run "$b: dma copy 64 KiB" 0 "$ctl" dma "$spec" copy --len 65536
	has "$b: dma copy checked on the CPU" "checked on the CPU: ok"
	has "$b: dma copy moved every byte" "65536 bytes moved"
	run "$b: dma fill, odd length, crossing a page" 0 \
		"$ctl" -j dma "$spec" fill --len 5001 --pattern 0x1122334455667788
	json_is "$b: dma fill JSON" \
		'j["status"] == "done" and j["done_bytes"] == 5001 and j["check"] == "ok"'
	run "$b: dma csum 1 MiB" 0 "$ctl" -j dma "$spec" csum --len 1048576
	json_is "$b: dma csum matches the CPU's CRC32C" \
		'j["status"] == "done" and j["check"] == "ok" and "crc32c" in j'
done
run "dma: a bad length is a usage error" 2 "$ctl" dma "$uuid" copy --len 0

kill "$upid" 2>/dev/null
wait "$upid"
st=$?
upid=""
[ "$st" -eq 0 ] && ok "userd exits 0 on SIGTERM" ||
	{ not_ok "userd exit status $st"; sed 's/^/# /' /tmp/vfiosim-ctl-userd.log; }
if grep -q "ERROR: \(Address\|Undefined\|Leak\)Sanitizer\|runtime error:" \
	/tmp/vfiosim-ctl-userd.log; then
	not_ok "userd: no sanitizer report"
	sed 's/^/# /' /tmp/vfiosim-ctl-userd.log
else
	ok "userd: no sanitizer report"
fi
run "dev del" 0 "$ctl" dev del "$uuid"
run "dev del (small)" 0 "$ctl" dev del "$ux"
trap - EXIT
echo "1..$n"
[ $failed -eq 0 ]
