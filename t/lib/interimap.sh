# shellcheck shell=bash
# t/lib/interimap.sh - helpers for the interimap end-to-end tests (sourced
# after t/lib/common.sh and t/lib/dovecot.sh).
#
#   imap_names TUNNEL         what a server holds, as interimap cares
#   db_mailboxes DB           the mailboxes table without idx
#   db_dump DB                mapping, local, remote by mailbox name
#   ilog_lines FILE           an interimap log, as the tests compare them
#   mail_digest [--uids] TUNNEL [MAILBOX...]   the messages, one a line
#   db_consistent DB LOCAL-TUNNEL REMOTE-TUNNEL
#                             the database against both servers
#
# The Perl reference is $INTERIMAP_PERL (default /usr/bin/interimap).

INTERIMAP_PERL=${INTERIMAP_PERL:-/usr/bin/interimap}

# imap_names TUNNEL: "NAME S" (subscribed) or "NAME -" per existing
# mailbox (neither \NonExistent nor \Noselect), sorted.
imap_names() {
	IMAP_TUNNEL=$1 imap_tool raw 'LIST "" "*" RETURN (SUBSCRIBED)' | awk '
		/^\* LIST / {
			a = $0; sub(/^\* LIST \(/, "", a)
			attrs = a; sub(/\).*/, "", attrs)
			rest = a; sub(/^[^)]*\) /, "", rest); sub(/^[^ ]* /, "", rest)
			if (attrs ~ /NonExistent|Noselect/) next
			print rest, (attrs ~ /Subscribed/ ? "S" : "-")
		}' | LC_ALL=C sort
}

# db_mailboxes DB: the mailboxes table without idx (the Perl program
# numbers its mailboxes in hash order), sorted.
db_mailboxes() { sqlite3 "$1" "SELECT hex(mailbox), subscribed FROM mailboxes ORDER BY mailbox"; }

# db_dump DB: mapping, and each side's UIDNEXT and HIGHESTMODSEQ, by
# mailbox name (hex), sorted; without idx and UIDVALIDITY (a server's
# own: see db_consistent).
db_dump() {
	sqlite3 -separator ' ' "$1" "
		SELECT 'map', hex(m.mailbox), lUID, rUID FROM mapping JOIN mailboxes m USING (idx);
		SELECT 'local', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM local JOIN mailboxes m USING (idx);
		SELECT 'remote', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM remote JOIN mailboxes m USING (idx);" |
		LC_ALL=C sort
}

# ilog_lines FILE: the log lines two runs must print alike, sorted (the
# Perl program's mailbox and flag-group orders are hash orders): without
# the traffic summaries, the database file's name masked.
ilog_lines() {
	grep -Ev 'IMAP traffic|^started tunnel' "$1" |
		sed 's/^\(Creating new schema in database file \).*/\1DB/' | LC_ALL=C sort
}

# mail_digest [--uids] TUNNEL [MAILBOX...]: one line per message, sorted:
# "MAILBOX<TAB>[UID ]MD5 SIZE WHEN (FLAGS)" (imaptool.py digest); every
# selectable mailbox when none is named.
mail_digest() {
	local u=()
	if [ "${1:-}" = --uids ]; then u=(--uids); shift; fi
	local tun=$1
	shift
	IMAP_TUNNEL=$tun imap_tool digest "${u[@]}" "$@"
}

