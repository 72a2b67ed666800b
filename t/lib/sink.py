#!/usr/bin/env python3
"""A small scriptable SMTP/LMTP sink for the delivery tests (stdlib only).

Listens on 127.0.0.1 (or --host) PORT, or on a Unix socket (--unix PATH).
With port 0 the kernel picks a free port; the port is printed on stdout and,
with --port-file, written to that file (atomically, through a rename) once
the socket listens, so that tests can wait for the file.

Every accepted message is written to --dir as NNN.eml (the exact bytes after
un-dot-stuffing, RFC 5321 4.5.2: the CRLF before the final "." belongs to the
message; like Dovecot, a bare LF ends a line too) and NNN.env (envelope
lines); NNN is the transaction number, i.e. the count of MAIL commands seen
since the start, across connections. A
message that did not end with the final "." (connection lost) or got a
non-2xx end-of-data reply leaves no file. The transcript (--log) has one line
per event: "* connect N", "C: command", "S: reply", "* body N bytes",
"* lost mid-data", "* close N".

Failure injection: --mail/--rcpt/--data/--eod CODE[@N,M...] reply CODE to
that phase (of transactions N, M... only, else of all), --delay-eod
SECONDS[@N,...] waits before the end-of-data reply, --drop-mid-data[=N,...]
closes the connection in the middle of the body, --close-after N closes the
connection (silently, or after a 421 with --close-421) once N messages were
handled on it, --hangup PHASE[@N,...] (mail, rcpt, data or eod) closes the
connection instead of replying to that phase (an MTA that dies
mid-transaction). The process exits after --lifetime seconds whatever happens.
"""

import argparse
import os
import socket
import sys
import threading
import time

MAX_LINE = 1 << 16


def parse_sel(value, conv):
    """'VALUE[@N,M]' -> (conv(VALUE), set of N or None for all)."""
    val, _, sel = value.partition("@")
    nums = {int(x) for x in sel.split(",") if x} if sel else None
    return conv(val), nums


def selected(rule, txn):
    return rule is not None and (rule[1] is None or txn in rule[1])


class Sink:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.txn = 0
        self.nconn = 0
        self.logf = open(args.log, "a", buffering=1) if args.log else None

    def log(self, text):
        if self.logf:
            with self.lock:
                self.logf.write(text + "\n")

    def next_txn(self):
        with self.lock:
            self.txn += 1
            return self.txn

    def serve(self, sock):
        with self.lock:
            self.nconn += 1
            cid = self.nconn
        self.log("* connect %d" % cid)
        try:
            Session(self, sock, cid).run()
        except (OSError, ValueError) as e:
            self.log("* error %d %s" % (cid, e))
        finally:
            try:
                sock.close()
            except OSError:
                pass
            self.log("* close %d" % cid)


