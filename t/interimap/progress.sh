#!/bin/bash
# interimap's progress line (interimap/progress.h) on a terminal, run on a
# pseudo-terminal (t/lib/pty_run.py), against twin runs without one:
# ours on setup A (on the terminal) and on setup B (stderr a file), each
# a local Dovecot (tunnel) and a remote one (IMAPS), the same changes
# made to both.
#
# 1. A first sync of 300 messages in 5 mailboxes, both ways (the local
# server without MULTIAPPEND: one APPEND per message that way), on a
# terminal of 60 columns: the line shows up, reaches "[N/N mailboxes]"
# with N the mailboxes synced and the exact count and size of the
# messages copied; it never takes more than 59 columns; it is drawn at
# most every 200 ms (but after a log line); the screen left holds
# exactly the lines the twin run printed, nothing of the line. 2. -q on
# the terminal: not a byte more than the twin's plain stderr. 3. stderr
# not a terminal (stdin and stdout one): the same. 4. --debug, and
# TERM=dumb: no line; with a logfile: the line on the terminal, not in
# the file. 5. A sync that cannot end by itself (the remote, reached
# through t/lib/trickle.py, never answers an APPEND) stopped once the
# line is shown: by SIGTERM, by SIGINT, by an error (the relay gone);
# the screen is left without the line each time. (The relay passes the
# APPEND on, only its answer never comes: each run finds the last one's
# copies, "Recovered", and is given new messages to stall on.)
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-progress
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
"$T_PYTHON" -c 'import pty, termios' 2>/dev/null || t_skip_all "no pty support in python"

PTY=("$T_PYTHON" "$T_LIB/pty_run.py")
export TERM=xterm LC_ALL=C.UTF-8
COLS=60

# on_tty NAME [pty_run options] -- ARGS...: ours on setup A's
# configuration, on a terminal of $COLS columns ($T/NAME.raw: what it
# wrote there); status returned.
on_tty() {
	local n=$1 o=()
	shift
	while [ "$1" != -- ]; do o+=("$1"); shift; done
	shift
	timeout 120 "${PTY[@]}" run --cols "$COLS" "${o[@]}" "$T/$n.raw" \
		"$INTERIMAP" --config="$T/${ON_TTY:-A}.conf" "$@"
}
# masked: stdin without what differs between the setups by nature: the
# database's name, the traffic figures (TLS, COMPRESS).
masked() { sed -E "s#$T/[A-D]\.db#DB#; /IMAP traffic/s/[0-9][0-9.]*K?/N/g"; }
# screen NAME: the screen $T/NAME.raw leaves (a wide one: log lines do
# not wrap there, and compare as lines), masked.
screen() { "${PTY[@]}" screen --cols 100000 "$T/$1.raw" | masked; }
# plain NAME: pair_run's stderr of ours on setup B, masked.
plain() { masked <"$T/$1.err"; }
# segments NAME: what was drawn between carriage returns and newlines.
segments() { tr '\r' '\n' <"$T/$1.raw" | sed 's/\x1b\[K//g'; }
# progress NAME: the drawings of the line.
progress() { segments "$1" | grep -E '^\[[0-9]+(/[0-9]+)? mailbox(es)?\]'; }
# si BYTES: as the line writes sizes.
si() { awk -v n="$1" 'BEGIN { split("B kB MB GB TB", u, " "); i = 1
	while (n >= 1000 && i < 5) { n /= 1000; i++ }
	if (i == 1) printf "%.0f B\n", n; else printf "%.1f %s\n", n, u[i] }'; }

genmail --count 330 --out "$T/mail" --sizes small --seed progress >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }
fs() { local i; for ((i = $1; i <= $2; i++)); do printf ' | %s' "$(f "$i")"; done; }

caps="imap_capability = IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS UNSELECT LITERAL+ NAMESPACE CHILDREN ID IDLE"
PAIR_LOCAL_DOVECOT=$caps pair_setup A && PAIR_LOCAL_DOVECOT=$caps pair_setup B ||
	{ t_fail "four Dovecots"; t_done; }

# ---------------------------------------------------------------------
# 1. The first sync.
pair_apply l "A B" <<EOF || t_fail "servers filled"
append | --flags | \Seen | INBOX$(fs 1 100)
create | work
append | work$(fs 101 160)
create | lists/dev
append | lists/dev$(fs 161 200)
create | Entwürfe
append | Entwürfe$(fs 201 210)
EOF
pair_apply r "A B" <<EOF || t_fail "servers filled"
append | INBOX$(fs 211 260)
create | archive
append | --flags | \Flagged | archive$(fs 261 300)
EOF
bytes=0
for ((i = 1; i <= 300; i++)); do bytes=$((bytes + $(stat -c %s "$(f "$i")"))); done

