#!/bin/bash
# A server that leaves messages out, answers SEARCH with nothing or with
# garbage, announces a UIDNEXT it does not keep, hands out UID 4294967295,
# or names four billion UIDs (t/lib/fakeimap.py): pullimap loses nothing,
# delivers nothing twice, says what happened, and never lets the server
# size its memory.
. "$TOP/t/lib/common.sh"
t_init hostile
t_need_pullimap

lmtp_sink_unix "$T/lmtp.sock" "$T/sink" || t_skip_all "the LMTP sink does not start"

genmail --count 8 --sizes small --seed 21 --out "$T/mail" >/dev/null
mapfile -t MAIL < <(ls "$T"/mail/*.eml)

T_CONF_COMMON="type = tunnel
username = u
password = p
deliver-method = lmtp:$T/lmtp.sock"
: >"$T/config"
chmod 600 "$T/config"

# newcase NAME [KEY = VALUE...]: a fresh mailbox in $T/NAME and a section.
newcase() {
	local name="$1"
	shift
	fk init "$T/$name"
	t_section "$name" "command = $T_PYTHON $T_LIB/fakeimap.py serve $T/$name" "$@"
	rm -f "$T"/sink/*
}
delivered() { eml_count "$T/sink"; }
# The distinct messages delivered (by content) and the total.
distinct() { eml_distinct "$T/sink"; }
uids_left() { fk show "$T/$1" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//'; }
pull() { t_run "$PULLIMAP" --config="$T/config" "$@"; }
uidnext_of() { sqlite3 "$T/state-$1.db" 'SELECT uidnext FROM mailbox'; }

# -- 1. a message left out of a FETCH that ends in OK ----------------------
newcase hidden "purge-after = 0"
fk add "$T/hidden" "${MAIL[@]:0:3}"
fk set "$T/hidden" 'hide_body=[2]'
pull hidden
t_eq "hidden: the run succeeds" "$?" 0
t_eq "hidden: the two others are delivered" "$(delivered)" 2
t_grep "hidden: the log names the UID left out" 'UID 2: .*not return.*retried' "$T/last.err"
t_eq "hidden: UID 2 is not purged, the delivered ones are" "$(uids_left hidden)" "2"
t_eq "hidden: the recorded UIDNEXT stays at UID 2" "$(uidnext_of hidden)" 2
fk set "$T/hidden" 'hide_body='
pull hidden
t_eq "hidden: the next run delivers it" "$(delivered)" 3
t_eq "hidden: each message once" "$(distinct)" 3
t_eq "hidden: then it is purged too" "$(uids_left hidden)" ""
t_eq "hidden: UIDNEXT moves past it" "$(uidnext_of hidden)" 4

# A message that goes away between SEARCH and FETCH is not waited for.
newcase gone
fk add "$T/gone" "${MAIL[@]:0:3}"
fk set "$T/gone" 'hide_body=[2]'
fk expunge "$T/gone" 2
pull gone
t_eq "gone: the two others are delivered" "$(delivered)" 2
t_eq "gone: UIDNEXT moves past an expunged UID" "$(uidnext_of gone)" 4

# -- 2. empty or garbled SEARCH answers, a UIDNEXT too high -----------------
for q in 'empty:* ESEARCH (TAG "{tag}") UID' \
	'garbled:* ESEARCH (TAG "{tag}") UID ALL' \
	'seqnums:* ESEARCH (TAG "{tag}") ALL 1:3' \
	'nothing:* OK no result at all' \
	'plainempty:* SEARCH'; do
	name=${q%%:*} reply=${q#*:}
	newcase "$name"
	fk add "$T/$name" "${MAIL[@]:0:3}"
	fk set "$T/$name" "search_reply=$(printf '%s' "$reply" | "$T_PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"
	pull "$name"
	rc=$?
	t_ne "$name SEARCH answer: the run fails" "$rc" 0
	t_grep "$name SEARCH answer: says so" 'SEARCH' "$T/last.err"
	t_eq "$name SEARCH answer: nothing delivered" "$(delivered)" 0
	fk set "$T/$name" 'search_reply='
	pull "$name"
	t_eq "$name SEARCH answer: the next run delivers everything" "$(delivered)" 3
done

newcase highnext
fk add "$T/highnext" "${MAIL[@]:0:5}"
fk set "$T/highnext" 'uidnext=1000'
pull highnext
t_eq "UIDNEXT 1000 over 1-5: five delivered" "$(delivered)" 5
t_eq "UIDNEXT 1000 over 1-5: UIDNEXT recorded is 6" "$(uidnext_of highnext)" 6
fk set "$T/highnext" 'uidnext='
fk add "$T/highnext" "${MAIL[@]:5:2}"
pull highnext
t_eq "UIDNEXT 1000 then 8: the new ones are delivered" "$(delivered)" 7
t_eq "UIDNEXT 1000 then 8: each once" "$(distinct)" 7

# A state recorded too high (as older versions did) is brought down, with a
# warning, when the server's UIDNEXT is lower.
sqlite3 "$T/state-highnext.db" 'UPDATE mailbox SET uidnext = 1000'
fk add "$T/highnext" "${MAIL[7]}"
pull highnext
t_eq "recorded UIDNEXT above the server's: the new one is delivered" "$(delivered)" 8
t_eq "recorded UIDNEXT above the server's: each once" "$(distinct)" 8
t_grep "recorded UIDNEXT above the server's: a warning" 'UIDNEXT.*(below|lower)' "$T/last.err"

# -- 3. UID 4294967295 -------------------------------------------------------
newcase maxuid
fk add "$T/maxuid" --uid 4294967293 "${MAIL[0]}"
fk add "$T/maxuid" --uid 4294967294 "${MAIL[1]}"
fk add "$T/maxuid" --uid 4294967295 "${MAIL[2]}"
fk set "$T/maxuid" 'lenient=true'
timeout 120 "$PULLIMAP" --config="$T/config" maxuid >"$T/last.out" 2>"$T/last.err"
t_eq "UID 4294967295: the run succeeds" "$?" 0
t_eq "UID 4294967295: three deliveries" "$(delivered)" 3
pull maxuid
t_eq "UID 4294967295: the next run delivers nothing" "$(delivered)" 3
t_no_grep "UID 4294967295: no search from UID 0" 'UID 0:' "$T/maxuid/transcript.log"

# -- 4. four billion UIDs ----------------------------------------------------
newcase huge
fk add "$T/huge" "${MAIL[@]:0:3}"
fk set "$T/huge" 'exists=4294967295' 'search_reply="* ESEARCH (TAG \"{tag}\") UID ALL 1:4294967295"'
# ASan refuses any single allocation above 256 MB instead of letting the
# kernel find 17 GB.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:max_allocation_size_mb=256:allocator_may_return_null=0" \
	timeout 120 "$PULLIMAP" --config="$T/config" huge >"$T/last.out" 2>"$T/last.err"
rc=$?
t_eq "four billion UIDs: refused as a protocol error (exit 75)" "$rc" 75
t_no_grep "four billion UIDs: no sanitizer report" 'AddressSanitizer|Sanitizer' "$T/last.err"
t_grep "four billion UIDs: the message says why" 'FETCH|SEARCH' "$T/last.err"
t_eq "four billion UIDs: what exists was delivered once" "$(distinct)" "$(delivered)"

# Purge takes only what it handled, whatever the server's SEARCH says.
newcase purgelie "purge-after = 0"
fk add "$T/purgelie" "${MAIL[@]:0:4}"
fk set "$T/purgelie" 'hide_body=[4]' 'exists=4294967295' 'search_match="NOT KEYWORD"' \
	'search_reply="* ESEARCH (TAG \"{tag}\") UID ALL 1:4294967295"'
ASAN_OPTIONS="${ASAN_OPTIONS:-}:max_allocation_size_mb=256:allocator_may_return_null=0" \
	timeout 120 "$PULLIMAP" --config="$T/config" purgelie >"$T/last.out" 2>"$T/last.err"
t_eq "purge, SEARCH naming every UID: the run succeeds" "$?" 0
t_grep "purge, SEARCH naming every UID: \\Deleted only on what was delivered" \
	'^C: [0-9]+ UID STORE 1:3 \+FLAGS.SILENT \(\\Deleted\)$' "$T/purgelie/transcript.log"
t_eq "purge, SEARCH naming every UID: the skipped message stays" "$(uids_left purgelie)" 4

# -- 5. the envelope sender -------------------------------------------------
# ENVELOPE's sender (the Sender: header) as the reference; nothing that is
# not an RFC 5321 domain or address literal, no control characters.
printf 'From: Author <author@example.org>\r\nSender: list-bounces@lists.example.net\r\nSubject: x\r\n\r\nbody\r\n' >"$T/sender.eml"
printf 'From: a@b\r\nSubject: y\r\n\r\nbody\r\n' >"$T/plain.eml"
newcase sender
fk add "$T/sender" "$T/sender.eml"
fk add "$T/sender" --envelope '(NIL "s" (("x" NIL "x" "[x> RET=HDRS]")) (("x" NIL "x" "[x> RET=HDRS]")) NIL NIL NIL NIL NIL "<m1@x>")' "$T/plain.eml"
fk add "$T/sender" --envelope $'(NIL "s" (("x" NIL {21}\r\nab\r\nRCPT TO:<victim> "example.com")) (("x" NIL {21}\r\nab\r\nRCPT TO:<victim> "example.com")) NIL NIL NIL NIL NIL {8}\r\n<a\r\nb@x>)' "$T/plain.eml"
fk add "$T/sender" --envelope '(NIL "s" (("x" NIL "lit" "[127.0.0.1]")) (("x" NIL "lit" "[127.0.0.1]")) NIL NIL NIL NIL NIL "<m3@x>")' "$T/plain.eml"
fk add "$T/sender" --envelope '(NIL "s" (("x" NIL "v6" "[IPv6:::1]")) (("x" NIL "v6" "[IPv6:::1]")) NIL NIL NIL NIL NIL "<m4@x>")' "$T/plain.eml"
fk add "$T/sender" --envelope '(NIL "s" (("x" NIL "x" "bad_domain.-example")) (("x" NIL "x" "bad_domain.-example")) NIL NIL NIL NIL NIL "<m5@x>")' "$T/plain.eml"
pull sender
t_eq "sender: the run succeeds" "$?" 0
senders=$(cat "$T"/sink/*.env | sed -n 's/^MAIL //p' | tr '\n' ' ')
t_eq "sender: Sender: header, <> for what is not an address, literals kept" \
	"$senders" "FROM:<list-bounces@lists.example.net> FROM:<> FROM:<> FROM:<lit@[127.0.0.1]> FROM:<v6@[IPv6:::1]> FROM:<> "
t_no_grep "sender: no raw CR/LF from the server in the log" $'\r' "$T/last.err"
t_eq "sender: control bytes from the server escaped in the journal" \
	"$(sqlite3 "$T/state-sender.db" "SELECT message_id FROM delivered WHERE uid = 3")" '<a\x0d\x0ab@x>'


# An MTA that refuses the sender permanently: one retry with <>.
lmtp_sink_unix "$T/lmtp553.sock" "$T/sink" --mail 553@1 || t_fail "the refusing sink starts"
newcase refsender "deliver-method = lmtp:$T/lmtp553.sock"
fk add "$T/refsender" "$T/sender.eml"
pull refsender
t_eq "sender refused: the run succeeds" "$?" 0
t_eq "sender refused: delivered once, with <>" "$(cat "$T"/sink/*.env | sed -n 's/^MAIL //p')" "FROM:<>"
t_grep "sender refused: the retry is logged" 'UID 1: the MTA refused the sender <list-bounces@lists.example.net> .*553.*<>' "$T/last.err"
t_eq "sender refused: journaled as delivered" "$(sqlite3 "$T/state-refsender.db" 'SELECT count(*) FROM delivered')" 1
t_eq "sender refused: not recorded as rejected" "$(sqlite3 "$T/state-refsender.db" 'SELECT count(*) FROM rejected')" 0

# -- 12. a 4xx stops the fetching at once -----------------------------------
# Ten 512 KB messages; the MTA says 451 to the second: the eight bodies left
# are not downloaded only to be thrown away (the connection is given up),
# and the next run delivers them.
lmtp_sink_unix "$T/lmtp451.sock" "$T/sink" --eod 451@2 || t_fail "the 451 sink starts"
newcase tempfail "deliver-method = lmtp:$T/lmtp451.sock"
mkdir -p "$T/big"
for i in $(seq 1 10); do
	{ printf 'From: big%d@example.org\r\nSubject: big %d\r\n\r\n' "$i" "$i"
	  head -c 393216 /dev/zero | base64 -w 76 | sed 's/$/\r/'; } >"$T/big/$i.eml"
	fk add "$T/tempfail" "$T/big/$i.eml"
done
pull tempfail
t_eq "4xx: the run stops for a retry (exit 75)" "$?" 75
t_eq "4xx: the first message is delivered" "$(delivered)" 1
sent=$(grep -c '^S: <[0-9]* bytes>' "$T/tempfail/transcript.log")
if [ "$sent" -le 3 ]; then
	t_ok "4xx: the bodies after the failing one are not downloaded ($sent sent)"
else
	t_fail "4xx: the bodies after the failing one are not downloaded" "the server sent $sent of 10"
fi
fk set "$T/tempfail" 'caps=["IMAP4rev1","LITERAL+","SASL-IR","ESEARCH","UIDPLUS","ENABLE","QRESYNC","CONDSTORE","IDLE","AUTH=PLAIN"]'
sed -i "s|lmtp:$T/lmtp451.sock|lmtp:$T/lmtp.sock|" "$T/config"
pull tempfail
t_eq "4xx: the next run delivers the rest" "$(delivered)" 10
t_eq "4xx: each message once" "$(distinct)" 10
t_eq "4xx: all \\Seen in the end" "$(fk show "$T/tempfail" | grep -c '\\Seen')" 10

t_done
