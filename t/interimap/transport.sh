#!/bin/bash
# interimap's transport and authentication options, end to end: whole
# one-shot runs, the local side a preauthenticated tunnel, the remote one
# reached over IMAPS (SSL_CAfile), IMAP + STARTTLS (with the right
# SSL_fingerprint), plain IMAP (STARTTLS = NO), password-command, XOAUTH2
# and OAUTHBEARER (Dovecot's oauth2 passdb, t/lib/oauth.sh), SOCKSv5
# through microsocks (socks5:// without credentials, socks5h:// with
# them); then the local side over STARTTLS too (both sides TCP). Each
# success is checked by the messages that arrive on the other side (one
# appended on each side before each run), by the login the Dovecot logs
# (mechanism, TLS or not) and the connection microsocks logs, and
# compared with the Perl interimap ($INTERIMAP_PERL) on a twin pair of
# Dovecots (setup B; ours on setup A): the same exit status class, log
# lines, mapping and UIDNEXTs, messages and UIDs on all four servers.
# Where the reference lacks the option (password-command, the OAuth
# mechanisms), it runs the plain IMAPS configuration instead, so that the
# twins stay alike.
#
# The refusals end with status 1 and one line on stderr (-q) naming the
# side, checked by its text, the reference failing alike where it has the
# option: a wrong SSL_fingerprint, a wrong password, a failing
# password-command (either side), a refused token, wrong proxy
# credentials, the proxy down (either side), and a server that accepts
# the connection and never greets: the 30 s timeout (side.h,
# SIDE_TIMEOUT_MS; no key sets it), waited for in the background while
# the rest runs, so that it costs no time of its own.
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"
. "$T_LIB/oauth.sh"

t_init interimap-transport
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"

oauth_start "$DOVECOT_DEST_USER" || t_skip_all "token endpoint does not start"

# setup X: pair X, a local Dovecot and a remote one, both masters
# running: the local one is reached as $DOVECOT_USER through its tunnel
# (or over TCP: LIMAP, LCA), the remote one as $DOVECOT_DEST_USER over
# TCP (RIMAP, RIMAPS, RCA, RSPKI: its key's SSL_fingerprint); the tests'
# own commands use the tunnels (L, R). All in P[X:KEY].
declare -A P
setup() {
	local x=$1
	DOVECOT_EXTRA_CONF='' dovecot_init "$T/${x}l" >/dev/null && dovecot_start || return 1
	P[$x:L]=$DOVECOT_TUNNEL P[$x:LIMAP]=$DOVECOT_IMAP_PORT P[$x:LCA]=$DOVECOT_CA
	DOVECOT_EXTRA_CONF=$OAUTH_DOVECOT_CONF dovecot_init "$T/${x}r" >/dev/null &&
		dovecot_start || return 1
	P[$x:R]="$DOVECOT_TUNNEL $DOVECOT_DEST_USER" P[$x:RIMAP]=$DOVECOT_IMAP_PORT
	P[$x:RIMAPS]=$DOVECOT_IMAPS_PORT P[$x:RCA]=$DOVECOT_CA P[$x:RSPKI]=$DOVECOT_PUBKEY_SHA256
}
setup A && setup B || { t_fail "four Dovecots"; t_done; }
t_log "four Dovecots ready: $(t_elapsed)"

