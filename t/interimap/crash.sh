#!/bin/bash
# Crash safety of interimap (issues 9 and 10): kill -9 at 100+ points of
# first and incremental syncs loses nothing and, for ours, duplicates
# nothing; the next run resumes.
#
# One setup: a local and a remote Dovecot (tunnels, each through
# t/lib/killrelay.py, no COMPRESS), six mailboxes (nested ones, a
# non-ASCII one, some on both sides) holding different messages on each
# side (flags, keywords, INTERNALDATEs; a 1 MB one; a few without
# Message-ID), so that a first sync copies both ways in several
# MULTIAPPEND batches. Its servers are kept as a template and restored
# (with no database) for every fresh setup. Its increment: once a first
# sync is complete, 300 new messages (190 on the local, one mailbox of
# them new, 110 on the remote; several batches each way), for an
# incremental sync.
#
# Kill points. For each run, a seeded RNG (CRASH_SEED, printed; random
# when unset) draws a connection (local or remote), a direction (the
# client's lines or the server's), a kind of event (a line; the middle of
# a literal; for the server, a tagged OK [APPENDUID]) and a fraction u;
# the point is the K-th such event of the run, K = 1 + u * the number of
# them the run has left to do (estimated from the program's own counts
# in an uninterrupted sync of the same phase, first or incremental, and
# in a run with nothing to do, measured first, and from the pairs the
# database holds already: see point), times 1.2 but on the phase's first
# run, so that about one run in six completes. The relay SIGKILLs the
# client there (t/lib/killrelay.py says how exactly). The i-th run of
# either program gets the i-th draw: the same schedule, at the same
# relative points of each program's own streams (they differ: ours
# FETCHes the metadata first, the Perl program goes through the
# mailboxes in hash order). Not replayed exactly: what the other
# connection did by the time of the kill, and so the next points, can
# vary.
#
# Loop, per program: fresh setups until CRASH_KILLS (default 100; the
# Perl interimap: CRASH_PERL_KILLS, default 25) kills really
# happened (status 137 and the relay's record), both phases counted.
# Then ours again with CRASH_LANES (3) pairs of sessions (INTERIMAP_LANES,
# as a link of a few ms gets them: the first round's mailboxes shared out
# among them) for CRASH_LANES_KILLS (40) kills: every relay of a side
# counts its events with the others (t/lib/killrelay.py), so the K-th on
# any of that side's sessions kills; the same checks. In
# a setup, each phase: runs with the next kill point until one is not
# killed (the sync is then complete: status 0), then the checks; the
# increment is added between the phases. Checks after each phase, for
# ours: every message that must be there (the originals; after the
# increment, its messages too; mail_digest: md5 of the bytes, size,
# INTERNALDATE, flags minus \Recent) on both sides, none lost, none
# altered, none there twice (issue 10: the copies an APPEND made before
# the kill are found, not made again); both sides the same;
# db_consistent; one more run with nothing to say (status 0); at least a
# quarter of the kills in each phase. The same with the Perl interimap
# ($INTERIMAP_PERL, skipped when missing): its losses and duplicates
# reported, not judged, side by side with ours.
# shellcheck disable=SC2016 # '\Seen $Work': flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-crash
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
command -v flock >/dev/null || t_skip_all "no flock command"
KILLS=${CRASH_KILLS:-100}
# (ours again with several pairs of sessions, lanes.h: fewer, for time)
LANES=${CRASH_LANES:-3}
LANES_KILLS=${CRASH_LANES_KILLS:-40}
# (the Perl program's figures are reported, not judged: fewer, for time)
PERL_KILLS=${CRASH_PERL_KILLS:-25}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
t_log "seed $SEED (CRASH_SEED=$SEED replays this schedule), $KILLS kills for ours, $LANES_KILLS for ours with $LANES pairs of sessions, $PERL_KILLS for the Perl interimap"
# (bounds: a setup ends after 40 kills with a run that is not killed;
# at most 60 setups per program)
MAX_RUNS=40
MAX_SETUPS=60

# ---------------------------------------------------------------------
# The setup, filled once, kept as a template.
killrelay_pair

if ! genmail --count 405 --out "$T/mail" --sizes small --seed crash >/dev/null ||
	! genmail --count 300 --out "$T/inc" --sizes small --seed crash-inc >/dev/null ||
	! genmail --count 1 --out "$T/big" --big-mb 1 --seed crash-big >/dev/null; then
	t_fail "genmail"
	t_done
