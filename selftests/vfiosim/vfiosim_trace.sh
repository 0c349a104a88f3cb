#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The vfiosim tracepoints (kmod/trace.h), read from a private tracefs
# instance: one region access is exactly one event with the right fields
# over every transport (vfio, netlink, unix through vfiosim-userd, which
# reaches the kernel over netlink), and SET_IRQS, an interrupt delivered,
# reset (FLR), open/close, a DMA transfer done and one failed, and the
# migration arcs each show up with their fields, over each of the three;
# a fault knob firing is one event.  trace-cmd and perf (record, script,
# trace) see the same one access.  Runs as root in the test guest, module
# loaded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../userspace/build/asan
ctl=${VFIOSIM_CTL:-$build/vfiosimctl}
userd=${VFIOSIM_USERD:-$build/vfiosim-userd}
sock=/tmp/vfiosim-trace-test.sock
sock2=/tmp/vfiosim-trace-test2.sock
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
tmp=$(mktemp -d /tmp/vfiosim-trace.XXXXXX)

uuid=$("$ctl" dev add vfiosim-full) || uuid=""
ux=$("$ctl" dev add vfiosim-full) || ux=""
upid=""
cleanup() {
	[ -z "$upid" ] || { kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null; }
	[ -z "$uuid" ] || "$ctl" dev del "$uuid" >/dev/null 2>&1
	[ -z "$ux" ] || "$ctl" dev del "$ux" >/dev/null 2>&1
	echo 0 > "$inst/events/vfiosim/enable"
	rmdir "$inst"
	rm -rf -- "$tmp"
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

# trace [-f] CMD...: run CMD with an empty buffer; the events in $tr.
# CMD must succeed, or with -f fail (a transfer that is meant to fail).
tr=""
trace() {
	local want=0 st
	[ "$1" != -f ] || { want=1; shift; }
	: > "$inst/trace"
	"$@" >"$tmp/cmd.log" 2>&1
	st=$?
	if [ $((st != 0)) -ne $want ]; then
		not_ok "command $* exited $st"
		sed 's/^/# /' "$tmp/cmd.log"
	fi
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

# access_tests SPEC DEV TRANSPORT WHO: one write, one read, each one
# event with its fields, from the task WHO (the comm tracefs prints).
access_tests() {
	local spec=$1 dev=$2 transport=$3 who=$4 b=${1%%:*}

	trace "$ctl" region write "$spec" bar0 0x14 0x5ca1ab1e
	count "$b: one write of SCRATCH1" 1 "vfiosim_region_access: dev=$dev " \
		"offset=0x14 "
	count "$b: its fields, from $who" 1 "$who-" "vfiosim_region_access: dev=$dev transport=$transport dir=write region=bar0 offset=0x14 size=4 value=0x5ca1ab1e ret=0"
	trace "$ctl" region read "$spec" bar0 0x0
	count "$b: one read of ID with its value" 1 "$who-" \
		"vfiosim_region_access: dev=$dev transport=$transport dir=read region=bar0 offset=0x0 size=4 value=0x$(printf %x $((VFIOSIM_ID)))"
}

uapi_value() {
	grep -oE "$1[[:space:]=]+(0x[0-9a-fA-F]+|[0-9]+)" \
		"$here/../../uapi/linux/vfiosim.h" | head -n 1 | awk '{print $NF}'
}
VFIOSIM_ID=$(uapi_value VFIOSIM_ID_MAGIC)
ERR_FAULT=$(uapi_value VFIOSIM_DMA_STATUS_ERR_FAULT)
# the comm tracefs shows for a task (15 characters)
comm() { basename "$1" | cut -c1-15; }
ctl_comm=$(comm "$ctl")
userd_comm=$(comm "$userd")

# A fault knob firing: one vfiosim_fault event, and the refused access
# traced with its errno (kmod/fault.c, through vfiosim_fault_fired()).
if "$ctl" fault "$uuid" access_fail_errno 6 >/dev/null &&
   "$ctl" fault "$uuid" access_fail 1 >/dev/null; then
	trace -f "$ctl" region read "vfio:$uuid" bar0 0x0
	count "fault: access_fail firing is one vfiosim_fault event" 1 \
		"vfiosim_fault: dev=$uuid knob=access_fail value=0"
	count "fault: ... and the refused read is traced with ENXIO" 1 \
		"vfiosim_region_access: dev=$uuid transport=vfio dir=read region=bar0 offset=0x0 size=4 value=0x0 ret=-6"
	"$ctl" fault "$uuid" access_fail 0 >/dev/null	# off, parameters back
else
	not_ok "fault: vfiosimctl fault sets access_fail on $uuid"
fi

# backend_tests NAME A B TRANSPORT WHO: over backend NAME, with A the
# spec of $uuid and B that of $ux, every event with its fields, the
# transport (owner) the kernel saw and the task WHO that drove it.
# Events that carry no transport (irq, dma, mig_arc) are checked in
# the session that the open event of the same window names.
backend_tests() {
	local b=$1 a=$2 bs=$3 transport=$4 who=$5
	local opened="vfiosim_open: dev=$uuid owner=$transport ret=0"

	access_tests "$a" "$uuid" "$transport" "$who"
	count "$b: open by $who with the owner" 1 "$who-" "$opened"
	count "$b: close by $who with the owner" 1 "$who-" \
		"vfiosim_close: dev=$uuid owner=$transport ret=0"

	trace "$ctl" irq "$a" --mode msix --count 1
	count "$b: set_irqs: MSI-X eventfd trigger" 1 "$who-" \
		"vfiosim_set_irqs: dev=$uuid transport=$transport index=msix start=0 count=1 flags=data_eventfd|trigger ret=0"
	count "$b: irq: the doorbell's vector delivered, in $who's write" 1 \
		"$who-" "vfiosim_irq: dev=$uuid mode=msix vector=0 fate=delivered"
	count "$b: irq: in a session over $transport" 1 "$who-" "$opened"

	# PCIe DEVCTL (cap 0x80 + 8) with Initiate FLR: a reset.
	trace "$ctl" region write "$a" config 0x88 0x8000 2
	count "$b: reset: an FLR" 1 "$who-" \
		"vfiosim_reset: dev=$uuid owner=$transport ret=0"

	trace "$ctl" dma "$a" copy --len 4096
	count "$b: dma: start, at $who's GO" 1 "$who-" \
		"vfiosim_dma_start: dev=$uuid op=1 src=0x100000000 " \
		"len=4096 status=1 done_bytes=0"
	count "$b: dma: done, every byte" 1 "vfiosim_dma_done: dev=$uuid op=1 " \
		"len=4096 status=2 done_bytes=4096"
	count "$b: dma: no error" 0 "vfiosim_dma_error: dev=$uuid"
	count "$b: dma: in a session over $transport" 1 "$who-" "$opened"

	# dma_fail: the next transfer ends at once in ERR_FAULT.
	if "$ctl" fault "$uuid" dma_fail 1 >/dev/null; then
		trace -f "$ctl" dma "$a" copy --len 4096
		count "$b: dma_fail: one error, ERR_FAULT, nothing moved" 1 \
			"vfiosim_dma_error: dev=$uuid op=1 src=0x100000000 " \
			"len=4096 status=$ERR_FAULT done_bytes=0"
		count "$b: dma_fail: no done" 0 "vfiosim_dma_done: dev=$uuid"
		count "$b: dma_fail: the knob fired once" 1 \
			"vfiosim_fault: dev=$uuid knob=dma_fail value=0"
		count "$b: dma_fail: in a session over $transport" 1 "$who-" "$opened"
	else
		not_ok "$b: vfiosimctl fault sets dma_fail on $uuid"
	fi

	trace "$ctl" mig "$a" "$bs"
	count "$b: mig: source RUNNING -> RUNNING_P2P" 1 "vfiosim_mig_arc: dev=$uuid from=running to=running_p2p state=running_p2p ret=0"
	count "$b: mig: source RUNNING_P2P -> STOP" 1 "vfiosim_mig_arc: dev=$uuid from=running_p2p to=stop state=stop ret=0"
	count "$b: mig: source STOP -> STOP_COPY" 1 "vfiosim_mig_arc: dev=$uuid from=stop to=stop_copy state=stop_copy ret=0"
	count "$b: mig: destination RESUMING -> STOP" 1 "vfiosim_mig_arc: dev=$ux from=resuming to=stop state=stop ret=0"
	count "$b: mig: destination RUNNING_P2P -> RUNNING" 1 "vfiosim_mig_arc: dev=$ux from=running_p2p to=running state=running ret=0"
	count "$b: mig: both devices in sessions over $transport" 2 "$who-" \
		"vfiosim_open: dev=" " owner=$transport ret=0"
}

# One vfiosim-userd for the unix backend: $sock serves $ux, $sock2 $uuid
# (a client's session opens its device over netlink: transport netlink).
rm -f "$sock" "$sock2"
"$userd" --socket "$sock" --device "$ux" --socket "$sock2" --device "$uuid" \
	2>/tmp/vfiosim-trace-userd.log &
upid=$!
for _ in $(seq 100); do
	[ "$(grep -c listening /tmp/vfiosim-trace-userd.log 2>/dev/null)" = 2 ] && break
	sleep 0.1
done

for b in vfio netlink unix; do
	case $b in
	unix) backend_tests unix "unix:$sock2" "unix:$sock" netlink "$userd_comm" ;;
	*) backend_tests "$b" "$b:$uuid" "$b:$ux" "$b" "$ctl_comm" ;;
	esac
