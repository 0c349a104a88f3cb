#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel's sample mdev driver, mtty, the peer our benchmarks
# compare against.  Its source comes from Debian's linux-source-6.12 package
# at build time; it is never part of this repository.
#   scripts/build-mtty.sh KDIR OUTDIR
set -euo pipefail

kdir=$1
out=$2
tarball=/usr/src/linux-source-6.12.tar.xz

[ -f "$tarball" ] || { echo "build-mtty: $tarball missing (apt-get install linux-source-6.12)" >&2; exit 1; }
mkdir -p "$out"
if [ ! -f "$out/mtty.c" ]; then
	tar -xJf "$tarball" -C "$out" --strip-components=3 \
		linux-source-6.12/samples/vfio-mdev/mtty.c
fi
echo 'obj-m := mtty.o' > "$out/Kbuild"
make -C "$kdir" M="$out" modules
