#!/bin/bash
# The next mailbox started ahead (msync.h, msync_ahead; doc/interimap.1,
# CONCURRENCY): while one side finishes a first sync's copy, the other
# side's SELECT of the next mailbox goes out, and, behind the FETCH that
# follows the copy, the target's. The test knob INTERIMAP_AHEAD=0 turns it
# off (A), =1 (B) says how many mailboxes were started so, =2 (C) takes
# every lent side back at once (as when a mailbox needs it again: the next
# mailbox's SELECT given up, the mailbox selected again with QRESYNC):
# the same log lines in the same order, the same database, the same mail
# in all three; with a re-sync afterwards finding nothing to do. D:
# another client writing during such a sync. Then an incremental sync of
# A/B/C (the next mailboxes known to the database: QRESYNC SELECTs
# ahead), the same three ways. E/F: a lent side needed again (I/J: the
# same in an incremental sync). G/H: the next mailbox's early SELECT
# failing.
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-ahead
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"

genmail --count 600 --out "$T/mail" --sizes small --seed ahead >/dev/null || { t_fail "genmail"; t_done; }
f() { printf '%s/mail/msg-%04d.eml' "$T" "$1"; }

for x in A B C; do pair_setup $x || { t_fail "pair $x"; t_done; }; done

# Twelve mailboxes: runs of local-only and remote-only ones (the next
# one starts on the side the copy came from, and on the target), one
# with mail on both sides, one of 300 messages (three batches), flags.
where() { # box index -> l, r or b
	case $1 in 0 | 1 | 2 | 3 | 9 | 11) echo l ;; 8) echo b ;; *) echo r ;; esac
}
script() { # SIDE
	local i j n box w k fl lside=0
	[ "$1" = l ] && lside=1
	for ((i = 0; i < 12; i++)); do
		box=box$(printf %02d $i)
		w=$(where $i)
		n=$((i == 9 ? 300 : 3))
		echo "create | $box"
		for ((j = 0; j < n; j++)); do
			case $w in
			b) [ $(((j % 2 == 0) == lside)) = 1 ] || continue ;;
			*) [ "$w" = "$1" ] || continue ;;
			esac
			k=$((i == 9 ? 250 + j : i * 20 + j + 1))
			fl=""
			[ $((j % 4)) = 1 ] && fl="--flags | \\Flagged | "
			echo "append | $fl$box | $(f $k)"
		done
	done
	[ "$1" = l ] && echo "append | INBOX | $(f 599)"
	true
}
script l | sed '/^create/{/box0[4-7]\|box10/d}' | pair_apply l "A B C" || t_fail "filling the local servers"
script r | sed '/^create/{/box0[0-3]\|box09\|box11/d}' | pair_apply r "A B C" || t_fail "filling the remote servers"

INTERIMAP_AHEAD=0 pair_run ours A a
t_eq "off: status 0" "$?" 0
INTERIMAP_AHEAD=1 pair_run ours B b
t_eq "on: status 0" "$?" 0
INTERIMAP_AHEAD=2 pair_run ours C c
t_eq "on, every side taken back: status 0" "$?" 0
t_no_grep "off: nothing started ahead" '^interimap: test:' "$T/a.err"
read -r sb gb <<<"$(ahead_started b)"
read -r sc gc <<<"$(ahead_started c)"
if [ "${sb:-0}" -ge 8 ]; then t_ok "on: mailboxes started ahead ($sb)"; else t_fail "on: mailboxes started ahead" "${sb:-none}"; fi
t_eq "on: none given back" "${gb:-x}" 0
if [ "${sc:-0}" -ge 8 ]; then t_ok "taken back: mailboxes started ahead ($sc)"; else t_fail "taken back: mailboxes started ahead" "${sc:-none}"; fi
t_eq "taken back: every one" "${gc:-x}" "${sc:-y}"

