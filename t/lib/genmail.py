#!/usr/bin/env python3
"""genmail.py - deterministic, realistic RFC 5322 test messages.

usage: genmail.py --count N --out DIR [--seed S] [--sizes realistic|small]
                  [--big-mb N] [--prefix P] [--edge] [--verbose]

Writes DIR/P0001.eml ... (P defaults to "msg-", zero-padded to at least 4
digits), CRLF line endings, identical output for identical arguments.

Each message has Date, Message-ID (a few have none), Subject (some as
RFC 2047 encoded-words, some folded), To, MIME headers and a text body with
8-bit UTF-8, lines starting with '.', a line that is just '.', "From " lines,
trailing spaces.  Senders cycle through plain addresses, display names,
quoted local parts ("john doe"@example.org, "a\\"b"@example.org),
encoded-word display names, two authors plus Sender, and no From header at all (every
message whose index is 4 modulo 9, starting with the 5th message).
About a third carry base64 attachments.

--sizes realistic (default): log-normal sizes averaging ~60 KB per message
    (2,000 messages are ~120 MB), a few multi-MB ones.
--sizes small: 1-8 KB messages, for quick functional tests.
--big-mb N: also write DIR/Pbig.eml, a single message of about N MB (one
    base64 attachment).
--edge: the last messages are edge cases: no final CRLF, empty body,
    headers only (no blank line), a body with a 998-octet line.
--verbose: print "N files, B bytes" on stderr.
"""
import argparse
import base64
import os
import random
import sys
import time

WORDS = (
    "the of and to in is that it was for on are as with his they at be this from have or "
    "by one had not but what all were when we there can an your which their said if do will "
    "each about how up out them then she many some so these would other into has more her two "
    "like him see time could no make than first been its who now people my made over did down "
    "only way find use may water long little very after words called just where most know "
    "mailbox server delivery message queue pull state imap smtp lmtp protocol header folder "
    "invoice meeting report quarterly budget schedule review draft release notes ticket"
).split()
UTF8_WORDS = (
    "café naïve résumé Grüße Straße façade déjà-vu smörgåsbord jalapeño "
    "Привет мир Ελληνικά 日本語 中文 한국어 עברית العربية ☃ ★ € £ 😀 🚀"
).split()
FIRST = "Alice Bob Carol Dave Eve Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter".split()
LAST = "Smith Jones Müller García Dubois Rossi Novák Kowalski Andersson O'Brien Tanaka Ivanov".split()
DOMAINS = "example.org example.com example.net mail.example lists.example.org".split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def ew(s):
    """RFC 2047 B encoded-word."""
    return "=?UTF-8?B?" + base64.b64encode(s.encode()).decode() + "?="


