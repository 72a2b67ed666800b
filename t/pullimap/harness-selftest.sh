#!/bin/bash
# End-to-end self-test of the test harness (t/lib/*): needs Dovecot (and
# Postfix for the SMTP part), not the pullimap binary.
set -u
# shellcheck source=t/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=t/lib/dovecot.sh
. "$TOP/t/lib/dovecot.sh"
# shellcheck source=t/lib/postfix.sh
. "$TOP/t/lib/postfix.sh"

t_init harness-selftest
dovecot_available || t_skip_all "dovecot-imapd/dovecot-lmtpd not installed"

# --- generated mail -------------------------------------------------------
t_check "genmail" genmail --count 3 --out "$T/mail" --seed 42 --sizes small
t_eq "genmail wrote 3 files" "$(find "$T/mail" -name 'msg-*.eml' | wc -l)" 3
genmail --count 3 --out "$T/mail2" --seed 42 --sizes small
t_check "genmail is deterministic" diff -r "$T/mail" "$T/mail2"
if grep -q $'\r$' "$T/mail/msg-0001.eml" && ! grep -q $'[^\r]$' "$T/mail/msg-0001.eml"; then
	t_ok "genmail uses CRLF"
else
	t_fail "genmail uses CRLF"
fi

# --- Dovecot ----------------------------------------------------------------
t_check "dovecot_init" dovecot_init "$T/dc" || t_done
t_check "dovecot_start" dovecot_start || t_done
t_check "imap port answers" wait_port 127.0.0.1 "$DOVECOT_IMAP_PORT" 1
t_check "imaps port answers" wait_port 127.0.0.1 "$DOVECOT_IMAPS_PORT" 1
t_check "lmtp socket" test -S "$DOVECOT_LMTP_SOCKET"

t_check "append 3 through the tunnel" imap_append --date "01-Jan-2024 10:00:00 +0000" INBOX "$T"/mail/msg-*.eml
t_eq "count" "$(imap_count INBOX)" 3
t_eq "uids" "$(imap_uids INBOX | tr '\n' ' ')" "1 2 3 "
t_eq "flags" "$(imap_fetch_flags INBOX | tr '\n' ' ')" "1 () 2 () 3 () "
uidvalidity=$(imap_uidvalidity INBOX)
t_match "uidvalidity" "$uidvalidity" '^[0-9]+$'
imap_fetch INBOX 2 >"$T/fetched"
t_same_file "fetch gives back the appended bytes" "$T/fetched" "$T/mail/msg-0002.eml"
# t_no_grep itself, in a subshell so that its verdicts are only printed.
printf 'a\nb\n' >"$T/ng"
out=$( (t_no_grep absent 'c' "$T/ng"; t_no_grep present '^b$' "$T/ng") 2>/dev/null)
t_eq "t_no_grep: ok when no line matches, names the line otherwise" "$out" \
	"ok absent"$'\n'"not ok present: $T/ng has: b"
t_check "store" imap_store INBOX 1,3 +FLAGS '\Seen'
t_eq "flags after store" "$(imap_fetch_flags INBOX | tr '\n' ' ')" "1 (\\Seen) 2 () 3 (\\Seen) "
t_check "compress offered by the tunnel" grep -qx 'COMPRESS=DEFLATE' <(imap_tool capability)
t_check "create mailbox with non-ASCII name" imap_create "Archives/Été"
t_check "append to it" imap_append "Archives/Été" "$T/mail/msg-0003.eml"
t_eq "count there" "$(imap_count "Archives/Été")" 1
t_check "expunge-all" imap_expunge_all "Archives/Été"
t_eq "count after expunge-all" "$(imap_count "Archives/Été")" 0

