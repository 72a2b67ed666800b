#!/bin/bash
# State and control flow: --no-delivery, UIDVALIDITY change, a second
# instance, purge-after, journaled-but-unseen messages, command line and
# configuration errors.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init state
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 6 --sizes small --seed 7 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)
clear_dest() { rm -f "$dest"/new/* "$dest"/cur/* 2>/dev/null; }

cat >"$T/config" <<CONF
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER

[nd]
statefile = $T/nd.db

[main]
statefile = $T/main.db

[purge0]
statefile = $T/purge0.db
mailbox = P0
purge-after = 0

[purge7]
statefile = $T/purge7.db
mailbox = P7
purge-after = 7

[slow]
statefile = $T/slow.db
command = sleep 3; $DOVECOT_TUNNEL
CONF
run() { t_run "$PULLIMAP" --config="$T/config" "$@"; }

# --no-delivery: record the mailbox as delivered, deliver nothing.
run --no-delivery nd
t_eq "--no-delivery: exit 0" "$?" 0
t_eq "--no-delivery: nothing delivered" "$(maildir_count "$dest")" 0
t_eq "--no-delivery: journaled" "$(sqlite3 "$T/nd.db" 'SELECT count(*) FROM delivered')" 6
t_eq "--no-delivery: marked \\Seen (as the reference)" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" 6
imap_store INBOX 1:* -FLAGS '(\Seen)' >/dev/null
run nd
t_eq "after --no-delivery nothing is delivered" "$(maildir_count "$dest")" 0

# A message journaled but not marked \Seen (crash between the MTA's reply
# and STORE) is marked \Seen and not delivered again.
run main
t_eq "main: delivers 6" "$(maildir_count "$dest")" 6
imap_store INBOX 3 -FLAGS '(\Seen)' >/dev/null
sqlite3 "$T/main.db" "UPDATE delivered SET seen = 0 WHERE uid = 3; UPDATE mailbox SET uidnext = 1"
clear_dest
run main
t_eq "journaled message is not re-delivered" "$(maildir_count "$dest")" 0
t_eq "journaled message is marked \\Seen" "$(imap_fetch_flags INBOX | grep '^3 ' | grep -c '\\Seen')" 1
t_eq "UIDNEXT moves on" "$(sqlite3 "$T/main.db" 'SELECT uidnext FROM mailbox')" 7

# A second instance on the same section fails at once, delivers nothing.
"$PULLIMAP" --config="$T/config" slow 2>"$T/slow1.err" &
p1=$!
wait_until 10 test -s "$T/slow.db"
sleep 0.3
run slow
rc=$?
t_eq "second instance: exit 75" "$rc" 75
t_grep "second instance: clear message" 'another pullimap' "$T/last.err"
wait $p1
t_eq "first instance still succeeds" "$?" 0

# UIDVALIDITY change: refused with advice; --no-delivery accepts.
sqlite3 "$T/main.db" "UPDATE mailbox SET uidvalidity = uidvalidity + 1"
run main
t_eq "UIDVALIDITY changed: exit 69" "$?" 69
t_grep "UIDVALIDITY changed: tells what to do" 'UIDVALIDITY.*changed.*--no-delivery' "$T/last.err"
run --no-delivery main
t_eq "UIDVALIDITY changed: --no-delivery accepts" "$?" 0
run main
t_eq "UIDVALIDITY changed: then runs fine" "$?" 0

# purge-after = 0: delivered messages are expunged at once.
imap_create P0 >/dev/null
imap_append P0 "$T"/mail/msg-000[1-3].eml >/dev/null
clear_dest
run purge0
t_eq "purge-after=0: delivered" "$(maildir_count "$dest")" 3
t_eq "purge-after=0: expunged" "$(imap_count P0)" 0

# purge-after = 7: only messages older than 7 days go.
imap_create P7 >/dev/null
imap_append --date "01-Jan-2020 10:00:00 +0000" P7 "$T"/mail/msg-0001.eml >/dev/null
imap_append P7 "$T"/mail/msg-0002.eml >/dev/null
run purge7
t_eq "purge-after=7: old message removed, new kept" "$(imap_count P7)" 1
t_grep "purge-after=7: logged" 'Removing 1 UID\(s\) 1' "$T/last.err"

# Command line and configuration errors: one line, sysexits status.
bad() { # NAME STATUS ERE ARGS...
	local name="$1" want="$2" re="$3"
	shift 3
	t_run "$PULLIMAP" "$@"
	t_eq "$name: exit $want" "$?" "$want"
	t_grep "$name: message" "$re" "$T/last.err"
}
# bad_file NAME STATUS ERE FILE TEXT: TEXT (a printf format) in $T/FILE,
# then bad with that file's section x.
bad_file() {
	# shellcheck disable=SC2059 # TEXT is the format
	printf "$5" >"$T/$4"
	bad "$1" "$2" "$3" --config="$T/$4" x
}
bad "no section" 64 'SECTION' --config="$T/config"
bad "unknown option" 64 'unrecognized|unknown' --bogus main
bad "--idle with a bad value" 64 'idle=abc' --idle=abc main
bad "missing file" 78 'nothere' --config="$T/nothere" main
bad "missing section" 78 'no such section' --config="$T/config" nosuch
bad "section _" 64 '_' --config="$T/config" _
bad_file "unknown key" 78 'bad1:2.*bogus' bad1 '[x]\nbogus = 1\n'
bad_file "syntax error" 78 'bad2:3' bad2 '[x]\ntype = imaps\nthis line is wrong\n'
bad_file "bad type" 78 'bad3:2.*type' bad3 '[x]\ntype = carrier-pigeon\n'
bad_file "bad deliver-method" 78 'bad4:2.*deliver-method' bad4 '[x]\ndeliver-method = smtp:localhost:25\n'
bad_file "bad purge-after" 78 'bad5:2.*purge-after' bad5 '[x]\npurge-after = soon\n'
# Past 100 years the SEARCH date would leave the calendar (a negative year
# at ~739,000 days): every run would fail after delivering.
bad_file "purge-after too large" 78 'bad5b:2.*purge-after.*36500' bad5b '[x]\npurge-after = 800000\n'
printf '[x]\ntype = tunnel\ncommand = true\npurge-after = 36500\n' >"$T/ok5c"
t_run "$PULLIMAP" --config="$T/ok5c" x
t_no_grep "purge-after = 36500 is accepted" 'purge-after' "$T/last.err"
bad_file "tunnel without command" 78 'command' bad6 '[x]\ntype = tunnel\n'
# A statefile of the Perl pullimap (two big-endian 32-bit integers) is
# imported before connecting (here the tunnel fails), and kept aside; a
# corrupt one is refused, naming it (t/pullimap/migrate.sh does the rest).
printf '\0\0\0\1\0\0\0\7' >"$T/perl.state"
printf '[p]\ntype = tunnel\ncommand = true\nmailbox = M\nstatefile = %s\n' "$T/perl.state" >"$T/perlconf"
t_run "$PULLIMAP" --config="$T/perlconf" p
t_grep "Perl statefile: imported" 'imported the Perl pullimap statefile \(UIDVALIDITY 1, UIDNEXT 7, 0 pending UIDs\); kept as .*perl.state.perl-statefile' "$T/last.err"
t_eq "Perl statefile: mailbox row" "$(sqlite3 "$T/perl.state" 'SELECT name, uidvalidity, uidnext FROM mailbox')" "M|1|7"
t_eq "Perl statefile: kept" "$(od -An -tx1 "$T/perl.state.perl-statefile" | tr -d ' ')" 0000000100000007
printf '\0\0\0\1\0\0\0\7\0' >"$T/perl2.state"
printf '[p2]\ntype = tunnel\ncommand = true\nstatefile = %s\n' "$T/perl2.state" >>"$T/perlconf"
bad "corrupt Perl statefile" 69 'perl2.state.*multiple of 4' --config="$T/perlconf" p2
t_check "--version" "$PULLIMAP" --version
t_grep "--version prints it" '^pullimap [0-9]' "$T/last.out"
t_check "--help" "$PULLIMAP" --help
t_grep "--help prints usage" 'Usage' "$T/last.out"

t_done
