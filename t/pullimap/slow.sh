#!/bin/bash
# A server that trickles cannot hold pullimap (and its state lock): each
# command and its response must finish within the network timeout plus
# 1 s per KiB moved. Through t/lib/trickle.py in front of Dovecot: the
# greeting at one byte a second, the response to SELECT at one byte a
# second, endless "* OK" lines instead of the tagged reply to SELECT, and
# the IDLE continuation at one byte a second with --idle. Each gives up
# with exit 75 and one line naming the server, within seconds of the
# timeout (PULLIMAP_TIMEOUT_MS=3000); --idle logs it and reconnects.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init slow
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 2 --sizes small --seed 7 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

# relay NAME MODE TRIGGER [INTERVAL]: start a trickle.py relay (its port
# in $port), add section NAME reaching Dovecot through it (without
# COMPRESS, so that the relay sees the commands). Not in a subshell: the
# cleanup must know the relay.
relay() {
	port=$(free_port 1) || return 1
	timeout -k 5 "$T_SERVER_MAX" "$T_PYTHON" "$T_LIB/trickle.py" "$port" \
		"$DOVECOT_IMAP_PORT" "$2" "$3" "${4:-1}" >"$T/relay-$1.log" 2>&1 &
	t_cleanup_add "t_kill_pid $! 2"
	wait_port 127.0.0.1 "$port" 10 || return 1
	t_section "$1" "type = imap" "host = 127.0.0.1" "port = $port" \
		"STARTTLS = NO" "username = $DOVECOT_USER" \
		"password = $DOVECOT_PASS" "compress = NO"
}
T_CONF_COMMON="deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER"
: >"$T/config"
chmod 600 "$T/config"

gives_up() { # NAME SECTION PORT
	local start secs
	start=$(date +%s%N)
	PULLIMAP_TIMEOUT_MS=3000 t_fails "$1" 75 "^$2: .*127\.0\.0\.1:$3: too slow: " \
		timeout -k 1 30 "$PULLIMAP" --config="$T/config" "$2"
	secs=$(( ($(date +%s%N) - start) / 1000000000 ))
	# 3 s of waiting, plus 1 s per KiB moved (a few hundred bytes here).
	if [ "$secs" -le 8 ]; then t_ok "$1: gives up within 8 s"; else t_fail "$1: gives up within 8 s" "took ${secs}s"; fi
}

relay greeting bytes - || t_skip_all "relay does not start"
gives_up "greeting trickled" greeting "$port"
relay select bytes SELECT || t_skip_all "relay does not start"
gives_up "SELECT response trickled" select "$port"
relay lines lines SELECT 0.2 || t_skip_all "relay does not start"
gives_up "SELECT answered by endless untagged lines" lines "$port"
t_eq "nothing delivered" "$(maildir_count "$(lmtp_delivered_dir)")" 0

# --idle: the exchange that starts IDLE is bounded too; the run goes on.
relay idle bytes IDLE || t_skip_all "relay does not start"
p=$port
PULLIMAP_TIMEOUT_MS=3000 "$PULLIMAP" --config="$T/config" --idle idle 2>"$T/idle.err" &
pid=$!
t_cleanup_add "t_kill_pid $pid 2"
reconnecting() { grep -Eq "127\.0\.0\.1:$p: too slow: .*; reconnecting in" "$T/idle.err"; }
if wait_until 15 reconnecting; then t_ok "--idle: IDLE trickled: logged, reconnecting"; else t_fail "--idle: IDLE trickled: logged, reconnecting" "$(tail -n 3 "$T/idle.err")"; fi
t_delivered_set "--idle: the mail was delivered before" "$(lmtp_delivered_dir)" "$T"/mail/*.eml
kill -TERM "$pid"
exited() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
if wait_until 10 exited "$pid"; then t_ok "--idle: SIGTERM ends it"; else t_fail "--idle: SIGTERM ends it"; fi
t_done
