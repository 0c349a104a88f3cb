# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by vfiosim_nested.sh and vfiosim_qemu_fault.sh.

# userd_fired VFIOSIMCTL SOCKET UUID KNOB: the fired count of one of
# vfiosim-userd's reply knobs, read over its --control socket
userd_fired() {
	"$1" -j fault --control "$2" "$3" | python3 -c '
import json, sys
print({k["name"]: k["fired"] for k in json.load(sys.stdin)["knobs"]}[sys.argv[1]])' "$4"
}
