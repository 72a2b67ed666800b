#!/bin/bash
# msync: the message synchronisation of a mailbox (interimap/msync.h),
# through t/tools/msyncdrive, side by side with the Perl interimap 0.5.7.
#
# Two twin pairs of throw-away Dovecots (preauthenticated tunnels): pair 1
# is synced by msyncdrive, pair 2 by the Perl program; every change is made
# to both pairs alike, so after each run the two must agree: the same log
# lines (sorted: the Perl program's mailbox and flag-group orders are hash
# orders), the same database tables (mapping, and each side's UIDNEXT and
# HIGHESTMODSEQ), the same flags on every server. Each pair's remote
# offers neither MULTIAPPEND nor LITERAL+ (one APPEND per message, waiting
# for "+"), its local both (MULTIAPPEND batches). Steps: first copy both
# ways (flags, keywords, INTERNALDATEs, 140 messages in two batches, a
# 0-length message), flag changes each way, a conflict (-q), expunges each
# way, a run with nothing to do (no SELECT with the LIST-STATUS values, no
# STORE/APPEND without them), new messages, an interrupted copy resumed,
# a STORE refused with [MODIFIED], a changed UIDVALIDITY.
#
# Failures (msyncdrive alone): a refused SELECT, a server lying about a
# message's size in the middle of a copy. A fifth Dovecot pair, msyncdrive
# alone: a 20 MB message copied byte for
# byte, the peak RSS the same with and without it (plain and sanitized
# builds).
# shellcheck disable=SC2016 # '\Seen $Work' and the like: flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init msync
dovecot_available || t_skip_all "dovecot not installed"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
DRIVE="$TOP/build-san/t/msyncdrive"
PLAIN="$TOP/build/t/msyncdrive"
for b in "$DRIVE" "$PLAIN"; do
	[ -x "$b" ] || t_skip_all "no $b (make units)"
done

twins_init || { t_fail "four Dovecots"; t_done; }

MBOXES=(INBOX a/b)
# ours [OPTIONS]: msyncdrive on pair 1, with the LIST-STATUS values (-s).
ours() {
	timeout 120 "$DRIVE" -s "$@" -l "$L1" -r "$R1" "$T/ours.db" "${MBOXES[@]}" \
		>"$T/ours.out" 2>"$T/ours.err"
}
# perl [OPTIONS]: the Perl interimap on pair 2, the same mailboxes.
perl() {
	timeout 120 "$PERL" --config="$T/perl.conf" "$@" "${MBOXES[@]}" \
		>"$T/perl.out" 2>"$T/perl.err"
}
# twin_servers PAIR: every message's UID and flags, on both sides.
twin_servers() {
	local m
	for m in "${MBOXES[@]}"; do
		echo "local $m"
		"l$1" flags "$m"
		echo "remote $m"
		"r$1" flags "$m"
	done
}

# relay.py MODE TUNNEL: TUNNEL, with MODE "size": a FETCH of UID 2 says
# RFC822.SIZE one more than the truth; "unchanged": UID STORE's
# UNCHANGEDSINCE becomes 1, which the server refuses with [MODIFIED].
cat >"$T/relay.py" <<'PYEOF'
import os, re, subprocess, sys, threading
mode, cmd = sys.argv[1], sys.argv[2]
p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
def up():
    pending = b""
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        pending += b
        *lines, pending = pending.split(b"\n")
        for l in lines:
            if mode == "unchanged":
                l = re.sub(rb"^(\S+ UID STORE \S+ \(UNCHANGEDSINCE )\d+\)", rb"\g<1>1)", l)
            p.stdin.write(l + b"\n")
        if pending and not pending.endswith(b"\r"):
            p.stdin.write(pending)
            pending = b""
    p.stdin.write(pending)
    p.stdin.close()
threading.Thread(target=up, daemon=True).start()
bump = lambda m: b"RFC822.SIZE %d" % (int(m.group(1)) + 1)
for line in p.stdout:
    if mode == "size" and line.startswith(b"* ") and b" FETCH (UID 2 " in line:
        line = re.sub(rb"RFC822\.SIZE (\d+)", bump, line)
    os.write(1, line)
PYEOF