class Session:
    def __init__(self, sink, sock, cid):
        self.sink = sink
        self.a = sink.args
        self.sock = sock
        self.cid = cid
        self.rf = sock.makefile("rb")
        self.nmsg = 0
        self.reset()

    def reset(self):
        self.txn = 0
        self.sender = None
        self.rcpts = []

    def send(self, *lines):
        out = b""
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            text = line[:3] + sep + line[4:] if len(line) > 3 else line
            self.sink.log("S: " + text)
            out += text.encode() + b"\r\n"
        self.sock.sendall(out)

    def caps(self):
        caps = ["250 sink"]
        if not self.a.no_pipelining:
            caps.append("250 PIPELINING")
        caps += ["250 8BITMIME", "250 ENHANCEDSTATUSCODES",
                 "250 SIZE 100000000"]
        return caps

    def hangup(self, phase):
        """True (connection closed) when --hangup says so for phase."""
        rule = self.a.hangup
        if rule is None or rule[0] != phase or not selected(rule, self.txn):
            return False
        self.sink.log("* hangup at %s" % phase)
        self.sock.shutdown(socket.SHUT_RDWR)
        return True

    def injected(self, rule, phase):
        if selected(rule, self.txn):
            code = rule[0]
            cls = code // 100
            self.send("%d %d.0.0 sink: injected %s failure" % (code, cls,
                                                                phase))
            return True
        return False

    def run(self):
        self.send("220 sink %s ready" % ("LMTP" if self.a.lmtp else "ESMTP"))
        while True:
            line = self.rf.readline(MAX_LINE)
            if not line:
                return
            text = line.rstrip(b"\r\n").decode("utf-8", "replace")
            self.sink.log("C: " + text)
            verb = text.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if self.a.lmtp:
                    self.send("500 5.5.1 sink: this is LMTP, use LHLO")
                else:
                    self.send(*self.caps())
            elif verb == "LHLO":
                if self.a.lmtp:
                    self.send(*self.caps())
                else:
                    self.send("500 5.5.1 sink: this is SMTP")
            elif verb == "MAIL":
                self.reset()
                self.txn = self.sink.next_txn()
                if self.hangup("mail"):
                    return
                if not self.injected(self.a.mail, "MAIL"):
                    self.sender = text[5:]
                    self.send("250 2.1.0 Ok")
            elif verb == "RCPT":
                if self.sender is None:
                    self.send("503 5.5.1 sink: MAIL first")
                elif self.hangup("rcpt"):
                    return
                elif not self.injected(self.a.rcpt, "RCPT"):
                    self.rcpts.append(text[5:])
                    self.send("250 2.1.5 Ok")
            elif verb == "DATA":
                if self.sender is None:
                    self.send("503 5.5.1 sink: MAIL first")
                elif not self.rcpts:
                    self.send("554 5.5.1 sink: no valid recipients")
                elif self.hangup("data"):
                    return
                elif not self.injected(self.a.data, "DATA"):
                    self.send("354 End data with <CR><LF>.<CR><LF>")
                    if not self.body():
                        return
                    self.reset()
                    self.nmsg += 1
                    if self.a.close_after and self.nmsg >= self.a.close_after:
                        if self.a.close_421:
                            self.send("421 4.4.2 sink: closing idle")
                        return
            elif verb == "RSET":
                self.reset()
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("500 5.5.2 sink: unknown command")

    def body(self):
        """Reads the body up to the final dot. False: connection gone."""
        base = os.path.join(self.a.dir, "%03d" % self.txn)
        n = 0
        bol = True
        drop = selected(self.a.drop_mid_data, self.txn)
        with open(base + ".part", "wb") as out:
            while True:
                chunk = self.rf.readline(MAX_LINE)
                if not chunk:
                    self.sink.log("* lost mid-data")
                    os.unlink(base + ".part")
                    return False
                if bol and chunk == b".\r\n":
                    break
                if bol and chunk.startswith(b"."):
                    chunk = chunk[1:]
                # Like Dovecot and Postfix: a bare LF ends a line too.
                bol = chunk.endswith(b"\n")
                out.write(chunk)
                n += len(chunk)
                if drop and n > 0:
                    self.sink.log("* dropping mid-data")
                    os.unlink(base + ".part")
                    self.sock.shutdown(socket.SHUT_RDWR)
                    return False
        self.sink.log("* body %d bytes" % n)
        rule = self.a.delay_eod
        if selected(rule, self.txn):
            time.sleep(rule[0])
        if self.hangup("eod"):
            os.unlink(base + ".part")
            return False
        eod = self.a.eod if selected(self.a.eod, self.txn) else None
        if eod is None:
            os.rename(base + ".part", base + ".eml")
            with open(base + ".env", "w") as env:
                env.write("MAIL %s\n" % self.sender)
                for r in self.rcpts:
                    env.write("RCPT %s\n" % r)
        else:
            os.unlink(base + ".part")
        # RFC 2033 4.2: one reply per accepted recipient in LMTP.
        for r in (self.rcpts if self.a.lmtp else [None]):
            if eod is not None:
                self.injected(self.a.eod, "end-of-data")
            elif self.a.lmtp:
                self.send("250 2.0.0 %s %03d Saved" % (r.strip()[3:],
                                                      self.txn))
            else:
                self.send("250 2.0.0 Ok: queued as %03d" % self.txn)
        return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix", metavar="PATH")
    p.add_argument("--port-file")
    p.add_argument("--dir", default=".")
    p.add_argument("--log")
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--no-pipelining", action="store_true")
    code = lambda v: parse_sel(v, int)
    for phase in ("mail", "rcpt", "data", "eod"):
        p.add_argument("--" + phase, type=code, metavar="CODE[@N,...]")
    p.add_argument("--delay-eod", type=lambda v: parse_sel(v, float),
                   metavar="SECONDS[@N,...]")
    p.add_argument("--drop-mid-data", nargs="?", const="",
                   type=lambda v: parse_sel("0@" + v, int), metavar="N,...")
    p.add_argument("--hangup", type=lambda v: parse_sel(v, str),
                   metavar="PHASE[@N,...]")
    p.add_argument("--close-after", type=int, default=0)
    p.add_argument("--close-421", action="store_true")
    p.add_argument("--lifetime", type=float, default=60)
    args = p.parse_args()

    killer = threading.Timer(args.lifetime, os._exit, (0,))
    killer.daemon = True
    killer.start()

    if args.unix:
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        ls.bind(args.unix)
        port = 0
    else:
        fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.host, args.port))
        port = ls.getsockname()[1]
    ls.listen(16)
    sink = Sink(args)
    print(port, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    while True:
        s, _ = ls.accept()
        if s.family != socket.AF_UNIX:
            # Replies to pipelined commands go out as separate segments:
            # without this, Nagle plus the client's delayed ACK stalls each
            # transaction for ~40 ms (seen with the Perl reference).
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=sink.serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
