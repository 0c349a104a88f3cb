#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: build everything, run the host-side tests, then the selftest
# suite inside a QEMU guest of each Debian kernel.  Prints TAP and, last,
# "N passed, N failed[, N skipped]".  Exit status 0 only if nothing failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=$top/build
logs=$build/logs
mkdir -p "$logs"

passed=0
failed=0
skipped=0
n=0

# TAP line for a step we judge ourselves.
result() {
	local rc=$1 name=$2
	n=$((n + 1))
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $name"
		passed=$((passed + 1))
	else
		echo "not ok $n - $name"
		failed=$((failed + 1))
	fi
}

# Sub-suites print their own TAP; nest it as comments so that this
# script's lines, and its closing summary, are the only top-level ones.
quote_summary() {
	sed -u 's/^/# /'
}

# Add a sub-suite's "N passed, N failed[, N skipped]" line to the totals.
add_counts() {
	local line p f s
	line=$(grep -E '^(# )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	[ -n "$line" ] || return 1
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+')
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + ${s:-0}))
}

finish() {
	echo "1..$n"
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ]
	exit
}

echo "TAP version 13"
kvers=$(scripts/kernels.sh)
if [ -z "$kvers" ]; then
	echo "# no Debian kernel with headers installed: run 'make deps'"
	result 1 "kernels installed"
	finish
fi

echo "# building the module for: $(echo $kvers)"
ok=0
for k in $kvers; do
	scripts/kbuild.sh "/usr/src/linux-headers-$k" "$build/kmod/$k" \
		>"$logs/kbuild-$k.log" 2>&1 || ok=1
	# warnings are errors for us (Kbuild adds -Werror), but say so loudly
	grep -E 'warning:|error:' "$logs/kbuild-$k.log" | sed 's/^/# /'
done
result $ok "module builds warning-free for $(echo $kvers)"

echo "# building userspace and selftests with ASan + UBSan"
make -C userspace SANITIZE=1 BUILD=build/asan >"$logs/userspace.log" 2>&1
result $? "userspace builds (-Wall -Wextra -Werror, ASan, UBSan)"
make -C selftests/vfiosim SANITIZE=1 \
	LIBVFIOSIM="$top/userspace/build/asan/libvfiosim.a" \
	>"$logs/selftests.log" 2>&1
result $? "selftests build"
if [ "$failed" -gt 0 ]; then
	echo "# build failed; logs in $logs"
	tail -n 30 "$logs"/*.log | sed 's/^/# /'
	finish
fi

echo "# checkpatch --strict on kmod/ and uapi/"
scripts/checkpatch.sh >"$logs/checkpatch.log" 2>&1
rc=$?
grep -E ': (ERROR|WARNING|CHECK):' "$logs/checkpatch.log" | sed 's/^/# /'
result $rc "checkpatch clean"

echo "# YNL spec: upstream schema and agreement with the uapi header"
scripts/ynl-check.sh >"$logs/ynl.log" 2>&1
rc=$?
[ $rc -ne 0 ] && sed 's/^/# /' "$logs/ynl.log"
result $rc "YNL spec valid and in step with uapi/linux/vfiosim.h"

echo "# host unit tests (ASan + UBSan)"
make -s -C userspace test 2>&1 | tee "$logs/unit.log" | quote_summary
unit_rc=${PIPESTATUS[0]}
if ! add_counts "$logs/unit.log"; then
	result 1 "host unit tests produced a summary"
elif [ "$unit_rc" -ne 0 ] && ! grep -qE '[1-9][0-9]* failed' "$logs/unit.log"; then
	result 1 "host unit tests exit status"
fi

echo "# libFuzzer on the vfio-user server parser (20 s)"
make -s -C userspace fuzz-check >"$logs/fuzz.log" 2>&1
rc=$?
tail -n 3 "$logs/fuzz.log" | sed 's/^/# /'
result $rc "fuzz_vu_server: no crash, leak or sanitizer report"

for k in $kvers; do
	echo "# selftests in a QEMU guest running $k"
	res=$build/results/$k
	rm -rf "$res"
	mkdir -p "$res"
	scripts/vm/run --kernel "$k" --results "$res" --timeout 1200 -- \
		env VFIOSIM_KO="$build/kmod/$k/vfiosim.ko" \
		selftests/vfiosim/run_vm_suite.sh 2>&1 | quote_summary
	vm_rc=${PIPESTATUS[0]}
	if [ -f "$res/counts" ]; then
		read -r p f s <"$res/counts"
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
		echo "# $k: $p passed, $f failed, $s skipped"
	else
		result 1 "$k: suite wrote its counts"
	fi
	# The guest must have finished and left a clean kernel log.
	bad='WARNING:|BUG:|Oops|Call Trace|KASAN|UBSAN|lockdep|possible circular locking|general protection fault'
	if [ ! -f "$res/dmesg.txt" ]; then
		echo "# $k: guest did not finish (exit $vm_rc); console: $res/console.log"
		result 1 "$k: guest finished"
	else
		grep -E "$bad" "$res/dmesg.txt" | sed 's/^/# dmesg: /'
		! grep -qE "$bad" "$res/dmesg.txt"
		result $? "$k: guest dmesg free of WARN/BUG/Oops/Call Trace"
	fi
	unset p f s
done

finish
