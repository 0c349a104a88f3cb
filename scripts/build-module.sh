#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build vfiosim.ko, W=1, for one kernel of the matrix (scripts/kernels.sh):
#   scripts/build-module.sh KVER [OUTDIR]      (default build/kmod/KVER)
# A kernel of the Debian 13 root is built inside that root, with its own
# compiler, as its headers expect.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
k=${1:?usage: build-module.sh KVER [OUTDIR]}
out=${2:-$top/build/kmod/$k}
root=$("$top/scripts/kernels.sh" --root "$k")
cd "$top"
exec "$top/scripts/in-root.sh" "$root" "$top/scripts/kbuild.sh" \
	"/usr/src/linux-headers-$k" "$out" W=1
