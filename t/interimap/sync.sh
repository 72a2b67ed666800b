#!/bin/bash
# The whole interimap, one-shot runs, as a drop-in for the Perl interimap
# 0.5.7. Two twin setups, each a local Dovecot (preauthenticated tunnel)
# and a remote one (IMAPS over TCP, PLAIN, COMPRESS=DEFLATE): setup A
# synced by ours ($INTERIMAP), setup B by the Perl program, the same
# changes made to both. After every step: the same exit status, the same
# log lines (sorted, without the traffic summaries), the same database
# (mailboxes without idx; mapping, UIDNEXT, HIGHESTMODSEQ by mailbox
# name), the same mailboxes and messages on all four servers (UIDs,
# flags, INTERNALDATE, md5 of the bytes); each setup's two servers hold
# the same messages, none twice; and each database is consistent with
# its servers (db_consistent: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ are the
# servers', every message in exactly one pair, a pair's two messages
# alike). One Dovecot race is allowed for: a HIGHESTMODSEQ left lower
# than the server's (see db_consistent in t/lib/interimap.sh) is
# reported, not judged, and compared as the server's value.
#
# Steps: 1. first sync (INBOX, a/b, a non-ASCII name, 150 messages in
# one mailbox: two MULTIAPPEND batches; messages on both sides, flags,
# keywords, INTERNALDATEs); 2. nothing changed: no output, database
# unchanged, no SELECT; 3. flags each way, a conflict, expunges each
# way, new messages each way, new mailboxes (one whose name needs
# quoting), in one run; 4. ours and the Perl program taking turns on
# setup A's database; 5. a second instance while one holds the database
# (ours and the Perl program, both ways), fails at once; the holder
# stopped by SIGTERM, then SIGINT, as the reference; 6. a first copy of
# 300 messages, some of 1 MB: ours killed (SIGKILL) halfway, then run
# again: nothing lost, the database consistent, a third run with nothing
# to do; the same stopped by SIGTERM; the same with ours and the Perl
# program killed right after the server's OK to an APPEND (the
# documented window), their next runs compared (but for ours finding the
# copies the kill left unknown, where the Perl program copies them
# again); the uninterrupted copy compared, and timed. The duplicates the
# kills made: none for ours (issue 10); the Perl program's reported.
# shellcheck disable=SC2016 # '\Seen $Work': flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-sync
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"

pair_setup A && pair_setup B || { t_fail "four Dovecots"; t_done; }
t_log "four Dovecots ready: $(t_elapsed)"

# lines NAME: ilog_lines of NAME's stderr. (None of the deliberate
# differences of doc/interimap.1, COMPATIBILITY, and interimap/msync.h
# shows in these runs: nothing else to normalise.)
lines() { ilog_lines "$T/$1.err"; }

