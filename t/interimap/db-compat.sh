#!/bin/bash
# db-compat: interimap/db*.c and the Perl interimap 0.5.7 continue each
# other's databases. The Perl program syncs two throw-away Dovecots
# (preauthenticated tunnels); then, through t/unit/test_db's tool mode:
# - a database db_open()+db_schema() create has the same `.schema`, the
#   same user_version and journal mode as the Perl program's;
# - what db.h reads of the Perl program's file is what sqlite3 sees
#   (names looked up as BLOBs, states, pairs), and db_map_sample() is the
#   message-sequence-match data the Perl program sends in its next SELECT;
# - each program refuses the database at once while the other holds it;
# - the pre-0.5 upgrade leaves the same file as the Perl program's;
# - the Perl program takes a file we created as current (no schema step).
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init db-compat
dovecot_available || t_skip_all "dovecot not installed"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
TDB="$TOP/build-san/t/test_db"
[ -x "$TDB" ] || t_skip_all "no $TDB (make units)"

dovecot_init "$T/l" || { t_fail "local Dovecot"; t_done; }
L_TUNNEL=$DOVECOT_TUNNEL
dovecot_init "$T/r" || { t_fail "remote Dovecot"; t_done; }
R_TUNNEL=$DOVECOT_TUNNEL
lt() { IMAP_TUNNEL=$L_TUNNEL imap_tool "$@"; }
rt() { IMAP_TUNNEL=$R_TUNNEL imap_tool "$@"; }

# conf NAME DBFILE: a Perl interimap configuration
conf() { tunnel_conf "$T/$1.conf" "$2" "$L_TUNNEL" "$R_TUNNEL"; }
conf perl "$T/perl.db"
perl_run() { # CONF ARGS...: the Perl interimap, output in $T/last.{out,err}
	local c=$1
	shift
	t_run timeout 60 "$PERL" --config="$T/$c.conf" "$@"
}

genmail --count 16 --out "$T/mail" --sizes small --seed db-compat ||
	{ t_fail "genmail"; t_done; }
ok=1
lt append INBOX "$T"/mail/msg-000[1-9].eml "$T"/mail/msg-001[0-2].eml || ok=0
rt append INBOX "$T"/mail/msg-0013.eml "$T"/mail/msg-0014.eml || ok=0
lt create 'a/b' && lt append 'a/b' "$T"/mail/msg-0015.eml || ok=0
rt create 'c' && rt append 'c' "$T"/mail/msg-0016.eml || ok=0
t_eq "servers filled" "$ok" 1

# 1. The Perl program's database, and ours, side by side.
perl_run perl
t_eq "Perl interimap: first sync" "$?" 0
t_grep "Perl interimap: creates its schema" "^Creating new schema in database file $T/perl.db\$" "$T/last.err"
t_eq "both INBOXes have 14 messages" "$(lt count INBOX) $(rt count INBOX)" "14 14"
t_run "$TDB" create "$T/ours.db"
t_eq "ours: schema created" "$(cat "$T/last.out")" "Creating new schema in database file $T/ours.db"
sqlite3 "$T/perl.db" .schema >"$T/perl.schema"
sqlite3 "$T/ours.db" .schema >"$T/ours.schema"
t_same_file "same .schema as the Perl program's" "$T/perl.schema" "$T/ours.schema"
t_grep ".schema has the four tables" '^CREATE TABLE mapping ' "$T/ours.schema"
for p in user_version journal_mode page_size encoding auto_vacuum; do
	t_eq "same PRAGMA $p" "$(sqlite3 "$T/ours.db" "PRAGMA $p")" "$(sqlite3 "$T/perl.db" "PRAGMA $p")"
done
t_eq "both files 0600" "$(stat -c %a "$T/perl.db") $(stat -c %a "$T/ours.db")" "600 600"

# 2. Gaps in the mapping: two local messages expunged, the Perl program
# propagates it.
lt expunge INBOX 3,7 || t_fail "expunge on local"
perl_run perl
t_eq "Perl interimap: second sync" "$?" 0
t_eq "both INBOXes have 12 messages" "$(lt count INBOX) $(rt count INBOX)" "12 12"

