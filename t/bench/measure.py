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
# MEASURE_TIMEOUT: kill the command after so many seconds (the Perl
# reference takes hours on a 100 MB message); status 124 then.
limit = float(os.environ.get("MEASURE_TIMEOUT", "0"))
timed_out = False
while True:
    wpid, status, ru = os.wait4(pid, os.WNOHANG if limit else 0)
    if wpid:
        break
    if time.monotonic() - t0 > limit:
        os.kill(pid, 9)
        timed_out = True
        _, status, ru = os.wait4(pid, 0)
        break
    time.sleep(0.05)
wall = time.monotonic() - t0
code = 124 if timed_out else os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    f.write("%.3f %.3f %.3f %d %d\n" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, code))
sys.exit(0)