# db_consistent DB LOCAL-TUNNEL REMOTE-TUNNEL: after a complete run, the
# database says what the servers hold: each mailbox's UIDVALIDITY and
# UIDNEXT are the servers' (STATUS), its HIGHESTMODSEQ too or lower (see
# below), every non-empty message of either side is in exactly one pair
# and every pair's two messages exist, with the same bytes, flags and
# INTERNALDATE. Prints the disagreements; status 1 if any. Both sides
# use "/" as delimiter.
# A lower HIGHESTMODSEQ is printed as a line "stale: ..." but is no
# disagreement: Dovecot does not always follow an APPEND into the
# selected mailbox with "* OK [HIGHESTMODSEQ n]" (seen after the first
# APPEND into a mailbox created in the same run), and then interimap,
# ours as the Perl one, keeps the value it had; the next run finds the
# mailbox dirty, SELECTs it, finds nothing to do and writes the new
# value. Harmless (nothing is missed, only a SELECT more).
db_consistent() {
	"$T_PYTHON" - "$T_LIB" "$@" <<'EOF'
import calendar, hashlib, re, sqlite3, sys, time
sys.path.insert(0, sys.argv[1])
from imaptool import IMAP, quote
db = sqlite3.connect(sys.argv[2])
side = {"local": IMAP(sys.argv[3]), "remote": IMAP(sys.argv[4])}
bad, stale = [], []
def messages(imap, name):
    _, _, u = imap.cmd("EXAMINE %s" % quote(name))
    if not any(re.match(rb"\* [1-9]\d* EXISTS", l) for l, _ in u):
        return {}
    _, _, u = imap.cmd("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
    out = {}
    for line, lits in u:
        m = re.match(rb"\* \d+ FETCH .*\bUID (\d+)", line)
        if not m:
            continue
        body = lits[0] if lits else b""
        flags = " ".join(sorted(f for f in re.search(rb"\bFLAGS \(([^)]*)\)", line).group(1).decode().split()
                                if f.lower() != "\\recent"))
        t = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1).decode()
        tm = calendar.timegm(time.strptime(t[:-6].strip(), "%d-%b-%Y %H:%M:%S"))
        tm -= (int(t[-5:-2]) * 60 + int(t[-5] + t[-2:])) * 60
        out[int(m.group(1))] = (len(body), hashlib.md5(body).hexdigest(), tm, flags)
    return out
for idx, blob in db.execute("SELECT idx, mailbox FROM mailboxes ORDER BY mailbox"):
    name = bytes(blob).replace(b"\0", b"/").decode()
    msgs = {}
    for s in ("local", "remote"):
        row = db.execute("SELECT UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM %s WHERE idx = ?" % s, (idx,)).fetchone()
        _, _, u = side[s].cmd("STATUS %s (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)" % quote(name), check=False)
        st = None
        for line, _ in u:
            m = re.match(rb"\* STATUS .*\(([^()]*)\)\s*$", line)
            if m:
                toks = m.group(1).decode().split()
                st = dict(zip(toks[0::2], (int(x) for x in toks[1::2])))
        if st is None:
            bad.append("%s: %s: no such mailbox on the server" % (name, s))
            continue
        if row is None:
            bad.append("%s: %s: no state in the database" % (name, s))
            continue
        srv = (st["UIDVALIDITY"], st["UIDNEXT"], st["HIGHESTMODSEQ"])
        if tuple(row[:2]) != srv[:2] or row[2] > srv[2]:
            bad.append("%s: %s: database (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) = %s, server %s" % (name, s, tuple(row), srv))
        elif row[2] < srv[2]:
            stale.append("stale: %s: %s: HIGHESTMODSEQ %d in the database, %d on the server" % (name, s, row[2], srv[2]))
        msgs[s] = messages(side[s], name)
    if len(msgs) != 2:
        continue
    pairs = db.execute("SELECT lUID, rUID FROM mapping WHERE idx = ?", (idx,)).fetchall()
    lseen, rseen = set(), set()
    for l, r in pairs:
        lseen.add(l); rseen.add(r)
        a, b = msgs["local"].get(l), msgs["remote"].get(r)
        if a is None or b is None:
            bad.append("%s: pair (%d,%d): %s missing" % (name, l, r, "local" if a is None else "remote"))
        elif a != b:
            bad.append("%s: pair (%d,%d): %s != %s" % (name, l, r, a, b))
    for s, seen in (("local", lseen), ("remote", rseen)):
        extra = sorted(u for u, m in msgs[s].items() if u not in seen and m[0] > 0)
        if extra:
            bad.append("%s: %s UIDs in no pair: %s" % (name, s, extra[:20]))
for s in side.values():
    s.logout()
for b in stale + bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
}
