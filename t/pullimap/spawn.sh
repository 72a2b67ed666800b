#!/bin/bash
# Helper commands cannot hold pullimap: a password-command that closes its
# output and runs on, or prints nothing and never exits, fails with a
# one-line error naming password-command within its deadline (the network
# timeout, PULLIMAP_TIMEOUT_MS, when shorter than 60 s), and nothing it
# started is left running; a tunnel command that lingers after the session
# is ended with its whole process group.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init spawn
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 2 --sizes small --seed 3 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

# Unique sleep durations tell our leftovers from anything else's.
mark=$((100000 + $$ % 100000))
linger="sleep 1$mark"
silent="sleep 2$mark"
tunnel_child="sleep 3$mark"

T_CONF_COMMON="deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER"
: >"$T/config"
imap=("type = imap" "host = 127.0.0.1" "port = $DOVECOT_IMAP_PORT"
	"STARTTLS = NO" "username = $DOVECOT_USER")
# `; :` keeps the shell around as the parent (no exec of the last command).
t_section linger "${imap[@]}" "password-command = echo x; exec >&-; $linger; :"
t_section silent "${imap[@]}" "password-command = $silent; :"
# A helper that prompts on the terminal (it is one when pullimap runs in
# the foreground of one, as under script(1)).
t_section prompt "${imap[@]}" "password-command = read -r p </dev/tty && printf '%s\\n' \"\$p\""
t_section tunnel "type = tunnel" "null-stderr = YES" \
	"command = $tunnel_child & $DOVECOT_TUNNEL; wait"

# Leftovers of a failed test go (by PID; the patterns are unique).
t_cleanup_add 'for p in $(pgrep -f "$linger|$silent|$tunnel_child"); do kill -9 "$p"; done'

gone() { ! pgrep -f "$1" >/dev/null; }

bounded_fail() { # NAME SECTION MAXSECS ERE LEFTOVER
	local start secs
	start=$(date +%s%N)
	PULLIMAP_TIMEOUT_MS=2000 t_fails "$1" 77 "$4" \
		timeout 30 "$PULLIMAP" --config="$T/config" "$2"
	secs=$(( ($(date +%s%N) - start) / 1000000000 ))
	if [ "$secs" -le "$3" ]; then t_ok "$1: gives up within ${3}s"; else t_fail "$1: gives up within ${3}s" "took ${secs}s"; fi
	if wait_until 3 gone "$5"; then t_ok "$1: nothing left running"; else t_fail "$1: nothing left running" "$(pgrep -af "$5")"; fi
}

bounded_fail "closes stdout, runs on" linger 6 \
	'password-command timed out after 2 s \(killed\)$' "$linger"
bounded_fail "prints nothing, never exits" silent 6 \
	'password-command timed out after 2 s \(killed\)$' "$silent"
t_eq "nothing delivered" "$(maildir_count "$dest")" 0

# Interactive: the helper reads the password from the terminal. (Not in
# the foreground of a terminal, it would be stopped by SIGTTIN there.)
if command -v script >/dev/null; then
	printf '%s\n' "$DOVECOT_PASS" | PULLIMAP_TIMEOUT_MS=5000 t_run timeout -k 1 20 \
		script -qec "'$PULLIMAP' --config='$T/config' prompt" /dev/null
	t_eq "prompting password-command on the terminal: exit 0" "$?" 0
	t_delivered_set "prompting password-command: delivered" "$dest" "$T"/mail/*.eml
	rm -f "$dest"/new/* "$dest"/cur/*
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	rm -f "$T/state-prompt.db"
else
	t_skip "prompting password-command" "no script(1)"
fi

# The tunnel's shell waits for its background child after the session:
# closing the tunnel ends both.
start=$(date +%s%N)
t_check "tunnel with a lingering child delivers" timeout 30 "$PULLIMAP" --config="$T/config" tunnel
secs=$(( ($(date +%s%N) - start) / 1000000000 ))
t_delivered_set "tunnel: every message once" "$dest" "$T"/mail/*.eml
if [ "$secs" -le 8 ]; then t_ok "tunnel: ends within 8s"; else t_fail "tunnel: ends within 8s" "took ${secs}s"; fi
if wait_until 3 gone "$tunnel_child"; then t_ok "tunnel: its group is ended"; else t_fail "tunnel: its group is ended" "$(pgrep -af "$tunnel_child")"; fi
t_done
