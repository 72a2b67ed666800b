#!/usr/bin/env python3
"""killrelay.py - an IMAP tunnel relay that SIGKILLs its client at a point.

usage: killrelay.py --name NAME --dir DIR -- COMMAND [ARG...]

Used as a client's tunnel command (no shell metacharacter in it, so that
the client execs it and is its parent): runs COMMAND (the real tunnel,
IMAP on its stdin/stdout) and relays the bytes both ways, following the
IMAP framing of each direction: lines (CRLF-terminated text outside
literals; the text after a literal counts as a line of its own) and
literals ({N} or {N+} ending a line, then N bytes). It counts, per
direction ("c": client to server, "s": server to client), the events

    line       a line complete
    lit        the middle of a literal (byte N/2 of N)
    appendok   (s only) a tagged "OK [APPENDUID ...]"

and, when DIR/plan holds "NAME DIR KIND K" (read once, at start), kills
its client (SIGKILL; the parent process, which must be an interimap:
its command line is checked) at the K-th event of that kind:

    s line / s appendok   before the line is passed on: the server has
                          done what it answers, the client never learns
    s lit                 with half the literal passed on
    c line                after the line reached the server (not a byte
                          the client wrote after it)
    c lit                 with half the literal passed to the server
                          (which then sees the connection end)

The client is dead (a zombie or gone: pidfd) before any byte after the
point moves, so what each side saw is exactly the stream up to the point
(in that direction; the other one is not held). The kill is recorded in
DIR/killed ("NAME DIR KIND K: context"). At the end (the client's input
closed and COMMAND exited) the counts go to DIR/counts.NAME ("DIR KIND
N" lines). The relay holds a shared flock on DIR/lock.NAME for its
whole life: `flock DIR/lock.NAME true` waits until it is done, its
server included.

Several instances of one NAME (a client with several connections to a
server: interimap's lanes) count together: the events of all of them
(DIR/events.NAME.PID, PID the client's, under a flock),
the K-th one kills, wherever it falls, and each one's counts file holds
the totals as they were when it ended (the last one's: the run's), and
DIR/instances.NAME how many instances the run had so far. One
started by a client that is gone already (killed by another instance
meanwhile) takes its lock, sees that, and ends without starting COMMAND:
once the client's end was seen, `flock DIR/lock.NAME true` means no
server of it runs or will. Stdlib only.
"""
import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import threading

LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n\Z")
APPENDOK = re.compile(rb"[^ *+]\S* OK \[APPENDUID ", re.I)


KINDS = (("c", "line"), ("c", "lit"), ("s", "line"), ("s", "lit"),
         ("s", "appendok"), ("-", "instances"))


class Events:
    """The counts of every instance of a NAME: a file of len(KINDS)
    8-byte counters, each update under an exclusive flock."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def _read(self):
        b = os.pread(self.fd, 8 * len(KINDS), 0).ljust(8 * len(KINDS), b"\0")
        return [int.from_bytes(b[i:i + 8], "little") for i in range(0, len(b), 8)]

    @contextlib.contextmanager
    def _locked(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def add(self, direction, kind):
        """The count of (direction, kind) with this event."""
        i = KINDS.index((direction, kind))
        with self._locked():
            v = self._read()
            v[i] += 1
            os.pwrite(self.fd, v[i].to_bytes(8, "little"), 8 * i)
        return v[i]

    def totals(self):
        with self._locked():
            return dict(zip(KINDS, self._read()))


def client_is_interimap(pid):
    try:
        return b"interimap" in open("/proc/%d/cmdline" % pid, "rb").read()
    except OSError:
        return False


class Killer:
    """The plan, and the kill (once, for both directions)."""

    def __init__(self, name, d):
        self.name, self.dir = name, d
        self.lock = threading.Lock()
        self.dead = False
        self.ppid = os.getppid()
        self.plan = None
        try:
            w = open(os.path.join(d, "plan")).read().split()
        except OSError:
            w = []
        if len(w) == 4 and w[0] == name:
            self.plan = (w[1], w[2], int(w[3]))

    def due(self, direction, kind, n):
        return self.plan == (direction, kind, n)

    def kill(self, context):
        """Kill the client; returns once it is dead (or was not ours)."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
            note = ""
            if not client_is_interimap(self.ppid):
                note = " (not killed: parent %d is not an interimap)" % self.ppid
            else:
                try:
                    fd = os.pidfd_open(self.ppid)
                except OSError:
                    fd = -1
                os.kill(self.ppid, signal.SIGKILL)
                if fd >= 0:
                    # readable once the process has exited (bounded: a
                    # SIGKILLed process goes at once)
                    select.select([fd], [], [], 30)
                    os.close(fd)
            ctx = context[:80].decode("latin-1").encode("unicode_escape").decode()
            with open(os.path.join(self.dir, "killed"), "w") as f:
                f.write("%s %s %s %d: %s%s\n" % ((self.name,) + self.plan + (ctx, note)))


