#!/usr/bin/env python3
"""trickle.py PORT UPSTREAM_PORT MODE TRIGGER [INTERVAL]: a relay on
127.0.0.1:PORT in front of an IMAP server on 127.0.0.1:UPSTREAM_PORT that
turns slow once the client sends the command TRIGGER (e.g. SELECT; "-" =
from the greeting on). From then on, what the server says reaches the
client
  MODE bytes: one byte every INTERVAL seconds (default 1), or
  MODE lines: not at all, the relay sending "* OK still working" every
              INTERVAL seconds instead (complete responses, never the end).
Client bytes always go through at once (commands are recognized only
without COMPRESS). Each connection ends when either side
closes it; the relay serves connections until killed."""
import socket
import sys
import threading
import time

port, up_port, mode, trigger = (int(sys.argv[1]), int(sys.argv[2]),
                                sys.argv[3], sys.argv[4].upper())
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0


def serve(cli):
    srv = socket.create_connection(("127.0.0.1", up_port))
    slow = threading.Event()
    if trigger == "-":
        slow.set()
    done = threading.Event()

    def client_to_server():
        buf = b""
        try:
            while True:
                b = cli.recv(65536)
                if not b:
                    break
                buf += b
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    words = line.split()
                    if len(words) > 1 and words[1].decode("ascii", "replace").upper() == trigger:
                        slow.set()
                buf = buf[-1000:]
                # Slow before the server can answer: its reply to the
                # trigger must not slip through at full speed.
                srv.sendall(b)
        except OSError:
            pass
        done.set()

    threading.Thread(target=client_to_server, daemon=True).start()
    pending = b""
    srv.settimeout(0.05)
    try:
        while not done.is_set():
            try:
                b = srv.recv(65536)
                if not b:
                    break
                pending += b
            except socket.timeout:
                pass
            if not slow.is_set():
                cli.sendall(pending)
                pending = b""
            elif mode == "bytes" and pending:
                cli.sendall(pending[:1])
                pending = pending[1:]
                time.sleep(interval)
            elif mode == "lines":
                cli.sendall(b"* OK still working\r\n")
                time.sleep(interval)
    except OSError:
        pass
    for s in (cli, srv):
        try:
            s.close()
        except OSError:
            pass


lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", port))
lsock.listen(8)
while True:
    c, _ = lsock.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