fi
# files FROM TO [DIR]: " | FILE" for messages FROM..TO (of DIR, $T/mail)
files() { local i; for ((i = $1; i <= $2; i++)); do printf ' | %s/msg-%04d.eml' "${3:-$T/mail}" "$i"; done; }
imap_script "$LT" <<EOF || t_fail "local filled"
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
imap_script "$RT" <<EOF || t_fail "remote filled"
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
killrelay_keep || t_fail "template kept"
# increment: the new messages of the incremental phase
increment() {
	imap_script "$LT" <<EOF || t_fail "local increment"
append | --flags | \Seen | --date | 05-May-2025 05:05:05 +0000 | INBOX$(files 1 140 "$T/inc")
append | --flags | \Answered \$Work | --date | 06-May-2025 06:06:06 +0200 | a/b$(files 141 160 "$T/inc")
append | --date | 07-May-2025 07:07:07 -0100 | Entwürfe$(files 161 170 "$T/inc")
create | neu
append | --flags | \Flagged | --date | 08-May-2025 08:08:08 +0000 | neu$(files 171 190 "$T/inc")
EOF
	imap_script "$RT" <<EOF || t_fail "remote increment"
append | --flags | \$Label2 | --date | 09-May-2025 09:09:09 +0900 | many$(files 191 280 "$T/inc")
append | --date | 10-May-2025 10:10:10 -1000 | a/c$(files 281 290 "$T/inc")
append | --flags | \Seen | --date | 11-May-2025 11:11:11 +1100 | Entwürfe$(files 291 300 "$T/inc")
EOF
}
# What both sides must hold after the increment's sync: the template's
# servers with the increment (want.inc), the new messages of each side
# (new.l, new.r: the template's messages taken out).
increment
mail_digest "$LT" >"$T/inc.l"
mail_digest "$RT" >"$T/inc.r"
LC_ALL=C sort "$T/inc.l" "$T/inc.r" >"$T/want.inc"
for s in l r; do LC_ALL=C comm -13 <(LC_ALL=C sort "$T/want.$s") <(LC_ALL=C sort "$T/inc.$s") >"$T/new.$s"; done
t_eq "increment: 190 new local messages, 110 remote, 7 mailboxes" \
	"$(wc -l <"$T/new.l") $(wc -l <"$T/new.r") $(cut -f1 "$T/want.inc" | sort -u | wc -l)" "190 110 7"
killrelay_reset || t_fail "template restored"

