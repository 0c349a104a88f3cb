#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build vfiosim.ko for one kernel in its own output directory.
#   scripts/kbuild.sh KDIR OUTDIR [MAKE_ARG]...     e.g. W=1
# Kbuild writes objects next to the sources, so each kernel gets a shadow
# tree of symlinks; builds for several kernels then never collide.
set -euo pipefail

kdir=$1
out=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$kdir/Makefile" ]; then
	echo "kbuild: no kernel build tree at $kdir (install linux-headers-<version>)" >&2
	exit 1
fi
mkdir -p "$out/kmod"
ln -sfn "$top/uapi" "$out/uapi"
ln -sf "$top/Kbuild" "$out/Kbuild"
for f in "$top"/kmod/*.[ch]; do
	ln -sf "$f" "$out/kmod/"
done
# drop links to sources that no longer exist
find "$out/kmod" -xtype l -delete
make -C "$kdir" M="$out" "$@" modules
