#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiosim-userd's fault knobs, end to end, with a raw vfio-user client:

  fault-check.py CONTROL SOCK1 UUID1 SOCK2 UUID2

against a daemon started with --control CONTROL serving UUID1 on SOCK1
and UUID2 on SOCK2.  Each knob is set over the control socket, provoked,
seen by the client as it should be, counted, turned off with 0, and the
device is served normally afterwards.  Prints TAP lines; exit status 1
if any failed.
"""
import importlib.util
import json
import os
import socket
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "stall_check", os.path.join(here, "stall-check.py"))
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
ok = sc.ok
# Held replies wait DELAY_MS; anything not held must come well before
# (PROMPT_S leaves room for a loaded TCG guest).
DELAY_MS = 3000
PROMPT_S = 2.0


def control(path, req):
    """One JSON request to the control socket; its JSON answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def knob(ans, name, field):
    for k in ans.get("knobs", []):
        if k["name"] == name:
            return k[field]
    return None


def set_knob(ctl, uuid, name, value):
    return control(ctl, {"device": uuid, "knob": name, "value": value})


def read_raw(s, msg_id):
    """Send one REGION_READ of ID; the reply's msg_id and value."""
    s.sendall(sc.HDR.pack(msg_id, sc.REGION_READ, sc.HDR.size + 16, 0, 0) +
              struct.pack("<QII", sc.REG_ID, 0, 4))
    mid, cmd, size, flags, err = sc.HDR.unpack(sc.recv_exact(s, sc.HDR.size))
    body = sc.recv_exact(s, size - sc.HDR.size)
    val = struct.unpack_from("<I", body, 16)[0] if len(body) >= 20 else None
    return mid, val


def main():
    ctl, s1, u1, s2, u2 = sys.argv[1:6]

    ans = control(ctl, {"device": u1})
    ok([k["name"] for k in ans.get("knobs", [])] ==
       ["delay_reply_ms", "close_mid_message", "wrong_msg_id"],
       "control: the device's three knobs are listed")
    ans = control(ctl, {"device": u1, "knob": "bogus", "value": 1})
    ok(ans.get("errno") == 22 and "bogus" in ans.get("error", ""),
       "control: an unknown knob is EINVAL, named (%s)" % ans.get("error"))

    # wrong_msg_id: the next reply carries msg_id + 1, then they are right
    a = sc.session(s1)
    set_knob(ctl, u1, "wrong_msg_id", 1)
    mid, val = read_raw(a, 40)
    ok(mid == 41 and val == sc.ID_MAGIC,
       "wrong_msg_id 1: the reply to msg 40 says %d" % mid)
    mid, val = read_raw(a, 42)
    ok(mid == 42 and val == sc.ID_MAGIC, "... the next reply is right again")
    ok(knob(control(ctl, {"device": u1}), "wrong_msg_id", "fired") == 1,
       "... and it fired once")

    # delay_reply_ms: this device's replies wait; the other device's don't
    b = sc.session(s2)
    set_knob(ctl, u1, "delay_reply_ms", DELAY_MS)
    t0 = time.monotonic()
    a.sendall(sc.HDR.pack(50, sc.REGION_READ, sc.HDR.size + 16, 0, 0) +
              struct.pack("<QII", sc.REG_ID, 0, 4))
    tb = time.monotonic()
    vb = sc.read_id(b, 51)
    tb = time.monotonic() - tb
    ok(vb == sc.ID_MAGIC and tb < PROMPT_S,
       "delay_reply_ms %d on device 1: device 2 answers meanwhile (%.3f s)"
       % (DELAY_MS, tb))
    mid, cmd, size, flags, err = sc.HDR.unpack(sc.recv_exact(a, sc.HDR.size))
    sc.recv_exact(a, size - sc.HDR.size)
    ta = time.monotonic() - t0
    ok(mid == 50 and DELAY_MS / 1e3 <= ta < 10 + DELAY_MS / 1e3,
       "... device 1's reply comes after %.3f s (>= %.1f)"
       % (ta, DELAY_MS / 1e3))
    ans = set_knob(ctl, u1, "delay_reply_ms", 0)
    ok(knob(ans, "delay_reply_ms", "value") == 0 and
       knob(ans, "delay_reply_ms", "fired") == 1,
       "... writing 0 turns it off; it fired once")
    t0 = time.monotonic()
    ok(sc.read_id(a, 52) == sc.ID_MAGIC and time.monotonic() - t0 < PROMPT_S,
       "... and the next reply is prompt (%.3f s)" % (time.monotonic() - t0))

    # close_mid_message: part of the reply, then EOF; a new client is served
    set_knob(ctl, u1, "close_mid_message", 1)
    a.sendall(sc.HDR.pack(60, sc.REGION_READ, sc.HDR.size + 16, 0, 0) +
              struct.pack("<QII", sc.REG_ID, 0, 4))
    got = b""
    a.settimeout(5)
    try:
        while True:
            chunk = a.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    ok(0 < len(got) < 36,
       "close_mid_message 1: %d of the reply's 36 bytes, then EOF" % len(got))
    a.close()
    a = None
    for i in range(50):
        try:
            a = sc.session(s1)
            break
        except (RuntimeError, OSError, EOFError):
            time.sleep(0.1)
    ok(a is not None and sc.read_id(a, 61) == sc.ID_MAGIC,
       "... and the device serves the next client")
    ans = control(ctl, {"device": u1})
    ok(knob(ans, "close_mid_message", "value") == 0 and
       knob(ans, "close_mid_message", "fired") == 1,
       "... the count ran out; it fired once")
    if a:
        a.close()
    b.close()
    print("# fault-check: %d checks, %d failed" % (sc.n, sc.failed))
    return 1 if sc.failed else 0


if __name__ == "__main__":
    sys.exit(main())
