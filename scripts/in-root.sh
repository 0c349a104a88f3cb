#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run a command inside another root (the Debian 13 root), as root:
#   scripts/in-root.sh ROOT CMD [ARG]...
# In a private mount namespace, so nothing stays mounted afterwards: /proc
# (objtool wants it), /sys, /dev, a fresh /tmp, and the current directory
# at the same path.  With ROOT "/" it just runs CMD.
set -euo pipefail
root=${1:?usage: in-root.sh ROOT CMD [ARG]...}
shift
[ $# -gt 0 ] || { echo "in-root.sh: no command" >&2; exit 2; }
root=$(cd -- "$root" && pwd -P)
[ "$root" = / ] && exec "$@"
[ "$(id -u)" -eq 0 ] || { echo "in-root.sh: must run as root" >&2; exit 1; }
cwd=$(pwd -P)
case $cwd/ in /tmp/*) ;; *) mkdir -p -- "$root$cwd" ;; esac
exec unshare --mount --propagation private -- /bin/bash -euc '
	root=$1 cwd=$2
	shift 2
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	mkdir -p "$root$cwd"
	mount --bind "$cwd" "$root$cwd"
	exec chroot "$root" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
' in-root "$root" "$cwd" "$@"
