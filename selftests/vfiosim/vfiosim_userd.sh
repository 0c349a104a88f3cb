#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vfiosim-userd against the spec: the conformance client (raw vfio-user,
# not libvfiosim) drives two devices served on two sockets at once, and the
# daemon must keep its fds, exit 0 on SIGTERM and leave no sanitizer report.
# Runs as root in the test guest with the module loaded; uses the ASan
# builds that make check makes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../userspace/build/asan
export USERD=${VFIOSIM_USERD:-$build/vfiosim-userd}
export CONFORMANCE=${VFIOSIM_CONFORMANCE:-$build/vfiosim-userd-conformance}
export CTL=${VFIOSIM_CTL:-$build/vfiosimctl}

echo "TAP version 13"
if [ ! -d /sys/class/mdev_bus/vfiosim ] || [ ! -x "$USERD" ] ||
   [ ! -x "$CONFORMANCE" ]; then
	echo "1..0 # SKIP vfiosim module or $USERD / $CONFORMANCE missing"
	exit 4
fi
VFIOSIM_MODULE_LOADED=1 exec "$here/../../userspace/userd/run-conformance.sh"
