#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A nested guest drives the device through a real VMM.  Runs as root in the
# test VM (L1) with vfiosim loaded: creates a device, boots a second guest
# (L2: this kernel, a busybox initramfs from nested/mkinitramfs.sh) with
# QEMU presenting the device as a PCI function behind a vIOMMU, and nests
# the TAP that L2's probe (nested/vfiosim_nested_probe.c) prints.
#
#   vfiosim_nested.sh [vfio-pci] [vfio-user]
#
# VMM paths:
#   vfio-pci   -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/UUID
#   vfio-user  -device vfio-user-pci on the socket of vfiosim-userd serving
#              the device (QEMU >= 10.1), guest RAM in a shared memfd
# Default (or VFIOSIM_NESTED_PATHS): vfio-pci on QEMU < 10.1, both on newer
# QEMU.  Several paths boot their L2s at the same time.
#
# Then a fault phase (VFIOSIM_NESTED_FAULT=0 leaves it out), once L2's
# init says "fault-ready", each path with its own fault:
#   vfio-pci   the device is removed while QEMU holds it: the VFIO core
#              sends REQ, QEMU asks L2 to unplug the function (it sits in
#              a hot-pluggable root port), L2 must eject it, and the
#              removal must complete; a new device works afterwards
#   vfio-user  vfiosim-userd holds every reply past QEMU's message
#              timeout while L2 reads a register (probe --watch); L2 says
#              what the read returned and when, and the daemon and device
#              serve another client afterwards
# What QEMU prints under the fault is reported, not judged.
#
# Environment: VFIOSIM_NESTED=0 (skip, reported as such),
# VFIOSIM_NESTED_TYPE (vfiosim-full), VFIOSIM_NESTED_TIMEOUT
# (seconds per L2; VFIOSIM_TEST_TIMEOUT - 120, so 780), VFIOSIM_NESTED_MEM
# (MB, 256), VFIOSIM_NESTED_CACHE
# (initramfs cache; default build/nested/KVER here if writable, else /tmp),
# VFIOSIM_USERD (vfiosim-userd binary; the ASan build), VFIOSIM_ACCEL.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
probe=$here/build/vfiosim_nested_probe
userd=${VFIOSIM_USERD:-$repo/userspace/build/asan/vfiosim-userd}
ctl=$repo/userspace/build/asan/vfiosimctl
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
type=${VFIOSIM_NESTED_TYPE:-vfiosim-full}
# run_vm_suite.sh kills a test after VFIOSIM_TEST_TIMEOUT (900 s): time
# L2 out before that, so that what it did is still reported.
l2_timeout=${VFIOSIM_NESTED_TIMEOUT:-$((${VFIOSIM_TEST_TIMEOUT:-900} - 120))}
l2_mem=${VFIOSIM_NESTED_MEM:-256}
with_fault=${VFIOSIM_NESTED_FAULT:-1}
# vfio-user: QEMU waits this long for a reply (sized for nested TCG), and
# the fault holds replies longer
msg_timeout_ms=30000
hold_ms=35000
kver=$(uname -r)
qemu=$(command -v qemu-system-x86_64)
# shellcheck source=nested/lib.sh
. "$here/nested/lib.sh"
# shellcheck source-path=SCRIPTDIR source=nested/userd_fired.sh
. "$here/nested/userd_fired.sh"

echo "TAP version 13"
if [ "${VFIOSIM_NESTED:-1}" = 0 ]; then
	echo "1..0 # SKIP VFIOSIM_NESTED=0: no nested guest on this kernel in this run"
	exit 4
fi
nested_preconditions "$qemu" "$types" "$type" "$kver"

qver=$("$qemu" --version | sed -nE '1s/.*version ([0-9]+)\.([0-9]+).*/\1 \2/p')
read -r qmaj qmin <<<"$qver"
qnum=$((qmaj * 100 + qmin))
paths=${*:-${VFIOSIM_NESTED_PATHS:-}}
if [ -z "$paths" ]; then
	if [ "$qnum" -ge 1001 ]; then paths="vfio-pci vfio-user"; else paths=vfio-pci; fi
fi
echo "# QEMU $qmaj.$qmin ($qemu), kernel $kver, paths: $paths, type $type"
for p in $paths; do
	case $p in vfio-pci | vfio-user) ;;
	*) echo "# unknown path '$p' (vfio-pci or vfio-user)"; not_ok "known VMM path $p"; finish ;;
	esac
done

check "probe built ($probe)" test -x "$probe" || finish

# --- L2 boot files, cached per kernel ---------------------------------------

