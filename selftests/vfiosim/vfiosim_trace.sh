#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The vfiosim tracepoints (kmod/trace.h), read from a private tracefs
# instance: one region access is exactly one event with the right fields
# over every transport (vfio, netlink, unix through vfiosim-userd, which
# reaches the kernel over netlink), and SET_IRQS, an interrupt delivered,
# reset (FLR), open/close, a DMA transfer, the migration arcs and a fault
# knob firing each show up with their fields.  Runs as root in the test guest, module loaded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../userspace/build/asan
ctl=${VFIOSIM_CTL:-$build/vfiosimctl}
userd=${VFIOSIM_USERD:-$build/vfiosim-userd}
sock=/tmp/vfiosim-trace-test.sock
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

echo "TAP version 13"
if [ ! -d /sys/class/mdev_bus/vfiosim ] || [ ! -x "$ctl" ] || [ ! -x "$userd" ]; then
	echo "1..0 # SKIP vfiosim module, $ctl or $userd missing"
	exit 4
fi
tracefs=/sys/kernel/tracing
if [ ! -e $tracefs/trace ]; then
	mount -t tracefs nodev $tracefs 2>/dev/null
fi
if [ ! -d $tracefs/events/vfiosim ]; then
	echo "1..0 # SKIP no tracefs events/vfiosim (tracefs at $tracefs?)"
	exit 4
fi
inst=$tracefs/instances/vfiosim-trace-test.$$
mkdir "$inst" || { echo "1..0 # SKIP cannot create a tracefs instance"; exit 4; }

uuid=$("$ctl" dev add vfiosim-full) || uuid=""
ux=$("$ctl" dev add vfiosim-full) || ux=""
upid=""
cleanup() {
	[ -z "$upid" ] || { kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null; }
	[ -z "$uuid" ] || "$ctl" dev del "$uuid" >/dev/null 2>&1
	[ -z "$ux" ] || "$ctl" dev del "$ux" >/dev/null 2>&1
	echo 0 > "$inst/events/vfiosim/enable"
	rmdir "$inst"
}
trap cleanup EXIT
[ -n "$uuid" ] && [ -n "$ux" ] || { echo "1..0 # SKIP dev add failed"; exit 1; }

events="vfiosim_region_access vfiosim_set_irqs vfiosim_irq vfiosim_open
	vfiosim_close vfiosim_reset vfiosim_dma_start vfiosim_dma_done
	vfiosim_dma_error vfiosim_mig_arc vfiosim_fault"
for e in $events; do
	if [ -e "$tracefs/events/vfiosim/$e/format" ]; then
		ok "event $e in tracefs"
	else
		not_ok "event $e in tracefs"
	fi
done
echo 1 > "$inst/events/vfiosim/enable"

# trace CMD...: run CMD with an empty buffer; the events in $tr.
tr=""
trace() {
	: > "$inst/trace"
	"$@" >/tmp/vfiosim-trace-cmd.log 2>&1 ||
		{ not_ok "command $* failed"; sed 's/^/# /' /tmp/vfiosim-trace-cmd.log; }
	tr=$(grep -v '^#' "$inst/trace")
}

