#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real VMM live-migrates a guest that uses the device.  Runs as root in
# the test VM (L1) with vfiosim loaded: creates two devices of one type, A
# and B, and boots a nested guest (L2: this kernel, a busybox initramfs
# from nested/mkinitramfs.sh with nested/init-migrate) in one QEMU with A
# (-device vfio-pci,sysfsdev=...), while a second QEMU with B waits with
# -incoming on a UNIX socket.  L2's program (nested/vfiosim_migrate_guest.c)
# checks DMA copy, fill and checksum with their MSI-X, leaves state in the
# device and in DMA-written buffers, and keeps DMA going while this script
# migrates it over QMP (nested/qmp.py); on the destination it checks all
# of it.  This script nests L2's TAP into its own and adds what QEMU says:
# no migration blocker, the migration's phases and timings, the
# dirty-tracking path QEMU took (device DMA logging or the type1
# container's, from QEMU's trace events), nothing on QEMU's stderr, L2's
# and L1's dmesg clean.
#
# Environment: VFIOSIM_MIGRATE_TYPE (vfiosim-small), VFIOSIM_MIGRATE_MEM
# (MB of L2 RAM, 160), VFIOSIM_MIGRATE_DIRTY (auto: QEMU's choice;
# container: x-device-dirty-page-tracking=off), VFIOSIM_MIGRATE_TIMEOUT
# (seconds for L2 to get ready, 600), VFIOSIM_NESTED_CACHE, VFIOSIM_ACCEL;
# VFIOSIM_NESTED=0 skips it, as it does vfiosim_nested.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
guest=$here/build/vfiosim_migrate_guest
qmp=$here/nested/qmp.py
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
type=${VFIOSIM_MIGRATE_TYPE:-vfiosim-small}
l2_mem=${VFIOSIM_MIGRATE_MEM:-160}
dirty=${VFIOSIM_MIGRATE_DIRTY:-auto}
ready_timeout=${VFIOSIM_MIGRATE_TIMEOUT:-600}
mig_timeout=300
end_timeout=300
kver=$(uname -r)
qemu=$(command -v qemu-system-x86_64)
empty='{}'
# shellcheck source=nested/lib.sh
. "$here/nested/lib.sh"

echo "TAP version 13"
if [ "${VFIOSIM_NESTED:-1}" = 0 ]; then
	echo "1..0 # SKIP VFIOSIM_NESTED=0: no nested guest on this kernel in this run"
	exit 4
fi
nested_preconditions "$qemu" "$types" "$type" "$kver"
qver=$("$qemu" --version | sed -nE '1s/.*version ([0-9]+)\.([0-9]+).*/\1 \2/p')
read -r qmaj qmin <<<"$qver"
if [ "$qmaj" -lt 10 ]; then
	# 7.2 (Debian 12) has only the experimental v1 VFIO migration
	# protocol, gone from the kernel since 6.0; v2 came with QEMU 8.0,
	# and what this test relies on around it (per-device blockers,
	# query-migrate's blocked-reasons with vfio, the vfio_migration_*
	# trace events) with QEMU 10.
	echo "1..0 # SKIP QEMU $qmaj.$qmin: live migration of a vfio-pci device needs QEMU >= 10 here (VFIO migration v2 is 8.0+)"
	exit 4
fi
echo "# QEMU $qmaj.$qmin ($qemu), kernel $kver, type $type, L2 ${l2_mem} MB, dirty tracking: $dirty"
check "guest program built ($guest)" test -x "$guest" || finish
check "python3 for the QMP client" sh -c 'command -v python3 >/dev/null' || finish

t_all=$(date +%s)
dmesg_l1_start=$(dmesg | wc -l)

# --- L2 boot files ----------------------------------------------------------

cache=$(nested_cache nested-migrate)
[ -n "${VFIOSIM_NESTED_CACHE:-}" ] && cache=$VFIOSIM_NESTED_CACHE/migrate
nested_boot_files "$kver" "$cache" "$guest" "$here/nested/init-migrate"

accel=tcg
if [ -x "$repo/scripts/vm/accel.sh" ]; then
	accel=$("$repo/scripts/vm/accel.sh" "$qemu" "$image" 2>/dev/null) || accel=tcg
fi

