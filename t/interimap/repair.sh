#!/bin/bash
# interimap --repair, side by side with the Perl interimap 0.5.7.
#
# Two twin pairs of throw-away Dovecots (preauthenticated tunnels): pair 1
# is ours, pair 2 the Perl program's; each remote offers neither
# MULTIAPPEND nor LITERAL+ (one APPEND per message), each local both.
# After a normal sync, the databases and the servers are damaged alike,
# behind interimap's back, then both programs run --repair; after each
# run the two must agree (twin_compare, t/lib/interimap.sh): exit status, log lines
# (sorted), database tables, and every mailbox's messages with their UIDs
# on both sides (the reference's own orders that are random do not reach
# the UIDs here: the copies of a run go in UID order).
#
# The damage, by mailbox:
#   INBOX  the database's HIGHESTMODSEQs raised to the servers' (it thinks
#          it saw every change): a flag change it "missed", a message
#          expunged on one side ("UID a disappeared. Redownloading ..."),
#          a pair expunged on both ("Pair ... vanished"), a pair forgotten
#          (both copied again), a message and its pair gone on one side
#          (copied back), the 0-length message never paired, a new
#          message (the new-messages step);
#   a/b    the HIGHESTMODSEQs lowered to 1 (every message looks changed):
#          different flags on both sides (the union, no "missed"), a
#          message expunged on one side (reported VANISHED: expunged on
#          the other), a pair expunged on both (dropped quietly), a
#          message expunged on one side with its pair forgotten ("No
#          match for 1 vanished local UID(s)", the other copied back);
#   c      every pair of 130 messages forgotten: each side's copied to the
#          other (to the local in MULTIAPPEND batches of 128 and 2);
#   d      a flag changed on each side (the changed side wins);
#   fresh  a mailbox created on one side just before: created on the
#          other, not repaired (no state yet), synced by the next run.
# Then a normal run (nothing left but fresh), a second repair with -q on
# INBOX alone (no "UID n from" lines), and a changed UIDVALIDITY (exit 1).
# shellcheck disable=SC2016 # '\Seen $Work' and the like: flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init repair
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"

twins_init || { t_fail "four Dovecots"; t_done; }

# ours / perl [ARGS...]: a run on pair 1 (2), stderr in $T/ours.err
# ($T/perl.err).
ours() { timeout 120 "$INTERIMAP" --config="$T/ours.conf" "$@" >"$T/ours.out" 2>"$T/ours.err"; }
perl() { timeout 120 "$PERL" --config="$T/perl.conf" "$@" >"$T/perl.out" 2>"$T/perl.err"; }
MBOXES=(INBOX a/b c d fresh)
# twin_servers PAIR: every message of every mailbox, on both sides: UID,
# bytes, INTERNALDATE, flags.
twin_servers() {
	local m t tun
	for m in "${MBOXES[@]}"; do
		for t in L R; do
			tun=$t$1
			echo "$t $m"
			mail_digest --uids "${!tun}" "$m" | cut -f2-
		done
	done
}
# sql SQL: on both databases.
sql() { sqlite3 "$T/ours.db" "$1" && sqlite3 "$T/perl.db" "$1"; }
# idx MAILBOX-HEX: the subquery for a mailbox's idx.
idx() { printf "(SELECT idx FROM mailboxes WHERE mailbox = x'%s')" "$1"; }
# hms TUNNEL MAILBOX: the server's HIGHESTMODSEQ.
hms() {
	IMAP_TUNNEL=$1 imap_tool raw "STATUS \"$2\" (HIGHESTMODSEQ)" |
		sed -n 's/^\* STATUS .*HIGHESTMODSEQ \([0-9]*\).*/\1/p'
}
# set_hms MAILBOX-HEX MAILBOX: both databases' HIGHESTMODSEQs of the
# mailbox set to their servers' current ones.
set_hms() {
	local p l r db
	for p in 1 2; do
		if [ $p = 1 ]; then l=$L1 r=$R1 db=ours; else l=$L2 r=$R2 db=perl; fi
		sqlite3 "$T/$db.db" "UPDATE local SET HIGHESTMODSEQ = $(hms "$l" "$2") WHERE idx = $(idx "$1");
			UPDATE remote SET HIGHESTMODSEQ = $(hms "$r" "$2") WHERE idx = $(idx "$1");" || return 1
	done
}

genmail --count 160 --out "$T/mail" --sizes small --seed repair >/dev/null || { t_fail "genmail"; t_done; }
# Every message has its INTERNALDATE: the twins must get the same.
D='02-Mar-2022 11:11:11 +0000'
f() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }

