#!/bin/bash
# Servers without the extensions Dovecot always offers (t/lib/fakeimap.py):
# no LITERAL+ (synchronizing literals), no SASL-IR, no AUTH=PLAIN (LOGIN),
# no ESEARCH, no QRESYNC/ENABLE, no UIDNEXT in SELECT (Courier), no UIDPLUS
# (purge must not expunge another client's \Deleted messages), and an
# unsolicited FETCH after every STORE (Cyrus).
. "$TOP/t/lib/common.sh"
t_init fallbacks
t_need_pullimap

lmtp_sink_unix "$T/lmtp.sock" "$T/sink" || t_skip_all "the LMTP sink does not start"

genmail --count 4 --sizes small --seed 31 --out "$T/mail" >/dev/null
mapfile -t MAIL < <(ls "$T"/mail/*.eml)

T_CONF_COMMON="type = tunnel
username = u
deliver-method = lmtp:$T/lmtp.sock"
: >"$T/config"
chmod 600 "$T/config"

delivered() { eml_count "$T/sink"; }
distinct() { eml_distinct "$T/sink"; }
pull() { t_run "$PULLIMAP" --config="$T/config" "$@"; }
json() { printf '%s' "$1" | "$T_PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))'; }

# case NAME CAPS QUIRK... -- KEY = VALUE...: a mailbox of four messages
# behind a server with these capabilities, run twice.
case_() {
	local name="$1" caps="$2"
	shift 2
	local quirks=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do quirks+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	fk init "$T/$name"
	fk add "$T/$name" "${MAIL[@]}"
	fk set "$T/$name" "caps=$(json "$caps")" "${quirks[@]}"
	t_section "$name" "command = $T_PYTHON $T_LIB/fakeimap.py serve $T/$name" "$@"
	rm -f "$T"/sink/*
	pull "$name"
	t_eq "$name: the run succeeds" "$?" 0
	t_eq "$name: four delivered" "$(delivered)" 4
	t_eq "$name: all \\Seen (or purged)" "$(fk show "$T/$name" | grep -vc '\\Seen')" 0
	pull "$name"
	t_eq "$name: the second run succeeds" "$?" 0
	t_eq "$name: nothing delivered twice" "$(distinct)|$(delivered)" "4|4"
}

# No LITERAL+, no AUTH=PLAIN: LOGIN, with a password that must be quoted
# (configuration values are ASCII, so pullimap never needs a literal).
case_ nolitplus "IMAP4rev1 ESEARCH UIDPLUS ENABLE QRESYNC" -- 'password = p "s\'
t_grep "no LITERAL+, no AUTH=PLAIN: LOGIN, quoted" '^C: 1 LOGIN u "p \\"s\\\\"$' "$T/nolitplus/transcript.log"

# AUTH=PLAIN without SASL-IR: the response after the server's "+".
case_ nosaslir "IMAP4rev1 AUTH=PLAIN ESEARCH UIDPLUS" -- "password = p"
t_grep "no SASL-IR: AUTHENTICATE PLAIN alone" '^C: 1 AUTHENTICATE PLAIN$' "$T/nosaslir/transcript.log"
t_no_grep "no SASL-IR: no ENABLE without ENABLE" 'ENABLE' "$T/nosaslir/transcript.log"

# No ESEARCH: plain SEARCH answers.
case_ noesearch "IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS" -- "password = p"
t_no_grep "no ESEARCH: no RETURN option" 'RETURN' "$T/noesearch/transcript.log"

# No UIDNEXT in SELECT (Courier): searched every time, nothing skipped.
case_ nouidnext "IMAP4rev1 AUTH=PLAIN SASL-IR ESEARCH UIDPLUS" 'uidnext=null' -- "password = p"
fk add "$T/nouidnext" "${MAIL[0]}"
pull nouidnext
t_eq "no UIDNEXT: a later message is delivered" "$(delivered)" 5

# Cyrus: untagged FETCH (FLAGS) after every STORE, even .SILENT.
case_ cyrus "IMAP4rev1 AUTH=PLAIN SASL-IR ESEARCH UIDPLUS" 'store_fetch=true' -- "password = p"
t_grep "Cyrus: the server did send FETCH after STORE" '^S: \* [0-9]+ FETCH \(FLAGS \(\\Seen\)' "$T/cyrus/transcript.log"

# No UIDPLUS: EXPUNGE would take every \Deleted message along, so purge
# waits while another client's deletion is pending, and goes on after.
case_ nouidplus "IMAP4rev1 AUTH=PLAIN SASL-IR ESEARCH" -- "password = p" "purge-after = 0"
t_eq "no UIDPLUS: nothing of ours left after the first run" "$(fk show "$T/nouidplus" | wc -l | tr -d ' ')" 0
# UID 5, flagged \Deleted by someone else, cannot be fetched (so it is not
# ours); UID 6 is delivered and would be purged.
fk add "$T/nouidplus" --flags '\Deleted' "${MAIL[0]}"
fk add "$T/nouidplus" "${MAIL[1]}"
fk set "$T/nouidplus" 'hide_body=[5]'
: >"$T/nouidplus/transcript.log"
pull nouidplus
t_eq "no UIDPLUS: the new message is delivered" "$(delivered)" 5
t_grep "no UIDPLUS: says why it does not purge" 'not purging.*\\Deleted.*UIDPLUS' "$T/last.err"
t_eq "no UIDPLUS: the other client's \\Deleted message is still there" \
	"$(fk show "$T/nouidplus" | tr '\n' ' ')" "5 \\Deleted 6 \\Seen "
t_no_grep "no UIDPLUS: no EXPUNGE sent meanwhile" '^C: [0-9]+ (UID )?EXPUNGE' "$T/nouidplus/transcript.log"
fk expunge "$T/nouidplus" 5
pull nouidplus
t_eq "no UIDPLUS: once it is gone, ours is purged" "$(fk show "$T/nouidplus" | wc -l | tr -d ' ')" 0
t_grep "no UIDPLUS: with EXPUNGE" '^C: [0-9]+ EXPUNGE$' "$T/nouidplus/transcript.log"

t_done
