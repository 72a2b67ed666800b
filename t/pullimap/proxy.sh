#!/bin/bash
# The proxy option (SOCKSv5, RFC 1928, with RFC 1929 username/password)
# against microsocks and a Dovecot master: imap (STARTTLS) and imaps through
# socks5:// (local resolution) and socks5h:// (the proxy resolves
# "localhost"), with and without proxy authentication; then the failures:
# wrong proxy password (77), credentials missing (77), proxy down (75),
# destination refused behind the proxy (75), bad URL (78 naming file:line).
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init proxy
t_need_pullimap
command -v microsocks >/dev/null || t_skip_all "microsocks not installed"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

socks_start PORT_OPEN || t_skip_all "microsocks does not start"
PROXY_PASS='s3cr;et@pw'
socks_start PORT_AUTH -u proxyuser -P "$PROXY_PASS" || t_skip_all "microsocks does not start"
PORT_DOWN=$(free_port) || t_skip_all "no free port"

genmail --count 3 --sizes small --seed 5 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

T_CONF_COMMON="username = $DOVECOT_USER
password = $DOVECOT_PASS
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
SSL_CAfile = $DOVECOT_CA"

: >"$T/config"
chmod 600 "$T/config" # passwords inside: a readable file draws a warning
imap="type = imap
port = $DOVECOT_IMAP_PORT"
imaps="type = imaps
port = $DOVECOT_IMAPS_PORT"
auth="proxyuser:$PROXY_PASS@"
t_section imap-socks5 "$imap" "host = 127.0.0.1" "proxy = socks5://127.0.0.1:$PORT_OPEN"
t_section imaps-socks5 "$imaps" "host = localhost" "proxy = socks5://127.0.0.1:$PORT_OPEN"
t_section imap-socks5h "$imap" "host = localhost" "proxy = socks5h://127.0.0.1:$PORT_OPEN"
t_section imaps-socks5h "$imaps" "host = localhost" "proxy = socks5h://127.0.0.1:$PORT_OPEN"
t_section imap-socks5-auth "$imap" "host = 127.0.0.1" "proxy = socks5://${auth}127.0.0.1:$PORT_AUTH"
t_section imaps-socks5h-auth "$imaps" "host = localhost" "proxy = socks5h://${auth}localhost:$PORT_AUTH"
t_section badproxypass "$imaps" "host = localhost" "proxy = socks5h://proxyuser:wrong-pw@127.0.0.1:$PORT_AUTH"
t_section noproxypass "$imaps" "host = localhost" "proxy = socks5h://127.0.0.1:$PORT_AUTH"
t_section proxydown "$imaps" "host = localhost" "proxy = socks5h://127.0.0.1:$PORT_DOWN"
t_section destrefused "type = imap" "port = $PORT_DOWN" "host = 127.0.0.1" "proxy = socks5://127.0.0.1:$PORT_OPEN"
# A tunnel ignores the option, like the reference.
t_section tunnel "type = tunnel" "command = $DOVECOT_TUNNEL" "proxy = socks5h://127.0.0.1:$PORT_DOWN"

for s in imap-socks5 imaps-socks5 imap-socks5h imaps-socks5h imap-socks5-auth imaps-socks5h-auth; do
	rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	if t_check "$s: delivers" "$PULLIMAP" --config="$T/config" "$s"; then
		t_delivered_set "$s: all three messages" "$dest" "$T"/mail/*.eml
	fi
done
if [ -n "${DOVECOT_TUNNEL:-}" ]; then
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
	t_check "tunnel ignores proxy" "$PULLIMAP" --config="$T/config" tunnel
fi

# The proxy really carried them, and socks5h left the name to it.
t_grep "socks5h: the proxy resolved localhost" 'localhost' "$T/socks-$PORT_OPEN.log"
t_run "$PULLIMAP" --config="$T/config" --debug imaps-socks5h
t_grep "--debug names the proxy" "via socks5h://127.0.0.1:$PORT_OPEN" "$T/last.err"

expect_fail() { # NAME STATUS ERE SECTION
	local name="$1"
	t_fails "$1" "$2" "$3" "$PULLIMAP" --config="$T/config" "$4"
	if grep -qF "$PROXY_PASS" "$T/last.err" || grep -qF wrong-pw "$T/last.err"; then
		t_fail "$name: proxy password not shown"
	else
		t_ok "$name: proxy password not shown"
	fi
}
expect_fail "wrong proxy password" 77 "SOCKS5 proxy socks5h://127.0.0.1:$PORT_AUTH: the proxy refused the username/password" badproxypass
expect_fail "proxy credentials missing" 77 "socks5h://127.0.0.1:$PORT_AUTH: the proxy accepts none of the authentication methods" noproxypass
expect_fail "proxy down" 75 "socks5h://127.0.0.1:$PORT_DOWN: cannot reach the proxy" proxydown
expect_fail "destination refused" 75 "127.0.0.1:$PORT_DOWN via SOCKS5 proxy socks5://127.0.0.1:$PORT_OPEN: .*\(REP [0-9]\)" destrefused

# Bad URLs: 78, FILE:LINE, never the password.
n=0
for url in "http://127.0.0.1:$PORT_OPEN" "socks5://127.0.0.1:0" "socks5://user@127.0.0.1" \
	"socks5://user:pw-hidden@" "socks5://127.0.0.1/" "socks5://[::1"; do
	n=$((n + 1))
	printf '[bad]\n%s\n%s\nproxy = %s\n' "$imaps" "$T_CONF_COMMON" "$url" >"$T/bad.conf"
	chmod 600 "$T/bad.conf"
	t_run "$PULLIMAP" --config="$T/bad.conf" bad
	t_eq "bad URL $n: exit status" "$?" 78
	t_grep "bad URL $n: file:line" "^pullimap: $T/bad.conf:[0-9]+: invalid value for proxy" "$T/last.err"
	if grep -qF pw-hidden "$T/last.err"; then t_fail "bad URL $n: password hidden"; else t_ok "bad URL $n: password hidden"; fi
done

t_done
