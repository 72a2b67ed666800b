# shellcheck shell=bash
# t/lib/dovecot.sh - a private, throw-away Dovecot for the end-to-end tests.
# Source t/lib/common.sh first and call t_init.
#
#   dovecot_init "$T/dc"      # config, certificates, users, tunnel script
#   dovecot_start             # master in the background (needed for TCP
#                             # IMAP/IMAPS and LMTP; the tunnel works without)
#   imap_append INBOX "$T"/mail/*.eml
#   ... pullimap with "type = tunnel" and "command = $DOVECOT_TUNNEL",
#       "deliver-method = lmtp:[127.0.0.1]:$DOVECOT_LMTP_PORT",
#       "deliver-rcpt = $DOVECOT_DEST_USER" ...
#   maildir_messages "$(lmtp_delivered_dir)"
#
# Two users share the same password database and uid (nobody:nogroup when
# run as root, the caller otherwise):
#   $DOVECOT_USER (testuser) - the source mailbox pullimap reads
#   $DOVECOT_DEST_USER (dest) - where LMTP deliveries land (any recipient
#       "dest", "dest@any.domain" or "Dest+detail@x" ends up there; other
#       local parts get their own home under $DOVECOT_DIR/home/)
#
# Exported after dovecot_init:
#   DOVECOT_DIR, DOVECOT_CONF, DOVECOT_USER, DOVECOT_PASS,
#   DOVECOT_DEST_USER, DOVECOT_DEST_PASS, DOVECOT_HOST (127.0.0.1),
#   DOVECOT_IMAP_PORT, DOVECOT_IMAPS_PORT, DOVECOT_LMTP_PORT,
#   DOVECOT_LMTP_SOCKET, DOVECOT_CA (CA certificate, PEM),
#   DOVECOT_CERT (server certificate), DOVECOT_CERT_SHA256 (sha256$hex of the
#   certificate, DER), DOVECOT_PUBKEY_SHA256 (sha256$hex of its
#   SubjectPublicKeyInfo, the form interimap's SSL_fingerprint uses),
#   DOVECOT_TUNNEL (preauthenticated IMAP on stdin/stdout as $DOVECOT_USER,
#   COMPRESS=DEFLATE offered), DOVECOT_LOG, DOVECOT_DEST_MAILDIR (maildir
#   of $DOVECOT_DEST_USER, = $(lmtp_delivered_dir)).
# After dovecot_start: DOVECOT_PID.
#
# Several Dovecots in one test: call dovecot_init DIR (and dovecot_start)
# once per instance, each in a directory of its own, and keep what the
# test needs of the variables above (ports, DOVECOT_TUNNEL for
# IMAP_TUNNEL=...) before the next dovecot_init overwrites them. Each
# master is stopped when the test exits; dovecot_stop stops the last one
# started.
#
# Environment read by dovecot_init: DOVECOT_EXTRA_CONF (text appended to the
# configuration), DOVECOT_DEBUG=1 (auth/mail debug logging).

DOVECOT_USER=testuser
DOVECOT_PASS='p@ss ;w#rd'
DOVECOT_DEST_USER=dest
DOVECOT_DEST_PASS='dest pw'
DOVECOT_HOST=127.0.0.1
export DOVECOT_USER DOVECOT_PASS DOVECOT_DEST_USER DOVECOT_DEST_PASS DOVECOT_HOST

DOVECOT_BIN="${DOVECOT_BIN:-$(command -v dovecot || echo /usr/sbin/dovecot)}"
DOVECOT_IMAP_BIN="${DOVECOT_IMAP_BIN:-/usr/lib/dovecot/imap}"

# dovecot_available: true when the Dovecot IMAP and LMTP parts are installed.
dovecot_available() {
	[ -x "$DOVECOT_BIN" ] && [ -x "$DOVECOT_IMAP_BIN" ] && [ -x /usr/lib/dovecot/lmtp ]
}

