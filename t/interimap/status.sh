#!/bin/bash
# interimap --status (ours; issue 10): what the database knows per
# mailbox, the last run and the last error, read without the lock.
#
# 1. no database: a line, status 0, nothing created; 2. after a one-shot
# sync: read from the database itself, its rows exactly, the run "ok",
# nothing written; MAILBOX patterns filter; 3. while `interimap
# --watch=1` holds the database (a reader really is locked out): the
# watcher's snapshot, its pid and mode, and a change the watcher syncs
# shows up; a second instance still fails at once and leaves the
# snapshot alone; SIGTERM recorded; the same with --notify, and SIGINT;
# 4. a watcher killed with SIGKILL: "did not record its end"; 5. a failed
# run: its error line as printed, kept as "last error" after a good run;
# 6. a run's pair counts taken from the previous snapshot, unless the
# database was written since; 7. an interrupted copy (pairs beyond
# UIDNEXT) flagged, and the database written behind the snapshot's back
# noticed; 8. an empty database file; 9. a copy cut short by a kill -9
# (records of a copy under way, no pair yet): shown from the database
# and from the snapshot of a run holding it, gone after the next run;
# 10. a database the Perl interimap made (no snapshot: the database
# only, "/" for the hierarchy, said so), and one a Perl --watch holds:
# its pid named, the Perl run undisturbed.
# shellcheck disable=SC2016 # `false`: the words of a message
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-status
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"

# db_rows DB: "NAME LUIDNEXT LHIGHESTMODSEQ RUIDNEXT RHIGHESTMODSEQ PAIRS"
# per mailbox, "/" for the hierarchy, in bytewise order: what --status
# must print, read read-only.
db_rows() {
	"$T_PYTHON" - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = db.execute("""SELECT m.mailbox, l.UIDNEXT, l.HIGHESTMODSEQ, r.UIDNEXT, r.HIGHESTMODSEQ,
    (SELECT COUNT(*) FROM mapping p WHERE p.idx = m.idx)
    FROM mailboxes m LEFT JOIN local l USING (idx) LEFT JOIN remote r USING (idx)""").fetchall()
for r in sorted(rows, key=lambda r: bytes(r[0])):
    print(" ".join([bytes(r[0]).replace(b"\0", b"/").decode()] +
                   ["-" if v is None else str(v) for v in r[1:]]))
EOF
}

# status_rows FILE: the same six fields of each mailbox line of --status.
status_rows() {
	awk '/^MAILBOX / { t = 1; next }
	     /^(last run|last error|status snapshot|\(hierarchy)/ { t = 0 }
	     t { print $1, $2, $3, $4, $5, $6 }' "$1"
}

# st X NAME [ARGS...]: ours --status on pair X, its stdout in $T/NAME.out;
# status 0 and nothing on stderr are checked.
st() {
	local x=$1 n=$2
	shift 2
	pair_run ours "$x" "$n" --status "$@"
	t_eq "$n: --status exits 0" "$?" 0
	t_eq "$n: nothing on stderr" "$(cat "$T/$n.err")" ""
}

# row_of FILE MAILBOX: that mailbox's line of a --status output.
row_of() { awk -v m="$2" '$1 == m' "$1"; }

# inbox_pairs_are X N: --status on pair X says N pairs for INBOX.
inbox_pairs_are() {
	pair_run ours "$1" poll --status &&
		[ "$(row_of "$T/poll.out" INBOX | awk '{ print $6 }')" = "$2" ]
}

# locked DB: a reader gets "database is locked" right now.
locked() {
	"$T_PYTHON" - "$1" <<'EOF'
import sqlite3, sys
try:
    sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=0).execute("SELECT COUNT(*) FROM mailboxes").fetchall()
except sqlite3.OperationalError as e:
    print(e)
EOF
}

genmail --count 12 --out "$T/mail" --sizes small --seed status >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }

pair_setup A || { t_fail "two Dovecots"; t_done; }

