#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a client provokes cannot flood vfiosim-userd's log.  A raw
vfio-user client, run by run-conformance.sh against a live daemon whose
stderr goes to LOG:

  flood-check.py SOCK LOG

Reply-typed messages (each one a log line, as a netlink error a client
provokes is: the same per-connection limiter), requests answered with
an error, and connections made in a loop each go past the daemon's
budget (10 lines a second per connection, and 10 a second per socket
for connections coming and going); the log may grow by that budget, and
says how much it left out.  Prints TAP lines; exit status 1 if any failed.
"""
import importlib.util
import math
import os
import re
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "stall_check", os.path.join(here, "stall-check.py"))
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
ok, session, HDR, ID_MAGIC = sc.ok, sc.session, sc.HDR, sc.ID_MAGIC
F_REPLY = sc.F_REPLY
BAD_REGION = 77
LOG_BURST = 10          # userd.c: lines a second, per budget
FLOOD = 2000            # messages of each kind
RECONNECTS = 300


def recv_reply(s):
    mid, cmd, size, flags, err = HDR.unpack(sc.recv_exact(s, HDR.size))
    body = sc.recv_exact(s, size - HDR.size)
    return mid, (-err if flags & sc.F_ERROR else 0), body


def read_req(msg_id, region, flags=0):
    return HDR.pack(msg_id, sc.REGION_READ, HDR.size + 16, flags, 0) + \
        struct.pack("<QII", sc.REG_ID, region, 4)


def read_id(s, msg_id):
    s.sendall(read_req(msg_id, 0))
    mid, err, body = recv_reply(s)
    if err or mid != msg_id or len(body) < 20:
        return None
    return struct.unpack_from("<I", body, 16)[0]


def log_lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def budget(seconds, budgets):
    """Lines `budgets` budgets may log in `seconds`, notes included."""
    return budgets * (LOG_BURST + 1) * (math.ceil(seconds) + 1)


def main():
    sock, log = sys.argv[1:3]

    # 1. One connection: reply-typed messages, then refused requests
    # (the kernel's error replies, which log nothing).
    time.sleep(1.1)         # a new second: the socket's budget is whole
    before = len(log_lines(log))
    t0 = time.monotonic()
    s = session(sock)
    for i in range(0, FLOOD, 200):
        s.sendall(b"".join(read_req(10 + j, 0, F_REPLY)
                           for j in range(i, i + 200)))
    ok(read_id(s, 5) == ID_MAGIC,
       "%d reply-typed messages: ignored, and the client still served"
       % FLOOD)
    errs = set()
    for i in range(0, FLOOD, 100):
        s.sendall(b"".join(read_req(j & 0xffff, BAD_REGION)
                           for j in range(i, i + 100)))
        for _ in range(100):
            errs.add(recv_reply(s)[1])
    ok(len(errs) == 1 and errs.pop() < 0,
       "%d reads of region %d: each answered with an error"
       % (FLOOD, BAD_REGION))
    ok(read_id(s, 6) == ID_MAGIC, "... and the client still served")
    s.close()
    time.sleep(0.3)
    t = time.monotonic() - t0
    lines = log_lines(log)[before:]
    ok(len(lines) <= budget(t, 2),
       "%d messages on one connection in %.1f s: %d log lines (budget %d)"
       % (2 * FLOOD, t, len(lines), budget(t, 2)))
    cut = [ln for ln in lines if re.search(
        r"disconnected \(.*; [1-9][0-9]* of its lines suppressed\)", ln)]
    ok(len(cut) == 1,
       "... and its disconnect line says how many were left out: %s"
       % (cut[0].split(": ", 1)[-1] if cut else "none"))

    # 2. Connections in a loop: each logs connect, VERSION, disconnect.
    time.sleep(1.1)         # a new second: the socket's budget is whole
    before = len(log_lines(log))
    t0 = time.monotonic()
    served = 0
    for i in range(RECONNECTS):
        s = session(sock)
        served += read_id(s, 2) == ID_MAGIC
        s.close()
    t = time.monotonic() - t0
    ok(served == RECONNECTS, "%d connections in a row, each served (%d)"
       % (RECONNECTS, served))
    time.sleep(1.1)
    s = session(sock)       # the first line of a new second says the rest
    s.close()
    time.sleep(0.3)
    lines = log_lines(log)[before:]
    ok(len(lines) <= budget(t + 1.5, 1),
       "%d connections in %.1f s: %d log lines, not %d (budget %d)"
       % (RECONNECTS, t, len(lines), 3 * RECONNECTS, budget(t + 1.5, 1)))
    left = sum(int(m.group(1)) for m in
               (re.search(r"\((\d+) similar lines suppressed\)", ln)
                for ln in lines) if m)
    ok(left > 0 and left + len(lines) >= 3 * RECONNECTS,
       "... and the log says %d lines were left out" % left)
    print("1..%d" % sc.n)
    return 1 if sc.failed else 0


if __name__ == "__main__":
    sys.exit(main())