# What we read of its file, against sqlite3's view.
t_run "$TDB" dump "$T/perl.db"
t_eq "dump of the Perl program's file" "$?" 0
{
	sqlite3 -separator ' ' "$T/perl.db" "SELECT 'mailbox', m.idx, hex(m.mailbox), m.subscribed,
		l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ, r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ
		FROM mailboxes m JOIN local l ON m.idx = l.idx JOIN remote r ON m.idx = r.idx ORDER BY m.idx"
} >"$T/want.mbx"
grep '^mailbox ' "$T/last.out" >"$T/got.mbx"
t_same_file "mailboxes and states read as sqlite3 reads them" "$T/want.mbx" "$T/got.mbx"
t_eq "three mailboxes with state (INBOX, a/b, c)" "$(wc -l <"$T/got.mbx")" 3
t_eq "each name found again by BLOB lookup" "$(grep -c "^lookup [0-9]* ok$" "$T/last.out")" 3
t_grep "a/b is stored with a NUL" '^mailbox [0-9]+ 610062 ' "$T/got.mbx"
sqlite3 -separator ' ' "$T/perl.db" "SELECT 'pair', idx, lUID, rUID FROM mapping ORDER BY idx, lUID" >"$T/want.pairs"
grep '^pair ' "$T/last.out" >"$T/got.pairs"
t_same_file "pairs read as sqlite3 reads them" "$T/want.pairs" "$T/got.pairs"
t_eq "14 pairs" "$(wc -l <"$T/got.pairs")" 14
t_eq "nothing pending" "$(grep -c '^pending' "$T/last.out")" 0
inbox=$(awk '$1 == "mailbox" && $3 == "494E424F58" { print $2 }' "$T/got.mbx")
sample_l=$(awk -v i="$inbox" '$1 == "sample" && $2 == i && $3 == "local" { print "(" $4 " " $5 ")" }' "$T/last.out")
sample_r=$(awk -v i="$inbox" '$1 == "sample" && $2 == i && $3 == "remote" { print "(" $4 " " $5 ")" }' "$T/last.out")
t_log "INBOX samples: local $sample_l, remote $sample_r"

# The next SELECT of INBOX by the Perl program carries the same samples.
lt store INBOX 1 +FLAGS '(\Flagged)' || t_fail "flag on local"
perl_run perl --debug
t_eq "Perl interimap: third sync" "$?" 0
perl_sel() { sed -n "s/^$1: C: [0-9]* SELECT INBOX (QRESYNC ([0-9]* [0-9]* [0-9:]* \(([0-9:]* [0-9:,]*)\)))\$/\1/p" "$T/last.err"; }
t_eq "local SELECT's sample is db_map_sample()'s" "$(perl_sel local)" "$sample_l"
t_eq "remote SELECT's sample is db_map_sample()'s" "$(perl_sel remote)" "$sample_r"
t_match "the samples have gaps" "$sample_l $sample_r" ',.*,'

# 3. Locks, both ways.
mkfifo "$T/hold.in"
"$TDB" hold "$T/perl.db" <"$T/hold.in" >"$T/hold.out" 2>&1 &
hold_pid=$!
t_cleanup_add "t_kill_pid $hold_pid"
exec 3>"$T/hold.in"
wait_until 10 grep -q '^held$' "$T/hold.out" || t_fail "test_db holds the database"
start=$(date +%s%N)
perl_run perl
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_ne "Perl interimap refused while we hold the database" "$rc" 0
t_grep "Perl interimap: database is locked" 'database is locked' "$T/last.err"
t_no_grep "Perl interimap: no IMAP traffic" 'IMAP traffic' "$T/last.err"
t_log "Perl refused in $ms ms"
# While a run holds it: a write-ahead log (one fsync per commit, db.c);
# gone once it ends, the file back in the reference's journal mode.
# (The header's read and write versions: 2 for WAL, 1 for the rollback
# journal; the log file itself comes with the first write.)
hdr() { od -An -tu1 -j18 -N2 "$1" | tr -s ' ' | sed 's/^ //'; }
t_eq "WAL while held" "$(hdr "$T/perl.db")" "2 2"
exec 3>&-
wait "$hold_pid"
t_eq "test_db hold exits 0" "$?" 0
t_eq "no log left once closed" "$(ls "$T"/perl.db-* 2>/dev/null)" ""
t_eq "the reference's journal mode again" "$(sqlite3 "$T/perl.db" 'PRAGMA journal_mode')" delete

timeout 60 "$PERL" --config="$T/perl.conf" --watch=60 --debug >"$T/watch.out" 2>"$T/watch.err" &
watch_pid=$!
t_cleanup_add "t_kill_pid $watch_pid"
# Past its lock once it talks to a server.
wait_until 20 grep -q '^remote: C: ' "$T/watch.err" || t_fail "Perl interimap --watch starts"
start=$(date +%s%N)
t_run "$TDB" open "$T/perl.db"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_eq "db_open refused while the Perl program runs" "$rc" 1
t_grep "ERR_LOCKED, naming the file" "^error locked: $T/perl.db: database is locked" "$T/last.out"
if [ "$ms" -lt 2000 ]; then t_ok "refused at once ($ms ms)"; else t_fail "refused at once" "$ms ms"; fi
t_kill_pid "$watch_pid"
t_run "$TDB" open "$T/perl.db"
t_eq "db_open once the Perl program is gone" "$(cat "$T/last.out")" "opened"

