#!/usr/bin/env python3
"""A scripted IMAP server for the tests (stdlib only): what Dovecot cannot
be made to do. It speaks IMAP on stdin/stdout, as a `type = tunnel`
command, over a mailbox kept in a directory (STORE), so that the mailbox
survives from one pullimap run to the next and a test can change it, and
its quirks, between runs.

  fakeimap.py serve STORE            speak IMAP on stdin/stdout
  fakeimap.py init STORE [--uidvalidity N] [--uidnext N]
  fakeimap.py add STORE FILE... [--uid N] [--date D] [--flags F] [--envelope RAW]
  fakeimap.py set STORE KEY=JSON...  set quirks (KEY= alone removes one)
  fakeimap.py show STORE             "UID FLAGS..." per message
  fakeimap.py expunge STORE UID...   as another client would

Every line is appended to STORE/transcript.log ("C: ..." from the client,
"S: ..." from us, "* ..." events), so that tests can check what the client
sent.

Quirks (STORE/state.json, "quirks"):
  caps            capability list (default: see DEFAULT_CAPS)
  hide_body       UIDs left out of the answer to a BODY[] FETCH (the FETCH
                  still ends in OK, as servers do with messages they cannot
                  render)
  hide_meta       UIDs left out of the answer to any other FETCH
  search_reply    answer to "UID SEARCH ... N:*" instead of the truth: lines
                  separated by "\\n", "{tag}" replaced by the command's tag
  search_match    regular expression: which searches search_reply answers
                  (default: those with "N:*")
  uidnext         UIDNEXT that SELECT announces (an integer), or null to
                  leave it out (Courier)
  exists          EXISTS that SELECT announces
  fetch_no        tagged NO text for BODY[] FETCHes
  store_fetch     after a STORE, send the new FLAGS as untagged FETCH even
                  when .SILENT (Cyrus)
  lenient         accept UID 0 and UIDs above 4294967295 in sets, as a
                  sloppy server would, instead of answering BAD
"""

import fcntl
import json
import os
import re
import sys
import time

DEFAULT_CAPS = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ESEARCH", "UIDPLUS",
                "ENABLE", "QRESYNC", "CONDSTORE", "IDLE", "AUTH=PLAIN"]
MAXUID = 4294967295
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


class Store:
    """The mailbox on disk; load() and save() under a lock."""

    def __init__(self, path):
        self.path = path
        self.lockf = None
        self.st = None

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        self.lockf = open(os.path.join(self.path, "lock"), "a")
        fcntl.flock(self.lockf, fcntl.LOCK_EX)
        try:
            with open(os.path.join(self.path, "state.json")) as f:
                self.st = json.load(f)
        except FileNotFoundError:
            self.st = {"uidvalidity": 1234, "uidnext": 1, "msgs": [],
                       "quirks": {}}
        return self

    def __exit__(self, *exc):
        tmp = os.path.join(self.path, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.st, f)
        os.rename(tmp, os.path.join(self.path, "state.json"))
        fcntl.flock(self.lockf, fcntl.LOCK_UN)
        self.lockf.close()

    def body(self, m):
        with open(os.path.join(self.path, m["file"]), "rb") as f:
            return f.read()


def quote(s):
    if s is None:
        return "NIL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def headers_of(body):
    """Unfolded header fields: {lower-name: value} (first occurrence)."""
    head = body.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    out = {}
    name = None
    for line in head.decode("latin-1").replace("\r", "").split("\n"):
        if line[:1] in (" ", "\t") and name:
            out[name] += " " + line.strip()
            continue
        if ":" in line:
            name, _, val = line.partition(":")
            name = name.strip().lower()
            if name in out:
                name = None
                continue
            out[name] = val.strip()
    return out


def addr_list(value):
    """'Name <a@b>, c@d' -> IMAP address list text."""
    if not value:
        return "NIL"
    out = []
    for part in value.split(","):
        part = part.strip()
        m = re.match(r'^(.*?)<([^>]*)>\s*$', part)
        name, addr = (m.group(1).strip().strip('"') or None, m.group(2)) \
            if m else (None, part)
        local, _, domain = addr.rpartition("@")
        if not _:
            local, domain = addr, None
        if len(local) > 1 and local[0] == local[-1] == '"':
            local = re.sub(r'\\(.)', r'\1', local[1:-1])
        out.append("(%s NIL %s %s)" % (quote(name), quote(local),
                                       quote(domain)))
    return "(" + "".join(out) + ")"


def envelope(m, body):
    if "envelope" in m:
        return m["envelope"]
    h = headers_of(body)
    frm = h.get("from")
    fields = [quote(h.get("date")), quote(h.get("subject")),
              addr_list(frm), addr_list(h.get("sender") or frm),
              addr_list(h.get("reply-to") or frm), addr_list(h.get("to")),
              addr_list(h.get("cc")), addr_list(h.get("bcc")),
              quote(h.get("in-reply-to")), quote(h.get("message-id"))]
    return "(" + " ".join(fields) + ")"


