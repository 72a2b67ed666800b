#!/bin/bash
# interimap --watch and --notify that never give up (issue 10): the
# remote Dovecot stopped and started again, the local server's process
# killed, while changes keep arriving on both sides; each failure costs
# one warning line ("...; reconnecting in X s"), the watcher goes on, and
# both sides come to hold the same messages, none lost, none twice,
# within seconds of the server's return. SIGUSR1 and SIGHUP ask for a
# round at once (with a one-hour interval), and INBOX, watched with IDLE
# between rounds, is synced as soon as it changes. A failure no reconnection
# cures (a UIDVALIDITY change) still ends the watch, status 1. SIGINT
# ends a watch with status 0. A frozen network path (a relay stopped with
# SIGSTOP) is given up after the timeout, and caught up after the thaw.
# shellcheck disable=SC2016 # '\Seen': a flag, not an expansion
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-watch-faults
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"

genmail --count 40 --out "$T/mail" --sizes small --seed faults >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }

# alike N: pair A's two sides hold the same messages, N in all, none twice.
alike() {
	mail_digest "$AL" >"$T/alike.l" 2>/dev/null || return 1
	mail_digest "$AR" >"$T/alike.r" 2>/dev/null || return 1
	cmp -s "$T/alike.l" "$T/alike.r" && [ "$(wc -l <"$T/alike.l")" -eq "$1" ] &&
		[ -z "$(awk -F '\t' '{ split($2, a, " "); print $1, a[1] }' "$T/alike.l" | sort | uniq -d)" ]
}
# settled NAME N [SECS]: alike N within SECS (default 30) seconds.
settled() {
	if wait_until "${3:-30}" alike "$2"; then
		t_ok "$1: both sides alike, $2 messages, none twice"
	else
		t_fail "$1: both sides alike, $2 messages, none twice" "$(diff "$T/alike.l" "$T/alike.r" | head -n 5)"
	fi
}
# consistent NAME: pair A's database agrees with both servers.
consistent() { t_db_consistent "$1: the database agrees with both servers" "$T/A.db" "$AL" "$AR"; }
# listed NAME: the watcher (--debug) has had the remote LIST's reply:
# its first round is as good as over.
listed() { wait_until 20 grep -qE '^remote: S: [0-9]+ OK List completed' "$T/$1.err" || t_fail "$1: the first round"; }
# warnings NAME: the number of reconnection lines so far.
warnings() { grep -c 'WARNING: .*reconnecting in [0-9.]* s$' "$T/$1.err"; }

# (Dovecot looks for news of a mailbox other than the selected one, for
# its NOTIFY, every mailbox_idle_check_interval: 30 s by default)
PAIR_REMOTE_DOVECOT="mailbox_idle_check_interval = 1 secs" pair_setup A || { t_fail "two Dovecots"; t_done; }
REMOTE_DIR=$DOVECOT_DIR
pair_apply l A <<EOF || t_fail "servers filled"
append | --flags | \Seen | INBOX | $(f 1) | $(f 2)
create | a
append | a | $(f 3)
EOF
pair_apply r A <<EOF || t_fail "servers filled"
append | INBOX | $(f 4)
EOF
pair_run ours A first || t_fail "first sync" "$(cat "$T/first.err")"
alike 4 || t_fail "first sync: 4 messages a side"

# ---------------------------------------------------------------------
# 1. --watch=1: the remote server stopped, changes made meanwhile on the
# local one, the server started again.
pair_start ours A w --watch=1 --debug
listed w
dovecot_stop
pair_apply l A <<EOF || t_fail "remote down: local changes"
append | INBOX | $(f 5)
append | a | $(f 6)
EOF
if wait_until 30 grep -q 'reconnecting in' "$T/w.err"; then
	t_ok "remote down: a warning, a reconnection ahead"
else
	t_fail "remote down: a warning, a reconnection ahead" "$(tail -n 3 "$T/w.err")"
