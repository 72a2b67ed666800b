#!/usr/bin/env python3
"""tcprelay.py PORT UPSTREAM_PORT [DELAY_MS]: relays every connection to
127.0.0.1:PORT to 127.0.0.1:UPSTREAM_PORT, bytes as they come (each
chunk DELAY_MS milliseconds later in each direction when given: a link
whose round trip is 2 x DELAY_MS longer), until killed. A network path a test can cut without closing anything: SIGSTOP
freezes it (connections stay open, nothing moves, new ones are accepted by
the kernel and never served), SIGCONT thaws it."""
import queue
import socket
import sys
import threading
import time

port, up_port = int(sys.argv[1]), int(sys.argv[2])
delay = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def delayed(src, dst):
    """pipe(), each chunk sent delay seconds after it came (in order)."""
    q = queue.Queue()

    def send():
        while True:
            due, b = q.get()
            if b is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.sendall(b)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            q.put((time.monotonic() + delay, b))
    except OSError:
        pass
    q.put((0, None))


def serve(cli):
    try:
        srv = socket.create_connection(("127.0.0.1", up_port))
    except OSError:
        cli.close()
        return
    for s in (cli, srv):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    fn = delayed if delay > 0 else pipe
    threading.Thread(target=fn, args=(cli, srv), daemon=True).start()
    threading.Thread(target=fn, args=(srv, cli), daemon=True).start()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    serve(c)
