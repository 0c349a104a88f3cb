#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfiosim.ko loads, shows its mdev types in sysfs, creates and removes
# devices by uuid, refuses bad uuids and unloads.  TAP output.
#
# Needs root and VFIOSIM_KO (path to vfiosim.ko); only where modules can be
# loaded, i.e. the test VM.  If vfiosim is already loaded it is unloaded
# first and loaded again at the end, so callers find it as they left it.

KSFT_SKIP=4

ko=${VFIOSIM_KO:-}
parent=/sys/class/mdev_bus/vfiosim
types=$parent/mdev_supported_types
devices=/sys/bus/mdev/devices
type_ids="vfiosim-small vfiosim-full"

count=0
failed=0

ok()
{
	count=$((count + 1))
	echo "ok $count $*"
}

not_ok()
{
	count=$((count + 1))
	failed=$((failed + 1))
	echo "not ok $count $*"
}

# check DESCRIPTION COMMAND...: one TAP line for one command's success.
check()
{
	local desc=$1

	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

fails()
{
	! "$@"
}

skip_all()
{
	echo "1..0 # SKIP $*"
	exit $KSFT_SKIP
}

# A sysfs store reports its error as a failed write.
write_attr()
{
	echo "$2" 2>/dev/null > "$1"
}

module_loaded()
{
	[ -d /sys/module/vfiosim ]
}

available()
{
	cat "$types/$1/available_instances" 2>/dev/null
}

is_positive()
{
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]
}

equals()
{
	[ "$1" = "$2" ]
}

attr_equals()
{
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

# The mdev devices of vfiosim types that exist right now.
vfiosim_devices()
{
	local dev

	for dev in "$devices"/*; do
		[ -e "$dev/mdev_type" ] || continue
		case $(basename "$(readlink -f "$dev/mdev_type")") in
		vfiosim-*) basename "$dev" ;;
		esac
	done
}

no_vfiosim_devices()
{
	[ -z "$(vfiosim_devices)" ]
}

device_type_is()
{
	equals "$(basename "$(readlink -f "$devices/$1/mdev_type")")" "$2"
}

check_type_attributes()
{
	local t=$1 dir=$types/$1

	check "$t: type directory exists" test -d "$dir"
	check "$t: name is set" test -s "$dir/name"
	check "$t: description is set" test -s "$dir/description"
	check "$t: device_api is vfio-pci" attr_equals "$dir/device_api" vfio-pci
	check "$t: available_instances is positive" is_positive "$(available "$t")"
	check "$t: available_instances starts at 4096, for all types" \
		equals "$(available "$t")" 4096
}

# Every type draws on one count of devices (the parent's max_instances).
check_create_remove()
{
	local t=$1 before uuid o

	before=$(available "$t")
	uuid=$(cat /proc/sys/kernel/random/uuid)

	check "$t: create $uuid" write_attr "$types/$t/create" "$uuid"
	check "$t: device appears on the mdev bus" test -d "$devices/$uuid"
	check "$t: device has type $t" device_type_is "$uuid" "$t"
	check "$t: available_instances went down by one" \
		equals "$(available "$t")" "$((before - 1))"
	for o in $type_ids; do
		check "$t: $o shares the count" \
			equals "$(available "$o")" "$((before - 1))"
	done
	check "$t: creating the same uuid again fails" \
		fails write_attr "$types/$t/create" "$uuid"
	check "$t: remove $uuid" write_attr "$devices/$uuid/remove" 1
	check "$t: device is gone" test ! -e "$devices/$uuid"
	check "$t: available_instances is back to $before" \
		equals "$(available "$t")" "$before"
}

echo "TAP version 13"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -f "$ko" ] || skip_all "VFIOSIM_KO is not set to vfiosim.ko"

was_loaded=0
if module_loaded; then
	was_loaded=1
	check "unload the already loaded module first" rmmod vfiosim
fi

check "insmod $ko" insmod "$ko"
if ! module_loaded; then
	echo "1..$count"
	exit 1
fi
check "mdev parent $parent exists" test -d "$parent"

for t in $type_ids; do
	check_type_attributes "$t"
done
for t in $type_ids; do
	check_create_remove "$t"
done

uuid=$(cat /proc/sys/kernel/random/uuid)
check "create with a malformed uuid fails" \
	fails write_attr "$types/vfiosim-small/create" "not-a-uuid"
check "create with a truncated uuid fails" \
	fails write_attr "$types/vfiosim-small/create" "${uuid%?}"
check "create with a uuid that has a bad digit fails" \
	fails write_attr "$types/vfiosim-small/create" "${uuid%?}g"
check "the bad uuids created nothing" no_vfiosim_devices

check "rmmod vfiosim" rmmod vfiosim
check "mdev parent is gone" test ! -e "$parent"

if [ $was_loaded = 1 ]; then
	check "load the module again, as it was found" insmod "$ko"
fi

echo "1..$count"
[ $failed = 0 ]
