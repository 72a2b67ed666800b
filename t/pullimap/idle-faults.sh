#!/bin/bash
# --idle under fault injection. pullimap runs with type = imap (TCP, no
# TLS) and --idle=5 while mail arrives at pseudo-random moments and faults
# are injected at pseudo-random moments (fixed seed: the same schedule on
# every run):
#   phase A (delivery into Dovecot's LMTP over its Unix socket): the
#     Dovecot master is stopped and restarted (same config, same ports) 3
#     times: the IMAP connection dies and LMTP is refused while it is down;
#   phase B (delivery into t/lib/sink.py --lmtp over TCP): the sink is
#     SIGKILLed and restarted on the same port (connection refused, then
#     fine), answers 451 at the end of data for a while, drops the
#     connection in the middle of the data for a while, is SIGKILLed again;
#   phase N: a server without IDLE (imap_capability without it): pullimap
#     says so once and polls every N seconds (--idle=2).
# Each fault also appends one message while it lasts, so that every fault
# is hit by a delivery or a connection. Afterwards: every appended message
# delivered (contents compared), duplicates bounded, nothing unexpected,
# all \Seen, the journal agrees, pullimap never exited on its own, SIGTERM
# ends it with 0 at once, a bounded number of "reconnecting in" lines per
# fault, and it caught up within seconds after the last fault.
#
# Duplicate bound: a message is delivered twice only when the receiving
# server accepted it (saved it) but pullimap never saw the reply, i.e. the
# server died between the final dot and its reply, or pullimap's connection
# died there. Only faults that kill a server that saves messages can do that
# (a Dovecot stop: its LMTP may have saved the message in flight; a SIGKILL
# of a normal sink or of the sink restarted for the next fault), and each
# kill can cut off at most the one message in flight (pullimap delivers one
# message at a time). The 451 and drop-mid-data sinks never save anything.
# So: duplicates <= number of kills of a saving server (asserted per phase).
# shellcheck disable=SC2317 # list_a, list_b, list_n: called as "list_$1"
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init idle-faults
t_need_pullimap
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"
PORTS0="$DOVECOT_IMAP_PORT $DOVECOT_IMAPS_PORT $DOVECOT_LMTP_PORT"

# A pullimap I/O timeout shorter than the default, so that a stuck read is
# noticed within the test's time; still well above loopback latencies.
export PULLIMAP_TIMEOUT_MS=8000
RANDOM=20261122 # deterministic delays
# rnd MIN_TENTHS SPAN_TENTHS: a delay in seconds, in $R. (Not printed:
# a command substitution is a subshell, where bash reseeds $RANDOM.)
rnd() {
	local t=$(($1 + RANDOM % $2))
	R=$(printf '%d.%d' $((t / 10)) $((t % 10)))
}
now() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

genmail --count 44 --sizes small --seed 23 --out "$T/mail" >/dev/null
mapfile -t MAIL < <(find "$T/mail" -name '*.eml' | sort)
[ "${#MAIL[@]}" -eq 44 ] || t_skip_all "genmail did not write 44 messages"
if ! imap_create B >/dev/null || ! imap_create N >/dev/null; then
	t_skip_all "cannot create mailboxes"
fi

SINK_PORT=$(free_port 1) || t_skip_all "no free port"
NOIDLE_RCPT=noidle
cat >"$T/config" <<CONF
type = imap
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
STARTTLS = NO
username = $DOVECOT_USER
password = $DOVECOT_PASS

[a]
mailbox = INBOX
statefile = $T/a.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[b]
mailbox = B
statefile = $T/b.db
deliver-method = lmtp:[127.0.0.1]:$SINK_PORT
deliver-rcpt = rcpt@example.org

[n]
mailbox = N
statefile = $T/n.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $NOIDLE_RCPT
CONF
chmod 600 "$T/config"

# --- helpers -----------------------------------------------------------

