#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: vfiosim-bench against mtty (vfio and netlink backends of
# libvfiosim, plus pipelined netlink on a socket of the bench's own, plus
# the unix backend to a vfiosim-userd), then 1, 2 and 4 threads each on
# its own device (vfio and netlink), then device create/remove time and
# memory per device, all in a QEMU guest of the 6.12 kernel with 2 vCPUs.
#
#   scripts/bench.sh            on the host: build the bench, boot the guest
#   scripts/bench.sh --threads  the same, thread scaling section only
#   scripts/bench.sh --mig      the same, migration section only
#   scripts/bench.sh --socket   the same, the socket target only: the
#                               UNIX ping-pong floor and the unix rows
#                               through vfiosim-userd, interleaved
#   scripts/bench.sh --scale    the same, create/remove of 1, 100 and 1000
#                               devices only (with VFIOSIM_BENCH_KERNEL=debug:
#                               under the debug kernel's checkers)
#   scripts/bench.sh --guest [--threads|--mig|--socket|--scale]
#                               in the guest (run by the above)
#
# Results land in build/bench/: bench.json and bench.txt (vfiosim-bench),
# threads.json and threads.txt (thread scaling), scale.json and scale.txt
# (create/remove), mig.txt and mig-<type>-<backend>.json (migration stream
# size, save and resume time, BAR2 empty and full), console.log, dmesg.txt.
# Tunables (passed into the guest, as every VFIOSIM_* variable is):
#   VFIOSIM_BENCH_ITERS   ops per benchmark (default 20000)
#   VFIOSIM_BENCH_SCALE   device counts for create/remove (default "1 100 1000")
#   VFIOSIM_BENCH_THREADS thread counts (default 1,2,4)
#   VFIOSIM_BENCH_THREAD_MS    ms per thread-scaling run (default 500)
#   VFIOSIM_BENCH_THREAD_REPS  runs per cell, median reported (default 5)
#   VFIOSIM_BENCH_SOCK_ITERS   ops per socket row with --socket (default 8000)
#   VFIOSIM_BENCH_KERNEL  guest kernel (default 6.12; 6.1 or a full version,
#                         e.g. 7.3.4+deb13-amd64 from the Debian 13 root;
#                         debug: make debug-kernel's, which must be built)
#   VFIOSIM_BENCH_RESULTS results directory (default build/bench)
#   VFIOSIM_USERD_ARGS    extra vfiosim-userd options (e.g. --spin-us 0)
#   VFIOSIM_BENCH_SPIN    with --socket: userd --spin-us values, one pass
#                         each in the same boot (e.g. "0 50"; default: one
#                         pass with userd's default)
# Needs the module, mtty and libvfiosim built: make modules mtty userspace
# (--threads needs no mtty).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bench=$top/userspace/bench/build/vfiosim-bench
userd=$top/userspace/build/vfiosim-userd
ux_sock=/tmp/vfiosim-bench.sock

say() {
	echo "bench: $*"
}

die() {
	echo "bench: $*" >&2
	exit 1
}

# Microseconds since the epoch, without forking (bash 5).
now_us() {
	local t=${EPOCHREALTIME/./}
	echo "$t"
}

meminfo() {
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

# Settle caches so MemAvailable moves only with what the devices hold,
# and give the serial console time to drain what we printed: under TCG
# its output competes with the vCPU doing the work.
settle() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	sleep 1
}

# Synthetic but valid v4 UUIDs, easy to spot in sysfs, into variable $1.
uuid_n() {
	printf -v "$1" '%08x-5653-4000-8000-%012x' "$2" "$3"
}

