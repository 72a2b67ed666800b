#!/usr/bin/env python3
"""imap_refuse.py COMMAND REPLY CMD...: a relay in front of an IMAP tunnel
command CMD (stdin/stdout): client lines "TAG COMMAND" (COMMAND matched
whole, e.g. "COMPRESS DEFLATE"; or, when COMMAND ends with " *", its start,
e.g. "UID FETCH *") are answered by the relay itself with "TAG REPLY" and
never reach the server; everything else passes through."""
import os
import re
import select
import subprocess
import sys

command, reply = sys.argv[1].encode(), sys.argv[2].encode()
if command.endswith(b" *"):
    pat = re.compile(rb"(\S+) " + re.escape(command[:-1]) + rb".*\r$", re.I)
else:
    pat = re.compile(rb"(\S+) " + re.escape(command) + rb"\r$", re.I)
p = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)


def out(b):
    while b:
        b = b[os.write(1, b):]


srv, buf, fds = p.stdout.fileno(), b"", [0, p.stdout.fileno()]
while True:
    r = select.select(fds, [], [])[0]
    if srv in r:
        b = os.read(srv, 65536)
        if not b:
            break
        out(b)
    if 0 in r:
        b = os.read(0, 65536)
        if not b:
            p.stdin.close()
            fds.remove(0)
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            m = pat.match(line)
            if m:
                out(m.group(1) + b" " + reply + b"\r\n")
            else:
                p.stdin.write(line + b"\n")
p.wait()
