#!/usr/bin/env python3
"""measure.py OUT -- CMD...: run CMD, write "wall user sys maxrss_kb status"
to OUT. The rusage comes from wait4(), i.e. CMD and the children it waited
for; the wall time from a monotonic clock."""
import os
import sys
import time

out = sys.argv[1]
cmd = sys.argv[3:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    f.write("%.3f %.3f %.3f %d %d\n" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, code))
sys.exit(0)
