#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side check of the YNL spec of the vfiosim generic netlink family:
#  1. uapi/netlink/vfiosim.yaml validates against the upstream schema of its
#     protocol (Documentation/netlink/<protocol>.yaml from Debian's
#     linux-source-6.12), every violation printed;
#  2. the upstream YNL library loads it (resolves attribute sets, enums,
#     operations and multicast groups named in it);
#  3. scripts/ynl-uapi-check.py: names and values match uapi/linux/vfiosim.h.
# The schema and library are extracted into a build directory, never into
# the repository.  Exit 0 if all is well, 1 otherwise (2: cannot run).
#
# Environment: KSRC_TARBALL (default /usr/src/linux-source-6.12.tar.xz),
# VFIOSIM_BUILD (default <repo>/build; the files go to $VFIOSIM_BUILD/ynl).

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
spec=${1:-$repo/uapi/netlink/vfiosim.yaml}
header=$repo/uapi/linux/vfiosim.h
tarball=${KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
ynl=${VFIOSIM_BUILD:-$repo/build}/ynl
ksrc=linux-source-6.12

# Extract once: schema/genetlink*.yaml, cli.py, lib/.
if [ ! -e "$ynl/.extracted" ]; then
	if [ ! -r "$tarball" ]; then
		echo "ynl-check: $tarball missing: apt-get install linux-source-6.12" >&2
		exit 2
	fi
	mkdir -p "$ynl" || exit 2
	echo "ynl-check: extracting the YNL schema and library from $tarball" >&2
	tar -xJf "$tarball" -C "$ynl" --wildcards --no-wildcards-match-slash \
		--transform "s,^$ksrc/Documentation/netlink/,schema/,;s,^$ksrc/tools/net/ynl/,," \
		"$ksrc/Documentation/netlink/*.yaml" \
		"$ksrc/tools/net/ynl/cli.py" "$ksrc/tools/net/ynl/lib/*.py" ||
		exit 2
	touch "$ynl/.extracted"
fi

python3 - "$spec" "$ynl" <<'PYEOF' || exit 1
import sys, os, yaml
import jsonschema

spec_path, ynl = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = yaml.safe_load(f)
proto = spec.get('protocol', 'genetlink')
schema_path = os.path.join(ynl, 'schema', proto + '.yaml')
if not os.path.exists(schema_path):
    print(f"{spec_path}: no schema for protocol '{proto}' ({schema_path})")
    sys.exit(1)
with open(schema_path) as f:
    schema = yaml.safe_load(f)

validator = jsonschema.Draft7Validator(schema)
errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))
for e in errors:
    where = '/'.join(str(p) for p in e.absolute_path) or '(top)'
    print(f"{spec_path}: {where}: {e.message}")
if errors:
    print(f"{spec_path}: {len(errors)} schema violation(s) against {proto}.yaml")
    sys.exit(1)

# The library resolves every cross reference (attribute sets named by
# operations, enums named by attributes, nested sets, mcast groups).
sys.path.insert(0, ynl)
try:
    from lib.nlspec import SpecFamily
    fam = SpecFamily(spec_path, schema_path)
    for op in fam.msgs.values():
        for mode in ('do', 'dump', 'event'):
            sub = op.yaml.get(mode)
            if not isinstance(sub, dict):
                continue
            for part in ('request', 'reply'):
                names = (sub.get(part) or {}).get('attributes', [])
                if mode == 'event' and part == 'request':
                    names = sub.get('attributes', [])
                for name in names:
                    if name not in fam.attr_sets[op.yaml['attribute-set']].attrs:
                        raise Exception(f"operation {op.name} {mode} {part}: "
                                        f"unknown attribute {name}")
        if 'mcgrp' in op.yaml and op.yaml['mcgrp'] not in \
                [g['name'] for g in spec['mcast-groups']['list']]:
            raise Exception(f"operation {op.name}: unknown mcgrp {op.yaml['mcgrp']}")
except Exception as e:
    print(f"{spec_path}: YNL library rejects the spec: {e}")
    sys.exit(1)
print(f"{spec_path}: valid {proto} spec, {len(fam.msgs)} operations, "
      f"{len(fam.attr_sets)} attribute sets")
PYEOF

python3 "$repo/scripts/ynl-uapi-check.py" "$spec" "$header" || exit 1
exit 0