fi
t_grep "remote down: the line names the remote side" '^remote: WARNING: .*; reconnecting in [0-9.]+ s$' "$T/w.err"
t_eq "remote down: still running" "$(pair_ended A || echo yes)" yes
# (the master binds the same ports again)
DOVECOT_DIR=$REMOTE_DIR dovecot_start || t_fail "remote started again"
settled "remote back" 6
pair_apply r A <<EOF || t_fail "remote back: remote changes"
append | a | $(f 7)
store | INBOX | 1 | +FLAGS | \Flagged
EOF
settled "remote back: later changes" 7
n=$(warnings w)
[ "$n" -ge 1 ] && [ "$n" -le 6 ] && t_ok "remote down: $n warning(s), backoff growing" ||
	t_fail "remote down: a few warnings, backoff growing" "$n"
t_eq "remote down: no ERROR line" "$(grep -c 'ERROR' "$T/w.err")" 0

# ---------------------------------------------------------------------
# 2. The local server's process killed (the tunnel's imap).
kids=$(pgrep -P "$PID_A" | tr '\n' ' ')
if [ -n "$kids" ]; then
	# shellcheck disable=SC2086 # several pids
	pkill -KILL -P "${kids// /,}" 2>/dev/null
	# shellcheck disable=SC2086
	kill -KILL $kids 2>/dev/null
	t_ok "local killed: the tunnel's processes ($kids)"
else
	t_fail "local killed: the tunnel's processes" "none found"
fi
pair_apply r A <<EOF || t_fail "local killed: remote changes"
append | INBOX | $(f 8)
EOF
settled "local killed: back" 8
t_grep "local killed: a warning naming the local side" '^local: WARNING: .*; reconnecting in [0-9.]+ s$' "$T/w.err"
t_eq "local killed: still running" "$(pair_ended A || echo yes)" yes
pair_stop A TERM
t_eq "SIGTERM: status 0" "$STOPPED" 0
consistent "after the faults"

# ---------------------------------------------------------------------
# 3. SIGUSR1 and SIGHUP: a round now, whatever the interval.
pair_start ours A u --watch=3600 --debug
listed u
pair_apply l A <<EOF || t_fail "SIGUSR1: a local change"
append | INBOX | $(f 9)
EOF
kill -USR1 "$PID_A"
settled "SIGUSR1: synced at once" 9 15
pair_apply r A <<EOF || t_fail "SIGHUP: a remote change"
append | a | $(f 10)
EOF
kill -HUP "$PID_A"
settled "SIGHUP: synced at once" 10 15
t_eq "SIGHUP: still running" "$(pair_ended A || echo yes)" yes
# INBOX is watched with IDLE between rounds: a new message there is
# synced at once, an hour before the next round.
pair_apply r A <<EOF || t_fail "IDLE: a remote change"
append | INBOX | $(f 20)
EOF
settled "IDLE: a new message in INBOX synced at once" 11 15
t_grep "IDLE: local IDLE" '^local\(INBOX\): C: [0-9]+ IDLE$' "$T/u.err"
t_grep "IDLE: remote IDLE" '^remote\(INBOX\): C: [0-9]+ IDLE$' "$T/u.err"
t_grep "IDLE: remote's news" '^remote\(INBOX\): S: \* [0-9]+ EXISTS$' "$T/u.err"
pair_stop A INT
t_eq "SIGINT: a watch ends with status 0" "$STOPPED" 0
t_eq "SIGINT: nothing said about it" "$(grep -c 'Interrupted' "$T/u.err")" 0

# ---------------------------------------------------------------------
# 4. --notify: the remote server restarted.
pair_start ours A n --notify --watch=1 --debug
listed n
dovecot_stop
wait_until 30 grep -q 'reconnecting in' "$T/n.err" ||
	t_fail "notify, remote down: a warning" "$(tail -n 3 "$T/n.err")"