done
kill "$upid" 2>/dev/null
wait "$upid" 2>/dev/null
upid=""
echo 0 > "$inst/events/vfiosim/enable"

# The same one write through trace-cmd and perf as a user runs them:
# the top-level tracefs instance, every CPU, every task.  Both are
# packages that scripts/install-deps.sh installs: missing is a failure.
acc=(region write "vfio:$uuid" bar0 0x14 0x5ca1ab1e)
fields="dev=$uuid transport=vfio dir=write region=bar0 offset=0x14 size=4 value=0x5ca1ab1e ret=0"
if ! command -v trace-cmd >/dev/null; then
	not_ok "trace-cmd installed (scripts/install-deps.sh installs it)"
elif (cd "$tmp" && trace-cmd record -o "$tmp/tc.dat" -e vfiosim \
	"$ctl" "${acc[@]}") >"$tmp/tc.log" 2>&1 &&
	tr=$(trace-cmd report -i "$tmp/tc.dat" 2>>"$tmp/tc.log"); then
	ok "trace-cmd record -e vfiosim around one write, then report"
	# report pads event names to a column: one blank after the colon
	tr=$(grep ' vfiosim_[a-z_]*: ' <<<"$tr" |
		sed -E 's/ (vfiosim_[a-z_]+): +/ \1: /')
	count "trace-cmd: one vfiosim_region_access" 1 " vfiosim_region_access: "
	count "trace-cmd: ... with its fields" 1 "$ctl_comm-" \
		" vfiosim_region_access: $fields"
	count "trace-cmd: its open, owner vfio" 1 "$ctl_comm-" \
		" vfiosim_open: dev=$uuid owner=vfio ret=0"
	count "trace-cmd: its close, owner vfio" 1 "$ctl_comm-" \
		" vfiosim_close: dev=$uuid owner=vfio ret=0"
