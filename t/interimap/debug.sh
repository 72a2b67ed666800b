#!/bin/bash
# interimap --debug against the Perl interimap 0.5.7 on twin setups (A
# synced by ours, B by the Perl program; each a local Dovecot through a
# preauthenticated tunnel and a remote one over IMAPS with a password,
# COMPRESS=DEFLATE on): the protocol trace reads the same, line for line
# once the tags, timings and UIDVALIDITYs are masked and the lines sorted.
# What ours legitimately does otherwise (UID FETCH of the sizes first, the
# bodies after; the Perl program's hash orders) is left out of the exact
# comparison and compared by its shape only (who says it, which verb or
# response, tagged or not, after a literal or not).
#
# Checked: the prefixes ("local: " and "local(INBOX): " after a SELECT's
# OK only, as the reference's state), the 6-digit tags from 000000, "C:"
# and "S:", literals left out and the line after them starting "[...]",
# message bodies never shown (in memory or streamed); with --debug once
# the login hidden ("C: xxx AUTHENTICATE PLAIN [REDACTED]", "C: xxx LOGIN
# [REDACTED]", then only "S: xxx OK ...") and the password nowhere, in
# clear or base64; with --debug twice the login line as sent, the same
# as the reference's; the COMPRESS'd remote session traced decompressed;
# with logfile set, the trace in the logfile only (timestamped), under a
# custom log-prefix, the same prefixes as the reference's.
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-debug
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
PERL=$INTERIMAP_PERL
[ -x "$PERL" ] || t_skip_all "no Perl interimap ($PERL)"

# setup X: pair_setup's pair X, and besides $T/X.conf, $T/X.login.conf
# the same with auth = LOGIN, $T/X.log.conf with a logfile.
setup() {
	local x=$1
	pair_setup "$x" || return 1
	sed 's/^\[remote\]$/&\nauth = LOGIN/' "$T/$x.conf" >"$T/$x.login.conf"
	# logfile and a log-prefix of our own; no trailing space (the
	# reference's parser would keep it, ours too, but a reader would not
	# see it)
	{
		echo "logfile = $T/$x.logfile"
		echo "log-prefix = <%n%?m?|%m?>"
		cat "$T/$x.conf"
	} >"$T/$x.log.conf"
	chmod 600 "$T/$x.login.conf" "$T/$x.log.conf"
}
setup A && setup B || { t_fail "four Dovecots"; t_done; }

# The same messages on both setups: three on the remote INBOX, one of
# 200 KB (more than ours keeps in memory: streamed), each with a marker
# the trace must not show; one in a local mailbox whose name needs
# quoting; an empty local foo/bar.
mkdir -p "$T/mail"
for i in 1 2 3; do
	{
		printf 'From: a@example.org\r\nSubject: m%s\r\n\r\nBODYMARK-%s\r\n' "$i" "$i"
		if [ "$i" = 3 ]; then
			head -c 150000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/'
		fi
	} >"$T/mail/$i.eml"
done
printf 'From: b@example.org\r\nSubject: l\r\n\r\nBODYMARK-L\r\n' >"$T/mail/l.eml"
for x in A B; do
	r=${x}R l=${x}L
	IMAP_TUNNEL=${!r} imap_tool append --date "02-Mar-2024 10:00:00 +0100" \
	    --flags '\Seen' INBOX "$T/mail/1.eml" "$T/mail/2.eml" "$T/mail/3.eml" >/dev/null &&
	IMAP_TUNNEL=${!l} imap_tool create "sp ace" >/dev/null &&
	IMAP_TUNNEL=${!l} imap_tool create foo/bar >/dev/null &&
	IMAP_TUNNEL=${!l} imap_tool append --date "03-Mar-2024 11:00:00 +0000" \
	    "sp ace" "$T/mail/l.eml" >/dev/null || { t_fail "setup $x: messages"; t_done; }
done