# ---------------------------------------------------------------------
# 1. No database yet.
st A nodb
t_eq "no database: one line" "$(cat "$T/nodb.out")" \
	"no database yet: $T/A.db (interimap has not run with this configuration)"
t_eq "no database: nothing created" "$(find "$T" -maxdepth 1 -name 'A.db*' | wc -l)" 0

# ---------------------------------------------------------------------
# 2. After a one-shot sync: the database itself.
pair_apply l A <<EOF || t_fail "servers filled"
append | INBOX | $(f 1) | $(f 2)
create | a/b
append | a/b | $(f 3)
EOF
pair_apply r A <<EOF || t_fail "servers filled"
append | INBOX | $(f 4)
EOF
pair_run ours A first || t_fail "first sync" "$(cat "$T/first.err")"
t_eq "snapshot: beside the database, mode 0600" "$(stat -c %a "$T/A.db.status" 2>&1)" 600
t_eq "snapshot: no temporary file left" "$(find "$T" -maxdepth 1 -name '*.tmp' | wc -l)" 0
before=$(cd "$T" && md5sum A.db* && ls -a A.db*)
st A st1
after=$(cd "$T" && md5sum A.db* && ls -a A.db*)
t_eq "read: nothing written or created" "$after" "$before"
t_eq "read: the database, the first lines" "$(head -n 2 "$T/st1.out")" \
	"database: $T/A.db
as it is now (no run holds it)"
t_eq "read: every mailbox as the database has it" "$(status_rows "$T/st1.out")" "$(db_rows "$T/A.db")"
t_eq "read: INBOX, 3 pairs" "$(row_of "$T/st1.out" INBOX | awk '{ print $6 }')" 3
t_grep "read: the last run, one-shot, ok" '^last run: pid [0-9]+ \(one-shot\), [-0-9]+ [:0-9]+ UTC to [-0-9]+ [:0-9]+ UTC: ok$' "$T/st1.out"
t_grep "read: no error yet" '^last error: none$' "$T/st1.out"
t_no_grep "read: the local delimiter known (from the snapshot)" 'hierarchy shown' "$T/st1.out"
t_grep "read: a/b with the local delimiter" '^a/b ' "$T/st1.out"

st A st-pat 'a/%'
t_eq "patterns: a/% only" "$(status_rows "$T/st-pat.out")" "$(db_rows "$T/A.db" | grep '^a/b ')"
st A st-none nothing
t_grep "patterns: none matches, said so" '^no mailbox of the database matches$' "$T/st-none.out"

# ---------------------------------------------------------------------
# 3. While --watch=1 holds the database: the watcher's snapshot.
pair_start ours A watch --watch=1
wait_until 20 grep -qx "pid $PID_A" "$T/A.db.status" || t_fail "watch: the snapshot names the watcher"
t_match "watch: a reader is locked out of the database" "$(locked "$T/A.db")" 'locked'
st A st2
t_grep "watch: held by the watcher, its pid, mode and start; as of" \
	"^held by interimap pid $PID_A \\(--watch=1\\) since [-0-9]+ [:0-9]+ UTC; as of [-0-9]+ [:0-9]+ UTC \\(its status snapshot\\)\$" "$T/st2.out"
# (names and pairs: a HIGHESTMODSEQ may move, see db_consistent)
t_eq "watch: the mailboxes and their pairs" "$(status_rows "$T/st2.out" | cut -d' ' -f1,6)" "$(status_rows "$T/st1.out" | cut -d' ' -f1,6)"
t_grep "watch: the run is running" "^last run: pid $PID_A \\(--watch=1\\), started .* UTC: running, as of " "$T/st2.out"
pair_apply r A <<EOF || t_fail "watch: new messages"
append | INBOX | $(f 5) | $(f 6)
EOF
if wait_until 30 inbox_pairs_are A 5; then
	t_ok "watch: a change synced by the watcher shows up (INBOX, 5 pairs)"
else
	t_fail "watch: a change synced by the watcher shows up" "$(cat "$T/poll.out")"
