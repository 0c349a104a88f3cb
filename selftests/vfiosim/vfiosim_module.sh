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

# python3 -c "$nl_owner_py" UUID: a netlink socket binds device UUID
# (DEV_OPEN), prints "open <errno>" and holds it until stdin closes.
nl_owner_py='
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
s.bind((0, 0))
def attr(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + bytes(-n % 4)
def msg(typ, flags, cmd, attrs):
    body = struct.pack("=BBH", cmd, 1, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), typ, flags, 1, 0) + body
# CTRL_CMD_GETFAMILY (3) with CTRL_ATTR_FAMILY_NAME (2)
s.send(msg(0x10, 1, 3, attr(2, b"vfiosim\0")))
r = s.recv(65536)
off, fam = 20, None
while off + 4 <= len(r):
    n, t = struct.unpack_from("=HH", r, off)
    if t == 1:  # CTRL_ATTR_FAMILY_ID
        fam = struct.unpack_from("=H", r, off + 4)[0]
    off += (n + 3) & ~3
if fam is None:
    print("open no-family", flush=True)
    sys.exit(1)
# VFIOSIM_CMD_DEV_OPEN (2), NLM_F_REQUEST|NLM_F_ACK, VFIOSIM_ATTR_DEV_UUID (1)
s.send(msg(fam, 5, 2, attr(1, sys.argv[1].encode() + b"\0")))
r = s.recv(65536)
print("open", -struct.unpack_from("=i", r, 16)[0], flush=True)
sys.stdin.read()
'

rmmod_in_use()
{
	local out rc

	out=$(timeout 10 rmmod vfiosim 2>&1)
	rc=$?
	echo "# rmmod: exit $rc: $out"
	[ $rc != 0 ] && [ $rc != 124 ] && [[ $out == *"in use"* ]]
}

# A netlink owner holds the module as a VFIO owner does: rmmod fails at
# once ("in use") instead of waiting for the owner, and works once the
# socket is closed.
check_rmmod_netlink_owner()
{
	local uuid line

	if ! command -v python3 >/dev/null; then
		ok "# SKIP rmmod with a netlink owner: no python3"
		return
	fi
	uuid=$(cat /proc/sys/kernel/random/uuid)
	check "create $uuid for a netlink owner" \
		write_attr "$types/vfiosim-small/create" "$uuid"
	coproc owner { exec python3 -c "$nl_owner_py" "$uuid"; }
	read -t 30 -r line <&"${owner[0]}"
	check "a netlink socket owns $uuid" equals "$line" "open 0"
	check "rmmod with a netlink owner fails at once: in use" rmmod_in_use
	check "the module is still loaded" module_loaded
	check "$uuid is still there" test -d "$devices/$uuid"
	eval "exec ${owner[1]}>&-"
	wait "$owner_PID"
	if module_loaded; then
		check "remove $uuid once the socket closed" \
			write_attr "$devices/$uuid/remove" 1
	else
		insmod "$ko"
	fi
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

check_rmmod_netlink_owner

check "rmmod vfiosim" rmmod vfiosim
check "mdev parent is gone" test ! -e "$parent"

if [ $was_loaded = 1 ]; then
	check "load the module again, as it was found" insmod "$ko"
fi

echo "1..$count"
[ $failed = 0 ]