# --- two devices, two QEMUs -------------------------------------------------

tmp=$(mktemp -d)
declare -A uuid pid
# shellcheck disable=SC2317 # called from the trap
cleanup() {
	stop_all "${pid[@]}"
	remove_devices "${uuid[@]}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

for r in src dst; do
	u=$(cat /proc/sys/kernel/random/uuid)
	if ! echo "$u" >"$types/$type/create"; then
		not_ok "create $type device for $r"
		finish
	fi
	uuid[$r]=$u
done
ok "devices of type $type: A ${uuid[src]} (source), B ${uuid[dst]} (destination)"

nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
# enable-migration=on: QEMU (9.1+) blocks a vfio device's migration in
# its default (auto) mode unless the device logs its own DMA
# (VFIO_DEVICE_FEATURE_DMA_LOGGING) or the IOMMU tracks dirty pages
# (iommufd with hardware dirty bits); the type1 container's tracking,
# which is exact for an mdev (only pages written through vfio_dma_rw or
# pinned are dirty), counts for it only when asked.  vfiosim's VFIO DMA
# logging needs the kernel's iova_bitmap (CONFIG_IOMMUFD_DRIVER), which
# Debian's 6.12 and 7.3 lack.  With on, QEMU warns once and migrates
# through the container; a device without migration fails to realize.
devopt=,enable-migration=on
[ "$dirty" = container ] && devopt=$devopt,x-device-dirty-page-tracking=off
# The one line QEMU may print: its warning about that choice.
qemu_expected="VFIO device doesn't support device and IOMMU dirty tracking"
machine=q35
[ "$accel" = kvm ] && machine=$machine,kernel-irqchip=split

# start_qemu ROLE [ARGS...]: one QEMU for L2 with ROLE's device, its QMP
# socket, its serial console on a socket (the script types into it) that
# logs to ROLE.console, trace events to ROLE.trace.
start_qemu() {
	local r=$1
	shift
	: >"$tmp/$r.console"
	timeout -k 10 $((ready_timeout + mig_timeout + end_timeout)) \
		"$qemu" -name "vfiosim-migrate-$r" \
		-machine "$machine" -accel "$accel" -cpu max -smp 1 -m "$l2_mem" \
		-nodefaults -no-user-config -display none -monitor none \
		-qmp "unix:$tmp/$r.qmp,server=on,wait=off" \
		-chardev "socket,id=ser0,path=$tmp/$r.ser,server=on,wait=off,logfile=$tmp/$r.console" \
		-serial chardev:ser0 -no-reboot \
		-device "vfio-pci,sysfsdev=/sys/bus/mdev/devices/${uuid[$r]},id=vfiosim0$devopt" \
		-kernel "$image" -initrd "$initrd" \
		-append "$L2_CMDLINE hugepages=2 printk.devkmsg=on vfiosim_nested=$nonce" \
		-trace 'vfio_migration_*' -trace vfio_device_dirty_tracking_start \
		-trace vfio_container_query_dirty_bitmap -trace vfio_save_setup \
		-trace vfio_save_complete_precopy -trace vfio_query_stop_copy_size \
		-trace vfio_save_iterate -trace vfio_load_state_device_data \
		-trace vfio_load_device_config_state_end \
		-D "$tmp/$r.trace" "$@" \
		</dev/null >"$tmp/$r.out" 2>"$tmp/$r.err" &
	pid[$r]=$!
}

# q ROLE COMMAND [ARGS-JSON]: one QMP command, its return on stdout
q() {
	local r=$1
	shift
	python3 "$qmp" "$tmp/$r.qmp" "$@" 2>>"$tmp/qmp.err"
}

# alive ROLE: that QEMU still runs
alive() { [ -n "${pid[$1]}" ] && kill -0 "${pid[$1]}" 2>/dev/null; }

# json_field JSON PATH...: a field of a QMP return ("" if absent)
json_field() {
	python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))' "$@"
}