# (a server's reply quoted in an error line: without Dovecot's timings)
lines() { grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/$1.err" | sed -E -e 's/^(Creating new schema in database file ).*/\1DB/' -e 's/ \([0-9.+ ]+ secs\)\.?$//'; }
# ten_local X: a new pair X, m00-m09 of D's mail on its local side only.
ten_local() {
	local lt=${1}L
	pair_setup "$1" || { t_fail "pair $1"; t_done; }
	sed -n '/m0[0-9]\b/p' "$T/d.all" | imap_script "${!lt}" || t_fail "filling $1"
}
# hook_local X AFTER AT ARGS...: pair X's local tunnel through
# t/lib/hookrelay.py, which runs imaptool.py ARGS on that server (another
# client) once the client's stream has matched AFTER, just before the
# first chunk matching AT goes on; $T/firedX says it ran.
hook_local() {
	local x=$1 after=$2 at=$3 lt=${1}L
	shift 3
	{
		echo '#!/bin/sh'
		printf '"%s" "%s" --tunnel "%s"' "$T_PYTHON" "$T_LIB/imaptool.py" "${!lt}"
		printf ' "%s"' "$@"
		printf ' >/dev/null && echo fired >>"%s"\n' "$T/fired$x"
	} >"$T/hook$x.sh"
	chmod 755 "$T/hook$x.sh"
	sed -i "s|^command = ${!lt}\$|command = $T_PYTHON $T_LIB/hookrelay.py --after $after --at $at --run $T/hook$x.sh -- ${!lt}|" "$T/$x.conf"
}
# twins OFF ON: setup OFF (in capitals) run with the knob off, ON with it
# on: status 0 each, the other client (hook_local) having acted once in
# each.
twins() {
	local x=$1 y=$2 X=${1^^} Y=${2^^}
	INTERIMAP_AHEAD=0 pair_run ours "$X" "$x"
	t_eq "$X (off): status 0" "$?" 0
	INTERIMAP_AHEAD=1 pair_run ours "$Y" "$y"
	t_eq "$Y (on): status 0" "$?" 0
	t_eq "$X: the other client wrote once" "$(cat "$T/fired$X" 2>/dev/null)" fired
	t_eq "$Y: the other client wrote once" "$(cat "$T/fired$Y" 2>/dev/null)" fired
}
# same_run OFF ON [N]: run ON (setup ON in capitals, the knob on) against
# OFF (the knob off, a twin setup): the same log lines and database; with
# N, ON's database consistent with its servers, both sides alike, N
# messages, each once.
same_run() {
	local x=$1 y=$2 Y=${2^^}
	local l=${Y}L r=${Y}R
	lines "$x" >"$T/$x.lines"
	lines "$y" >"$T/$y.lines"
	t_same_file "$Y: the log lines of a run without" "$T/$x.lines" "$T/$y.lines" ||
		diff "$T/$x.lines" "$T/$y.lines" | head -n 20 | sed 's/^/#   /' >&2
	db_dump "$T/${x^^}.db" >"$T/$x.dump"
	db_dump "$T/$Y.db" >"$T/$y.dump"
	t_same_file "$Y: the database of a run without" "$T/$x.dump" "$T/$y.dump"
	[ -n "${3:-}" ] || return 0
	t_db_consistent "$Y: the database says what the servers hold" "$T/$Y.db" "${!l}" "${!r}"
	mail_digest "${!l}" | sort >"$T/$y.L"
	mail_digest "${!r}" | sort >"$T/$y.R"
	t_same_file "$Y: both sides alike" "$T/$y.L" "$T/$y.R"
	t_eq "$Y: every message once" "$(wc -l <"$T/$y.L")" "$3"
}
lines a >"$T/a.lines"
for x in b c; do
	lines $x >"$T/$x.lines"
	t_same_file "$x: the log lines of a run without" "$T/a.lines" "$T/$x.lines" ||
		diff "$T/a.lines" "$T/$x.lines" | head -n 20 | sed 's/^/#   /' >&2
done
t_grep "the lines hold the copies" '^remote\(box03\): Added 3 UID' "$T/a.err"
db_dump "$T/A.db" >"$T/a.dump"
for s in L R; do
	x=A$s
	# (INTERNALDATE aside: the pairs were filled a moment apart)
	mail_digest "${!x}" | sed -E 's/ [0-9]+ \(/ (/' | sort >"$T/a.$s"
done
t_same_file "A: both sides alike" <(cut -f2- "$T/a.L") <(cut -f2- "$T/a.R")
t_eq "A: every message" "$(wc -l <"$T/a.L")" "$(($(script l | grep -c append) + $(script r | grep -c append)))"
for x in B C; do
	db_dump "$T/$x.db" >"$T/$x.dump"
	t_same_file "$x: the same database" "$T/a.dump" "$T/$x.dump"
	for s in L R; do
		y=$x$s
		mail_digest "${!y}" | sed -E 's/ [0-9]+ \(/ (/' | sort >"$T/$x.$s"
		t_same_file "$x: the same mail ($s)" "$T/a.$s" "$T/$x.$s"
	done
	t_eq "$x: nothing twice" "$(cut -f2- "$T/$x.L" | sort | uniq -d | wc -l)" 0
	sum=$(md5sum <"$T/$x.db")
	INTERIMAP_AHEAD=1 pair_run ours $x ${x}2
	t_eq "$x: then nothing to do" "$(grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/${x}2.err" | wc -l)" 0
	# (not a byte written: db.h, db_schema(), db_reads_begin())
	t_eq "$x: the database file untouched by it" "$(md5sum <"$T/$x.db")" "$sum"
