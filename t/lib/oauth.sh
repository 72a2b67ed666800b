# shellcheck shell=bash
# t/lib/oauth.sh - XOAUTH2 and OAUTHBEARER (RFC 7628) for the test
# Dovecots: a token endpoint on loopback (t/lib/tokeninfo.py) and the
# oauth2 passdb that asks it. Sourced after t/lib/common.sh.
#
#   oauth_start USER   starts the endpoint (stopped when the test exits);
#                      status 1 if it does not answer. Then:
#     OAUTH_TOKEN      the one token it takes, USER's (a fresh value)
#     OAUTH_LOG        every token it was shown, a line each
#     OAUTH_DOVECOT_CONF  lines for DOVECOT_EXTRA_CONF (before
#                      dovecot_init): PLAIN and LOGIN as usual (the
#                      passwd-file passdb), XOAUTH2 and OAUTHBEARER
#                      checked by the endpoint.

# shellcheck disable=SC2034 # (the caller's variables)
oauth_start() {
	local user=$1 port dir=$T/oauth
	port=$(free_port 1) || return 1
	OAUTH_TOKEN="good-token.$RANDOM.$RANDOM"
	mkdir -p "$dir" || return 1
	OAUTH_LOG=$dir/tokens.log
	: >"$OAUTH_LOG"
	timeout -k 5 "$T_SERVER_MAX" "$T_PYTHON" "$T_LIB/tokeninfo.py" "$port" \
		"$OAUTH_TOKEN" "$user" "$OAUTH_LOG" >"$dir/tokeninfo.log" 2>&1 &
	t_cleanup_add "t_kill_pid $! 2"
	wait_port 127.0.0.1 "$port" 10 || return 1
	cat >"$dir/dovecot-oauth2.conf.ext" <<EOC
tokeninfo_url = http://127.0.0.1:$port/tokeninfo?access_token=
username_attribute = username
active_attribute = active
active_value = true
EOC
	# (read by Dovecot's auth process, nobody's when we are root)
	chmod 755 "$dir"
	chmod 644 "$dir/dovecot-oauth2.conf.ext"
	OAUTH_DOVECOT_CONF="auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/dovecot-oauth2.conf.ext
}"
}