# run WHO SETUP NAME CONF [ARGS...]: stderr in $T/NAME.err, status returned.
run() {
	local who=$1 x=$2 n=$3 conf=$4 bin=$INTERIMAP
	shift 4
	[ "$who" = perl ] && bin=$PERL
	timeout 120 "$bin" --config="$T/$x.$conf" "$@" >"$T/$n.out" 2>"$T/$n.err"
}

# trace FILE: the trace lines (default log-prefix).
trace() { grep -E '^(local|remote)(\([^)]*\))?: [CS]: ' "$1"; }
# masked FILE: trace lines with tags, timings and UIDVALIDITYs (Dovecot's
# clock) masked, LIST's \Marked and \UnMarked left out (Dovecot's guess
# from file times, to the second), and so is the "* OK [HIGHESTMODSEQ n]"
# Dovecot may or may not send after an APPEND into the selected mailbox
# (see db_consistent in t/lib/interimap.sh; SELECT's are kept), and the
# same code on a FETCH's OK: ours sends the FETCH that follows a copy
# behind its last APPEND (doc/interimap.1, CONCURRENCY), and Dovecot,
# running both, reports there that the APPEND moved HIGHESTMODSEQ;
# sorted, without duplicates.
masked() {
	trace "$1" | grep -Ev '^[a-z]+\([^)]*\): S: \* OK \[HIGHESTMODSEQ [0-9]+\] Highest$' | sed -E \
	    -e 's/^([^:]*: [CS]: )[0-9]{6} /\1TAG /' \
	    -e 's/\(([0-9]+\.[0-9]+ \+ )+[0-9]+\.[0-9]+ secs\)/(T secs)/' \
	    -e 's/\b[0-9]{9,10}\b/N/g' \
	    -e 's/^([^:]*: S: TAG OK) \[HIGHESTMODSEQ [0-9]+\] (Fetch completed)/\1 \2/' \
	    -e '/: S: \* LIST /{s/ ?\\(Un)?Marked//g; s/\( /(/;}' | LC_ALL=C sort -u
}
# exact FILE: masked without what ours does its own way: its UID FETCH
# commands and the FETCH responses.
exact() { masked "$1" | grep -Ev ': C: TAG UID FETCH |: S: \* [0-9]+ FETCH '; }
# shape FILE: each trace line as who says what: "local(INBOX): C: TAG UID
# FETCH", "remote: S: * FETCH", "local: S: TAG OK", "local: C: [...]".
shape() {
	masked "$1" | sed -E \
	    -e 's/^([^:]*: C: TAG (UID )?[A-Z]+).*/\1/' \
	    -e 's/^([^:]*: S: \*)( [0-9]+)? ([A-Z]+).*/\1 \3/' \
	    -e 's/^([^:]*: S: TAG [A-Z]+).*/\1/' \
	    -e 's/^([^:]*: [CS]: (\[\.\.\.\]|\+|xxx [A-Z]+)).*/\1/' | LC_ALL=C sort -u
}
# literals FILE: every line that announces a literal ({N} or {N+}, N > 0)
# must be followed, among the same connection's lines that way (C: or
# S:), by one starting "[...]"; prints the offenders and "N literals".
literals() {
	trace "$1" | awk '
		{
			who = $1; sub(/\(.*/, "", who); sub(/:$/, "", who)
			key = who " " $2
			rest = $0; sub(/^[^:]*: [CS]: /, "", rest)
			if (key in open) {
				if (rest !~ /^\[\.\.\.\]/) print "no [...] after: " open[key]
				delete open[key]
			}
			if (rest ~ /\{[1-9][0-9]*\+?\}$/) { open[key] = $0; n++ }
		}
		END { for (k in open) print "no line after: " open[k]; print n " literals" }'
}

# same NAME FN RUN: FN (masked, exact, shape) of the Perl program's RUN
# and ours alike; the difference in the log otherwise.
same() {
	"$2" "$T/p$3.err" >"$T/$3.$2.perl"
	"$2" "$T/$3.err" >"$T/$3.$2.ours"
	t_same_file "$1" "$T/$3.$2.perl" "$T/$3.$2.ours" ||
		diff "$T/$3.$2.perl" "$T/$3.$2.ours" | head -n 40 | sed 's/^/# /' >&2
}

pass=$DOVECOT_DEST_PASS
b64=$(printf '\0%s\0%s' "$DOVECOT_DEST_USER" "$pass" | base64 -w0)

# --- first sync, --debug ------------------------------------------------
run ours A first conf --debug; ra=$?
run perl B pfirst conf --debug; rb=$?
t_eq "first sync: both exit 0" "$ra $rb" "0 0"
same "first sync: the same trace lines (tags, timings, UIDVALIDITY masked; sorted; FETCHes apart)" exact first
same "first sync: the same shapes, FETCHes included" shape first
for f in first pfirst; do
	who=ours; [ $f = pfirst ] && who=perl
	t_grep "$who: 6-digit tags from 000000 on each connection" \
	    '^local: C: 000000 ENABLE QRESYNC$' "$T/$f.err"
	t_grep "$who: the login hidden" \
	    '^remote: C: xxx AUTHENTICATE PLAIN \[REDACTED\]$' "$T/$f.err"
	t_grep "$who: its OK shown, tag masked" \
	    '^remote: S: xxx OK \[CAPABILITY IMAP4rev1 ' "$T/$f.err"
	t_eq "$who: neither the password nor its base64 anywhere" \
	    "$(grep -cF -e "$pass" -e "$b64" "$T/$f.err")" 0
	t_eq "$who: no message body in the trace" \
	    "$(grep -c 'BODYMARK' "$T/$f.err")" 0
	t_match "$who: each literal followed by a [...] line" \
	    "$(literals "$T/$f.err")" '^[0-9]+ literals$'
	t_grep "$who: the remote INBOX selected: its prefix" \
	    '^remote\(INBOX\): C: [0-9]{6} UID FETCH ' "$T/$f.err"
	t_grep "$who: the SELECT under the unselected prefix" \
	    '^local: C: [0-9]{6} SELECT "sp ace"$' "$T/$f.err"
	t_grep "$who: the selected mailbox's APPEND under its prefix" \
	    '^local\(INBOX\): C: [0-9]{6} APPEND INBOX \(\\Seen\) "02-Mar-2024 09:00:00 \+0000" \{[0-9]+\+\}$' "$T/$f.err"
done
# Ours takes bodies over 64 KiB as a stream (imap_parse.h), the others
# in memory: both read alike.
t_grep "ours: the streamed literal announced" \
    '^remote\(INBOX\): S: \* [0-9]+ FETCH \(.*BODY\[\] \{15[0-9]{4}\}$' "$T/first.err"
t_grep "ours: and the line after it" '^remote\(INBOX\): S: \[\.\.\.\]\)$' "$T/first.err"
# COMPRESS: what follows it is in clear in the trace, and the counts say
# it was on.
t_match "ours: the remote session compressed" \
    "$(grep '^remote: IMAP traffic' "$T/first.err")" 'compr\.'
c=$(grep -nE '^remote: C: [0-9]{6} COMPRESS DEFLATE$' "$T/first.err" | cut -d: -f1)
e=$(grep -nE '^remote: C: [0-9]{6} ENABLE QRESYNC$' "$T/first.err" | cut -d: -f1)
t_match "ours: commands after COMPRESS traced in clear" "${c:-x} ${e:-x}" '^[0-9]+ [0-9]+$'
[ -n "$c" ] && [ -n "$e" ] && t_eq "ours: ENABLE after COMPRESS" "$((e > c))" 1
t_grep "ours: its reply in clear" '^remote: S: \* ENABLED QRESYNC$' "$T/first.err"
t_eq "ours: no escaped (compressed) bytes in the remote trace" \
    "$(grep -E '^remote(\([^)]*\))?: [CS]: ' "$T/first.err" | grep -c '\\x')" 0

# --- --debug --debug: the login in clear, as the reference --------------
# (fixed dates: the twins' APPEND lines must be alike)
DATE="04-Mar-2024 12:00:00 +0000"
for x in A B; do
	r=${x}R l=${x}L
	IMAP_TUNNEL=${!r} imap_tool append --date "$DATE" INBOX "$T/mail/2.eml" >/dev/null
	IMAP_TUNNEL=${!l} imap_tool append --date "$DATE" INBOX "$T/mail/1.eml" >/dev/null
done
run ours A dd conf --debug --debug; ra=$?
run perl B pdd conf --debug --debug; rb=$?
t_eq "--debug twice: both exit 0" "$ra $rb" "0 0"
t_grep "--debug twice: perl: the login as sent" \
    "^remote: C: 000000 AUTHENTICATE PLAIN $b64\$" "$T/pdd.err"
t_grep "--debug twice: ours: the same" \
    "^remote: C: 000000 AUTHENTICATE PLAIN $b64\$" "$T/dd.err"
t_no_grep "--debug twice: ours: nothing masked" 'xxx|REDACTED' "$T/dd.err"
same "--debug twice: the same trace lines (FETCHes apart)" exact dd
same "--debug twice: the same shapes" shape dd
t_eq "--debug twice: ours: no message body" "$(grep -c 'BODYMARK' "$T/dd.err")" 0

# --- auth = LOGIN ---------------------------------------------------------
run ours A login login.conf --debug; ra=$?
run perl B plogin login.conf --debug; rb=$?
t_eq "LOGIN: both exit 0" "$ra $rb" "0 0"
for f in login plogin; do
	who=ours; [ $f = plogin ] && who=perl
	t_grep "LOGIN: $who: hidden" '^remote: C: xxx LOGIN \[REDACTED\]$' "$T/$f.err"
	t_grep "LOGIN: $who: its OK" '^remote: S: xxx OK ' "$T/$f.err"
	t_eq "LOGIN: $who: no password" "$(grep -cF "$pass" "$T/$f.err")" 0
done
same "LOGIN: the same trace lines" exact login
run ours A login2 login.conf --debug --debug; ra=$?
run perl B plogin2 login.conf --debug --debug; rb=$?
t_eq "LOGIN twice: both exit 0" "$ra $rb" "0 0"
t_grep "LOGIN twice: perl: in clear" "^remote: C: 000000 LOGIN $DOVECOT_DEST_USER \"$pass\"\$" "$T/plogin2.err"
t_grep "LOGIN twice: ours: the same" "^remote: C: 000000 LOGIN $DOVECOT_DEST_USER \"$pass\"\$" "$T/login2.err"

# --- logfile, log-prefix ----------------------------------------------------
for x in A B; do
	r=${x}R
	IMAP_TUNNEL=${!r} imap_tool append --date "$DATE" INBOX "$T/mail/1.eml" >/dev/null
done
run ours A lf log.conf --debug; ra=$?
run perl B plf log.conf --debug; rb=$?
t_eq "logfile: both exit 0" "$ra $rb" "0 0"
# "<local|INBOX>C: ..." (the prefix then the trace, as the format says)
lprefixes() {
	sed -nE 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ (<[^>]*>)[CS]: .*/\1/p' "$1" |
		LC_ALL=C sort -u
}
for x in A B; do
	who=ours f=lf; [ $x = B ] && who=perl f=plf
	t_eq "logfile: $who: no trace on stderr" "$(grep -cE '>[CS]: ' "$T/$f.err")" 0
	t_eq "logfile: $who: every line timestamped" \
	    "$(grep -cvE '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ ' "$T/$x.logfile")" 0
	t_grep "logfile: $who: the trace there" '<remote\|INBOX>S: \[\.\.\.\]\)$' "$T/$x.logfile"
done
lprefixes "$T/B.logfile" >"$T/lp.perl"
lprefixes "$T/A.logfile" >"$T/lp.ours"
t_same_file "logfile: the same prefixes on the trace lines" "$T/lp.perl" "$T/lp.ours"
t_match "logfile: the selected and unselected ones" "$(lprefixes "$T/A.logfile" | tr '\n' ' ')" \
    '^<local> <local\|INBOX> <remote> <remote\|INBOX> $'

t_done
