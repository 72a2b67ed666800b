#!/usr/bin/env python3
"""hookrelay.py - an IMAP tunnel relay that runs a command at a point of
the client's stream, before passing that point on.

usage: hookrelay.py --after REGEX --at REGEX --run CMD -- TUNNEL

Runs TUNNEL (a shell command: IMAP on its stdin/stdout) and relays the
bytes both ways unchanged. Once the client has sent something matching
--after, the first chunk it sends that matches --at is held until CMD (a
shell command) has run to its end, then passed on; once only. So "another
client" acts at an exact point of a session: e.g. appends to the mailbox
a FETCH is about to read (CMD says so itself if the caller wants to
know: nothing is written to stderr, the client's log). Stdlib only.
"""
import re
import subprocess
import sys
import threading


def main(argv):
    after = at = run = None
    while argv and argv[0] != "--":
        if argv[0] in ("--after", "--at", "--run") and len(argv) > 1:
            if argv[0] == "--after":
                after = re.compile(argv[1].encode())
            elif argv[0] == "--at":
                at = re.compile(argv[1].encode())
            else:
                run = argv[1]
            argv = argv[2:]
        else:
            sys.exit("usage: hookrelay.py --after RE --at RE --run CMD -- TUNNEL")
    if not argv or after is None or at is None or run is None:
        sys.exit("usage: hookrelay.py --after RE --at RE --run CMD -- TUNNEL")
    child = subprocess.Popen(" ".join(argv[1:]), shell=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def down():
        while True:
            b = child.stdout.read1(65536)
            if not b:
                break
            sys.stdout.buffer.write(b)
            sys.stdout.buffer.flush()
        sys.stdout.close()

    t = threading.Thread(target=down, daemon=True)
    t.start()
    # The client's stream: the last bytes kept, so that a match may span
    # two chunks.
    tail, armed, fired = b"", False, False
    while True:
        b = sys.stdin.buffer.read1(65536)
        if not b:
            break
        if not fired:
            window = tail + b
            m = None if armed else after.search(window)
            if m:
                armed = True
                # what follows the match only
                window = window[m.end():]
            if armed and at.search(window):
                subprocess.run(run, shell=True, check=False)
                fired = True
            tail = window[-4096:]
        child.stdin.write(b)
        child.stdin.flush()
    child.stdin.close()
    child.wait()
    t.join(5)


if __name__ == "__main__":
    main(sys.argv[1:])
