#!/bin/bash
# Delivery over SMTP (libcurl) into a real Postfix on loopback, which relays
# to Dovecot's LMTP: every message arrives once, byte-exact.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
. "$TOP/t/lib/postfix.sh"
t_init postfix-smtp
t_need_pullimap
postfix_available || t_skip_all "postfix not available (needs root and the postfix package)"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"
postfix_init "$T/pf" || t_skip_all "postfix cannot be set up"
postfix_start || t_skip_all "postfix does not start"

genmail --count 30 --sizes small --edge --seed 13 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

cat >"$T/config" <<CONF
[pf]
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
statefile = $T/pf.db
deliver-method = smtp:[127.0.0.1]:$POSTFIX_PORT
deliver-ehlo = client.example
deliver-rcpt = $DOVECOT_DEST_USER@example.org
CONF

t_check "delivers through Postfix" "$PULLIMAP" --config="$T/config" pf
postfix_wait_delivered 30 30
t_delivered_set "every message once, byte-exact" "$(lmtp_delivered_dir)" "$T"/mail/*.eml
t_eq "all \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 30
t_match "journal keeps Postfix's queue id" "$(sqlite3 "$T/pf.db" 'SELECT reply FROM delivered LIMIT 1')" '^250 .*queued as'
t_check "second run" "$PULLIMAP" --config="$T/config" pf
# Anything the second run handed to Postfix (wrongly) sits in its queue
# until delivered: wait for the queue to drain, then count.
if wait_until 20 postfix_queue_empty; then t_ok "Postfix queue drained"; else t_fail "Postfix queue drained"; fi
t_eq "nothing delivered twice" "$(maildir_count "$(lmtp_delivered_dir)")" 30
t_eq "EHLO name used (Postfix's Received: header)" \
	"$(maildir_messages "$(lmtp_delivered_dir)" | xargs grep -l '^Received: from client\.example ' | wc -l)" 30
t_done