class Stream:
    """One direction's framing and counts."""

    def __init__(self, direction, killer, events, out):
        self.dir, self.k, self.ev, self.out = direction, killer, events, out
        self.line = b""          # the current line (not passed on yet)
        self.lit = 0             # literal bytes still to come
        self.litlen = 0
        self.stopped = False

    def event(self, kind):
        return self.k.due(self.dir, kind, self.ev.add(self.dir, kind))

    def feed(self, data):
        """Passes data on (out()) up to the kill point, if it is in it;
        nothing after it, ever."""
        i = 0
        while i < len(data) and not self.stopped:
            if self.lit:
                take = min(self.lit, len(data) - i)
                done = self.litlen - self.lit
                mid = self.litlen // 2
                if done <= mid < done + take and self.event("lit"):
                    part = data[i:i + mid - done]
                    self.stop(part, data[max(0, i - 40):i + mid - done])
                    return
                self.out(data[i:i + take])
                self.lit -= take
                i += take
                continue
            j = data.find(b"\n", i)
            if j < 0:
                self.line += data[i:]
                return
            line = self.line + data[i:j + 1]
            self.line = b""
            i = j + 1
            kill = self.event("line")
            if self.dir == "s" and APPENDOK.match(line) and self.event("appendok"):
                kill = True
            if kill:
                # a server's line is held back; a client's goes on
                self.stop(line if self.dir == "c" else b"", line)
                return
            self.out(line)
            m = LITERAL.search(line)
            if m:
                self.lit = self.litlen = int(m.group(1))

    def stop(self, part, context):
        """The kill point: the client dies with part passed on (before the
        kill when it is the server's, after it when it is its own)."""
        self.stopped = True
        if self.dir == "s":
            self.out(part)
            self.k.kill(context)
        else:
            self.k.kill(context)
            self.out(part)


def write_all(fd, b):
    while b:
        n = os.write(fd, b)
        b = b[n:]


def main(argv):
    if len(argv) < 6 or argv[0] != "--name" or argv[2] != "--dir" or argv[4] != "--":
        sys.stderr.write(__doc__)
        return 2
    name, d, cmd = argv[1], argv[3], argv[5:]
    lockf = open(os.path.join(d, "lock." + name), "w")
    fcntl.flock(lockf, fcntl.LOCK_SH)
    if not client_is_interimap(os.getppid()):
        # started, then the client killed (getppid() is no longer it)
        return 0
    k = Killer(name, d)
    ev = Events(os.path.join(d, "events.%s.%d" % (name, k.ppid)))
    ev.add("-", "instances")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    srv = p.stdin.fileno()
    gone = [False]

    def to_client(b):
        # (nothing once the client is dead: k.dead is set before the kill)
        if b and not gone[0] and not k.dead:
            try:
                write_all(1, b)
            except OSError:
                gone[0] = True

    up = Stream("c", k, ev, lambda b: write_all(srv, b))
    down = Stream("s", k, ev, to_client)

    def client_to_server():
        # The client's input ends when it dies (ECONNRESET when it had
        # bytes unread); past a kill point of this direction, the rest is
        # not passed on.
        try:
            while not up.stopped:
                b = os.read(0, 65536)
                if not b:
                    break
                up.feed(b)
        except OSError:
            pass
        try:
            p.stdin.close()
        except OSError:
            pass

    threading.Thread(target=client_to_server, daemon=True).start()
    while True:
        b = p.stdout.read(65536)
        if not b:
            break
        down.feed(b)
    # (past the kill point, or the client gone: the server's output is
    # read to its end, so that it is never blocked)
    p.wait()
    totals = ev.totals()

    def publish(what, text):
        # (written whole, then renamed: another instance may end meanwhile)
        tmp = os.path.join(d, "%s.%s.%d" % (what, name, os.getpid()))
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(d, "%s.%s" % (what, name)))

    publish("counts", "".join("%s %s %d\n" % (direction, kind, n)
                              for (direction, kind), n in totals.items()
                              if direction != "-"))
    publish("instances", "%d\n" % totals["-", "instances"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
