#!/usr/bin/env python3
"""imaptool.py - a tiny IMAP client for the tests, speaking to a tunnel
command (preauthenticated IMAP on its stdin/stdout, e.g. $DOVECOT_TUNNEL).

usage: imaptool.py [--tunnel CMD] [--timeout S] SUBCOMMAND ARGS...

  append [--date DATE] [--flags FLAGS] [--uids] MAILBOX [FILE...]
        APPEND each FILE (stdin when none) as is; DATE is an IMAP
        date-time ("01-Jan-2024 10:00:00 +0000"), FLAGS e.g. '\\Seen \\Flagged'.
        Pipelined (LITERAL+).  --uids prints the new UIDs (UIDPLUS).
  count MAILBOX          number of messages
  uidvalidity MAILBOX    UIDVALIDITY
  uidnext MAILBOX        UIDNEXT
  uids MAILBOX           one UID per line
  flags MAILBOX          lines "UID (FLAG ...)", \\Recent left out
  fetch MAILBOX UID      the raw message (BODY.PEEK[]) on stdout
  store MAILBOX UIDSET OP FLAGS   UID STORE, OP is +FLAGS, -FLAGS or FLAGS
  expunge MAILBOX UIDSET          mark \\Deleted and UID EXPUNGE
  expunge-all MAILBOX             delete every message
  create MAILBOX / delete MAILBOX
  capability             the capabilities, one per line
  raw COMMAND...         send each COMMAND (without tag), print all responses
  script                 run the subcommands read from stdin, one a line,
                         arguments separated by tabs, on one connection
                         (e.g. "append\t--flags\t\\Seen\tINBOX\tFILE")
  digest [--uids] [MAILBOX...]
        one line per message, sorted: "MAILBOX<TAB>[UID ]MD5 SIZE WHEN
        (FLAGS)" with MAILBOX as listed (wire form), MD5 and SIZE those of
        BODY[], WHEN the INTERNALDATE in seconds since the epoch, FLAGS
        sorted (\\Recent left out); default: every selectable mailbox

The tunnel command comes from --tunnel, else $IMAP_TUNNEL, else
$DOVECOT_TUNNEL; it is run with /bin/sh -c.  Mailbox names are UTF-8 on the
command line (sent as modified UTF-7).  Exit status 0 on success, 1 on an IMAP
error (NO/BAD, message on stderr), 2 on usage errors.  Stdlib only.
"""
import base64
import os
import re
import signal
import subprocess
import sys
import threading


class IMAPError(Exception):
    pass


