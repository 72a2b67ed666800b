#!/bin/bash
# interimap --watch and --notify, as a drop-in for the Perl interimap
# 0.5.7 (notes-interimap.md §4.14), on twin setups: ours on A, the Perl
# program on B, each a local Dovecot through its tunnel and a remote one
# over IMAPS. Every change is made to both setups; both programs watch
# meanwhile; each setup must come to hold the same messages on both
# sides (waited for, bounded), and the two setups the same end state.
#
# 1. --watch and --notify never create a database; 2. --watch=1 carries
# new messages, flags, expunges and a mailbox created meanwhile both
# ways, UNSELECT between rounds, a LIST-STATUS per side and round, and
# ends with status 0 on SIGTERM, even one landing inside the wait; 3. a
# server without UNSELECT: NOOP instead; 4. --notify: NOTIFY SET STATUS
# with the working list, then NOTIFY SET with the personal group,
# changes carried both ways, no LIST-STATUS; 5. --notify against a server
# without NOTIFY; 6. a known mailbox deleted on one side while watching:
# the reference's error, status 1; 7. SIGINT: status 0 (issue 10).
# shellcheck disable=SC2016 # '\Seen $Work': flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-watch
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
[ -x "$INTERIMAP_PERL" ] || t_skip_all "no Perl interimap ($INTERIMAP_PERL)"

# alike X N: setup X's two sides hold the same messages, N in all.
alike() {
	local l=${1}L r=${1}R
	mail_digest "${!l}" >"$T/alike.$1.l" 2>/dev/null || return 1
	mail_digest "${!r}" >"$T/alike.$1.r" 2>/dev/null || return 1
	cmp -s "$T/alike.$1.l" "$T/alike.$1.r" && [ "$(wc -l <"$T/alike.$1.l")" -eq "$2" ]
}

# settled NAME N: both setups come (within 30 s) to hold N messages a
# side, alike; then the same messages on all four servers.
settled() {
	local x
	for x in A B; do
		if wait_until 30 alike "$x" "$2"; then
			t_ok "$1: setup $x: both sides alike, $2 messages"
		else
			t_fail "$1: setup $x: both sides alike, $2 messages" "$(diff "$T/alike.$x.l" "$T/alike.$x.r" | head -n 5)"
		fi
	done
	t_same_file "$1: ours and the Perl interimap: the same messages" "$T/alike.A.l" "$T/alike.B.l"
}

# both_start NAME [--debug] ARGS...: ours on setup A ($T/NAME-a.err; with
# --debug if given) and the Perl interimap on B ($T/NAME-b.err), both with
# ARGS, in the background.
both_start() {
	local n=$1 d=()
	shift
	if [ "$1" = --debug ]; then d=(--debug); shift; fi
	pair_start ours A "$n-a" "$@" "${d[@]}"
	pair_start perl B "$n-b" "$@"
}

# both_stopped PREFIX STATUS: both watchers sent SIGTERM; each must exit
# with STATUS.
both_stopped() {
	pair_stop A TERM; t_eq "${1}ours exits $2" "$STOPPED" "$2"
	pair_stop B TERM; t_eq "${1}the Perl interimap exits $2" "$STOPPED" "$2"
}

# up NAME WHAT [ERE]: within 20 s, ours' --debug log $T/NAME.err shows ERE
# (a LIST by default: its first round is under way); WHAT failed if not.
up() { wait_until 20 grep -q "${3:-C: [0-9]* LIST }" "$T/$1.err" || t_fail "$2"; }

# consistent NAME: each setup's database agrees with its servers.
consistent() {
	local x l r
	for x in A B; do
		l=${x}L r=${x}R
		t_db_consistent "$1: setup $x: database consistent with the servers" "$T/$x.db" "${!l}" "${!r}"
	done
}

genmail --count 30 --out "$T/mail" --sizes small --seed watch >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }

pair_setup A && pair_setup B || { t_fail "four Dovecots"; t_done; }

# ---------------------------------------------------------------------
# 1. A long-lived mode never creates the database.
for who in ours perl; do
	for mode in --watch=1 "--notify"; do
		pair_run "$who" A "nodb-$who" $mode
		rc=$?
		# (the reference dies: neither 0 nor 1)
		[ "$rc" -gt 1 ] && t_ok "no database, $who $mode: dies ($rc)" ||
			t_fail "no database, $who $mode: dies" "status $rc"
		t_eq "no database, $who $mode: none created" "$(ls "$T"/A.db 2>/dev/null)" ""
	done
