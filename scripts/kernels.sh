#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel matrix, discovered rather than listed:
#   scripts/kernels.sh          the versions we build and test for, one a
#                               line: the newest 6.1 and the newest 6.12 of
#                               the host (Debian 12), then the newest kernel
#                               of the Debian 13 root (VFIOSIM_TRIXIE,
#                               default /var/lib/vfiosim/trixie), each only
#                               with both image and headers installed
#   scripts/kernels.sh --root K the root that kernel K lives in: / or the
#                               Debian 13 root
set -u
trixie=${VFIOSIM_TRIXIE:-/var/lib/vfiosim/trixie}

# newest ROOT PATTERN: the newest version matching PATTERN in ROOT with
# image, modules and headers.
newest() {
	local root=${1%/} pat=$2 d k
	for d in "$root"/usr/src/linux-headers-$pat; do
		[ -f "$d/Makefile" ] || continue
		k=${d##*/linux-headers-}
		[ -f "$root/boot/vmlinuz-$k" ] && [ -d "$root/lib/modules/$k" ] && echo "$k"
	done | sort -V | tail -n 1
}

if [ "${1:-}" = --root ]; then
	k=${2:?usage: kernels.sh --root KVER}
	if [ -f "/boot/vmlinuz-$k" ]; then
		echo /
	elif [ -f "$trixie/boot/vmlinuz-$k" ]; then
		echo "$trixie"
	else
		echo "kernels.sh: no kernel $k in /boot or $trixie/boot" >&2
		exit 1
	fi
	exit 0
fi

newest / '6.1.*-amd64'
newest / '6.12.*-amd64'
[ -f "$trixie/.vfiosim-root" ] && newest "$trixie" '*-amd64'
exit 0
