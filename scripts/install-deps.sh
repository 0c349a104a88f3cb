#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing vfiosim needs, from Debian's archive:
# Debian 12 packages on the host, then a Debian 13 root with QEMU 11 and
# the newest backports kernel (scripts/trixie-root.sh).  Idempotent: does
# nothing (and needs no network) when all is installed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)

packages=(
	build-essential make gcc clang libclang-rt-14-dev
	libmnl-dev libjansson-dev kmod bc flex bison libelf-dev libssl-dev
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.12
	qemu-system-x86 busybox-static mdevctl debootstrap dkms abigail-tools
	python3 python3-yaml python3-jsonschema xz-utils zstd
	mandoc man-db
	trace-cmd linux-perf
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}" >&2
		echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	echo "install-deps: host packages installed in $(($(date +%s) - start)) s"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: the Debian 13 root needs root; skipping it" >&2
	exit 0
fi
"$top/scripts/trixie-root.sh"