# ---------------------------------------------------------------------
# 1. A first, normal sync.
ok=1
lb append --flags '\Seen' --date '01-Jan-2020 10:00:00 +0000' INBOX "$(f 1)" || ok=0
lb append --date "$D" --flags '\Answered' INBOX "$(f 2)" "$(f 3)" "$(f 4)" "$(f 5)" || ok=0
maildir_zero_message "$L1DIR/home/testuser/Maildir"
maildir_zero_message "$L2DIR/home/testuser/Maildir"
rb append --date '15-Feb-2021 12:34:56 +0100' INBOX "$(f 6)" "$(f 7)" "$(f 8)" "$(f 9)" || ok=0
for m in a/b c d; do lb create "$m" && rb create "$m" || ok=0; done
lb append --date "$D" a/b "$(f 10)" "$(f 11)" "$(f 12)" && rb append --date "$D" --flags '$Label1' a/b "$(f 13)" "$(f 14)" || ok=0
many=()
for ((i = 20; i < 150; i++)); do many+=("$(f "$i")"); done
rb append --date '07-Jul-2017 07:07:07 +1200' c "${many[@]}" || ok=0
lb append --date "$D" d "$(f 15)" "$(f 16)" || ok=0
t_eq "servers filled" "$ok $(l1 count INBOX) $(r1 count INBOX) $(r1 count c)" "1 6 4 130"

MBOXES=(INBOX a/b c d)
twin_run first
t_eq "first: status 0" "$OURS_RC" 0
t_eq "first: the pairs" "$(sqlite3 "$T/ours.db" "SELECT group_concat(lUID || '-' || rUID, ' ') FROM mapping WHERE idx = $(idx 494E424F58)")" \
	"7-1 8-2 9-3 10-4 1-5 2-6 3-7 4-8 5-9"

# ---------------------------------------------------------------------
# 2. The damage, then --repair.
ok=1
# INBOX: the database will say it saw every change.
lb store INBOX 1 +FLAGS '(\Flagged)' || ok=0  # pair (1,5): missed
lb expunge INBOX 2 || ok=0                    # pair (2,6): local gone
lb expunge INBOX 3 && rb expunge INBOX 7 || ok=0  # pair (3,7): both gone
sql "DELETE FROM mapping WHERE idx = $(idx 494E424F58) AND lUID = 4" || ok=0  # (4,8) forgotten
rb expunge INBOX 1 || ok=0                    # pair (7,1): remote gone ...
sql "DELETE FROM mapping WHERE idx = $(idx 494E424F58) AND lUID = 7" || ok=0  # ... with its pair
set_hms 494E424F58 INBOX || ok=0
lb append --date "$D" --flags '\Seen' INBOX "$(f 17)" || ok=0  # new
# a/b: pairs (4,1) (5,2) (1,3) (2,4) (3,5); every message will look changed.
lb store a/b 1 +FLAGS '($Work)' && rb store a/b 3 +FLAGS '(\Seen)' || ok=0
lb expunge a/b 3 || ok=0                      # (3,5): local vanished
lb expunge a/b 4 && rb expunge a/b 1 || ok=0  # (4,1): both vanished
lb expunge a/b 5 || ok=0                      # (5,2): local vanished ...
sql "DELETE FROM mapping WHERE idx = $(idx 610062) AND lUID = 5;
	UPDATE local SET HIGHESTMODSEQ = 1 WHERE idx = $(idx 610062);
	UPDATE remote SET HIGHESTMODSEQ = 1 WHERE idx = $(idx 610062);" || ok=0  # ... pair forgotten
# c: every pair forgotten.
sql "DELETE FROM mapping WHERE idx = $(idx 63)" || ok=0
# d: one change on each side.
lb store d 1 +FLAGS '(\Seen)' && rb store d 2 +FLAGS '(\Flagged)' || ok=0
# fresh: new on the local side.
lb create fresh && lb append --date "$D" fresh "$(f 18)" || ok=0
t_eq "damage done" "$ok" 1

