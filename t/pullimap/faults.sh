#!/bin/bash
# Delivery faults, injected with the scriptable sink (t/lib/sink.py):
# 4xx and lost connections stop the run (exit 75) and are retried; a 5xx
# rejects one message (recorded, flagged, left unseen; exit 69) without
# blocking the others. Over LMTP (native client) and SMTP (libcurl).
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init faults
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

genmail --count 5 --sizes small --seed 5 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

delivered() { ls "$T/sink" | grep -c '\.eml$'; }
seen() { imap_fetch_flags INBOX | grep -c '\\Seen'; }
reset_mailbox() {
	imap_store INBOX 1:* -FLAGS '(\Seen $PullimapRejected)' >/dev/null
	rm -f "$T/state.db"
}
conf() { # PROTO
	cat >"$T/config" <<CONF
[s]
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
statefile = $T/state.db
deliver-method = $1:[127.0.0.1]:$SINK_PORT
deliver-rcpt = rcpt@example.org
CONF
}
run() { PULLIMAP_TIMEOUT_MS=3000 t_run "$PULLIMAP" --config="$T/config" s; }
# attempt PROTO [SINK-ARGS...]: the sink restarted with SINK-ARGS, a run
# delivering to it over PROTO; its status in rc.
attempt() {
	local proto=$1
	shift
	sink "$@"
	conf "$proto"
	run
	rc=$?
}
# fresh PROTO [SINK-ARGS...]: the same on a fresh mailbox, no state.
fresh() { reset_mailbox; attempt "$@"; }

for proto in lmtp smtp; do
	P="$proto:"
	extra=()
	[ $proto = lmtp ] && extra=(--lmtp)

	# 4xx at the end of data of the third message.
	fresh $proto "${extra[@]}" --eod 451@3
	t_eq "$P 4xx: exit 75" "$rc" 75
	t_grep "$P 4xx: the reply is quoted" '451' "$T/last.err"
	t_eq "$P 4xx: two delivered before it" "$(delivered)" 2
	t_eq "$P 4xx: only those are \\Seen" "$(seen)" 2
	t_eq "$P 4xx: journal" "$(sqlite3 "$T/state.db" 'SELECT group_concat(uid) FROM delivered')" "1,2"
	attempt $proto "${extra[@]}"
	t_eq "$P 4xx: the next run succeeds" "$rc" 0
	t_eq "$P 4xx: the rest is delivered, nothing twice" "$(delivered)" 3
	t_eq "$P 4xx: all \\Seen" "$(seen)" 5

	# 5xx for the second message only.
	fresh $proto "${extra[@]}" --eod 554@2
	t_eq "$P 5xx: exit 69" "$rc" 69
	t_eq "$P 5xx: the others are delivered" "$(delivered)" 4
	t_eq "$P 5xx: the others are \\Seen" "$(seen)" 4
	t_eq "$P 5xx: rejected message flagged, unseen" \
		"$(imap_fetch_flags INBOX | grep '^2 ')" '2 ($PullimapRejected)'
	t_match "$P 5xx: recorded with the reply" \
		"$(sqlite3 "$T/state.db" 'SELECT uid, reply FROM rejected')" '^2\|554'
	t_grep "$P 5xx: error logged" 'UID 2 rejected' "$T/last.err"
	attempt $proto "${extra[@]}"
	t_eq "$P 5xx: next run exits 0" "$rc" 0
	t_eq "$P 5xx: the rejected message is not retried" "$(delivered)" 0

	# 5xx at RCPT (or MAIL for SMTP) for message 1.
	fresh $proto "${extra[@]}" --rcpt 550@1
	t_eq "$P RCPT 550: exit 69" "$rc" 69
	t_eq "$P RCPT 550: the others are delivered" "$(delivered)" 4

	# 4xx at MAIL.
	fresh $proto "${extra[@]}" --mail 421@1
	t_eq "$P MAIL 421: exit 75" "$rc" 75
	t_eq "$P MAIL 421: nothing delivered" "$(delivered)" 0
	t_eq "$P MAIL 421: nothing \\Seen" "$(seen)" 0

	# The connection drops in the middle of the second body.
	fresh $proto "${extra[@]}" --drop-mid-data=2
	t_eq "$P dropped mid-data: exit 75" "$rc" 75
	t_eq "$P dropped mid-data: one delivered" "$(delivered)" 1
	t_eq "$P dropped mid-data: journal" "$(sqlite3 "$T/state.db" 'SELECT group_concat(uid) FROM delivered')" "1"
	attempt $proto "${extra[@]}"
	t_eq "$P dropped mid-data: retried next run" "$(delivered)" 4

	# No reply after the final dot: timeout, outcome unknown, retried.
	fresh $proto "${extra[@]}" --delay-eod 10@1
	t_eq "$P timeout: exit 75" "$rc" 75
	t_grep "$P timeout: says so" '[Tt]ime' "$T/last.err"
	t_eq "$P timeout: not journaled" "$(sqlite3 "$T/state.db" 'SELECT count(*) FROM delivered')" 0

	# The server closes idle connections after each message.
	fresh $proto "${extra[@]}" --close-after 1
	t_eq "$P server closes after each message: exit 0" "$rc" 0
	t_eq "$P server closes after each message: all delivered" "$(delivered)" 5
done

# LMTP server that does not advertise PIPELINING (RFC 2033 requires it;
# we still deliver).
fresh lmtp --lmtp --no-pipelining
t_eq "lmtp without PIPELINING: exit 0" "$rc" 0
t_eq "lmtp without PIPELINING: all delivered" "$(delivered)" 5

# SMTP server (libcurl) without PIPELINING, normal path, 8-bit bodies.
fresh smtp --no-pipelining
t_eq "smtp: exit 0" "$rc" 0
ok=1
for f in "$T"/mail/*.eml; do
	m=$(grep -l -F "$(grep -m1 -i '^Message-ID:' "$f")" "$T"/sink/*.eml | head -n1)
	cmp -s "$f" "$m" || { [ "$(tail -c2 "$f" | od -An -c | tr -d ' ')" != '\r\n' ] && cmp -s <(cat "$f"; printf '\r\n') "$m"; } || ok=0
done
t_eq "smtp: bodies byte-exact" "$ok" 1
t_grep "smtp: EHLO name" '^C: EHLO localhost.localdomain' "$T/sink.log"

# Mail that arrives while a run delivers is picked up by the same run
# (the server reports it with EXISTS; pullimap searches again).
reset_mailbox
imap_expunge_all INBOX >/dev/null
imap_append INBOX "$T"/mail/msg-0001.eml >/dev/null
sink --lmtp --delay-eod 1.5@1
conf lmtp
PULLIMAP_TIMEOUT_MS=5000 "$PULLIMAP" --debug --config="$T/config" s 2>"$T/during.err" &
pid=$!
wait_until 10 grep -q '^\* body' "$T/sink.log"
imap_append INBOX "$T"/mail/msg-0002.eml >/dev/null
wait $pid
t_eq "mail arriving during a run: exit 0" "$?" 0
t_eq "mail arriving during a run: delivered by that run" "$(delivered)" 2

t_done
