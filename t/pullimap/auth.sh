#!/bin/bash
# Authentication against a Dovecot master over TCP: password-command with
# PLAIN and LOGIN and its failures (exit status, no output), password and
# password-command together, the permission warning for a readable config
# holding a password, and XOAUTH2 / OAUTHBEARER (RFC 7628) checked by
# Dovecot's oauth2 passdb against a token endpoint served by Python on
# loopback (t/lib/oauth.sh): good token delivers, bad token is refused
# (77) with the server's RFC 7628 status, --debug hides the token.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
. "$TOP/t/lib/oauth.sh"
t_init auth
t_need_pullimap
dovecot_available || t_skip_all "dovecot not available"

oauth_start "$DOVECOT_USER" || t_skip_all "token endpoint does not start"
GOOD_TOKEN=$OAUTH_TOKEN
DOVECOT_EXTRA_CONF=$OAUTH_DOVECOT_CONF
export DOVECOT_EXTRA_CONF
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 3 --sizes small --seed 5 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

# Helpers printing the secret (the password has " ;" and "#" in it).
printf '#!/bin/sh\nprintf "%%s\\n" %q\n' "$DOVECOT_PASS" >"$T/pw.sh"
printf '#!/bin/sh\necho %s\n' "$GOOD_TOKEN" >"$T/token.sh"
chmod 755 "$T/pw.sh" "$T/token.sh"

T_CONF_COMMON="host = 127.0.0.1
username = $DOVECOT_USER
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
SSL_CAfile = $DOVECOT_CA"
: >"$T/config"
chmod 600 "$T/config"
imap=("type = imap" "port = $DOVECOT_IMAP_PORT" "STARTTLS = NO")
imaps=("type = imaps" "port = $DOVECOT_IMAPS_PORT")
t_section cmd-plain "${imap[@]}" "auth = PLAIN" "password-command = $T/pw.sh"
t_section cmd-login "${imap[@]}" "auth = LOGIN" "password-command = $T/pw.sh"
t_section cmd-fail "${imap[@]}" "password-command = echo x; exit 3"
t_section cmd-empty "${imap[@]}" "password-command = true"
t_section cmd-both "${imap[@]}" "password = x" "password-command = $T/pw.sh"
t_section xoauth2 "${imaps[@]}" "auth = XOAUTH2" "password-command = $T/token.sh"
t_section oauthbearer "${imaps[@]}" "auth = OAUTHBEARER PLAIN" "password-command = $T/token.sh"
t_section xoauth2-bad "${imaps[@]}" "auth = XOAUTH2" "password-command = echo bad-token"
t_section oauthbearer-bad "${imap[@]}" "auth = OAUTHBEARER" "password-command = echo bad-token"

delivers() { # SECTION
	rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	if t_check "$1: delivers" "$PULLIMAP" --quiet --config="$T/config" "$1"; then
		t_delivered_set "$1: all three messages" "$dest" "$T"/mail/*.eml
	fi
	t_eq "$1: nothing on stderr with --quiet" "$(cat "$T/last.err")" ""
}
expect_fail() { # NAME STATUS ERE SECTION
	local name="$1"
	rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	t_fails "$1" "$2" "$3" "$PULLIMAP" --config="$T/config" "$4"
	t_eq "$name: nothing delivered" "$(maildir_count "$dest")" 0
}

delivers cmd-plain
delivers cmd-login
expect_fail "command exits 3" 77 'password-command exited with status 3$' cmd-fail
expect_fail "command prints nothing" 77 'password-command printed nothing' cmd-empty
expect_fail "password and password-command" 78 'password and password-command .* mutually exclusive' cmd-both

# LOGIN's trace hides the secret from password-command.
t_run "$PULLIMAP" --config="$T/config" --debug cmd-login
t_grep "cmd-login: --debug redacts" 'LOGIN \[REDACTED\]' "$T/last.err"
if grep -qF "$DOVECOT_PASS" "$T/last.err"; then t_fail "cmd-login: --debug hides the password"; else t_ok "cmd-login: --debug hides the password"; fi

# XOAUTH2 / OAUTHBEARER through Dovecot's oauth2 passdb.
delivers xoauth2
t_grep "xoauth2: the endpoint saw the token" "^$GOOD_TOKEN\$" "$OAUTH_LOG"
delivers oauthbearer
expect_fail "xoauth2 bad token" 77 'authentication failed: NO .*\(status [^)]+\)$' xoauth2-bad
expect_fail "oauthbearer bad token" 77 'authentication failed: NO .*\(status invalid_token\)$' oauthbearer-bad
t_grep "the endpoint saw the bad token" '^bad-token$' "$OAUTH_LOG"
t_run "$PULLIMAP" --config="$T/config" --debug xoauth2
t_grep "xoauth2: --debug redacts" 'AUTHENTICATE XOAUTH2 \[REDACTED\]' "$T/last.err"
if grep -qF "$GOOD_TOKEN" "$T/last.err"; then t_fail "xoauth2: --debug hides the token"; else t_ok "xoauth2: --debug hides the token"; fi
t_run "$PULLIMAP" --config="$T/config" --debug oauthbearer-bad
t_grep "oauthbearer-bad: error challenge answered with %x01" '^.*C: AQ==' "$T/last.err"

# A password in a file others can read: a warning, not an error.
{
	echo "[warn]"
	echo "$T_CONF_COMMON"
	echo "statefile = $T/state-warn.db"
	printf '%s\n' "${imap[@]}" "password = $DOVECOT_PASS"
} >"$T/config-warn"
chmod 644 "$T/config-warn"
imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
t_check "readable config: still runs" "$PULLIMAP" --quiet --config="$T/config-warn" warn
t_grep "readable config: warning" "^WARNING: $T/config-warn: contains a password and is readable by others \\(chmod 600 it\\)\$" "$T/last.err"
t_eq "readable config: warned once" "$(grep -c 'readable by others' "$T/last.err")" 1
chmod 640 "$T/config-warn"
t_run "$PULLIMAP" --quiet --config="$T/config-warn" warn
t_grep "group-readable config: warning" 'readable by others' "$T/last.err"
chmod 600 "$T/config-warn"
t_run "$PULLIMAP" --quiet --config="$T/config-warn" warn
t_eq "private config: no warning" "$(cat "$T/last.err")" ""

t_done