genmail --count 160 --out "$T/mail" --sizes small --seed msync || { t_fail "genmail"; t_done; }
M=$T/mail
f() { printf '%s/msg-%04d.eml' "$M" "$1"; }
many=()
for ((i = 20; i < 160; i++)); do many+=("$(f "$i")"); done

# 1. First copy, both ways.
ok=1
lb append --flags '\Seen' --date '01-Jan-2020 10:00:00 +0000' INBOX "$(f 1)" || ok=0
lb append --flags '\Flagged $Work' --date '29-Feb-2024 23:59:59 -0700' INBOX "$(f 2)" || ok=0
lb append --date ' 3-Mar-2019 08:00:01 +0530' INBOX "$(f 3)" || ok=0
maildir_zero_message "$L1DIR/home/testuser/Maildir"
maildir_zero_message "$L2DIR/home/testuser/Maildir"
rb append --flags '\Answered \Seen' --date '15-Feb-2021 12:34:56 +0100' INBOX "$(f 4)" || ok=0
rb append --flags '$Label1' INBOX "$(f 5)" || ok=0
rb append --date '07-Jul-2017 07:07:07 +1200' INBOX "${many[@]}" || ok=0
lb create a/b && rb create a/b || ok=0
lb append --flags '\Draft' a/b "$(f 6)" || ok=0
rb append --flags '$Work \Seen' a/b "$(f 7)" || ok=0
t_eq "servers filled" "$ok $(l1 count INBOX) $(r1 count INBOX)" "1 4 142"

twin_run first
t_eq "first: msyncdrive exits 0" "$OURS_RC" 0
t_grep "first: local gets two MULTIAPPEND batches (128 + 14)" '^local\(INBOX\): Added 128 UID\(s\) 5:132 <- 1:128$' "$T/ours.err"
t_grep "first: ... and the rest" '^local\(INBOX\): Added 14 UID\(s\) 133:146 <- 129:142$' "$T/ours.err"
t_grep "first: remote gets one APPEND per message" '^remote\(INBOX\): Added 1 UID\(s\) 1 -> 143$' "$T/ours.err"
t_grep "first: the 0-length message is skipped" '^local\(INBOX\): WARNING: Ignoring new 0-length message \(UID 4\)$' "$T/ours.err"
t_grep "first: a/b both ways" '^remote\(a/b\): Added 1 UID\(s\) 1 -> 2$' "$T/ours.err"
t_eq "first: 145 + 2 pairs" "$(sqlite3 "$T/ours.db" 'SELECT count(*) FROM mapping')" 147
twin_same_mail first "${MBOXES[@]}"
t_eq "first: local and remote UIDNEXT are the servers'" \
	"$(sqlite3 "$T/ours.db" "SELECT l.UIDNEXT, r.UIDNEXT FROM local l JOIN remote r USING (idx) WHERE idx = 1")" \
	"$(l1 uidnext INBOX)|$(r1 uidnext INBOX)"

# 2. Flag changes, each way.
lb store INBOX 1 +FLAGS '(\Flagged)' && rb store INBOX 2 FLAGS '(\Draft)' &&
	rb store a/b 1 -FLAGS '($Work)' || t_fail "flag changes"
twin_run flags
t_grep "flags: local change copied" '^remote\(INBOX\): Updated flags \(\\Flagged \\Seen\) for UID 143$' "$T/ours.err"
t_grep "flags: remote change copied" '^local\(INBOX\): Updated flags \(\\Draft\) for UID 6$' "$T/ours.err"
t_grep "flags: a keyword removed" '^local\(a/b\): Updated flags \(\\Seen\) for UID 2$' "$T/ours.err"
twin_same_mail flags "${MBOXES[@]}"

# 3. A conflict, quietly: both sides end with the union, and say so.
lb store INBOX 5 +FLAGS '(\Deleted)' && rb store INBOX 1 -FLAGS '(\Seen)' || t_fail "conflicting changes"
twin_run conflict -q
t_grep "conflict: the warning" '^WARNING: Conflicting flag update in INBOX for local UID 5 \(\\Answered \\Deleted \\Seen\) and remote UID 1 \(\\Answered\)\. Setting both to the union \(\\Answered \\Deleted \\Seen\)\.$' "$T/ours.err"
t_no_grep "conflict: -q: no Updated line" 'Updated' "$T/ours.err"
t_eq "conflict: both sides have the union" "$(l1 flags INBOX | grep '^5 ') $(r1 flags INBOX | grep '^1 ')" \
	'5 (\Answered \Deleted \Seen) 1 (\Answered \Deleted \Seen)'