guest_scale() {
	local sizes=${VFIOSIM_BENCH_SCALE:-1 100 1000}
	local create=/sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full/create
	local out=$VFIOSIM_RESULTS/scale.txt rows="" sep=""
	local n i t0 t1 t2 t3 a0 a1 a2 s0 s1 c_ms r_ms kib slab back
	local -a ids

	printf '%-8s %14s %14s %17s %18s %20s\n' devices "create ms/dev" \
		"remove ms/dev" "MemAvail KiB/dev" "Slab+Percpu KiB/dev" \
		"not returned KiB/dev" > "$out"
	for n in $sizes; do
		say "creating, then removing, $n vfiosim-full devices"
		# Names made up front: the timed loops must not fork.
		ids=()
		for ((i = 0; i < n; i++)); do
			uuid_n "ids[i]" "$n" "$i"
		done
		settle
		a0=$(meminfo MemAvailable)
		s0=$(($(meminfo Slab) + $(meminfo Percpu)))
		t0=$(now_us)
		for ((i = 0; i < n; i++)); do
			echo "${ids[i]}" > "$create"
		done
		t1=$(now_us)
		settle
		a1=$(meminfo MemAvailable)
		s1=$(($(meminfo Slab) + $(meminfo Percpu)))
		t2=$(now_us)
		for ((i = 0; i < n; i++)); do
			echo 1 > "/sys/bus/mdev/devices/${ids[i]}/remove"
		done
		t3=$(now_us)
		settle
		a2=$(meminfo MemAvailable)
		c_ms=$(awk -v d=$((t1 - t0)) -v n="$n" 'BEGIN { printf "%.3f", d / n / 1000 }')
		r_ms=$(awk -v d=$((t3 - t2)) -v n="$n" 'BEGIN { printf "%.3f", d / n / 1000 }')
		kib=$(awk -v d=$((a0 - a1)) -v n="$n" 'BEGIN { printf "%.1f", d / n }')
		slab=$(awk -v d=$((s1 - s0)) -v n="$n" 'BEGIN { printf "%.1f", d / n }')
		back=$(awk -v d=$((a0 - a2)) -v n="$n" 'BEGIN { printf "%.1f", d / n }')
		printf '%-8s %14s %14s %17s %18s %20s\n' "$n" "$c_ms" "$r_ms" \
			"$kib" "$slab" "$back" >> "$out"
		rows="$rows$sep    { \"devices\": $n, \"create_ms_per_dev\": $c_ms, \"remove_ms_per_dev\": $r_ms, \"memavailable_kib_per_dev\": $kib, \"slab_percpu_kib_per_dev\": $slab, \"not_returned_kib_per_dev\": $back }"
		sep=$',\n'
	done
	printf '{\n  "type": "vfiosim-full",\n  "kernel": "%s",\n  "memory": "MemAvailable and Slab+Percpu deltas from /proc/meminfo, each read after sync and drop_caches",\n  "results": [\n%s\n  ]\n}\n' \
		"$(uname -r)" "$rows" > "$VFIOSIM_RESULTS/scale.json"
	echo
	cat "$out"
}

# Start vfiosim-userd for device $1 on $ux_sock, pid into $userd_pid, and
# wait (up to 30 s) for its "listening" line.  Its stderr goes to a file,
# not the console, and stays there while the bench measures.
userd_start() {
	local i

	rm -f "$ux_sock" /tmp/userd.log
	# Unpinned, as a VMM would run it: the socket path's target (unix
	# read <= 2x the bare socket ping-pong) is set unpinned, and the
	# bench lifts its own pinning for those rows (vfiosim-bench.c, unpin).
	# shellcheck disable=SC2086 # VFIOSIM_USERD_ARGS: words, on purpose
	"$userd" ${VFIOSIM_USERD_ARGS:-} --socket "$ux_sock" --device "$1" \
		2> /tmp/userd.log &
	userd_pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "vfiosim-userd: listening on $ux_sock" /tmp/userd.log &&
			return 0
		kill -0 "$userd_pid" 2> /dev/null || break
		sleep 0.1
	done
	cat /tmp/userd.log >&2
	return 1
}

# SIGTERM, then the exit status must be 0.
userd_stop() {
	local st=0

	kill -TERM "$userd_pid"
	wait "$userd_pid" || st=$?
	cp /tmp/userd.log "$VFIOSIM_RESULTS/userd.log"
	if [ "$st" -ne 0 ]; then
		echo "bench: vfiosim-userd exited with status $st:" >&2
		cat /tmp/userd.log >&2
		return 1
	fi
	say "vfiosim-userd stopped (exit 0)"
}