# Killed while it holds the file: left in WAL mode; the Perl program
# takes it as it is and goes on (crash.sh: ours after a kill, with a log
# holding commits).
"$TDB" hold "$T/perl.db" </dev/zero >"$T/hold.out" 2>&1 &
hold_pid=$!
t_cleanup_add "t_kill_pid $hold_pid"
wait_until 10 grep -q '^held$' "$T/hold.out" || t_fail "test_db holds the database again"
kill -9 "$hold_pid"
wait "$hold_pid" 2>/dev/null
t_eq "killed: left in WAL mode" "$(hdr "$T/perl.db")" "2 2"
lt append INBOX "$T"/mail/msg-0001.eml || t_fail "append after the kill"
perl_run perl
t_eq "Perl interimap goes on after our kill -9" "$?" 0
t_grep "Perl interimap: the new message copied" '^remote\(INBOX\): Added 1 UID' "$T/last.err"
t_run "$TDB" open "$T/perl.db"
t_eq "ours opens it after the Perl program's run" "$(cat "$T/last.out")" "opened"
t_eq "the reference's journal mode after ours" "$(sqlite3 "$T/perl.db" 'PRAGMA journal_mode')" delete

# Neither creates a database in watch mode.
conf missing "$T/missing.db"
perl_run missing --watch=60
t_ne "Perl interimap --watch: no database, no run" "$?" 0
t_run "$TDB" open "$T/missing.db"
t_grep "db_open with DB_OPEN_NO_CREATE: no database" "^error other: $T/missing.db: no such database" "$T/last.out"
t_eq "no file left by either" "$(ls "$T"/missing.db* 2>/dev/null)" ""

# 4. A file we created is current for the Perl program.
conf ours "$T/ours.db"
perl_run ours --target=database --delete zzz
t_eq "Perl interimap takes our new file" "$?" 0
t_no_grep "no schema step on it" 'schema|Upgrading' "$T/last.err"

# 5. The pre-0.5 upgrade, by both.
cat >"$T/old.sql" <<'SQL'
CREATE TABLE mailboxes (idx INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, mailbox TEXT NOT NULL CHECK (mailbox != '') UNIQUE, subscribed BOOLEAN NOT NULL);
CREATE TABLE local (idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL);
CREATE TABLE remote (idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL);
CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), PRIMARY KEY (idx,lUID), UNIQUE      (idx,rUID));
INSERT INTO mailboxes (mailbox, subscribed) VALUES ('INBOX', 1), ('a/b', 0), ('a/b/c', 1), ('gone', 1);
DELETE FROM mailboxes WHERE mailbox = 'gone';
INSERT INTO local VALUES (1, 11, 5, 100), (2, 12, 2, 7);
INSERT INTO remote VALUES (1, 21, 6, -3), (2, 22, 3, 8);
INSERT INTO mapping VALUES (1, 1, 2), (1, 4, 5), (2, 1, 1);
SQL
sqlite3 "$T/old-perl.db" <"$T/old.sql" && sqlite3 "$T/old-ours.db" <"$T/old.sql" ||
	t_fail "pre-0.5 databases"
conf old "$T/old-perl.db"
perl_run old --target=database --delete zzz
t_eq "Perl interimap upgrades" "$?" 0
t_grep "Perl interimap: upgrade message" '^Upgrading database version from 0$' "$T/last.err"
t_run "$TDB" upgrade "$T/old-ours.db" / /
t_eq "ours upgrades" "$(cat "$T/last.out")" "Upgrading database version from 0"
sqlite3 "$T/old-perl.db" .dump >"$T/old-perl.dump"
sqlite3 "$T/old-ours.db" .dump >"$T/old-ours.dump"
t_same_file "the same file after either upgrade (.dump)" "$T/old-perl.dump" "$T/old-ours.dump"
t_eq "user_version 1 after either" "$(sqlite3 "$T/old-perl.db" 'PRAGMA user_version') $(sqlite3 "$T/old-ours.db" 'PRAGMA user_version')" "1 1"
t_grep "names as BLOBs with NULs" "^INSERT INTO mailboxes VALUES\(3,X'6100620063',1\);" "$T/old-ours.dump"

t_done