# judge WANT FILE: "LOST DUP ALTERED" for a side's mail_digest against
# WANT: the messages of WANT missing; the copies of one beyond its count
# there; the messages that are in no line of WANT (other bytes, flags or
# date).
judge() {
	"$T_PYTHON" - "$1" "$2" <<'EOF'
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
t_eq "judge: counts a loss, a duplicate, an altered message" "$(judge "$T/want" "$T/judge.test")" "2 1 1"

# ---------------------------------------------------------------------
# counts: the relays' counts of the last run, "CHANNEL DIR KIND N" lines
counts() { local ch; for ch in local remote; do sed "s/^/$ch /" "$R/counts.$ch"; done; }

# calibrate WHO: on a fresh setup, an uninterrupted first sync of WHO, a
# run with nothing to do, the increment, an uninterrupted incremental
# sync; their event counts in $T/counts.WHO.first and .inc ("CHANNEL DIR
# KIND FULL IDLE" lines); the statuses in CAL.
calibrate() {
	local who=$1 rc
	killrelay_reset
	: >"$R/plan"
	killrelay_run "$who" "calib-first-$who"
	rc=$RC
	# (the sessions each side had: the relays started)
	INSTANCES="$(cat "$R/instances.local" 2>&1) $(cat "$R/instances.remote" 2>&1)"
	counts >"$T/counts.full"
	killrelay_run "$who" "calib-idle-$who"
	rc="$rc $RC"
	counts | cut -d' ' -f4 >"$T/counts.idle"
	paste -d' ' "$T/counts.full" "$T/counts.idle" >"$T/counts.$who.first"
	increment
	killrelay_run "$who" "calib-inc-$who"
	CAL="$rc $RC"
	counts | paste -d' ' - "$T/counts.idle" >"$T/counts.$who.inc"
	t_log "$who: uninterrupted first sync, nothing to do, incremental sync: status $CAL; events (first sync, nothing to do): $(awk '{printf "%s %s %s %s %s; ", $1, $2, $3, $4, $5}' "$T/counts.$who.first"); incremental: $(awk '{printf "%s %s %s %s; ", $1, $2, $3, $4}' "$T/counts.$who.inc")"
	[ "$CAL" = "0 0 0" ] && [ "$(awk 'NF == 5' "$T/counts.$who.first" "$T/counts.$who.inc" | wc -l)" = 20 ]
}

# relay_counts WHO PHASE NL NR: the relays' framing against the
# uninterrupted sync of PHASE, where the local contributes NL messages,
# the remote NR: each message's body one literal in the FETCH from its
# side and one in the APPEND to the other; as many OK [APPENDUID] as
# "Added" lines.
relay_counts() {
	local who=$1 ph=$2 nl=$3 nr=$4 al ar
	al=$(grep -c '^local(.*): Added ' "$T/calib-$ph-$who.err")
	ar=$(grep -c '^remote(.*): Added ' "$T/calib-$ph-$who.err")
	t_eq "$who: $ph: the relays count every literal and OK [APPENDUID]" \
		"$(awk '$3 != "line" { printf "%s %s %s %s; ", $1, $2, $3, $4 }' "$T/counts.$who.$ph")" \
		"local c lit $nr; local s lit $nl; local s appendok $al; remote c lit $nl; remote s lit $nr; remote s appendok $ar; "
}

# The schedule: draw i, "CHANNEL DIR KIND U".
"$T_PYTHON" - "$SEED" "$((MAX_SETUPS * 2 * (MAX_RUNS + 1)))" >"$T/draws" <<'EOF'
import random, sys
rnd = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    ch = rnd.choice(("local", "remote"))
    d = rnd.choice(("c", "s"))
    kind = rnd.choices(("line", "lit", "appendok"), (5, 3, 2) if d == "s" else (6, 4, 0))[0]
    print(ch, d, kind, "%.6f" % rnd.random())
EOF

# base: each mailbox's UIDNEXTs in the database (at the start of the
# incremental phase: where each side's new messages start), "HEXNAME
# LOCAL REMOTE" lines in $T/base.
base() {
	sqlite3 -separator ' ' "$T/X.db" "SELECT hex(mailbox), l.UIDNEXT, r.UIDNEXT FROM mailboxes m
		JOIN local l USING (idx) JOIN remote r USING (idx)" >"$T/base"
}

# point WHO I PHASE [FRESH]: the kill point of draw I for WHO on the
# setup as it is: the K-th event, K = 1 + U * F * (IDLE + (FULL - IDLE) *
# REM), FULL and IDLE of the phase's counts, REM the share of the
# messages the event is about (those the phase copies) that are in no
# pair in the database yet: the local ones for the events of their copy
# to the remote (a FETCH from the local, an APPEND to the remote), the
# remote ones for the others. A phase's messages of a side are its UIDs
# from the base (1 in the first phase, see base) on, as many as it
# contributes. A point about U of the way through what the run has left
# to do; with F = 1.2, past its end when U > 5/6 or so: the run
# completes, and so the phase (see phase). On the phase's first run,
# F = 1: it is always killed.
point() {
	local a=want
	[ "$3" = inc ] && a=new
	"$T_PYTHON" - "$T/draws" "$(($2 + 1))" "$T/counts.$1.$3" "$T/$a.l" "$T/$a.r" "$T/X.db" "$3" "$T/base" "${4:-}" <<'EOF'
import os, sqlite3, sys
from collections import Counter
draw = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1].split()
counts = {}
for l in open(sys.argv[3]):
    ch, d, kind, full, idle = l.split()
    counts[ch, d, kind] = (int(full), int(idle))
# each side's messages of the phase per mailbox
orig = [Counter(l.split("\t")[0] for l in open(f)) for f in sys.argv[4:6]]
base = {}
if sys.argv[7] == "inc":
    for l in open(sys.argv[8]):
        h, lu, ru = l.split()
        base[bytes.fromhex(h).replace(b"\0", b"/").decode()] = (int(lu), int(ru))
done = [0, 0]
try:
    # (a run killed before its schema step leaves a file without tables)
    rows = sqlite3.connect(sys.argv[6]).execute("SELECT mailbox, lUID, rUID FROM mapping JOIN mailboxes USING (idx)") \
        if os.path.exists(sys.argv[6]) else []
except sqlite3.OperationalError:
    rows = []
for name, luid, ruid in rows:
    name = bytes(name).replace(b"\0", b"/").decode()
    b = base.get(name, (1, 1))
    done[0] += b[0] <= luid < b[0] + orig[0][name]
    done[1] += b[1] <= ruid < b[1] + orig[1][name]
rem = [1 - done[i] / sum(orig[i].values()) for i in (0, 1)]
ch, d, kind, u = draw
# local messages: FETCHed from the local (s), APPENDed to the remote (c,
# and the remote's OK [APPENDUID])
local_origin = (ch == "local") == (d == "s" and kind != "appendok")
full, idle = counts[ch, d, kind]
f = 1 if sys.argv[9] else 1.2
print(ch, d, kind, 1 + int(float(u) * f * (idle + (full - idle) * rem[0 if local_origin else 1])))
EOF
}

