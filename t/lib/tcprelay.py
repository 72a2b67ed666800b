#!/usr/bin/env python3
"""tcprelay.py PORT UPSTREAM_PORT: relays every connection to
127.0.0.1:PORT to 127.0.0.1:UPSTREAM_PORT, bytes as they come, until
killed. A network path a test can cut without closing anything: SIGSTOP
freezes it (connections stay open, nothing moves, new ones are accepted by
the kernel and never served), SIGCONT thaws it."""
import socket
import sys
import threading

port, up_port = int(sys.argv[1]), int(sys.argv[2])


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


def serve(cli):
    try:
        srv = socket.create_connection(("127.0.0.1", up_port))
    except OSError:
        cli.close()
        return
    threading.Thread(target=pipe, args=(cli, srv), daemon=True).start()
    threading.Thread(target=pipe, args=(srv, cli), daemon=True).start()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    serve(c)
