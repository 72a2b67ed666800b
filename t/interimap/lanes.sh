#!/bin/bash
# Several mailboxes at once over several pairs of sessions (doc/interimap.1,
# CONCURRENCY; interimap/lanes.h), forced with the test knob
# INTERIMAP_LANES=N, against a run with one pair (INTERIMAP_LANES=1) on
# the same data: the same log lines in the same order (the lines of a
# mailbox synced ahead held back), the same database, the same mail; the
# other pairs really used (their logins on the remote server); a SIGTERM
# while four pairs wait on a frozen network path ends the run at once (the
# signal reaches every thread), after which a run completes with nothing
# lost or twice. Without the knob: one pair on loopback, four over a link
# with 10 ms more of round trip (t/lib/tcprelay.py's delay), two on
# loopback for a first round of many messages a mailbox.
# The Perl interimap's results on such runs are compared by sync.sh and
# msync.sh (their first syncs have three mailboxes or more).
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-lanes
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"

genmail --count 400 --out "$T/mail" --sizes small --seed lanes >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/mail/msg-%04d.eml' "$T" "$1"; }

for x in A B F G; do pair_setup $x || { t_fail "pair $x"; t_done; }; done

# Ten mailboxes, big and small in turn (whatever the list order, a small
# one after a big one is done first, its lines held), mail on each side
# and on both, some flagged.
script() { # SIDE: the imaptool script for that side
	local i j n=0 box
	for ((i = 0; i < 10; i++)); do
		box=box$i
		echo "create | $box"
		for ((j = 0; j < (i % 2 ? 2 : 25); j++)); do
			n=$((n + 1))
			case $1 in
			l) [ $((j % 3)) != 2 ] && echo "append | --flags | \\Seen | $box | $(f $((i * 40 + j + 1)))" ;;
			r) [ $((j % 3)) = 2 ] && echo "append | $box | $(f $((i * 40 + j + 1)))" ;;
			esac
		done
	done
	[ "$1" = l ] && echo "append | INBOX | $(f 399)"
	[ "$1" = r ] && echo "append | INBOX | $(f 400)"
	true
}
script l | pair_apply l "A B F G" || t_fail "filling the local servers"
script r | pair_apply r "A B F G" || t_fail "filling the remote servers"

logins() { grep -c 'imap-login: Info: Login: ' "$T/${1}r/dovecot.log"; }
la=$(logins A)
lb=$(logins B)
INTERIMAP_LANES=3 pair_run ours A a
t_eq "three pairs: status 0" "$?" 0
INTERIMAP_LANES=1 pair_run ours B b
t_eq "one pair: status 0" "$?" 0
t_eq "three pairs: three logins on the remote server" "$(($(logins A) - la))" 3
t_eq "one pair: one login" "$(($(logins B) - lb))" 1

# The same lines, in the same order (the traffic summaries count every
# pair: not compared), as a sequential run's.
same_lines() {
	grep -v 'IMAP traffic' "$T/$1.err" | sed -E 's/^(Creating new schema in database file ).*/\1DB/'
}
# digest X S: side S (L, R) of setup X's mail, INTERNALDATE aside (the
# setups were filled a moment apart)
digest() { local v=$1$2; mail_digest "${!v}" | sed -E 's/ [0-9]+ \(/ (/' | sort; }
# like_b x [LABEL]: run x (setup X) against B, the sequential one: the
# same lines in the same order, database and mail.
like_b() {
	local x=$1 X=${1^^} p=${2:+$2: } s
	same_lines "$x" | grep -v '^interimap: test:' >"$T/$x.lines"
	t_same_file "${p}the log lines in a sequential run's order" "$T/b.lines" "$T/$x.lines" ||
		diff "$T/b.lines" "$T/$x.lines" | head -n 20 | sed 's/^/#   /' >&2
	db_dump "$T/$X.db" >"$T/$x.dump"
	t_same_file "${p}the same database" "$T/b.dump" "$T/$x.dump"
	for s in L R; do
		digest "$X" $s >"$T/$x.$s"
		t_same_file "${p}the same mail ($s)" "$T/b.$s" "$T/$x.$s"
	done
}
same_lines b >"$T/b.lines"
db_dump "$T/B.db" >"$T/b.dump"
for s in L R; do digest B $s >"$T/b.$s"; done
like_b a
t_grep "a mailbox's lines were there to order" '^remote\(box[0-9]\): Added ' "$T/a.err"
t_eq "the traffic summaries: one per side" "$(grep -c 'IMAP traffic' "$T/a.err")" 2
t_same_file "both sides of A alike" <(cut -f2- "$T/a.L") <(cut -f2- "$T/a.R")
t_eq "nothing twice" "$(cut -f2- "$T/a.L" | sort | uniq -d | wc -l)" 0
t_eq "every message" "$(wc -l <"$T/a.L")" "$(($(script l | grep -c append) + $(script r | grep -c append)))"
pair_run ours A a2
t_eq "then nothing to do" "$(grep -v 'IMAP traffic' "$T/a2.err" | wc -l)" 0

