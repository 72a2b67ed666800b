#!/bin/bash
# Crash safety of interimap's first sync (issue 9): kill -9 at 50+ points
# loses nothing, and the next run resumes.
#
# One setup: a local and a remote Dovecot (tunnels, each through
# t/lib/killrelay.py, no COMPRESS), six mailboxes (nested ones, a
# non-ASCII one, some on both sides) holding different messages on each
# side (flags, keywords, INTERNALDATEs; a 1 MB one), so that a first
# sync copies both ways in several MULTIAPPEND batches. Its servers are
# kept as a template and restored (with no database) for every fresh
# setup.
#
# Kill points. For each run, a seeded RNG (CRASH_SEED, printed; random
# when unset) draws a connection (local or remote), a direction (the
# client's lines or the server's), a kind of event (a line; the middle of
# a literal; for the server, a tagged OK [APPENDUID]) and a fraction u;
# the point is the K-th such event of the run, K = 1 + u * the number of
# them the run has left to do (estimated from the program's own counts
# in an uninterrupted first sync and in a run with nothing to do,
# measured first, and from the pairs the database holds already: see
# point), times 1.2 but on a fresh setup, so that about one run in six
# completes. The relay SIGKILLs the client there (t/lib/killrelay.py
# says how exactly). The i-th run of either program gets the i-th draw:
# the same schedule, at the same relative points of each program's own
# streams (they differ: ours FETCHes the metadata first, the Perl
# program goes through the mailboxes in hash order). Not replayed
# exactly: what the other connection did by the time of the kill, and
# so the next points, can vary.
#
# Loop, per program: on a fresh setup, runs with the next kill point
# until one is not killed (the first sync is then complete: status 0),
# then the checks; fresh setups until CRASH_KILLS (default 50) kills
# really happened (status 137 and the relay's record). Checks after each
# setup, for ours: every original message (mail_digest: md5 of the
# bytes, size, INTERNALDATE, flags minus \Recent) on both sides, none
# lost, none altered; both sides the same; db_consistent; one more run
# with nothing to say (status 0). The duplicates (an original there more
# than once) are counted and logged, not judged (issue 10). The same with
# the Perl interimap ($INTERIMAP_PERL, skipped when missing): its losses
# and duplicates reported, not judged, side by side with ours.
# shellcheck disable=SC2016 # '\Seen $Work': flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-crash
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
command -v flock >/dev/null || t_skip_all "no flock command"
T0=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 )) ms"; }
KILLS=${CRASH_KILLS:-50}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
t_log "seed $SEED (CRASH_SEED=$SEED replays this schedule), $KILLS kills per program"
# (bounds: a setup ends after 40 kills with a run that is not killed;
# at most 60 setups per program)
MAX_RUNS=40
MAX_SETUPS=60