# tell ROLE TEXT ACK: type TEXT into ROLE's console until the guest
# answers ACK there.  A line typed right after the switchover can lose
# its newline in the destination's UART (seen with QEMU 7.2 and 11.1), so
# one try is not enough.
tell() {
	local i
	for i in 1 2 3; do
		python3 "$qmp" --send "$tmp/$1.ser" "$2" 2>>"$tmp/qmp.err"
		wait_for "$tmp/$1.console" "$3" 4 "$1" && return 0
		alive "$1" || return 1
		echo "# no answer to '$2' from the $1 guest, try $((i + 1))"
	done
	return 1
}

# wait_for FILE PATTERN SECONDS ROLE: until FILE has PATTERN (false on
# timeout or if ROLE's QEMU is gone), a word every 30 s
wait_for() {
	local f=$1 pat=$2 limit=$3 r=$4 start beat now
	start=$(date +%s)
	beat=$start
	while ! tr -d '\r' <"$f" | grep -qa -- "$pat"; do
		alive "$r" || return 1
		now=$(date +%s)
		[ $((now - start)) -ge "$limit" ] && return 1
		if [ $((now - beat)) -ge 30 ]; then
			beat=$now
			echo "# waiting for '$pat' from the $r QEMU: $((now - start)) s"
		fi
		sleep 2
	done
}

start_qemu dst -incoming "unix:$tmp/mig.sock"
start_qemu src
t_boot=$(date +%s)
echo "# source QEMU pid ${pid[src]} (device A), destination QEMU pid ${pid[dst]} (device B, -incoming unix:$tmp/mig.sock)"

# QEMU is up when its QMP socket answers.
for _ in $(seq 60); do
	[ -S "$tmp/src.qmp" ] && [ -S "$tmp/dst.qmp" ] && break
	if ! alive src || ! alive dst; then break; fi
	sleep 1
done
mig_before=$(q src query-migrate)
blocked=$(json_field "${mig_before:-$empty}" blocked-reasons)
if [ -n "$mig_before" ] && [ -z "$blocked" ]; then
	ok "source QEMU: device A's migration is not blocked (query-migrate has no blocked-reasons)"
else
	not_ok "source QEMU: device A's migration is not blocked (blocked-reasons: ${blocked:-no answer})"
fi
if grep -q 'vfio_migration_realize' "$tmp/src.trace" 2>/dev/null; then
	ok "source QEMU took the vfio migration path: $(grep -m1 vfio_migration_init "$tmp/src.trace" | sed 's/^[0-9@.:]* *//')"
else
	not_ok "source QEMU took the vfio migration path (no vfio_migration_realize trace event)"
fi

# --- L2 boots on the source and prepares ------------------------------------

if wait_for "$tmp/src.console" "=== vfiosim-nested $nonce begin ===" "$ready_timeout" src; then
	ok "L2 booted to its init on the source ($(($(date +%s) - t_boot)) s)"
else
	not_ok "L2 booted to its init on the source"
fi
ready=0
if wait_for "$tmp/src.console" "=== vfiosim-migrate ready ===" "$ready_timeout" src; then
	ready=1
	t_ready=$(date +%s)
	ok "L2's program prepared the device and its buffers ($((t_ready - t_boot)) s after QEMU started)"
else
	not_ok "L2's program prepared the device and its buffers"
fi

# --- migrate ----------------------------------------------------------------

