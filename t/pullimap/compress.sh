#!/bin/bash
# IMAP COMPRESS=DEFLATE (RFC 4978) against Dovecot's imap_zlib: over the
# tunnel (compress = YES is the default), not at all with compress = NO,
# and inside TLS over TCP after STARTTLS. Bodies must arrive byte-exact,
# large ones (> 64 KiB: several buffers of compressed input) included.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init compress
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

# Seed 2: 20 messages, 6 of them above 64 KiB, the largest ~700 KiB.
genmail --count 20 --sizes realistic --seed 2 --out "$T/mail" >/dev/null
t_ne "some messages above 64 KiB" "$(find "$T/mail" -name '*.eml' -size +64k | wc -l)" 0
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

cat >"$T/config" <<CONF
[z]
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
statefile = $T/z.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[plain]
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
compress = NO
statefile = $T/plain.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[tls]
type = imap
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
username = $DOVECOT_USER
password = $DOVECOT_PASS
SSL_CAfile = $DOVECOT_CA
statefile = $T/tls.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
CONF
chmod 600 "$T/config" # a readable file holding a password draws a warning

# fresh: empty the destination, mark everything unseen again.
fresh() {
	rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null
	imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
}

stats_re='COMPRESS: read [0-9]+ bytes \(wire [0-9]+, [0-9.]+x\), wrote [0-9]+ bytes \(wire [0-9]+\)'

# --- tunnel, compress = YES (the default) ---
fresh
t_check "tunnel: run with compression" "$PULLIMAP" --config="$T/config" --debug z
cp "$T/last.err" "$T/z.trace"
t_grep "tunnel: server offers COMPRESS=DEFLATE" 'COMPRESS=DEFLATE' "$T/z.trace"
t_grep "tunnel: COMPRESS DEFLATE sent" '^(.*: )?C: [0-9]+ COMPRESS DEFLATE$' "$T/z.trace"
tag=$(sed -nE 's/^(.*: )?C: ([0-9]+) COMPRESS DEFLATE$/\2/p' "$T/z.trace" | head -n 1)
t_grep "tunnel: server said OK to it" "^(.*: )?S: ${tag:-none} OK" "$T/z.trace"
t_grep "tunnel: LOGOUT answered through the compressed stream" '^(.*: )?S: \* BYE' "$T/z.trace"
t_grep "tunnel: byte counts logged" "$stats_re" "$T/z.trace"
t_delivered_set "tunnel: every message delivered once, byte-exact" "$dest" "$T"/mail/*.eml
# Text compresses: fewer bytes on the wire than read.
read -r raw wire <<<"$(sed -nE 's/.*COMPRESS: read ([0-9]+) bytes \(wire ([0-9]+),.*/\1 \2/p' "$T/z.trace" | tail -n 1)"
if [ -n "${raw:-}" ] && [ -n "${wire:-}" ] && [ "$wire" -gt 0 ] && [ "$raw" -gt "$wire" ]; then
	t_ok "tunnel: input compressed ($raw bytes, $wire on the wire)"
else
	t_fail "tunnel: input compressed" "read '${raw:-}' wire '${wire:-}'"