# Restart the master with the same configuration, hence the same ports
# (dovecot_start would pick new ports after an "Address already in use",
# which would make pullimap's config stale: retry the same ports instead).
dc_restart() {
	local i
	for i in 1 2 3 4 5; do
		dovecot__start_once && break
		t_log "dovecot restart attempt $i failed"
		sleep 0.5
	done
	[ -n "${DOVECOT_PID:-}" ] || { t_fail "dovecot restarts on the same ports"; return 1; }
	[ "$DOVECOT_IMAP_PORT $DOVECOT_IMAPS_PORT $DOVECOT_LMTP_PORT" = "$PORTS0" ] ||
		t_fail "dovecot kept its ports" "$PORTS0 -> $DOVECOT_IMAP_PORT $DOVECOT_IMAPS_PORT $DOVECOT_LMTP_PORT"
}

# Append FILE to MAILBOX, recording it in LIST when the APPEND succeeded.
append_one() { # MAILBOX LIST FILE
	if imap_append "$1" "$3" >/dev/null 2>>"$T/append.err"; then
		printf '%s\n' "$3" >>"$2"
		now >"$T/last_append.$1"
	else
		t_log "APPEND of $3 to $1 failed"
	fi
}

# The "mail arrives" loop (in the background): one message after each delay.
arrivals() { # MAILBOX LIST "DELAYS" FILE...
	trap - EXIT HUP INT TERM PIPE
	local mb="$1" list="$2" f i=0
	local -a delay
	read -r -a delay <<<"$3"
	shift 3
	for f in "$@"; do
		sleep "${delay[i]}"
		i=$((i + 1))
		append_one "$mb" "$list" "$f"
	done
}

# Prints "missing duplicates unexpected delivered" for the delivered
# messages listed in file DLIST against the originals listed in file WLIST.
tally() { # DLIST WLIST
	"$T_PYTHON" -c "$T_MSG_PY"'
from collections import Counter
want = {orig(l.rstrip("\n")) for l in open(sys.argv[2]) if l.strip()}
dl = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
got = Counter(delivered(f) for f in dl)
print(len(want - set(got)), sum(c - 1 for c in got.values() if c > 1),
      sum(c for m, c in got.items() if m not in want), len(dl))
' "$1" "$2"
}
list_a() { maildir_messages "$(lmtp_delivered_dir)"; }
list_b() { find "$T/sink" -name '*.eml' -type f 2>/dev/null | sort; }
list_n() { maildir_messages "$(dovecot_user_maildir "$NOIDLE_RCPT")"; }
caught_up() { # PHASE
	"list_$1" >"$T/$1.delivered"
	local m
	read -r m _ < <(tally "$T/$1.delivered" "$T/$1.list")
	[ "$m" = 0 ]
}
# wait_caught_up PHASE TIMEOUT: wait until nothing is missing; prints the
# time it happened.
wait_caught_up() {
	local end i
	end=$(awk -v t="$2" 'BEGIN { printf "%d", t * 5 }')
	for ((i = 0; i <= end; i++)); do
		caught_up "$1" && { now; return 0; }
		sleep 0.2
	done
	now
	return 1
}

# pullimap's stderr goes to $T/SECTION.err, each line prefixed with the
# time it was read (the same clock as the test's own "# A: ..." lines).
stamp() {
	trap - EXIT HUP INT TERM PIPE
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}
# recovered PHASE LABEL SINCE: wait (15 s at most) until every message
# appended so far is delivered; records the time since SINCE (the end of
# the previous fault) in $T/PHASE.recovery.
recovered() {
	local at
	if at=$(wait_caught_up "$1" 15); then
		printf '%s\n' "$(elapsed "$3" "$at")" >>"$T/$1.recovery"
		t_log "$2: caught up $(elapsed "$3" "$at") s after the end of the fault (at $at)"
	else
		printf '%s\n' 99 >>"$T/$1.recovery"
		t_log "$2: NOT caught up 15 s after the end of the fault"
	fi
}
check_recovery() { # PHASE
	local worst
	worst=$(sort -n "$T/$1.recovery" | tail -n 1)
	if awk -v w="$worst" 'BEGIN { exit !(w < 15) }'; then
		t_ok "$1: caught up within 15 s after each fault (worst $worst s)"
	else
		t_fail "$1: caught up within 15 s after each fault" "worst $worst s: $(tr '\n' ' ' <"$T/$1.recovery")"
	fi
}

