#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The upstream YNL CLI (tools/net/ynl/cli.py from linux-source-6.12,
# extracted into build/ynl/ by the Makefile) drives the "vfiosim" generic
# netlink family from nothing but our spec, uapi/netlink/vfiosim.yaml,
# validated against the upstream schema on every run: ping, dev-get
# do/dump of a device this test creates, an unknown device, and the events
# group.  Runs as root in the test guest with the module loaded.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ynl=$here/build/ynl
spec=$repo/uapi/netlink/vfiosim.yaml
types=/sys/class/mdev_bus/vfiosim/mdev_supported_types
tmp=$(mktemp -d)
n=0
failed=0
uuid=""

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# show a command's output as TAP diagnostics
diag() { sed 's/^/# /' "$@"; }

cleanup() {
	[ -n "$uuid" ] && [ -e "/sys/bus/mdev/devices/$uuid" ] &&
		echo 1 > "/sys/bus/mdev/devices/$uuid/remove"
	rm -rf "$tmp"
}
trap cleanup EXIT

# cli ARGS...: the CLI on our spec; JSON output in $tmp/out.  The first
# call checks the spec against the upstream schema, the others skip that
# (python is slow enough under TCG).
schema=(--schema "$ynl/schema/genetlink-legacy.yaml")
cli() {
	python3 "$ynl/cli.py" --spec "$spec" "${schema[@]}" --output-json "$@" \
		>"$tmp/out" 2>"$tmp/err"
	local rc=$?
	schema=(--no-schema)
	return $rc
}

# jq-less JSON checks: py EXPR evaluates EXPR with the output lines as
# `out` (a list of parsed JSON values) and exits 0 if it is true.
py() {
	python3 - "$1" "$tmp/out" <<'PYEOF'
import json, sys
out = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
sys.exit(0 if eval(' '.join(sys.argv[1].split())) else 1)
PYEOF
}

echo "TAP version 13"
if [ ! -d "$types" ]; then
	echo "1..0 # SKIP the vfiosim module is not loaded"
	exit 4
fi
if [ ! -f "$ynl/cli.py" ]; then
	echo "1..1"
	not_ok "YNL CLI present ($ynl/cli.py missing: run make -C selftests/vfiosim)"
	exit 1
fi
# 1: the spec passes the schema (cli validates before anything) and ping
if cli --do ping; then
	echo "1..8"
	ok "--do ping (spec valid against genetlink-legacy.yaml)"
elif grep -q "not supported by the kernel" "$tmp/err"; then
	echo "1..0 # SKIP generic netlink family vfiosim not registered"
	exit 4
else
	echo "1..8"
	not_ok "--do ping (spec valid against genetlink-legacy.yaml)"
	diag "$tmp/err"
fi

uuid=$(cat /proc/sys/kernel/random/uuid)
echo "$uuid" > "$types/vfiosim-small/create"
echo "# created vfiosim-small $uuid"

# 2, 3: the dump lists it, with its type and no owner
if cli --dump dev-get; then
	ok "--dump dev-get"
	diag "$tmp/out"
else
	not_ok "--dump dev-get"
	diag "$tmp/err"
fi
if py "[d for d in out[0] if d.get('dev-uuid') == '$uuid' and
	d.get('dev-type') == 'vfiosim-small' and d.get('dev-owner') == 'none']"
then
	ok "dump lists $uuid as vfiosim-small, owner none"
else
	not_ok "dump lists $uuid as vfiosim-small, owner none"
fi

# 4: do, with the counters decoded from their nest
if cli --do dev-get --json "{\"dev-uuid\": \"$uuid\"}" &&
   py "out[0]['dev-uuid'] == '$uuid' and out[0]['dev-type'] == 'vfiosim-small'
	and out[0]['dev-owner'] == 'none'
	and set(out[0]['dev-counters']) >= {'region-reads', 'region-writes', 'irqs', 'resets'}"
then
	ok "--do dev-get $uuid: type, owner and counters"
else
	not_ok "--do dev-get $uuid: type, owner and counters"
	diag "$tmp/out" "$tmp/err"
fi

# 5: an unknown device is an error with the kernel's extack message
other=$(cat /proc/sys/kernel/random/uuid)
if ! cli --do dev-get --json "{\"dev-uuid\": \"$other\"}" &&
   grep -qi "error" "$tmp/out" "$tmp/err"; then
	ok "--do dev-get of an unknown uuid fails"
	diag "$tmp/out"
else
	not_ok "--do dev-get of an unknown uuid fails"
	diag "$tmp/out" "$tmp/err"
fi

# 6, 7: dev-open and dev-close from one socket of the YNL library, seen by
# another subscribed to the events group.  (Not cli.py --subscribe with
# --do: 6.12's ynl.py trips over a notification arriving during a do.)
cat > "$tmp/events.py" <<'PYEOF'
import json, sys, time
ynl, spec, uuid = sys.argv[1:4]
sys.path.insert(0, ynl)
from lib import YnlFamily
sub = YnlFamily(spec, '')
sub.ntf_subscribe('events')
act = YnlFamily(spec, '')
act.do('dev-open', {'dev-uuid': uuid})
owner = act.do('dev-get', {'dev-uuid': uuid})
act.do('dev-close', {'dev-uuid': uuid})
time.sleep(0.2)
sub.check_ntf()
print(json.dumps([m['msg'] for m in sub.async_msg_queue if m['name'] == 'event']))
print(json.dumps(owner))
PYEOF
if python3 "$tmp/events.py" "$ynl" "$spec" "$uuid" >"$tmp/out" 2>"$tmp/err" &&
   py "[(e.get('event'), e.get('dev-type')) for e in out[0] if e.get('dev-uuid') == '$uuid']
	== [('opened', 'vfiosim-small'), ('closed', 'vfiosim-small')]"
then
	ok "dev-open/dev-close: 'opened' and 'closed' events on the events group"
else
	not_ok "dev-open/dev-close: 'opened' and 'closed' events on the events group"
	diag "$tmp/out" "$tmp/err"
fi
if py "out[1]['dev-owner'] == 'netlink' and out[1]['dev-owner-portid'] > 0" &&
   cli --do dev-get --json "{\"dev-uuid\": \"$uuid\"}" &&
   py "out[0]['dev-owner'] == 'none' and 'dev-owner-portid' not in out[0]"; then
	ok "dev-get: owner netlink with a portid while open, none after dev-close"
else
	not_ok "dev-get: owner netlink with a portid while open, none after dev-close"
	diag "$tmp/out" "$tmp/err"
fi

# 8: the removal is seen in the dump
echo 1 > "/sys/bus/mdev/devices/$uuid/remove"
if cli --dump dev-get && py "not [d for d in out[0] if d.get('dev-uuid') == '$uuid']"
then
	ok "--dump dev-get no longer lists $uuid after remove"
else
	not_ok "--dump dev-get no longer lists $uuid after remove"
	diag "$tmp/out" "$tmp/err"
fi
uuid=""

[ $failed -eq 0 ]
