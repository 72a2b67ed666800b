#!/usr/bin/env python3
"""floor.py HOST PORT USER PASSWORD MAILBOX [N]: the least a poll with
nothing new can take against this server, whatever the client: the median
wall time, in seconds, of N (default 10) in-process sessions doing what
such a poll does (connect, greeting, AUTHENTICATE PLAIN, ENABLE QRESYNC
with SELECT, LOGOUT), without starting a process or opening any state."""
import base64
import socket
import statistics
import sys
import time


def until_tagged(sock, tag):
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("floor.py: connection closed")
        buf += data
        for line in buf.split(b"\r\n"):
            if tag is None and line.startswith(b"* "):
                return
            if tag is not None and line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SystemExit("floor.py: " + line.decode(errors="replace"))
                return


def session(host, port, user, password, mailbox):
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    until_tagged(s, None)
    cred = base64.b64encode(b"\0" + user + b"\0" + password)
    # Three round trips after the greeting, as pullimap does: ENABLE and
    # SELECT go out together.
    for tag, cmd in ((b"1", b"AUTHENTICATE PLAIN " + cred),
                     (b"3", b"2 ENABLE QRESYNC\r\n3 SELECT \"" + mailbox + b"\""),
                     (b"4", b"LOGOUT")):
        s.sendall((cmd if tag == b"3" else tag + b" " + cmd) + b"\r\n")
        until_tagged(s, tag)
    s.close()
    return time.monotonic() - t0


host, port, user, password, mailbox = sys.argv[1:6]
n = int(sys.argv[6]) if len(sys.argv) > 6 else 10
times = [session(host, int(port), user.encode(), password.encode(),
                 mailbox.encode()) for _ in range(n)]
print("%.4f" % statistics.median(times))
