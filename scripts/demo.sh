#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: a guided tour of vfiosim inside a QEMU guest.
#   scripts/demo.sh            boot a 6.12 guest and run the tour in it
#   scripts/demo.sh --guest    the tour itself (inside the guest, as root)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ctl=$top/userspace/build/vfiosimctl

if [ "${1:-}" != --guest ]; then
	kver=$("$top/scripts/kernels.sh" | grep '^6\.12' || true)
	[ -n "$kver" ] || { echo "demo: no 6.12 kernel installed; run 'make deps'" >&2; exit 1; }
	echo "demo: booting a QEMU guest with Debian's $kver (takes a few seconds)..."
	cd "$top"
	exec scripts/vm/run --kernel "$kver" -- "$top/scripts/demo.sh" --guest
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Load VFIO, mdev and vfiosim"
run modprobe vfio
run modprobe vfio_iommu_type1
run modprobe mdev
run insmod "$top/build/kmod/$VFIOSIM_KVER/vfiosim.ko"

say "The device types vfiosim offers"
run "$ctl" types

say "Create a 'full' device (an mdev, named by a UUID)"
uuid=$("$ctl" dev add vfiosim-full)
echo "created $uuid"
run "$ctl" dev show "$uuid"

say "Read its PCI identity from config space (region 'config')"
run "$ctl" region read "$uuid" config 0x0
echo "(low 16 bits: vendor 0x5653, high 16 bits: device 0x0002)"

say "BAR0 is a register file: the ID register reads 'VFSM'"
run "$ctl" region read "$uuid" bar0 0x0

say "Scratch registers keep what you write"
run "$ctl" region write "$uuid" bar0 0x10 0xdeadbeef
run "$ctl" region read "$uuid" bar0 0x10

say "The same device as a vfio-user server, over generic netlink"
run "$ctl" -b netlink region read "$uuid" bar0 0x10

say "Ring the doorbell: vector 0 of MSI-X arrives on an eventfd"
run "$ctl" irq "$uuid" --mode msix --vector 0 --count 5

say "The same in JSON, for scripts"
run "$ctl" -p dev show "$uuid"

say "Migrate: save the device (VFIO) and resume it on a second one (netlink)"
uuid2=$("$ctl" dev add vfiosim-full)
echo "created $uuid2"
run "$ctl" mig "vfio:$uuid" "netlink:$uuid2" --scratch 0x600dcafe --text "state that moved"

say "Remove the devices and unload the module"
run "$ctl" dev del "$uuid2"
run "$ctl" dev del "$uuid"
run rmmod vfiosim
echo
echo "Done. Next: 'make check' runs the whole test suite on 6.1, 6.12 and the Debian 13 root's kernel."