start=$EPOCHREALTIME
on_tty first -- ; rc=$?
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
pair_run ours B first; rc_b=$?
t_eq "first sync: status 0 on the terminal, as without" "$rc $rc_b" "0 0"
nmbx=$(sqlite3 "$T/A.db" 'SELECT count(*) FROM mailboxes')
progress first >"$T/first.progress"
t_grep "first sync: the line was drawn" '^\[' "$T/first.progress"
t_grep "first sync: it reached [$nmbx/$nmbx mailboxes], 300 messages, $(si "$bytes") copied" \
	"^\\[$nmbx/$nmbx mailboxes\\] 300 messages, $(si "$bytes") copied" "$T/first.progress"
t_eq "first sync: never more mailboxes done than to do" \
	"$(awk -F'[][/ ]' '/^\[[0-9]+\// && $2 + 0 > $3 + 0' "$T/first.progress")" ""
t_eq "first sync: every drawing fits in $((COLS - 1)) columns" \
	"$(progress first | "$T_PYTHON" -c 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin))' |
		awk -v c=$((COLS - 1)) '{ print ($1 <= c) ? "yes" : "no (" $1 ")" }')" yes
screen first >"$T/first.screen" || t_fail "first sync: the screen read"
plain first >"$T/first.plain"
t_same_file "first sync: the screen holds exactly the lines of the run without a terminal" \
	"$T/first.screen" "$T/first.plain" || diff "$T/first.screen" "$T/first.plain" | head -n 10 | sed 's/^/#   /' >&2
t_no_grep "first sync: nothing of the line left" 'mailbox(es)?\]' "$T/first.screen"
# (the last ESC [K an erasure, "\r" right before it, not a drawing's end)
t_eq "first sync: the line erased last" "$("$T_PYTHON" -c '
import sys; b = open(sys.argv[1], "rb").read(); i = b.rfind(b"\x1b[K")
print(i > 0 and b[i - 1:i] == b"\r")' "$T/first.raw")" True
# At most one drawing per 200 ms, and one after the last mailbox; a
# drawing after a log line counts as any other.
draws=$(progress first | wc -l)
max=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 5 + 2 }')
[ "$draws" -le "$max" ] && t_ok "first sync: drawn $draws times in ${secs}s (at most $max)" ||
	t_fail "first sync: drawn at most 5 times a second" "$draws times in ${secs}s"
lines=$(wc -l <"$T/first.plain")
[ "$lines" -ge 100 ] && t_ok "first sync: $lines log lines (the rate limit had work)" ||
	t_fail "first sync: many log lines" "$lines"
mail_digest "$AL" | cut -f2- >"$T/a.l"; mail_digest "$AR" | cut -f2- >"$T/a.r"
t_same_file "first sync: setup A's sides alike" "$T/a.l" "$T/a.r"
t_eq "first sync: 300 messages a side" "$(wc -l <"$T/a.l")" 300

# ---------------------------------------------------------------------
# 2. -q: a warning (a 0-length message, never copied) and messages to
# copy, but no line.
for x in A B; do maildir_zero_message "$T/${x}l/home/$DOVECOT_USER/Maildir"; done
pair_apply l "A B" <<EOF || t_fail "-q: changes"
append | INBOX$(fs 301 310)
EOF
on_tty quiet -- -q; rc=$?
pair_run ours B quiet -q; rc_b=$?
t_eq "-q: status 0 on the terminal, as without" "$rc $rc_b" "0 0"
sed 's/\r$//' "$T/quiet.raw" >"$T/quiet.lf"
t_same_file "-q: the terminal got the bytes of the run without one (CRLF as LF)" "$T/quiet.lf" "$T/quiet.err"
t_grep "-q: the warning" 'WARNING: Ignoring new 0-length message' "$T/quiet.lf"
t_eq "-q: no CR but before LF, no ESC" "$(sed 's/\r$//' "$T/quiet.raw" | tr -cd '\r\033' | wc -c)" 0

# ---------------------------------------------------------------------
# 3. stderr not a terminal (stdin and stdout on one).
pair_apply r "A B" <<EOF || t_fail "not a tty: changes"
append | archive$(fs 311 320)
EOF
on_tty notty --stderr "$T/notty.a.err" -- ; rc=$?
pair_run ours B notty; rc_b=$?
t_eq "stderr not a terminal: status 0, as the twin's" "$rc $rc_b" "0 0"
t_same_file "stderr not a terminal: the bytes of the twin's stderr" \
	<(masked <"$T/notty.a.err") <(plain notty)