# ---------------------------------------------------------------------
# The setup, filled once, kept as a template.
dovecot_init "$T/l" >/dev/null || { t_fail "local Dovecot"; t_done; }
LT=$DOVECOT_TUNNEL
dovecot_init "$T/r" >/dev/null || { t_fail "remote Dovecot"; t_done; }
RT="$DOVECOT_TUNNEL $DOVECOT_DEST_USER"
R=$T/relay
mkdir "$R"
cat >"$T/X.conf" <<EOF
database = $T/X.db
[local]
type = tunnel
command = $T_PYTHON $T_LIB/killrelay.py --name local --dir $R -- $LT
[remote]
type = tunnel
compress = NO
command = $T_PYTHON $T_LIB/killrelay.py --name remote --dir $R -- $RT
EOF
case "$(grep '^command' "$T/X.conf")" in
*[\$\&\*\(\)\{\}\[\]\'\"\;\\\|\?\<\>\~\`]*)
	# (the relays must be the clients' own children)
	t_skip_all "a shell metacharacter in the tunnel commands" ;;
esac

if ! genmail --count 405 --out "$T/mail" --sizes small --seed crash >/dev/null ||
	! genmail --count 1 --out "$T/big" --big-mb 1 --seed crash-big >/dev/null; then
	t_fail "genmail"
	t_done
fi
# files FROM TO: " | FILE" for messages FROM..TO
files() { local i; for ((i = $1; i <= $2; i++)); do printf ' | %s/msg-%04d.eml' "$T/mail" "$i"; done; }
# fill TUNNEL: the imaptool script on stdin ("|" between the arguments)
fill() { sed 's/ *| */\t/g' | IMAP_TUNNEL=$1 imap_tool script >/dev/null; }
fill "$LT" <<EOF || t_fail "local filled"
append | --flags | \Seen | --date | 01-Jan-2020 10:00:00 +0000 | INBOX$(files 1 10)
append | --flags | \Flagged \$Work | --date | 29-Feb-2024 23:59:59 -0700 | INBOX$(files 11 20)
append | --date | 03-Mar-2019 08:00:01 +0530 | INBOX$(files 21 30)
create | a/b
append | --flags | \Seen | --date | 15-Aug-2022 12:00:00 +0200 | a/b$(files 31 110)
append | --date | 16-Aug-2022 12:00:00 +0200 | a/b$(files 111 180)
create | Entwürfe
append | --flags | \Draft \$Brouillon | --date | 02-Feb-2022 02:02:02 -0300 | Entwürfe$(files 181 190)
create | Archiv/2024
append | --flags | \Seen \Answered | --date | 31-Dec-2024 23:59:59 +1400 | Archiv/2024$(files 191 210)
raw | SUBSCRIBE INBOX | SUBSCRIBE a/b
EOF
fill "$RT" <<EOF || t_fail "remote filled"
append | --flags | \Answered \Seen | --date | 15-Feb-2021 12:34:56 +0100 | INBOX$(files 211 225)
append | --flags | \$Label1 | --date | 12-Jan-2012 00:00:00 +0000 | INBOX$(files 226 240)
create | many
append | --flags | \Seen | --date | 11-Nov-2011 11:11:11 +1100 | many$(files 241 310)
append | --flags | \Flagged | --date | 12-Nov-2011 11:11:11 +1100 | many | $T/big/msg-big.eml
append | --date | 12-Dec-2012 12:12:12 -1200 | many$(files 311 380)
create | Entwürfe
append | --flags | \Seen | --date | 16-Jun-2016 16:16:16 +0100 | Entwürfe$(files 381 390)
create | a/b
append | --flags | \Flagged | --date | 17-Jul-2017 07:07:07 +0000 | a/b$(files 391 395)
create | a/c
append | --date | 18-Aug-2018 08:08:08 +0800 | a/c$(files 396 405)
raw | SUBSCRIBE many | SUBSCRIBE a/c
EOF
# What both sides must hold after a first sync: each mailbox, the
# messages of both sides.
mail_digest "$LT" >"$T/want.l"
mail_digest "$RT" >"$T/want.r"
LC_ALL=C sort "$T/want.l" "$T/want.r" >"$T/want"
t_eq "setup: 406 messages in 6 mailboxes" "$(wc -l <"$T/want") $(cut -f1 "$T/want" | sort -u | wc -l)" "406 6"
{ cp -a "$T/l/home" "$T/l.home" && cp -a "$T/r/home" "$T/r.home"; } || t_fail "template kept"
# reset: a fresh setup (the template's servers, no database)
reset() {
	rm -rf "$T/l/home" "$T/r/home" "$T/X.db" "$T/X.db-journal" &&
		cp -a "$T/l.home" "$T/l/home" && cp -a "$T/r.home" "$T/r/home"
}

# judge FILE: "LOST DUP ALTERED" for a side's mail_digest against want:
# the originals missing; the copies of an original beyond its count
# there; the messages that are no original (other bytes, flags or date).
judge() {
	"$T_PYTHON" - "$T/want" "$1" <<'EOF'
import sys
from collections import Counter
want = Counter(open(sys.argv[1]).read().splitlines())
have = Counter(open(sys.argv[2]).read().splitlines())
print(sum((want - have).values()),
      sum(n - want[l] for l, n in have.items() if l in want and n > want[l]),
      sum(n for l, n in have.items() if l not in want))
EOF
}
# (the counts can be wrong: one original gone, one twice, one altered)
sed -e 1d -e '2p' -e '3s/ ([^)]*)$/ (\\Deleted)/' "$T/want" >"$T/judge.test"
t_eq "judge: counts a loss, a duplicate, an altered message" "$(judge "$T/judge.test")" "2 1 1"

# ---------------------------------------------------------------------
# run WHO NAME: WHO (ours, perl) on the setup, with the kill point in
# $R/plan (if any); stdout and stderr in $T/NAME.out and .err, the
# status in RC; returns once both relays (and their servers) are done.
# KILLED: the relay's record when it killed the client, else empty.
run() {
	local bin=$INTERIMAP
	[ "$1" = perl ] && bin=$INTERIMAP_PERL
	rm -f "$R/killed" "$R/counts.local" "$R/counts.remote"
	# (bash's "Killed" aside)
	{ timeout 120 "$bin" --config="$T/X.conf" >"$T/$2.out" 2>"$T/$2.err"; } 2>/dev/null
	RC=$?
	{ flock -w 60 "$R/lock.local" true && flock -w 60 "$R/lock.remote" true; } ||
		t_fail "$2: the relays end"
	KILLED=$(cat "$R/killed" 2>/dev/null)
}

# calibrate WHO: an uninterrupted first sync of WHO on a fresh setup,
# then a run with nothing to do; their event counts in $T/counts.WHO
# ("CHANNEL DIR KIND FULL IDLE" lines).
calibrate() {
	local who=$1 ch rc
	reset
	: >"$R/plan"
	run "$who" "calib-$who"
	rc=$RC
	for ch in local remote; do sed "s/^/$ch /" "$R/counts.$ch"; done >"$T/counts.full"
	run "$who" "calib-idle-$who"
	for ch in local remote; do cut -d' ' -f3 "$R/counts.$ch"; done >"$T/counts.idle"
	paste -d' ' "$T/counts.full" "$T/counts.idle" >"$T/counts.$who"
	t_log "$who: uninterrupted first sync, status $rc, then $RC; events (first sync, nothing to do): $(awk '{printf "%s %s %s %s %s; ", $1, $2, $3, $4, $5}' "$T/counts.$who")"
	[ "$rc" = 0 ] && [ "$RC" = 0 ] && [ "$(awk 'NF == 5' "$T/counts.$who" | wc -l)" = 10 ]
}

# The schedule: draw i, "CHANNEL DIR KIND U".
"$T_PYTHON" - "$SEED" "$((MAX_SETUPS * (MAX_RUNS + 1)))" >"$T/draws" <<'EOF'
import random, sys
rnd = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    ch = rnd.choice(("local", "remote"))
    d = rnd.choice(("c", "s"))
    kind = rnd.choices(("line", "lit", "appendok"), (5, 3, 2) if d == "s" else (6, 4, 0))[0]
    print(ch, d, kind, "%.6f" % rnd.random())
EOF

# point WHO I [FRESH]: the kill point of draw I for WHO on the setup as
# it is: the K-th event, K = 1 + U * F * (IDLE + (FULL - IDLE) * REM), REM the
# share of the messages the event is about that are in no pair in the
# database yet: the local ones for the events of their copy to the
# remote (a FETCH from the local, an APPEND to the remote), the remote
# ones for the others. A point about U of the way through what the run
# has left to do; with F = 1.2, past its end when U > 5/6 or so: the run
# completes, and so the setup (see crash). On a fresh setup, F = 1: its
# first run is always killed.
point() {
	"$T_PYTHON" - "$T/draws" "$(($2 + 1))" "$T/counts.$1" "$T/want.l" "$T/want.r" "$T/X.db" "${3:-}" <<'EOF'
import os, sqlite3, sys
from collections import Counter
draw = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1].split()
counts = {}
for l in open(sys.argv[3]):
    ch, d, kind, full, idle = l.split()
    counts[ch, d, kind] = (int(full), int(idle))
# each side's messages per mailbox (UIDs 1..n in the template)
orig = [Counter(l.split("\t")[0] for l in open(f)) for f in sys.argv[4:6]]
done = [0, 0]
if os.path.exists(sys.argv[6]):
    db = sqlite3.connect(sys.argv[6])
    for name, luid, ruid in db.execute("SELECT mailbox, lUID, rUID FROM mapping JOIN mailboxes USING (idx)"):
        name = bytes(name).replace(b"\0", b"/").decode()
        done[0] += luid <= orig[0][name]
        done[1] += ruid <= orig[1][name]
rem = [1 - done[i] / sum(orig[i].values()) for i in (0, 1)]
ch, d, kind, u = draw
# local messages: FETCHed from the local (s), APPENDed to the remote (c,
# and the remote's OK [APPENDUID])
local_origin = (ch == "local") == (d == "s" and kind != "appendok")
full, idle = counts[ch, d, kind]
f = 1 if sys.argv[7] else 1.2
print(ch, d, kind, 1 + int(float(u) * f * (idle + (full - idle) * rem[0 if local_origin else 1])))
EOF
}