# TCP IMAP: STARTTLS + LOGIN (password with punctuation), IMAPS verified
# against $DOVECOT_CA with hostname localhost.
t_check "imap STARTTLS + LOGIN, imaps + AUTHENTICATE PLAIN" "$T_PYTHON" - <<'EOF'
import imaplib, os, ssl
e = os.environ
ctx = ssl.create_default_context(cafile=e["DOVECOT_CA"])
i = imaplib.IMAP4("127.0.0.1", int(e["DOVECOT_IMAP_PORT"]), timeout=10)
assert "STARTTLS" in i.capabilities, i.capabilities
ctx_ip = ssl.create_default_context(cafile=e["DOVECOT_CA"])  # IP SAN
i.starttls(ssl_context=ctx_ip)
i.login(e["DOVECOT_USER"], e["DOVECOT_PASS"])
typ, data = i.select("INBOX", readonly=True)
assert data[0] == b"3", data
i.logout()
i = imaplib.IMAP4_SSL("localhost", int(e["DOVECOT_IMAPS_PORT"]), ssl_context=ctx, timeout=10)
i.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (e["DOVECOT_USER"], e["DOVECOT_PASS"])).encode())
i.logout()
try:
    i = imaplib.IMAP4("127.0.0.1", int(e["DOVECOT_IMAP_PORT"]), timeout=10)
    i.login(e["DOVECOT_USER"], "wrong")
    raise SystemExit("wrong password accepted")
except imaplib.IMAP4.error:
    pass
EOF

# LMTP, TCP and unix socket, to the dest user.
t_check "lmtp over TCP and unix socket" "$T_PYTHON" - "$T/mail/msg-0001.eml" "$T/mail/msg-0002.eml" <<'EOF'
import os, smtplib, sys
e = os.environ
a, b = (open(f, "rb").read() for f in sys.argv[1:3])
l = smtplib.LMTP("127.0.0.1", int(e["DOVECOT_LMTP_PORT"]), timeout=10)
assert l.sendmail("sender@example.org", ["dest@example.org"], a) == {}
l.quit()
l = smtplib.LMTP(e["DOVECOT_LMTP_SOCKET"], timeout=10)
assert l.sendmail("", [e["DOVECOT_DEST_USER"]], b) == {}
l.quit()
EOF
t_check "lmtp deliveries landed" lmtp_wait_delivered 2 5
t_eq "dest maildir count" "$(maildir_count "$(lmtp_delivered_dir)")" 2
first=$(maildir_messages "$(lmtp_delivered_dir)" | head -n 1)
t_same_message "delivered message equals the original (trace headers aside)" "$T/mail/msg-0001.eml" "$first"
t_eq "dest user sees them over IMAP" "$(IMAP_TUNNEL=$(dovecot_tunnel_cmd dest) imap_count INBOX)" 2
t_eq "source mailbox untouched" "$(imap_count INBOX)" 3

# --- Postfix ------------------------------------------------------------------
if ! postfix_available; then
	t_skip "postfix" "postfix not installed or not root"
elif ! postfix_init "$T/pf" || ! postfix_start; then
	t_fail "postfix_start" "private postfix did not start"
else
	t_ok "postfix_start"
	t_check "smtp submission to postfix" "$T_PYTHON" - "$T/mail/msg-0003.eml" <<'EOF'
import os, smtplib, sys
e = os.environ
s = smtplib.SMTP("127.0.0.1", int(e["POSTFIX_PORT"]), timeout=10)
s.ehlo("localhost")
assert s.sendmail('"john doe"@example.org', ["dest@example.org"], open(sys.argv[1], "rb").read()) == {}
s.quit()
EOF
	if t_check "postfix relayed it to dovecot" postfix_wait_delivered 3 20; then
		last=$(maildir_messages "$(lmtp_delivered_dir)" | tail -n 1)
		t_same_message "relayed message equals the original (trace headers aside)" "$T/mail/msg-0003.eml" "$last"
		t_grep "postfix added its Received header" 'by smtp\.pullimap-test\.localdomain \(Postfix\)' "$last"
		t_delivered_set "dest maildir holds exactly the 3 messages" "$(lmtp_delivered_dir)" "$T"/mail/msg-*.eml
	fi
	t_check "postfix queue empty" wait_until 5 postfix_queue_empty
fi

# --- cleanup works ------------------------------------------------------------
dpid=$DOVECOT_PID
ppid=${POSTFIX_PID:-}
postfix_stop
dovecot_stop
# shellcheck disable=SC2317 # called through wait_until
gone() { ! kill -0 "$1" 2>/dev/null; }
t_check "dovecot stopped" wait_until 5 gone "$dpid"
[ -n "$ppid" ] && t_check "postfix stopped" wait_until 5 gone "$ppid"
t_done