# phase WHO PHASE: the kill loop of PHASE (first, inc) on the setup as
# it is (see the top), then its checks; its figures added to WHO's (see
# crash). 1 when the run after the kills did not end well.
phase() {
	local who=$1 ph=$2 runs=0 end='' n f p j l dl al r dr ar want=$T/want s
	[ "$ph" = inc ] && want=$T/want.inc
	while [ -z "$end" ]; do
		n="$who-$SETUPS-$ph-$runs"
		if [ $runs -ge $MAX_RUNS ]; then
			: >"$R/plan"
		else
			if [ $runs = 0 ]; then f=fresh; else f=; fi
			point "$who" "$DRAW" "$ph" "$f" >"$R/plan"
			DRAW=$((DRAW + 1))
		fi
		p=$(cat "$R/plan")
		killrelay_run "$who" "$n"
		runs=$((runs + 1))
		if [ "$RC" = 137 ] && [ -n "$KILLED" ]; then
			K[$ph]=$((K[$ph] + 1))
			printf '%s %s\n' "$ph" "$KILLED" >>"$T/kills.$who"
			continue
		fi
		end=$RC
		[ -z "$KILLED" ] || t_log "$n: the relay killed at $KILLED, but status $RC"
	done
	# the run not killed: the phase's sync complete
	s="$who: setup $SETUPS, $ph ($((runs - 1)) kills)"
	if [ "$end" != 0 ]; then
		BAD=$((BAD + 1))
		t_log "$s: the run after the kills (at ${p:-no point}) exited $end: $(grep -v 'IMAP traffic' "$T/$n.err" | head -n 3 | tr '\n' ' ')"
		[ "$who" = perl ] || t_fail "$s: the run after the kills exits 0" "status $end"
		return 1
	fi
	mail_digest "$LT" >"$T/$who.$SETUPS.$ph.l"
	mail_digest "$RT" >"$T/$who.$SETUPS.$ph.r"
	read -r l dl al <<<"$(judge "$want" "$T/$who.$SETUPS.$ph.l")"
	read -r r dr ar <<<"$(judge "$want" "$T/$who.$SETUPS.$ph.r")"
	# (the setup's figures: its last phase's)
	SETUP_FIG="$((l + r)) $dl $dr $((al + ar))"
	if db_consistent "$T/X.db" "$LT" "$RT" >"$T/$who.$SETUPS.$ph.db" 2>&1; then f=0; else f=1; fi
	: >"$R/plan"
	killrelay_run "$who" "$who-$SETUPS-$ph-after"
	j="$RC:$(ilog_lines "$T/$who-$SETUPS-$ph-after.err")$(cat "$T/$who-$SETUPS-$ph-after.out")"
	if [ "$who" != perl ]; then
		t_eq "$s: every message on both sides, none lost, twice or altered" "$l $dl $al $r $dr $ar" "0 0 0 0 0 0"
		t_same_file "$s: both sides alike" "$T/$who.$SETUPS.$ph.l" "$T/$who.$SETUPS.$ph.r"
		if [ $f = 0 ]; then
			t_ok "$s: database consistent with the servers"
		else
			t_fail "$s: database consistent with the servers" "$(grep -v '^stale: ' "$T/$who.$SETUPS.$ph.db" | head -n 5)"
		fi
		t_eq "$s: the next run has nothing to do" "$j" "0:"
	else
		{ [ $f = 0 ] && [ "$j" = "0:" ] && cmp -s "$T/$who.$SETUPS.$ph.l" "$T/$who.$SETUPS.$ph.r"; } ||
			t_log "$s: sides alike: $(cmp -s "$T/$who.$SETUPS.$ph.l" "$T/$who.$SETUPS.$ph.r" && echo yes || echo no), database consistent: $([ $f = 0 ] && echo yes || echo no), next run: $j"
	fi
	t_log "$s: duplicates $dl local, $dr remote; killed at: $(grep "^$ph " "$T/kills.$who" | tail -n $((runs - 1)) | cut -d: -f1 | cut -d' ' -f2- | paste -sd, | sed 's/,/, /g')"
	return 0
}