done
t_grep "no database: ours says why" 'A\.db' "$T/nodb-ours.err"

# ---------------------------------------------------------------------
# 2. --watch=1.
pair_apply l "A B" <<EOF || t_fail "servers filled"
append | --flags | \Seen | --date | 01-Jan-2020 10:00:00 +0000 | INBOX | $(f 1) | $(f 2)
create | a/b
append | --date | 02-Feb-2021 10:00:00 +0100 | a/b | $(f 3)
EOF
pair_apply r "A B" <<EOF || t_fail "servers filled"
append | --flags | \Flagged | --date | 03-Mar-2022 10:00:00 -0500 | INBOX | $(f 4)
EOF
pair_run ours A first-a && pair_run perl B first-b || t_fail "first syncs" "$(cat "$T/first-a.err" "$T/first-b.err")"
alike A 4 && alike B 4 || t_fail "first syncs: 4 messages a side"

both_start watch --debug --watch=1
# (after their first round: nothing to do, but each must be up)
up watch-a "watch: ours is listing"
pair_apply l "A B" <<EOF || t_fail "watch: changes"
append | --date | 04-Apr-2023 10:00:00 +0000 | INBOX | $(f 5)
store | INBOX | 1 | +FLAGS | \Answered
EOF
pair_apply r "A B" <<EOF || t_fail "watch: changes"
create | c
append | --flags | \Seen | --date | 05-May-2024 10:00:00 +0000 | c | $(f 6) | $(f 7)
append | --date | 06-Jun-2024 10:00:00 +0000 | a/b | $(f 8)
EOF
settled "watch: new, flagged, a new mailbox" 8
pair_apply r "A B" <<EOF || t_fail "watch: expunge"
expunge | INBOX | 1
EOF
pair_apply l "A B" <<EOF || t_fail "watch: flags"
store | a/b | 1 | +FLAGS | \Flagged \$Later
EOF
settled "watch: expunged, flagged" 7
t_eq "watch: ours is still running" "$(kill -0 "$PID_A" 2>&1 && echo yes)" yes
both_stopped "watch: SIGTERM: " 0
t_eq "watch: nothing on ours' stdout" "$(cat "$T/watch-a.out")" ""
t_grep "watch: local UNSELECT between rounds" '^local(\([^)]*\))?: C: [0-9]+ UNSELECT$' "$T/watch-a.err"
t_grep "watch: remote UNSELECT between rounds" '^remote(\([^)]*\))?: C: [0-9]+ UNSELECT$' "$T/watch-a.err"
t_eq "watch: after UNSELECT, no mailbox in the prefix (the next local LIST)" \
	"$(awk '/^local[(:].* C: [0-9]+ UNSELECT$/ { u = 1; next } u && /^local[(:].* C: [0-9]+ LIST / { print $1; exit }' "$T/watch-a.err")" "local:"
t_eq "watch: no NOOP (both offer UNSELECT)" "$(grep -cE ': C: [0-9]+ NOOP$' "$T/watch-a.err")" 0
lists=$(grep -cE '^local(\([^)]*\))?: C: [0-9]+ LIST .*RETURN \(SUBSCRIBED STATUS \(UIDVALIDITY UIDNEXT HIGHESTMODSEQ\)\)' "$T/watch-a.err")
[ "$lists" -ge 3 ] && t_ok "watch: the local list again every round ($lists LISTs)" ||
	t_fail "watch: the local list again every round" "$lists LISTs"
t_grep "watch: the new mailbox created locally" '^local: Created mailbox c$' "$T/watch-a.err"
t_grep "watch: its messages copied" '^local\(c\): Added 2 UID\(s\) ' "$T/watch-a.err"
consistent watch
t_eq "watch: the same mailboxes table as the Perl interimap's" "$(db_mailboxes "$T/A.db")" "$(db_mailboxes "$T/B.db")"
# Ours' log lines are the Perl program's, but when a change was picked up
# in another round: compared as sets of kinds.
kinds() { grep -vE ': [CS]: |^>>>|^Adding mapping|IMAP traffic|^started |^connected |^TLS |^DEFLATE |Using ".*" as hierarchy|^Cleaning up' "$1" |
	sed -E 's/Added [0-9]+ UID\(s\) .*/Added/; s/Updated flags \(.*/Updated flags/; s/Removed [0-9]+ UID\(s\) .*/Removed/' | LC_ALL=C sort -u; }
