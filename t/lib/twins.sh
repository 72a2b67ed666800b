# shellcheck shell=bash
# t/lib/twins.sh - twin runs: our interimap (or a tool built on its
# sync) and the Perl interimap 0.5.7 on two identical pairs of throw-away
# Dovecots, every change made to both pairs alike; after each run the two
# must agree. Sourced after t/lib/common.sh and t/lib/dovecot.sh.
#
#   twin_lines FILE            a log, as the twins' logs are compared
#   twin_dbdump DB             the database's tables, as compared
#   twin_digest [--uids] TUNNEL MAILBOX
#                              a mailbox's messages, one a line
#   twin_zero_message MAILDIR  a 0-length message in a maildir's INBOX
#   twin_compare NAME OURS-STATUS PERL-STATUS
#                              one run of each, compared (see below)

# twin_lines FILE: the log lines to compare, sorted (the Perl program's
# mailbox and flag-group orders are hash orders); what differs by nature
# left out (the database file's name, the traffic summaries) or masked
# (a mailbox's idx, UIDVALIDITYs).
twin_lines() {
	grep -Ev '^Creating new schema|IMAP traffic|^started tunnel' "$1" |
		sed -E 's/\(idx,lUID\) = \([0-9]+,/(idx,lUID) = (IDX,/;
			s/UIDVALIDITY changed! \([0-9]+ != [0-9]+\)/UIDVALIDITY changed! (N != M)/' |
		LC_ALL=C sort
}

# twin_dbdump DB: mapping, and each side's UIDNEXT and HIGHESTMODSEQ, by
# mailbox name (hex; the Perl program numbers its mailboxes in hash
# order), sorted.
twin_dbdump() {
	sqlite3 -separator ' ' "$1" "
		SELECT 'map', hex(m.mailbox), lUID, rUID FROM mapping JOIN mailboxes m USING (idx);
		SELECT 'local', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM local JOIN mailboxes m USING (idx);
		SELECT 'remote', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM remote JOIN mailboxes m USING (idx);" |
		LC_ALL=C sort
}

# twin_digest [--uids] TUNNEL MAILBOX: one line per message, sorted:
# [UID] md5 and size of BODY[], INTERNALDATE as an instant, flags sorted
# (\Recent left out). Nothing for a missing or empty mailbox.
twin_digest() {
	local uids=0
	if [ "$1" = --uids ]; then uids=1; shift; fi
	"$T_PYTHON" - "$T_LIB" "$1" "$2" "$uids" <<'EOF'
import calendar, hashlib, re, sys, time
sys.path.insert(0, sys.argv[1])
from imaptool import IMAP
imap = IMAP(sys.argv[2])
if imap.select(sys.argv[3], readonly=True) == 0:
    sys.exit(0)
tag = imap.next_tag()
imap.send(tag, "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
imap.w.flush()
out = []
while True:
    line, lits = imap.read_response()
    if line.startswith(tag.encode() + b" "):
        if not line.startswith(tag.encode() + b" OK"):
            sys.exit("FETCH failed: %r" % line)
        break
    if not re.match(rb"\* \d+ FETCH", line):
        continue
    body = lits[0] if lits else b""
    flags = sorted(f for f in re.search(rb"\bFLAGS \(([^)]*)\)", line).group(1).decode().split()
                   if f.lower() != "\\recent")
    d = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1).decode()
    t = time.strptime(d[:-6].strip(), "%d-%b-%Y %H:%M:%S")
    z = int(d[-5:-2]) * 60 + int(d[-5] + d[-2:])
    when = calendar.timegm(t) - z * 60
    uid = int(re.search(rb"\bUID (\d+)", line).group(1))
    out.append((uid if sys.argv[4] == "1" else 0, "%s%s %d %d (%s)" % (
        "%d " % uid if sys.argv[4] == "1" else "", hashlib.md5(body).hexdigest(),
        len(body), when, " ".join(flags))))
for _, l in sorted(out):
    print(l)
imap.logout()
EOF
}

# twin_zero_message MAILDIR: an empty file in the maildir's INBOX, a
# 0-length message (Dovecot takes it, its APPEND would not), with the
# same INTERNALDATE (the file's mtime) in every maildir.
twin_zero_message() {
	local f="$1/cur/1500000000.M1P1.zero,S=0,W=0:2,S"
	: >"$f"
	touch -d @1500000000 "$f"
	if t_is_root; then chown nobody:nogroup "$f"; fi
}

# twin_compare NAME OURS-STATUS PERL-STATUS: after a run of each, with
# their stderr in $T/ours.err and $T/perl.err and their databases
# $T/ours.db and $T/perl.db: the same exit status, the same log lines
# (twin_lines), the same tables (twin_dbdump), and the same servers: the
# caller's function twin_servers PAIR (1: ours, 2: the Perl program's)
# prints what they hold. The logs are kept as $T/ours-NAME.err and
# $T/perl-NAME.err; the sorted lines stay in $T/ours.lines and
# $T/perl.lines until the next call.
twin_compare() {
	t_eq "$1: exit status as the Perl interimap's" "$2" "$3"
	twin_lines "$T/ours.err" >"$T/ours.lines"
	twin_lines "$T/perl.err" >"$T/perl.lines"
	t_same_file "$1: the Perl interimap's log lines" "$T/ours.lines" "$T/perl.lines" ||
		diff "$T/ours.lines" "$T/perl.lines" | sed 's/^/#   /' >&2
	twin_dbdump "$T/ours.db" >"$T/ours.dump"
	twin_dbdump "$T/perl.db" >"$T/perl.dump"
	t_same_file "$1: the Perl interimap's database (mapping, UIDNEXT, HIGHESTMODSEQ)" \
		"$T/ours.dump" "$T/perl.dump" || diff "$T/ours.dump" "$T/perl.dump" | sed 's/^/#   /' >&2
	twin_servers 1 >"$T/ours.servers"
	twin_servers 2 >"$T/perl.servers"
	t_same_file "$1: the Perl interimap's servers" "$T/ours.servers" "$T/perl.servers" ||
		diff "$T/ours.servers" "$T/perl.servers" | sed 's/^/#   /' >&2
	cp "$T/ours.err" "$T/ours-$1.err"
	cp "$T/perl.err" "$T/perl-$1.err"
}