def mutf7(name):
    """Encode a mailbox name in IMAP modified UTF-7 (RFC 3501 5.1.3)."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def quote(s):
    if re.search(r"[\r\n\x00]", s):
        raise IMAPError("cannot quote %r" % s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mbox(name):
    return quote(mutf7(name))


class IMAP:
    def __init__(self, tunnel):
        self.p = subprocess.Popen(
            ["/bin/sh", "-c", tunnel], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=65536
        )
        self.w = self.p.stdin
        self.r = self.p.stdout
        self.n = 0
        greeting = self.read_response()
        if not greeting[0].startswith(b"* PREAUTH"):
            raise IMAPError("expected a PREAUTH greeting, got %r" % greeting[0][:200])
        self.caps = set()
        m = re.search(rb"\[CAPABILITY ([^\]]*)\]", greeting[0])
        if m:
            self.caps = set(m.group(1).decode().upper().split())

    def read_response(self):
        """One server response: (line with {N} markers, [literals])."""
        line, lits = b"", []
        while True:
            chunk = self.r.readline()
            if not chunk:
                raise IMAPError("connection closed by the tunnel")
            line += chunk
            m = re.search(rb"\{(\d+)\}\r\n$", chunk)
            if not m:
                return line.rstrip(b"\r\n"), lits
            n = int(m.group(1))
            data = self.r.read(n)
            if data is None or len(data) != n:
                raise IMAPError("short literal")
            lits.append(data)

    def next_tag(self):
        self.n += 1
        return "T%d" % self.n

    def send(self, tag, cmd, literals=()):
        """Send a command; literals are bytes substituted in order for each
        '{}' placeholder in cmd (sent as non-synchronizing literals)."""
        parts = cmd.split("{}")
        if len(parts) != len(literals) + 1:
            raise IMAPError("placeholder count mismatch")
        self.w.write((tag + " " + parts[0]).encode())
        for lit, rest in zip(literals, parts[1:]):
            self.w.write(b"{%d+}\r\n" % len(lit))
            self.w.write(lit)
            self.w.write(rest.encode())
        self.w.write(b"\r\n")

    def wait(self, tag, untagged=None):
        """Read until the tagged response; returns (status, text)."""
        t = tag.encode() + b" "
        while True:
            line, lits = self.read_response()
            if line.startswith(t):
                rest = line[len(t):]
                status = rest.split(b" ", 1)[0].decode()
                return status, rest.decode("utf-8", "replace")
            if untagged is not None:
                untagged.append((line, lits))

    def cmd(self, cmd, literals=(), check=True):
        tag = self.next_tag()
        self.send(tag, cmd, literals)
        self.w.flush()
        untagged = []
        status, text = self.wait(tag, untagged)
        if check and status != "OK":
            raise IMAPError("%s: %s" % (cmd.split(" ", 1)[0] if len(cmd) < 200 else cmd[:40], text))
        return status, text, untagged

    def logout(self):
        try:
            self.cmd("LOGOUT", check=False)
        except (IMAPError, OSError):
            pass
        self.close()

    def close(self):
        for f in (self.w, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    # --- helpers -----------------------------------------------------
    def status(self, mailbox, items):
        _, _, u = self.cmd("STATUS %s (%s)" % (mbox(mailbox), " ".join(items)))
        for line, _ in u:
            m = re.match(rb"\* STATUS .*\(([^()]*)\)\s*$", line)
            if m:
                toks = m.group(1).decode().split()
                return dict(zip(toks[0::2], (int(x) for x in toks[1::2])))
        raise IMAPError("no STATUS response")

    def select(self, mailbox, readonly=False):
        _, _, u = self.cmd("%s %s" % ("EXAMINE" if readonly else "SELECT", mbox(mailbox)))
        exists = 0
        for line, _ in u:
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                exists = int(m.group(1))
        return exists


def parse_fetch(line, lits):
    """Return dict with UID (int), FLAGS (list) and BODY (bytes) if present."""
    d = {}
    m = re.search(rb"\bUID (\d+)", line)
    if m:
        d["UID"] = int(m.group(1))
    m = re.search(rb"\bFLAGS \(([^)]*)\)", line)
    if m:
        d["FLAGS"] = m.group(1).decode().split()
    if lits:
        d["BODY"] = lits[0]
    return d


def c_append(imap, args):
    date, flags, uids, rest = None, None, False, []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--date":
            date = args[i + 1]
            i += 2
        elif a == "--flags":
            flags = args[i + 1]
            i += 2
        elif a == "--uids":
            uids = True
            i += 1
        else:
            rest = args[i:]
            break
    if not rest:
        usage()
    mailbox, files = rest[0], rest[1:]
    opt = ""
    if flags is not None:
        opt += " (%s)" % flags
    if date is not None:
        opt += " " + quote(date)
    tags = []
    err = []

    def writer():
        try:
            if not files:
                msgs = [sys.stdin.buffer.read()]
            else:
                msgs = None
            for k in range(len(files) if files else 1):
                data = msgs[0] if msgs else open(files[k], "rb").read()
                tag = tags[k]
                imap.send(tag, "APPEND %s%s {}" % (mbox(mailbox), opt), [data])
            imap.w.flush()
        except Exception as e:  # reported by the main thread
            err.append(e)

    for _ in range(len(files) if files else 1):
        tags.append(imap.next_tag())
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    failed = 0
    for k, tag in enumerate(tags):
        if err:
            raise IMAPError("append: %s" % err[0])
        status, text = imap.wait(tag)
        if status != "OK":
            failed += 1
            print("imaptool: APPEND of %s: %s" % (files[k] if files else "stdin", text), file=sys.stderr)
        elif uids:
            m = re.search(r"\[APPENDUID \d+ (\d+)\]", text)
            print(m.group(1) if m else "?")
    th.join(30)
    if err:
        raise IMAPError("append: %s" % err[0])
    return 1 if failed else 0


def c_status(item):
    def f(imap, args):
        if len(args) != 1:
            usage()
        print(imap.status(args[0], [item])[item])
        return 0
    return f


def c_uids(imap, args):
    if len(args) != 1:
        usage()
    imap.select(args[0], readonly=True)
    _, _, u = imap.cmd("UID SEARCH ALL")
    out = []
    for line, _ in u:
        if line.startswith(b"* SEARCH"):
            out += [int(x) for x in line.split()[2:]]
    for x in sorted(out):
        print(x)
    return 0


def c_flags(imap, args):
    if len(args) != 1:
        usage()
    if imap.select(args[0], readonly=True) == 0:
        return 0
    _, _, u = imap.cmd("UID FETCH 1:* (UID FLAGS)")
    res = {}
    for line, lits in u:
        if re.match(rb"\* \d+ FETCH", line):
            d = parse_fetch(line, lits)
            res[d["UID"]] = [f for f in d.get("FLAGS", []) if f.lower() != "\\recent"]
    for uid in sorted(res):
        print("%d (%s)" % (uid, " ".join(res[uid])))
    return 0


def c_fetch(imap, args):
    if len(args) != 2:
        usage()
    imap.select(args[0], readonly=True)
    _, _, u = imap.cmd("UID FETCH %d (BODY.PEEK[])" % int(args[1]))
    for line, lits in u:
        if re.match(rb"\* \d+ FETCH", line) and lits:
            sys.stdout.buffer.write(lits[0])
            sys.stdout.flush()
            return 0
    print("imaptool: no message with UID %s" % args[1], file=sys.stderr)
    return 1


def c_store(imap, args):
    if len(args) != 4:
        usage()
    imap.select(args[0])
    imap.cmd("UID STORE %s %s (%s)" % (args[1], args[2], args[3].strip("()")))
    return 0


def c_expunge(imap, args):
    if len(args) != 2:
        usage()
    imap.select(args[0])
    imap.cmd("UID STORE %s +FLAGS.SILENT (\\Deleted)" % args[1])
    imap.cmd("UID EXPUNGE %s" % args[1])
    return 0


def c_expunge_all(imap, args):
    if len(args) != 1:
        usage()
    if imap.select(args[0]) > 0:
        imap.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
        imap.cmd("EXPUNGE")
    return 0


def c_simple(verb):
    def f(imap, args):
        if len(args) != 1:
            usage()
        imap.cmd("%s %s" % (verb, mbox(args[0])))
        return 0
    return f


def c_capability(imap, args):
    _, _, u = imap.cmd("CAPABILITY")
    for line, _ in u:
        if line.startswith(b"* CAPABILITY "):
            for c in line.decode().split()[2:]:
                print(c)
    return 0


def c_raw(imap, args):
    rc = 0
    for a in args:
        status, text, u = imap.cmd(a, check=False)
        for line, lits in u:
            sys.stdout.buffer.write(line + b"\n")
            for lit in lits:
                sys.stdout.buffer.write(lit)
        print(text)
        if status != "OK":
            rc = 1
    return rc


def c_script(imap, args):
    if args:
        usage()
    rc = 0
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        a = line.split("\t")
        if a[0] not in COMMANDS or a[0] == "script":
            raise IMAPError("script: unknown subcommand %r" % a[0])
        r = COMMANDS[a[0]](imap, a[1:])
        sys.stdout.flush()
        if r != 0:
            print("imaptool: script: %r failed" % line, file=sys.stderr)
            rc = 1
    return rc


def list_names(imap):
    """The selectable mailboxes, as listed (wire form)."""
    _, _, u = imap.cmd('LIST "" "*"')
    names = []
    for line, lits in u:
        m = re.match(rb'\* LIST \(([^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
        if not m:
            continue
        if re.search(rb"\\(?i:noselect|nonexistent)", m.group(1)):
            continue
        n = lits[0] if lits else m.group(2)
        if n.startswith(b'"'):
            n = re.sub(rb'\\(.)', rb'\1', n[1:-1])
        names.append(n.decode())
    return sorted(names)


def c_digest(imap, args):
    import calendar
    import hashlib
    import time
    uids = False
    if args and args[0] == "--uids":
        uids, args = True, args[1:]
    names = [mutf7(a) for a in args] or list_names(imap)
    out = []
    for name in names:
        _, _, u = imap.cmd("EXAMINE %s" % quote(name))
        if not any(re.match(rb"\* [1-9]\d* EXISTS", l) for l, _ in u):
            continue
        _, _, u = imap.cmd("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
        for line, lits in u:
            if not re.match(rb"\* \d+ FETCH", line):
                continue
            d = parse_fetch(line, lits)
            body = d.get("BODY", b"")
            flags = sorted(f for f in d.get("FLAGS", []) if f.lower() != "\\recent")
            t = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1).decode()
            tm = time.strptime(t[:-6].strip(), "%d-%b-%Y %H:%M:%S")
            z = int(t[-5:-2]) * 60 + int(t[-5] + t[-2:])
            when = calendar.timegm(tm) - z * 60
            out.append("%s\t%s%s %d %d (%s)" % (name, "%d " % d["UID"] if uids else "",
                       hashlib.md5(body).hexdigest(), len(body), when, " ".join(flags)))
    for line in sorted(out, key=lambda l: (l.split("\t")[0], int(l.split("\t")[1].split()[0]) if uids else l)):
        print(line)
    return 0


COMMANDS = {
    "append": c_append,
    "count": c_status("MESSAGES"),
    "uidvalidity": c_status("UIDVALIDITY"),
    "uidnext": c_status("UIDNEXT"),
    "unseen": c_status("UNSEEN"),
    "uids": c_uids,
    "flags": c_flags,
    "fetch": c_fetch,
    "store": c_store,
    "expunge": c_expunge,
    "expunge-all": c_expunge_all,
    "create": c_simple("CREATE"),
    "delete": c_simple("DELETE"),
    "capability": c_capability,
    "raw": c_raw,
    "script": c_script,
    "digest": c_digest,
}


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


def main(argv):
    tunnel = os.environ.get("IMAP_TUNNEL") or os.environ.get("DOVECOT_TUNNEL")
    timeout = 300
    while argv and argv[0].startswith("--"):
        if argv[0] == "--tunnel" and len(argv) > 1:
            tunnel, argv = argv[1], argv[2:]
        elif argv[0] == "--timeout" and len(argv) > 1:
            timeout, argv = int(argv[1]), argv[2:]
        elif argv[0] in ("--help", "-h"):
            print(__doc__)
            return 0
        else:
            usage()
    if not argv or argv[0] not in COMMANDS or not tunnel:
        usage()

    def on_alarm(signum, frame):
        raise IMAPError("timed out after %d s" % timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout)
    imap = None
    try:
        imap = IMAP(tunnel)
        rc = COMMANDS[argv[0]](imap, argv[1:])
        imap.logout()
        return rc
    except (IMAPError, OSError) as e:
        print("imaptool: %s" % e, file=sys.stderr)
        if imap is not None:
            try:
                imap.p.kill()
            except OSError:
                pass
            imap.close()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
