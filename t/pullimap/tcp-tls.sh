#!/bin/bash
# TCP IMAP against a Dovecot master: LOGIN and PLAIN (with and without
# SASL-IR is Dovecot's choice: it offers SASL-IR), STARTTLS, imaps with
# verification on/off, fingerprints right and wrong, wrong password.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init tcp-tls
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 3 --sizes small --seed 3 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

# The password has punctuation that INI parsers trip on (" ;", "#").
T_CONF_COMMON="host = 127.0.0.1
username = $DOVECOT_USER
password = $DOVECOT_PASS
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
SSL_CAfile = $DOVECOT_CA"

: >"$T/config"
chmod 600 "$T/config" # a readable file holding a password draws a warning
t_section login "type = imap" "port = $DOVECOT_IMAP_PORT" "auth = LOGIN"
t_section plain "type = imap" "port = $DOVECOT_IMAP_PORT" "auth = PLAIN"
t_section nostarttls "type = imap" "port = $DOVECOT_IMAP_PORT" "STARTTLS = NO"
t_section imaps "type = imaps" "port = $DOVECOT_IMAPS_PORT"
# A CA that did not sign the server's certificate.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" \
	-days 2 -subj "/CN=Other CA" >/dev/null 2>&1
t_section imaps-noca "type = imaps" "port = $DOVECOT_IMAPS_PORT" "SSL_CAfile = $T/other.pem"
t_section imaps-noverify "type = imaps" "port = $DOVECOT_IMAPS_PORT" "SSL_CAfile = $T/other.pem" "SSL_verify = NO"
t_section imaps-fp "type = imaps" "port = $DOVECOT_IMAPS_PORT" "SSL_CAfile = $T/other.pem" "SSL_verify = NO" "SSL_fingerprint = $DOVECOT_PUBKEY_SHA256"
t_section imaps-fpbad "type = imaps" "port = $DOVECOT_IMAPS_PORT" "SSL_fingerprint = sha256\$0000000000000000000000000000000000000000000000000000000000000000"
t_section badpass "type = imaps" "port = $DOVECOT_IMAPS_PORT" "password = wrong"
t_section refused "type = imap" "port = 1" "STARTTLS = NO"
t_section tls13 "type = imaps" "port = $DOVECOT_IMAPS_PORT" "SSL_protocol_min = TLSv1.3"

for s in login plain nostarttls imaps imaps-noverify imaps-fp tls13; do
	rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	if t_check "$s: delivers" "$PULLIMAP" --config="$T/config" "$s"; then
		t_delivered_set "$s: all three messages" "$dest" "$T"/mail/*.eml
	fi
done

# The trace redacts credentials unless --debug is given twice.
t_run "$PULLIMAP" --config="$T/config" --debug login
t_grep "--debug redacts LOGIN" 'LOGIN \[REDACTED\]' "$T/last.err"
if grep -qF "$DOVECOT_PASS" "$T/last.err"; then t_fail "--debug hides the password"; else t_ok "--debug hides the password"; fi
t_run "$PULLIMAP" --config="$T/config" --debug --debug login
t_grep "--debug --debug shows it" 'LOGIN testuser' "$T/last.err"
t_run "$PULLIMAP" --config="$T/config" --debug plain
t_grep "--debug redacts AUTHENTICATE" 'AUTHENTICATE PLAIN \[REDACTED\]' "$T/last.err"
t_grep "STARTTLS was used" 'C: [0-9]+ STARTTLS' "$T/last.err"

expect_fail() { # NAME STATUS ERE SECTION
	local name="$1"
	t_fails "$1" "$2" "$3" "$PULLIMAP" --config="$T/config" "$4"
}
expect_fail "unknown CA" 69 'certificate verify failed' imaps-noca
expect_fail "wrong fingerprint" 69 'fingerprint' imaps-fpbad
expect_fail "wrong password" 77 'uthentication failed' badpass
expect_fail "connection refused" 75 'onnection refused' refused
t_eq "nothing delivered by failures" "$(sqlite3 "$T/state-badpass.db" 'SELECT count(*) FROM delivered' 2>/dev/null || echo 0)" 0

t_done