done

# An incremental sync: new mail in eight of the mailboxes the database
# knows (four runs of two: on one side or the other, so that the next one
# starts with a QRESYNC SELECT on a side the copy before is done with),
# a flag changed in two others. A (off), B (on), C (every side taken
# back): the same lines, database and mail.
inc() { # SIDE
	local i n=0
	for i in 0 1 4 5 8 10 11 2; do
		n=$((n + 1))
		case $i in 0 | 1 | 8 | 11) [ "$1" = l ] || continue ;; *) [ "$1" = r ] || continue ;; esac
		echo "append | box$(printf %02d $i) | $(f $((560 + n * 2)))"
		echo "append | box$(printf %02d $i) | $(f $((561 + n * 2)))"
	done
	[ "$1" = r ] && echo "store | box03 | 1 | +FLAGS | (\\Answered)" && echo "store | box06 | 1 | +FLAGS | (\\Seen)"
	true
}
inc l | pair_apply l "A B C" || t_fail "incremental: local changes"
inc r | pair_apply r "A B C" || t_fail "incremental: remote changes"
INTERIMAP_AHEAD=0 pair_run ours A ai
t_eq "incremental, off: status 0" "$?" 0
INTERIMAP_AHEAD=1 pair_run ours B bi
t_eq "incremental, on: status 0" "$?" 0
INTERIMAP_AHEAD=2 pair_run ours C ci
t_eq "incremental, every side taken back: status 0" "$?" 0
t_grep "incremental: copies logged" '^local\(box04\): Added 2 UID' "$T/ai.err"
read -r sb gb <<<"$(ahead_started bi)"
read -r sc gc <<<"$(ahead_started ci)"
if [ "${sb:-0}" -ge 4 ]; then t_ok "incremental, on: known mailboxes started ahead ($sb)"; else t_fail "incremental, on: known mailboxes started ahead" "${sb:-none}"; fi
t_eq "incremental, on: none given back" "${gb:-x}" 0
t_eq "incremental, taken back: every one" "${gc:-x}" "${sc:-y}"
lines ai >"$T/ai.lines"
db_dump "$T/A.db" >"$T/ai.dump"
for s in L R; do
	x=A$s
	mail_digest "${!x}" | sed -E 's/ [0-9]+ \(/ (/' | sort >"$T/ai.$s"
done
t_same_file "incremental, A: both sides alike" <(cut -f2- "$T/ai.L") <(cut -f2- "$T/ai.R")
for x in b c; do
	X=${x^^}
	lines ${x}i >"$T/${x}i.lines"
	t_same_file "incremental, $X: the log lines of a run without" "$T/ai.lines" "$T/${x}i.lines" ||
		diff "$T/ai.lines" "$T/${x}i.lines" | head -n 20 | sed 's/^/#   /' >&2
	db_dump "$T/$X.db" >"$T/${x}i.dump"
	t_same_file "incremental, $X: the same database" "$T/ai.dump" "$T/${x}i.dump"
	for s in L R; do
		y=$X$s
		t_same_file "incremental, $X: the same mail ($s)" "$T/ai.$s" <(mail_digest "${!y}" | sed -E 's/ [0-9]+ \(/ (/' | sort)
	done
done

# ---------------------------------------------------------------------
# Another client writing meanwhile: a first sync of 40 new mailboxes
# (m00-m19 on the local side, m20-m39 on the remote one) while, each
# time a mailbox's copy is logged, a message arrives on the side it was
# copied to (after its APPEND, before its last FETCH there maybe) and on
# both sides of the next mailbox (started ahead there, maybe), over a
# link 6 ms slower so that the writer keeps up. Where the writes fall
# varies from run to run (mostly behind the sync, seen here: C covers a
# lent side taken back); whatever they met: then runs until one has
# nothing to do, every message on both sides once, the database
# consistent.
pair_setup D || { t_fail "pair D"; t_done; }
for ((i = 0; i < 40; i++)); do
	b=$(printf 'm%02d' $i)
	echo "create | $b"
	echo "append | $b | $(f $((i * 2 + 1)))"
	echo "append | $b | $(f $((i * 2 + 2)))"