# 4. Expunges, each way; the 0-length message was never paired.
lb expunge INBOX 3,4 && rb expunge INBOX 3 && lb expunge a/b 1 || t_fail "expunges"
twin_run expunge
t_grep "expunge: local expunge propagated" '^remote\(INBOX\): Removed 1 UID\(s\) 145$' "$T/ours.err"
t_grep "expunge: remote expunge propagated" '^local\(INBOX\): Removed 1 UID\(s\) 7$' "$T/ours.err"
t_grep "expunge: the unpaired UID" '^remote\(INBOX\): WARNING: No match for 1 vanished local UID\(s\) 4\. Ignoring\.$' "$T/ours.err"
t_grep "expunge: ... and its pair that is not" "^database: WARNING: Can't delete \(idx,lUID\) = \(1,4\)$" "$T/ours.err"
t_eq "expunge: 4 pairs fewer" "$(sqlite3 "$T/ours.db" 'SELECT count(*) FROM mapping')" 144
twin_same_mail expunge "${MBOXES[@]}"

# 5. Nothing changed: with the LIST-STATUS values not even a SELECT; and
# without them, a SELECT but nothing else.
db_dump "$T/ours.db" >"$T/before.dump"
twin_run idle
t_eq "idle: nothing logged" "$(cat "$T/ours.lines")" ""
ours -d
t_no_grep "idle: no SELECT (LIST-STATUS says clean)" ': C: [0-9]+ (SELECT|UID|APPEND)' "$T/ours.err"
t_run timeout 60 "$DRIVE" -d -l "$L1" -r "$R1" "$T/ours.db" "${MBOXES[@]}"
t_grep "idle, without LIST-STATUS: SELECT" ': C: [0-9]+ SELECT INBOX \(QRESYNC \([0-9]+ [0-9]+ 1:[0-9]+ \([0-9:]+ [0-9:,]+\)\)\)$' "$T/last.err"
t_no_grep "idle, without LIST-STATUS: no STORE, APPEND, EXPUNGE or FETCH" ': C: [0-9]+ (UID STORE|APPEND|UID EXPUNGE|UID FETCH)' "$T/last.err"
db_dump "$T/ours.db" >"$T/after.dump"
t_same_file "idle: the database is unchanged" "$T/before.dump" "$T/after.dump"

# 6. New messages on both sides.
lb append --flags '\Seen' INBOX "$(f 8)" "$(f 9)" && rb append INBOX "$(f 10)" &&
	rb append --flags '\Flagged' a/b "$(f 11)" || t_fail "new messages"
twin_run new
t_grep "new: to local" '^local\(INBOX\): Added 1 UID\(s\) 149 <- 146$' "$T/ours.err"
t_grep "new: to remote, one APPEND each" '^remote\(INBOX\): Added 1 UID\(s\) 148 -> 148$' "$T/ours.err"
twin_same_mail new "${MBOXES[@]}"

# 7. An interrupted copy: the database forgets step 6's UIDNEXTs (the
# pairs stay), a copied message loses its original on the remote, another
# gets a flag on one side only. Resumed: the orphan copy goes, the flags
# meet as a conflict.
for db in "$T/ours.db" "$T/perl.db"; do
	sqlite3 "$db" "UPDATE local SET UIDNEXT = UIDNEXT - 3 WHERE idx = (SELECT idx FROM mailboxes WHERE mailbox = x'494E424F58');
		UPDATE remote SET UIDNEXT = UIDNEXT - 3 WHERE idx = (SELECT idx FROM mailboxes WHERE mailbox = x'494E424F58');" ||
		t_fail "lowering UIDNEXT in $db"
