#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Guest side: load vfiosim ($VFIOSIM_KO), create two devices, serve them
# with vfiosim-userd on two sockets, run vfiosim-userd-conformance against
# both at once, check that the daemon leaked no fd, stop it with SIGTERM
# (exit status 0, sockets removed), remove the devices, unload the module.
#
# usage (from userspace/.. or anywhere):
#   scripts/vm/run --kernel 6.12 -- env VFIOSIM_KO=$PWD/build/kmod/<kver>/vfiosim.ko \
#       userspace/userd/run-conformance.sh
# USERD / CONFORMANCE override the binaries (e.g. an ASan build).
# VFIOSIM_MODULE_LOADED=1: vfiosim is already loaded (the selftest suite);
# neither load nor unload it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
keep=${VFIOSIM_MODULE_LOADED:-0}
[ "$keep" = 1 ] || ko=${VFIOSIM_KO:?set VFIOSIM_KO to the vfiosim.ko to load}
userd=${USERD:-$here/../build/vfiosim-userd}
conf=${CONFORMANCE:-$here/../build/vfiosim-userd-conformance}
tmp=$(mktemp -d)
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-full
rc=0 pid= uuids=

fail() { echo "not ok - $*"; rc=1; }

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for u in $uuids; do
		[ -e /sys/bus/mdev/devices/$u ] &&
			echo 1 > /sys/bus/mdev/devices/$u/remove
	done
	[ "$keep" = 1 ] || { grep -q '^vfiosim ' /proc/modules && rmmod vfiosim; }
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$keep" != 1 ]; then
	modprobe vfio && modprobe mdev && modprobe vfio_iommu_type1 ||
		{ echo "Bail out! modprobe vfio mdev vfio_iommu_type1"; exit 1; }
	insmod "$ko" || { echo "Bail out! insmod $ko"; exit 1; }
fi
for i in 1 2; do
	u=$(cat /proc/sys/kernel/random/uuid)
	echo "$u" > $types/create || { echo "Bail out! create device"; exit 1; }
	uuids="$uuids $u"
done
set -- $uuids
s1=$tmp/dev1.sock s2=$tmp/dev2.sock

# a stale socket is removed at start
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$s1" 2>/dev/null

umask 000
"$userd" --socket "$s1" --device "$1" --socket "$s2" --device "$2" \
	2> "$tmp/userd.log" &
pid=$!
umask 022
for i in $(seq 50); do
	[ "$(grep -c '^vfiosim-userd: listening on' "$tmp/userd.log")" = 2 ] && break
	sleep 0.1
done
grep '^vfiosim-userd: listening on' "$tmp/userd.log" || fail "userd did not start"
mode=$(stat -c %a "$s1")
[ "$mode" = 600 ] && echo "ok - socket mode 0600 under umask 000" ||
	fail "socket mode $mode"

# a second daemon on a live socket refuses to start
if "$userd" --socket "$s1" --device "$1" 2> "$tmp/second.log"; then
	fail "a second daemon started on a live socket"
else
	echo "ok - a second daemon refuses a live socket"
fi

fds_before=$(ls /proc/$pid/fd | wc -l)
"$conf" "$s1" > "$tmp/c1.out" 2>&1 &
c1=$!
"$conf" "$s2" > "$tmp/c2.out" 2>&1 &
c2=$!
wait $c1; r1=$?
wait $c2; r2=$?
echo "# conformance on device 1:"
cat "$tmp/c1.out"
echo "# conformance on device 2 (concurrently):"
grep -v '^ok' "$tmp/c2.out"
[ $r1 = 0 ] || fail "conformance on device 1 (status $r1)"
[ $r2 = 0 ] || fail "conformance on device 2 (status $r2)"
sleep 0.5
fds_after=$(ls /proc/$pid/fd | wc -l)
[ "$fds_before" = "$fds_after" ] &&
	echo "ok - userd holds $fds_after fds before and after" ||
	fail "userd fds: $fds_before before, $fds_after after"

kill -TERM $pid
wait $pid; st=$?
pid=
[ $st = 0 ] && echo "ok - userd exits 0 on SIGTERM" ||
	fail "userd exit status $st on SIGTERM"
[ ! -e "$s1" ] && [ ! -e "$s2" ] && echo "ok - sockets removed" ||
	fail "sockets left behind"
if grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$tmp/userd.log"; then
	fail "sanitizer report in userd's log"
fi
echo "# userd log: $(wc -l < "$tmp/userd.log") lines"
grep -v 'connected\|negotiated\|rejected\|refused' "$tmp/userd.log" |
	sed 's/client [0-9]*/client N/' | sort | uniq -c | sort -rn | head -20 |
	sed 's/^/#   /'

for u in $uuids; do
	echo 1 > /sys/bus/mdev/devices/$u/remove || fail "remove $u"
done
uuids=
if [ "$keep" != 1 ]; then
	rmmod vfiosim && echo "ok - module unloaded" || fail "rmmod vfiosim"
fi
p=$(grep -c '^ok' "$tmp/c1.out")
f=$(grep -c '^not ok' "$tmp/c1.out")
echo "conformance: $p passed, $f failed; harness status $rc"
exit $rc
