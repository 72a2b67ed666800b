#!/bin/bash
# --idle: new mail is delivered within seconds (IDLE), SIGUSR1 polls now,
# the IMAP server going away and coming back is survived (reconnection with
# backoff, nothing lost or duplicated), SIGTERM exits 0, and fatal errors
# (authentication) end it.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init idle
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 12 --sizes small --seed 19 --out "$T/mail" >/dev/null
dest=$(lmtp_delivered_dir)
cat >"$T/config" <<CONF
type = imap
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
STARTTLS = NO
username = $DOVECOT_USER
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[i]
password = $DOVECOT_PASS
statefile = $T/i.db

[bad]
password = wrong
statefile = $T/bad.db
CONF

imap_append INBOX "$T"/mail/msg-000[1-2].eml >/dev/null
# --debug: the trace shows the polls (a SEARCH for new mail), which only
# a change or a signal causes (the IDLE timeout just re-issues IDLE).
"$PULLIMAP" --debug --config="$T/config" --idle=20 i 2>"$T/idle.err" &
pid=$!
t_cleanup_add "kill -9 $pid 2>/dev/null"

# Idling: IDLE is the last command sent.
idling() { grep -E ': C: ' "$T/idle.err" | tail -n 1 | grep -Eq ': C: [0-9]+ IDLE$'; }
if wait_until 15 dovecot__has_at_least 2; then t_ok "existing mail delivered at start"; else t_fail "existing mail delivered at start"; fi
wait_until 10 idling || t_fail "idling after the first poll"
imap_append INBOX "$T"/mail/msg-000[3-4].eml >/dev/null
if wait_until 10 dovecot__has_at_least 4; then t_ok "new mail delivered while idling"; else t_fail "new mail delivered while idling"; fi

searches() { grep -Ec ': C: [0-9]+ UID SEARCH' "$T/idle.err"; }
searched_more() { [ "$(searches)" -gt "$1" ]; }
# Idling again after the last delivery.
wait_until 10 idling || t_fail "idling again"
n=$(searches)
kill -USR1 "$pid"
if wait_until 5 searched_more "$n"; then t_ok "SIGUSR1 polls at once"; else t_fail "SIGUSR1 polls at once" "no SEARCH after SIGUSR1"; fi
if kill -0 "$pid" 2>/dev/null; then t_ok "SIGUSR1: keeps running"; else t_fail "SIGUSR1: keeps running"; fi

# The server goes away; mail arrives meanwhile (through the tunnel, which
# needs no master); the server comes back.
dovecot_stop
reconnects() { [ "$(grep -c 'reconnecting in [0-9.]* s' "$T/idle.err")" -ge "$1" ]; }
wait_until 10 reconnects 1 || t_fail "notices the server going away"
imap_append INBOX "$T"/mail/msg-000[5-7].eml >/dev/null
# A second attempt failed and was logged: it is still there, retrying.
if wait_until 10 reconnects 2 && kill -0 "$pid" 2>/dev/null; then t_ok "survives the server going away"; else t_fail "survives the server going away"; fi
dovecot_start || t_fail "dovecot restarts"
if wait_until 20 dovecot__has_at_least 7; then t_ok "catches up after the server is back"; else t_fail "catches up after the server is back" "$(maildir_count "$dest") delivered"; fi
t_grep "logs the reconnection" 'reconnecting in [0-9.]+ s' "$T/idle.err"

imap_append INBOX "$T"/mail/msg-000[8-9].eml >/dev/null
if wait_until 10 dovecot__has_at_least 9; then t_ok "idles again after reconnecting"; else t_fail "idles again after reconnecting"; fi

kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(ps -o stat= -p "$pid" | cut -c1)" = Z ]; }
wait_until 5 gone
wait "$pid"
t_eq "SIGTERM: exit 0" "$?" 0
t_delivered_set "every message once" "$dest" "$T"/mail/msg-000[1-9].eml
t_eq "all \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 9

# Fatal errors end --idle at once.
t_run timeout 20 "$PULLIMAP" --config="$T/config" --idle bad
t_eq "wrong password: exit 77" "$?" 77
t_done