# crash WHO: the loop (see the top); WHO's figures in NKILLS[WHO],
# NSETUPS, LOST, DUPS, ALTERED, BAD (setups that did not end well), OKS
# (kills right after an OK [APPENDUID]) and MS.
declare -A NKILLS NSETUPS LOST DUPS ALTERED BAD OKS MS
crash() {
	local who=$1 kills=0 setups=0 draw=0 runs lost=0 dupl=0 dupr=0 alt=0 bad=0 s n f j p
	local start end l r
	start=$(date +%s%N)
	: >"$T/kills.$who"
	while [ $kills -lt "$KILLS" ] && [ $setups -lt $MAX_SETUPS ]; do
		setups=$((setups + 1))
		reset
		runs=0 end=
		while [ -z "$end" ]; do
			n="$who-$setups-$runs"
			if [ $runs -ge $MAX_RUNS ]; then
				: >"$R/plan"
			else
				if [ $runs = 0 ]; then f=fresh; else f=; fi
				point "$who" "$draw" "$f" >"$R/plan"
				draw=$((draw + 1))
			fi
			p=$(cat "$R/plan")
			run "$who" "$n"
			runs=$((runs + 1))
			if [ "$RC" = 137 ] && [ -n "$KILLED" ]; then
				kills=$((kills + 1))
				printf '%s\n' "$KILLED" >>"$T/kills.$who"
				continue
			fi
			end=$RC
			[ -z "$KILLED" ] || t_log "$n: the relay killed at $KILLED, but status $RC"
		done
		# the run not killed: the first sync complete
		s="$who: setup $setups ($((runs - 1)) kills)"
		if [ "$end" != 0 ]; then
			bad=$((bad + 1))
			t_log "$s: the run after the kills (at ${p:-no point}) exited $end: $(grep -v 'IMAP traffic' "$T/$n.err" | head -n 3 | tr '\n' ' ')"
			[ "$who" = perl ] || t_fail "$s: the run after the kills exits 0" "status $end"
			continue
		fi
		mail_digest "$LT" >"$T/$who.$setups.l"
		mail_digest "$RT" >"$T/$who.$setups.r"
		read -r l dl al <<<"$(judge "$T/$who.$setups.l")"
		read -r r dr ar <<<"$(judge "$T/$who.$setups.r")"
		lost=$((lost + l + r)) dupl=$((dupl + dl)) dupr=$((dupr + dr)) alt=$((alt + al + ar))
		if db_consistent "$T/X.db" "$LT" "$RT" >"$T/$who.$setups.db" 2>&1; then f=0; else f=1; fi
		: >"$R/plan"
		run "$who" "$who-$setups-after"
		j="$RC:$(ilog_lines "$T/$who-$setups-after.err")$(cat "$T/$who-$setups-after.out")"
		if [ "$who" = ours ]; then
			t_eq "$s: every message on both sides, none altered" "$l $al $r $ar" "0 0 0 0"
			t_same_file "$s: both sides alike" "$T/$who.$setups.l" "$T/$who.$setups.r"
			if [ $f = 0 ]; then
				t_ok "$s: database consistent with the servers"
			else
				t_fail "$s: database consistent with the servers" "$(grep -v '^stale: ' "$T/$who.$setups.db" | head -n 5)"
			fi
			t_eq "$s: the next run has nothing to do" "$j" "0:"
		else
			{ [ $f = 0 ] && [ "$j" = "0:" ] && cmp -s "$T/$who.$setups.l" "$T/$who.$setups.r"; } ||
				t_log "$s: sides alike: $(cmp -s "$T/$who.$setups.l" "$T/$who.$setups.r" && echo yes || echo no), database consistent: $([ $f = 0 ] && echo yes || echo no), next run: $j"
		fi
		t_log "$s: duplicates $dl local, $dr remote; killed at: $(tail -n $((runs - 1)) "$T/kills.$who" | cut -d: -f1 | paste -sd, | sed 's/,/, /g')"
	done
	NKILLS[$who]=$kills NSETUPS[$who]=$setups LOST[$who]=$lost
	DUPS[$who]="$dupl local + $dupr remote" ALTERED[$who]=$alt BAD[$who]=$bad
	MS[$who]=$(( ($(date +%s%N) - start) / 1000000 ))
	t_log "$who: kills by point: $(cut -d: -f1 "$T/kills.$who" | awk '{print $1, $2, $3}' | sort | uniq -c | awk '{printf "%s %s %s %d; ", $2, $3, $4, $1}')"
	# (the reference's window: between the server's OK to an APPEND
	# and the client's commit of its pairs)
	OKS[$who]=$(grep -c 'OK \[APPENDUID' "$T/kills.$who")
}