# Each pair starting the mailbox it takes next while it finishes one
# (msync.h, msync_ahead; the default, A had it): the same again with the
# test knob's report (F), and with every lent side taken back at once
# (G, as when a mailbox needs its side again).
INTERIMAP_LANES=3 INTERIMAP_AHEAD=1 pair_run ours F f
t_eq "F (three pairs, ahead): status 0" "$?" 0
INTERIMAP_LANES=3 INTERIMAP_AHEAD=2 pair_run ours G g
t_eq "G (three pairs, every side taken back): status 0" "$?" 0
read -r sd gd <<<"$(ahead_started f)"
read -r se ge <<<"$(ahead_started g)"
if [ "${sd:-0}" -ge 2 ]; then t_ok "F: mailboxes started ahead ($sd)"; else t_fail "F: mailboxes started ahead" "${sd:-none}"; fi
t_eq "F: none given back" "${gd:-x}" 0
if [ "${se:-0}" -ge 2 ]; then t_ok "G: mailboxes started ahead ($se)"; else t_fail "G: mailboxes started ahead" "${se:-none}"; fi
t_eq "G: every one given back" "${ge:-x}" "${se:-y}"
for x in f g; do
	like_b $x $x
	t_eq "$x: nothing twice" "$(cut -f2- "$T/$x.L" | sort | uniq -d | wc -l)" 0
done

# ---------------------------------------------------------------------
# SIGTERM while four pairs wait on a frozen remote (a relay stopped with
# SIGSTOP) and every wait may last 60 s: every wait ends at once.
pair_setup C || { t_fail "pair C"; t_done; }
relay_front C || t_fail "the relay listens"
script l | pair_apply l C || t_fail "filling C"
lc=$(logins C)
# Frozen once the second login is in: the next remote command of each
# pair then never gets its answer.
second_login() { [ "$(($(logins C) - lc))" -ge 2 ]; }
INTERIMAP_LANES=4 INTERIMAP_TIMEOUT_MS=60000 pair_start ours C c
wait_until 20 second_login || t_fail "C: the second pair logs in"
kill -STOP "$RELAY_PID"
# Both threads asleep in a wait (the main one and the second pair's).
waiting() {
	local n=0 t
	for t in /proc/"$PID_C"/task/*/wchan; do
		case $(cat "$t" 2>/dev/null) in *poll*) n=$((n + 1)) ;; esac
	done
	[ "$n" -ge 2 ]
}
# (not a check: a thread seen between two waits, or the main one already
# done with its mailboxes and joining, is fine too; the check is the end)
wait_until 20 waiting || t_log "C: not both seen in a wait: $(cat /proc/"$PID_C"/task/*/wchan | tr '\0' ' ')"
t0=$(date +%s)
pair_stop C TERM
t_eq "SIGTERM with the pairs waiting: status 0" "$STOPPED" 0
el=$(($(date +%s) - t0))
if [ "$el" -le 5 ]; then t_ok "SIGTERM: ended at once (${el} s)"; else t_fail "SIGTERM: ended at once" "${el} s"; fi
kill -CONT "$RELAY_PID"
pair_run ours C c2
t_eq "C: the next run: status 0" "$?" 0
mail_digest "$CL" | cut -f2- | sort >"$T/c.L"
mail_digest "$CR" | cut -f2- | sort >"$T/c.R"
t_same_file "C: both sides alike" "$T/c.L" "$T/c.R"
t_eq "C: nothing twice" "$(sort "$T/c.L" | uniq -d | wc -l)" 0
t_eq "C: nothing lost" "$(wc -l <"$T/c.L")" "$(script l | grep -c append)"

# ---------------------------------------------------------------------
# Without the knob: the round trip decides. On loopback (E), one pair;
# behind a relay adding 5 ms each way (D), four.
pair_setup D || { t_fail "pair D"; t_done; }
pair_setup E || { t_fail "pair E"; t_done; }
relay_front D 5 || t_fail "the delaying relay listens"
script l | pair_apply l "D E" || t_fail "filling D and E"
ld=$(logins D)
le=$(logins E)
(unset INTERIMAP_LANES; pair_run ours D d)
t_eq "10 ms more: status 0" "$?" 0
(unset INTERIMAP_LANES; pair_run ours E e)
t_eq "loopback: status 0" "$?" 0
t_eq "10 ms more: four pairs" "$(($(logins D) - ld))" 4
t_eq "loopback: one pair" "$(($(logins E) - le))" 1
mail_digest "$DL" | cut -f2- | sort >"$T/d.L"
mail_digest "$DR" | cut -f2- | sort >"$T/d.R"
t_same_file "10 ms more: both sides alike" "$T/d.L" "$T/d.R"

# And on loopback a first round that copies many messages a mailbox (H:
# three mailboxes of 170, 510 in all: main.c, LANES_BULK_UIDS), two
# pairs (on a machine of two cores or more).
pair_setup H || { t_fail "pair H"; t_done; }
for ((i = 0; i < 3; i++)); do
	echo "create | bulk$i"
	for ((j = 1; j <= 170; j++)); do echo "append | bulk$i | $(f $(((i * 170 + j) % 400 + 1)))"; done
done | pair_apply l H || t_fail "filling H"
lh=$(logins H)
(unset INTERIMAP_LANES; pair_run ours H h)
t_eq "many messages a mailbox: status 0" "$?" 0
if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ]; then
	t_eq "many messages a mailbox: two pairs" "$(($(logins H) - lh))" 2
else
	t_eq "many messages a mailbox, one core: one pair" "$(($(logins H) - lh))" 1
fi
mail_digest "$HL" | cut -f2- | sort >"$T/h.L"
mail_digest "$HR" | cut -f2- | sort >"$T/h.R"
t_same_file "many messages a mailbox: both sides alike" "$T/h.L" "$T/h.R"
t_eq "many messages a mailbox: all 510 there" "$(wc -l <"$T/h.R")" 510
t_db_consistent "many messages a mailbox" "$T/H.db" "$HL" "$HR"

t_done
