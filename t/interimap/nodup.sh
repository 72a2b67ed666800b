#!/bin/bash
# nodup: the copies an APPEND made before a kill -9 are found by the next
# run (issue 10), told apart from look-alikes, and the Perl interimap
# running in between makes ours pair nothing wrongly.
#
# One setup (kept as a template, restored for each scenario): a local
# Dovecot with 20 messages in INBOX (one without Message-ID), a remote
# one with none; both through t/lib/killrelay.py. In each scenario ours
# is first killed right after the remote's OK to its first APPEND: the 20
# copies are on the remote, their pairs never committed, the records of
# the copy under way (c_append_intent) left.
# A. Ours again, with two more local messages that are the same (one
#    message twice in the batch) and, on the remote, delivered meanwhile,
#    a foreign message, a look-alike of one of the copies (same bytes,
#    date and flags) and a message of the same size and date as another
#    copy but another Message-ID, and one original expunged meanwhile:
#    the copies that can be told apart are paired ("Recovered"), the
#    three others copied again (a duplicate, not a wrong pair: "not told
#    apart"), the foreign messages synced as new, the copy of the one
#    expunged too (as the reference has it: not paired to be expunged).
# B. The Perl interimap in between, to its end (it ignores the records:
#    copies everything again, both ways): ours then drops the records,
#    says nothing, changes nothing.
# C. The Perl interimap in between, killed after it paired the copies
#    with its own copies of them (before its first APPEND to the remote):
#    ours pairs none of them again, copies what is missing.
# D. The Perl interimap in between, killed right after its first APPEND
#    to the local (the copies back, unpaired): ours pairs the copies
#    (they are its own), the Perl program's leftovers are new messages.
# E, F, G. --repair's copies: after a complete sync, the remote's
#    messages expunged behind ours' back and the database's
#    HIGHESTMODSEQs raised, so that --repair copies the local messages
#    again (messages below the source's UIDNEXT, not new ones). E: killed
#    after the remote's OK, then a plain run: the copies paired. F: the
#    same, then --repair again: paired first, nothing left to repair. G:
#    killed halfway through the APPEND, then --repair again: copied once.
#    H: E's kill, then the Perl interimap to its end: ours drops the
#    records (stale: the remote's UIDNEXT moved past them), quietly.
# After each: both sides alike, the database consistent (every pair's
# messages the same bytes, flags and date: no wrong pair), no record
# left, a next run with nothing to do.
# shellcheck disable=SC2016 # '\Seen': flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-nodup
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
command -v flock >/dev/null || t_skip_all "no flock command"

killrelay_pair

genmail --count 22 --out "$T/mail" --sizes small --seed nodup >/dev/null || { t_fail "genmail"; t_done; }
m() { printf '%s/msg-%04d.eml' "$T/mail" "$1"; }
t_eq "one message without Message-ID" "$(grep -Lic '^message-id:' "$T"/mail/msg-00[01]*.eml | wc -l)" 1
imap_script "$LT" <<EOF || t_fail "local filled"
append | --flags | \Seen | --date | 01-Jan-2020 10:00:00 +0000 | INBOX$(for i in $(seq 1 20); do printf ' | %s' "$(m "$i")"; done)
EOF
killrelay_keep || t_fail "template kept"
reset() { killrelay_reset; }

# run WHO NAME [PLAN [ARGS...]]: WHO (ours, perl) on the setup, killed
# at PLAN (killrelay.py's "CHANNEL DIR KIND K") if not empty, with
# ARGS; output in $T/NAME.{out,err}, status in RC, the relay's record in
# KILLED.
run() {
	printf '%s\n' "${3:-}" >"$R/plan"
	killrelay_run "$1" "$2" 60 "${@:4}"
}
q() { sqlite3 "$T/X.db" "$1"; }
records() { q "SELECT count(*) FROM c_append_intent" 2>/dev/null || echo none; }
# copies TUNNEL N: how many times message N is in INBOX there
copies() { mail_digest "$1" INBOX | grep -c "	$(md5sum <"$(m "$2")" | cut -d' ' -f1) "; }