t0=$(date +%s)
nested_boot_files "$kver" "${VFIOSIM_NESTED_CACHE:-$(nested_cache nested)}" "$probe"

accel=tcg
if [ -x "$repo/scripts/vm/accel.sh" ]; then
	accel=$("$repo/scripts/vm/accel.sh" "$qemu" "$image" 2>/dev/null) || accel=tcg
fi
echo "# L2 kernel $image, accel $accel, ${l2_mem} MB, timeout ${l2_timeout} s each"

# --- boot one L2 per path ---------------------------------------------------

tmp=$(mktemp -d)
declare -A dir pid uuid upid fault fstate errsize rpid
# shellcheck disable=SC2317 # called from the trap
cleanup() {
	stop_all "${pid[@]}" "${upid[@]}"
	# a removal under fault ends once its QEMU is gone
	for p in "${!rpid[@]}"; do [ -n "${rpid[$p]}" ] && wait "${rpid[$p]}"; done
	remove_devices "${uuid[@]}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start_l2 PATH: create the device (and its server), start QEMU in the
# background.  False if it could not get that far (already reported).
start_l2() {
	local p=$1 d=$tmp/$1 u
	mkdir -p "$d"
	dir[$p]=$d
	u=$(cat /proc/sys/kernel/random/uuid)
	if ! echo "$u" >"$types/$type/create"; then
		not_ok "$p: create a $type device"
		return 1
	fi
	uuid[$p]=$u
	case $p in
	vfio-pci)
		[ "$with_fault" = 1 ] && fault[$p]=eject
		;;
	vfio-user)
		if [ ! -x "$userd" ]; then
			not_ok "$p: vfiosim-userd built ($userd)"
			return 1
		fi
		if ! "$qemu" -device vfio-user-pci,help >/dev/null 2>&1; then
			not_ok "$p: QEMU $qmaj.$qmin has vfio-user-pci"
			return 1
		fi
		"$userd" --socket "$d/userd.sock" --control "$d/control.sock" \
			--device "$u" 2>"$d/userd.log" &
		upid[$p]=$!
		for _ in $(seq 100); do
			grep -q '^vfiosim-userd: listening on' "$d/userd.log" && break
			kill -0 "${upid[$p]}" 2>/dev/null || break
			sleep 0.1
		done
		if ! grep -q '^vfiosim-userd: listening on' "$d/userd.log"; then
			sed 's/^/# userd: /' "$d/userd.log"
			not_ok "$p: vfiosim-userd serves $u on $d/userd.sock"
			return 1
		fi
		ok "$p: vfiosim-userd serves $u on $d/userd.sock"
		[ "$with_fault" = 1 ] && fault[$p]=hold
		;;
	esac
	boot_l2 "$p"
}

# boot_l2 PATH: start QEMU on the path's device, in the background
boot_l2() {
	local p=$1 d=${dir[$1]} u=${uuid[$1]} machine=q35 dev mem nonce extra=() args

	mem=(-m "$l2_mem")
	case $p in
	vfio-pci)
		dev="vfio-pci,sysfsdev=/sys/bus/mdev/devices/$u"
		if [ "$with_fault" = 1 ]; then
			# a root port, so that the function can be unplugged
			extra=(-device "pcie-root-port,id=rp0,chassis=1")
			dev=$dev,bus=rp0
		fi
		;;
	vfio-user)
		# QEMU waits 5 s of wall time for a reply, sized for hardware; a
		# TCG guest on a loaded host can stall longer than that.
		dev="{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$d/userd.sock\"},\"x-msg-timeout\":$msg_timeout_ms}"
		# The server maps guest RAM for DMA: it must be a shareable fd.
		mem=(-m "$l2_mem" -object "memory-backend-memfd,id=mem,size=${l2_mem}M,share=on")
		machine=q35,memory-backend=mem
		;;
	esac
	args="$L2_CMDLINE intel_iommu=on"
	# The held read stops L2's only vCPU for the whole timeout, on
	# purpose: L2's lockup and RCU stall detectors would take it for a
	# hung CPU.
	case ${fault[$p]:-} in
	eject) args="$args vfiosim_fault=eject" ;;
	hold) args="$args vfiosim_fault=hold nosoftlockup rcupdate.rcu_cpu_stall_suppress=1" ;;
	esac
	[ "$accel" = kvm ] && machine=$machine,kernel-irqchip=split
	nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	echo "$nonce" >"$d/nonce"
	: >"$d/console.log"
	date +%s >"$d/start"
	timeout -k 10 "$l2_timeout" "$qemu" -name "vfiosim-nested-$p" \
		-machine "$machine" -accel "$accel" -cpu max -smp 1 "${mem[@]}" \
		-nodefaults -no-user-config -nographic -monitor none \
		-serial "file:$d/console.log" -no-reboot \
		-device intel-iommu,caching-mode=on "${extra[@]}" \
		-device "$dev" \
		-kernel "$image" -initrd "$initrd" \
		-append "$args vfiosim_nested=$nonce" \
		</dev/null >"$d/qemu.out" 2>"$d/qemu.err" &
	pid[$p]=$!
	echo "# $p: L2 booting (qemu pid ${pid[$p]}, device $u)"
}

