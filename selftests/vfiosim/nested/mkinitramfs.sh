#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the nested guest's boot files for one kernel:
#
#   mkinitramfs.sh KVER OUTDIR PROBE [INIT]
#
# OUTDIR gets initramfs.cpio.gz (static busybox, INIT (default nested/init)
# as /init, the probe as /probe, and vfio, vfio_iommu_type1, vfio-pci with what
# `modprobe --show-depends` says they need, decompressed for busybox insmod)
# and, when the kernel has CONFIG_PVH, vmlinux: the decompressed kernel,
# which QEMU boots through its PVH entry point, skipping a decompressor that
# is very slow under nested TCG.  Kernel and modules come from this
# system's /boot and /lib/modules.  Rebuilt only when an input changes;
# concurrent callers share one build (flock).  Prints the
# path of the kernel image to boot on stdout.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
kver=${1:?usage: mkinitramfs.sh KVER OUTDIR PROBE}
out=${2:?usage: mkinitramfs.sh KVER OUTDIR PROBE}
probe=${3:?usage: mkinitramfs.sh KVER OUTDIR PROBE}
init=${4:-$here/init}
FORMAT=1
busybox=/bin/busybox
vmlinuz=/boot/vmlinuz-$kver

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

[ -r "$vmlinuz" ] || die "no $vmlinuz"
[ -x "$probe" ] || die "no probe at $probe (make -C selftests/vfiosim)"
[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"
# A dynamically linked busybox would not run without a libc: look for a
# PT_INTERP program header in the ELF64 file.
has_interp() {
	local phoff phentsize phnum i
	phoff=$(od -An -j32 -N8 -tu8 "$1" | tr -d ' ')
	phentsize=$(od -An -j54 -N2 -tu2 "$1" | tr -d ' ')
	phnum=$(od -An -j56 -N2 -tu2 "$1" | tr -d ' ')
	for ((i = 0; i < phnum; i++)); do
		[ "$(od -An -j$((phoff + i * phentsize)) -N4 -tu4 "$1" | tr -d ' ')" = 3 ] && return 0
	done
	return 1
}
if has_interp "$busybox"; then
	die "$busybox is dynamically linked (apt-get install busybox-static)"
fi

mods=$(modprobe -S "$kver" --show-depends -a vfio vfio_iommu_type1 vfio_pci |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
[ -n "$mods" ] || die "modprobe -S $kver --show-depends found no VFIO modules"

mkdir -p -- "$out"
exec 9>"$out/.lock"
flock 9

# The kernel and its modules are big and only change with their package
# (and mtime): size and mtime stand for them, which is much quicker to
# get under TCG than a hash.
# shellcheck disable=SC2086 # one path per word
want=$({
	echo "format $FORMAT $kver"
	sha256sum "$init" "$busybox" "$probe"
	stat -L -c '%n %s %Y' "$vmlinuz" $mods
} | sha256sum | cut -d' ' -f1)

image=$vmlinuz
if grep -q '^CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null; then
	image=$out/vmlinux
fi

if [ -s "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/inputs.sha256" 2>/dev/null)" = "$want" ] &&
	{ [ "$image" = "$vmlinuz" ] || [ -s "$image" ]; }; then
	echo "$image"
	exit 0
fi

stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf -- "$stage" "$out/vmlinux.tmp"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,modules}
cp "$busybox" "$stage/bin/busybox"
cp "$init" "$stage/init"
cp "$probe" "$stage/probe"
chmod 755 "$stage/init" "$stage/probe"
n=0
for m in $mods; do
	name=$(printf '%02d-%s' "$n" "$(basename "$m")")
	name=${name%.xz}
	name=${name%.zst}
	name=${name%.gz}
	case $m in
	*.ko.xz) xz -dc "$m" >"$stage/modules/$name" ;;
	*.ko.zst) zstd -qdc "$m" >"$stage/modules/$name" ;;
	*.ko.gz) gzip -dc "$m" >"$stage/modules/$name" ;;
	*.ko) cp "$m" "$stage/modules/$name" ;;
	*) die "unexpected module file $m" ;;
	esac
	echo "$name" >>"$stage/modules/order"
	n=$((n + 1))
done
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	"$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >"$out/initramfs.cpio.gz.tmp"
mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"

# The kernel's payload is one compressed stream after the setup code: find
# its magic and decompress from there until an ELF comes out.
if [ "$image" != "$vmlinuz" ]; then
	image=$vmlinuz
	for magic in '\x28\xb5\x2f\xfd:zstd' '\xfd7zXZ\x00:xz' '\x1f\x8b\x08:gzip'; do
		tool=${magic##*:}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -abo -P "${magic%:*}" "$vmlinuz" | cut -d: -f1 | head -n 3); do
			tail -c +"$((off + 1))" "$vmlinuz" | "$tool" -dc >"$out/vmlinux.tmp" 2>/dev/null || true
			if [ "$(head -c 4 "$out/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv -f "$out/vmlinux.tmp" "$out/vmlinux"
				image=$out/vmlinux
				break 2
			fi
		done
	done
	[ "$image" != "$vmlinuz" ] || echo "mkinitramfs.sh: cannot extract vmlinux; booting $vmlinuz" >&2
fi
echo "$want" >"$out/inputs.sha256"
echo "$image"