migrated=0
if [ $ready = 1 ] && [ -z "$blocked" ]; then
	# Slow enough that RAM is copied while the guest's DMA runs (about
	# 75 MB of L2's pages are not zero: some 5 s of pre-copy), with a
	# downtime limit that the guest's dirty rate lets QEMU meet.
	q src migrate-set-parameters '{"downtime-limit": 300, "max-bandwidth": 16777216}' >/dev/null
	tell src start "migration issued after" ||
		echo "# the guest did not see 'start': it will count every loop transfer"
	t_mig=$(date +%s)
	if q src migrate "{\"uri\": \"unix:$tmp/mig.sock\"}" >/dev/null; then
		ok "source QEMU: migrate to unix:$tmp/mig.sock accepted"
	else
		not_ok "source QEMU: migrate to unix:$tmp/mig.sock accepted"
	fi
	status=none
	last=
	while :; do
		info=$(q src query-migrate)
		status=$(json_field "${info:-$empty}" status)
		if [ "$status" != "$last" ]; then
			echo "# $(($(date +%s) - t_mig)) s: migration $status"
			last=$status
		fi
		case $status in completed | failed | cancelled | "") break ;; esac
		if [ $(($(date +%s) - t_mig)) -ge $mig_timeout ]; then
			q src migrate_cancel >/dev/null
			echo "# migration still $status after $mig_timeout s: cancelled"
			break
		fi
		sleep 2
	done
	t_done=$(date +%s)
	echo "# query-migrate: $info"
	if [ "$status" = completed ]; then
		migrated=1
		ok "migration completed in $((t_done - t_mig)) s of wall clock: QEMU total-time $(json_field "$info" total-time) ms, downtime $(json_field "$info" downtime) ms, setup $(json_field "$info" setup-time) ms, RAM $(json_field "$info" ram transferred) bytes in $(json_field "$info" ram dirty-sync-count) syncs, vfio $(json_field "$info" vfio transferred) bytes"
	else
		not_ok "migration completed (status ${status:-no answer}: $(json_field "${info:-$empty}" error-desc))"
	fi
	vbytes=$(json_field "${info:-$empty}" vfio transferred)
	check "the vfio device's state went in the stream (${vbytes:-no} bytes)" test "${vbytes:-0}" -gt 0
	dst_status=$(json_field "$(q dst query-status || echo "$empty")" status)
	check "destination QEMU runs the guest (status ${dst_status:-no answer})" test "$dst_status" = running
	src_status=$(json_field "$(q src query-status || echo "$empty")" status)
	echo "# source QEMU status: $src_status"
fi

if [ $ready = 1 ] && [ -n "$blocked" ]; then
	not_ok "migration completed (not attempted: QEMU blocks it)"
fi

# --- the guest checks on the destination, then powers off -------------------

if [ $migrated = 1 ]; then
	# Best effort: without it the guest ends its loop on its own.
	tell dst migrated "told it runs on the destination" ||
		echo "# the destination guest took no input: it ends its loop after its window"
	q src quit >/dev/null
	end_role=dst
else
	# Let the guest finish where it is, so that it still reports.
	[ $ready = 1 ] && tell src abort "L1 said abort" >/dev/null
	q dst quit >/dev/null
	end_role=src
fi
t_end0=$(date +%s)
while alive "$end_role" && [ $(($(date +%s) - t_end0)) -lt $end_timeout ]; do
	sleep 2
done
for r in src dst; do
	if alive "$r"; then
		echo "# $r QEMU still running: killed"
		kill "${pid[$r]}"
	fi
	[ -n "${pid[$r]}" ] && wait "${pid[$r]}"
	echo $? >"$tmp/$r.rc"
	pid[$r]=
done
t_end=$(date +%s)

# section FROM TO: the lines between two markers of both consoles (the
# source's, then the destination's), CRs stripped
section() {
	cat "$tmp/src.console" "$tmp/dst.console" | tr -d '\r' |
		sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' | sed -n "/^$1\$/,/^$2\$/{/^$1\$/d;/^$2\$/d;p}"
}
section "=== vfiosim-nested $nonce begin ===" "=== vfiosim-nested $nonce end ===" >"$tmp/body"
section "=== vfiosim-nested $nonce dmesg ===" "=== vfiosim-nested $nonce dmesg end ===" >"$tmp/dmesg"

nest_l2_tap "$tmp/body" ""
if [ $migrated = 1 ]; then
	check "the guest's checks after the loop ran on the destination" \
		grep -q 'destination: scratch registers' "$tmp/dst.console"
fi
check "L2's program ran to its plan ($l2_count of ${l2_plan:-no plan})" \
	test -n "$l2_plan" -a "$l2_count" = "${l2_plan:-x}"
check_l2_dmesg "$tmp/dmesg" ""
if [ ! -s "$tmp/dmesg" ]; then
	echo "# last lines of the consoles:"
	tail -n 15 "$tmp/src.console" | tr -d '\r' | sed 's/^/#   src: /'
	tail -n 15 "$tmp/dst.console" | tr -d '\r' | sed 's/^/#   dst: /'
fi
if [ $migrated = 1 ]; then
	check "destination QEMU exited 0 after L2 powered off (status $(cat "$tmp/dst.rc"))" \
		test "$(cat "$tmp/dst.rc")" = 0
fi

# --- what QEMU said ---------------------------------------------------------

