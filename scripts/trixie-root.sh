#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build, once, a Debian 13 ("trixie") root outside the clone, and keep it
# whole.  It brings what Debian 12 lacks: QEMU 11 (with vfio-user-pci) and
# the newest backports kernel with its headers.  The 7.3 test guest boots
# with this root as its 9p root, and scripts/kernels.sh finds its kernels.
#
#   scripts/trixie-root.sh            build or repair, then print a summary
#   VFIOSIM_TRIXIE=DIR                where the root lives
#                                     (default /var/lib/vfiosim/trixie)
#   VFIOSIM_TRIXIE_REFRESH=1          refresh the root's package lists and
#                                     take newer backports (a new kernel);
#                                     done anyway once the lists are a week
#                                     old, and then a failure only warns
#
# The archive is the one apt already uses (its first "bookworm" deb
# target), else debootstrap's own default: no mirror is named here.
set -euo pipefail

root=${VFIOSIM_TRIXIE:-/var/lib/vfiosim/trixie}
stamp=$root/.vfiosim-root

# Installed from trixie-backports: the newest VMM and kernel, that
# kernel's source (linux-source: the YNL code generator and the netlink
# schemas that scripts/ynl-check.sh runs) and its perf (linux-perf, built
# from the same source, so that perf knows the kernel it records).
backports=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 linux-source
	linux-perf)
# Installed from trixie: what kbuild needs in the root, and what the test
# suite runs there (the Debian 12 userspace is dynamically linked against
# libmnl, jansson and the gcc sanitizer runtimes; trace-cmd for the
# tracepoint test).  initramfs-tools comes first so that the kernel does
# not pull in dracut; it is told not to run.
packages=(
	initramfs-tools make gcc-14 libc6-dev bc flex bison libelf-dev kmod
	bash coreutils util-linux procps iproute2 findutils grep sed gawk
	busybox-static mdevctl python3 python3-yaml python3-jsonschema dkms
	libmnl0 libjansson4 libasan8 libubsan1 xz-utils zstd gzip cpio
	trace-cmd
)

say() { echo "trixie-root: $*"; }
die() {
	echo "trixie-root: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"

# The URI apt uses for Debian 12's main archive, if any.
host_mirror() {
	apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk '$2 == "bookworm" { print $1; exit }'
}

# Mounts for package scripts in the chroot; undone on any exit.
mounted=()
umount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[$i]}" 2>/dev/null || true
	done
	mounted=()
}
trap umount_all EXIT

chroot_mounts() {
	local d
	for d in proc sys dev; do
		mountpoint -q "$root/$d" && continue
		case $d in
		proc) mount -t proc proc "$root/proc" ;;
		sys) mount -t sysfs sysfs "$root/sys" ;;
		dev) mount --rbind /dev "$root/dev" ;;
		esac
		mounted+=("$root/$d")
	done
}

in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}

apt_in_root() {
	in_root apt-get -q -y -o Acquire::Check-Valid-Until=false \
		-o APT::Install-Recommends=false -o Dpkg::Options::=--force-confold "$@"
}

missing_in_root() {
	local p
	for p in "$@"; do
		in_root dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q 'install ok installed' || echo "$p"
	done
}

start=$(date +%s)

if [ ! -f "$stamp" ]; then
	mirror=$(host_mirror)
	tmp=$root.new
	rm -rf -- "$tmp"
	mkdir -p -- "$(dirname "$root")"
	say "debootstrap trixie into $root${mirror:+ from $mirror} (about 3 minutes)"
	debootstrap --variant=minbase trixie "$tmp" ${mirror:+"$mirror"} \
		>"$(dirname "$root")/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $(dirname "$root")/debootstrap.log"
	rm -rf -- "$root"
	mv -- "$tmp" "$root"
	# The archive debootstrap used, for trixie-backports too.
	uri=$(awk '$1 == "deb" { print $2; exit }' "$root/etc/apt/sources.list")
	[ -n "$uri" ] || die "no archive in $root/etc/apt/sources.list"
	echo "deb $uri trixie-backports main" \
		>"$root/etc/apt/sources.list.d/trixie-backports.list"
	# The test VMs boot with an initramfs of our own; the kernel
	# package's initrd would only cost a minute per install.
	mkdir -p "$root/etc/initramfs-tools"
	echo "update_initramfs=no" >"$root/etc/initramfs-tools/update-initramfs.conf"
	touch "$stamp"
	refresh=1
else
	refresh=${VFIOSIM_TRIXIE_REFRESH:-0}
	# A week-old root looks for a newer kernel and QEMU by itself.
	if [ "$refresh" != 1 ] &&
		[ -z "$(find "$root/.vfiosim-updated" -mtime -7 2>/dev/null)" ]; then
		refresh=weekly
	fi
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

need=$(missing_in_root "${packages[@]}" "${backports[@]}")
if [ -z "$need" ] && [ "$refresh" = weekly ]; then
	chroot_mounts
	say "package lists are a week old: looking for newer backports"
	if apt_in_root update >/dev/null &&
		apt_in_root -t trixie-backports install "${backports[@]}" >/dev/null; then
		touch "$root/.vfiosim-updated"
		say "refreshed in $(($(date +%s) - start)) s"
	else
		echo "trixie-root: warning: could not refresh $root; keeping what it has" >&2
	fi
	umount_all
elif [ -n "$need" ] || [ "$refresh" = 1 ]; then
	chroot_mounts
	say "apt-get update in $root"
	apt_in_root update >/dev/null
	touch "$root/.vfiosim-updated"
	need_main=$(missing_in_root "${packages[@]}")
	if [ -n "$need_main" ]; then
		say "installing:" $need_main
		# shellcheck disable=SC2086 # one package a word
		apt_in_root install $need_main >/dev/null
	fi
	say "installing from trixie-backports: ${backports[*]}"
	apt_in_root -t trixie-backports install "${backports[@]}" >/dev/null
	umount_all
	need=$(missing_in_root "${packages[@]}" "${backports[@]}")
	[ -z "$need" ] || die "still missing in $root:" $need
	say "done in $(($(date +%s) - start)) s"
fi

qemu_ver=$(in_root qemu-system-x86_64 --version 2>/dev/null | head -n 1)
kernels=$(cd "$root/boot" && ls vmlinuz-* 2>/dev/null | sed 's/vmlinuz-//' | tr '\n' ' ')
say "$root: ${qemu_ver:-no qemu}; kernels: ${kernels:-none}"
