# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Module helpers that run_vm_suite.sh and vfiosim_modules.sh (the
# kselftest collection's load/unload tests) share: sourced, not run.

# Loaded now, or built into this kernel.
module_present()
{
	[ -d "/sys/module/$1" ] ||
		grep -qE "/$1\.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null
}

# Load the first of several names that exists (mdev was vfio_mdev before
# 5.x); true if one is present afterwards.
load_any()
{
	local name

	for name in "$@"; do
		module_present "$name" && return 0
		modprobe -q "$name" 2>/dev/null && module_present "$name" && return 0
	done
	return 1
}