done
rb expunge INBOX 146 && lb store INBOX 147 +FLAGS '($Resumed)' || t_fail "changes during the interruption"
twin_run resume
t_grep "resume: said" '^Resuming interrupted sync for INBOX$' "$T/ours.err"
t_grep "resume: the copy of the lost message goes" '^local\(INBOX\): Removed 1 UID\(s\) 149$' "$T/ours.err"
t_grep "resume: the flag difference is a conflict" '^WARNING: Conflicting flag update in INBOX for local UID 147 \(\$Resumed \\Seen\) and remote UID 147 \(\\Seen\)\. Setting both to the union \(\$Resumed \\Seen\)\.$' "$T/ours.err"
t_eq "resume: nothing pending any more" "$(sqlite3 "$T/ours.db" "SELECT count(*) FROM mapping m JOIN local l USING (idx) JOIN remote r USING (idx) WHERE m.lUID >= l.UIDNEXT OR m.rUID >= r.UIDNEXT")" 0
twin_same_mail resume "${MBOXES[@]}"
twin_run after-resume
t_eq "after-resume: nothing logged" "$(cat "$T/ours.lines")" ""

# 8. A flag update the local server refuses with [MODIFIED] (a relay
# makes UNCHANGEDSINCE 1): "will try again later"; the UID is fetched
# again, its MODSEQ is not new, nothing more is done (the remote's change
# stays unapplied: the reference's way, kept). Both programs through the
# same relay.
sed "s|^command = $L2\$|command = $T_PYTHON $T/relay.py unchanged $L2|" "$T/perl.conf" >"$T/perl-mod.conf"
rb store INBOX 5 +FLAGS '(\Flagged)' || t_fail "a flag on the remote"
timeout 120 "$DRIVE" -s -l "$T_PYTHON $T/relay.py unchanged $L1" -r "$R1" "$T/ours.db" "${MBOXES[@]}" \
	>"$T/ours.out" 2>"$T/ours.err"
OURS_RC=$?
timeout 120 "$PERL" --config="$T/perl-mod.conf" "${MBOXES[@]}" >"$T/perl.out" 2>"$T/perl.err"
twin_compare modified "$OURS_RC" "$?"
t_grep "modified: will try again" '^local\(INBOX\): Couldn.t update flags \(\\Flagged\) for UID 9, will try again later$' "$T/ours.err"
t_no_grep "modified: not updated" 'Updated flags' "$T/ours.err"
t_eq "modified: the local message kept its flags" "$(l1 flags INBOX | grep '^9 ')" '9 ()'

# 9. a/b recreated on the remote: its UIDVALIDITY changed. Nothing synced.
rb delete a/b && rb create a/b || t_fail "recreating a/b"
twin_run uidvalidity
t_eq "uidvalidity: msyncdrive exits 1" "$OURS_RC" 1
t_grep "uidvalidity: the error" '^remote: ERROR: UIDVALIDITY changed! \([0-9]+ != [0-9]+\)  Need to invalidate the UID cache for a/b\.$' "$T/ours.err"

# 10. Failures, msyncdrive alone: one ERROR line, exit 1, nothing left
# half done. A mailbox missing on both sides: the SELECTs are refused.
t_run timeout 60 "$DRIVE" -l "$L1" -r "$R1" "$T/ours.db" nope
t_eq "missing mailbox: exit 1" "$?" 1
t_grep "missing mailbox: the refusal" '^local: ERROR: SELECT "nope" failed: NO ' "$T/last.err"
t_eq "missing mailbox: one error" "$(grep -c ERROR "$T/last.err")" 1
# A local server whose RFC822.SIZE for UID 2 is one more than the BODY[]
# it sends (a relay rewrites it): UID 1 goes in an APPEND of its own (the
# remote has no MULTIAPPEND), committed; the APPEND of UID 2 announced the
# wrong size and cannot be cancelled: the remote connection is dropped,
# its server keeps nothing of it. Then, without the lie, the interrupted
# copy is resumed.
l1 create c && r1 create c && l1 append c "$(f 12)" "$(f 13)" || t_fail "mailbox c"
t_run timeout 60 "$DRIVE" -l "$T_PYTHON $T/relay.py size $L1" -r "$R1" "$T/ours.db" c
t_eq "size mismatch: exit 1" "$?" 1
t_grep "size mismatch: the error" '^remote\(c\): ERROR: local: UID 2: BODY\[\] is [0-9]+ bytes but RFC822.SIZE said [0-9]+$' "$T/last.err"
t_eq "size mismatch: one error" "$(grep -c ERROR "$T/last.err")" 1
t_eq "size mismatch: UID 1 copied and paired, not UID 2" "$(r1 count c) $(sqlite3 "$T/ours.db" "SELECT lUID, rUID FROM mapping JOIN mailboxes USING (idx) WHERE mailbox = x'63'")" "1 1|1"
t_run timeout 60 "$DRIVE" -l "$L1" -r "$R1" "$T/ours.db" c
t_eq "size mismatch: then the copy is resumed" "$? $(grep -v '^database' "$T/last.err" | tr '\n' '|')" \
	"0 Resuming interrupted sync for c|remote(c): Added 1 UID(s) 2 -> 2|"
