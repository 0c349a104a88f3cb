#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""One request to vfiosim-userd's --control socket, for the shell tests.

    userd_control.py SOCKET JSON            print the reply line
    userd_control.py SOCKET --fired UUID KNOB   print that knob's fired count

Exits 1 if the daemon answers with an error or the knob is not listed.
"""
import json
import socket
import sys


def request(path, line):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline().strip()


def main():
    if len(sys.argv) == 5 and sys.argv[2] == "--fired":
        reply = json.loads(request(sys.argv[1], json.dumps({"device": sys.argv[3]})))
        for knob in reply.get("knobs", []):
            if knob["name"] == sys.argv[4]:
                print(knob["fired"])
                return 0
        print(f"userd_control: no knob {sys.argv[4]} on {sys.argv[3]}: {reply}",
              file=sys.stderr)
        return 1
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    reply = request(sys.argv[1], sys.argv[2])
    print(reply)
    return 1 if "error" in json.loads(reply) else 0


sys.exit(main())