# dovecot_init DIR: write everything under DIR (created).
dovecot_init() {
	local dir="$1"
	[ -n "${T:-}" ] || { echo "dovecot_init: call t_init first" >&2; return 1; }
	dovecot_available || { t_log "dovecot not installed"; return 1; }
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	chmod 755 "$dir"
	DOVECOT_DIR="$dir"
	DOVECOT_CONF="$dir/dovecot.conf"
	DOVECOT_LOG="$dir/dovecot.log"
	DOVECOT_LMTP_SOCKET="$dir/run/lmtp"
	DOVECOT_CA="$dir/ssl/ca.pem"
	DOVECOT_CERT="$dir/ssl/server.pem"
	DOVECOT_TUNNEL="$dir/tunnel.sh"
	DOVECOT_DEST_MAILDIR="$dir/home/$DOVECOT_DEST_USER/Maildir"
	export DOVECOT_DEST_MAILDIR DOVECOT_DIR DOVECOT_CONF DOVECOT_LOG DOVECOT_LMTP_SOCKET DOVECOT_CA DOVECOT_CERT DOVECOT_TUNNEL

	local owner group
	if t_is_root; then owner=nobody group=nogroup; else owner=$(id -un) group=$(id -gn); fi
	DOVECOT_MAIL_UID=$owner
	DOVECOT_MAIL_GID=$group

	mkdir -p "$dir/home/$DOVECOT_USER" "$dir/home/$DOVECOT_DEST_USER" "$dir/ssl" "$dir/state" || return 1
	: >"$DOVECOT_LOG"
	: >"$dir/tunnel.log"
	if t_is_root; then
		chown -R "$owner:$group" "$dir/home" "$dir/tunnel.log" || return 1
	fi
	chmod 666 "$dir/tunnel.log"

	dovecot__certs "$dir/ssl" || return 1
	dovecot__passwd "$dir/passwd" || return 1
	dovecot__tunnel_script || return 1
	dovecot__pick_ports || return 1
	dovecot__write_conf
}

dovecot__certs() {
	local d="$1" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650)
	(
		cd "$d" || exit 1
		openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem \
			-subj "/O=pullimap tests/CN=pullimap test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" || exit 1
		openssl req -x509 -CA ca.pem -CAkey ca.key "${ec[@]}" -keyout server.key -out server.pem \
			-subj "/O=pullimap tests/CN=localhost" \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "keyUsage=critical,digitalSignature,keyEncipherment" \
			-addext "extendedKeyUsage=serverAuth" || exit 1
		chmod 600 ca.key server.key
	) >"$d/openssl.log" 2>&1 || { t_log "certificate generation failed: $(tail -n 3 "$d/openssl.log")"; return 1; }
	# sha256 of the certificate (DER) and of its SubjectPublicKeyInfo
	local fps
	fps=$("$T_PYTHON" - "$d/server.pem" <<'PYEOF2'
import base64, hashlib, sys
pem = open(sys.argv[1]).read()
der = base64.b64decode(pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END")[0])
def tlv(b, i):
    n, j = b[i + 1], i + 2
    if n & 0x80:
        k = n & 0x7F
        n, j = int.from_bytes(b[j:j + k], "big"), j + k
    return b[i], j, j + n
_, s, _ = tlv(der, 0)        # Certificate
_, i, end = tlv(der, s)      # tbsCertificate
fields = []
while i < end:
    tag, _, e = tlv(der, i)
    fields.append((tag, i, e))
    i = e
if fields[0][0] == 0xA0:     # [0] version
    fields = fields[1:]
_, a, b = fields[5]          # serial sigalg issuer validity subject SPKI
print("sha256$" + hashlib.sha256(der).hexdigest(), "sha256$" + hashlib.sha256(der[a:b]).hexdigest())
PYEOF2
	) || return 1
	DOVECOT_CERT_SHA256=${fps%% *}
	DOVECOT_PUBKEY_SHA256=${fps##* }
	export DOVECOT_CERT_SHA256 DOVECOT_PUBKEY_SHA256
}

dovecot__pick_ports() {
	local ports
	ports=$(free_port 3 | tr '\n' ' ')
	read -r DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT DOVECOT_LMTP_PORT <<<"$ports"
	[ -n "$DOVECOT_LMTP_PORT" ] || return 1
	export DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT DOVECOT_LMTP_PORT
}

dovecot__passwd() {
	# passwd-file: user:password:uid:gid:gecos:home:shell:extra - the password
	# may contain anything but ':' and newlines.
	case "$DOVECOT_PASS$DOVECOT_DEST_PASS" in *:*)
		t_log "passwords must not contain ':'"; return 1;;
	esac
	printf '%s:{PLAIN}%s::::::\n' "$DOVECOT_USER" "$DOVECOT_PASS" "$DOVECOT_DEST_USER" "$DOVECOT_DEST_PASS" >"$1"
	chmod 644 "$1"
}

# dovecot_tunnel_cmd [USER]: print a tunnel command (for pullimap's
# "command =" or imaptool --tunnel) giving a PREAUTH IMAP session as USER
# (default $DOVECOT_USER).
dovecot_tunnel_cmd() {
	if [ -n "${1:-}" ] && [ "$1" != "$DOVECOT_USER" ]; then
		printf '%s %s\n' "$DOVECOT_TUNNEL" "$1"
	else
		printf '%s\n' "$DOVECOT_TUNNEL"
	fi
}

