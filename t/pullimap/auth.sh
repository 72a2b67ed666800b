#!/bin/bash
# Authentication against a Dovecot master over TCP: password-command with
# PLAIN and LOGIN and its failures (exit status, no output), password and
# password-command together, the permission warning for a readable config
# holding a password, and XOAUTH2 / OAUTHBEARER (RFC 7628) checked by
# Dovecot's oauth2 passdb against a token endpoint served by Python on
# loopback: good token delivers, bad token is refused (77) with the
# server's RFC 7628 status, --debug hides the token.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init auth
t_need_pullimap
dovecot_available || t_skip_all "dovecot not available"

GOOD_TOKEN="good-token.$RANDOM.$RANDOM"
TOKEN_PORT=$(free_port 1) || t_skip_all "no free port"

# The token endpoint: tokeninfo_url + token; 200 with the user's name for
# the good token, 401 otherwise. Every token it sees goes to tokens.log.
cat >"$T/tokeninfo.py" <<'PYEOF'
import http.server, json, sys, urllib.parse
port, good, user, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.urlparse(self.path)
        tok = urllib.parse.parse_qs(q.query).get("access_token", [""])[0]
        with open(log, "a") as f:
            f.write(tok + "\n")
        if tok == good:
            code, body = 200, {"username": user, "active": "true"}
        else:
            code, body = 401, {"error": "invalid_token"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
: >"$T/tokens.log"
chmod 666 "$T/tokens.log"
timeout -k 5 "$T_SERVER_MAX" "$T_PYTHON" "$T/tokeninfo.py" "$TOKEN_PORT" \
	"$GOOD_TOKEN" "$DOVECOT_USER" "$T/tokens.log" >"$T/tokeninfo.log" 2>&1 &
TOKEN_PID=$!
t_cleanup_add 't_kill_pid "$TOKEN_PID" 2'
wait_port 127.0.0.1 "$TOKEN_PORT" 10 || t_skip_all "token endpoint does not start"

mkdir -p "$T/oauth"
cat >"$T/oauth/dovecot-oauth2.conf.ext" <<EOF2
tokeninfo_url = http://127.0.0.1:$TOKEN_PORT/tokeninfo?access_token=
username_attribute = username
active_attribute = active
active_value = true
EOF2
chmod 755 "$T/oauth"
chmod 644 "$T/oauth/dovecot-oauth2.conf.ext"
DOVECOT_EXTRA_CONF="auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $T/oauth/dovecot-oauth2.conf.ext
}"
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
t_grep "xoauth2: the endpoint saw the token" "^$GOOD_TOKEN\$" "$T/tokens.log"
delivers oauthbearer
expect_fail "xoauth2 bad token" 77 'authentication failed: NO .*\(status [^)]+\)$' xoauth2-bad
expect_fail "oauthbearer bad token" 77 'authentication failed: NO .*\(status invalid_token\)$' oauthbearer-bad
t_grep "the endpoint saw the bad token" '^bad-token$' "$T/tokens.log"
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
