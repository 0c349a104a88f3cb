# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP helpers for the check scripts that print their own steps
# (kselftest-check.sh, boot-load-check.sh, check-debug.sh): sourced, not
# run.  finish prints the plan and "N passed, N failed, N skipped", the
# line check.sh's add_counts reads, and exits non-zero if any failed.

n=0
passed=0
failed=0
skipped=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $* # SKIP"; }
finish() {
	echo "1..$n"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