t_eq "watch: the Perl interimap's kinds of log lines" "$(kinds "$T/watch-a.err")" "$(kinds "$T/watch-b.err")"

# SIGTERM landing inside the wait (the test hook sends it there).
INTERIMAP_TEST_WAIT_SIGNAL=15 timeout 30 "$INTERIMAP" --config="$T/A.conf" --watch=60 >"$T/hook.out" 2>"$T/hook.err"
t_eq "watch: SIGTERM inside the wait: status 0 at once" "$?" 0

# ---------------------------------------------------------------------
# 3. A local server without UNSELECT: NOOP on both sides instead.
PAIR_LOCAL_DOVECOT="imap_capability = IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS MULTIAPPEND LITERAL+ NAMESPACE CHILDREN ID IDLE" pair_setup U ||
	t_fail "setup U"
IMAP_TUNNEL=$UL imap_append INBOX "$(f 9)" >/dev/null
pair_run ours U first-u || t_fail "no UNSELECT: first sync" "$(cat "$T/first-u.err")"
pair_start ours U watch-u --watch=1 --debug
up watch-u "no UNSELECT: ours is listing"
IMAP_TUNNEL=$UR imap_append INBOX "$(f 10)" >/dev/null
t_within "no UNSELECT: a new message carried" 30 alike U 2
wait_until 20 grep -qE '^local(\([^)]*\))?: C: [0-9]+ NOOP$' "$T/watch-u.err"
pair_stop U TERM; t_eq "no UNSELECT: SIGTERM: status 0" "$STOPPED" 0
t_grep "no UNSELECT: local NOOP" '^local(\([^)]*\))?: C: [0-9]+ NOOP$' "$T/watch-u.err"
t_grep "no UNSELECT: remote NOOP" '^remote(\([^)]*\))?: C: [0-9]+ NOOP$' "$T/watch-u.err"
t_eq "no UNSELECT: no UNSELECT sent" "$(grep -cE ': C: [0-9]+ UNSELECT$' "$T/watch-u.err")" 0

# ---------------------------------------------------------------------
# 4. --notify (--watch=1: a NOOP every second without news).
both_start notify --debug --notify --watch=1
up notify-a "notify: ours is set up" 'C: [0-9]* NOTIFY SET ('
pair_apply l "A B" <<EOF || t_fail "notify: changes"
append | --date | 07-Jul-2024 10:00:00 +0000 | c | $(f 11)
store | INBOX | 2 | +FLAGS | \Flagged
EOF
pair_apply r "A B" <<EOF || t_fail "notify: changes"
append | --flags | \Seen | --date | 08-Aug-2024 10:00:00 +0000 | a/b | $(f 12) | $(f 13)
EOF
settled "notify: new messages and a flag both ways" 10
both_stopped "notify: SIGTERM: " 0
ev='\(MessageNew MessageExpunge FlagChange\)'
t_grep "notify: NOTIFY SET STATUS with the working list, local" \
	"^local(\\([^)]*\\))?: C: [0-9]+ NOTIFY SET STATUS \\(MAILBOXES \\(INBOX a/b c\\) $ev\\) \\(SELECTED $ev\\)\$" "$T/notify-a.err"
t_grep "notify: then NOTIFY SET with the personal group, remote" \
	"^remote(\\([^)]*\\))?: C: [0-9]+ NOTIFY SET \\(MAILBOXES \\(INBOX a/b c\\) $ev\\) \\(SELECTED $ev\\) \\(PERSONAL \\(MailboxName SubscriptionChange\\)\\)\$" "$T/notify-a.err"
t_eq "notify: LIST without STATUS" "$(grep -cE ': C: [0-9]+ LIST .*STATUS' "$T/notify-a.err")" 0
# (unlike the reference's, the lists again at each interval, with NOTIFY
# SET STATUS: issue 10)
n=$(grep -cE '^local(\([^)]*\))?: C: [0-9]+ NOTIFY SET STATUS ' "$T/notify-a.err")
[ "$n" -ge 2 ] && [ "$n" = "$(grep -cE '^local(\([^)]*\))?: C: [0-9]+ LIST ' "$T/notify-a.err")" ] &&
	t_ok "notify: a LIST and a NOTIFY SET STATUS at each interval ($n)" ||
	t_fail "notify: a LIST and a NOTIFY SET STATUS at each interval" "$n"