fi
t_grep "watch: still from the snapshot" '\(its status snapshot\)$' "$T/poll.out"
cp "$T/A.db.status" "$T/snap.before"
pair_run ours A second
rc=$?
t_eq "watch: a second instance fails at once (locked)" "$rc" 75
t_eq "watch: ... and leaves the snapshot alone" "$(grep '^pid ' "$T/A.db.status")" "pid $PID_A"
if [ -x "$INTERIMAP_PERL" ]; then
	pair_run perl A second-perl
	t_ne "watch: the Perl interimap fails too" "$?" 0
fi
pair_stop A TERM
t_eq "watch: SIGTERM: status 0" "$STOPPED" 0
st A st3
t_eq "after the watch: the database again" "$(sed -n 2p "$T/st3.out")" "as it is now (no run holds it)"
t_eq "after the watch: its rows" "$(status_rows "$T/st3.out")" "$(db_rows "$T/A.db")"
t_grep "after the watch: stopped by SIGTERM" "^last run: pid $PID_A \\(--watch=1\\), .* UTC to .* UTC: stopped by SIGTERM\$" "$T/st3.out"

# --notify: its rounds write the snapshot too.
pair_start ours A notify --notify --watch=1
wait_until 20 grep -qx "pid $PID_A" "$T/A.db.status" || t_fail "notify: the snapshot names the watcher"
pair_apply l A <<EOF || t_fail "notify: a new message"
append | INBOX | $(f 11)
EOF
if wait_until 30 inbox_pairs_are A 6; then
	t_ok "notify: a change synced shows up (INBOX, 6 pairs)"
else
	t_fail "notify: a change synced shows up" "$(cat "$T/poll.out")"
fi
t_grep "notify: its mode" "^held by interimap pid $PID_A \\(--notify, --watch=1\\) since " "$T/poll.out"
pair_stop A INT
t_eq "notify: SIGINT: status 0 (a watch, issue 10)" "$STOPPED" 0
st A st-notify
t_grep "notify: stopped by SIGINT" "^last run: pid $PID_A \\(--notify, --watch=1\\), .*: stopped by SIGINT\$" "$T/st-notify.out"

# ---------------------------------------------------------------------
# 4. A watcher killed outright.
pair_start ours A killed --watch=60
wait_until 20 grep -qx "pid $PID_A" "$T/A.db.status" || t_fail "killed: the snapshot names the watcher"
pair_stop A KILL
st A st-killed
t_grep "killed: the run did not record its end" "^last run: pid $PID_A \\(--watch=60\\), started .*: did not record its end \\(killed\\?\\), last seen " "$T/st-killed.out"

# ---------------------------------------------------------------------
# 5. A failed run: the error line as printed.
pair_apply r A <<EOF || t_fail "a/b deleted on the remote side"
delete | a/b
EOF
pair_run ours A fail
t_eq "failed run: status 1" "$?" 1
line=$(grep 'ERROR: ' "$T/fail.err")
t_match "failed run: the reference's error" "$line" '^database: ERROR: Mailbox a/b exists\.'
st A st4
t_eq "failed run: its line, as printed" "$(sed -n 's/^last run: .* UTC: failed: //p' "$T/st4.out")" "$line"
t_eq "failed run: the last error, when" "$(sed -nE 's/^last error: [-0-9]+ [:0-9]+ UTC: //p' "$T/st4.out")" "$line"
pair_run ours A forget --target=database --delete a/b || t_fail "a/b forgotten" "$(cat "$T/forget.err")"
pair_run ours A good || t_fail "a good run" "$(cat "$T/good.err")"
st A st5
t_grep "after a good run: ok" '^last run: pid [0-9]+ \(one-shot\), .*: ok$' "$T/st5.out"
t_eq "after a good run: the last error stays" "$(grep '^last error: ' "$T/st5.out")" "$(grep '^last error: ' "$T/st4.out")"

