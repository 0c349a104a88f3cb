#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole vfiosim suite, run inside the test VM as root: load the VFIO
# and mdev modules and vfiosim.ko, run the shell tests and every C test
# program, clean up, unload vfiosim.  Prints TAP; writes
# "$VFIOSIM_RESULTS/counts" as "passed failed skipped" (test cases, plus
# this script's own load/cleanup/unload steps) and one log per program.
# Exits non-zero if anything failed, including a failed unload.
#
# Environment:
#   VFIOSIM_KO       path to vfiosim.ko (required)
#   VFIOSIM_RESULTS  writable directory for counts and logs (required)
#   VFIOSIM_TEST_TIMEOUT  seconds one program may take (default 900)
#   VFIOSIM_ONLY     space-separated program names: run only those (for
#                    development; make check always runs everything)
#   VFIOSIM_BEFORE_UNLOAD  a shell command run after the last program and
#                    before the final rmmod, while the module's symbols
#                    still name its frames (check-debug reads kmemleak
#                    there); its output goes to before-unload.log

set -u

here=$(cd "$(dirname "$0")" && pwd)
build=$here/build
ko=${VFIOSIM_KO:?VFIOSIM_KO must name vfiosim.ko}
results=${VFIOSIM_RESULTS:?VFIOSIM_RESULTS must name a writable directory}
prog_timeout=${VFIOSIM_TEST_TIMEOUT:-900}

# Keep in step with TEST_PROGS and TEST_GEN_PROGS in the Makefile.
shell_tests="vfiosim_module.sh vfiosim_mdevctl.sh vfiosim_qemu.sh vfiosim_userd.sh vfiosim_ctl.sh vfiosim_ynl.sh
	     vfiosim_nested.sh vfiosim_migrate.sh vfiosim_qemu_fault.sh vfiosim_trace.sh"
c_tests="vfiosim_info_test vfiosim_access_test vfiosim_irq_test
	 vfiosim_stress_test vfiosim_lifecycle_test vfiosim_netlink_test vfiosim_dmabuf_test
	 vfiosim_mmap_test vfiosim_migration_test vfiosim_dma_test
	 vfiosim_fault_test"

# Keep the names of $1 that VFIOSIM_ONLY lists (all of them without it).
only()
{
	local t out=""

	[ -n "${VFIOSIM_ONLY:-}" ] || { echo "$1"; return; }
	for t in $1; do
		case " $VFIOSIM_ONLY " in *" $t "*) out="$out $t" ;; esac
	done
	echo "$out"
}
shell_tests=$(only "$shell_tests")
c_tests=$(only "$c_tests")

passed=0
failed=0
skipped=0
step=0

export VFIOSIM_KO=$ko
# Tests must look at the real sysfs here.
unset VFIOSIM_SYSFS_ROOT

# One top-level TAP line; $1 is pass, fail or skip.
report()
{
	local result=$1

	shift
	step=$((step + 1))
	case $result in
	pass) echo "ok $step $*" ;;
	skip) echo "ok $step $* # SKIP" ;;
	*) echo "not ok $step $*" ;;
	esac
}

# A runner step that is a test of its own.
step_result()
{
	local result=$1

	case $result in
	pass) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	report "$@"
}

# shellcheck source-path=SCRIPTDIR source=vfiosim_lib.sh
. "$here/vfiosim_lib.sh"

load_dependencies()
{
	local missing=""

	load_any vfio || missing="$missing vfio"
	load_any vfio_iommu_type1 || missing="$missing vfio_iommu_type1"
	load_any mdev vfio_mdev || missing="$missing mdev"
	if [ -n "$missing" ]; then
		echo "# could not load:$missing"
		return 1
	fi
}

# Run one program with its output indented under the top-level TAP and
# kept in $results/<name>.log.  Leaves its exit code in $rc.
#
# A program that SIGKILL cannot end is stuck in the kernel: then the
# kernel stacks of the tasks that are in vfiosim or in D state go into the
# log, it counts as failed (rc 125), and the suite goes on without it.
run_logged()
{
	local name=$1 log=$results/$1.log pid waited=0 t0=$SECONDS

	shift
	(cd /tmp && timeout --kill-after=30 "$prog_timeout" "$@") > "$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ $waited -ge $((prog_timeout + 90)) ]; then
			stuck_stacks "$name" >> "$log"
			rc=125
			sed 's/^/# /' "$log"
			return
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid"
	rc=$?
	sed 's/^/# /' "$log"
	echo "# $name took $((SECONDS - t0)) s"
}

# stuck_stacks NAME: what a program that would not die was doing
stuck_stacks()
{
	local p state

	echo "$1 did not exit $((prog_timeout + 90)) s after it started, SIGKILL included: stuck in the kernel"
	for p in /proc/[0-9]*; do
		state=$(awk '/^State:/ { print $2 }' "$p/status" 2>/dev/null)
		if [ "$state" = D ] || grep -q vfiosim "$p/stack" 2>/dev/null; then
			echo "task $(cat "$p/comm" 2>/dev/null) ${p#/proc/} state $state:"
			sed 's/^/    /' "$p/stack" 2>/dev/null
		fi
	done
}