twin_same_mail copy c

# 11. A 20 MB message: copied byte for byte; the peak RSS does not grow
# with it (the same mailbox without it for comparison; the plain build's
# figure is what a user sees, the sanitized one adds its own overhead).
dovecot_init "$T/l5" && L5=$DOVECOT_TUNNEL && dovecot_init "$T/r5" && R5=$DOVECOT_TUNNEL ||
	{ t_fail "fifth pair"; t_done; }
genmail --count 6 --out "$T/big" --sizes realistic --big-mb 20 --seed msync-big || t_fail "genmail --big-mb"
ok=1
for m in big nobig sbig snobig; do
	IMAP_TUNNEL=$L5 imap_tool create "$m" && IMAP_TUNNEL=$R5 imap_tool create "$m" || ok=0
	IMAP_TUNNEL=$L5 imap_tool append --flags '\Seen' "$m" "$T"/big/msg-000[1-3].eml || ok=0
	case $m in *nobig) ;; *)
		IMAP_TUNNEL=$L5 imap_tool append --flags '\Flagged $Big' --date '05-May-2015 05:05:05 +0500' \
			"$m" "$T/big/msg-big.eml" || ok=0;;
	esac
	IMAP_TUNNEL=$L5 imap_tool append "$m" "$T"/big/msg-000[4-6].eml || ok=0
done
rm -rf "$T/big"
t_eq "fifth pair filled" "$ok" 1
big() { # NAME BINARY MAILBOX
	local start
	start=$(date +%s%N)
	timeout 120 "$2" -m -l "$L5" -r "$R5" "$T/big.db" "$3" >"$T/$1.out" 2>"$T/$1.err"
	t_eq "$1: msyncdrive exits 0" "$?" 0 || sed 's/^/#   /' "$T/$1.err" >&2
	t_log "$1: $(( ($(date +%s%N) - start) / 1000000 )) ms, maxrss $(rss "$1") KiB"
}
rss() { awk '$1 == "maxrss_kib" { print $2 }' "$T/$1.out"; }
big plain-nobig "$PLAIN" nobig
big plain-big "$PLAIN" big
big san-nobig "$DRIVE" snobig
big san-big "$DRIVE" sbig
t_grep "big: the 20 MB message in the batch of its own" '^remote\(big\): Added 1 UID\(s\) 4 -> 4$' "$T/plain-big.err"
mail_digest "$L5" big >"$T/dl"
mail_digest "$R5" big >"$T/dr"
t_same_file "big: copied byte for byte, with flags and INTERNALDATE" "$T/dl" "$T/dr"
t_grep "big: the 20 MB message is there" ' 2[0-9]{7} [0-9]+ \(\$Big \\Flagged\)$' "$T/dr"
rss_check() { # BUILD WITH WITHOUT
	t_log "$1 build: maxrss $2 KiB with the 20 MB message, $3 KiB without"
	if [ -n "$2" ] && [ -n "$3" ] && [ $(($2 - $3)) -le 4096 ] && [ $(($3 - $2)) -le 4096 ]; then
		t_ok "$1 build: peak RSS does not grow with the message ($2 vs $3 KiB)"
	else
		t_fail "$1 build: peak RSS does not grow with the message" "$2 vs $3 KiB"
	fi
}
rss_check plain "$(rss plain-big)" "$(rss plain-nobig)"
rss_check sanitized "$(rss san-big)" "$(rss san-nobig)"

t_done