class Gen:
    def __init__(self, seed, sizes):
        self.seed = seed
        self.sizes = sizes
        self.rnd = random.Random("genmail-%s" % seed)
        # a pool of body lines, so long bodies are cheap to produce
        r = self.rnd
        pool = []
        for i in range(4000):
            n = r.randint(3, 14)
            ws = [r.choice(UTF8_WORDS) if r.random() < 0.08 else r.choice(WORDS) for _ in range(n)]
            line = " ".join(ws)
            if i % 2 == 0:
                line = line.capitalize() + r.choice([".", ".", "!", "?", ",", ":"])
            if i % 97 == 0:
                line = "." + line  # dot-stuffing bait
            elif i % 89 == 0:
                line = "From " + line  # mbox-escaping bait
            elif i % 83 == 0:
                line = "> " + line
            elif i % 79 == 0:
                line = line + "   "  # trailing whitespace
            pool.append(line.encode())
        self.pool = pool

    def addr(self, i, r):
        f, l, d = r.choice(FIRST), r.choice(LAST), r.choice(DOMAINS)
        local = "%s.%s" % (f.lower(), l.lower().replace("'", "").replace("ü", "ue").replace("á", "a").replace("í", "i").replace("ö", "o"))
        kind = i % 9
        if kind == 0:
            return "%s %s <%s@%s>" % (f, l if l.isascii() else ew(l), local, d)
        if kind == 1:
            return '"john doe"@example.org'
        if kind == 2:
            return "%s@%s" % (local, d)
        if kind == 3:
            return "%s <%s@%s>" % (ew("%s %s ☃" % (f, l)), local, d)
        if kind == 4:
            return None  # no From header
        if kind == 5:
            return '"%s, %s" <%s+tag@%s>' % (l, f, local, d)
        if kind == 6:
            return '"a\\"b c"@example.org'
        if kind == 7:
            return "%s@%s, %s@%s" % (local, d, f.lower(), d)
        return "%s <%s@%s>" % (f, local, d)

    def date(self, i):
        # deterministic: 2023-01-01 plus ~37 minutes per message, +0100/-0500 zones
        t = 1672531200 + i * 2237 + (self.seed if isinstance(self.seed, int) else 0) % 86400
        tm = time.gmtime(t)
        zone = ["+0000", "+0100", "-0500", "+0530"][i % 4]
        return "%s, %d %s %d %02d:%02d:%02d %s" % (
            DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec, zone)

    def text_size(self, r):
        if self.sizes == "small":
            return r.randint(600, 6000)
        return int(min(200_000, max(300, r.lognormvariate(8.3, 1.0))))  # median ~4 KB

    def attach_size(self, r):
        if self.sizes == "small":
            return r.randint(200, 1500) if r.random() < 0.3 else 0
        if r.random() < 0.33:
            # median ~50 KB, mean ~140 KB (decoded), capped at 8 MB
            return int(min(8_000_000, max(1000, r.lognormvariate(10.8, 1.3))))
        return 0

    def body_lines(self, r, size):
        out, n = [], 0
        pool = self.pool
        while n < size:
            k = r.randrange(len(pool))
            if k % 11 == 0:
                out.append(b"")
                n += 2
            line = pool[k]
            out.append(line)
            n += len(line) + 2
        if r.random() < 0.2:
            out += [b"", b"."]  # a line that is just a dot
        if r.random() < 0.1:
            out += [b"..", b"-- ", ("Grüße, %s" % r.choice(FIRST)).encode()]
        return out

    def message(self, i, big_bytes=0):
        r = random.Random("genmail-%s-%d" % (self.seed, i))
        h = []
        if i % 13 == 7:
            h.append("Return-Path: <bounce-%d@lists.example.org>" % i)
        frm = self.addr(i, r)
        if frm is not None:
            h.append("From: " + frm)
            if "," in frm and not frm.startswith('"'):
                h.append("Sender: " + frm.split(",")[0])
        h.append("To: Dest User <dest@example.org>")
        if i % 5 == 2:
            h.append("Cc: %s@%s, \"Someone Else\" <else@example.net>" % (r.choice(FIRST).lower(), r.choice(DOMAINS)))
        subj_words = [r.choice(WORDS) for _ in range(r.randint(2, 9))]
        subj = " ".join(subj_words).capitalize()
        if i % 6 == 3:
            h.append("Subject: " + ew("%s %s" % (subj, r.choice(UTF8_WORDS))))
        elif i % 10 == 8:
            long = " ".join([subj] + [r.choice(WORDS) for _ in range(25)])
            h.append("Subject: Re: " + long[:60] + "\r\n " + long[60:])
        else:
            h.append("Subject: %s%s [#%d]" % ("Re: " if i % 3 == 1 else "", subj, i + 1))
        h.append("Date: " + self.date(i))
        if i % 17 != 11:
            h.append("Message-ID: <%d.%08x.%s@genmail.example>" % (i + 1, r.getrandbits(32), self.seed))
        if i % 4 == 1:
            h.append("In-Reply-To: <%d.parent@genmail.example>" % i)
        h.append("X-Genmail: seed=%s index=%d" % (self.seed, i + 1))
        h.append("MIME-Version: 1.0")

        text = b"\r\n".join(self.body_lines(r, self.text_size(r))) + b"\r\n"
        asize = big_bytes or self.attach_size(r)
        if asize:
            boundary = "=_genmail_%d_%08x" % (i, r.getrandbits(32))
            h.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
            parts = [b"This is a multi-part message in MIME format.\r\n"]
            parts.append(b"--" + boundary.encode() + b"\r\n"
                         b"Content-Type: text/plain; charset=utf-8\r\n"
                         b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text)
            nattach = 1 if big_bytes else (2 if r.random() < 0.15 else 1)
            for k in range(nattach):
                sz = asize if k == 0 else max(500, asize // 7)
                name, ctype = r.choice([("report.pdf", "application/pdf"), ("photo.jpg", "image/jpeg"),
                                        ("data.bin", "application/octet-stream"), ("scan.png", "image/png"),
                                        ("archive.zip", "application/zip")])
                raw = r.randbytes(sz)
                enc = base64.encodebytes(raw).replace(b"\n", b"\r\n")
                parts.append(b"--" + boundary.encode() + b"\r\n"
                             + ("Content-Type: %s; name=\"%s\"\r\n"
                                "Content-Disposition: attachment; filename=\"%s\"\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\n" % (ctype, name, name)).encode()
                             + enc)
            parts.append(b"--" + boundary.encode() + b"--\r\n")
            body = b"\r\n".join(parts[:1]) + b"\r\n" + b"".join(parts[1:])
        else:
            h.append("Content-Type: text/plain; charset=utf-8")
            h.append("Content-Transfer-Encoding: 8bit")
            body = text
        return ("\r\n".join(h) + "\r\n").encode() + b"\r\n" + body

    def edge(self, kind):
        base = ("From: Edge Case <edge@example.org>\r\nTo: dest@example.org\r\n"
                "Date: Sun, 01 Jan 2023 00:00:00 +0000\r\n"
                "Message-ID: <edge-%s.%s@genmail.example>\r\n" % (kind, self.seed))
        if kind == "nofinalcrlf":
            return (base + "Subject: no final CRLF\r\n\r\nfirst line\r\nlast line without CRLF").encode()
        if kind == "emptybody":
            return (base + "Subject: empty body\r\n\r\n").encode()
        if kind == "headersonly":
            return (base + "Subject: headers only, no blank line\r\n").encode()
        if kind == "longline":
            return (base + "Subject: a 998-octet line\r\n\r\n" + "x" * 998 + "\r\n.\r\n..\r\n").encode()
        raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description="Generate deterministic RFC 5322 test messages.")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--sizes", choices=["realistic", "small"], default="realistic")
    ap.add_argument("--big-mb", type=float, default=0)
    ap.add_argument("--prefix", default="msg-")
    ap.add_argument("--edge", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    try:
        seed = int(a.seed)
    except ValueError:
        seed = a.seed
    os.makedirs(a.out, exist_ok=True)
    g = Gen(seed, a.sizes)
    width = max(4, len(str(a.count)))
    edges = ["nofinalcrlf", "emptybody", "headersonly", "longline"] if a.edge else []
    total = 0
    for i in range(a.count):
        k = i - (a.count - len(edges))
        data = g.edge(edges[k]) if k >= 0 else g.message(i)
        path = os.path.join(a.out, "%s%0*d.eml" % (a.prefix, width, i + 1))
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
    n = a.count
    if a.big_mb > 0:
        # base64 expands 3 -> 4 (+2 per 76): aim at about N MB in total
        raw = int(a.big_mb * 1024 * 1024 * 57 / 78)
        data = g.message(10**6 + 1, big_bytes=raw)
        with open(os.path.join(a.out, "%sbig.eml" % a.prefix), "wb") as f:
            f.write(data)
        total += len(data)
        n += 1
    if a.verbose:
        print("%d files, %d bytes" % (n, total), file=sys.stderr)


if __name__ == "__main__":
    main()
