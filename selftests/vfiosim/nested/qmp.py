#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A minimal QMP client for vfiosim_migrate.sh.

    qmp.py SOCKET COMMAND [JSON-ARGUMENTS]   run one command, print its
                                             "return" as JSON; exit 1 with
                                             the error's desc on stderr
    qmp.py --send SOCKET TEXT                write TEXT and a newline to a
                                             QEMU socket chardev (a guest's
                                             serial console)
"""
import json
import socket
import sys


def connect(path, timeout=60):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def reply(stream):
    """The next message that is not an event."""
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("QMP connection closed")
        msg = json.loads(line)
        if "event" not in msg:
            return msg


def command(path, name, args=None):
    sock = connect(path)
    stream = sock.makefile("rw", encoding="utf-8")
    reply(stream)  # the greeting
    for cmd in ({"execute": "qmp_capabilities"}, {"execute": name}):
        if cmd["execute"] == name and args is not None:
            cmd["arguments"] = args
        stream.write(json.dumps(cmd) + "\n")
        stream.flush()
        msg = reply(stream)
        if "error" in msg:
            print("%s: %s" % (cmd["execute"], msg["error"].get("desc", msg)),
                  file=sys.stderr)
            return 1
    print(json.dumps(msg.get("return", {})))
    sock.close()
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--send":
        sock = connect(argv[2])
        sock.sendall((argv[3] + "\n").encode())
        sock.close()
        return 0
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    args = json.loads(argv[3]) if len(argv) == 4 else None
    try:
        return command(argv[1], argv[2], args)
    except (OSError, EOFError, ValueError) as err:
        print("%s: %s" % (argv[2], err), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
