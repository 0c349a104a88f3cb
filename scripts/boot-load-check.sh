#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module as an installed Debian system gets it at boot: `dkms install`
# of the DKMS build that scripts/install-check.sh made, the
# modules-load.d file that `make install` put in its DESTDIR, then
# systemd's boot-time loader, systemd-modules-load (what
# systemd-modules-load.service runs), in a fresh guest with nothing of
# VFIO loaded.  The loaded module must be the DKMS one, found by name
# under updates/dkms, with its dependencies, and must make a working
# device.  The guest's root is read-only: /lib/modules/KVER and
# /usr/lib/modules-load.d get a tmpfs overlay, as writable as on a
# real machine.  TAP on stdout, then "N passed, N failed".
#
#   scripts/boot-load-check.sh KVER     (after scripts/install-check.sh)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
stage=$top/build/install-check
version=$(sed -n 's/^VERSION\t:= //p' Makefile)

# shellcheck source=tap.sh
. "$top/scripts/tap.sh"
check() {
	local what=$1

	shift
	if "$@" >/tmp/vfiosim-boot-load.out 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/# /' /tmp/vfiosim-boot-load.out | tail -n 20
	fi
}

# $1 over a tmpfs: writable, and gone with the guest.
overlay() {
	local dir=$1 up

	up=/tmp/vfiosim-overlay/$(echo "$dir" | tr / _)
	mkdir -p "$up/upper" "$up/work" &&
		mount -t overlay overlay \
			-o "lowerdir=$dir,upperdir=$up/upper,workdir=$up/work" "$dir"
}

guest() {
	local k tree ko dkms_dir dkms_ko uuid id ctl=$top/userspace/build/vfiosimctl

	k=$(uname -r)
	tree=$stage/dkms-$k
	dkms_dir=/lib/modules/$k/updates/dkms
	echo "TAP version 13"
	echo "# $k, DKMS tree ${tree#"$top"/}, vfiosim $version"
	if grep -qE '^(vfio|mdev|vfiosim) ' /proc/modules; then
		not_ok "a fresh guest: no VFIO module loaded yet"
		finish
	fi
	[ -d "$tree/vfiosim/$version/$k" ] ||
		{ not_ok "$tree has a build for $k (run scripts/install-check.sh)"; finish; }
	if ! { modprobe overlay && overlay "/lib/modules/$k" &&
	       overlay /usr/lib/modules-load.d; }; then
		not_ok "tmpfs overlays on /lib/modules/$k and /usr/lib/modules-load.d"
		finish
	fi
	cp -a "$tree" /tmp/vfiosim-dkms || { not_ok "copy the DKMS tree"; finish; }

	check "dkms install -m vfiosim -v $version -k $k" \
		dkms install -m vfiosim -v "$version" -k "$k" \
		--dkmstree /tmp/vfiosim-dkms --sourcetree "$stage/root/usr/src"
	# Debian's dkms compresses the module when the kernel's are.
	dkms_ko=
	for ko in "$dkms_dir"/vfiosim.ko "$dkms_dir"/vfiosim.ko.*; do
		[ -f "$ko" ] && { dkms_ko=$ko; break; }
	done
	if [ -n "$dkms_ko" ]; then
		ok "... puts the module in $dkms_ko"
	else
		not_ok "... no vfiosim.ko or vfiosim.ko.xz in $dkms_dir"
	fi
	ko=$(modinfo -n vfiosim 2>&1)
	if [ -n "$dkms_ko" ] && [ "$ko" = "$dkms_ko" ]; then
		ok "modinfo finds vfiosim by name there (depmod ran)"
	else
		not_ok "modinfo -n vfiosim: $ko"
	fi
	check "make install's modules-load.d file in /usr/lib/modules-load.d" \
		cp "$stage/root/usr/lib/modules-load.d/vfiosim.conf" /usr/lib/modules-load.d/

	check "systemd-modules-load (the boot-time loader) exits 0" \
		/lib/systemd/systemd-modules-load
	for m in vfio vfio_iommu_type1 mdev vfiosim; do
		if grep -q "^$m " /proc/modules; then
			ok "... $m is loaded"
		else
			not_ok "... $m is not loaded"
		fi
	done
	if [ "$(cat /sys/module/vfiosim/srcversion 2>/dev/null)" = \
	     "$(modinfo -F srcversion "$dkms_ko" 2>/dev/null)" ]; then
		ok "the loaded vfiosim is the DKMS build (srcversion)"
	else
		not_ok "the loaded vfiosim's srcversion is not the DKMS build's"
	fi
	uuid=$(cat /proc/sys/kernel/random/uuid)
	if echo "$uuid" > /sys/class/mdev_bus/vfiosim/mdev_supported_types/vfiosim-small/create; then
		id=$("$ctl" region read "vfio:$uuid" bar0 0x0 2>&1)
		case $id in
		*0x5646534d*) ok "a device of it reads its ID over vfio: ($id)" ;;
		*) not_ok "vfiosimctl region read vfio:$uuid bar0 0x0: $id" ;;
		esac
		echo 1 > "/sys/bus/mdev/devices/$uuid/remove"
	else
		not_ok "create a vfiosim-small device"
	fi
	check "modprobe -r vfiosim" modprobe -r vfiosim
	finish
}

if [ "${1:-}" = --guest ]; then
	guest
fi
kver=${1:?usage: scripts/boot-load-check.sh KVER}
root=$(scripts/kernels.sh --root "$kver")
res=$top/build/results/boot-load-$kver
rm -rf "$res"
mkdir -p "$res"
scripts/vm/run --kernel "$kver" --root "$root" --results "$res" --timeout 300 -- \
	"$top/scripts/boot-load-check.sh" --guest
