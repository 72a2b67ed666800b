#!/bin/bash
# Signals in --idle, whenever they land: SIGUSR1/SIGHUP poll at once,
# SIGTERM/SIGINT exit 0 at once, while idling (IDLE), while polling at
# the interval (a server without IDLE), during the reconnection backoff,
# and while connecting to a server that does not answer.
# PULLIMAP_TEST_WAIT_SIGNAL (common/sigwait.h) makes pullimap send itself
# the signal right after testing its flags and before waiting: the race
# window, hit every time.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init signals
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

# The same server without IDLE.
sed 's|-o stats_writer_socket_path=|& -o "imap_capability=IMAP4rev1 LITERAL+ ENABLE UIDPLUS"|' \
	"$DOVECOT_TUNNEL" >"$T/noidle.sh"
chmod 755 "$T/noidle.sh"
cat >"$T/config" <<CONF
type = tunnel
null-stderr = YES

[idle]
command = $DOVECOT_TUNNEL
statefile = $T/idle.db

[noidle]
command = $T/noidle.sh
statefile = $T/noidle.db

[down]
command = false
statefile = $T/down.db
CONF

# A server that accepts connections and never says a word.
MUTE_PORT=$(free_port 1) || t_skip_all "no free port"
timeout -k 5 "$T_SERVER_MAX" "$T_PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    held.append(s.accept())
' "$MUTE_PORT" &
t_cleanup_add "t_kill_pid $! 2"
wait_port 127.0.0.1 "$MUTE_PORT" 10 || t_skip_all "mute server does not start"
cat >>"$T/config" <<CONF

[mute]
type = imap
host = 127.0.0.1
port = $MUTE_PORT
STARTTLS = NO
statefile = $T/mute.db
CONF

PIDS=()
t_cleanup_add 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done'

# start NAME SECTION [ENV=VALUE...]: pullimap --idle=60 in the background,
# its stderr in $T/NAME.err, its PID in $pid.
start() {
	local name="$1" section="$2"
	shift 2
	env "$@" "$PULLIMAP" --debug --no-delivery --idle=60 \
		--config="$T/config" "$section" 2>"$T/$name.err" &
	pid=$!
	PIDS+=("$pid")
}
# Evidence of a poll: the IDLE that follows it, or with no IDLE the
# UID SEARCH of every poll but the first.
polls() { grep -Ec ': C: [0-9]+ (IDLE|UID SEARCH)' "$1"; }
polls_at_least() { [ "$(polls "$1")" -ge "$2" ]; }
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# stops NAME SIGNAL [MAXMS]: $pid exits with 0 within MAXMS (default 1000)
# of SIGNAL (sent now unless SIGNAL is "-": already sent).
stops() {
	local name="$1" sig="$2" max="${3:-1000}" t0 rc ms
	t0=$(date +%s%N)
	[ "$sig" = - ] || kill -"$sig" "$pid"
	if wait_until 20 exited "$pid"; then
		ms=$(ms_since "$t0")
		wait "$pid"
		rc=$?
		t_log "$name: exited after $ms ms"
		t_eq "$name: exit 0" "$rc" 0
		if [ "$ms" -le "$max" ]; then t_ok "$name: exits within ${max} ms"; else t_fail "$name: exits within ${max} ms" "took $ms ms"; fi
	else
		t_fail "$name: exits" "still running 20 s later"
		kill -9 "$pid"
	fi
}

# Waiting in IDLE: a signal sent from outside.
for sig in USR1 HUP; do
	start "$sig" idle
	if wait_until 20 polls_at_least "$T/$sig.err" 1; then
		kill -"$sig" "$pid"
		if wait_until 5 polls_at_least "$T/$sig.err" 2; then t_ok "IDLE: SIG$sig polls at once"; else t_fail "IDLE: SIG$sig polls at once" "$(polls "$T/$sig.err") poll(s) seen"; fi
	else
		t_fail "IDLE: SIG$sig: idling"
	fi
	stops "IDLE: SIGTERM after SIG$sig" TERM
done
start int idle
wait_until 20 polls_at_least "$T/int.err" 1 || t_fail "IDLE (SIGINT): idling"
stops "IDLE: SIGINT" INT

# The signal lands between the test of the flags and the wait.
start race-usr1 idle PULLIMAP_TEST_WAIT_SIGNAL="$(kill -l USR1)"
if wait_until 10 polls_at_least "$T/race-usr1.err" 2; then t_ok "IDLE: SIGUSR1 in the window polls at once"; else t_fail "IDLE: SIGUSR1 in the window polls at once" "$(polls "$T/race-usr1.err") poll(s) seen"; fi
stops "IDLE: SIGTERM after the race" TERM
t0=$(date +%s%N)
start race-term idle PULLIMAP_TEST_WAIT_SIGNAL="$(kill -l TERM)"
stops "IDLE: SIGTERM in the window (from start)" - 10000

# Polling at the interval, without IDLE.
start noidle-usr1 noidle PULLIMAP_TEST_WAIT_SIGNAL="$(kill -l USR1)"
if wait_until 10 polls_at_least "$T/noidle-usr1.err" 1; then t_ok "no IDLE: SIGUSR1 in the window polls at once"; else t_fail "no IDLE: SIGUSR1 in the window polls at once" "$(polls "$T/noidle-usr1.err") poll(s) seen"; fi
t_grep "no IDLE: said so" 'does not support IDLE: polling every 60 s' "$T/noidle-usr1.err"
stops "no IDLE: SIGTERM" TERM
start noidle-term noidle PULLIMAP_TEST_WAIT_SIGNAL="$(kill -l TERM)"
stops "no IDLE: SIGTERM in the window (from start)" - 10000

# The reconnection backoff (1, 2, 4 s...): SIGTERM in the third wait. (It
# sleeps with the same code as the polling without IDLE above.)
start down down
if wait_until 20 bash -c "[ \$(grep -c 'reconnecting in' '$T/down.err') -ge 3 ]"; then
	stops "backoff: SIGTERM" TERM
else
	t_fail "backoff: reconnection logged" "$(tail -n 2 "$T/down.err")"
fi
# (Re)connecting: waiting for a greeting that does not come (for the
# network timeout, 2 minutes here).
start mute mute
connected() { grep -q "connected to 127.0.0.1:$MUTE_PORT" "$T/mute.err"; }
if wait_until 10 connected; then
	stops "connecting: SIGTERM while waiting for the greeting" TERM
else
	t_fail "connecting: connected" "$(tail -n 2 "$T/mute.err")"
fi
t_done