# killed NAME: ours killed right after the remote's OK to its first
# APPEND (the 20 copies made, not paired)
killed() {
	run ours "$1" "remote s appendok 1"
	t_eq "$1: ours killed after the remote's OK" "$RC $(cut -d: -f1 <<<"$KILLED")" "137 remote s appendok 1"
	t_eq "$1: the copies on the remote, no pair, their records left" \
		"$(IMAP_TUNNEL=$RT imap_tool count INBOX) $(q 'SELECT count(*) FROM mapping') $(records)" "$2 0 $2"
}
# after NAME LOCAL REMOTE: the checks after a scenario: each side's
# message count, both alike, the database consistent, no record left,
# a next run with nothing to say
after() {
	local n=$1
	t_eq "$n: messages on each side" "$(IMAP_TUNNEL=$LT imap_tool count INBOX) $(IMAP_TUNNEL=$RT imap_tool count INBOX)" "$2 $3"
	mail_digest "$LT" >"$T/$n.l"
	mail_digest "$RT" >"$T/$n.r"
	t_same_file "$n: both sides alike" "$T/$n.l" "$T/$n.r"
	if db_consistent "$T/X.db" "$LT" "$RT" >"$T/$n.db" 2>&1; then
		t_ok "$n: database consistent: every pair the same message"
	else
		t_fail "$n: database consistent: every pair the same message" "$(grep -v '^stale: ' "$T/$n.db" | head -n 5)"
	fi
	t_eq "$n: no record left" "$(records)" 0
	run ours "$n-idle"
	t_eq "$n: the next run has nothing to do" "$RC:$(ilog_lines "$T/$n-idle.err")$(cat "$T/$n-idle.out")" "0:"
}

# ---------------------------------------------------------------------
# A. Ours alone; one message twice, a foreign message and a look-alike.
reset
imap_script "$LT" <<EOF || t_fail "A: local filled"
append | --flags | \Flagged | --date | 02-Feb-2022 02:02:02 +0200 | INBOX | $(m 21) | $(m 21)
EOF
killed A 22
sed '/^Message-ID:/s/@genmail\.example>/@genmail.examplf>/' "$(m 3)" >"$T/other3.eml"
t_eq "A: another Message-ID, the same size" \
	"$(cmp -s "$(m 3)" "$T/other3.eml" || echo differ) $(stat -c %s "$(m 3)") $(stat -c %s "$T/other3.eml" | sed 's/^/= /')" \
	"differ $(stat -c %s "$(m 3)") = $(stat -c %s "$(m 3)")"
imap_script "$RT" <<EOF || t_fail "A: remote deliveries"
append | --flags | \Seen | --date | 01-Jan-2020 10:00:00 +0000 | INBOX | $(m 1) | $T/other3.eml
append | --date | 03-Mar-2023 03:03:03 +0000 | INBOX | $(m 22)
EOF
IMAP_TUNNEL=$LT imap_tool expunge INBOX 5 || t_fail "A: local message 5 expunged"
run ours A-2
t_eq "A: the next run exits 0" "$RC" 0
t_grep "A: it resumes" '^Resuming interrupted sync for INBOX$' "$T/A-2.err"
t_grep "A: the copies told apart are paired (the one without Message-ID too)" \
	'^remote\(INBOX\): Recovered 18 UID\(s\) 2:4,6:20 -> 2:4,6:20 copied before an interruption$' "$T/A-2.err"
t_grep "A: the others are copied again" \
	'^remote\(INBOX\): WARNING: 3 message\(s\) copied before an interruption not told apart from others \(UID\(s\) 1,21:22 on local\): copied again$' "$T/A-2.err"
t_eq "A: nothing else recovered" "$(grep -c 'Recovered' "$T/A-2.err")" 1
# (on each side: message 1 as the original, the copy, the look-alike;
# message 21 as the two originals and their two copies; messages 22, 2,
# 3 and 5 once)
t_eq "A: message 1, 21, 22, 2, 3, 5 on each side" \
	"$(for s in "$LT" "$RT"; do for i in 1 21 22 2 3 5; do copies "$s" "$i"; done; done | paste -sd' ')" \
	"3 4 1 1 1 1 3 4 1 1 1 1"