# delay PATH MS: set the path's daemon's delay_reply_ms; prints its knobs
delay() { "$ctl" fault --control "${dir[$1]}/control.sock" "${uuid[$1]}" delay_reply_ms "$2"; }

# fault_step PATH: arm the path's fault once L2 is ready for it, and
# release a hold once L2 has seen it
fault_step() {
	local p=$1 d=${dir[$1]} u=${uuid[$1]} nonce
	[ -n "${fault[$p]:-}" ] || return 0
	nonce=$(cat "$d/nonce")
	case ${fstate[$p]:-}:${fault[$p]} in
	:*)
		grep -qa "=== vfiosim-nested $nonce fault-ready ===" "$d/console.log" || return 0
		errsize[$p]=$(stat -c %s "$d/qemu.err")
		date +%s >"$d/fault.start"
		if [ "${fault[$p]}" = eject ]; then
			echo "# $p: fault: removing $u while QEMU holds it"
			(
				st=0
				echo 1 >"/sys/bus/mdev/devices/$u/remove" || st=1
				echo "$st" >"$d/remove.rc"
				date +%s >"$d/remove.done"
			) 2>"$d/remove.err" &
			rpid[$p]=$!
		else
			echo "# $p: fault: userd holds replies $hold_ms ms (QEMU waits $msg_timeout_ms ms):" \
				"$(delay "$p" "$hold_ms" 2>&1)"
		fi
		fstate[$p]=armed
		;;
	armed:hold)
		grep -qa "=== vfiosim-nested $nonce fault-seen ===" "$d/console.log" || return 0
		echo "# $p: fault: L2 saw the held read; replies flow again:" \
			"$(delay "$p" 0 2>&1)"
		fstate[$p]=released
		;;
	esac
}

declare -A started
for p in $paths; do
	start_l2 "$p" && started[$p]=1
done

# Wait for all, saying every 30 s how far each got.
declare -A seen_begin done_at rebooted
last_beat=$(date +%s)
while :; do
	running=0
	for p in "${!started[@]}"; do
		[ -n "${done_at[$p]:-}" ] && continue
		d=${dir[$p]}
		if [ -z "${seen_begin[$p]:-}" ] &&
			grep -qa "=== vfiosim-nested $(cat "$d/nonce") begin ===" "$d/console.log"; then
			seen_begin[$p]=$(($(date +%s) - $(cat "$d/start")))
		fi
		if kill -0 "${pid[$p]}" 2>/dev/null; then
			running=$((running + 1))
			fault_step "$p"
		else
			wait "${pid[$p]}"
			echo $? >"$d/rc"
			if [ -z "${seen_begin[$p]:-}" ] && [ -z "${rebooted[$p]:-}" ] &&
				grep -qa 'Kernel panic' "$d/console.log"; then
				# TCG inside TCG has panicked L2's kernel in its
				# early boot, long before any driver ran: once,
				# boot it again, and keep the first console.
				echo "# $p: L2's kernel panicked before its init:" \
					"$(grep -a -m1 -E 'RIP:|Kernel panic' "$d/console.log" | tr -d '\r')"
				echo "# $p: booting L2 once more (first console kept as console-1.log)"
				cp "$d/console.log" "$d/console-1.log"
				rebooted[$p]=1
				boot_l2 "$p"
				running=$((running + 1))
				continue
			fi
			done_at[$p]=$(($(date +%s) - $(cat "$d/start")))
			pid[$p]=
			echo "# $p: qemu exited after ${done_at[$p]} s"
		fi
	done
	[ $running -eq 0 ] && break
	now=$(date +%s)
	if [ $((now - last_beat)) -ge 30 ]; then
		last_beat=$now
		for p in "${!started[@]}"; do
			[ -n "${done_at[$p]:-}" ] && continue
			d=${dir[$p]}
			if [ -z "${seen_begin[$p]:-}" ]; then
				echo "# $p: L2 booting... $((now - $(cat "$d/start"))) s"
			else
				echo "# $p: L2 probe running... $((now - $(cat "$d/start"))) s," \
					"$(grep -ac '^\(not \)\?ok ' "$d/console.log") results so far"
			fi
		done
	fi
	sleep 2