else
	not_ok "trace-cmd record -e vfiosim around one write, then report"
	sed 's/^/# /' "$tmp/tc.log"
fi

if ! command -v perf >/dev/null; then
	not_ok "perf installed (scripts/install-deps.sh installs linux-perf)"
else
	pv=$(perf version 2>&1)
	if perf record -q -N -o "$tmp/perf.data" -a \
		-e vfiosim:vfiosim_region_access -- "$ctl" "${acc[@]}" \
		>"$tmp/perf.log" 2>&1 &&
		tr=$(perf script -i "$tmp/perf.data" 2>>"$tmp/perf.log"); then
		ok "perf record -a -e vfiosim:vfiosim_region_access around one write ($pv)"
		count "perf script: one event, nothing else" 1 ""
		count "perf script: its fields" 1 \
			"$ctl_comm " "vfiosim:vfiosim_region_access: $fields"
	else
		not_ok "perf record -a -e vfiosim:vfiosim_region_access, perf script ($pv)"
		sed 's/^/# /' "$tmp/perf.log"
	fi
	# perf trace prints the raw fields: owner as a number, the one
	# TP_printk maps to "vfio" (read from the event's format file).
	owner_vfio=$(grep -o '{ *[0-9]*, *"vfio" }' \
		"$tracefs/events/vfiosim/vfiosim_region_access/format" |
		grep -o '[0-9]*' | head -n 1)
	if perf trace --no-syscalls -o "$tmp/ptrace.txt" -e 'vfiosim:*' \
		-- "$ctl" "${acc[@]}" >"$tmp/ptrace.log" 2>&1; then
		ok "perf trace --no-syscalls -e 'vfiosim:*' around one write ($pv)"
		if python3 - "$uuid" "$owner_vfio" "$tmp/ptrace.txt" \
			2>"$tmp/ptrace.why" <<'PY'
import re, sys
uuid, owner, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
evs = [m.group(1) for m in
       (re.search(r"vfiosim:vfiosim_region_access\((.*)\)\s*$", l)
        for l in open(path)) if m]
if len(evs) != 1:
    sys.exit("%d vfiosim_region_access lines, want 1" % len(evs))
# "name: value, ..."; perf trace leaves out fields that are 0
f = dict(kv.split(": ", 1) for kv in evs[0].split(", "))
want = {"offset": 0x14, "value": 0x5ca1ab1e, "size": 4, "owner": owner,
        "write": 1, "region": 0, "ret": 0}
got = {k: int(f.get(k, "0"), 0) for k in want}
if f.get("dev") != '"%s"' % uuid or got != want:
    sys.exit("fields %s, want dev \"%s\" and %s" % (f, uuid, want))
PY
		then
			ok "perf trace: one vfiosim_region_access with its fields"
		else
			not_ok "perf trace: one vfiosim_region_access with its fields"
			sed 's/^/# /' "$tmp/ptrace.why" "$tmp/ptrace.txt"
		fi
	else
		not_ok "perf trace --no-syscalls -e 'vfiosim:*' ($pv)"
		sed 's/^/# /' "$tmp/ptrace.log" "$tmp/ptrace.txt" 2>/dev/null
	fi
fi
echo 1 > "$inst/events/vfiosim/enable"

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