dovecot__tunnel_script() {
	local priv=""
	if t_is_root; then
		priv="setpriv --reuid=nobody --regid=nogroup --clear-groups "
	fi
	cat >"$DOVECOT_TUNNEL" <<EOF
#!/bin/sh
# IMAP on stdin/stdout, preauthenticated as \$1 (default $DOVECOT_USER),
# for the test Dovecot in $DOVECOT_DIR.  Generated by t/lib/dovecot.sh.
# Its log (stderr of the standalone imap process) goes to tunnel.log.
u=\${1:-$DOVECOT_USER}
exec 2>>"$DOVECOT_DIR/tunnel.log"
exec ${priv}env -i PATH=/usr/bin:/bin USER="\$u" HOME="$DOVECOT_DIR/home/\$u" \\
	$DOVECOT_IMAP_BIN -c "$DOVECOT_CONF" -o stats_writer_socket_path=
EOF
	chmod 755 "$DOVECOT_TUNNEL"
}

dovecot__write_conf() {
	local d="$DOVECOT_DIR" me users=""
	if ! t_is_root; then
		me=$(id -un)
		users="# not root: every service runs as $me
default_login_user = $me
default_internal_user = $me
default_internal_group = $(id -gn)
service imap-login {
  chroot =
}
service auth {
  user = $me
}
service auth-worker {
  user = $me
}
service stats {
  user = $me
}
service anvil {
  chroot =
}
service imap-urlauth-login {
  chroot =
}"
	fi
	local debug=""
	if [ "${DOVECOT_DEBUG:-0}" = 1 ]; then
		debug="auth_debug = yes
auth_verbose = yes
mail_debug = yes
verbose_ssl = yes"
	fi
	cat >"$DOVECOT_CONF" <<EOF
# Private test Dovecot - generated by t/lib/dovecot.sh
instance_name = pullimap-test-$(basename "${T:-$d}")$([ -n "${T:-}" ] && [ "$d" != "$T" ] && printf -- '-%s' "$(basename "$d")")
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap lmtp
listen = $DOVECOT_HOST
shutdown_clients = yes

ssl = yes
ssl_cert = <$d/ssl/server.pem
ssl_key = <$d/ssl/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
# "dest@example.org" and "Dest" are user "dest"
auth_username_format = %Ln

passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/passwd
}
userdb {
  driver = static
  args = uid=$DOVECOT_MAIL_UID gid=$DOVECOT_MAIL_GID home=$d/home/%u allow_all_users=yes
}
first_valid_uid = 1
mail_location = maildir:~/Maildir
# throw-away data: no fsync (much faster bulk APPEND and LMTP)
mail_fsync = never
namespace inbox {
  inbox = yes
  separator = /
  prefix =
}
mail_plugins = \$mail_plugins zlib
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
  mail_max_userip_connections = 100
}
protocol lmtp {
  postmaster_address = postmaster@localhost
}
lmtp_save_to_detail_mailbox = no

service imap-login {
  inet_listener imap {
    address = $DOVECOT_HOST
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    address = $DOVECOT_HOST
    port = $DOVECOT_IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = $DOVECOT_HOST
    port = $DOVECOT_LMTP_PORT
  }
  unix_listener lmtp {
    mode = 0666
  }
}
$users
$debug
${DOVECOT_EXTRA_CONF:-}
EOF
}

# dovecot_start: start the master (dovecot -F) in the background, wait until
# IMAP, IMAPS, LMTP (TCP and unix socket) answer; registers its stop.
# Retries with new ports (up to 3 times) if a port was taken meanwhile.
dovecot_start() {
	local attempt
	for attempt in 1 2 3; do
		dovecot__start_once && return 0
		t_log "dovecot_start: attempt $attempt failed"
		if grep -q 'Address already in use' "$DOVECOT_DIR/master.out" "$DOVECOT_LOG" 2>/dev/null; then
			dovecot__pick_ports || return 1
			dovecot__write_conf
			: >"$DOVECOT_LOG"
		else
			break
		fi
	done
	sed 's/^/#   /' "$DOVECOT_DIR/master.out" "$DOVECOT_LOG" 2>/dev/null | tail -n 20 >&2
	return 1
}