done

# --- results ----------------------------------------------------------------

# section FILE FROM TO: the lines between two marker lines, CRs stripped
section() {
	tr -d '\r' <"$1" | sed -n "/$2\$/,/$3\$/{/$2\$/d;/$3\$/d;p}"
}

report_l2() {
	local p=$1 d=${dir[$1]} nonce rc body lines
	nonce=$(cat "$d/nonce")
	rc=$(cat "$d/rc")
	body=$d/body
	section "$d/console.log" "=== vfiosim-nested $nonce begin ===" \
		"=== vfiosim-nested $nonce end ===" >"$body"
	section "$d/console.log" "=== vfiosim-nested $nonce dmesg ===" \
		"=== vfiosim-nested $nonce dmesg end ===" >"$d/dmesg"

	echo "# $p: L2 init after ${seen_begin[$p]:-?} s (5 s polls), qemu done after ${done_at[$p]} s"
	if [ -n "${seen_begin[$p]:-}" ]; then
		ok "$p: QEMU started with the device and L2 booted to its init"
	else
		not_ok "$p: QEMU started with the device and L2 booted to its init"
		grep -q 'Kernel panic' "$d/console.log" && echo "# $p: L2's kernel panicked"
		sed 's/^/# qemu: /' "$d/qemu.err"
		echo "# last lines of the L2 console:"
		tr -d '\r' <"$d/console.log" | tail -n 30 | sed 's/^/#   /'
	fi

	nest_l2_tap "$body" "$p: "
	if [ -n "${seen_begin[$p]:-}" ]; then
		check "$p: probe ran to its plan ($l2_count of ${l2_plan:-no plan})" \
			test -n "$l2_plan" -a "$l2_count" = "${l2_plan:-x}"
	fi
	check_l2_dmesg "$d/dmesg" "$p: "
	if [ "${fault[$p]:-}" = hold ] && [ -n "${fstate[$p]:-}" ]; then
		# after a reply it gave up on, what QEMU does to the rest of the
		# guest's life is its own business
		echo "# $p: L2 powered off after the fault, qemu exit status $rc (reported, not judged)"
	else
		check "$p: L2 powered off, qemu exit status $rc" test "$rc" = 0
	fi
	[ "$rc" = 124 ] && echo "# $p: killed after ${l2_timeout} s"
	lines=$(wc -l <"$d/qemu.err")
	if [ "$lines" -le 30 ]; then
		sed 's/^/# qemu stderr: /' "$d/qemu.err"
	else
		head -n 20 "$d/qemu.err" | sed 's/^/# qemu stderr: /'
		echo "# qemu stderr: ... $((lines - 30)) more lines ..."
		tail -n 10 "$d/qemu.err" | sed 's/^/# qemu stderr: /'
	fi
	if [ -n "${fault[$p]:-}" ] && [ -n "${seen_begin[$p]:-}" ]; then
		check "$p: fault: L2 reached the fault phase (${fault[$p]})" test -n "${fstate[$p]:-}"
	fi
	if [ -n "${errsize[$p]:-}" ]; then
		check "$p: QEMU printed no error or warning before the fault" \
			test "${errsize[$p]}" = 0
	else
		check "$p: QEMU printed no error or warning" test ! -s "$d/qemu.err"
	fi
	# Keep L2's console for a look afterwards.
	if [ -n "${VFIOSIM_RESULTS:-}" ] && [ -d "$VFIOSIM_RESULTS" ]; then
		tr -d '\r' <"$d/console.log" >"$VFIOSIM_RESULTS/nested-$p-console.log"
		[ -f "$d/console-1.log" ] &&
			tr -d '\r' <"$d/console-1.log" >"$VFIOSIM_RESULTS/nested-$p-console-1.log"
	fi
}

stop_userd() {
	local p=$1 d=${dir[$1]} st
	[ -n "${upid[$p]:-}" ] || return 0
	kill -TERM "${upid[$p]}"
	wait "${upid[$p]}"
	st=$?
	upid[$p]=
	check "$p: vfiosim-userd exits 0 on SIGTERM (status $st)" test $st = 0
	[ -d "${VFIOSIM_RESULTS:-}" ] && cp "$d/userd.log" "$VFIOSIM_RESULTS/nested-$p-userd.log"
	if grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$d/userd.log"; then
		not_ok "$p: no sanitizer report from vfiosim-userd"
		sed 's/^/# userd: /' "$d/userd.log" | head -n 60
	else
		ok "$p: no sanitizer report from vfiosim-userd"
	fi
	grep -iE 'error|reject|refus|unsupported' "$d/userd.log" | sort | uniq -c |
		head -n 20 | sed 's/^/# userd: /'
}