MBOXES=(INBOX a/b c d fresh)
twin_run repair --repair
t_eq "repair: status 0" "$OURS_RC" 0
E=$T/ours.err
t_grep "repair: a missed flag update" '^WARNING: Missed flag update in INBOX for \(lUID,rUID\) = \(1,5\)\. Repairing\.$' "$E"
t_grep "repair: ... then the union" '^WARNING: Conflicting flag update in INBOX for local UID 1 \(\\Flagged \\Seen\) and remote UID 5 \(\\Seen\)\. Setting both to the union \(\\Flagged \\Seen\)\.$' "$E"
t_grep "repair: a message gone" '^local\(INBOX\): WARNING: UID 2 disappeared\. Redownloading remote UID 6\.$' "$E"
t_grep "repair: a pair gone" '^WARNING: Pair \(lUID,rUID\) = \(3,7\) vanished from INBOX\. Repairing\.$' "$E"
t_grep "repair: a forgotten pair, local side" '^remote\(INBOX\): WARNING: No match for modified local UID 4\. Redownloading\.$' "$E"
t_grep "repair: a forgotten pair, remote side" '^local\(INBOX\): WARNING: No match for modified remote UID 8\. Redownloading\.$' "$E"
t_grep "repair: the 0-length message, never paired" '^remote\(INBOX\): WARNING: No match for modified local UID 6\. Redownloading\.$' "$E"
t_grep "repair: the copies say where from" '^local\(INBOX\): UID 4 from <[^<>]+@[^<>]+> \([0-9]{2}-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8} [-+][0-9]{4}\)$' "$E"
t_grep "repair: a 0-length message has no address" '^local\(INBOX\): UID 6 from <> \(' "$E"
t_grep "repair: ... and is not copied" '^local\(INBOX\): WARNING: Ignoring new 0-length message \(UID 6\)$' "$E"
t_grep "repair: a changed side's flags win" '^local\(d\): Updated flags \(\\Flagged\) for UID 2$' "$E"
t_grep "repair: the union, no missed update" '^WARNING: Conflicting flag update in a/b for local UID 1 \(\$Work\) and remote UID 3 \(\\Seen\)\. Setting both to the union \(\$Work \\Seen\)\.$' "$E"
t_no_grep "repair: a/b: nothing missed" 'Missed flag update in a/b' "$E"
t_grep "repair: VANISHED: the other copy goes" '^remote\(a/b\): Removed 1 UID\(s\) 5$' "$E"
t_grep "repair: an unpaired vanished UID" '^remote\(a/b\): WARNING: No match for 1 vanished local UID\(s\) 5\. Ignoring\.$' "$E"
t_no_grep "repair: a pair vanished on both sides goes quietly" 'Pair \(lUID,rUID\) = \(4,1\)' "$E"
t_grep "repair: c to the local in batches" '^local\(c\): Added 128 UID\(s\) ' "$E"
t_eq "repair: c's copies" "$(grep -c '^local(c): UID [0-9]* from' "$E") $(grep -c '^remote(c): UID [0-9]* from' "$E")" "130 130"
t_grep "repair: fresh created" '^remote: Created mailbox fresh$' "$E"
t_no_grep "repair: fresh not repaired" 'fresh\)' "$E"
t_eq "repair: fresh not synced" "$(r1 count fresh)" 0
t_eq "repair: c holds every message twice" "$(l1 count c) $(r1 count c)" "260 260"

# 3. A normal run: only fresh's message is left to do.
twin_run after
t_eq "after: status 0" "$OURS_RC" 0
t_eq "after: fresh's message only" "$(cat "$T/ours.lines")" "remote(fresh): Added 1 UID(s) 1 -> 1"
twin_same_mail after "${MBOXES[@]}"
twin_run idle
t_eq "idle: nothing logged" "$(cat "$T/ours.lines")" ""

# 4. --repair -q on INBOX alone: a forgotten pair, copied both ways
# without the "UID n from" lines.
sql "DELETE FROM mapping WHERE idx = $(idx 494E424F58) AND lUID = 1;
	DELETE FROM mapping WHERE idx = $(idx 63) AND lUID = 1" || t_fail "forgetting pairs"
MBOXES=(INBOX)
twin_run quiet --repair -q INBOX
MBOXES=(INBOX a/b c d fresh)
t_grep "quiet: the warnings stay" '^remote\(INBOX\): WARNING: No match for modified local UID 1\. Redownloading\.$' "$E"
t_no_grep "quiet: no UID from line" ' from <' "$E"
t_no_grep "quiet: c not repaired" '\(c\)' "$E"

# 5. A mailbox recreated on the remote: --repair stops before anything.
rb delete d && rb create d || t_fail "recreating d"
twin_run uidvalidity --repair
t_eq "uidvalidity: status 1" "$OURS_RC" 1
t_grep "uidvalidity: the error" '^remote: ERROR: UIDVALIDITY changed! \([0-9]+ != [0-9]+\)  Need to invalidate the UID cache for d\.$' "$E"

t_done