# caught_up_last LABEL PHASE MAILBOX FAULT-END: every message delivered
# within 15 s of the later of FAULT-END (the last fault's) and the last
# append to MAILBOX.
caught_up_last() {
	local last done_at
	last=$(printf '%s\n%s\n' "$4" "$(cat "$T/last_append.$3")" | sort -n | tail -n 1)
	if done_at=$(wait_caught_up "$2" 30); then
		t_log "$1: caught up $(elapsed "$last" "$done_at") s after the last fault/append ($(elapsed "$4" "$done_at") s after the last fault)"
		if awk -v a="$last" -v b="$done_at" 'BEGIN { exit !(b - a < 15) }'; then
			t_ok "$1: caught up within 15 s after the last fault"
		else
			t_fail "$1: caught up within 15 s after the last fault" "$(elapsed "$last" "$done_at") s"
		fi
	else
		t_fail "$1: caught up within 15 s after the last fault" "still missing messages after 30 s"
	fi
}

start_pullimap() { # SECTION IDLE_SECS
	rm -f "$T/$1.fifo"
	mkfifo "$T/$1.fifo"
	stamp <"$T/$1.fifo" >"$T/$1.err" &
	STAMP=$!
	"$PULLIMAP" --config="$T/config" --idle="$2" "$1" 2>"$T/$1.fifo" &
	PID=$!
	t_cleanup_add "kill -9 $PID 2>/dev/null"
}

# stop_pullimap PHASE: check it still runs, SIGTERM, exits 0 within 5 s.
stop_pullimap() {
	local p="$1" t0 rc i
	if kill -0 "$PID" 2>/dev/null; then
		t_ok "$p: pullimap still running before SIGTERM"
	else
		wait "$PID"
		wait "$STAMP"
		t_fail "$p: pullimap still running before SIGTERM" "exited $? on its own: $(tail -n 2 "$T/$p.err")"
		return
	fi
	t0=$(now)
	kill -TERM "$PID"
	for ((i = 0; i < 100; i++)); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$PID" 2>/dev/null; then
		t_fail "$p: SIGTERM ends it within 5 s" "still running; SIGKILL"
		kill -9 "$PID"
	fi
	wait "$PID"
	rc=$?
	wait "$STAMP"
	t_log "$p: exited $rc $(elapsed "$t0" "$(now)") s after SIGTERM"
	t_eq "$p: SIGTERM: exit 0" "$rc" 0
}

