#!/bin/bash
# Error messages say what pullimap was doing, on one line: a tagged NO/BAD
# names the command (verb only: arguments may be long or secret) and the
# mailbox, then the server's text; a delivery failure names the SMTP/LMTP
# server's address and the step it failed at, in our words, keeping the
# server's reply when there is one.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init errors
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

genmail --count 3 --sizes small --seed 11 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

delivered() { eml_count "$T/sink"; }

conf() { # PROTO [COMMAND-REFUSED REPLY] [mailbox = X]
	local proto=$1 cmd=$DOVECOT_TUNNEL
	if [ $# -ge 3 ]; then
		cmd="$T_PYTHON $T_LIB/imap_refuse.py '$2' '$3' $DOVECOT_TUNNEL"
	fi
	rm -f "$T/state.db"
	cat >"$T/config" <<CONF
[s]
type = tunnel
command = $cmd
null-stderr = YES
compress = NO
statefile = $T/state.db
deliver-method = $proto:[127.0.0.1]:${SINK_PORT:-1}
deliver-rcpt = rcpt@example.org
${4:-}
CONF
}
run() { PULLIMAP_TIMEOUT_MS=5000 t_run "$PULLIMAP" --config="$T/config" s; }

# --- IMAP: tagged NO/BAD name the command and the mailbox.
sink --lmtp
conf lmtp 'UID FETCH *' 'NO [SERVERBUG] meta fetch failed'
t_fails "NO to UID FETCH" 69 \
	'^s: ERROR: tunnel: UID FETCH in mailbox "INBOX" failed: NO \[SERVERBUG\] meta fetch failed$' \
	"$PULLIMAP" --config="$T/config" s
t_eq "NO to UID FETCH: nothing delivered" "$(delivered)" 0

conf lmtp 'UID SEARCH *' 'BAD [PARSE] Error in IMAP command'
t_fails "BAD to UID SEARCH" 69 \
	'^s: ERROR: tunnel: UID SEARCH in mailbox "INBOX" failed: BAD \[PARSE\] Error in IMAP command$' \
	"$PULLIMAP" --config="$T/config" s

conf lmtp
printf 'mailbox = Nope\n' >>"$T/config"
t_fails "NO to SELECT" 69 \
	'^s: ERROR: tunnel: SELECT "Nope" failed: NO .*Nope' \
	"$PULLIMAP" --config="$T/config" s

conf lmtp 'UID STORE *' 'NO [CANNOT] Mailbox is read-only'
run; rc=$?
t_eq "NO to UID STORE: exit 69" "$rc" 69
t_grep "NO to UID STORE: message" \
	'^s: ERROR: tunnel: UID STORE in mailbox "INBOX" failed: NO \[CANNOT\] Mailbox is read-only$' "$T/last.err"
t_eq "NO to UID STORE: delivered anyway" "$(delivered)" 3

# LOGIN refused: the command is named, its arguments never are.
if dovecot_start; then
	cat >"$T/config" <<CONF
[s]
type = imap
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
STARTTLS = NO
auth = LOGIN
username = $DOVECOT_USER
password = wr0ng-s3cret
statefile = $T/state.db
deliver-method = lmtp:[127.0.0.1]:1
deliver-rcpt = rcpt@example.org
CONF
	chmod 600 "$T/config"
	t_fails "NO to LOGIN" 77 \
		'^s: ERROR: authentication failed: 127\.0\.0\.1:[0-9]+: LOGIN failed: NO ' \
		"$PULLIMAP" --config="$T/config" s
	t_no_grep "NO to LOGIN: neither user nor password in the message" \
		"wr0ng-s3cret|$DOVECOT_USER" "$T/last.err"
else
	t_skip "NO to LOGIN" "dovecot does not start"
fi

# --- Delivery: the server's address, the step, our words.
for proto in smtp lmtp; do
	P=$proto
	PROTO=$(printf %s "$proto" | tr a-z A-Z)
	extra=()
	[ $proto = lmtp ] && extra=(--lmtp)

	for phase in mail:MAIL data:DATA 'eod:the end of data'; do
		sink "${extra[@]}" --hangup "${phase%%:*}@1"
		conf $proto
		run; rc=$?
		t_eq "$P: server gone at ${phase%%:*}: exit 75" "$rc" 75
		t_grep "$P: server gone at ${phase%%:*}: message" \
			"^s: ERROR: (.*: )?$PROTO server 127\\.0\\.0\\.1:$SINK_PORT: connection closed while waiting for the reply to ${phase#*:}\$" \
			"$T/last.err"
	done

	sink "${extra[@]}" --eod 451@1
	conf $proto
	run; rc=$?
	t_eq "$P: 451 at end of data: exit 75" "$rc" 75
	t_grep "$P: 451 at end of data: the reply is kept" \
		"^s: ERROR: (.*: )?$PROTO server 127\\.0\\.0\\.1:$SINK_PORT: end of data refused: 451 4\\.0\\.0 sink: injected end-of-data failure" \
		"$T/last.err"

	sink_stop
	conf $proto
	run; rc=$?
	t_eq "$P: nobody listening: exit 75" "$rc" 75
	t_grep "$P: nobody listening: message" \
		"^s: ERROR: (.*: )?$PROTO server 127\\.0\\.0\\.1:$SINK_PORT: cannot connect: Connection refused\$" "$T/last.err"
	SINK_PORT=
done

t_done