t_eq "A: the recovered pairs are the copies (UID for UID)" \
	"$(q "SELECT count(*) FROM mapping WHERE lUID = rUID AND lUID BETWEEN 2 AND 20")" 18
after A 28 28

# B. The Perl interimap to its end in between.
if [ -x "$INTERIMAP_PERL" ]; then
	reset
	killed B 20
	run perl B-perl
	t_eq "B: the Perl interimap runs on the database with the records" "$RC" 0
	t_eq "B: ... copies everything again, both ways; leaves the records" \
		"$(IMAP_TUNNEL=$LT imap_tool count INBOX) $(IMAP_TUNNEL=$RT imap_tool count INBOX) $(records)" "40 40 20"
	db_dump "$T/X.db" >"$T/B.before"
	run ours B-2
	t_eq "B: ours then: status 0, nothing said" "$RC:$(ilog_lines "$T/B-2.err")$(cat "$T/B-2.out")" "0:"
	db_dump "$T/X.db" >"$T/B.after"
	t_same_file "B: ... no pair made or changed" "$T/B.before" "$T/B.after"
	after B 40 40

	# C. The Perl interimap killed at its first APPEND to the remote:
	# the copies are paired with its copies of them.
	reset
	killed C 20
	run perl C-perl "remote c lit 1"
	t_eq "C: the Perl interimap killed at its first APPEND to the remote" "$RC $(cut -d: -f1 <<<"$KILLED")" "137 remote c lit 1"
	t_eq "C: ... the copies paired with its copies of them" "$(q 'SELECT count(*) FROM mapping WHERE rUID <= 20')" 20
	run ours C-2
	t_eq "C: ours then exits 0" "$RC" 0
	t_no_grep "C: ... recovers nothing" 'Recovered|not told apart' "$T/C-2.err"
	t_grep "C: ... copies the originals again" '^remote\(INBOX\): Added 20 UID\(s\) 1:20 -> 21:40$' "$T/C-2.err"
	after C 40 40

	# D. The Perl interimap killed right after its first APPEND to the
	# local (the copies copied back, not paired).
	reset
	killed D 20
	run perl D-perl "local s appendok 1"
	t_eq "D: the Perl interimap killed after the local's OK" "$RC $(cut -d: -f1 <<<"$KILLED")" "137 local s appendok 1"
	t_eq "D: ... nothing paired, the records left" "$(q 'SELECT count(*) FROM mapping') $(records)" "0 20"
	run ours D-2
	t_eq "D: ours then exits 0" "$RC" 0
	t_grep "D: ... pairs its own copies" \
		'^remote\(INBOX\): Recovered 20 UID\(s\) 1:20 -> 1:20 copied before an interruption$' "$T/D-2.err"
	t_grep "D: ... the Perl program's leftovers are new local messages" '^remote\(INBOX\): Added 20 UID\(s\) 21:40 -> 21:40$' "$T/D-2.err"
	after D 40 40
else
	t_skip "B, C, D: the Perl interimap in between" "no $INTERIMAP_PERL"
fi

# ---------------------------------------------------------------------
# E, F, G. --repair's copies (download_missing) are recorded as copies
# under way too. The damage: after a complete sync (20 pairs), the
# remote's messages expunged behind ours' back and the database's
# HIGHESTMODSEQs raised to the servers' (it thinks it saw every change):
# --repair says each pair's remote UID "disappeared", unpairs them and
# copies the local messages again (messages below the local UIDNEXT:
# not new ones).
# hms TUNNEL: the server's HIGHESTMODSEQ of INBOX.
hms() { IMAP_TUNNEL=$1 imap_tool raw 'STATUS INBOX (HIGHESTMODSEQ)' | sed -n 's/^\* STATUS .*HIGHESTMODSEQ \([0-9]*\).*/\1/p'; }
# repair_killed NAME PLAN REMOTE: the damage, then --repair killed at
# PLAN; REMOTE: the remote's message count then.
repair_killed() {
	reset
	run ours "$1-0"
	t_eq "$1: a first sync, complete" "$RC $(q 'SELECT count(*) FROM mapping')" "0 20"
	IMAP_TUNNEL=$RT imap_tool expunge INBOX 1:20 || t_fail "$1: the remote's messages expunged"
	q "UPDATE local SET HIGHESTMODSEQ = $(hms "$LT"); UPDATE remote SET HIGHESTMODSEQ = $(hms "$RT")" ||
		t_fail "$1: the HIGHESTMODSEQs raised"
	run ours "$1-r" "$2" --repair
	t_eq "$1: --repair killed at $2" "$RC $(cut -d: -f1 <<<"$KILLED")" "137 $2"
	t_grep "$1: ... as it copied the local messages again" \
		'^remote\(INBOX\): WARNING: UID 20 disappeared\. Redownloading local UID 20\.$' "$T/$1-r.err"
	t_eq "$1: ... the remote's messages, no pair, the records left" \
		"$(IMAP_TUNNEL=$RT imap_tool count INBOX) $(q 'SELECT count(*) FROM mapping') $(records)" "$3 0 20"
}