# check_phase PHASE MAILBOX STATEFILE MAXDUPS MAXRECONNECT MINRECONNECT
check_phase() {
	local p="$1" mb="$2" db="$3" maxdups="$4" maxrec="$5" minrec="$6" missing dups unexp ndl nwant nrec
	"list_$p" >"$T/$p.delivered"
	read -r missing dups unexp ndl < <(tally "$T/$p.delivered" "$T/$p.list")
	nwant=$(wc -l <"$T/$p.list")
	nrec=$(grep -c 'reconnecting in [0-9.]* s' "$T/$p.err")
	t_log "$p: appended $nwant, delivered $ndl: missing $missing, duplicates $dups (bound $maxdups), unexpected $unexp; $nrec 'reconnecting' lines (bound $maxrec)"
	t_eq "$p: every appended message delivered" "$missing" 0
	t_eq "$p: nothing unexpected delivered" "$unexp" 0
	if [ "$dups" -le "$maxdups" ]; then
		t_ok "$p: duplicates within the bound ($dups <= $maxdups)"
	else
		t_fail "$p: duplicates within the bound" "$dups duplicates, at most $maxdups allowed"
	fi
	t_eq "$p: every message \\Seen" "$(imap_fetch_flags "$mb" | grep -c '\\Seen')" "$nwant"
	t_eq "$p: journal: one seen row per message" \
		"$(sqlite3 "$db" 'SELECT count(*), sum(seen) FROM delivered')" "$nwant|$nwant"
	t_eq "$p: journal: UIDNEXT recorded" "$(sqlite3 "$db" 'SELECT uidnext FROM mailbox')" "$(imap_uidnext "$mb")"
	if [ "$nrec" -ge "$minrec" ]; then
		t_ok "$p: every fault was noticed ($nrec >= $minrec reconnection lines)"
	else
		t_fail "$p: every fault was noticed" "$nrec reconnection lines for $minrec faults"
	fi
	if [ "$nrec" -le "$maxrec" ]; then
		t_ok "$p: no flood of reconnection lines ($nrec <= $maxrec)"
	else
		t_fail "$p: no flood of reconnection lines" "$nrec lines, at most $maxrec expected"
	fi
	if grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' "$T/$p.err"; then
		t_fail "$p: no sanitizer report" "$(grep -m1 -E 'AddressSanitizer|runtime error|LeakSanitizer' "$T/$p.err")"
	fi
}

delays() { # COUNT MIN SPAN: COUNT delays, in $R
	local i out=""
	for ((i = 0; i < $1; i++)); do rnd "$2" "$3"; out+="$R "; done
	R=$out
}

# --- phase A: Dovecot master stopped and restarted ----------------------
: >"$T/a.list"
append_one INBOX "$T/a.list" "${MAIL[0]}" # waiting at start
start_pullimap a 5
delays 12 3 14 # 0.3 s .. 1.6 s apart
A_DELAYS=$R
arrivals INBOX "$T/a.list" "$A_DELAYS" "${MAIL[@]:1:12}" &
ARR=$!
t_cleanup_add "kill $ARR 2>/dev/null"
faults_a=0 fi=13 fault_end=
for k in 1 2 3; do
	# each fault hits a pullimap that recovered from the previous one
	[ -z "$fault_end" ] || recovered a "A: fault $((k - 1))" "$fault_end"
	rnd 10 25; sleep "$R" # 1.0 .. 3.4 s of normal operation
	t0=$(now)
	t_log "A: fault $k: stopping Dovecot at $t0"
	dovecot_stop
	faults_a=$((faults_a + 1))
	append_one INBOX "$T/a.list" "${MAIL[fi]}" # arrives while down
	fi=$((fi + 1))
	rnd 15 25; sleep "$R" # down 1.5 .. 3.9 s
	dc_restart || break
	fault_end=$(now)
	t_log "A: fault $k: Dovecot down $(elapsed "$t0" "$fault_end") s, until $fault_end"
done
recovered a "A: fault $k" "$fault_end"
check_recovery a
wait "$ARR"
caught_up_last A a INBOX "$fault_end"
sleep 1 # let a late duplicate show up, if any
stop_pullimap a
# One Dovecot stop can break the IMAP connection and the delivery in flight;
# each outage (< 4 s) costs at most 3 retries (1 s, 2 s, 4 s +-20%).
check_phase a INBOX "$T/a.db" "$faults_a" $((faults_a * 4)) "$faults_a"
t_grep "A: the reconnections are logged" 'reconnecting in [0-9.]+ s' "$T/a.err"

# --- phase B: the LMTP sink fails ---------------------------------------
SINK_PID="" SINK_N=0
sink_start() { # ARGS: the sink listens on $SINK_PORT again, in a new dir
	SINK_N=$((SINK_N + 1))
	mkdir -p "$T/sink/$SINK_N"
	"$T_PYTHON" "$T_LIB/sink.py" --lmtp --port "$SINK_PORT" \
		--port-file "$T/sink/$SINK_N.port" --dir "$T/sink/$SINK_N" \
		--log "$T/sink.log" --lifetime 150 "$@" >/dev/null 2>>"$T/sink.err" &
	SINK_PID=$!
	t_cleanup_add "kill -9 $SINK_PID 2>/dev/null"
	echo "* sink $SINK_N start $*" >>"$T/sink.log"
	wait_file "$T/sink/$SINK_N.port" 10 || t_fail "B: sink restarts on port $SINK_PORT"
}
sink_kill() {
	kill -9 "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	echo "* sink $SINK_N killed" >>"$T/sink.log"
}

