#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch --strict over kmod/ and uapi/, with the checkpatch.pl shipped in
# Debian's linux-source-6.12 (extracted once into build/checkpatch/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/checkpatch
tarball=/usr/src/linux-source-6.12.tar.xz

if [ ! -f "$dir/scripts/checkpatch.pl" ]; then
	[ -f "$tarball" ] || { echo "checkpatch: $tarball missing (apt-get install linux-source-6.12)" >&2; exit 1; }
	mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch
fi
cd "$top"
# LINUX_VERSION_CODE tests are confined to kmod/compat.h by design.
perl "$dir/scripts/checkpatch.pl" --no-tree --strict --quiet --terse \
	--ignore LINUX_VERSION_CODE -f kmod/*.[ch] uapi/linux/*.h
