#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The first and the last test of the installed vfiosim kselftest
# collection, as kselftest suites that test a module load it in a test of
# their own.  Run as vfiosim_load.sh or vfiosim_unload.sh (links to this
# file; installed as copies):
#
# vfiosim_load.sh: vfio, vfio_iommu_type1 and mdev (modprobe, or built
#   in), then vfiosim: the module $VFIOSIM_KO names (insmod; a vfiosim
#   already loaded is unloaded first, so the named one is what is
#   tested), else one modprobe finds (dkms install), else the one already
#   loaded; then its mdev parent lists both types.
# vfiosim_unload.sh: no vfiosim device is left behind (each one a test
#   leaked is removed, and fails this test), and vfiosim unloads (a
#   reference a test leaked keeps it in).
#
# KTAP, with the kernel's kselftest/ktap_helpers.sh; exit 4 (skip) when
# not root, when there is no vfiosim module to load, or nothing to unload.

here=$(cd "$(dirname "$0")" && pwd)
# Installed: <INSTALL_PATH>/kselftest/; in the source tree: the copy the
# Makefile extracted from linux-source.
for helpers in "$here/../kselftest/ktap_helpers.sh" \
	       "$here/build/kselftest-runner/kselftest/ktap_helpers.sh"; do
	[ -r "$helpers" ] && break
done
if [ ! -r "$helpers" ]; then
	echo "Bail out! no kselftest/ktap_helpers.sh next to $here: make install INSTALL_PATH=..."
	exit 1
fi
# shellcheck source=/dev/null
. "$helpers"

parent=/sys/class/mdev_bus/vfiosim

# shellcheck source-path=SCRIPTDIR source=vfiosim_lib.sh
. "$here/vfiosim_lib.sh"

# Both types, as the C programs' fixture variants use them.
types_present()
{
	[ -d "$parent/mdev_supported_types/vfiosim-small" ] &&
		[ -d "$parent/mdev_supported_types/vfiosim-full" ]
}

load()
{
	local ko=${VFIOSIM_KO:-}

	if [ -n "$ko" ] && [ ! -r "$ko" ]; then
		ktap_skip_all "VFIOSIM_KO=$ko: no such file"
		exit "$KSFT_SKIP"
	fi
	if [ -z "$ko" ] && ! module_present vfiosim && ! modprobe -n -q vfiosim 2>/dev/null; then
		ktap_skip_all "no vfiosim module: set VFIOSIM_KO=path/to/vfiosim.ko, or dkms install vfiosim"
		exit "$KSFT_SKIP"
	fi
	ktap_set_plan 5
	ktap_test_result "vfio loaded" load_any vfio
	ktap_test_result "vfio_iommu_type1 loaded" load_any vfio_iommu_type1
	ktap_test_result "mdev loaded" load_any mdev vfio_mdev
	if [ -n "$ko" ]; then
		if module_present vfiosim && ! rmmod vfiosim; then
			ktap_test_fail "rmmod the vfiosim already loaded, for $ko"
		elif insmod "$ko"; then
			ktap_test_pass "insmod $ko"
		else
			ktap_test_fail "insmod $ko"
		fi
	elif module_present vfiosim; then
		ktap_test_pass "vfiosim already loaded"
	else
		ktap_test_result "modprobe vfiosim" modprobe vfiosim
	fi
	ktap_test_result "$parent lists vfiosim-small and vfiosim-full" types_present
}

unloaded()
{
	rmmod vfiosim && [ ! -d /sys/module/vfiosim ]
}

unload()
{
	local dev left=0

	if [ ! -d /sys/module/vfiosim ]; then
		ktap_skip_all "vfiosim is not loaded"
		exit "$KSFT_SKIP"
	fi
	ktap_set_plan 2
	for dev in /sys/bus/mdev/devices/*; do
		[ -e "$dev/mdev_type" ] || continue
		case $(basename "$(readlink -f "$dev/mdev_type")") in
		vfiosim-*)
			ktap_print_msg "removing leftover device $(basename "$dev")"
			echo 1 > "$dev/remove"
			left=$((left + 1))
			;;
		esac
	done
	if [ "$left" = 0 ]; then
		ktap_test_pass "no vfiosim devices left behind"
	else
		ktap_test_fail "no vfiosim devices left behind ($left removed)"
	fi
	ktap_test_result "rmmod vfiosim" unloaded
}

ktap_print_header
if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "loading and unloading modules needs root"
	exit "$KSFT_SKIP"
fi
case $(basename "$0") in
vfiosim_load.sh) load ;;
vfiosim_unload.sh) unload ;;
*)
	ktap_exit_fail_msg "run me as vfiosim_load.sh or vfiosim_unload.sh, not $0"
	;;
esac
ktap_finished
