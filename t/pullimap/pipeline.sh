#!/bin/bash
# ENABLE QRESYNC and SELECT go out together (one round trip less per
# session); a refused ENABLE still fails the run clearly, delivering
# nothing.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init pipeline
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 5 --sizes small --seed 7 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

cat >"$T/config" <<CONF
null-stderr = YES
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[p]
type = tunnel
command = $DOVECOT_TUNNEL
statefile = $T/p.db

[bad]
type = tunnel
command = $T_PYTHON $T_LIB/imap_refuse.py 'ENABLE QRESYNC' 'BAD Unknown command' $DOVECOT_TUNNEL
statefile = $T/bad.db
CONF

# Refused first: nothing may be delivered.
t_fails "ENABLE refused" 69 '^bad: ERROR: tunnel: ENABLE QRESYNC failed: BAD Unknown command$' \
	"$PULLIMAP" --config="$T/config" bad
t_eq "ENABLE refused: nothing delivered" "$(maildir_count "$dest")" 0
t_eq "ENABLE refused: nothing \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 0

t_check "run with --debug" "$PULLIMAP" --config="$T/config" --debug p
cp "$T/last.err" "$T/p.trace"
# The trace in order: C: ENABLE, C: SELECT, and only then S: ENABLE's OK.
grep -nE '^(.*: )?[CS]: ' "$T/p.trace" >"$T/lines"
en=$(sed -nE 's/^([0-9]+):(.*: )?C: ([0-9]+) ENABLE QRESYNC$/\1 \3/p' "$T/lines" | head -n 1)
read -r en_line en_tag <<<"${en:-0 none}"
sel_line=$(sed -nE 's/^([0-9]+):(.*: )?C: [0-9]+ SELECT INBOX$/\1/p' "$T/lines" | head -n 1)
ok_line=$(sed -nE "s/^([0-9]+):(.*: )?S: $en_tag OK.*/\\1/p" "$T/lines" | head -n 1)
if [ "$en_line" -gt 0 ] && [ -n "$sel_line" ] && [ -n "$ok_line" ] &&
	[ "$sel_line" -gt "$en_line" ] && [ "$ok_line" -gt "$sel_line" ]; then
	t_ok "SELECT sent before ENABLE's reply came"
else
	t_fail "SELECT sent before ENABLE's reply came" "ENABLE line $en_line, SELECT line ${sel_line:-none}, its OK line ${ok_line:-none}"
fi
t_delivered_set "every message delivered once" "$dest" "$T"/mail/*.eml
t_eq "all messages \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 5
t_check "second run" "$PULLIMAP" --config="$T/config" p
t_eq "second run delivers nothing" "$(maildir_count "$dest")" 5

t_done