: >"$T/b.list"
sink_start
append_one B "$T/b.list" "${MAIL[20]}"
start_pullimap b 5
delays 12 3 14
B_DELAYS=$R
arrivals B "$T/b.list" "$B_DELAYS" "${MAIL[@]:21:12}" &
ARR=$!
t_cleanup_add "kill $ARR 2>/dev/null"
fi=33 kills_b=0 fault_end='' k=0
for fault in down 451 drop down; do
	[ -z "$fault_end" ] || recovered b "B: fault $k" "$fault_end"
	k=$((k + 1))
	rnd 10 20; sleep "$R" # 1.0 .. 2.9 s of normal operation
	t0=$(now)
	t_log "B: fault $k ($fault) at $t0"
	sink_kill
	kills_b=$((kills_b + 1)) # the killed sink was a saving one
	case $fault in
	451) sink_start --eod 451;;
	drop) sink_start --drop-mid-data;;
	esac
	append_one B "$T/b.list" "${MAIL[fi]}" # arrives during the fault
	fi=$((fi + 1))
	rnd 15 20; sleep "$R" # 1.5 .. 3.4 s
	[ "$fault" = down ] || sink_kill # (saves nothing: no duplicate)
	sink_start
	fault_end=$(now)
	t_log "B: fault $k ($fault): $(elapsed "$t0" "$fault_end") s, until $fault_end"
done
recovered b "B: fault $k" "$fault_end"
check_recovery b
wait "$ARR"
caught_up_last B b B "$fault_end"
sleep 1
stop_pullimap b
check_phase b B "$T/b.db" "$kills_b" $((4 * 4)) 4
t_log "B: sink: $(grep -c '^\* connect' "$T/sink.log") connections, $(grep -c 'injected end-of-data' "$T/sink.log") 451s, $(grep -c 'dropping mid-data' "$T/sink.log") drops"
t_grep "B: the 451 reply is logged" '451.*reconnecting in' "$T/b.err"
sink_kill

# --- phase N: a server without IDLE --------------------------------------
caps=$(imap_tool capability | tr -d '\r' | grep -v -x -e IDLE -e 'COMPRESS=.*' | tr '\n' ' ')
dovecot_stop
# (imap-login and imap both read it: IDLE is gone before and after login)
export DOVECOT_EXTRA_CONF="imap_capability = $caps"
dovecot__write_conf
dc_restart
if imap_tool capability | grep -qx IDLE; then
	t_skip "N: server without IDLE" "imap_capability did not hide IDLE"
else
	: >"$T/n.list"
	start_pullimap n 2
	sleep 1
	for k in 1 2 3; do
		t0=$(now)
		append_one N "$T/n.list" "${MAIL[$((39 + k))]}"
		if done_at=$(wait_caught_up n 10); then
			d=$(elapsed "$t0" "$done_at")
			t_log "N: message $k delivered after $d s"
			if awk -v d="$d" 'BEGIN { exit !(d < 4.5) }'; then
				t_ok "N: message $k delivered within the 2 s polling interval (+ slack)"
			else
				t_fail "N: message $k delivered within the 2 s polling interval (+ slack)" "$d s"
			fi
		else
			t_fail "N: message $k delivered within the 2 s polling interval (+ slack)" "not after 10 s"
		fi
		rnd 3 15; sleep "$R"
	done
	stop_pullimap n
	t_eq "N: says once that it polls" "$(grep -c 'does not support IDLE: polling every 2 s' "$T/n.err")" 1
	check_phase n N "$T/n.db" 0 0 0
fi
t_done
