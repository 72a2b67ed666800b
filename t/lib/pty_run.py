#!/usr/bin/env python3
"""pty_run.py - a program on a pseudo-terminal, and the screen it leaves.

usage:
  pty_run.py run [--cols N] [--stderr FILE] [--pid FILE] OUT CMD [ARG...]
        CMD with its stdin, stdout and stderr on a new pseudo-terminal
        of N columns (default 100) and 24 rows, in a session of its own;
        what it writes there goes to OUT, as it comes (the terminal's
        default settings: "\\n" arrives as "\\r\\n"). --stderr FILE: its
        stderr goes to FILE instead (not a terminal). --pid FILE: CMD's
        pid is written there once it runs. Status: CMD's, or 128+N when
        signal N ended it. Reads until every holder of the terminal has
        closed it, at most 20 s after CMD's end.
  pty_run.py screen [--cols N] IN
        the screen the bytes of IN leave on a terminal of N columns
        (default 100), as text: each row with its trailing blanks
        removed, the blank rows after the last written one left out.
        Understood: printable UTF-8 (one column a character), "\\r",
        "\\n", "\\b", ESC [ K / ESC [ 0 K (erase to the end of the row) and
        ESC [ 2 K (the whole row); a row full wraps. Any other control
        byte or sequence: status 2 (the test should learn of it).
Stdlib only.
"""
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def opt(args, name, default):
    if name in args:
        i = args.index(name)
        val = args[i + 1]
        del args[i:i + 2]
        return val
    return default


def run(args):
    cols = int(opt(args, "--cols", "100"))
    err_file = opt(args, "--stderr", None)
    pid_file = opt(args, "--pid", None)
    out_path, cmd = args[0], args[1:]
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    err = open(err_file, "wb") if err_file else slave
    child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=err,
                             start_new_session=True)
    os.close(slave)
    if err_file:
        err.close()
    if pid_file:
        with open(pid_file + ".tmp", "w") as f:
            f.write("%d\n" % child.pid)
        os.rename(pid_file + ".tmp", pid_file)
    deadline = None
    with open(out_path, "wb") as out:
        while True:
            if deadline is None and child.poll() is not None:
                deadline = time.monotonic() + 20
            if deadline is not None and time.monotonic() > deadline:
                break
            r, _, _ = select.select([master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: no one holds the terminal any more
                break
            if not data:
                break
            out.write(data)
            out.flush()
    os.close(master)
    rc = child.wait()
    return 128 - rc if rc < 0 else rc


def screen(args):
    cols = int(opt(args, "--cols", "100"))
    with open(args[0], "rb") as f:
        text = f.read().decode("utf-8")
    rows, row, col = [[]], 0, 0

    def put(ch):
        nonlocal row, col
        if col >= cols:
            row, col = row + 1, 0
        while len(rows) <= row:
            rows.append([])
        line = rows[row]
        while len(line) <= col:
            line.append(" ")
        line[col] = ch
        col += 1

    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            while len(rows) <= row:
                rows.append([])
        elif ch == "\b":
            col = max(col - 1, 0)
        elif ch == "\x1b":
            seq = text[i:i + 3]
            if seq.startswith("[K") or seq.startswith("[0K"):
                del rows[row][col:]
                i += 2 if seq.startswith("[K") else 3
            elif seq.startswith("[2K"):
                rows[row] = [" "] * min(col, len(rows[row]))
                i += 3
            else:
                sys.stderr.write("pty_run.py: unknown sequence ESC %r\n" % seq)
                return 2
        elif ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0:
            sys.stderr.write("pty_run.py: control byte 0x%02x\n" % ord(ch))
            return 2
        else:
            put(ch)
    lines = ["".join(r).rstrip(" ") for r in rows]
    while lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        print(line)
    return 0


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("run", "screen"):
        sys.stderr.write(__doc__)
        return 2
    return (run if sys.argv[1] == "run" else screen)(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
