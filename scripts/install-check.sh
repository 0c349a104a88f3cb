#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check's packaging step: `make install` into a scratch DESTDIR, a
# pkg-config consumer compiled and run against what was installed, and
# DKMS (a scratch DKMS tree) building the module from the installed
# source for each kernel of the matrix, inside its root for the Debian
# 13 kernel.  TAP on stdout.
#   scripts/install-check.sh [KVER...]     (default: scripts/kernels.sh)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
stage=$top/build/install-check
version=$(sed -n 's/^VERSION\t:= //p' Makefile)
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
quote() { sed 's/^/# /' "$1" | tail -n 20; }

echo "TAP version 13"
rm -rf "$stage"
mkdir -p "$stage"
if make -s install DESTDIR="$stage/root" PREFIX=/usr >"$stage/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	not_ok "make install"
	quote "$stage/install.log"
fi
for f in usr/bin/vfiosimctl usr/sbin/vfiosim-userd usr/lib/libvfiosim.so \
	 usr/lib/libvfiosim.a usr/include/vfiosim/vfiosim.h \
	 usr/include/vfiosim/linux/vfiosim.h usr/lib/pkgconfig/vfiosim.pc \
	 usr/lib/systemd/system/vfiosim-userd@.socket \
	 usr/lib/systemd/system/vfiosim-userd@.service \
	 usr/lib/modules-load.d/vfiosim.conf "usr/src/vfiosim-$version/dkms.conf"; do
	[ -e "$stage/root/$f" ] && ok "installed /$f" || not_ok "missing /$f"
done
# The man pages: installed compressed, and lint-clean (mandoc and groff).
for m in man/*.[1-8]; do
	page=$(basename "$m")
	gz=$stage/root/usr/share/man/man${page##*.}/$page.gz
	[ -e "$gz" ] && ok "installed /usr/share/man/man${page##*.}/$page.gz" ||
		not_ok "missing man page $page.gz"
	lint=$( { mandoc -Tlint -W warning "$m"; LC_ALL=C.UTF-8 man --warnings -l "$gz" >/dev/null; } 2>&1)
	[ -z "$lint" ] && ok "man page $page: mandoc -Tlint and man --warnings clean" ||
		{ not_ok "man page $page has lint warnings"; echo "$lint" | sed 's/^/# /'; }
done
grep -q "^ExecStart=/usr/sbin/vfiosim-userd " \
	"$stage/root/usr/lib/systemd/system/vfiosim-userd@.service" &&
	ok "the service names the installed daemon" ||
	not_ok "the service's ExecStart is not /usr/sbin/vfiosim-userd"

# A consumer that knows only pkg-config.
cat >"$stage/consumer.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <vfiosim.h>
#include <linux/vfiosim.h>

int main(void)
{
	struct vfiosim_dev *dev = vfiosim_dev_alloc();
	int ok = dev && vfiosim_crc32c("123456789", 9) == 0xe3069283 &&
		 !strcmp(vfiosim_dev_backend(dev), "none") &&
		 vfiosim_dev_open(dev, "frob:x") == -EINVAL &&
		 VFIOSIM_ID_MAGIC == 0x5646534d;

	vfiosim_dev_free(dev);
	puts(ok ? "consumer ok" : "consumer FAILED");
	return !ok;
}
EOF
sed -i '1i #include <errno.h>' "$stage/consumer.c"
export PKG_CONFIG_PATH=$stage/root/usr/lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$stage/root
flags=$(pkg-config --cflags --libs vfiosim 2>"$stage/pc.log")
if [ -n "$flags" ] &&
   cc -std=c11 -Wall -Wextra -Werror -o "$stage/consumer" "$stage/consumer.c" \
	$flags >"$stage/cc.log" 2>&1; then
	ok "a pkg-config consumer compiles ($flags)"
	if LD_LIBRARY_PATH=$stage/root/usr/lib "$stage/consumer" >"$stage/run.log" 2>&1; then
		ok "... and runs against the installed libvfiosim.so"
	else
		not_ok "the consumer fails"
		quote "$stage/run.log"
	fi
else
	not_ok "a pkg-config consumer compiles"
	quote "$stage/pc.log"
	quote "$stage/cc.log"
fi

# DKMS, from the installed source, in a DKMS tree of its own.
kvers=${*:-$(scripts/kernels.sh)}
for k in $kvers; do
	root=$(scripts/kernels.sh --root "$k")
	tree=$stage/dkms-$k
	mkdir -p "$tree"
	args=(-m vfiosim -v "$version" --sourcetree "$stage/root/usr/src"
	      --dkmstree "$tree")
	if scripts/in-root.sh "$root" dkms add "${args[@]}" >"$tree.log" 2>&1 &&
	   scripts/in-root.sh "$root" dkms build "${args[@]}" -k "$k" \
		>>"$tree.log" 2>&1; then
		ko=$(find "$tree/vfiosim/$version/$k" -name 'vfiosim.ko*' | head -n 1)
		if [ -n "$ko" ]; then
			ok "dkms build for $k: ${ko#"$stage"/}"
		else
			not_ok "dkms build for $k made no vfiosim.ko"
			quote "$tree.log"
		fi
	else
		not_ok "dkms build for $k"
		quote "$tree.log"
	fi
done
echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