# L2 wrote its last pattern into BAR2 (the probe read it back through its
# own mapping).  The device resets at close, as vfio-pci resets the function,
# so once the VMM has let go L1, the next user, must read zeros there: at
# the first, middle and last word (the last page is the one QEMU traps).
bar2_from_l1() {
	local p=$1 u=${uuid[$1]} size off got bad=0
	grep -q '^ok .*BAR2 keeps pattern 2' "${dir[$p]}/body" 2>/dev/null || return 0
	[ -x "$ctl" ] || { echo "# no $ctl: BAR2 not read back from L1"; return 0; }
	case $type in vfiosim-small) size=$((64 << 10)) ;; *) size=$((16 << 20)) ;; esac
	for off in 0 $((size / 2)) $((size - 8)); do
		got=$("$ctl" region read "vfio:$u" bar2 "$off" 8 2>&1)
		if [ "$(printf '%016x' "$((got))" 2>/dev/null)" != 0000000000000000 ]; then
			echo "# BAR2 $off from L1: $got, expected 0 (reset at close)"
			bad=$((bad + 1))
		fi
	done
	check "$p: L1, the next user, finds L2's BAR2 contents gone (reset at close)" test $bad = 0
}

# reads_id SPEC: a client of ours reads the device's ID register
reads_id() {
	"$ctl" region read "$1" bar0 0x0 2>/dev/null | grep -qi 0x5646534d
}

# fault_report PATH, once its QEMU is gone: the device (or a new one) and
# the daemon serve again
fault_report() {
	local p=$1 d=${dir[$1]} u=${uuid[$1]} t0 took new fired
	[ -n "${fstate[$p]:-}" ] || return 0
	t0=$(cat "$d/fault.start")
	case ${fault[$p]} in
	eject)
		wait "${rpid[$p]}"
		rpid[$p]=
		took=$(($(cat "$d/remove.done" 2>/dev/null || echo "$t0") - t0))
		check "$p: fault: the removal completed (${took} s after it began; QEMU exited after ${done_at[$p]} s of L2)" \
			test "$(cat "$d/remove.rc" 2>/dev/null)" = 0
		if [ -s "$d/remove.done" ] &&
			[ "$(cat "$d/remove.done")" -lt $(($(cat "$d/start") + done_at[$p])) ]; then
			echo "# $p: the removal completed while QEMU still ran: QEMU let go after L2's eject"
		else
			echo "# $p: the removal completed only once QEMU had exited"
		fi
		sed 's/^/# remove: /' "$d/remove.err"
		check "$p: fault: the device is gone" test ! -e "/sys/bus/mdev/devices/$u"
		uuid[$p]=
		dmesg | grep -i "$u" | tail -n 5 | sed "s/^/# $p: dmesg: /"
		new=$(cat /proc/sys/kernel/random/uuid)
		if echo "$new" >"$types/$type/create"; then
			check "$p: fault: a new device works afterwards" reads_id "vfio:$new"
			echo 1 >"/sys/bus/mdev/devices/$new/remove"
		else
			not_ok "$p: fault: a new device works afterwards (create failed)"
		fi
		;;
	hold)
		fired=$(userd_fired "$ctl" "$d/control.sock" "$u" delay_reply_ms)
		check "$p: fault: the hold delayed replies QEMU waited for (fired ${fired:-?})" \
			test "${fired:-0}" -ge 1
		check "$p: fault: vfiosim-userd serves another client afterwards" \
			reads_id "unix:$d/userd.sock"
		;;
	esac
}

for p in $paths; do
	if [ -n "${started[$p]:-}" ]; then
		report_l2 "$p"
		fault_report "$p"
	fi
	stop_userd "$p"
	[ -n "${started[$p]:-}" ] && [ -n "${uuid[$p]:-}" ] && bar2_from_l1 "$p"
	if [ -n "${uuid[$p]:-}" ]; then
		check "$p: remove the device" sh -c "echo 1 >/sys/bus/mdev/devices/${uuid[$p]}/remove"
		uuid[$p]=
	fi
	echo "# $p: whole path $(( ${done_at[$p]:-0} )) s of L2"
done
echo "# vfiosim_nested.sh took $(($(date +%s) - t0)) s"
finish
