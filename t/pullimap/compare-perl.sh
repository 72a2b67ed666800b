#!/bin/bash
# Side by side with the Perl reference (Debian's pullimap 0.5.7): the same
# configuration file and mailbox give the same deliveries (envelope senders
# included), the same log lines, and the same \Seen flags.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init compare-perl
t_need_pullimap
[ -x /usr/bin/pullimap ] || t_skip_all "the Perl reference is not installed (apt-get install pullimap)"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 30 --sizes small --edge --seed 17 --out "$T/mail" >/dev/null
imap_create A >/dev/null
imap_create B >/dev/null
imap_append --date "17-Mar-2024 10:11:12 +0100" A "$T"/mail/*.eml >/dev/null
imap_append --date "17-Mar-2024 10:11:12 +0100" B "$T"/mail/*.eml >/dev/null

# Each program delivers to a sink of its own (t/lib/sink.py --lmtp), which
# keeps the exact bytes it received (un-dot-stuffed) and the envelope:
# Dovecot's LMTP would store both with LF line endings and hide any CR/LF
# difference.
SINK_PIDS=()
sink_start() { # NAME: sink in $T/NAME-out (a maildir: messages in new/)
	mkdir -p "$T/$1-out/new"
	"$T_PYTHON" "$T_LIB/sink.py" --lmtp --port-file "$T/$1.port" \
		--dir "$T/$1-out/new" --lifetime 300 >/dev/null 2>&1 &
	SINK_PIDS+=($!)
	wait_file "$T/$1.port" 10 || t_skip_all "sink.py does not start"
}
sinks_stop() { for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
t_cleanup_add sinks_stop
sink_start perl
sink_start ours

# One file for both programs; the password has " ;" and "#" in it. The
# Perl reference only takes [IP]:PORT delivery targets.
cat >"$T/config" <<CONF
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
type = imap
username = $DOVECOT_USER
password = $DOVECOT_PASS
SSL_CAfile = $DOVECOT_CA
deliver-rcpt = $DOVECOT_DEST_USER

[perl]
mailbox = A
statefile = $T/perl.state
deliver-method = lmtp:[127.0.0.1]:$(cat "$T/perl.port")

[ours]
mailbox = B
statefile = $T/ours.db
deliver-method = lmtp:[127.0.0.1]:$(cat "$T/ours.port")
CONF

t_check "Perl reference runs" /usr/bin/pullimap --config="$T/config" perl
grep ' UID ' "$T/last.err" | sed -E 's/^perl\(A\)/X/' >"$T/perl.log"
t_check "ours runs" "$PULLIMAP" --config="$T/config" ours
grep ' UID ' "$T/last.err" | sed -E 's/^ours\(B\)/X/' >"$T/ours.log"
# The envelopes apart from the messages (sink.py writes NNN.env next to
# NNN.eml; NNN counts transactions, in UID order for both).
for who in perl ours; do
	mkdir -p "$T/$who-env"
	mv "$T/$who-out/new"/*.env "$T/$who-env/" 2>/dev/null
done

t_same_file "same log lines (UID, sender, INTERNALDATE)" "$T/perl.log" "$T/ours.log"
t_eq "same number of deliveries" "$(ls "$T/ours-out/new" | wc -l)" "$(ls "$T/perl-out/new" | wc -l)"
t_eq "every message delivered" "$(ls "$T/ours-out/new" | wc -l)" 30
# Byte for byte, no normalisation: CR/LF damage on either side shows.
diff_msgs() { # DIR1 DIR2: names of the files that differ
	local f
	for f in "$1"/*; do
		cmp -s "$f" "$2/${f##*/}" || echo "${f##*/}"
	done
}
bad=$(diff_msgs "$T/perl-out/new" "$T/ours-out/new" | tr '\n' ' ')
t_eq "same bytes delivered, message by message" "$bad" ""
bad=$(diff_msgs "$T/perl-env" "$T/ours-env" | tr '\n' ' ')
t_eq "same envelopes (MAIL FROM, RCPT TO)" "$bad" ""
# Against the originals, after the normalisation t_delivered_set documents
# (Dovecot's IMAP store gives CRLF for any line ending).
t_delivered_set "ours: same messages" "$T/ours-out" "$T"/mail/*.eml
t_delivered_set "perl: same messages" "$T/perl-out" "$T"/mail/*.eml
t_eq "same \\Seen flags" "$(imap_fetch_flags B)" "$(imap_fetch_flags A)"
t_done
