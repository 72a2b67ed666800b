#!/bin/bash
# Tunnel to Dovecot, delivery into Dovecot's LMTP (TCP and Unix socket):
# byte-exact bodies, envelope senders, no re-delivery, \Seen, state journal.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init tunnel-lmtp
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 25 --sizes small --edge --seed 1 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

cat >"$T/config" <<CONF
# defaults for every section
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
deliver-rcpt = $DOVECOT_DEST_USER

[tcp]
statefile = $T/tcp.db
deliver-method = lmtp:[127.0.0.1]:$DOVECOT_LMTP_PORT

[unix]
statefile = $T/unix.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
CONF

dest=$(lmtp_delivered_dir)
t_check "first run delivers (lmtp tcp)" "$PULLIMAP" --config="$T/config" tcp
t_eq "one log line per message" "$(grep -c '^tcp(INBOX): UID [0-9]* from <' "$T/last.err")" 25
t_delivered_set "every message delivered once, byte-exact" "$dest" "$T"/mail/*.eml
t_eq "all messages \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 25
t_eq "journal has 25 rows, all seen" \
	"$(sqlite3 "$T/tcp.db" 'SELECT count(*), sum(seen) FROM delivered')" "25|25"
t_eq "UIDNEXT recorded" "$(sqlite3 "$T/tcp.db" 'SELECT uidnext FROM mailbox')" "$(imap_uidnext INBOX)"
t_eq "state file is 0600" "$(stat -c %a "$T/tcp.db")" 600
t_match "journal keeps the MTA reply" "$(sqlite3 "$T/tcp.db" 'SELECT reply FROM delivered LIMIT 1')" '^250 '

t_check "second run" "$PULLIMAP" --config="$T/config" tcp
t_eq "second run delivers nothing" "$(maildir_count "$dest")" 25
t_eq "second run is silent" "$(cat "$T/last.err")" ""

# Senders: the envelope From, quoted when needed, <> when absent.
grep -h '^Return-Path:' "$dest"/new/* "$dest"/cur/* 2>/dev/null | sort -u >"$T/senders"
t_grep "quoted local part kept" '^Return-Path: <".*"@' "$T/senders"
t_grep "null sender for a message without From" '^Return-Path: <>' "$T/senders"

# New mail after a run: only the new one is delivered.
genmail --count 3 --sizes small --seed 2 --prefix new --out "$T/mail2" >/dev/null
imap_append INBOX "$T"/mail2/*.eml >/dev/null
t_check "third run delivers new mail" "$PULLIMAP" --config="$T/config" -q tcp
t_eq "-q prints nothing" "$(cat "$T/last.err")" ""
t_delivered_set "old and new delivered once each" "$dest" "$T"/mail/*.eml "$T"/mail2/*.eml

# Unix socket: a separate state, so everything is delivered again there.
rm -rf "$dest"/new/* "$dest"/cur/*
t_check "unix socket run" "$PULLIMAP" --config="$T/config" unix
t_delivered_set "unix socket delivers every message" "$dest" "$T"/mail/*.eml "$T"/mail2/*.eml

# Mailbox names: "R&D" is not valid modified UTF-7 and goes out as R&-D (the
# server's name for it); a name written in modified UTF-7 goes out as is.
# (imap_tool takes UTF-8 names and encodes them itself.)
imap_create 'R&D' >/dev/null
imap_create 'Entwürfe' >/dev/null
genmail --count 2 --sizes small --seed 3 --prefix rd --out "$T/mail3" >/dev/null
genmail --count 2 --sizes small --seed 4 --prefix ew --out "$T/mail4" >/dev/null
imap_append 'R&D' "$T"/mail3/*.eml >/dev/null
imap_append 'Entwürfe' "$T"/mail4/*.eml >/dev/null
cat >>"$T/config" <<CONF

[rd]
statefile = $T/rd.db
mailbox = R&D
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET

[ew]
statefile = $T/ew.db
mailbox = Entw&APw-rfe
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
CONF
rm -rf "$dest"/new/* "$dest"/cur/*
t_check "mailbox R&D: run" "$PULLIMAP" --config="$T/config" --debug rd
t_grep "mailbox R&D: SELECT R&-D sent" ' C: [0-9]+ SELECT R&-D$' "$T/last.err"
t_grep "mailbox R&D: log lines name the mailbox as configured" '^rd\(R&D\): UID 1 from' "$T/last.err"
t_check "mailbox Entw&APw-rfe: run" "$PULLIMAP" --config="$T/config" ew
t_delivered_set "both mailboxes delivered" "$dest" "$T"/mail3/*.eml "$T"/mail4/*.eml
t_eq "R&-D: both \\Seen" "$(imap_fetch_flags 'R&D' | grep -c '\\Seen')" 2

t_done