dovecot__start_once() {
	local i
	timeout -k 5 "$T_SERVER_MAX" "$DOVECOT_BIN" -F -c "$DOVECOT_CONF" \
		>"$DOVECOT_DIR/master.out" 2>&1 </dev/null &
	DOVECOT_PID=$!
	export DOVECOT_PID
	# By directory, not through $DOVECOT_PID: a later dovecot_init for a
	# second instance must not make this one outlive the test.
	printf '%s\n' "$DOVECOT_PID" >"$DOVECOT_DIR/master.pid"
	t_cleanup_add "dovecot__stop_dir '$DOVECOT_DIR'"
	for ((i = 0; i < 200; i++)); do # 10 s
		if ! kill -0 "$DOVECOT_PID" 2>/dev/null; then
			wait "$DOVECOT_PID" 2>/dev/null
			rm -f "$DOVECOT_DIR/master.pid"
			DOVECOT_PID=""
			return 1
		fi
		if [ -S "$DOVECOT_LMTP_SOCKET" ] &&
			wait_port "$DOVECOT_HOST" "$DOVECOT_IMAP_PORT" 0 2>/dev/null &&
			wait_port "$DOVECOT_HOST" "$DOVECOT_IMAPS_PORT" 0 2>/dev/null &&
			wait_port "$DOVECOT_HOST" "$DOVECOT_LMTP_PORT" 0 2>/dev/null; then
			# Make sure it is our Dovecot answering (not whoever took a
			# port meanwhile): it greets only after binding every listener.
			if [[ "$(read_banner "$DOVECOT_HOST" "$DOVECOT_IMAP_PORT")" == "* OK "*Dovecot* ]] &&
				[[ "$(read_banner "$DOVECOT_HOST" "$DOVECOT_LMTP_PORT")" == "220 "*Dovecot* ]] &&
				kill -0 "$DOVECOT_PID" 2>/dev/null; then
				return 0
			fi
			t_log "dovecot_start: a port answers, but not Dovecot"
			dovecot_stop
			echo "bind: Address already in use (someone else answers)" >>"$DOVECOT_DIR/master.out"
			return 1
		fi
		sleep 0.05
	done
	t_log "dovecot did not come up in 10 s"
	dovecot_stop
	return 1
}

# dovecot_stop: stop the master started by dovecot_start (SIGTERM to the
# PID, SIGKILL after 5 s).
dovecot_stop() {
	[ -n "${DOVECOT_PID:-}" ] || return 0
	t_kill_pid "$DOVECOT_PID" 5
	rm -f "$DOVECOT_DIR/master.pid"
	DOVECOT_PID=""
}

# dovecot__stop_dir DIR: stop the master of the instance in DIR, if it
# still runs (its master.pid goes once it is stopped: no stale PID is
# signalled).
dovecot__stop_dir() {
	local pid
	pid=$(cat "$1/master.pid" 2>/dev/null) || return 0
	t_kill_pid "$pid" 5
	rm -f "$1/master.pid"
}

# --- IMAP helpers (through the tunnel; the master need not run) ----------
# They act as $DOVECOT_USER; set IMAP_TUNNEL="$(dovecot_tunnel_cmd dest)"
# to act as another user.  See t/lib/imaptool.py --help.

imap_tool() {
	"$T_PYTHON" "$T_LIB/imaptool.py" --tunnel "${IMAP_TUNNEL:-$DOVECOT_TUNNEL}" "$@"
}
# imap_append [--date "DD-Mon-YYYY HH:MM:SS +ZZZZ"] [--flags '\Seen ...'] [--uids] MAILBOX FILE...
imap_append() { imap_tool append "$@"; }
# imap_fetch_flags MAILBOX: lines "UID (FLAG ...)" (\Recent left out)
imap_fetch_flags() { imap_tool flags "$@"; }
# imap_count MAILBOX: number of messages
imap_count() { imap_tool count "$@"; }
# imap_uidvalidity MAILBOX / imap_uidnext MAILBOX
imap_uidvalidity() { imap_tool uidvalidity "$@"; }
imap_uidnext() { imap_tool uidnext "$@"; }
# imap_expunge_all MAILBOX: delete every message
imap_expunge_all() { imap_tool expunge-all "$@"; }
# imap_fetch MAILBOX UID: the raw message on stdout
imap_fetch() { imap_tool fetch "$@"; }
# imap_uids MAILBOX: one UID per line
imap_uids() { imap_tool uids "$@"; }
# imap_store MAILBOX UIDSET +FLAGS|-FLAGS|FLAGS '(\Seen)'
imap_store() { imap_tool store "$@"; }
# imap_create MAILBOX / imap_delete MAILBOX
imap_create() { imap_tool create "$@"; }
imap_delete() { imap_tool delete "$@"; }

# lmtp_delivered_dir: the maildir where LMTP deliveries to
# $DOVECOT_DEST_USER land.
lmtp_delivered_dir() { printf '%s\n' "$DOVECOT_DIR/home/$DOVECOT_DEST_USER/Maildir"; }

# dovecot_user_maildir USER: the maildir of USER.
dovecot_user_maildir() { printf '%s\n' "$DOVECOT_DIR/home/$1/Maildir"; }

# lmtp_wait_delivered N [TIMEOUT]: wait until the destination maildir holds
# at least N messages.
lmtp_wait_delivered() {
	local n="$1" timeout="${2:-10}"
	wait_until "$timeout" dovecot__has_at_least "$n"
}
dovecot__has_at_least() { [ "$(maildir_count "$(lmtp_delivered_dir)")" -ge "$1" ]; }
