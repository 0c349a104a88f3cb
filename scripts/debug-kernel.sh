#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the debug kernel of make check-debug from Debian 12's
# linux-source-6.12: defconfig plus scripts/debug-kernel.config (KASAN,
# lockdep, kmemleak, UBSAN, debug objects and lists; the VFIO core and
# what scripts/vm/run boots built in).
#
#   scripts/debug-kernel.sh          build if needed; print the kernel's
#                                    directory on stdout
#   scripts/debug-kernel.sh --path   print it only if it is built (else
#                                    exit 1), never build
#
# Why 6.12 from Debian 12 and not the Debian 13 root's newest: the host's
# own compiler builds it, the guest boots it over the host's root (the
# userspace the selftests were built for), and it is a kernel the module
# supports in make check, so a report there is about the same code.
#
# The build lives outside the clone, in $VFIOSIM_DEBUG_KERNEL_DIR
# (/var/lib/vfiosim/debug-kernel), in a directory named by a hash of the
# source package's version, the config fragment, the compiler and FORMAT
# (bump it when this script builds differently); another hash is another
# build, and only the newest is kept.
# The directory holds the kernel tree (src/, which the module is built
# against), boot/vmlinuz-KVER and vmlinux, boot/config-KVER,
# lib/modules/KVER (modules_install), build.log and build-seconds.
# Progress goes to stderr.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
base=${VFIOSIM_DEBUG_KERNEL_DIR:-/var/lib/vfiosim/debug-kernel}
tarball=/usr/src/linux-source-6.12.tar.xz
fragment=$top/scripts/debug-kernel.config
FORMAT=1

say() { echo "debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) ||
	die "linux-source-6.12 is not installed: run make deps"
[ -r "$tarball" ] || die "no $tarball: run make deps"
key=$({
	echo "format $FORMAT linux-source-6.12 $srcver"
	gcc --version | head -n 1
	sha256sum <"$fragment"
} | sha256sum | cut -c1-16)
dir=$base/6.12-$key

if [ "${1:-}" = --path ]; then
	[ -f "$dir/done" ] || exit 1
	echo "$dir"
	exit 0
fi
if [ -f "$dir/done" ]; then
	say "reusing $dir (built in $(cat "$dir/build-seconds") s)"
	echo "$dir"
	exit 0
fi

mkdir -p "$base"
exec 9>"$base/.lock"
flock 9
start=$(date +%s)
# Another key's build is stale: keep one tree, not one per change.
for old in "$base"/6.12-*; do
	[ -d "$old" ] && [ "$old" != "$dir" ] && { say "removing stale $old"; rm -rf "$old"; }
done
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/boot"
log=$dir/build.log

say "unpacking $tarball ($srcver)"
tar -xf "$tarball" -C "$dir/src" --strip-components=1

cd "$dir/src"
say "configuring: defconfig + ${fragment#"$top"/}"
{
	make defconfig
	scripts/kconfig/merge_config.sh -m .config "$fragment"
	make olddefconfig
} >"$log" 2>&1 || die "configuration failed; see $log"

# Every line of the fragment must have stuck: a dependency kconfig
# resolved the other way would silently drop a checker.
missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	if ! grep -qxF -- "$want" .config; then
		# "is not set" also holds when the symbol is absent.
		case $want in
		"# CONFIG_"*)
			sym=${want#"# "}
			sym=${sym%% *}
			grep -q "^$sym=" .config || continue
			;;
		esac
		say "config: wanted '$want', got '$(grep -E "^(# )?${want#"# "}" .config |
			head -n 1 || true)'"
		missing=1
	fi
done <"$fragment"
[ "$missing" = 0 ] || die "the merged .config lacks the lines above"

say "building with $(nproc) jobs (progress in $log; about 30 minutes)"
make -j"$(nproc)" all >>"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	sleep 60
	kill -0 "$pid" 2>/dev/null || break
	say "... $(($(date +%s) - start)) s, $(grep -cE '^  (CC|AS|LD|AR)' "$log") steps"
done
wait "$pid" || { tail -n 30 "$log" >&2; die "the build failed; see $log"; }
kver=$(make -s kernelrelease)
make -s modules_install INSTALL_MOD_PATH="$dir" >>"$log" 2>&1 ||
	die "modules_install failed; see $log"

cp arch/x86/boot/bzImage "$dir/boot/vmlinuz-$kver"
cp .config "$dir/boot/config-$kver"
# The ELF kernel boots through PVH, without the bzImage decompressor.
cp vmlinux "$dir/boot/vmlinux-$kver"
echo "$kver" >"$dir/kernelrelease"
echo $(($(date +%s) - start)) >"$dir/build-seconds"
touch "$dir/done"
say "built $kver in $(cat "$dir/build-seconds") s: $dir"
echo "$dir"