fi
total=$(cat "$T"/mail/*.eml | wc -c)
if [ -n "${raw:-}" ] && [ "$raw" -gt "$total" ]; then
	t_ok "tunnel: all bodies came through the compressed stream"
else
	t_fail "tunnel: all bodies came through the compressed stream" "read '${raw:-}' < $total"
fi
t_check "tunnel: second run" "$PULLIMAP" --config="$T/config" z
t_eq "tunnel: second run delivers nothing" "$(maildir_count "$dest")" 20
t_eq "tunnel: second run is silent" "$(cat "$T/last.err")" ""
# COMPRESS only once there is something to fetch: after SELECT, and not at
# all in a poll that finds nothing new (one round trip less).
sel=$(grep -nE '^(.*: )?C: [0-9]+ SELECT ' "$T/z.trace" | head -n 1 | cut -d: -f1)
cmp_line=$(grep -nE '^(.*: )?C: [0-9]+ COMPRESS DEFLATE$' "$T/z.trace" | head -n 1 | cut -d: -f1)
if [ -n "$sel" ] && [ -n "$cmp_line" ] && [ "$cmp_line" -gt "$sel" ]; then
	t_ok "tunnel: COMPRESS comes after SELECT found new mail"
else
	t_fail "tunnel: COMPRESS comes after SELECT found new mail" "SELECT line '${sel:-}', COMPRESS line '${cmp_line:-}'"
fi
t_check "tunnel: nothing new, with --debug" "$PULLIMAP" --config="$T/config" --debug z
t_grep "tunnel: nothing new: SELECT sent" '^(.*: )?C: [0-9]+ SELECT ' "$T/last.err"
t_no_grep "tunnel: nothing new: no COMPRESS" 'C: [0-9]+ COMPRESS' "$T/last.err"

# --- tunnel, compress = NO ---
fresh
t_check "compress = NO: run" "$PULLIMAP" --config="$T/config" --debug plain
cp "$T/last.err" "$T/plain.trace"
t_grep "compress = NO: server still offers it" 'COMPRESS=DEFLATE' "$T/plain.trace"
t_no_grep "compress = NO: no COMPRESS command" 'C: [0-9]+ COMPRESS' "$T/plain.trace"
t_no_grep "compress = NO: no byte counts" 'COMPRESS: read' "$T/plain.trace"
t_delivered_set "compress = NO: every message delivered once" "$dest" "$T"/mail/*.eml

# --- a refusal is no reason to give up ---
# A relay in front of the tunnel answers COMPRESS itself (with the text
# given) and passes everything else on: the session goes on uncompressed.
refused() { # SECTION REPLY
	cat >>"$T/config" <<CONF

[$1]
type = tunnel
command = $T_PYTHON $T_LIB/imap_refuse.py 'COMPRESS DEFLATE' '$2' $DOVECOT_TUNNEL
null-stderr = YES
statefile = $T/$1.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
CONF
}
refused no 'NO Compression unavailable'
refused active 'NO [COMPRESSIONACTIVE] Already compressed'

fresh
t_check "NO: run goes on" "$PULLIMAP" --config="$T/config" -q no
t_grep "NO: warning" 'WARNING: tunnel: COMPRESS DEFLATE in mailbox "INBOX" failed: NO Compression unavailable; going on uncompressed$' "$T/last.err"
t_eq "NO: only that on stderr with -q" "$(wc -l <"$T/last.err")" 1
t_delivered_set "NO: every message delivered uncompressed" "$dest" "$T"/mail/*.eml

fresh
t_check "COMPRESSIONACTIVE: run" "$PULLIMAP" --config="$T/config" --debug active
t_grep "COMPRESSIONACTIVE: COMPRESS sent" 'C: [0-9]+ COMPRESS DEFLATE$' "$T/last.err"
t_no_grep "COMPRESSIONACTIVE: no warning, no compression" 'WARNING|COMPRESS: read' "$T/last.err"
t_delivered_set "COMPRESSIONACTIVE: every message delivered" "$dest" "$T"/mail/*.eml

# --- TCP, STARTTLS, then COMPRESS inside TLS ---
fresh
t_check "STARTTLS: run with compression" "$PULLIMAP" --config="$T/config" --debug tls
cp "$T/last.err" "$T/tls.trace"
t_grep "STARTTLS: STARTTLS sent" '^(.*: )?C: [0-9]+ STARTTLS$' "$T/tls.trace"
t_grep "STARTTLS: COMPRESS DEFLATE sent" '^(.*: )?C: [0-9]+ COMPRESS DEFLATE$' "$T/tls.trace"
t_grep "STARTTLS: byte counts logged" "$stats_re" "$T/tls.trace"
t_delivered_set "STARTTLS: every message delivered once, byte-exact" "$dest" "$T"/mail/*.eml
t_eq "STARTTLS: all messages \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 20

t_done