# crash WHO N: fresh setups until N kills (see the top); WHO's figures
# in NKILLS[WHO] ("FIRST INC"), NSETUPS, LOST, DUPS, ALTERED, BAD (phases
# that did not end well), OKS (kills right after an OK [APPENDUID]) and
# MS. The last phase of each setup counts (a message lost or twice in
# the first is still so after the second).
declare -A NKILLS NSETUPS LOST DUPS ALTERED BADS OKS MS
declare -A K
crash() {
	local who=$1 want=$2 lost=0 dupl=0 dupr=0 alt=0 start l d1 d2 a
	start=$(date +%s%N)
	: >"$T/kills.$who"
	K[first]=0 K[inc]=0 SETUPS=0 DRAW=0 BAD=0
	while [ $((K[first] + K[inc])) -lt "$want" ] && [ $SETUPS -lt $MAX_SETUPS ]; do
		SETUPS=$((SETUPS + 1))
		killrelay_reset
		SETUP_FIG=
		if phase "$who" first; then
			increment
			base
			phase "$who" inc
		fi
		[ -n "$SETUP_FIG" ] || continue
		read -r l d1 d2 a <<<"$SETUP_FIG"
		lost=$((lost + l)) dupl=$((dupl + d1)) dupr=$((dupr + d2)) alt=$((alt + a))
	done
	NKILLS[$who]="${K[first]} ${K[inc]}" NSETUPS[$who]=$SETUPS LOST[$who]=$lost
	DUPS[$who]="$dupl local + $dupr remote" ALTERED[$who]=$alt BADS[$who]=$BAD
	MS[$who]=$(( ($(date +%s%N) - start) / 1000000 ))
	t_log "$who: kills by phase and point: $(cut -d: -f1 "$T/kills.$who" | awk '{print $1, $2, $3, $4}' | sort | uniq -c | awk '{printf "%s %s %s %s %d; ", $2, $3, $4, $5, $1}')"
	# (the reference's window: between the server's OK to an APPEND
	# and the client's commit of its pairs)
	OKS[$who]=$(grep -c 'OK \[APPENDUID' "$T/kills.$who")
}

# figures WHO: WHO's, for the last line
figures() {
	local k
	read -r -a k <<<"${NKILLS[$1]}"
	echo "$((k[0] + k[1])) kills (${k[0]} in first syncs, ${k[1]} in incremental ones) in ${NSETUPS[$1]} setups (${OKS[$1]} right after an OK [APPENDUID]), lost ${LOST[$1]}, duplicated ${DUPS[$1]}, altered ${ALTERED[$1]}, ${BADS[$1]} phases not completed, ${MS[$1]} ms"
}

NL=$(wc -l <"$T/want.l") NR=$(wc -l <"$T/want.r")
NIL=$(wc -l <"$T/new.l") NIR=$(wc -l <"$T/new.r")
calibrate ours || { t_fail "ours: uninterrupted syncs" "status $CAL"; t_done; }
t_eq "ours: one pair of sessions (relays per side)" "$INSTANCES" "1 1"
relay_counts ours first "$NL" "$NR"
relay_counts ours inc "$NIL" "$NIR"
mail_digest "$LT" >"$T/calib.l"
mail_digest "$RT" >"$T/calib.r"
t_eq "ours: uninterrupted syncs copy everything both ways" \
	"$(judge "$T/want.inc" "$T/calib.l") $(judge "$T/want.inc" "$T/calib.r")" "0 0 0 0 0 0"
