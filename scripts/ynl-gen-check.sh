#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The YNL code generator on our spec, and its policies against the module's:
#  1. ynl_gen_c.py from the newest linux-source in the Debian 13 root
#     (scripts/trixie-root.sh installs it) generates, from
#     uapi/netlink/vfiosim.yaml, the kernel source and header
#     (--mode kernel) and the uapi header (--mode uapi), into
#     $VFIOSIM_BUILD/ynl-gen; each must succeed;
#  2. scripts/ynl-policy-check.py compares the generated per-command
#     policies with kmod/genl.c's, by meaning (types, length bounds,
#     accepted attributes, maxattr), and prints every difference.
# The module keeps its hand-written genl_ops (it builds on 6.1, which has
# no genl_split_ops); this check keeps them in step with the spec.
# The generator runs inside the root (its python3-yaml and -jsonschema).
# Exit 0 if all is well, 1 otherwise (2: cannot run).
#
# Environment: VFIOSIM_TRIXIE (the root, default /var/lib/vfiosim/trixie),
# KSRC_TARBALL (a linux-source tarball instead of the root's newest),
# VFIOSIM_BUILD (default <repo>/build).

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${VFIOSIM_TRIXIE:-/var/lib/vfiosim/trixie}
out=${VFIOSIM_BUILD:-$repo/build}/ynl-gen
ksrc=$out/ksrc
spec=$repo/uapi/netlink/vfiosim.yaml

tarball=${KSRC_TARBALL:-}
if [ -z "$tarball" ]; then
	tarball=$(ls "$root"/usr/src/linux-source-*.tar.xz 2>/dev/null |
		  sort -V | tail -n 1)
fi
if [ -z "$tarball" ] || [ ! -r "$tarball" ]; then
	echo "ynl-gen-check: no linux-source tarball in $root/usr/src (run scripts/trixie-root.sh)" >&2
	exit 2
fi

# Extract the generator and the schemas once per tarball.
stamp=$ksrc/.extracted
if [ "$(cat "$stamp" 2>/dev/null)" != "$tarball" ]; then
	rm -rf "$ksrc"
	mkdir -p "$ksrc" || exit 2
	top=$(tar -tJf "$tarball" | head -n 1)
	top=${top%%/*}
	echo "ynl-gen-check: extracting the YNL generator from $tarball" >&2
	tar -xJf "$tarball" -C "$ksrc" --strip-components=1 \
		"$top/tools/net/ynl/pyynl" "$top/Documentation/netlink" ||
		exit 2
	# the generator finds the tree's top by its MAINTAINERS file
	touch "$ksrc/MAINTAINERS"
	echo "$tarball" >"$stamp"
fi
gen=$ksrc/tools/net/ynl/pyynl/ynl_gen_c.py
[ -f "$gen" ] || { echo "ynl-gen-check: $gen missing" >&2; exit 2; }
# ...and names the spec by its place under Documentation/netlink/specs.
cp "$spec" "$ksrc/Documentation/netlink/specs/vfiosim.yaml" || exit 2

run_root() {
	if [ "$(cd "$root" && pwd -P)" = / ]; then
		"$@"
	else
		(cd "$repo" && "$repo/scripts/in-root.sh" "$root" "$@")
	fi
}

rc=0
for mode in "kernel --source:vfiosim-nl-gen.c" "kernel --header:vfiosim-nl-gen.h" \
	    "uapi --header:vfiosim.h"; do
	file=$out/${mode#*:}
	# shellcheck disable=SC2086 # mode and its flag are two words
	if run_root timeout 300 python3 "$gen" --mode ${mode%%:*} \
		--spec "$ksrc/Documentation/netlink/specs/vfiosim.yaml" \
		-o "$file" >"$file.log" 2>&1; then
		echo "ynl-gen-check: --mode ${mode%%:*}: $file"
	else
		echo "ynl-gen-check: --mode ${mode%%:*} failed:"
		sed 's/^/  /' "$file.log"
		rc=1
	fi
done
[ $rc -eq 0 ] || exit 1

python3 "$repo/scripts/ynl-policy-check.py" "$out/vfiosim-nl-gen.c" \
	"$repo/kmod/genl.c"