# E. Killed right after the remote's OK (the copies made), then a plain
# run: it pairs them (before, it dropped the records as stale and copied
# the copies back: 40 local messages).
repair_killed E "remote s appendok 1" 20
run ours E-2
t_eq "E: the next run exits 0" "$RC" 0
t_grep "E: it resumes" '^Resuming interrupted sync for INBOX$' "$T/E-2.err"
t_grep "E: ... pairs the copies" \
	'^remote\(INBOX\): Recovered 20 UID\(s\) 1:20 -> 21:40 copied before an interruption$' "$T/E-2.err"
t_no_grep "E: ... copies nothing" 'Added' "$T/E-2.err"
after E 20 20

# F. The same, then --repair again: the copies paired first (the
# resumption, as a plain run's), nothing left to repair.
repair_killed F "remote s appendok 1" 20
run ours F-2 "" --repair
t_eq "F: --repair again exits 0" "$RC" 0
t_grep "F: ... pairs the copies" \
	'^remote\(INBOX\): Recovered 20 UID\(s\) 1:20 -> 21:40 copied before an interruption$' "$T/F-2.err"
t_no_grep "F: ... copies nothing, repairs nothing" 'Added|Redownloading|WARNING' "$T/F-2.err"
after F 20 20

# G. Killed halfway through the APPEND (nothing copied), then --repair
# again: nothing found, the records go, the messages copied once.
repair_killed G "remote c lit 1" 0
run ours G-2 "" --repair
t_eq "G: --repair again exits 0" "$RC" 0
t_no_grep "G: ... recovers nothing" 'Recovered|not told apart' "$T/G-2.err"
t_grep "G: ... copies the local messages" '^remote\(INBOX\): Added 20 UID\(s\) 1:20 -> ' "$T/G-2.err"
after G 20 20

# H. E's kill, then the Perl interimap to its end (it takes the copies
# for new remote messages: copied to the local, paired, the UIDNEXTs
# moved past them): ours then drops the records, says nothing, changes
# nothing.
if [ -x "$INTERIMAP_PERL" ]; then
	repair_killed H "remote s appendok 1" 20
	run perl H-perl
	t_eq "H: the Perl interimap copies the copies back, leaves the records" \
		"$RC $(IMAP_TUNNEL=$LT imap_tool count INBOX) $(IMAP_TUNNEL=$RT imap_tool count INBOX) $(q 'SELECT count(*) FROM mapping') $(records)" \
		"0 40 20 20 20"
	db_dump "$T/X.db" >"$T/H.before"
	run ours H-2
	t_eq "H: ours then: status 0, nothing said" "$RC:$(ilog_lines "$T/H-2.err")$(cat "$T/H-2.out")" "0:"
	db_dump "$T/X.db" >"$T/H.after"
	t_same_file "H: ... no pair made or changed" "$T/H.before" "$T/H.after"
	t_eq "H: ... no record left" "$(records)" 0
else
	t_skip "H: the Perl interimap after a --repair cut short" "no $INTERIMAP_PERL"
fi

t_eq "no sanitizer report" "$(grep -lE 'Sanitizer|runtime error' "$T"/*.err | head -n 3)" ""
t_done