# ---------------------------------------------------------------------
# 6. The pair counts a run starts from: the previous snapshot's while
# nobody else wrote the database, counted again once somebody did. (Runs
# on A's database that stop at once: a local tunnel that fails.)
sed '0,/^command = .*/s//command = false/' "$T/A.conf" >"$T/Afail.conf"
chmod 600 "$T/Afail.conf"
# snap_inbox: INBOX's pairs and pending pairs in A's snapshot file.
snap_inbox() { awk '$1 == "mailbox" && $NF == "INBOX" { print $9, $10 }' "$T/A.db.status"; }
# dbx SQL: run SQL on A's database (a change behind the snapshot's back).
dbx() { "$T_PYTHON" -c "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()" "$T/A.db" "$1"; }
inbox_idx="(SELECT idx FROM mailboxes WHERE mailbox = CAST('INBOX' AS BLOB))"
n=$(db_rows "$T/A.db" | awk '$1 == "INBOX" { print $6 }')
timeout 30 "$INTERIMAP" --config="$T/Afail.conf" 2>"$T/afail1.err"
t_eq "counts: kept from the last snapshot" "$(snap_inbox)" "$n 0"
t_eq "counts: the run stopped where it should" "$(cat "$T/afail1.err")" 'local: ERROR: tunnel command `false` exited with status 1'
dbx "INSERT INTO mapping (idx, lUID, rUID) VALUES ($inbox_idx, 100000, 100000)"
timeout 30 "$INTERIMAP" --config="$T/Afail.conf" 2>/dev/null
t_eq "counts: the database written since: counted again" "$(snap_inbox)" "$((n + 1)) 1"
dbx "DELETE FROM mapping WHERE lUID = 100000"