t_grep "notify: INBOX watched with IDLE" '^remote\(INBOX\): C: [0-9]+ IDLE$' "$T/notify-a.err"
t_eq "notify: the Perl interimap's kinds of log lines" "$(kinds "$T/notify-a.err")" "$(kinds "$T/notify-b.err")"
consistent notify

# ---------------------------------------------------------------------
# 5. --notify against a server without NOTIFY. With LIST-STATUS: a
# warning and --watch's ways (issue 10; the Perl interimap stops, after
# the mailbox-list sync). Without LIST-STATUS either: the reference's
# words, as the Perl interimap's.
PAIR_LOCAL_DOVECOT="imap_capability = IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS UNSELECT MULTIAPPEND LITERAL+ IDLE" pair_setup N ||
	t_fail "setup N"
pair_run ours N first-n || t_fail "no NOTIFY: first sync" "$(cat "$T/first-n.err")"
pair_run perl N nonotify-b --notify
t_eq "no NOTIFY: the Perl interimap stops, status 1" "$?" 1
t_grep "no NOTIFY: ... with its words" '^local: ERROR: Server did not advertise NOTIFY \(RFC 5465\) capability\.$' "$T/nonotify-b.err"
pair_start ours N nonotify-a --notify --watch=1 --debug
up nonotify-a "no NOTIFY: ours is listing"
t_grep "no NOTIFY: ours warns and goes on" '^local: WARNING: Server did not advertise NOTIFY \(RFC 5465\) capability: watching INBOX with IDLE and listing every 1 s instead$' "$T/nonotify-a.err"
IMAP_TUNNEL=$NR imap_append INBOX "$(f 14)" >/dev/null
t_within "no NOTIFY: a new message carried" 20 alike N 1
pair_stop N TERM; t_eq "no NOTIFY: SIGTERM: status 0" "$STOPPED" 0
t_grep "no NOTIFY: LIST-STATUS instead" ': C: [0-9]+ LIST .*RETURN \(SUBSCRIBED STATUS ' "$T/nonotify-a.err"
t_eq "no NOTIFY: no NOTIFY sent" "$(grep -cE ': C: [0-9]+ NOTIFY' "$T/nonotify-a.err")" 0
PAIR_LOCAL_DOVECOT="imap_capability = IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC UNSELECT MULTIAPPEND LITERAL+ IDLE" pair_setup M ||
	t_fail "setup M"
# (no one-shot run can make its database there: N's schema, empty)
{ sqlite3 "$T/N.db" .schema; echo 'PRAGMA user_version = 1;'; } | sqlite3 "$T/M.db"
cp "$T/M.db" "$T/M.db.orig"
pair_run ours M nonotify2-a --notify
rc=$?
cp "$T/M.db.orig" "$T/M.db"
pair_run perl M nonotify2-b --notify
t_eq "no NOTIFY nor LIST-STATUS: status 1, as the Perl interimap's" "$rc $?" "1 1"
t_eq "no NOTIFY nor LIST-STATUS: the Perl interimap's words" "$(ilog_lines "$T/nonotify2-a.err" | grep ERROR)" "$(ilog_lines "$T/nonotify2-b.err" | grep ERROR)"
t_grep "no NOTIFY nor LIST-STATUS: the words" '^local: ERROR: Server did not advertise NOTIFY \(RFC 5465\) capability\.$' "$T/nonotify2-a.err"

# ---------------------------------------------------------------------
# 6. A known mailbox deleted on one side while watching.
both_start del --watch=1
wait_until 20 alike A 10 || t_fail "delete: setup A settled"
pair_apply r "A B" <<EOF || t_fail "delete: remote c deleted"
delete | c
EOF
for x in A B; do
	wait_until 30 pair_ended "$x" ||
		t_fail "delete: setup $x: the watcher ends by itself"
done
both_stopped "delete: " 1
t_grep "delete: the reference's advice" '^database: ERROR: Mailbox c exists\. Run `interimap --target=database --delete c` to delete\.$' "$T/del-a.err"
t_eq "delete: the Perl interimap's words" "$(grep ERROR "$T/del-a.err")" "$(grep ERROR "$T/del-b.err")"

# ---------------------------------------------------------------------
# 7. SIGINT: a watch ends with status 0 (issue 10; the reference's: 1).
pair_run ours A fix --target=database --delete c >/dev/null
pair_start ours A int-a --watch=1 --debug
up int-a "SIGINT: ours is listing"
pair_stop A INT; t_eq "SIGINT: status 0" "$STOPPED" 0

t_done
