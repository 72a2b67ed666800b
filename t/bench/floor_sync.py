#!/usr/bin/env python3
"""floor_sync.py CONFIG [N]: the least a sync with nothing new can take
against the two servers of an interimap CONFIG, whatever the client: the
median wall time, in seconds, of N (default 5) in-process runs of what
such a sync must do on both sides at once (start the local tunnel or
connect, TLS, greeting, AUTHENTICATE PLAIN, COMPRESS where configured,
then ENABLE QRESYNC and the LIST-STATUS of every mailbox together),
without starting a process or opening any state. Each run waits half a
second after the one before, as the bench's runs do, so that the servers'
processes of the last one have ended.

Only what the bench's configurations use: [local] and [remote] of type
imap (plain, STARTTLS = NO), imaps (SSL_CAfile), or tunnel (a command of
words, no shell); compress = YES or NO; the password in the file."""
import base64
import configparser
import shlex
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import zlib

LIST = (b'LIST "" * RETURN (SUBSCRIBED STATUS '
        b'(UIDVALIDITY UIDNEXT HIGHESTMODSEQ))')


class Stream:
    """A side's byte stream: a socket (TLS or not), DEFLATE once on."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.inz = None
        self.outz = None

    def send(self, data):
        if self.outz is not None:
            data = self.outz.compress(data) + self.outz.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("floor_sync.py: connection closed")
        if self.inz is not None:
            data = self.inz.decompress(data)
        self.buf += data

    def line(self):
        """The next line (CRLF cut off)."""
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag):
        """Reads up to the tagged reply of tag, without splitting the
        untagged lines one by one (the LIST of 1,000 mailboxes): scans
        for CRLF tag SP."""
        mark = b"\r\n" + tag + b" "
        while True:
            if self.buf.startswith(tag + b" "):
                i = 0
            else:
                i = self.buf.find(mark)
                i = i + 2 if i >= 0 else -1
            end = self.buf.find(b"\r\n", i) if i >= 0 else -1
            if end >= 0:
                line = self.buf[i:end]
                self.buf = self.buf[end + 2:]
                if not line.startswith(tag + b" OK"):
                    raise SystemExit("floor_sync.py: " +
                                     line.decode(errors="replace"))
                return
            self.fill()

    def start_deflate(self):
        self.inz = zlib.decompressobj(-15)
        self.outz = zlib.compressobj(6, zlib.DEFLATED, -15)
        # What came after the OK is compressed already.
        rest, self.buf = self.buf, b""
        if rest:
            self.buf = self.inz.decompress(rest)


def side(sec, out, key):
    try:
        t = sec.get("type", "imaps")
        child = None
        if t == "tunnel":
            ours, theirs = socket.socketpair()
            child = subprocess.Popen(shlex.split(sec["command"]),
                                     stdin=theirs, stdout=theirs,
                                     stderr=subprocess.DEVNULL)
            theirs.close()
            sock = ours
        else:
            port = int(sec.get("port", "993" if t == "imaps" else "143"))
            sock = socket.create_connection((sec["host"], port), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if t == "imaps":
                ctx = ssl.create_default_context(cafile=sec.get("SSL_CAfile"))
                ctx.check_hostname = False
                sock = ctx.wrap_socket(sock)
        s = Stream(sock)
        greeting = s.line()
        if not greeting.startswith(b"* PREAUTH"):
            cred = base64.b64encode(b"\0" + sec["username"].encode() +
                                    b"\0" + sec["password"].encode())
            s.send(b"1 AUTHENTICATE PLAIN " + cred + b"\r\n")
            s.until_tagged(b"1")
        if t != "tunnel" and sec.get("compress", "YES").upper() == "YES":
            s.send(b"2 COMPRESS DEFLATE\r\n")
            s.until_tagged(b"2")
            s.start_deflate()
        s.send(b"3 ENABLE QRESYNC\r\n4 " + LIST + b"\r\n")
        s.until_tagged(b"4")
        out[key] = time.monotonic()
        sock.close()
        if child is not None:
            child.wait(timeout=30)
    except BaseException as e:  # reported by the caller
        out[key + "_error"] = e


def run(cfg):
    out = {}
    t0 = time.monotonic()
    th = [threading.Thread(target=side, args=(cfg[k], out, k))
          for k in ("local", "remote")]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for k in ("local", "remote"):
        if k + "_error" in out:
            raise SystemExit("floor_sync.py: %s: %s" % (k, out[k + "_error"]))
    return max(out["local"], out["remote"]) - t0


def main():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.optionxform = str
    with open(sys.argv[1]) as f:
        cfg.read_string("[DEFAULT]\n" + f.read())
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    times = []
    for i in range(n):
        if i:
            time.sleep(0.5)
        times.append(run(cfg))
    print("%.4f" % statistics.median(times))


main()