# Thread scaling: per thread one vfio: and one netlink: device of its own,
# so each thread has its own handle (netlink socket or VFIO fds) and no
# device is shared.  No taskset here: the bench pins thread i to the
# (i mod n)-th CPU it may use, and it must be allowed both vCPUs.
guest_threads() {
	local counts=${VFIOSIM_BENCH_THREADS:-1,2,4}
	local full=/sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full/create
	local max=0 n i vfio="" nl="" rc=0
	local -a ids

	for n in ${counts//,/ }; do
		[ "$n" -le "$max" ] || max=$n
	done
	[ "$(nproc)" -ge 2 ] ||
		echo "bench: only $(nproc) CPU in the guest: threads will share it" >&2
	# UUIDs 0x10.. of group 0: clear of the rows above and of guest_scale.
	for ((i = 0; i < 2 * max; i++)); do
		uuid_n "ids[i]" 0 $((16 + i))
		echo "${ids[i]}" > "$full"
	done
	for ((i = 0; i < max; i++)); do
		vfio+=${vfio:+,}vfio:${ids[i]}
		nl+=${nl:+,}netlink:${ids[max + i]}
	done
	say "thread scaling: threads $counts, $max vfio and $max netlink devices," \
		"${VFIOSIM_BENCH_THREAD_MS:-500} ms x ${VFIOSIM_BENCH_THREAD_REPS:-5} runs a cell (output at the end)"
	sleep 1
	"$bench" --scale-vfio "$vfio" --scale-nl "$nl" --scale-threads "$counts" \
		--scale-ms "${VFIOSIM_BENCH_THREAD_MS:-500}" \
		--scale-reps "${VFIOSIM_BENCH_THREAD_REPS:-5}" \
		--json "$VFIOSIM_RESULTS/threads.json" > /tmp/threads.txt 2>&1 || rc=1
	cp /tmp/threads.txt "$VFIOSIM_RESULTS/threads.txt"
	echo
	cat /tmp/threads.txt
	for ((i = 0; i < 2 * max; i++)); do
		echo 1 > "/sys/bus/mdev/devices/${ids[i]}/remove"
	done
	return $rc
}

# Migration per type and backend: save on one device, resume on another of
# the type, BAR2 empty then full (vfiosim-bench --mig).  The unix rows go
# through one vfiosim-userd serving both devices on two sockets.
guest_mig() {
	local types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
	local out=$VFIOSIM_RESULTS/mig.txt rc=0 t b src dst pid i
	local s1=/tmp/vfiosim-mig-src.sock s2=/tmp/vfiosim-mig-dst.sock

	: > "$out"
	# UUIDs 0x40 and 0x41 of group 0: clear of every other section.
	uuid_n src 0 64
	uuid_n dst 0 65
	for t in vfiosim-small vfiosim-full; do
		echo "$src" > "$types/$t/create"
		echo "$dst" > "$types/$t/create"
		for b in vfio netlink unix; do
			say "migration: $t over $b"
			pid=""
			if [ "$b" = unix ]; then
				rm -f "$s1" "$s2" /tmp/userd-mig.log
				"$userd" --socket "$s1" --device "$src" \
					--socket "$s2" --device "$dst" \
					2> /tmp/userd-mig.log &
				pid=$!
				for ((i = 0; i < 300; i++)); do
					[ -S "$s1" ] && [ -S "$s2" ] && break
					sleep 0.1
				done
				set -- "unix:$s1,unix:$s2"
			else
				set -- "$b:$src,$b:$dst"
			fi
			"$bench" --mig "$1" --mig-reps "${VFIOSIM_BENCH_MIG_REPS:-5}" \
				--json "$VFIOSIM_RESULTS/mig-$t-$b.json" \
				>> "$out" 2>&1 || rc=1
			if [ -n "$pid" ]; then
				kill -TERM "$pid"
				wait "$pid" || rc=1
			fi
		done
		echo 1 > "/sys/bus/mdev/devices/$src/remove"
		echo 1 > "/sys/bus/mdev/devices/$dst/remove"
	done
	echo
	cat "$out"
	return $rc
}

# The socket target alone (issue 11, point 8): the bare UNIX-socket
# ping-pong and the unix read through vfiosim-userd, interleaved, then the
# unix write, all unpinned; vfiosim only (no mtty).  A first bench run,
# shorter, is counted (perf stat on vfiosim-userd: syscalls, context
# switches, migrations per round trip) when perf works in the guest.
guest_socket() {
	local full=/sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full/create
	local iters=${VFIOSIM_BENCH_SOCK_ITERS:-8000} dev ux rc=0 n spin sfx
	local base=${VFIOSIM_USERD_ARGS:-}

	uuid_n dev 0 1
	uuid_n ux 0 5
	echo "$dev" > "$full"
	echo "$ux" > "$full"
	# One pass per VFIOSIM_BENCH_SPIN value (userd --spin-us), same boot.
	for spin in ${VFIOSIM_BENCH_SPIN:-default}; do
		sfx=""
		VFIOSIM_USERD_ARGS=$base
		if [ "$spin" != default ]; then
			sfx=-spin$spin
			VFIOSIM_USERD_ARGS="$base --spin-us $spin"
		fi
		say "starting vfiosim-userd for $ux on $ux_sock${VFIOSIM_USERD_ARGS:+ ($VFIOSIM_USERD_ARGS)}"
		userd_start "$ux" || die "vfiosim-userd did not come up"
		if command -v perf > /dev/null &&
			perf stat -e raw_syscalls:sys_enter true > /dev/null 2>&1; then
			n=2000
			say "counting: $n unix reads with perf stat on vfiosim-userd"
			perf stat -x, -e raw_syscalls:sys_enter,context-switches,cpu-migrations,task-clock \
				-p "$userd_pid" -o /tmp/userd-perf.txt -- \
				"$bench" --dev "vfio:$dev" --unix "unix:$ux_sock" \
				--only "unix BAR0 read" --iters "$n" \
				> /tmp/count.txt 2>&1 || rc=1
			awk -F, -v n="$n" -v w=$((n + n / 10)) '
				$3 ~ /sys_enter|context-switches|cpu-migrations|task-clock/ {
					printf "vfiosim-userd %s per round trip: %.3f%s (%s over %d reads incl. %d warm-up)\n",
						$3, $1 / w, $3 == "task-clock" ? " ms" : "", $1, w, w - n }' \
				/tmp/userd-perf.txt | tee "$VFIOSIM_RESULTS/userd-count$sfx.txt"
		else
			say "perf stat unavailable in this guest: no syscall count"
		fi
		say "running vfiosim-bench, socket rows ($iters ops each, output at the end)"
		sleep 1
		"$bench" --dev "vfio:$dev" --unix "unix:$ux_sock" \
			--only "ping-pong,unix BAR0" --iters "$iters" \
			--json "$VFIOSIM_RESULTS/bench-socket$sfx.json" \
			> /tmp/bench.txt 2>&1 || rc=1
		cp /tmp/bench.txt "$VFIOSIM_RESULTS/bench-socket$sfx.txt"
		cat /tmp/bench.txt
		userd_stop || rc=1
	done
	echo 1 > "/sys/bus/mdev/devices/$dev/remove"
	echo 1 > "/sys/bus/mdev/devices/$ux/remove"
	return $rc
}

guest() {
	local kver=${VFIOSIM_KVER:-$(uname -r)}
	local ko=$top/build/kmod/$kver/vfiosim.ko
	local mtty=$top/build/mtty/$kver/mtty.ko
	local dev peer nl pipe ux mtype rc=0
	local full=/sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full/create

	[ -f "$ko" ] || die "$ko missing: make modules"
	if [ "${1:-}" = --threads ] || [ "${1:-}" = --mig ] ||
		[ "${1:-}" = --socket ] || [ "${1:-}" = --scale ]; then
		say "loading vfio, mdev, vfio_iommu_type1, vfiosim ($kver)"
		modprobe vfio
		modprobe mdev
		modprobe vfio_iommu_type1
		insmod "$ko"
		if [ "$1" = --mig ]; then
			guest_mig || rc=1
		elif [ "$1" = --socket ]; then
			guest_socket || rc=1
		elif [ "$1" = --scale ]; then
			guest_scale || rc=1
		else
			guest_threads || rc=1
		fi
		say "unloading"
		rmmod vfiosim
		return $rc
	fi
	[ -f "$mtty" ] || die "$mtty missing: make mtty"
	[ -x "$userd" ] || die "$userd missing: make userspace"
	say "loading vfio, mdev, vfio_iommu_type1, vfiosim, mtty ($kver)"
	modprobe vfio
	modprobe mdev
	modprobe vfio_iommu_type1
	insmod "$ko"
	insmod "$mtty"

	# mtty's types are mtty-1 (one port) and mtty-2; any will do.
	mtype=mtty-2
	[ -d "/sys/class/mdev_bus/mtty/mdev_supported_types/$mtype" ] ||
		mtype=$(ls /sys/class/mdev_bus/mtty/mdev_supported_types | head -n 1)
	# Four vfiosim-full devices: a device is open through VFIO or bound
	# to one netlink socket, never both, the pipelined rows bind the
	# bench's own socket and vfiosim-userd binds its own.  So the vfio,
	# netlink, pipelined and unix rows run in one process, each on its
	# own device.
	uuid_n dev 0 1
	uuid_n peer 0 2
	uuid_n nl 0 3
	uuid_n pipe 0 4
	uuid_n ux 0 5
	say "creating vfiosim-full $dev (vfio), $nl (netlink), $pipe (pipelined netlink), $ux (unix) and $mtype $peer"
	echo "$dev" > "$full"
	echo "$nl" > "$full"
	echo "$pipe" > "$full"
	echo "$ux" > "$full"
	echo "$peer" > "/sys/class/mdev_bus/mtty/mdev_supported_types/$mtype/create"
	say "starting vfiosim-userd for $ux on $ux_sock"
	userd_start "$ux" || die "vfiosim-userd did not come up"

	say "running vfiosim-bench (${VFIOSIM_BENCH_ITERS:-20000} ops each, output at the end)"
	# Quiet console while measuring (see settle); the table comes after.
	sleep 1
	taskset -c 0 "$bench" --dev "vfio:$dev" --peer "vfio:$peer" \
		--nl "netlink:$nl" --nl-raw "$pipe" --unix "unix:$ux_sock" \
		--iters "${VFIOSIM_BENCH_ITERS:-20000}" \
		--json "$VFIOSIM_RESULTS/bench.json" \
		> /tmp/bench.txt 2>&1 || rc=1
	cp /tmp/bench.txt "$VFIOSIM_RESULTS/bench.txt"
	cat /tmp/bench.txt

	userd_stop || rc=1
	say "removing the benchmark devices"
	echo 1 > "/sys/bus/mdev/devices/$dev/remove"
	echo 1 > "/sys/bus/mdev/devices/$nl/remove"
	echo 1 > "/sys/bus/mdev/devices/$pipe/remove"
	echo 1 > "/sys/bus/mdev/devices/$ux/remove"
	echo 1 > "/sys/bus/mdev/devices/$peer/remove"

	guest_threads || rc=1
	guest_scale || rc=1
	guest_mig || rc=1

	say "unloading"
	rmmod mtty
	rmmod vfiosim
	return $rc
}

host() {
	local results=${VFIOSIM_BENCH_RESULTS:-$top/build/bench} rc=0 t0=$SECONDS
	local kernel=${VFIOSIM_BENCH_KERNEL:-6.12} root=/ kdir_arg=() kdir

	[ -f "$top/userspace/build/libvfiosim.a" ] ||
		die "libvfiosim missing: make -C $top userspace"
	# A full version may live in the Debian 13 root (7.x).
	case $kernel in
	6.1 | 6.12) ;;
	debug)
		kdir=$(scripts/debug-kernel.sh --path) ||
			die "the debug kernel is not built: make debug-kernel"
		kernel=$(cat "$kdir/kernelrelease")
		kdir_arg=(--kernel-dir "$kdir")
		say "building vfiosim.ko against $kernel"
		scripts/kbuild.sh "$kdir/src" "$top/build/kmod/$kernel" >/dev/null ||
			die "vfiosim.ko does not build against $kdir/src"
		;;
	*) root=$(scripts/kernels.sh --root "$kernel") || exit 1 ;;
	esac
	say "building vfiosim-bench"
	make -s -C "$top/userspace/bench"
	mkdir -p "$results"
	rm -f "$results"/bench.json "$results"/threads.json "$results"/scale.json
	say "booting a $kernel guest with 2 vCPUs (results in ${results#"$top"/})"
	# 2 vCPUs whatever run's default: the thread scaling needs them.
	scripts/vm/run --kernel "$kernel" --root "$root" "${kdir_arg[@]}" \
		--smp 2 --timeout "${VFIOSIM_BENCH_TIMEOUT:-900}" \
		--results "$results" -- bash scripts/bench.sh --guest "$@" || rc=$?
	[ "$rc" -eq 0 ] || die "guest run failed (status $rc), see $results/console.log"
	if [ "${1:-}" = --threads ]; then
		say "done in $((SECONDS - t0)) s: $results/threads.json"
	elif [ "${1:-}" = --mig ]; then
		say "done in $((SECONDS - t0)) s: $results/mig.txt"
	elif [ "${1:-}" = --socket ]; then
		say "done in $((SECONDS - t0)) s: $results/bench-socket.txt"
	elif [ "${1:-}" = --scale ]; then
		say "done in $((SECONDS - t0)) s: $results/scale.json"
	else
		say "done in $((SECONDS - t0)) s: $results/bench.json, $results/threads.json, $results/scale.json"
	fi
}

case ${1:-}${2:+ $2} in
"--guest" | "--guest --threads" | "--guest --mig" | "--guest --socket" | "--guest --scale")
	shift
	guest "$@"
	;;
"" | --threads | --mig | --socket | --scale)
	host "$@"
	;;
*)
	echo "usage: $0 [--threads|--mig|--socket|--scale] | --guest [--threads|--mig|--socket|--scale]" >&2
	exit 2
	;;
esac