for r in src dst; do
	sed "s/^/# $r qemu stderr: /" "$tmp/$r.err"
	if grep -qF "$qemu_expected" "$tmp/$r.err"; then
		echo "# $r QEMU warned that the device has no device or IOMMU dirty tracking of its own: the type1 container's follows its DMA"
	fi
	check "$r QEMU printed no other error or warning" \
		test -z "$(grep -vF "$qemu_expected" "$tmp/$r.err")"
done
[ -s "$tmp/qmp.err" ] && sed 's/^/# qmp: /' "$tmp/qmp.err"
echo "# source trace (vfio migration events):"
grep -vE 'vfio_container_query_dirty_bitmap|vfio_save_iterate' "$tmp/src.trace" 2>/dev/null |
	sed 's/^/#   src: /' | head -n 40
echo "# destination trace:"
grep -v 'vfio_load_state_device_data' "$tmp/dst.trace" 2>/dev/null | sed 's/^/#   dst: /' | head -n 20
echo "# destination: $(grep -c vfio_load_state_device_data "$tmp/dst.trace" 2>/dev/null) vfio_load_state_device_data events"
queries=$(grep -c 'vfio_container_query_dirty_bitmap' "$tmp/src.trace" 2>/dev/null)
dirty_pages=$(sed -nE 's/.*vfio_container_query_dirty_bitmap.*dirty_pages=([0-9]+).*/\1/p' \
	"$tmp/src.trace" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
if grep -q vfio_device_dirty_tracking_start "$tmp/src.trace" 2>/dev/null; then
	path="device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*)"
elif [ "${queries:-0}" -gt 0 ]; then
	path="the type1 container's dirty tracking (VFIO_IOMMU_DIRTY_PAGES)"
else
	path=
fi
echo "# dirty bitmap queries: ${queries:-0}, dirty pages reported: $dirty_pages"
# The syncs of the live phase, before the device went to STOP_COPY: the
# device's writes into the guest's slots must have been reported there.
live_dirty=$(awk '/new state STOP_COPY/ { exit }
	/vfio_container_query_dirty_bitmap/ && match($0, /dirty_pages=[0-9]+/) {
		s += substr($0, RSTART + 12, RLENGTH - 12); q++ }
	END { printf "%d %d", q, s }' "$tmp/src.trace" 2>/dev/null)
if [ $migrated = 1 ]; then
	read -r live_q live_p <<<"$live_dirty"
	check "dirty tracking reported the device's DMA while the guest ran: $live_p dirty pages in $live_q bitmap queries before STOP_COPY" \
		test "${live_p:-0}" -gt 0
	check "QEMU tracked the device's DMA: ${path:-no dirty-tracking trace event}, $queries bitmap queries, $dirty_pages dirty pages" \
		test -n "$path"
fi

# --- L1 ---------------------------------------------------------------------

for r in src dst; do
	check "remove device ${uuid[$r]} ($r)" sh -c "echo 1 >/sys/bus/mdev/devices/${uuid[$r]}/remove"
	uuid[$r]=
done
dmesg | tail -n +$((dmesg_l1_start + 1)) >"$tmp/l1dmesg"
if grep -Eq -- "$DMESG_BAD" "$tmp/l1dmesg"; then
	not_ok "L1 dmesg free of WARNING/BUG/Oops/Call Trace during the test"
	sed 's/^/#   /' "$tmp/l1dmesg" | head -n 80
else
	ok "L1 dmesg free of WARNING/BUG/Oops/Call Trace during the test ($(wc -l <"$tmp/l1dmesg") new lines)"
fi
if [ -n "${VFIOSIM_RESULTS:-}" ] && [ -d "$VFIOSIM_RESULTS" ]; then
	for f in src.console dst.console src.trace dst.trace; do
		tr -d '\r' <"$tmp/$f" >"$VFIOSIM_RESULTS/migrate-$f" 2>/dev/null
	done
fi
echo "# phases: L2 ready $((${t_ready:-$t_boot} - t_boot)) s after start, migration $((${t_done:-0} - ${t_mig:-0})) s, destination checks and poweroff $((t_end - t_end0)) s"
echo "# vfiosim_migrate.sh took $(($(date +%s) - t_all)) s"
finish
