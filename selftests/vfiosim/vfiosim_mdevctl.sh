#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mdevctl, Debian's mdev manager, sees vfiosim's types and can start and
# stop a device.  Runs as root in the test guest with the module loaded.
set -u
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi; }

echo "TAP version 13"
if ! command -v mdevctl >/dev/null || [ ! -d /sys/class/mdev_bus/vfiosim ]; then
	echo "1..0 # SKIP mdevctl or the vfiosim module missing"
	exit 4
fi
echo "1..6"
uuid=$(cat /proc/sys/kernel/random/uuid)
types=$(mdevctl types 2>&1)
check "mdevctl types lists vfiosim-small" grep -q vfiosim-small <<<"$types"
check "mdevctl types lists vfiosim-full" grep -q vfiosim-full <<<"$types"
check "mdevctl start -p vfiosim -t vfiosim-full" mdevctl start -u "$uuid" -p vfiosim -t vfiosim-full
check "the device exists in sysfs" test -d "/sys/bus/mdev/devices/$uuid"
check "mdevctl list shows it" grep -q "$uuid vfiosim vfiosim-full" <<<"$(mdevctl list 2>&1)"
mdevctl stop -u "$uuid" >/dev/null 2>&1
check "mdevctl stop removes it" test ! -e "/sys/bus/mdev/devices/$uuid"
[ $failed -eq 0 ]