def parse_date(s):
    """'01-Jan-2026' (SEARCH) or '01-Jan-2026 10:00:00 +0000' -> (y, m, d)."""
    d, mon, y = s.split(" ")[0].split("-")
    return (int(y), MONTHS.index(mon.capitalize()) + 1, int(d))


class BadCommand(Exception):
    pass


class Server:
    def __init__(self, store_path):
        self.store_path = store_path
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.log = open(os.path.join(store_path, "transcript.log"), "a",
                        buffering=1, encoding="utf-8", errors="replace")
        self.selected = False
        self.qresync = False
        self.authed = False
        with Store(store_path) as s:
            self.quirks = dict(s.st.get("quirks", {}))

    def send(self, text):
        data = text.encode("latin-1") if isinstance(text, str) else text
        self.out.write(data + b"\r\n")
        self.log.write("S: " + data.decode("latin-1")[:300] + "\n")

    def flush(self):
        self.out.flush()

    def read_command(self):
        """A command line with its literals inlined (as bytes), or None."""
        parts = []
        while True:
            line = self.inp.readline(1 << 20)
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            m = re.search(rb"\{(\d+)(\+?)\}$", line)
            if not m:
                parts.append(line)
                text = b"".join(parts)
                self.log.write("C: " + text.decode("latin-1")[:300] + "\n")
                return text
            n = int(m.group(1))
            parts.append(line[:m.start()])
            if not m.group(2):
                self.send("+ go ahead")
                self.flush()
            lit = self.inp.read(n)
            parts.append(b'"' + lit.replace(b"\\", b"\\\\")
                         .replace(b'"', b'\\"') + b'"')

    def caps(self):
        return self.quirks.get("caps", DEFAULT_CAPS)

    def run(self):
        self.send("* OK [CAPABILITY %s] fakeimap ready" % " ".join(self.caps()))
        self.flush()
        while True:
            line = self.read_command()
            if line is None:
                return
            text = line.decode("latin-1")
            tag, _, rest = text.partition(" ")
            if text.upper() == "DONE":
                continue
            try:
                if self.command(tag, rest) == "logout":
                    self.flush()
                    return
            except BadCommand as e:
                self.send("%s BAD %s" % (tag, e))
            self.flush()

    # -- commands --------------------------------------------------------

    def command(self, tag, rest):
        verb, _, args = rest.partition(" ")
        verb = verb.upper()
        if verb == "UID":
            sub, _, args = args.partition(" ")
            verb = "UID " + sub.upper()
        if verb == "CAPABILITY":
            self.send("* CAPABILITY " + " ".join(self.caps()))
            self.send(tag + " OK done")
        elif verb == "NOOP":
            self.send(tag + " OK done")
        elif verb == "LOGOUT":
            self.send("* BYE bye")
            self.send(tag + " OK done")
            return "logout"
        elif verb == "LOGIN":
            self.authed = True
            self.send(tag + " OK [CAPABILITY %s] logged in"
                      % " ".join(self.caps()))
        elif verb == "AUTHENTICATE":
            if " " not in args:
                self.send("+ ")
                self.flush()
                resp = self.read_command()
                if resp is None:
                    return "logout"
            self.authed = True
            self.send(tag + " OK [CAPABILITY %s] logged in"
                      % " ".join(self.caps()))
        elif verb == "ENABLE":
            if "QRESYNC" in args.upper() and "QRESYNC" in self.caps():
                self.qresync = True
                self.send("* ENABLED QRESYNC")
            self.send(tag + " OK enabled")
        elif verb in ("SELECT", "EXAMINE"):
            self.select(tag)
        elif verb == "IDLE":
            self.send("+ idling")
            self.flush()
            line = self.read_command()
            if line is None:
                return "logout"
            self.send(tag + " OK idle done")
        elif verb in ("UID SEARCH", "SEARCH"):
            self.search(tag, args)
        elif verb in ("UID FETCH", "FETCH"):
            self.fetch(tag, args)
        elif verb in ("UID STORE", "STORE"):
            self.store(tag, args)
        elif verb in ("UID EXPUNGE", "EXPUNGE"):
            self.expunge(tag, args if verb == "UID EXPUNGE" else None)
        else:
            raise BadCommand("unknown command " + verb)

    def select(self, tag):
        with Store(self.store_path) as s:
            st = s.st
            self.quirks = dict(st.get("quirks", {}))
            n = len(st["msgs"])
            self.send("* FLAGS (\\Seen \\Deleted \\Flagged \\Answered \\Draft)")
            self.send("* OK [PERMANENTFLAGS (\\Seen \\Deleted \\Flagged "
                      "\\Answered \\Draft \\*)] ok")
            self.send("* %d EXISTS" % self.quirks.get("exists", n))
            self.send("* 0 RECENT")
            self.send("* OK [UIDVALIDITY %d] ok" % st["uidvalidity"])
            un = self.quirks.get("uidnext", st["uidnext"])
            if un is not None:
                self.send("* OK [UIDNEXT %d] ok" % un)
            if "CONDSTORE" in self.caps():
                self.send("* OK [HIGHESTMODSEQ 1] ok")
        self.selected = True
        self.send(tag + " OK [READ-WRITE] selected")

    def uidset(self, text, msgs, uid_mode=True):
        """The messages named by a sequence set (UIDs or numbers)."""
        keys = [m["uid"] for m in msgs] if uid_mode else \
            list(range(1, len(msgs) + 1))
        star = max(keys) if keys else None
        want = []
        for r in text.split(","):
            lo, _, hi = r.partition(":")
            try:
                vals = [star if v == "*" else int(v)
                        for v in ([lo, hi] if hi else [lo])]
            except ValueError:
                raise BadCommand("bad sequence set " + text)
            if not self.quirks.get("lenient"):
                for v in vals:
                    if v is not None and not 1 <= v <= MAXUID:
                        raise BadCommand("bad number in " + text)
            if None in vals:
                continue
            a, b = min(vals), max(vals)
            want.append((a, b))
        out = []
        for i, m in enumerate(msgs):
            k = keys[i]
            if any(a <= k <= b for a, b in want):
                out.append((i + 1, m))
        return out

    def search(self, tag, args):
        if not self.selected:
            raise BadCommand("no mailbox selected")
        esearch = False
        m = re.match(r"RETURN \(([^)]*)\) (.*)$", args, re.I)
        if m:
            esearch = True
            args = m.group(2)
        reply = self.quirks.get("search_reply")
        match = self.quirks.get("search_match", r"\d+:\*")
        if reply is not None and re.search(match, args):
            for line in reply.split("\n"):
                self.send(line.replace("{tag}", tag))
            self.send(tag + " OK search done")
            return
        with Store(self.store_path) as s:
            msgs = s.st["msgs"]
            toks = args.split(" ")
            hits = [mm for _, mm in self.eval_search(toks, msgs)]
        uids = [mm["uid"] for mm in hits]
        if esearch:
            self.send('* ESEARCH (TAG "%s") UID%s' % (
                tag, (" ALL " + fmt_set(uids)) if uids else ""))
        else:
            self.send("* SEARCH" + "".join(" %d" % u for u in uids))
        self.send(tag + " OK search done")

    def eval_search(self, toks, msgs):
        """Conjunction of the keys; returns [(seq, msg)]."""
        sel = list(enumerate(msgs, 1))
        i = 0
        while i < len(toks):
            neg = False
            if toks[i].upper() == "NOT":
                neg = True
                i += 1
            key = toks[i].upper()
            i += 1
            if key == "ALL":
                match = set(id(m) for _, m in sel)
            elif key == "UID":
                match = set(id(m) for _, m in self.uidset(toks[i], msgs))
                i += 1
            elif key == "BEFORE":
                d = parse_date(toks[i])
                i += 1
                match = set(id(m) for _, m in sel
                            if parse_date(m["date"]) < d)
            elif key == "KEYWORD":
                kw = toks[i]
                i += 1
                match = set(id(m) for _, m in sel if kw in m["flags"])
            elif key in ("SEEN", "DELETED"):
                f = "\\" + key.capitalize()
                match = set(id(m) for _, m in sel if f in m["flags"])
            else:
                raise BadCommand("unsupported search key " + key)
            sel = [(n, m) for n, m in sel if (id(m) in match) != neg]
        return sel

    def fetch(self, tag, args):
        if not self.selected:
            raise BadCommand("no mailbox selected")
        setspec, _, items = args.partition(" ")
        items = items.strip("()").upper().split(" ")
        body = any(x.startswith("BODY") for x in items)
        if body and self.quirks.get("fetch_no"):
            self.send(tag + " NO " + self.quirks["fetch_no"])
            return
        hide = set(self.quirks.get("hide_body" if body else "hide_meta", []))
        with Store(self.store_path) as s:
            for seq, m in self.uidset(setspec, s.st["msgs"]):
                if m["uid"] in hide:
                    self.log.write("* hid UID %d\n" % m["uid"])
                    continue
                data = s.body(m)
                out = ["UID %d" % m["uid"]]
                lit = None
                for it in items:
                    if it == "RFC822.SIZE":
                        out.append("RFC822.SIZE %d" % len(data))
                    elif it == "INTERNALDATE":
                        out.append("INTERNALDATE " + quote(m["date"]))
                    elif it == "ENVELOPE":
                        out.append("ENVELOPE " + envelope(m, data))
                    elif it == "FLAGS":
                        out.append("FLAGS (%s)" % " ".join(m["flags"]))
                    elif it in ("BODY.PEEK[]", "BODY[]"):
                        lit = data
                        if it == "BODY[]" and "\\Seen" not in m["flags"]:
                            m["flags"].append("\\Seen")
                if lit is not None:
                    head = "* %d FETCH (%s BODY[] {%d}" % (
                        seq, " ".join(out), len(lit))
                    self.send(head)
                    self.out.write(lit + b")\r\n")
                    self.log.write("S: <%d bytes>)\n" % len(lit))
                else:
                    self.send("* %d FETCH (%s)" % (seq, " ".join(out)))
        self.send(tag + " OK fetch done")

    def store(self, tag, args):
        if not self.selected:
            raise BadCommand("no mailbox selected")
        m = re.match(r"(\S+) ([+-]?)FLAGS(\.SILENT)? \(([^)]*)\)$", args,
                     re.I)
        if not m:
            raise BadCommand("bad STORE")
        setspec, op, silent, flags = m.groups()
        flags = flags.split()
        with Store(self.store_path) as s:
            for seq, mm in self.uidset(setspec, s.st["msgs"]):
                if op == "+":
                    mm["flags"] += [f for f in flags if f not in mm["flags"]]
                elif op == "-":
                    mm["flags"] = [f for f in mm["flags"] if f not in flags]
                else:
                    mm["flags"] = list(flags)
                if not silent or self.quirks.get("store_fetch"):
                    self.send("* %d FETCH (FLAGS (%s) UID %d)" % (
                        seq, " ".join(mm["flags"]), mm["uid"]))
        self.send(tag + " OK store done")

    def expunge(self, tag, setspec):
        with Store(self.store_path) as s:
            msgs = s.st["msgs"]
            only = None
            if setspec is not None:
                only = set(id(m) for _, m in self.uidset(setspec, msgs))
            keep, gone = [], []
            for seq, m in enumerate(msgs, 1):
                if "\\Deleted" in m["flags"] and (only is None or id(m) in only):
                    gone.append((seq, m))
                else:
                    keep.append(m)
            for seq, m in reversed(gone):
                if self.qresync:
                    self.send("* VANISHED %d" % m["uid"])
                else:
                    self.send("* %d EXPUNGE" % seq)
            s.st["msgs"] = keep
        self.send(tag + " OK expunged")