# stale_fix X: a sed script putting the server's HIGHESTMODSEQ in
# db_dump's lines where setup X's database has a stale one (the last
# db_consistent of X said so, see there): that one Dovecot race apart,
# the twins' values must be the same.
stale_fix() {
	local sn v side name hex
	sed -n 's/^stale: \(.*\): \(local\|remote\): HIGHESTMODSEQ \([0-9]*\) in the database, \([0-9]*\) on the server$/\2 \1\t\3 \4/p' \
		"$T/consistent.$1" | while IFS=$'\t' read -r sn v; do
		side=${sn%% *} name=${sn#* }
		hex=$(printf '%s' "$name" | tr / '\000' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
		printf 's/^%s %s \\([0-9]*\\) %s$/%s %s \\1 %s/\n' "$side" "$hex" "${v% *}" "$side" "$hex" "${v#* }"
	done
}
# snapshot X FILE: what setup X holds: database, mailboxes, messages
# (after a sides_alike of X).
snapshot() {
	local x=$1 l r
	l=${x}L r=${x}R
	{
		echo "== mailboxes table"; db_mailboxes "$T/$x.db"
		echo "== database"; db_dump "$T/$x.db" | sed -f <(stale_fix "$x")
		echo "== local mailboxes"; imap_names "${!l}"
		echo "== remote mailboxes"; imap_names "${!r}"
		echo "== local messages"; mail_digest --uids "${!l}"
		echo "== remote messages"; mail_digest --uids "${!r}"
	} >"$2"
}
# sides_alike NAME X: setup X's two servers hold the same messages, per
# mailbox (bytes, flags, INTERNALDATE; UIDs aside), and its database
# agrees with both.
sides_alike() {
	local l=${2}L r=${2}R
	mail_digest "${!l}" >"$T/sides.l"
	mail_digest "${!r}" >"$T/sides.r"
	t_same_file "$1: setup $2: local and remote hold the same messages" "$T/sides.l" "$T/sides.r" ||
		diff "$T/sides.l" "$T/sides.r" | head -n 20 | sed 's/^/#   /' >&2
	[ -n "${ALLOW_DUPS:-}" ] ||
		t_eq "$1: setup $2: no message twice in a mailbox" \
			"$(awk -F '\t' '{ split($2, a, " "); print $1, a[1] }' "$T/sides.l" | sort | uniq -d | head -n 3)" ""
	t_db_consistent "$1: setup $2: database consistent with the servers" "$T/$2.db" "${!l}" "${!r}"
	# (kept for stale_fix)
	cp "$T/consistent" "$T/consistent.$2"
	grep '^stale: ' "$T/consistent.$2" | sed "s/^/$1: setup $2: /" | while read -r l; do t_log "$l"; done
}
# settle WHO X: when a HIGHESTMODSEQ of setup X's database is stale (see
# db_consistent), a run of WHO first, which must say nothing: the next
# one can then be checked for having nothing to do at all.
settle() {
	local l=${2}L r=${2}R
	db_consistent "$T/$2.db" "${!l}" "${!r}" 2>&1 | grep -q '^stale: ' || return 0
	t_log "setup $2: a stale HIGHESTMODSEQ, one run of $1 first"
	pair_run "$1" "$2" "settle"
	t_eq "setup $2: the run that updates a stale HIGHESTMODSEQ says nothing" "$?:$(lines settle)" "0:"
}
# compare NAME [X Y]: ours' run NAME-a on setup X (default A) and the
# Perl program's NAME-b on Y (default B), statuses in RA and RB: status,
# log lines, database, servers.
compare() {
	local n=$1 x=${2:-A} y=${3:-B}
	t_eq "$n: exit status as the Perl interimap's" "$(exit_class "$RA")" "$(exit_class "$RB")"
	lines "$n-a" >"$T/$n-a.lines"
	lines "$n-b" >"$T/$n-b.lines"
	t_same_file "$n: the Perl interimap's log lines" "$T/$n-a.lines" "$T/$n-b.lines" ||
		diff "$T/$n-a.lines" "$T/$n-b.lines" | head -n 30 | sed 's/^/#   /' >&2
	sides_alike "$n" "$x"
	sides_alike "$n" "$y"
	snapshot "$x" "$T/$n-a.snap"
	snapshot "$y" "$T/$n-b.snap"
	t_same_file "$n: the Perl interimap's database and servers" "$T/$n-a.snap" "$T/$n-b.snap" ||
		diff "$T/$n-a.snap" "$T/$n-b.snap" | head -n 30 | sed 's/^/#   /' >&2
}
# both NAME [ARGS...]: ours on A, the Perl program on B, compared;
# statuses in RA and RB, times in MSA and MSB.
both() {
	local n=$1 s
	shift
	s=$(date +%s%N)
	pair_run ours A "$n-a" "$@"
	RA=$?
	MSA=$(( ($(date +%s%N) - s) / 1000000 ))
	s=$(date +%s%N)
	pair_run perl B "$n-b" "$@"
	RB=$?
	MSB=$(( ($(date +%s%N) - s) / 1000000 ))
	compare "$n"
}
# idle NAME WHO X: a run of WHO on setup X with nothing to do: status 0,
# nothing said but the traffic, nothing on stdout, database unchanged.
idle() {
	local n=$1 who=$2 x=$3 rc
	settle "$who" "$x"
	sqlite3 "$T/$x.db" .dump >"$T/$n.before"
	pair_run "$who" "$x" "$n"
	rc=$?
	sqlite3 "$T/$x.db" .dump >"$T/$n.after"
	t_eq "$n: $who on $x: nothing to do, status 0, nothing said" "$rc:$(lines "$n")$(cat "$T/$n.out")" "0:"
	t_same_file "$n: $who on $x: database unchanged" "$T/$n.before" "$T/$n.after"
}

genmail --count 200 --out "$T/mail" --sizes small --seed sync >/dev/null || { t_fail "genmail"; t_done; }
M=$T/mail
f() { printf '%s/msg-%04d.eml' "$M" "$1"; }

# ---------------------------------------------------------------------
# 1. The first sync.
{
	pair_apply l "A B" <<EOF
append | --flags | \Seen | --date | 01-Jan-2020 10:00:00 +0000 | INBOX | $(f 1)
append | --flags | \Flagged \$Work | --date | 29-Feb-2024 23:59:59 -0700 | INBOX | $(f 2)
append | --date | 03-Mar-2019 08:00:01 +0530 | INBOX | $(f 3)
append | --flags | \Answered \Seen \$Label1 | --date | 31-Dec-1999 23:59:59 +1400 | INBOX | $(f 4)
append | --flags | \Draft | --date | 05-May-2005 05:05:05 +0000 | INBOX | $(f 5)
create | a/b
append | --flags | \Seen | --date | 15-Aug-2022 12:00:00 +0200 | a/b | $(f 6) | $(f 7)
append | --date | 08-Aug-2008 08:08:08 +0800 | a/b | $(f 8)
create | Entwürfe
append | --flags | \Draft \$Brouillon | --date | 02-Feb-2022 02:02:02 -0300 | Entwürfe | $(f 9) | $(f 10)
raw | SUBSCRIBE INBOX | SUBSCRIBE a/b
EOF
} && {
	many=()
	for ((i = 16; i < 166; i++)); do many+=("$(f "$i")"); done
	pair_apply r "A B" <<EOF
append | --flags | \Answered \Seen | --date | 15-Feb-2021 12:34:56 +0100 | INBOX | $(f 11)
append | --flags | \$Label1 | --date | 12-Jan-2012 00:00:00 +0000 | INBOX | $(f 12)
append | --date | 07-Jul-2017 07:07:07 +1200 | INBOX | $(f 13) | $(f 14)
append | --flags | \Seen \Flagged \Answered \Draft \$Forwarded | --date | 15-Mar-2015 15:15:15 -0000 | INBOX | $(f 15)
create | many
append | --flags | \Seen | --date | 11-Nov-2011 11:11:11 +1100 | many$(printf ' | %s' "${many[@]:0:100}")
append | --date | 12-Dec-2012 12:12:12 -1200 | many$(printf ' | %s' "${many[@]:100}")
create | Entwürfe
append | --flags | \Seen | --date | 16-Jun-2016 16:16:16 +0100 | Entwürfe | $(f 166) | $(f 167)
raw | SUBSCRIBE many
EOF
} || t_fail "servers filled"

both first
t_eq "first: ours exits 0" "$RA" 0
t_log "first sync: ours $MSA ms, the Perl interimap $MSB ms"
FIRST_A=$MSA FIRST_B=$MSB
t_grep "first: many copied in two MULTIAPPEND batches" '^local\(many\): Added 128 UID\(s\) 1:128 <- 1:128$' "$T/first-a.err"
t_grep "first: ... and the rest" '^local\(many\): Added 22 UID\(s\) 129:150 <- 129:150$' "$T/first-a.err"
t_grep "first: the non-ASCII name" '^local\(Entw&APw-rfe\): Added 2 UID\(s\) 3:4 <- 1:2$' "$T/first-a.err"
t_grep "first: a/b created remotely" '^remote: Created mailbox a/b$' "$T/first-a.err"
t_eq "first: 4 mailboxes on each side" "$(imap_names "$AL" | wc -l) $(imap_names "$AR" | wc -l)" "4 4"
t_eq "first: 150 + 10 + 4 + 3 pairs" "$(sqlite3 "$T/A.db" 'SELECT count(*) FROM mapping')" 167
t_grep "first: remote compressed" '^remote: IMAP traffic \(bytes\): recv [0-9.]+[KM]? \(compr\. ' "$T/first-a.err"

t_log "step 1 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# 2. Nothing changed: nothing said, nothing written, not even a SELECT.
settle ours A
settle perl B
sqlite3 "$T/A.db" .dump >"$T/idle.a.before"
sqlite3 "$T/B.db" .dump >"$T/idle.b.before"
both idle
t_eq "idle: status 0, nothing said, nothing on stdout" "$RA:$(cat "$T/idle-a.lines" "$T/idle-a.out")" "0:"
t_eq "idle: the traffic summaries only" "$(grep -vc 'IMAP traffic' "$T/idle-a.err")" 0
sqlite3 "$T/A.db" .dump >"$T/idle.a.after"
sqlite3 "$T/B.db" .dump >"$T/idle.b.after"
t_same_file "idle: database unchanged (ours)" "$T/idle.a.before" "$T/idle.a.after"
t_same_file "idle: database unchanged (the Perl interimap)" "$T/idle.b.before" "$T/idle.b.after"
pair_run ours A idle-d --debug
t_eq "idle --debug: status 0" "$?" 0
t_grep "idle --debug: a LIST on each side" '^remote: C: [0-9]+ LIST .* RETURN \(SUBSCRIBED STATUS ' "$T/idle-d.err"
t_no_grep "idle --debug: no SELECT, FETCH, STORE or APPEND" ': C: [0-9]+ (SELECT|EXAMINE|UID|APPEND|STORE|FETCH)' "$T/idle-d.err"
pair_run perl B idle-pd --debug
t_no_grep "idle --debug: no SELECT from the Perl interimap either" ': C: [0-9]+ (SELECT|EXAMINE|UID|APPEND)' "$T/idle-pd.err"
t_log "step 2 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# 3. Everything at once. The pairs after step 1: INBOX (1,6) (2,7) (3,8)
# (4,9) (5,10) (6,1) (7,2) (8,3) (9,4) (10,5); a/b (1,1) (2,2) (3,3);
# many (n,n).
pair_apply l "A B" <<EOF || t_fail "local changes"
store | INBOX | 1 | +FLAGS | (\Flagged)
store | INBOX | 3 | +FLAGS | (\$Todo)
store | INBOX | 4 | -FLAGS | (\Seen)
store | INBOX | 6 | FLAGS | (\Seen)
expunge | INBOX | 2
expunge | INBOX | 5
store | a/b | 2 | +FLAGS | (\Answered)
expunge | many | 20:25
store | many | 10 | +FLAGS | (\Flagged \$Important)
append | --flags | \Seen | --date | 17-Apr-2026 10:00:00 +0000 | INBOX | $(f 170)
create | nouveau/sous
append | --flags | \Flagged | --date | 01-Oct-2025 09:30:00 -0400 | nouveau/sous | $(f 171) | $(f 172)
raw | SUBSCRIBE nouveau/sous
EOF
pair_apply r "A B" <<EOF || t_fail "remote changes"
store | INBOX | 9 | +FLAGS | (\Flagged)
store | INBOX | 3 | +FLAGS | (\Seen)
store | INBOX | 7 | +FLAGS | (\Flagged)
expunge | INBOX | 2
expunge | INBOX | 10
store | a/b | 1 | +FLAGS | (\Flagged)
store | a/b | 2 | +FLAGS | (\Answered)
expunge | many | 100
append | --date | 18-Apr-2026 11:00:00 +0200 | many | $(f 173) | $(f 174)
store | Entwürfe | 1 | -FLAGS | (\Seen)
append | --flags | \Draft | --date | 19-Apr-2026 12:00:00 -0100 | Entwürfe | $(f 175)
create | R&D "plans"
append | --flags | \Seen | --date | 09-Sep-2019 09:09:09 +0900 | R&D "plans" | $(f 181)
EOF
both changes
t_eq "changes: ours exits 0" "$RA" 0
t_grep "changes: the conflict" '^WARNING: Conflicting flag update in INBOX for local UID 4 \(\$Label1 \\Answered\) and remote UID 9 \(\$Label1 \\Answered \\Flagged \\Seen\)\. Setting both to the union \(\$Label1 \\Answered \\Flagged \\Seen\)\.$' "$T/changes-a.err"
t_grep "changes: a local expunge" '^remote\(INBOX\): Removed 1 UID\(s\) 7$' "$T/changes-a.err"
t_grep "changes: a remote expunge" '^local\(INBOX\): Removed 1 UID\(s\) 7$' "$T/changes-a.err"
t_no_grep "changes: a pair expunged on both sides: nothing to do" 'Removed .* (5|10)$' "$T/changes-a.err"
t_no_grep "changes: the same change on both sides: nothing to do" '\(a/b\): Updated flags \(\\Answered' "$T/changes-a.err"
t_grep "changes: the new mailbox" '^remote: Created mailbox nouveau/sous$' "$T/changes-a.err"
t_grep "changes: its messages" '^remote\(nouveau/sous\): Added 2 UID\(s\) 1:2 -> 1:2$' "$T/changes-a.err"
t_grep "changes: a name to quote, from the remote" '^local\(R&-D "plans"\): Added 1 UID\(s\) 1 <- 1$' "$T/changes-a.err"
t_log "step 3 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# 4. Ours and the Perl interimap take turns on setup A's database (setup
# B, the Perl program alone, gets the same changes, for comparison).
idle alt1 ours A
idle alt2 perl A
pair_apply l "A B" <<EOF || t_fail "changes X, local"
append | --flags | \Seen | --date | 20-Apr-2026 08:00:00 +0000 | INBOX | $(f 176) | $(f 177)
store | many | 1:3 | +FLAGS | (\Answered)
expunge | Entwürfe | 1
EOF
pair_apply r "A B" <<EOF || t_fail "changes X, remote"
append | --date | 21-Apr-2026 08:00:00 +0000 | a/b | $(f 178)
expunge | many | 140:145
store | nouveau/sous | 1 | +FLAGS | (\Seen)
EOF
pair_run perl A alt3-a
RA=$?
pair_run perl B alt3-b
RB=$?
compare alt3
t_eq "alt3: the Perl interimap on ours' database exits 0" "$RA" 0
t_grep "alt3: ... and does the work" '^remote\(INBOX\): Added 2 UID\(s\) ' "$T/alt3-a.err"
idle alt4 ours A
pair_apply l "A B" <<EOF || t_fail "changes Y, local"
append | --date | 22-Apr-2026 08:00:00 +0000 | nouveau/sous | $(f 179)
store | INBOX | 1 | -FLAGS | (\Flagged)
EOF
pair_apply r "A B" <<EOF || t_fail "changes Y, remote"
append | --flags | \$Junk | --date | 23-Apr-2026 08:00:00 +0000 | INBOX | $(f 180)
expunge | a/b | 3
EOF
both alt5 -q
t_eq "alt5: ours after the Perl interimap exits 0, nothing said (-q)" "$RA:$(cat "$T/alt5-a.err")" "0:"
t_eq "alt5: ... and does the work" "$(IMAP_TUNNEL=$AL imap_tool count INBOX)" 11
idle alt6 perl A
idle alt7 ours A
t_eq "alternating: mapping rows as many as the messages" \
	"$(sqlite3 "$T/A.db" 'SELECT count(*) FROM mapping')" "$(mail_digest "$AL" | wc -l)"
t_log "step 4 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# 5. One instance at a time: while one (ours, then the Perl program)
# holds setup A's database, a second one (each of them) fails at once,
# before any connection.
hang_tunnel "$T/hang.sh" "$T/hang"
hang_tunnel "$T/hang2.sh" "$T/hang2"
tunnel_conf "$T/H.conf" "$T/A.db" "$T/hang.sh" "$T/hang2.sh"
sqlite3 "$T/A.db" .dump >"$T/lock.before"
# The holder is then stopped by a signal, as the reference handles them
# (I:155-156): SIGTERM, status 0; SIGINT, status 1 and the line
# "Interrupted system call" (its $!); both close their connections and
# print the traffic (but ours not for a side it had not connected to:
# doc/interimap.1, COMPATIBILITY).
for sig in TERM INT; do
	for holder in ours perl; do
		n="$sig-$holder"
		bin=$INTERIMAP
		[ $holder = perl ] && bin=$PERL
		rm -f "$T"/hang/* "$T"/hang2/*
		"$bin" --config="$T/H.conf" >"$T/$n.out" 2>"$T/$n.err" &
		h_pid=$!
		t_cleanup_add "t_kill_pid $h_pid"
		wait_until 10 sh -c "ls '$T'/hang/* >/dev/null 2>&1" || t_fail "lock: $holder holds the database"
		# (ours opens the remote side too meanwhile, the Perl
		# program only once the local one greeted: never here)
		held="1 0"
		if [ $holder = ours ]; then
			wait_until 10 sh -c "ls '$T'/hang2/* >/dev/null 2>&1" || t_fail "lock: ours opens both sides"
			held="1 1"
		fi
		for second in ours perl; do
			[ $sig = TERM ] || break
			m="lock-$holder-$second"
			start=$(date +%s%N)
			pair_run $second H "$m"
			rc=$?
			ms=$(( ($(date +%s%N) - start) / 1000000 ))
			t_eq "$m: refused (status neither 0 nor 1)" "$(exit_class $rc)" X
			t_grep "$m: database is locked" 'database is locked' "$T/$m.err"
			t_eq "$m: no connection" "$(ls "$T"/hang | wc -l) $(ls "$T"/hang2 | wc -l)" "$held"
			if [ "$ms" -lt 2000 ]; then t_ok "$m: at once ($ms ms)"; else t_fail "$m: at once" "$ms ms"; fi
		done
		kill -"$sig" "$h_pid"
		{ wait "$h_pid"; } 2>/dev/null
		printf '%s\n' "$?" >"$T/$n.rc"
	done
	t_eq "SIG$sig: ours' status and lines as the reference's" \
		"$(cat "$T/$sig-ours.rc"):$(lines "$sig-ours")" "$(cat "$T/$sig-perl.rc"):$(lines "$sig-perl")"
done
t_eq "SIGINT: the reference's status and words" "$(cat "$T/INT-perl.rc"):$(lines INT-perl)" "1:Interrupted system call"
sqlite3 "$T/A.db" .dump >"$T/lock.after"
t_same_file "lock: the holders left the database as it was" "$T/lock.before" "$T/lock.after"
idle lock-after ours A
t_log "step 5 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# 6. A first copy of 300 messages (6 of 1 MB) one way, and 5 the other
# (but on W and V): ours killed (SIGKILL) halfway, once the remote holds
# 140 of them, then run again (setup K); the same with SIGTERM (setup
# Q); ours killed by a relay on its remote connection when the server
# has said OK to its second APPEND, the window the reference documents
# as making duplicates (setup W), and the Perl interimap likewise (setup
# V), then the next runs compared; ours and the Perl interimap
# uninterrupted (setups O and P, compared).

# setup_relay X: as setup, but the remote through its tunnel and
# $T/relay.py, without COMPRESS (the relay reads the server's lines).
setup_relay() {
	local x=$1 lt
	dovecot_init "$T/${x}l" >/dev/null || return 1
	lt=$DOVECOT_TUNNEL
	printf -v "${x}L" '%s' "$lt"
	dovecot_init "$T/${x}r" >/dev/null || return 1
	printf -v "${x}R" '%s' "$DOVECOT_TUNNEL $DOVECOT_DEST_USER"
	REMOTE_EXTRA="compress = NO" tunnel_conf "$T/$x.conf" "$T/$x.db" "$lt" \
		"$T_PYTHON $T/relay.py $T/$x.pid 2 $DOVECOT_TUNNEL $DOVECOT_DEST_USER"
}
# relay.py PIDFILE N COMMAND...: COMMAND's IMAP session, relayed; when
# the server says OK to the Nth APPEND and PIDFILE exists, the process
# it names is killed (SIGKILL) before that line is passed on, and
# PIDFILE removed.
cat >"$T/relay.py" <<'EOF'
import os, re, signal, subprocess, sys, threading
pidfile, n, cmd = sys.argv[1], int(sys.argv[2]), " ".join(sys.argv[3:])
p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
def up():
    # (a client killed with bytes unread: ECONNRESET, the end too)
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            p.stdin.write(b)
    except OSError:
        pass
    try:
        p.stdin.close()
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
seen = 0
for line in p.stdout:
    if re.match(rb"\d+ OK \[APPENDUID ", line):
        seen += 1
        if seen == n and os.path.exists(pidfile):
            os.kill(int(open(pidfile).read()), signal.SIGKILL)
            os.unlink(pidfile)
            break
    os.write(1, line)
# the server's session ends with its input
p.stdin.close()
p.wait()
EOF
pair_setup K && pair_setup O && pair_setup P && pair_setup Q && setup_relay W && setup_relay V || { t_fail "six more Dovecot pairs"; t_done; }
genmail --count 299 --out "$T/kmail" --sizes small --seed sync-kill >/dev/null || t_fail "genmail"
bulk=()
for ((i = 1; i <= 294; i++)); do
	bulk+=("$(printf '%s/msg-%04d.eml' "$T/kmail" "$i")")
	if [ $((i % 20)) = 10 ] && [ $i -ge 130 ] && [ $i -le 230 ]; then
		genmail --count 1 --out "$T/kbig$i" --big-mb 1 --seed "sync-big-$i" >/dev/null || t_fail "genmail --big-mb"
		bulk+=("$T/kbig$i/msg-big.eml")
	fi
done
t_eq "kill: 300 messages" "${#bulk[@]}" 300
pair_apply l "K O P Q W V" <<EOF || t_fail "kill: local filled"
create | bulk
append | --flags | \Seen | --date | 24-Apr-2026 08:00:00 +0000 | bulk$(printf ' | %s' "${bulk[@]}")
EOF
# (not on W and V, where the mailboxes' order would count: ours goes by
# name, the Perl program in hash order, and a kill in bulk may come
# before or after INBOX was done)
pair_apply r "K O P Q" <<EOF || t_fail "kill: remote filled"
append | --date | 25-Apr-2026 08:00:00 +0000 | INBOX$(for i in 295 296 297 298 299; do printf ' | %s/msg-%04d.eml' "$T/kmail" "$i"; done)
EOF
printf '%s\n' "${bulk[@]}" | xargs md5sum | cut -d' ' -f1 | sort -u >"$T/window.want"
{
	cat "$T/window.want"
	for i in 295 296 297 298 299; do md5sum <"$(printf '%s/msg-%04d.eml' "$T/kmail" "$i")"; done | cut -d' ' -f1
} | sort -u >"$T/kill.want"
t_eq "kill: 300 + 5 distinct messages" "$(wc -l <"$T/window.want") $(wc -l <"$T/kill.want")" "300 305"

# no_loss NAME X WANT: after a kill and a complete run on setup X, no
# message of WANT (md5s, one a line) is lost on either side; the
# duplicates (the messages there beyond WANT) in DUPS, and said.
no_loss() {
	local n=$1 x=$2 want=$3 lost=0 s l r w
	l=${x}L r=${x}R
	w=$(wc -l <"$want")
	mail_digest "${!l}" >"$T/$n.l"
	mail_digest "${!r}" >"$T/$n.r"
	for s in l r; do
		cut -f2 "$T/$n.$s" | cut -d' ' -f1 | sort -u >"$T/$n.have"
		lost=$((lost + $(comm -23 "$want" "$T/$n.have" | wc -l)))
	done
	t_eq "$n: setup $x: no message lost" "$lost" 0
	DUPS="$(($(wc -l <"$T/$n.l") - w)) local, $(($(wc -l <"$T/$n.r") - w)) remote"
	t_log "$n: setup $x: duplicates after the kill and the next run: $DUPS (issue 10)"
}

rbulk() { find "$T/Kr/home/dest/Maildir/.bulk/cur" "$T/Kr/home/dest/Maildir/.bulk/new" -type f 2>/dev/null | wc -l; }
# (ours itself in the background, not through run: the SIGKILL is for it)
"$INTERIMAP" --config="$T/K.conf" >"$T/kill-1.out" 2>"$T/kill-1.err" &
k_pid=$!
t_cleanup_add "t_kill_pid $k_pid"
wait_until 60 sh -c "[ \$(find '$T/Kr/home/dest/Maildir/.bulk/cur' '$T/Kr/home/dest/Maildir/.bulk/new' -type f 2>/dev/null | wc -l) -ge 140 ]"
if kill -KILL "$k_pid" 2>/dev/null; then
	at_kill=$(rbulk)
	t_ok "kill: ours killed in the middle of the copy"
else
	at_kill=none
	t_fail "kill: ours killed in the middle of the copy" "it was not running any more"
fi
{ wait "$k_pid"; } 2>/dev/null
t_log "kill: SIGKILL with $at_kill messages on the remote ($(rbulk) once the server was done), pairs committed: $(sqlite3 "$T/K.db" 'SELECT count(*) FROM mapping' 2>/dev/null)"
pair_run ours K kill-2
t_eq "kill: the next run exits 0" "$?" 0
t_grep "kill: the next run resumes" '^Resuming interrupted sync for bulk$' "$T/kill-2.err"
sides_alike kill K
no_loss kill K "$T/kill.want"
t_eq "kill: no duplicate" "$DUPS" "0 local, 0 remote"
idle kill-3 ours K
DUPS_K=$DUPS

# SIGTERM instead (setup Q), at the same point: ours stops at once, as
# the reference (exit 0, no error, the traffic said); the next run
# resumes.
"$INTERIMAP" --config="$T/Q.conf" >"$T/term-1.out" 2>"$T/term-1.err" &
q_pid=$!
t_cleanup_add "t_kill_pid $q_pid"
wait_until 60 sh -c "[ \$(find '$T/Qr/home/dest/Maildir/.bulk/cur' '$T/Qr/home/dest/Maildir/.bulk/new' -type f 2>/dev/null | wc -l) -ge 140 ]"
kill -TERM "$q_pid" 2>/dev/null || t_fail "term: ours stopped in the middle of the copy" "it was not running any more"
{ wait "$q_pid"; } 2>/dev/null
t_eq "term: SIGTERM in the middle of the copy: status 0, no error" "$?:$(grep -c ERROR "$T/term-1.err")" 0:0
t_eq "term: ... the traffic said" "$(grep -c 'IMAP traffic' "$T/term-1.err")" 2
t_log "term: pairs committed: $(sqlite3 "$T/Q.db" 'SELECT count(*) FROM mapping')"
pair_run ours Q term-2
t_eq "term: the next run exits 0" "$?" 0
t_grep "term: the next run resumes" '^Resuming interrupted sync for bulk$' "$T/term-2.err"
sides_alike term Q
no_loss term Q "$T/kill.want"
t_eq "term: no duplicate" "$DUPS" "0 local, 0 remote"
idle term-3 ours Q

# The same kill of ours on W and of the Perl program on V, then the next
# run of each, compared: ours finds the second batch's copies on the
# remote ("Recovered"), the Perl program copies them again (the
# "Added" lines of its duplicates, both ways): the log lines are the
# same but these; the Perl program's duplicates reported.
for x in W V; do
	bin=$INTERIMAP
	[ $x = V ] && bin=$PERL
	"$bin" --config="$T/$x.conf" >"$T/window-1-$x.out" 2>"$T/window-1-$x.err" &
	w_pid=$!
	echo "$w_pid" >"$T/$x.pid"
	t_cleanup_add "t_kill_pid $w_pid"
	{ wait "$w_pid"; } 2>/dev/null
	t_eq "window: $x: killed by the relay (SIGKILL)" "$?:$([ -e "$T/$x.pid" ] && echo pidfile left)" 137:
	t_eq "window: $x: the first batch's pairs only committed" \
		"$(sqlite3 "$T/$x.db" "SELECT count(*) FROM mapping JOIN mailboxes USING (idx) WHERE mailbox = CAST('bulk' AS BLOB)")" 128
done
pair_run ours W window-2-a
RA=$?
pair_run perl V window-2-b
RB=$?
t_eq "window: the next runs exit 0" "$RA $RB" "0 0"
t_grep "window: the next run resumes" '^Resuming interrupted sync for bulk$' "$T/window-2-a.err"
t_grep "window: ours finds the copies of the batch the kill cut off" \
	'^remote\(bulk\): Recovered [0-9]+ UID\(s\) [0-9:,]+ -> [0-9:,]+ copied before an interruption$' "$T/window-2-a.err"
rec=$(sed -n 's/^remote(bulk): Recovered \([0-9]*\) UID.*/\1/p' "$T/window-2-a.err")
# The rest as the Perl program's: its lines but the copies in bulk (of
# the messages ours recovered, both ways: the originals to the remote
# again, the copies the kill left back to the local), ours but the
# "Recovered" line.
lines window-2-a | grep -v ': Recovered ' >"$T/window-2-a.lines"
lines window-2-b | grep -Ev '^(local|remote)\(bulk\): Added ' >"$T/window-2-b.lines"
lines window-2-a | grep -E '^(local|remote)\(bulk\): Added ' | LC_ALL=C sort - "$T/window-2-b.lines" -o "$T/window-2-b.lines"
t_same_file "window-2: the Perl interimap's log lines, but the copies again" "$T/window-2-a.lines" "$T/window-2-b.lines" ||
	diff "$T/window-2-a.lines" "$T/window-2-b.lines" | head -n 30 | sed 's/^/#   /' >&2
t_eq "window: the Perl program copies them again, both ways" \
	"$(grep -cE '^local\(bulk\): Added ' "$T/window-2-b.err") $(grep -cE '^local\(bulk\): Added ' "$T/window-2-a.err")" "1 0"
sides_alike window-2 W
ALLOW_DUPS=1 sides_alike window-2 V
no_loss window V "$T/window.want"
DUPS_V=$DUPS
no_loss window W "$T/window.want"
t_eq "window: ours: no duplicate (the Perl program: $DUPS_V)" "$DUPS" "0 local, 0 remote"
t_log "window: ours recovered $rec copies; the Perl program duplicated $DUPS_V"
idle window-3 ours W
idle window-3p perl V
DUPS_W=$DUPS

s=$(date +%s%N)
pair_run ours O full-a
RA=$?
MSA=$(( ($(date +%s%N) - s) / 1000000 ))
s=$(date +%s%N)
pair_run perl P full-b
RB=$?
MSB=$(( ($(date +%s%N) - s) / 1000000 ))
t_log "first sync of 305 messages (6 of 1 MB): ours $MSA ms, the Perl interimap $MSB ms"
compare full O P
t_eq "full: ours exits 0" "$RA" 0
t_grep "full: a 1 MB message in a batch of its own" '^remote\(bulk\): Added 1 UID\(s\) 131 -> 131$' "$T/full-a.err"

# Whatever else happened: no sanitizer report from ours.
t_eq "no sanitizer report" "$(grep -lE 'Sanitizer|runtime error' "$T"/*.err | head -n 3)" ""

t_log "figures: first sync (step 1) ours $FIRST_A ms, Perl $FIRST_B ms; 305 messages ours $MSA ms, Perl $MSB ms; duplicates after kill -9: ours $DUPS_K (at a count), $DUPS_W (right after an APPEND's OK), Perl $DUPS_V (right after an APPEND's OK)"
t_log "all steps done: $(t_elapsed)"
t_done