# ---------------------------------------------------------------------
# 7. An interrupted copy: pairs beyond UIDNEXT (as a run killed in the
# middle of a copy leaves them).
"$T_PYTHON" - "$T/A.db" <<'EOF' || t_fail "UIDNEXT lowered"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE local SET UIDNEXT = 3 WHERE idx = (SELECT idx FROM mailboxes WHERE mailbox = CAST('INBOX' AS BLOB))")
db.commit()
EOF
st A st6
pending=$("$T_PYTHON" -c "
import sqlite3, sys
db = sqlite3.connect('file:$T/A.db?mode=ro', uri=True)
print(db.execute(\"SELECT COUNT(*) FROM mapping p JOIN mailboxes m USING (idx) WHERE m.mailbox = CAST('INBOX' AS BLOB) AND p.lUID >= 3\").fetchone()[0])")
t_ne "interrupted: some pairs beyond UIDNEXT" "$pending" 0
t_match "interrupted: flagged, with their number" "$(row_of "$T/st6.out" INBOX)" \
	"  interrupted copy: $pending pairs? beyond UIDNEXT \\(the next run resumes it\\)\$"
t_grep "interrupted: the database written since the snapshot, noticed" 'the database was written since' "$T/st6.out"
pair_run ours A resume || t_fail "resumed" "$(cat "$T/resume.err")"
st A st7
t_no_grep "resumed: no interrupted copy left" 'interrupted copy' "$T/st7.out"
t_eq "resumed: the rows" "$(status_rows "$T/st7.out")" "$(db_rows "$T/A.db")"

# ---------------------------------------------------------------------
# 8. An empty database file: a run that failed before the schema step.
tunnel_conf "$T/E.conf" "$T/E.db" false false
timeout 30 "$INTERIMAP" --config="$T/E.conf" >/dev/null 2>"$T/e-run.err"
t_eq "empty: the run failed" "$?" 1
t_eq "empty: the file holds no table" "$("$T_PYTHON" -c "import sqlite3; print(sqlite3.connect('file:$T/E.db?mode=ro', uri=True).execute('SELECT COUNT(*) FROM sqlite_master').fetchone()[0])")" 0
timeout 30 "$INTERIMAP" --config="$T/E.conf" --status >"$T/e.out" 2>"$T/e.err"
t_eq "empty: --status exits 0" "$?" 0
t_grep "empty: said so" '^empty: no run got as far as the mailbox lists$' "$T/e.out"
t_grep "empty: the run's error" '^last run: .*: failed: local: ERROR: tunnel command `false` exited with status 1$' "$T/e.out"

# ---------------------------------------------------------------------
# 9. A copy cut short: ours killed right after the remote's OK to its
# first APPEND (t/lib/killrelay.py): the copies made, their pairs never
# committed, the records of the copy under way left (c_append_intent).
# --status shows them from the database, and from the snapshot of a run
# that holds it (one whose local server never greets); the next run
# pairs the copies and they are gone.
killrelay_pair
IMAP_TUNNEL=$LT imap_tool append INBOX "$(f 1)" "$(f 2)" "$(f 3)" || t_fail "copy: local filled"
printf '%s\n' "remote s appendok 1" >"$R/plan"
timeout 60 "$INTERIMAP" --config="$T/X.conf" >"$T/x-kill.out" 2>"$T/x-kill.err"
rc=$?
{ flock -w 60 "$R/lock.local" true && flock -w 60 "$R/lock.remote" true; } || t_fail "copy: the relays end"
t_eq "copy: ours killed after the remote's OK" "$rc $(cut -d: -f1 "$R/killed" 2>&1)" "137 remote s appendok 1"
: >"$R/plan"
# (Its commits in the write-ahead log it left, interimap/db.h: what
# follows reads them there.)
t_eq "copy: the killed run's log left" "$(ls "$T/X.db-wal" 2>&1)" "$T/X.db-wal"
# xq SQL: a query on X's database, read-only.
xq() { "$T_PYTHON" -c "import sqlite3, sys; print(*sqlite3.connect('file:%s?mode=ro' % sys.argv[1], uri=True).execute(sys.argv[2]).fetchone())" "$T/X.db" "$1"; }
t_eq "copy: the copies on the remote, no pair, the records left" \
	"$(IMAP_TUNNEL=$RT imap_tool count INBOX) $(xq 'SELECT count(*) FROM mapping') $(xq 'SELECT count(*) FROM c_append_intent')" "3 0 3"
copying='  interrupted copy: 3 messages being copied to remote \(the next run resumes it\)$'
st X st-copy
t_eq "copy: read from the database" "$(sed -n 2p "$T/st-copy.out")" "as it is now (no run holds it)"
t_match "copy: INBOX, no pair, the copy shown" "$(row_of "$T/st-copy.out" INBOX)" "^INBOX( +[0-9]+){4} +0$copying"
t_grep "copy: the killed run did not record its end" '^last run: .*: did not record its end \(killed\?\)' "$T/st-copy.out"
# The snapshot: a run that holds the database, its local server silent.
x_inbox=$(xq "SELECT idx FROM mailboxes WHERE mailbox = CAST('INBOX' AS BLOB)")
hang_tunnel "$T/xhang.sh" "$T/xhang"
sed "0,/^command = .*/s||command = $T/xhang.sh|" "$T/X.conf" >"$T/Xh.conf"
pair_start ours Xh xhang
wait_until 20 grep -qx "pid $PID_Xh" "$T/X.db.status" || t_fail "copy: the snapshot names the run"
t_eq "copy: the snapshot has the records" "$(grep '^copying ' "$T/X.db.status")" \
	"copying $x_inbox 0 3"
st X st-copy-snap
t_grep "copy: from the snapshot of the run holding the database" \
	"^held by interimap pid $PID_Xh \\(one-shot\\) since .*\\(its status snapshot\\)\$" "$T/st-copy-snap.out"
t_match "copy: ... INBOX, the copy shown" "$(row_of "$T/st-copy-snap.out" INBOX)" "^INBOX( +[-0-9]+){4} +0$copying"
pair_stop Xh TERM
t_ne "copy: the run holding the database stopped" "$STOPPED" running
# A run that stops at once starts from that snapshot's counts (nobody
# wrote the database since), the records read again.
sed '0,/^command = .*/s//command = false/' "$T/X.conf" >"$T/Xfail.conf"
timeout 30 "$INTERIMAP" --config="$T/Xfail.conf" >/dev/null 2>&1
t_eq "copy: a run that fails at once: its snapshot has the records" \
	"$(grep -E '^(copying|result) ' "$T/X.db.status")" "result failed
copying $x_inbox 0 3"
# The next run: the copies found, paired; nothing left to show.
timeout 60 "$INTERIMAP" --config="$T/X.conf" >"$T/x-resume.out" 2>"$T/x-resume.err"
t_eq "copy: the next run exits 0" "$?" 0
t_grep "copy: ... pairs the copies" '^remote\(INBOX\): Recovered 3 UID\(s\) 1:3 -> 1:3 copied before an interruption$' "$T/x-resume.err"
st X st-copied
t_no_grep "copy: then no interrupted copy (database)" 'interrupted copy' "$T/st-copied.out"
t_eq "copy: ... INBOX, 3 pairs" "$(row_of "$T/st-copied.out" INBOX | awk '{ print $6 }')" 3
t_no_grep "copy: ... nor in the snapshot" '^copying ' "$T/X.db.status"

# ---------------------------------------------------------------------
# 10. The Perl interimap's database.
if [ ! -x "$INTERIMAP_PERL" ]; then
	t_skip "Perl interimap" "no $INTERIMAP_PERL"
	t_done
fi
pair_setup B || { t_fail "two more Dovecots"; t_done; }
pair_apply l B <<EOF || t_fail "B filled"
append | INBOX | $(f 7) | $(f 8)
create | a/b
append | a/b | $(f 9)
EOF
pair_run perl B perl1 || t_fail "the Perl interimap's sync" "$(cat "$T/perl1.err")"
st B st8
t_eq "Perl's database: as it is now" "$(sed -n 2p "$T/st8.out")" "as it is now (no run holds it)"
t_eq "Perl's database: every mailbox" "$(status_rows "$T/st8.out")" "$(db_rows "$T/B.db")"
t_grep "Perl's database: no last run known, said why" '^last run: unknown \(no status snapshot' "$T/st8.out"
t_grep "Perl's database: '/' for the hierarchy, said so" '^\(hierarchy shown with "/"' "$T/st8.out"
t_eq "Perl's database: no snapshot made" "$(find "$T" -maxdepth 1 -name 'B.db.status*' | wc -l)" 0
pair_start perl B pwatch --watch=1
# perl_named: --status names the Perl watcher (it locks before connecting).
perl_named() { "$INTERIMAP" --config="$T/B.conf" --status 2>/dev/null | sed -n 2p | grep -q "pid $PID_B "; }
wait_until 20 perl_named || t_fail "Perl --watch: named within 20 s"
st B st9
t_match "Perl --watch: its pid and command named" "$(sed -n 2p "$T/st9.out")" \
	"^(as it is now \\(pid $PID_B \\(.*interimap.*\\) holds it|held by pid $PID_B \\(.*interimap.*\\); nothing more to show)"
t_eq "Perl --watch: still running" "$(kill -0 "$PID_B" 2>&1 && echo yes)" yes
pair_apply r B <<EOF || t_fail "B: a new message"
append | INBOX | $(f 10)
EOF
# local_has N: B's local INBOX holds N messages.
local_has() { [ "$(IMAP_TUNNEL=$BL imap_count INBOX 2>/dev/null)" = "$1" ]; }
wait_until 30 local_has 3 || t_fail "Perl --watch: the new message synced"
pair_stop B TERM
t_eq "Perl --watch: undisturbed, SIGTERM: status 0" "$STOPPED" 0
t_eq "Perl --watch: its database, 3 pairs for INBOX" "$(db_rows "$T/B.db" | awk '$1 == "INBOX" { print $6 }')" 3

t_done