t_grep "stderr not a terminal: messages were copied" 'Added [0-9]+ UID' "$T/notty.a.err"
t_eq "stderr not a terminal: nothing on the terminal" "$(wc -c <"$T/notty.raw")" 0

# ---------------------------------------------------------------------
# 4. --debug and TERM=dumb: no line; a logfile: the line on the
# terminal only (setup A only).
pair_apply l A <<EOF || t_fail "debug: changes"
append | work$(fs 321 325)
EOF
on_tty debug -- --debug; rc=$?
t_eq "--debug: status 0" "$rc" 0
t_grep "--debug: messages were copied" 'Added [0-9]+ UID' "$T/debug.raw"
t_eq "--debug: no line (no ESC, no CR but before LF)" "$(sed 's/\r$//' "$T/debug.raw" | tr -cd '\r\033' | wc -c)" 0
pair_apply r A <<EOF || t_fail "dumb: changes"
append | INBOX$(fs 326 330)
EOF
TERM=dumb on_tty dumb -- ; rc=$?
t_eq "TERM=dumb: status 0" "$rc" 0
t_grep "TERM=dumb: messages were copied" 'Added [0-9]+ UID' "$T/dumb.raw"
t_eq "TERM=dumb: no line (no ESC, no CR but before LF)" "$(sed 's/\r$//' "$T/dumb.raw" | tr -cd '\r\033' | wc -c)" 0

# A logfile: the line on the terminal, never in the file.
cp "$T/A.conf" "$T/A.conf.orig"
{ echo "logfile = $T/A.log"; cat "$T/A.conf.orig"; } >"$T/A.conf"
pair_apply l A <<EOF || t_fail "logfile: changes"
append | work$(fs 1 30)
EOF
on_tty logfile -- ; rc=$?
cp "$T/A.conf.orig" "$T/A.conf"
t_eq "logfile: status 0" "$rc" 0
t_grep "logfile: the line on the terminal" '^\[[0-9]+/[0-9]+ mailboxes\]' <(progress logfile)
t_grep "logfile: the log lines in the file" ' remote\(work\): Added [0-9]+ UID' "$T/A.log"
t_eq "logfile: no line in the file (no ESC, no CR)" "$(tr -cd '\r\033' <"$T/A.log" | wc -c)" 0
t_eq "logfile: the file's lines are the screen's" "$(sed -E 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:.]+ //' "$T/A.log" | masked)" "$(screen logfile)"

# ---------------------------------------------------------------------
# 5. Stopped mid-sync. Setup A's remote through a relay that stops
# answering once an APPEND comes (untagged lines every 0.2 s instead);
# new local messages to copy there.
port=$(free_port 1) || t_fail "a free port"
up=$(awk '/inet_listener imap \{/ { f = 1 } f && $1 == "port" { print $3; exit }' "$T/Ar/dovecot.conf")
timeout -k 5 "$T_SERVER_MAX" "$T_PYTHON" "$T_LIB/trickle.py" "$port" "$up" \
	lines APPEND 0.2 >"$T/relay.log" 2>&1 &
relay=$!
t_cleanup_add "t_kill_pid $relay 2"
wait_port 127.0.0.1 "$port" 10 || t_fail "relay up"
sed -e '/^\[remote\]/,$d' "$T/A.conf" >"$T/S.conf"
cat >>"$T/S.conf" <<EOF
[remote]
type = imap
host = 127.0.0.1
port = $port
STARTTLS = NO
compress = NO
username = $DOVECOT_DEST_USER
password = $DOVECOT_DEST_PASS
EOF
chmod 600 "$T/S.conf"
pair_apply l A <<EOF || t_fail "stop: changes"
create | stalled
append | stalled$(fs 1 20)
EOF