def fmt_set(uids):
    out, i = [], 0
    uids = sorted(uids)
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(str(uids[i]) if i == j else "%d:%d" % (uids[i], uids[j]))
        i = j + 1
    return ",".join(out)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, store = argv[1], argv[2]
    rest = argv[3:]
    if cmd == "serve":
        Server(store).run()
        return
    with Store(store) as s:
        st = s.st
        if cmd == "init":
            st.clear()
            st.update({"uidvalidity": 1234, "uidnext": 1, "msgs": [],
                       "quirks": {}})
            for i in range(0, len(rest), 2):
                st[rest[i].lstrip("-")] = int(rest[i + 1])
        elif cmd == "add":
            opts, files, i = {}, [], 0
            while i < len(rest):
                if rest[i].startswith("--"):
                    opts[rest[i][2:]] = rest[i + 1]
                    i += 2
                else:
                    files.append(rest[i])
                    i += 1
            for f in files:
                uid = int(opts.get("uid", st["uidnext"]))
                name = "m%d.eml" % uid
                with open(f, "rb") as src, \
                        open(os.path.join(store, name), "wb") as dst:
                    dst.write(src.read())
                m = {"uid": uid, "file": name,
                     "flags": opts.get("flags", "").split(),
                     "date": opts.get("date", "01-Jan-2026 10:00:00 +0000")}
                if "envelope" in opts:
                    m["envelope"] = opts["envelope"]
                st["msgs"].append(m)
                st["msgs"].sort(key=lambda x: x["uid"])
                st["uidnext"] = max(st["uidnext"], min(uid + 1, MAXUID))
                opts.pop("uid", None)
        elif cmd == "set":
            for kv in rest:
                k, _, v = kv.partition("=")
                if v == "":
                    st["quirks"].pop(k, None)
                else:
                    st["quirks"][k] = json.loads(v)
        elif cmd == "show":
            for m in st["msgs"]:
                print(m["uid"], " ".join(m["flags"]))
        elif cmd == "expunge":
            gone = set(int(u) for u in rest)
            st["msgs"] = [m for m in st["msgs"] if m["uid"] not in gone]
        else:
            sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