# A kselftest harness program: counts come from its Totals line.
run_c_test()
{
	local name=$1 prog=$build/$1 totals pass fail xfail xpass skip error

	if [ ! -x "$prog" ]; then
		failed=$((failed + 1))
		report fail "$name (not built: run make -C selftests/vfiosim)"
		return
	fi
	run_logged "$name" "$prog"
	totals=$(grep -E '^# Totals: ' "$results/$name.log" | tail -n 1)
	if [ -z "$totals" ]; then
		failed=$((failed + 1))
		report fail "$name (exit $rc, no totals: crashed or timed out)"
		return
	fi
	read -r pass fail xfail xpass skip error < <(echo "$totals" |
		sed -E 's/.*pass:([0-9]+) fail:([0-9]+) xfail:([0-9]+) xpass:([0-9]+) skip:([0-9]+) error:([0-9]+).*/\1 \2 \3 \4 \5 \6/')
	passed=$((passed + pass + xfail))
	failed=$((failed + fail + xpass + error))
	skipped=$((skipped + skip))
	if [ "$fail" -ne 0 ] || [ "$xpass" -ne 0 ] || [ "$error" -ne 0 ]; then
		report fail "$name"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
		# Totals said fine but the program did not: count that too.
		failed=$((failed + 1))
		report fail "$name (exit $rc)"
	elif [ "$pass" -eq 0 ] && [ "$xfail" -eq 0 ] && [ "$skip" -ne 0 ]; then
		report skip "$name"
	else
		report pass "$name"
	fi
}

# A TAP shell test: counts come from its ok / not ok lines.
run_shell_test()
{
	local name=$1 log=$results/$1.log pass fail skip

	run_logged "$name" "$here/$name"
	skip=$(grep -cE '^ok [0-9]+.*# SKIP' "$log")
	pass=$(($(grep -cE '^ok [0-9]+' "$log") - skip))
	fail=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -eq 4 ] && grep -qE '^1\.\.0 # SKIP' "$log"; then
		skip=$((skip + 1))
	elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		# It stopped before saying what went wrong.
		fail=1
	fi
	passed=$((passed + pass))
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	if [ "$fail" -ne 0 ]; then
		report fail "$name"
	elif [ "$pass" -eq 0 ] && [ "$skip" -ne 0 ]; then
		report skip "$name"
	else
		report pass "$name"
	fi
}

# Remove vfiosim devices a test left behind; each one is a failure.
remove_leftovers()
{
	local dev left=0

	for dev in /sys/bus/mdev/devices/*; do
		[ -e "$dev/mdev_type" ] || continue
		case $(basename "$(readlink -f "$dev/mdev_type")") in
		vfiosim-*)
			echo "# removing leftover device $(basename "$dev")"
			echo 1 > "$dev/remove"
			left=$((left + 1))
			;;
		esac
	done
	[ $left = 0 ]
}

write_counts()
{
	echo "$passed $failed $skipped" > "$results/counts"
	echo "1..$step"
	echo "# vfiosim suite: passed $passed, failed $failed, skipped $skipped"
}

mkdir -p "$results"
echo "TAP version 13"
echo "# kernel $(uname -r), module $ko"

if [ "$(id -u)" != 0 ]; then
	step_result fail "running as root"
	write_counts
	exit 1
fi

if load_dependencies; then
	step_result pass "load vfio, vfio_iommu_type1 and mdev"
else
	step_result fail "load vfio, vfio_iommu_type1 and mdev"
fi

if [ -d /sys/module/vfiosim ]; then
	rmmod vfiosim 2>/dev/null
fi
if insmod "$ko"; then
	step_result pass "insmod $ko"
else
	step_result fail "insmod $ko"
	write_counts
	exit 1
fi

for t in $shell_tests; do
	run_shell_test "$t"
done
# The shell tests unload and reload vfiosim; make sure they left it loaded.
if [ ! -d /sys/module/vfiosim ]; then
	if insmod "$ko"; then
		step_result pass "insmod $ko again after the shell tests"
	else
		step_result fail "insmod $ko again after the shell tests"
	fi
fi
for t in $c_tests; do
	run_c_test "$t"
done

if remove_leftovers; then
	step_result pass "no devices left behind"
else
	step_result fail "no devices left behind"
fi

if [ -n "${VFIOSIM_BEFORE_UNLOAD:-}" ]; then
	sh -c "$VFIOSIM_BEFORE_UNLOAD" > "$results/before-unload.log" 2>&1 ||
		echo "# VFIOSIM_BEFORE_UNLOAD exited $? (see before-unload.log)"
fi

if rmmod vfiosim && [ ! -d /sys/module/vfiosim ]; then
	step_result pass "rmmod vfiosim"
else
	step_result fail "rmmod vfiosim"
fi

write_counts
[ "$failed" = 0 ]