pair_apply l A <<EOF || t_fail "notify, remote down: local changes"
append | a | $(f 11)
EOF
DOVECOT_DIR=$REMOTE_DIR dovecot_start || t_fail "remote started again"
settled "notify: remote back" 12
pair_apply r A <<EOF || t_fail "notify: remote changes"
create | b
append | b | $(f 12)
EOF
settled "notify: a mailbox created meanwhile, picked up" 13
t_eq "notify: still running" "$(pair_ended A || echo yes)" yes
pair_stop A TERM
t_eq "notify: SIGTERM: status 0" "$STOPPED" 0
# An hour between full rounds, but the wait cut in slices (at most the
# command timeout, 3 s here) each ended by a command: Dovecot's NOTIFY
# news of a mailbox other than INBOX come with the reply.
INTERIMAP_TIMEOUT_MS=3000 pair_start ours A ns --notify --watch=3600 --debug
listed ns
pair_apply r A <<EOF || t_fail "notify slices: a remote change"
append | a | $(f 13)
EOF
settled "notify, an hour's interval: news of another mailbox within a slice" 14 20
pair_stop A TERM
t_eq "notify slices: SIGTERM: status 0" "$STOPPED" 0
consistent "notify"

# ---------------------------------------------------------------------
# 5. What no reconnection cures ends the watch: the remote INBOX
# recreated (a new UIDVALIDITY) while watching.
pair_start ours A v --watch=1 --debug
listed v
IMAP_TUNNEL=$AR imap_tool raw 'DELETE a' 'CREATE a' >/dev/null
t_within "UIDVALIDITY: the watch ends by itself" 30 pair_ended A
pair_stop A TERM
t_eq "UIDVALIDITY: status 1" "$STOPPED" 1
t_grep "UIDVALIDITY: the reference's error" 'ERROR: UIDVALIDITY changed! ' "$T/v.err"
t_eq "UIDVALIDITY: no reconnection tried" "$(warnings v)" 0

# ---------------------------------------------------------------------
# 6. The network path frozen (a relay stopped with SIGSTOP: nothing
# closes, nothing moves), with every wait bounded at 3 s
# (INTERIMAP_TIMEOUT_MS, a test knob): the dead connection is given up,
# reconnections time out while it lasts, and once thawed the watcher
# catches up.
pair_setup F || t_fail "pair F"
relay_front F || t_fail "the relay listens"
IMAP_TUNNEL=$FL imap_append INBOX "$(f 30)" >/dev/null
pair_run ours F first-f || t_fail "frozen: first sync" "$(cat "$T/first-f.err")"
alikeF() { AL=$FL AR=$FR alike "$@"; }
INTERIMAP_TIMEOUT_MS=3000 pair_start ours F fz --watch=1 --debug
listed fz
kill -STOP "$RELAY_PID"
IMAP_TUNNEL=$FL imap_append INBOX "$(f 31)" >/dev/null
if wait_until 30 grep -q 'reconnecting in' "$T/fz.err"; then
	t_ok "frozen: the dead connection given up"
else
	t_fail "frozen: the dead connection given up" "$(grep -v ': [CS]: ' "$T/fz.err" | tail -n 3)"
fi
t_grep "frozen: the line names the remote side" '^remote: WARNING: .*; reconnecting in [0-9.]+ s$' "$T/fz.err"
# (a reconnection that times out too, then the path comes back)
two_warnings() { [ "$(grep -c 'reconnecting in' "$T/fz.err")" -ge 2 ]; }
wait_until 30 two_warnings || t_fail "frozen: reconnections time out while it lasts"
t_grep "frozen: a reconnection that got no greeting" '^remote: WARNING: 127\.0\.0\.1:[0-9]+: too slow: 0 bytes in 3\.0 s .*; reconnecting in [0-9.]+ s$' "$T/fz.err"
kill -CONT "$RELAY_PID"
thawed=$(date +%s)
if wait_until 30 alikeF 2; then
	t_ok "frozen: caught up after the thaw ($(($(date +%s) - thawed)) s)"
else
	t_fail "frozen: caught up after the thaw" "$(grep -v ': [CS]: ' "$T/fz.err" | tail -n 3)"
fi
t_eq "frozen: still running" "$(pair_ended F || echo yes)" yes
pair_stop F TERM
t_eq "frozen: SIGTERM: status 0" "$STOPPED" 0
t_eq "frozen: no ERROR line" "$(grep -c 'ERROR' "$T/fz.err")" 0

t_done
