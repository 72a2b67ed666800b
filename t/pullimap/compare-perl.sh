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

# One file for both programs; the password has " ;" and "#" in it. The
# Perl reference only takes [IP]:PORT delivery targets.
cat >"$T/config" <<CONF
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
type = imap
username = $DOVECOT_USER
password = $DOVECOT_PASS
SSL_CAfile = $DOVECOT_CA
deliver-method = lmtp:[127.0.0.1]:$DOVECOT_LMTP_PORT
deliver-rcpt = $DOVECOT_DEST_USER

[perl]
mailbox = A
statefile = $T/perl.state

[ours]
mailbox = B
statefile = $T/ours.db
CONF
dest=$(lmtp_delivered_dir)

t_check "Perl reference runs" /usr/bin/pullimap --config="$T/config" perl
grep ' UID ' "$T/last.err" | sed -E 's/^perl\(A\)/X/' >"$T/perl.log"
mkdir -p "$T/perl-out/new" && mv "$dest"/new/* "$T/perl-out/new/" 2>/dev/null
t_check "ours runs" "$PULLIMAP" --config="$T/config" ours
grep ' UID ' "$T/last.err" | sed -E 's/^ours\(B\)/X/' >"$T/ours.log"
mkdir -p "$T/ours-out/new" && mv "$dest"/new/* "$T/ours-out/new/" 2>/dev/null

t_same_file "same log lines (UID, sender, INTERNALDATE)" "$T/perl.log" "$T/ours.log"
t_eq "same number of deliveries" "$(ls "$T/ours-out/new" | wc -l)" "$(ls "$T/perl-out/new" | wc -l)"
# Return-Path shows the envelope sender each one used.
sender_list() { for f in "$1"/new/*; do
	"$T_PYTHON" -c 'import sys; m=open(sys.argv[1],"rb").read(); i=m.find(b"\nMessage-ID:"); print(m.split(b"\n",1)[0].decode("latin-1"), m[i:m.find(b"\n",i+1)].decode("latin-1").strip() if i>=0 else "none")' "$f"
done | sort; }
sender_list "$T/perl-out" >"$T/perl.senders"
sender_list "$T/ours-out" >"$T/ours.senders"
t_same_file "same envelope senders" "$T/perl.senders" "$T/ours.senders"
t_delivered_set "ours: same messages" "$T/ours-out" "$T"/mail/*.eml
t_delivered_set "perl: same messages" "$T/perl-out" "$T"/mail/*.eml
t_eq "same \\Seen flags" "$(imap_fetch_flags B)" "$(imap_fetch_flags A)"
t_done