# conf NAME LINE...: $T/A-NAME.conf and $T/B-NAME.conf, the LINEs after
# "database = $T/X.db" ($CONF_DB instead when set), with each @KEY@ made
# pair X's P[X:KEY] (@X@: X).
conf() {
	local n=$1 x k text
	shift
	for x in A B; do
		text="database = ${CONF_DB:-$T/@X@.db}"$'\n'$(printf '%s\n' "$@")
		text=${text//@X@/"$x"}
		for k in L LIMAP LCA RIMAP RIMAPS RCA RSPKI; do
			text=${text//@$k@/"${P[$x:$k]}"}
		done
		printf '%s\n' "$text" >"$T/$x-$n.conf"
		chmod 600 "$T/$x-$n.conf"
	done
}
LOCAL_TUNNEL=$'[local]\ntype = tunnel\ncommand = @L@'
LOCAL_IMAP=$'[local]\ntype = imap\nhost = 127.0.0.1\nport = @LIMAP@\nSSL_CAfile = @LCA@'
LOCAL_IMAP+=$'\nusername = '$DOVECOT_USER
REMOTE=$'[remote]\nhost = 127.0.0.1\nusername = '$DOVECOT_DEST_USER$'\nSSL_CAfile = @RCA@'
REMOTE_IMAPS=$REMOTE$'\ntype = imaps\nport = @RIMAPS@'
REMOTE_IMAP=$REMOTE$'\ntype = imap\nport = @RIMAP@'
RPASS="password = $DOVECOT_DEST_PASS"

# The secrets' commands, and a server that never greets.
printf '#!/bin/sh\nprintf "%%s\\n" %q\n' "$DOVECOT_DEST_PASS" >"$T/pw.sh"
printf '#!/bin/sh\nprintf "%%s\\n" %q\n' "$DOVECOT_PASS" >"$T/lpw.sh"
printf '#!/bin/sh\necho %s\n' "$OAUTH_TOKEN" >"$T/token.sh"
chmod 755 "$T/pw.sh" "$T/lpw.sh" "$T/token.sh"
HANG_PORT=$(free_port) || t_skip_all "no free port"
timeout -k 5 120 "$T_PYTHON" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:  # accepts, holds, never says a word (ended by timeout)
    held.append(s.accept()[0])
' "$HANG_PORT" >/dev/null 2>&1 &
t_cleanup_add "t_kill_pid $!"
wait_port 127.0.0.1 "$HANG_PORT" 10 || t_fail "the silent server starts"

# ---------------------------------------------------------------------
# The server that never greets, in the background: each program's
# status and time (ms) in $T/X-hang.rc once it ends.
CONF_DB="$T/@X@-hang.db" conf hang "$LOCAL_TUNNEL" \
	"${REMOTE_IMAP/@RIMAP@/$HANG_PORT}" "$RPASS"
hang_start() { # WHO X
	local s=$EPOCHREALTIME
	pair_run "$1" "$2-hang" "$2-hang" -q
	printf '%s %s\n' "$?" "$(awk -v s="$s" -v e="$EPOCHREALTIME" 'BEGIN { printf "%d", (e - s) * 1000 }')" \
		>"$T/$2-hang.rc.tmp"
	mv "$T/$2-hang.rc.tmp" "$T/$2-hang.rc"
}
hang_start ours A &
HANG_A=$!
hang_start perl B &
HANG_B=$!
t_cleanup_add "t_kill_pid $HANG_A; t_kill_pid $HANG_B"

# ---------------------------------------------------------------------
genmail --count 40 --sizes small --seed 11 --out "$T/mail" >/dev/null
mapfile -t MAIL < <(ls "$T"/mail/*.eml)
NEXT=0 TOTAL=0
# add: a new message on each side of both pairs (the same bytes and
# INTERNALDATE on the twins).
add() {
	local x
	for x in A B; do
		IMAP_TUNNEL=${P[$x:L]} imap_tool append --date "$(printf '01-Mar-2026 10:00:%02d +0000' "$NEXT")" \
			INBOX "${MAIL[NEXT]}" >/dev/null || t_fail "append local $x"
		IMAP_TUNNEL=${P[$x:R]} imap_tool append --date "$(printf '01-Mar-2026 11:00:%02d +0000' "$NEXT")" \
			INBOX "${MAIL[NEXT + 1]}" >/dev/null || t_fail "append remote $x"
	done
	NEXT=$((NEXT + 2)) TOTAL=$((TOTAL + 2))
}
# state X: what pair X holds: mapping and UIDNEXTs (HIGHESTMODSEQ left
# out: see db_consistent), messages with their UIDs on both sides.
state() {
	db_dump "$T/$1.db" | awk '$1 == "map" { print; next } { print $1, $2, $3 }'
	echo "== local"; mail_digest --uids "${P[$1:L]}"
	echo "== remote"; mail_digest --uids "${P[$1:R]}"
}
# same_as_perl NAME RA RB: the statuses' classes, and what both pairs
# hold, alike.
same_as_perl() {
	t_eq "$1: exit status as the Perl interimap's" "$(exit_class "$2")" "$(exit_class "$3")"
	state A >"$T/A.state"
	state B >"$T/B.state"
	t_same_file "$1: database and servers as the Perl interimap's" "$T/A.state" "$T/B.state" ||
		diff "$T/A.state" "$T/B.state" | head -n 20 | sed 's/^/#   /' >&2
}
# logins X SIDE: the login lines of pair X's SIDE (l or r) Dovecot.
logins() { grep -F ' Login: ' "$T/$1$2/dovecot.log"; }
# new_login X SIDE SKIP ERE: a login line after the SKIP first matches
# ERE.
new_login() { logins "$1" "$2" | tail -n +"$(($3 + 1))" | grep -Eq -- "$4"; }
# synced NAME [PERL-NAME]: add, ours on A with NAME's configuration, the
# Perl program on B with PERL-NAME's (default NAME): both succeed, every
# message is on both sides of A, and the twins compare (log lines too).
# $LOGIN ("SIDE METHOD HOW", default "r PLAIN TLS"; "-" for none): ours'
# login on A's SIDE Dovecot, as it logs it: the SASL mechanism, and TLS
# or "secured" (plaintext: Dovecot takes loopback for a secure network).
synced() {
	local n=$1 pn=${2:-$1} ra rb side method how user seen=0
	read -r side method how <<<"${LOGIN:-r PLAIN TLS}"
	[ "$side" = - ] || seen=$(logins A "$side" | wc -l)
	add
	pair_run ours "A-$n" "A-$n"
	ra=$?
	if [ "$side" != - ]; then
		user=$DOVECOT_DEST_USER
		[ "$side" = l ] && user=$DOVECOT_USER
		# (Dovecot's log process writes the line a moment later)
		if wait_until 10 new_login A "$side" "$seen" \
			"Login: user=<$user>, method=$method, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=[0-9]+, $how, "; then
			t_ok "$n: $method login, $how"
		else
			t_fail "$n: $method login, $how" "$(logins A "$side" | tail -n +"$((seen + 1))")"
		fi
	fi
	pair_run perl "B-$pn" "B-$n"
	rb=$?
	t_eq "$n: status 0" "$ra" 0 || sed 's/^/#   /' "$T/A-$n.err" >&2
	mail_digest "${P[A:L]}" INBOX | cut -f2 >"$T/l.digest"
	mail_digest "${P[A:R]}" INBOX | cut -f2 >"$T/r.digest"
	t_eq "$n: every message on both sides" "$(wc -l <"$T/l.digest"):$(wc -l <"$T/r.digest")" "$TOTAL:$TOTAL"
	t_same_file "$n: the same messages on both sides" "$T/l.digest" "$T/r.digest"
	ilog_lines "$T/A-$n.err" >"$T/A.lines"
	ilog_lines "$T/B-$n.err" >"$T/B.lines"
	t_same_file "$n: the Perl interimap's log lines" "$T/A.lines" "$T/B.lines" ||
		diff "$T/A.lines" "$T/B.lines" | sed 's/^/#   /' >&2
	same_as_perl "$n" "$ra" "$rb"
}
# refused NAME ERE [perl]: add, then ours on A with NAME's configuration
# (-q) ends with status 1 and a single line on stderr, ERE (anchored by
# the caller), having changed nothing on A (the new messages stay where
# they are, for the next run); with "perl", the Perl program on B (same
# configuration) fails alike.
refused() {
	local n=$1 re=$2 ra rb=1
	add
	state A >"$T/before.state"
	pair_run ours "A-$n" "A-$n" -q
	ra=$?
	t_eq "$n: status 1" "$ra" 1
	t_grep "$n: the error" "$re" "$T/A-$n.err" || sed 's/^/#   /' "$T/A-$n.err" >&2
	t_eq "$n: one line on stderr" "$(wc -l <"$T/A-$n.err")" 1
	state A >"$T/after.state"
	t_same_file "$n: nothing changed" "$T/before.state" "$T/after.state"
	if [ "${3:-}" = perl ]; then
		pair_run perl "B-$n" "B-$n" -q
		rb=$?
		same_as_perl "$n" "$ra" "$rb"
	fi
}
# re STRING: STRING as an ERE matching it alone.
# shellcheck disable=SC2016 # (sed's $, not the shell's)
re() { printf '%s' "$1" | sed 's/[].[\\*^$()+?{}|]/\\&/g'; }

# ---------------------------------------------------------------------
# The remote side: IMAPS, STARTTLS, the fingerprint, plaintext, the
# password.
conf imaps "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS"
synced imaps
conf starttls "$LOCAL_TUNNEL" "$REMOTE_IMAP" "$RPASS" "SSL_fingerprint = @RSPKI@"
synced starttls
conf fingerprint "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS" \
	"SSL_fingerprint = sha256\$$(printf '0%.0s' {1..64})"
refused fingerprint "^remote: ERROR: TLS handshake with 127\.0\.0\.1:${P[A:RIMAPS]}: server certificate fingerprint $(re "${P[A:RSPKI]}") does not match SSL_fingerprint\$" perl
# A certificate from a CA not trusted (the local server's CA given): the
# handshake, left to the steps of the login (the local side's login goes
# on meanwhile), fails all the same, before anything is sent.
conf badca "$LOCAL_TUNNEL" \
	$'[remote]\nhost = 127.0.0.1\nusername = '"$DOVECOT_DEST_USER"$'\nSSL_CAfile = @LCA@\ntype = imaps\nport = @RIMAPS@' \
	"$RPASS"
refused badca "^remote: ERROR: TLS handshake with 127\.0\.0\.1:${P[A:RIMAPS]}: certificate verify failed: .* \(use SSL_CAfile or SSL_fingerprint\)\$" perl
# (which shows that Dovecot tells the plaintext sessions from the TLS
# ones apart: the checks of $LOGIN can fail)
conf plaintext "$LOCAL_TUNNEL" "$REMOTE_IMAP" "$RPASS" "STARTTLS = NO"
LOGIN="r PLAIN secured" synced plaintext
conf badpw "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "password = not the password"
refused badpw "^remote: ERROR: authentication failed: NO \[AUTHENTICATIONFAILED\] Authentication failed\.\$" perl
t_log "TLS and passwords done: $(t_elapsed)"

# password-command and OAuth: the reference has neither.
conf pwcmd "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "password-command = $T/pw.sh"
synced pwcmd imaps
conf pwcmd-fail "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "password-command = echo x; exit 3"
refused pwcmd-fail '^remote: ERROR: password-command exited with status 3$'
: >"$OAUTH_LOG"
conf xoauth2 "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "auth = XOAUTH2" "password-command = $T/token.sh"
LOGIN="r XOAUTH2 TLS" synced xoauth2 imaps
t_eq "xoauth2: the token endpoint checked the token" "$(cat "$OAUTH_LOG")" "$OAUTH_TOKEN"
: >"$OAUTH_LOG"
conf oauthbearer "$LOCAL_TUNNEL" "$REMOTE_IMAP" "auth = OAUTHBEARER" "password-command = $T/token.sh"
LOGIN="r OAUTHBEARER TLS" synced oauthbearer imaps
t_eq "oauthbearer: the token endpoint checked the token" "$(cat "$OAUTH_LOG")" "$OAUTH_TOKEN"
conf oauth-bad "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "auth = OAUTHBEARER" "password-command = echo bad-token"
refused oauth-bad '^remote: ERROR: authentication failed: NO \[AUTHENTICATIONFAILED\] Authentication failed\. \(status invalid_token\)$'
t_log "password-command and OAuth done: $(t_elapsed)"

# SOCKSv5.
DOWN=$(free_port) || t_fail "a free port"
if socks_start SOCKS && socks_start SOCKS_AUTH -u proxyuser -P 'proxy;pw'; then
	conf socks5 "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS" "proxy = socks5://127.0.0.1:$SOCKS"
	synced socks5
	for x in A B; do
		t_grep "socks5: $x's connection through the proxy" \
			"^client\[[0-9]+\] 127\.0\.0\.1: connected to 127\.0\.0\.1:${P[$x:RIMAPS]}\$" "$T/socks-$SOCKS.log"
	done
	conf socks5h "$LOCAL_TUNNEL" "${REMOTE_IMAP/127.0.0.1/localhost}" "$RPASS" \
		"proxy = socks5h://proxyuser:proxy;pw@127.0.0.1:$SOCKS_AUTH"
	synced socks5h
	for x in A B; do
		t_grep "socks5h: $x's connection through the proxy, which resolved the name" \
			"^client\[[0-9]+\] 127\.0\.0\.1: connected to localhost:${P[$x:RIMAP]}\$" "$T/socks-$SOCKS_AUTH.log"
	done
	conf socks-badauth "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS" \
		"proxy = socks5://proxyuser:wrong@127.0.0.1:$SOCKS_AUTH"
	refused socks-badauth "^remote: ERROR: connect to 127\.0\.0\.1:${P[A:RIMAPS]} via SOCKS5 proxy socks5://127\.0\.0\.1:$SOCKS_AUTH: the proxy refused the username/password\$" perl
else
	t_skip "SOCKS5" "microsocks missing or not starting"
fi
# (no proxy needed to find none)
conf proxy-down "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS" "proxy = socks5h://127.0.0.1:$DOWN"
refused proxy-down "^remote: ERROR: connect to 127\.0\.0\.1:${P[A:RIMAPS]} via SOCKS5 proxy socks5h://127\.0\.0\.1:$DOWN: cannot reach the proxy: Failed to connect to 127\.0\.0\.1 port $DOWN after [0-9]+ ms: Couldn't connect to server\$" perl
t_log "SOCKS5 done: $(t_elapsed)"

# ---------------------------------------------------------------------
# The local side over TCP too (STARTTLS; the password has " ;" and "#").
conf local-starttls "$LOCAL_IMAP" "password = $DOVECOT_PASS" "$REMOTE_IMAPS" "$RPASS"
LOGIN="l PLAIN TLS" synced local-starttls
conf local-pwcmd "$LOCAL_IMAP" "password-command = $T/lpw.sh" "$REMOTE_IMAPS" "$RPASS"
LOGIN="l PLAIN TLS" synced local-pwcmd local-starttls
conf local-pwcmd-fail "$LOCAL_IMAP" "password-command = exit 4" "$REMOTE_IMAPS" "$RPASS"
refused local-pwcmd-fail '^local: ERROR: password-command exited with status 4$'
conf local-proxy-down "$LOCAL_IMAP" "password = $DOVECOT_PASS" "proxy = socks5://127.0.0.1:$DOWN" \
	"$REMOTE_IMAPS" "$RPASS"
refused local-proxy-down "^local: ERROR: connect to 127\.0\.0\.1:${P[A:LIMAP]} via SOCKS5 proxy socks5://127\.0\.0\.1:$DOWN: cannot reach the proxy: Failed to connect to 127\.0\.0\.1 port $DOWN after [0-9]+ ms: Couldn't connect to server\$" perl
t_log "local side done: $(t_elapsed)"

# What the last refusal left, synced; then the databases agree with the
# servers.
conf last "$LOCAL_TUNNEL" "$REMOTE_IMAPS" "$RPASS"
synced last

for x in A B; do
	t_db_consistent "setup $x: database consistent with the servers" "$T/$x.db" "${P[$x:L]}" "${P[$x:R]}"
done

# ---------------------------------------------------------------------
# The server that never greets: both programs give up after their 30 s.
wait_until 45 test -e "$T/A-hang.rc" -a -e "$T/B-hang.rc" || t_fail "never greets: both runs end"
read -r rc_a ms_a <"$T/A-hang.rc" 2>/dev/null
read -r rc_b ms_b <"$T/B-hang.rc" 2>/dev/null
t_eq "never greets: status 1" "${rc_a:-}" 1
t_eq "never greets: exit status as the Perl interimap's" "$(exit_class "${rc_a:-}")" "$(exit_class "${rc_b:-}")"
t_log "never greets: ours gave up after ${ms_a:-?} ms, the reference after ${ms_b:-?} ms"
if [ "${ms_a:-0}" -ge 29500 ] && [ "${ms_a:-0}" -le 40000 ]; then
	t_ok "never greets: ours gives up after its 30 s"
else
	t_fail "never greets: ours gives up after its 30 s" "${ms_a:-?} ms"
fi
t_grep "never greets: the error" "^remote: ERROR: 127\.0\.0\.1:$HANG_PORT: too slow: 0 bytes in 30\.[0-9] s \(allowed: the 30 s timeout plus 1 s per 1024 bytes\)\$" "$T/A-hang.err"
t_eq "never greets: one line on stderr" "$(wc -l <"$T/A-hang.err")" 1

t_log "total: $(t_elapsed)"
t_done
