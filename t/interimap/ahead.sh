#!/bin/bash
# The next mailbox started ahead (msync.h, msync_ahead; doc/interimap.1,
# CONCURRENCY): while one side finishes a first sync's copy, the other
# side's SELECT of the next mailbox goes out, and, behind the FETCH that
# follows the copy, the target's. The test knob INTERIMAP_AHEAD=0 turns it
# off (A), =1 (B) says how many mailboxes were started so, =2 (C) takes
# every lent side back at once (as when a mailbox needs it again: the next
# mailbox's SELECT given up, the mailbox selected again with QRESYNC):
# the same log lines in the same order, the same database, the same mail
# in all three; with a re-sync afterwards finding nothing to do.
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
started() { sed -nE 's/^interimap: test: ([0-9]+) mailbox\(es\) started ahead, ([0-9]+) given back$/\1 \2/p' "$T/$1.err"; }
read -r sb gb <<<"$(started b)"
read -r sc gc <<<"$(started c)"
if [ "${sb:-0}" -ge 8 ]; then t_ok "on: mailboxes started ahead ($sb)"; else t_fail "on: mailboxes started ahead" "${sb:-none}"; fi
t_eq "on: none given back" "${gb:-x}" 0
if [ "${sc:-0}" -ge 8 ]; then t_ok "taken back: mailboxes started ahead ($sc)"; else t_fail "taken back: mailboxes started ahead" "${sc:-none}"; fi
t_eq "taken back: every one" "${gc:-x}" "${sc:-y}"

lines() { grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/$1.err" | sed -E 's/^(Creating new schema in database file ).*/\1DB/'; }
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
	INTERIMAP_AHEAD=1 pair_run ours $x ${x}2
	t_eq "$x: then nothing to do" "$(grep -v -e 'IMAP traffic' -e '^interimap: test:' "$T/${x}2.err" | wc -l)" 0
done

t_done