done >"$T/d.all"
sed -n '/m[01][0-9]\b/p' "$T/d.all" | imap_script "$DL" || t_fail "filling D (local)"
sed -n '/m[23][0-9]\b/p' "$T/d.all" | imap_script "$DR" || t_fail "filling D (remote)"
# (A slower link, one pair all the same: the writer keeps up.)
relay_front D 3 || t_fail "D: the delaying relay listens"
INTERIMAP_LANES=1 INTERIMAP_AHEAD=1 pair_start ours D d
# The writer: bounded, each step waiting for the run's next line.
w=0
for ((i = 1; i < 38; i += 3)); do
	a=$(printf 'm%02d' $i) n=$(printf 'm%02d' $((i + 1)))
	wait_until 20 grep -qE "^(local|remote)\($a\): Added " "$T/d.err" || break
	tgt=$DR
	[ "$i" -ge 20 ] && tgt=$DL
	{
		echo "append | $a | $(f $((200 + w)))"
	} | imap_script "$tgt" && w=$((w + 1))
	printf 'append | %s | %s\nappend | %s | %s\n' "$n" "$(f $((200 + w)))" "$n" "$(f $((201 + w)))" >"$T/d.w"
	head -n 1 "$T/d.w" | imap_script "$DL" && w=$((w + 1))
	tail -n 1 "$T/d.w" | imap_script "$DR" && w=$((w + 1))
done
wait_until 60 pair_ended D || t_fail "D: the run ends"
wait "$PID_D"
t_eq "D: the run with another client writing: status 0" "$?" 0
t_log "D: $w messages written meanwhile; $(grep '^interimap: test:' "$T/d.err")"
for ((k = 0; k < 3; k++)); do
	INTERIMAP_AHEAD=1 pair_run ours D d$k
	[ "$(grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/d$k.err" | wc -l)" = 0 ] && break
done
t_eq "D: then a run with nothing to do" "$(grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/d$k.err" | wc -l)" 0
t_db_consistent "D: the database says what the servers hold" "$T/D.db" "$DL" "$DR"
mail_digest "$DL" | sort >"$T/d.L"
mail_digest "$DR" | sort >"$T/d.R"
t_same_file "D: both sides alike" "$T/d.L" "$T/d.R"
t_eq "D: every message" "$(wc -l <"$T/d.L")" $((80 + w))
t_eq "D: nothing twice" "$(cut -f2- "$T/d.L" | sort | uniq -d | wc -l)" 0

# ---------------------------------------------------------------------
# A lent side really needed again: new mail in the mailbox being copied
# from, arriving while its last FETCH runs (another client's APPEND, made
# by t/lib/hookrelay.py just before that FETCH reaches the server, which
# then reports the new message with it), after the next mailbox's SELECT
# went out behind that FETCH. The mailbox takes its side back and copies
# the new message in the same run; the next one starts afresh. The same
# lines, database and mail as without (E: INTERIMAP_AHEAD=0, F: 1).
for x in E F; do
	ten_local $x
	hook_local $x SELECT.m05 BODY.PEEK append m05 "$(f 500)"
done
t_grep "E: the relay in the local tunnel" 'hookrelay' "$T/E.conf"
twins e f
t_grep "E: the new message copied in the same run" '^remote\(m05\): Added 1 UID\(s\) 3 -> 3$' "$T/e.err"
t_grep "F: a side given back" '^interimap: test: [0-9]+ mailbox\(es\) started ahead, 1 given back$' "$T/f.err"
same_run e f 21

# ---------------------------------------------------------------------
# The same in an incremental sync, the next mailbox known to the
# database (a QRESYNC SELECT ahead): m00-m09 synced first, then new mail
# in each on the local side; another client appends to m05 just before
# m05's copy FETCH reaches the local server, after m06's SELECT went out
# ahead. I: INTERIMAP_AHEAD=0, J: 1.
for x in I J; do
	ten_local $x
	pair_run ours $x ${x,,}0 || t_fail "$x: the first sync"
	lt=${x}L
	for ((i = 0; i < 10; i++)); do echo "append | m0$i | $(f $((520 + i)))"; done | imap_script "${!lt}" ||
		t_fail "$x: new mail"
	hook_local $x SELECT.m05 BODY.PEEK append m05 "$(f 501)"
done
twins i j
t_grep "I: the new message copied in the same run" '^remote\(m05\): Added 1 UID\(s\) 4 -> 4$' "$T/i.err"
t_grep "J: a side given back" '^interimap: test: [0-9]+ mailbox\(es\) started ahead, 1 given back$' "$T/j.err"
same_run i j 31