# count NAME WANT PATTERN...: lines of $tr matching every PATTERN.
count() {
	local name=$1 want=$2 got lines
	shift 2
	lines=$tr
	for p in "$@"; do
		lines=$(grep -F -- "$p" <<<"$lines")
	done
	got=$(grep -c . <<<"$lines")
	if [ "$got" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name ($got lines, want $want)"
		printf '%s\n' "$tr" | sed 's/^/# /'
	fi
}

access_tests() {
	local spec=$1 dev=$2 transport=$3 b=${1%%:*}

	trace "$ctl" region write "$spec" bar0 0x14 0x5ca1ab1e
	count "$b: one write of SCRATCH1" 1 "vfiosim_region_access: dev=$dev " \
		"offset=0x14 "
	count "$b: its fields" 1 "vfiosim_region_access: dev=$dev transport=$transport dir=write region=bar0 offset=0x14 size=4 value=0x5ca1ab1e ret=0"
	trace "$ctl" region read "$spec" bar0 0x0
	count "$b: one read of ID with its value" 1 \
		"vfiosim_region_access: dev=$dev transport=$transport dir=read region=bar0 offset=0x0 size=4 value=0x$(printf %x $((VFIOSIM_ID)))"
}

VFIOSIM_ID=$(grep -o 'VFIOSIM_ID_MAGIC[[:space:]]*0x[0-9a-fA-F]*' \
	"$here/../../uapi/linux/vfiosim.h" | awk '{print $2}')

access_tests "vfio:$uuid" "$uuid" vfio
count "vfio: open with the owner" 1 "vfiosim_open: dev=$uuid owner=vfio ret=0"
count "vfio: close with the owner" 1 "vfiosim_close: dev=$uuid owner=vfio ret=0"
# A fault knob firing: one vfiosim_fault event, and the refused access
# traced with its errno (kmod/fault.c, through vfiosim_fault_fired()).
if "$ctl" fault "$uuid" access_fail_errno 6 >/dev/null &&
   "$ctl" fault "$uuid" access_fail 1 >/dev/null; then
	: > "$inst/trace"
	"$ctl" region read "vfio:$uuid" bar0 0x0 >/dev/null 2>&1
	tr=$(grep -v '^#' "$inst/trace")
	count "fault: access_fail firing is one vfiosim_fault event" 1 \
		"vfiosim_fault: dev=$uuid knob=access_fail value=0"
	count "fault: ... and the refused read is traced with ENXIO" 1 \
		"vfiosim_region_access: dev=$uuid transport=vfio dir=read region=bar0 offset=0x0 size=4 value=0x0 ret=-6"
	"$ctl" fault "$uuid" access_fail_errno 0 >/dev/null
else
	not_ok "fault: vfiosimctl fault sets access_fail on $uuid"
fi
access_tests "netlink:$uuid" "$uuid" netlink
count "netlink: open with the owner" 1 "vfiosim_open: dev=$uuid owner=netlink ret=0"
count "netlink: close with the owner" 1 "vfiosim_close: dev=$uuid owner=netlink ret=0"

rm -f "$sock"
"$userd" --socket "$sock" --device "$ux" 2>/tmp/vfiosim-trace-userd.log &
upid=$!
for _ in $(seq 100); do
	grep -q listening /tmp/vfiosim-trace-userd.log 2>/dev/null && break
	sleep 0.1
done
access_tests "unix:$sock" "$ux" netlink
kill "$upid" 2>/dev/null
wait "$upid" 2>/dev/null
upid=""

trace "$ctl" irq "vfio:$uuid" --mode msix --count 1
count "set_irqs: MSI-X eventfd trigger" 1 \
	"vfiosim_set_irqs: dev=$uuid transport=vfio index=msix start=0 count=1 flags=data_eventfd|trigger ret=0"
count "irq: the doorbell's vector delivered" 1 \
	"vfiosim_irq: dev=$uuid mode=msix vector=0 fate=delivered"

# PCIe DEVCTL (cap 0x80 + 8) with Initiate FLR: a reset.
trace "$ctl" region write "vfio:$uuid" config 0x88 0x8000 2
count "reset: an FLR" 1 "vfiosim_reset: dev=$uuid owner=vfio ret=0"

trace "$ctl" dma "vfio:$uuid" copy --len 4096
count "dma: start" 1 "vfiosim_dma_start: dev=$uuid op=1 src=0x100000000 " "len=4096 status=1 done_bytes=0"
count "dma: done, every byte" 1 "vfiosim_dma_done: dev=$uuid op=1 " "len=4096 status=2 done_bytes=4096"
count "dma: no error" 0 "vfiosim_dma_error: dev=$uuid"

trace "$ctl" mig "$uuid" "$ux"
count "mig: source RUNNING -> RUNNING_P2P" 1 "vfiosim_mig_arc: dev=$uuid from=running to=running_p2p state=running_p2p ret=0"
count "mig: source RUNNING_P2P -> STOP" 1 "vfiosim_mig_arc: dev=$uuid from=running_p2p to=stop state=stop ret=0"
count "mig: source STOP -> STOP_COPY" 1 "vfiosim_mig_arc: dev=$uuid from=stop to=stop_copy state=stop_copy ret=0"
count "mig: destination RESUMING -> STOP" 1 "vfiosim_mig_arc: dev=$ux from=resuming to=stop state=stop ret=0"

# vfiosimctl trace -j: the device's events only, as JSON, until SIGINT.
"$ctl" -j trace "$uuid" >/tmp/vfiosim-trace-ctl.json 2>&1 &
tpid=$!
# events reach the instance's buffer once it has them enabled
for _ in $(seq 100); do
	[ "$(cat $tracefs/instances/vfiosimctl-$tpid/events/vfiosim/enable 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
"$ctl" region write "$ux" bar0 0x14 1 >/dev/null 2>&1
"$ctl" region write "$uuid" bar0 0x14 0x5ca1ab1e >/dev/null 2>&1
sleep 1
kill -INT $tpid
wait $tpid
st=$?
[ "$st" -eq 0 ] && ok "trace: exits 0 on SIGINT" || not_ok "trace: exit status $st"
if python3 - "$uuid" /tmp/vfiosim-trace-ctl.json <<'PY'
import json, sys
uuid, evs = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
acc = [e for e in evs if e["event"] == "vfiosim_region_access" and
       e["region"] == "bar0" and e["offset"] == 0x14]
sys.exit(0 if all(e["dev"] == uuid for e in evs) and len(acc) == 1 and
         acc[0]["value"] == 0x5ca1ab1e and acc[0]["dir"] == "write" and
         acc[0]["transport"] == "vfio" and acc[0]["ret"] == 0 and
         acc[0]["size"] == 4 and
         any(e["event"] == "vfiosim_open" for e in evs) else 1)
PY
then
	ok "trace -j: one write event of this device, with its fields"
else
	not_ok "trace -j: the events"
	sed 's/^/# /' /tmp/vfiosim-trace-ctl.json
fi
if ls -d $tracefs/instances/vfiosimctl-* >/dev/null 2>&1; then
	not_ok "trace: its tracefs instance is gone after SIGINT"
else
	ok "trace: its tracefs instance is gone after SIGINT"
fi

if grep -q "ERROR: \(Address\|Undefined\|Leak\)Sanitizer\|runtime error:" \
	/tmp/vfiosim-trace-userd.log; then
	not_ok "userd: no sanitizer report"
	sed 's/^/# /' /tmp/vfiosim-trace-userd.log
else
	ok "userd: no sanitizer report"
fi
# Issue 10: every interrupt is exactly one vfiosim_irq event with its
# fate; a reset puts the migration FSM back to RUNNING with an arc (from
# ERROR too); refused SET_IRQS and resets, and the reset at every owner
# change, are traced with their errno.  Own devices; the C selftests
# (built next to this script) drive what vfiosimctl cannot: a mask held
# across doorbells, a malformed SET_IRQS, a refused VFIO_DEVICE_RESET.
fate_tests() {
	local d e st t irqt=$here/build/vfiosim_irq_test
	local faultt=$here/build/vfiosim_fault_test

	d=$("$ctl" dev add vfiosim-full) || d=""
	e=$("$ctl" dev add vfiosim-full) || e=""
	if [ -z "$d" ] || [ -z "$e" ]; then
		not_ok "fate: dev add vfiosim-full"
		return
	fi
	# fate_run CMD...: as trace, for a command meant to fail; $st its status
	fate_run() {
		: > "$inst/trace"
		"$@" >/tmp/vfiosim-trace-cmd.log 2>&1
		st=$?
		tr=$(grep -v '^#' "$inst/trace")
	}
	# fate_pass NAME CMD...: fate_run, for a C selftest case that must pass
	fate_pass() {
		local name=$1

		shift
		fate_run "$@"
		if [ "$st" -eq 0 ]; then
			ok "$name"
		else
			not_ok "$name (exit status $st)"
			sed 's/^/# /' /tmp/vfiosim-trace-cmd.log
		fi
	}

	trace "$ctl" irq "vfio:$d" --mode msi
	count "fate: MSI doorbell is one irq event" 1 "vfiosim_irq: dev=$d "
	count "fate: ... delivered" 1 "vfiosim_irq: dev=$d mode=msi vector=0 fate=delivered"
	trace "$ctl" irq "vfio:$d" --mode intx
	count "fate: INTx doorbell is one irq event" 1 "vfiosim_irq: dev=$d "
	count "fate: ... delivered" 1 "vfiosim_irq: dev=$d mode=intx vector=0 fate=delivered"

	# REQ with no eventfd set: signalled through vfiosim_signal(), lost
	trace "$ctl" fault "$d" req 1
	count "fate: REQ without an eventfd is one irq event" 1 "vfiosim_irq: dev=$d "
	count "fate: ... no_trigger" 1 "vfiosim_irq: dev=$d mode=req vector=0 fate=no_trigger"

	if "$ctl" fault "$d" irq_drop 1 >/dev/null; then
		fate_run "$ctl" irq "vfio:$d" --mode msi
		[ "$st" -ne 0 ] && ok "fate: irq_drop: vfiosimctl irq times out" ||
			not_ok "fate: irq_drop: vfiosimctl irq exit status $st"
		count "fate: irq_drop: one irq event" 1 "vfiosim_irq: dev=$d "
		count "fate: ... fault_dropped" 1 "vfiosim_irq: dev=$d mode=msi vector=0 fate=fault_dropped"
	else
		not_ok "fate: vfiosimctl fault sets irq_drop on $d"
	fi

	if "$ctl" fault "$d" irq_delay_us 20000 >/dev/null; then
		trace "$ctl" irq "vfio:$d" --mode msix
		count "fate: irq_delay_us: two irq events" 2 "vfiosim_irq: dev=$d "
		count "fate: ... fault_delayed" 1 "vfiosim_irq: dev=$d mode=msix vector=0 fate=fault_delayed"
		count "fate: ... then delivered" 1 "vfiosim_irq: dev=$d mode=msix vector=0 fate=delivered"
		if grep "vfiosim_irq: dev=$d " <<<"$tr" | head -1 | grep -q fate=fault_delayed; then
			ok "fate: ... fault_delayed comes first"
		else
			not_ok "fate: ... fault_delayed comes first"
		fi
		"$ctl" fault "$d" irq_delay_us 0 >/dev/null
	else
		not_ok "fate: vfiosimctl fault sets irq_delay_us on $d"
	fi

	# A mask held across a doorbell: pending, then delivered once released
	if [ -x "$irqt" ]; then
		fate_pass "fate: intx_vfio_mask_holds_back passes" \
			"$irqt" -r vfiosim.vfio_full.intx_vfio_mask_holds_back
		count "fate: INTx under the VFIO mask: two irq events" 2 "vfiosim_irq: "
		count "fate: ... pending" 1 "mode=intx vector=0 fate=pending"
		count "fate: ... delivered at the unmask" 1 "mode=intx vector=0 fate=delivered"
		fate_pass "fate: intx_disable_bit_holds_back passes" \
			"$irqt" -r vfiosim.vfio_full.intx_disable_bit_holds_back
		count "fate: INTx under INTX_DISABLE: two irq events" 2 "vfiosim_irq: "
		count "fate: ... pending" 1 "mode=intx vector=0 fate=pending"
		fate_pass "fate: msi_irq_mask_register_holds_back passes" \
			"$irqt" -r vfiosim.vfio_full.msi_irq_mask_register_holds_back
		count "fate: MSI under IRQ_MASK: two irq events" 2 "vfiosim_irq: "
		count "fate: ... pending" 1 "mode=msi vector=31 fate=pending"
		count "fate: ... delivered at the unmask" 1 "mode=msi vector=31 fate=delivered"
		# two data types: refused by vfio_set_irqs_validate_and_prepare()
		for t in vfio netlink; do
			fate_pass "set_irqs: $t: set_irqs_rejects_bad_requests passes" \
				"$irqt" -r "vfiosim.${t}_full.set_irqs_rejects_bad_requests"
			count "set_irqs: $t: a refused request traced with EINVAL" 1 \
				"transport=$t index=msi start=0 count=1 flags=data_none|data_bool|trigger ret=-22"
		done
	else
		not_ok "fate: $irqt missing (make -C selftests/vfiosim)"
	fi

	if [ -x "$faultt" ]; then
		fate_pass "reset: reset_fail passes" \
			"$faultt" -r vfiosim.vfio_full.reset_fail
		count "reset: refused by reset_fail, with EBUSY" 1 "vfiosim_reset: dev=" " owner=vfio ret=-16"
		count "reset: ... and the next one done" 1 "vfiosim_reset: dev=" " owner=vfio ret=0"
	else
		not_ok "reset: $faultt missing (make -C selftests/vfiosim)"
	fi

	# an open and a close: two owner resets, no reset a user asked for
	trace "$ctl" region read "vfio:$d" bar0 0x0
	count "reset: open and close reset the device" 2 "vfiosim_owner_reset: dev=$d owner=vfio ret=0"
	count "reset: ... and are not vfiosim_reset" 0 "vfiosim_reset: dev=$d "

	# a refused arc breaks the device; the close resets it out of ERROR
	if "$ctl" fault "$d" mig_refuse_arc 1 >/dev/null; then
		fate_run "$ctl" mig "$d" "$e"
		[ "$st" -ne 0 ] && ok "mig: a refused arc fails vfiosimctl mig" ||
			not_ok "mig: vfiosimctl mig exit status $st with mig_refuse_arc"
		count "mig: the refused arc breaks the device" 1 \
			"vfiosim_mig_arc: dev=$d from=running to=running_p2p state=error ret=-5 cause=set_state"
		count "mig: the close resets ERROR -> RUNNING" 1 \
			"vfiosim_mig_arc: dev=$d from=error to=running state=running ret=0 cause=reset"
	else
		not_ok "mig: vfiosimctl fault sets mig_refuse_arc on $d"
	fi

	"$ctl" dev del "$d" >/dev/null 2>&1
	"$ctl" dev del "$e" >/dev/null 2>&1
}
fate_tests

echo "1..$n"
[ $failed -eq 0 ]
