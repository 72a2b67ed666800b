#!/bin/bash
# --idle through a SOCKS5 proxy: the network path goes away (the proxy is
# killed) while mail keeps arriving, then comes back on the same port:
# pullimap keeps running, reconnects and catches up within seconds,
# delivering each message once.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init idle-proxy
t_need_pullimap
command -v microsocks >/dev/null || t_skip_all "microsocks not installed"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

SOCKS_PORT=$(free_port) || t_skip_all "no free port"
SOCKS_PID=
socks_start() {
	microsocks -i 127.0.0.1 -p "$SOCKS_PORT" >>"$T/socks.log" 2>&1 &
	SOCKS_PID=$!
	wait_port 127.0.0.1 "$SOCKS_PORT" 10
}
socks_kill() { [ -n "$SOCKS_PID" ] && kill -9 "$SOCKS_PID" 2>/dev/null; wait "$SOCKS_PID" 2>/dev/null; SOCKS_PID=; }
t_cleanup_add socks_kill
socks_start || t_skip_all "microsocks does not start"

genmail --count 8 --sizes small --seed 29 --out "$T/mail" >/dev/null
cat >"$T/config" <<CONF
[p]
type = imap
host = localhost
port = $DOVECOT_IMAP_PORT
STARTTLS = NO
proxy = socks5h://127.0.0.1:$SOCKS_PORT
username = $DOVECOT_USER
password = $DOVECOT_PASS
statefile = $T/p.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
CONF
chmod 600 "$T/config"
dest=$(lmtp_delivered_dir)

imap_append INBOX "$T"/mail/msg-000[1-2].eml >/dev/null
"$PULLIMAP" --config="$T/config" --idle=5 p 2>"$T/idle.err" &
pid=$!
t_cleanup_add "kill -9 $pid 2>/dev/null"
if wait_until 15 dovecot__has_at_least 2; then t_ok "delivers through the proxy"; else t_fail "delivers through the proxy"; fi

# The network path breaks: established connections die with the proxy.
n0=$(grep -c 'reconnecting in' "$T/idle.err")
socks_kill
imap_append INBOX "$T"/mail/msg-000[3-5].eml >/dev/null
# pullimap notices (the IDLE connection dies) and fails to reconnect.
retrying() { [ "$(grep -c 'reconnecting in' "$T/idle.err")" -ge $((n0 + 2)) ]; }
if wait_until 30 retrying; then t_ok "notices and retries"; else t_fail "notices and retries" "$(tail -n 3 "$T/idle.err")"; fi
if kill -0 "$pid" 2>/dev/null; then t_ok "keeps running without the proxy"; else t_fail "keeps running without the proxy"; fi
t_eq "nothing delivered while the path is down" "$(maildir_count "$dest")" 2
socks_start || t_fail "proxy restarts"
start=$(date +%s)
if wait_until 20 dovecot__has_at_least 5; then
	t_ok "catches up once the proxy is back ($(($(date +%s) - start)) s)"
else
	t_fail "catches up once the proxy is back" "$(maildir_count "$dest") delivered"
fi
t_grep "logs the reconnection" 'reconnecting in [0-9.]+ s' "$T/idle.err"
n=$(grep -c 'reconnecting in' "$T/idle.err")
if [ "$n" -le 6 ]; then t_ok "one line per attempt, no flood ($n)"; else t_fail "no flood of log lines" "$n lines"; fi

imap_append INBOX "$T"/mail/msg-000[6-8].eml >/dev/null
if wait_until 10 dovecot__has_at_least 8; then t_ok "idles again afterwards"; else t_fail "idles again afterwards"; fi
kill -TERM "$pid"
wait "$pid"
t_eq "SIGTERM: exit 0" "$?" 0
t_delivered_set "every message once" "$dest" "$T"/mail/*.eml

# A dead path that closes nothing: the proxy is frozen (SIGSTOP), so the
# connection just goes silent. The end of IDLE (every 3 s here) and the
# response deadline (PULLIMAP_TIMEOUT_MS) detect it; pullimap reconnects
# once the path works again.
genmail --count 3 --sizes small --seed 31 --prefix dead --out "$T/dead" >/dev/null
PULLIMAP_TIMEOUT_MS=2000 "$PULLIMAP" --config="$T/config" --debug --idle=3 p 2>"$T/dead.err" &
pid=$!
t_cleanup_add "kill -9 $pid 2>/dev/null"
# Freeze the path once the server has accepted an IDLE.
if wait_until 15 grep -qE 'S: \+ ' "$T/dead.err"; then t_ok "dead path: idling"; else t_fail "dead path: idling"; fi
kill -STOP "$SOCKS_PID"
imap_append INBOX "$T"/dead/*.eml >/dev/null
# Thaw it once pullimap has given up on the silent connection.
if wait_until 30 grep -q 'reconnecting in' "$T/dead.err"; then t_ok "dead path: gives up on the silent connection"; else t_fail "dead path: gives up on the silent connection"; fi
kill -CONT "$SOCKS_PID"
if wait_until 30 dovecot__has_at_least 11; then t_ok "silent dead connection detected, then caught up"; else t_fail "silent dead connection detected, then caught up" "$(maildir_count "$dest") delivered"; fi
t_grep "the silence was noticed" '[Tt]ime' "$T/dead.err"
kill -TERM "$pid"
wait "$pid"
t_eq "SIGTERM after the dead path: exit 0" "$?" 0
t_delivered_set "every message once, dead path included" "$dest" "$T"/mail/*.eml "$T"/dead/*.eml
t_done