# ---------------------------------------------------------------------
# --watch: a later round syncs several mailboxes too, the next one
# started ahead (K: INTERIMAP_AHEAD=0, L: 1). Both synced first, then
# watching (stopped with SIGSTOP while another client puts a new message
# in each of m00-m07, on the local side: one round finds them all), then
# SIGTERM once all eight are copied: the same lines, database and mail.
for x in K L; do
	ten_local $x
	pair_run ours $x ${x,,}0 || t_fail "$x: the first sync"
done
INTERIMAP_AHEAD=0 pair_start ours K k --watch=1
INTERIMAP_AHEAD=1 pair_start ours L l --watch=1
for x in K L; do
	pid=PID_$x
	wait_until 20 grep -qx "pid ${!pid}" "$T/$x.db.status" || t_fail "$x: watching"
	kill -STOP "${!pid}"
	lt=${x}L
	for ((i = 0; i < 8; i++)); do echo "append | m0$i | $(f $((580 + i)))"; done | imap_script "${!lt}" ||
		t_fail "$x: new mail"
	kill -CONT "${!pid}"
done
copied() { [ "$(grep -c '^remote(m0[0-7]): Added 1 UID' "$T/$1.err")" = 8 ]; }
wait_until 60 copied k || t_fail "K: the eight copies" "$(grep -c Added "$T/k.err")"
wait_until 60 copied l || t_fail "L: the eight copies" "$(grep -c Added "$T/l.err")"
pair_stop K TERM
t_eq "K: SIGTERM: status 0" "$STOPPED" 0
pair_stop L TERM
t_eq "L: SIGTERM: status 0" "$STOPPED" 0
n=$(sed -nE 's/^interimap: test: ([0-9]+) mailbox\(es\) started ahead.*/\1/p' "$T/l.err" | awk '{ n += $1 } END { print n + 0 }')
if [ "$n" -ge 1 ]; then t_ok "L: mailboxes started ahead while watching ($n)"; else t_fail "L: mailboxes started ahead while watching" 0; fi
t_same_file "L: the log lines of a watch without (sorted: rounds may split apart)" \
	<(lines k | sort) <(lines l | sort)
db_dump "$T/K.db" >"$T/k.dump"
db_dump "$T/L.db" >"$T/l.dump"
t_same_file "L: the database of a watch without" "$T/k.dump" "$T/l.dump"
for s in L R; do
	x=K$s y=L$s
	t_same_file "L: the mail of a watch without ($s)" <(mail_digest "${!x}" | sed -E 's/ [0-9]+ \(/ (/' | sort) \
		<(mail_digest "${!y}" | sed -E 's/ [0-9]+ \(/ (/' | sort)
done

# ---------------------------------------------------------------------
# The next mailbox gone when its SELECT (sent ahead, behind the previous
# mailbox's FETCH) reaches the server: another client deletes m05 on the
# local side just before (hookrelay.py again, the same point without it:
# m05's own SELECT). The failure is m05's and said when its turn comes,
# after m04's lines: the same lines, status, database and mail as a run
# without (G: INTERIMAP_AHEAD=0, H: 1), nothing sent in m05's place.
for x in G H; do
	ten_local $x
	hook_local $x SELECT.m04 SELECT.m05 delete m05
done
INTERIMAP_AHEAD=0 pair_run ours G g
sg=$?
INTERIMAP_AHEAD=1 pair_run ours H h
sh=$?
t_eq "H: the status of a run without" "$sh" "$sg"
if [ "$sg" -ne 0 ]; then t_ok "G: a failure status ($sg)"; else t_fail "G: a failure status" 0; fi
t_eq "G: the other client deleted once" "$(cat "$T/firedG" 2>/dev/null)" fired
t_eq "H: the other client deleted once" "$(cat "$T/firedH" 2>/dev/null)" fired
t_grep "H: m05 started ahead" '^interimap: test: [1-9][0-9]* mailbox\(es\) started ahead' "$T/h.err"
t_grep "G: m05's failure said" '^local: ERROR: SELECT "m05" failed: NO ' "$T/g.err"
same_run g h
for s in L R; do
	x=G$s y=H$s
	# (INTERNALDATE aside, as above)
	t_same_file "H: the mail of a run without ($s)" <(mail_digest "${!x}" | sed -E 's/ [0-9]+ \(/ (/' | sort) \
		<(mail_digest "${!y}" | sed -E 's/ [0-9]+ \(/ (/' | sort)
done

t_done