crash ours "$KILLS"
read -r -a k <<<"${NKILLS[ours]}"
t_eq "ours: $((k[0] + k[1])) kills (${NSETUPS[ours]} setups): none lost, none twice, none altered" "${LOST[ours]} ${DUPS[ours]} ${ALTERED[ours]}" "0 0 local + 0 remote 0"
if [ $((k[0] + k[1])) -ge "$KILLS" ]; then
	t_ok "ours: at least $KILLS kills"
else
	t_fail "ours: at least $KILLS kills" "$((k[0] + k[1]))"
fi
if [ $((4 * k[0])) -ge "$KILLS" ] && [ $((4 * k[1])) -ge "$KILLS" ]; then
	t_ok "ours: at least a quarter of them in each phase"
else
	t_fail "ours: at least a quarter of them in each phase" "${k[0]} in first syncs, ${k[1]} in incremental ones"
fi
t_eq "ours: some kills right after an OK [APPENDUID]" "$([ "${OKS[ours]}" -gt 0 ] && echo yes)" yes
# (the copies such kills left, found by the next runs)
REC=$(cat "$T"/ours-*.err | sed -n 's/^[a-z]*(.*): Recovered \([0-9]*\) UID.*/\1/p' | awk '{ n += $1; k++ } END { print n + 0, k + 0 }')
t_log "ours: recovered $REC (copies, lines): copies the Perl interimap makes again"
t_eq "ours: copies found after the kills (Recovered)" "$([ "${REC% *}" -gt 0 ] && echo yes)" yes
t_log "ours: $(t_elapsed)"
FIG="ours: $(figures ours)"

# Ours with LANES pairs of sessions (the first round's mailboxes shared
# out, lanes.h; what a link of a few ms gets by default): each relay's
# events counted over its instances (killrelay.py), the K-th on any
# connection of that side kills. The same checks but those of the
# kills after an OK [APPENDUID] (too few kills to be sure of one).
if [ "$LANES_KILLS" -gt 0 ]; then
	export INTERIMAP_LANES=$LANES
	if calibrate lanes; then
		relay_counts lanes first "$NL" "$NR"
		relay_counts lanes inc "$NIL" "$NIR"
		t_eq "lanes: $LANES pairs of sessions used (relays per side)" "$INSTANCES" "$LANES $LANES"
		crash lanes "$LANES_KILLS"
		read -r -a k <<<"${NKILLS[lanes]}"
		t_eq "lanes: $((k[0] + k[1])) kills (${NSETUPS[lanes]} setups): none lost, none twice, none altered" "${LOST[lanes]} ${DUPS[lanes]} ${ALTERED[lanes]}" "0 0 local + 0 remote 0"
		if [ $((k[0] + k[1])) -ge "$LANES_KILLS" ] && [ $((4 * k[0])) -ge "$LANES_KILLS" ] && [ $((4 * k[1])) -ge "$LANES_KILLS" ]; then
			t_ok "lanes: at least $LANES_KILLS kills, a quarter of them in each phase"
		else
			t_fail "lanes: at least $LANES_KILLS kills, a quarter of them in each phase" "${k[0]} in first syncs, ${k[1]} in incremental ones"
		fi
		FIG="$FIG; ours with $LANES pairs: $(figures lanes)"
	else
		t_fail "lanes: uninterrupted syncs" "status $CAL"
	fi
	unset INTERIMAP_LANES
fi
t_eq "no sanitizer report" "$(grep -lE 'Sanitizer|runtime error' "$T"/ours-*.err "$T"/lanes-*.err "$T"/calib-*-ours.err "$T"/calib-*-lanes.err 2>/dev/null | head -n 3)" ""
if [ -x "$INTERIMAP_PERL" ]; then
	if calibrate perl; then
		relay_counts perl first "$NL" "$NR"
		relay_counts perl inc "$NIL" "$NIR"
		crash perl "$PERL_KILLS"
		FIG="$FIG; Perl: $(figures perl)"
	else
		t_log "the Perl interimap's uninterrupted syncs failed (status $CAL): not compared"
	fi
else
	t_log "no Perl interimap ($INTERIMAP_PERL): not compared"
fi
t_log "crash: seed $SEED: $FIG"
t_log "all done: $(t_elapsed)"
t_done
