#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the Debian kernel versions we build and test for: the newest 6.1
# and the newest 6.12 that have both an image and headers installed.
for series in 6.1 6.12; do
	ls -d /usr/src/linux-headers-"$series".*-amd64 2>/dev/null |
		sed 's|/usr/src/linux-headers-||' | sort -V |
		while read -r k; do
			[ -f "/boot/vmlinuz-$k" ] && echo "$k"
		done | tail -n 1
done