# stalled NAME SIGNAL|relay [COUNT]: ours on S.conf on the terminal, in
# the background; once it drew the line (it syncs "stalled", the one
# mailbox with news, whose APPEND never ends) and, with COUNT, once the
# server holds COUNT messages there (the APPEND sent whole: the next run
# finds its copies), SIGNAL to it, or the relay killed; its status in
# $T/NAME.rc.
remote_count() { [ "$(IMAP_TUNNEL=$AR imap_tool count stalled 2>/dev/null)" = "$1" ]; }
stalled() {
	local n=$1 pid
	rm -f "$T/$n.pid" "$T/$n.rc"
	( timeout 120 "${PTY[@]}" run --cols "$COLS" --pid "$T/$n.pid" "$T/$n.raw" \
		"$INTERIMAP" --config="$T/S.conf"; echo $? >"$T/$n.rc" ) &
	t_cleanup_add "t_kill_pid $!"
	wait_until 30 grep -q 'mailboxes\]' "$T/$n.raw" || t_fail "$n: the line drawn"
	[ -z "${3:-}" ] || wait_until 30 remote_count "$3" || t_fail "$n: the APPEND reached the server"
	pid=$(cat "$T/$n.pid")
	if [ "$2" = relay ]; then
		t_kill_pid "$relay" 2
	else
		kill -"$2" "$pid"
	fi
	wait_until 30 test -s "$T/$n.rc" || t_fail "$n: ours ends"
}
stalled term TERM 20
t_eq "SIGTERM: status 0" "$(cat "$T/term.rc")" 0
pair_apply l A <<EOF || t_fail "stop: more changes"
append | stalled$(fs 21 40)
EOF
stalled int INT 40
t_eq "SIGINT: status 1" "$(cat "$T/int.rc")" 1
pair_apply l A <<EOF || t_fail "stop: more changes"
append | stalled$(fs 41 60)
EOF
stalled lost relay
t_ne "relay gone: an error status" "$(cat "$T/lost.rc")" 0
for n in term int lost; do
	t_grep "$n: the line was drawn" '^\[' <(progress "$n")
	screen "$n" >"$T/$n.screen" || t_fail "$n: the screen read"
	t_no_grep "$n: nothing of the line left" 'mailbox(es)?\]' "$T/$n.screen"
done
t_grep "SIGINT: the reference's line on the screen" '^Interrupted system call$' "$T/int.screen"
t_grep "SIGINT: the copies the APPEND before made are found" '^remote\(stalled\): Recovered 20 UID\(s\) ' "$T/int.screen"
t_grep "relay gone: the error on the screen" 'ERROR' "$T/lost.screen"

# ---------------------------------------------------------------------
# 6. Several pairs of sessions (INTERIMAP_LANES=3, lanes.h): several
# mailboxes under way at once, the line names the oldest and how many
# more ("(work +2)"): never more than the other two pairs; the same end
# figures, the screen the lines of the same run without a terminal.
PAIR_LOCAL_DOVECOT=$caps pair_setup C && PAIR_LOCAL_DOVECOT=$caps pair_setup D ||
	{ t_fail "two more pairs of Dovecots"; t_done; }
script() {
	local i
	for ((i = 0; i < 8; i++)); do
		echo "create | box$i"
		echo "append | box$i$(fs $((i * 30 + 1)) $((i * 30 + 30)))"
	done
}
script | pair_apply l "C D" || t_fail "lanes: servers filled"
bytes=0
for ((i = 1; i <= 240; i++)); do bytes=$((bytes + $(stat -c %s "$(f "$i")"))); done
export INTERIMAP_LANES=3
ON_TTY=C on_tty lanes -- ; rc=$?
pair_run ours D lanes; rc_b=$?
unset INTERIMAP_LANES
t_eq "lanes: status 0 on the terminal, as without" "$rc $rc_b" "0 0"
nmbx=$(sqlite3 "$T/C.db" 'SELECT count(*) FROM mailboxes')
progress lanes >"$T/lanes.progress"
t_grep "lanes: it reached [$nmbx/$nmbx mailboxes], 240 messages, $(si "$bytes") copied" \
	"^\\[$nmbx/$nmbx mailboxes\\] 240 messages, $(si "$bytes") copied" "$T/lanes.progress"
t_no_grep "lanes: never more than two more under way" ' \+([3-9]|[0-9]{2,})\)' "$T/lanes.progress"
t_log "lanes: drawings with several mailboxes under way: $(grep -cE ' \+[12]\)' "$T/lanes.progress") of $(wc -l <"$T/lanes.progress")"
screen lanes >"$T/lanes.screen" || t_fail "lanes: the screen read"
plain lanes >"$T/lanes.plain"
t_same_file "lanes: the screen holds exactly the lines of the run without a terminal" \
	"$T/lanes.screen" "$T/lanes.plain" || diff "$T/lanes.screen" "$T/lanes.plain" | head -n 10 | sed 's/^/#   /' >&2
t_eq "lanes: 240 messages a side" "$(mail_digest "$CR" | wc -l)" 240

t_done