# relay_counts WHO: the relays' framing against the uninterrupted first
# sync: each message's body one literal in the FETCH from its side and
# one in the APPEND to the other; as many OK [APPENDUID] as "Added" lines.
relay_counts() {
	local nl nr al ar
	nl=$(wc -l <"$T/want.l") nr=$(wc -l <"$T/want.r")
	al=$(grep -c '^local(.*): Added ' "$T/calib-$1.err")
	ar=$(grep -c '^remote(.*): Added ' "$T/calib-$1.err")
	t_eq "$1: the relays count every literal and OK [APPENDUID]" \
		"$(awk '$3 != "line" { printf "%s %s %s %s; ", $1, $2, $3, $4 }' "$T/counts.$1")" \
		"local c lit $nr; local s lit $nl; local s appendok $al; remote c lit $nl; remote s lit $nr; remote s appendok $ar; "
}

calibrate ours || { t_fail "ours: an uninterrupted first sync" "status $RC"; t_done; }
relay_counts ours
mail_digest "$LT" >"$T/calib.l"
mail_digest "$RT" >"$T/calib.r"
t_eq "ours: an uninterrupted first sync copies everything both ways" \
	"$(judge "$T/calib.l") $(judge "$T/calib.r")" "0 0 0 0 0 0"
crash ours
t_eq "ours: ${NKILLS[ours]} kills (${NSETUPS[ours]} setups): none lost, none altered" "${LOST[ours]} ${ALTERED[ours]}" "0 0"
if [ "${NKILLS[ours]}" -ge "$KILLS" ]; then
	t_ok "ours: at least $KILLS kills"
else
	t_fail "ours: at least $KILLS kills" "${NKILLS[ours]}"
fi
t_eq "no sanitizer report" "$(grep -lE 'Sanitizer|runtime error' "$T"/ours-*.err "$T"/calib*-ours.err | head -n 3)" ""
t_log "ours: $(elapsed)"

# figures WHO: WHO's, for the last line
figures() {
	echo "${NKILLS[$1]} kills in ${NSETUPS[$1]} setups (${OKS[$1]} right after an OK [APPENDUID]), lost ${LOST[$1]}, duplicated ${DUPS[$1]}, altered ${ALTERED[$1]}, ${BAD[$1]} setups not completed, ${MS[$1]} ms"
}
FIG="ours: $(figures ours)"
if [ -x "$INTERIMAP_PERL" ]; then
	if calibrate perl; then
		relay_counts perl
		crash perl
		FIG="$FIG; Perl: $(figures perl)"
	else
		t_log "the Perl interimap's uninterrupted first sync failed (status $RC): not compared"
	fi
else
	t_log "no Perl interimap ($INTERIMAP_PERL): not compared"
fi
t_log "crash: seed $SEED: $FIG"
t_log "all done: $(elapsed)"
t_done
