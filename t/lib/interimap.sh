# shellcheck shell=bash
# t/lib/interimap.sh - helpers for the interimap end-to-end tests (sourced
# after t/lib/common.sh, and t/lib/dovecot.sh for the helpers that talk to
# a server).
#
# What a run leaves, as the tests compare it:
#   imap_names TUNNEL         what a server holds, as interimap cares
#   db_mailboxes DB           the mailboxes table without idx
#   db_dump DB                mapping, local, remote by mailbox name
#   ilog_lines [--mask] FILE  an interimap log, as the tests compare them
#   mail_digest [--uids] TUNNEL [MAILBOX...]   the messages, one a line
#   db_consistent DB LOCAL-TUNNEL REMOTE-TUNNEL
#                             the database against both servers
#   t_db_consistent NAME DB LOCAL-TUNNEL REMOTE-TUNNEL   the same, a check
#   exit_class STATUS         0, 1 or X, as two programs' are compared
# What a run needs:
#   tunnel_conf FILE DB LOCAL-COMMAND REMOTE-COMMAND [LINE...]
#                             a configuration, both sides tunnels
#   hang_tunnel SCRIPT DIR    a tunnel to a server that never greets
#   maildir_zero_message MAILDIR  a 0-length message in a maildir's INBOX
# Whole-program runs on pairs named by a letter X (XL, XR: the tunnels):
#   pair_setup X              a local Dovecot (tunnel), a remote one (IMAPS)
#   imap_script TUNNEL        an imaptool script (stdin) on one server
#   pair_apply SIDE "X Y..."  the same on those servers
#   pair_run WHO X NAME [ARGS...]     ours or perl, one-shot
#   pair_start WHO X NAME [ARGS...]   the same in the background
#   pair_stop X SIGNAL        its end, the status in STOPPED
#   killrelay_pair            two Dovecots through t/lib/killrelay.py, $T/X.conf
#   killrelay_keep, killrelay_reset   its servers kept, restored
#   killrelay_run WHO NAME [SECS]     a run there, killed as $R/plan says
# Twin pairs: a program under test and the Perl interimap on two
# identical pairs of Dovecots, every change made to both alike:
#   twins_init                the four Dovecots, l1 r1 l2 r2 lb rb
#   twin_run NAME [ARGS...]   a run of each (the caller's ours, perl), compared
#   twin_compare NAME OURS-STATUS PERL-STATUS   the same, runs made
#   twin_same_mail NAME MAILBOX...   pair 1's sides hold the same messages
#
# The Perl reference is $INTERIMAP_PERL (default /usr/bin/interimap).

INTERIMAP_PERL=${INTERIMAP_PERL:-/usr/bin/interimap}

# imap_names TUNNEL: "NAME S" (subscribed) or "NAME -" per existing
# mailbox (neither \NonExistent nor \Noselect), sorted.
imap_names() {
	IMAP_TUNNEL=$1 imap_tool raw 'LIST "" "*" RETURN (SUBSCRIBED)' | awk '
		/^\* LIST / {
			a = $0; sub(/^\* LIST \(/, "", a)
			attrs = a; sub(/\).*/, "", attrs)
			rest = a; sub(/^[^)]*\) /, "", rest); sub(/^[^ ]* /, "", rest)
			if (attrs ~ /NonExistent|Noselect/) next
			print rest, (attrs ~ /Subscribed/ ? "S" : "-")
		}' | LC_ALL=C sort
}

# db_mailboxes DB: the mailboxes table without idx (the Perl program
# numbers its mailboxes in hash order), sorted.
db_mailboxes() { sqlite3 "$1" "SELECT hex(mailbox), subscribed FROM mailboxes ORDER BY mailbox"; }

# db_dump DB: mapping, and each side's UIDNEXT and HIGHESTMODSEQ, by
# mailbox name (hex), sorted; without idx and UIDVALIDITY (a server's
# own: see db_consistent).
db_dump() {
	sqlite3 -separator ' ' "$1" "
		SELECT 'map', hex(m.mailbox), lUID, rUID FROM mapping JOIN mailboxes m USING (idx);
		SELECT 'local', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM local JOIN mailboxes m USING (idx);
		SELECT 'remote', hex(m.mailbox), UIDNEXT, HIGHESTMODSEQ FROM remote JOIN mailboxes m USING (idx);" |
		LC_ALL=C sort
}

# ilog_lines [--mask] FILE: the log lines two runs must print alike,
# sorted (the Perl program's mailbox and flag-group orders are hash
# orders): without the traffic summaries, the database file's name
# masked. --mask masks too what differs between two databases or two
# pairs of servers by nature: a mailbox's idx ("(idx,lUID) = (IDX,"),
# the UIDVALIDITYs of "UIDVALIDITY changed! (N != M)".
ilog_lines() {
	local mask=
	if [ "${1:-}" = --mask ]; then
		mask='s/\(idx,lUID\) = \([0-9]+,/(idx,lUID) = (IDX,/
			s/UIDVALIDITY changed! \([0-9]+ != [0-9]+\)/UIDVALIDITY changed! (N != M)/'
		shift
	fi
	grep -Ev 'IMAP traffic|^started tunnel' "$1" |
		sed -E "s/^(Creating new schema in database file ).*/\1DB/
			$mask" | LC_ALL=C sort
}

# mail_digest [--uids] TUNNEL [MAILBOX...]: one line per message, sorted:
# "MAILBOX<TAB>[UID ]MD5 SIZE WHEN (FLAGS)" (imaptool.py digest); every
# selectable mailbox when none is named.
mail_digest() {
	local u=()
	if [ "${1:-}" = --uids ]; then u=(--uids); shift; fi
	local tun=$1
	shift
	IMAP_TUNNEL=$tun imap_tool digest "${u[@]}" "$@"
}

# db_consistent DB LOCAL-TUNNEL REMOTE-TUNNEL: after a complete run, the
# database says what the servers hold: each mailbox's UIDVALIDITY and
# UIDNEXT are the servers' (STATUS), its HIGHESTMODSEQ too or lower (see
# below), every non-empty message of either side is in exactly one pair
# and every pair's two messages exist, with the same bytes, flags and
# INTERNALDATE. Prints the disagreements; status 1 if any. Both sides
# use "/" as delimiter.
# A lower HIGHESTMODSEQ is printed as a line "stale: ..." but is no
# disagreement: Dovecot does not always follow an APPEND into the
# selected mailbox with "* OK [HIGHESTMODSEQ n]" (seen after the first
# APPEND into a mailbox created in the same run), and then interimap,
# ours as the Perl one, keeps the value it had; the next run finds the
# mailbox dirty, SELECTs it, finds nothing to do and writes the new
# value. Harmless (nothing is missed, only a SELECT more).
db_consistent() {
	"$T_PYTHON" - "$T_LIB" "$@" <<'EOF'
import calendar, hashlib, re, sqlite3, sys, time
sys.path.insert(0, sys.argv[1])
from imaptool import IMAP, quote
db = sqlite3.connect(sys.argv[2])
side = {"local": IMAP(sys.argv[3]), "remote": IMAP(sys.argv[4])}
bad, stale = [], []
def messages(imap, name):
    _, _, u = imap.cmd("EXAMINE %s" % quote(name))
    if not any(re.match(rb"\* [1-9]\d* EXISTS", l) for l, _ in u):
        return {}
    _, _, u = imap.cmd("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
    out = {}
    for line, lits in u:
        m = re.match(rb"\* \d+ FETCH .*\bUID (\d+)", line)
        if not m:
            continue
        body = lits[0] if lits else b""
        flags = " ".join(sorted(f for f in re.search(rb"\bFLAGS \(([^)]*)\)", line).group(1).decode().split()
                                if f.lower() != "\\recent"))
        t = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1).decode()
        tm = calendar.timegm(time.strptime(t[:-6].strip(), "%d-%b-%Y %H:%M:%S"))
        tm -= (int(t[-5:-2]) * 60 + int(t[-5] + t[-2:])) * 60
        out[int(m.group(1))] = (len(body), hashlib.md5(body).hexdigest(), tm, flags)
    return out
for idx, blob in db.execute("SELECT idx, mailbox FROM mailboxes ORDER BY mailbox"):
    name = bytes(blob).replace(b"\0", b"/").decode()
    msgs = {}
    for s in ("local", "remote"):
        row = db.execute("SELECT UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM %s WHERE idx = ?" % s, (idx,)).fetchone()
        _, _, u = side[s].cmd("STATUS %s (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)" % quote(name), check=False)
        st = None
        for line, _ in u:
            m = re.match(rb"\* STATUS .*\(([^()]*)\)\s*$", line)
            if m:
                toks = m.group(1).decode().split()
                st = dict(zip(toks[0::2], (int(x) for x in toks[1::2])))
        if st is None:
            bad.append("%s: %s: no such mailbox on the server" % (name, s))
            continue
        if row is None:
            bad.append("%s: %s: no state in the database" % (name, s))
            continue
        srv = (st["UIDVALIDITY"], st["UIDNEXT"], st["HIGHESTMODSEQ"])
        if tuple(row[:2]) != srv[:2] or row[2] > srv[2]:
            bad.append("%s: %s: database (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) = %s, server %s" % (name, s, tuple(row), srv))
        elif row[2] < srv[2]:
            stale.append("stale: %s: %s: HIGHESTMODSEQ %d in the database, %d on the server" % (name, s, row[2], srv[2]))
        msgs[s] = messages(side[s], name)
    if len(msgs) != 2:
        continue
    pairs = db.execute("SELECT lUID, rUID FROM mapping WHERE idx = ?", (idx,)).fetchall()
    lseen, rseen = set(), set()
    for l, r in pairs:
        lseen.add(l); rseen.add(r)
        a, b = msgs["local"].get(l), msgs["remote"].get(r)
        if a is None or b is None:
            bad.append("%s: pair (%d,%d): %s missing" % (name, l, r, "local" if a is None else "remote"))
        elif a != b:
            bad.append("%s: pair (%d,%d): %s != %s" % (name, l, r, a, b))
    for s, seen in (("local", lseen), ("remote", rseen)):
        extra = sorted(u for u, m in msgs[s].items() if u not in seen and m[0] > 0)
        if extra:
            bad.append("%s: %s UIDs in no pair: %s" % (name, s, extra[:20]))
for s in side.values():
    s.logout()
for b in stale + bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

# t_db_consistent NAME DB LOCAL-TUNNEL REMOTE-TUNNEL: ok when
# db_consistent finds no disagreement, the first ones the reason if it
# does; its lines (the "stale: " ones too) stay in $T/consistent.
t_db_consistent() {
	if db_consistent "$2" "$3" "$4" >"$T/consistent" 2>&1; then
		t_ok "$1"
	else
		t_fail "$1" "$(grep -v '^stale: ' "$T/consistent" | head -n 5)"
		return 1
	fi
}

# exit_class STATUS: 0, 1, or X for any other (a signal, a timeout, the
# Perl program's die with 255 or an errno): the classes two programs'
# statuses are compared by.
exit_class() { case "$1" in 0) echo 0;; 1) echo 1;; *) echo X;; esac; }

# tunnel_conf FILE DB LOCAL-COMMAND REMOTE-COMMAND [LINE...]: FILE, a
# configuration with database DB and both sides reached through tunnel
# commands; the LINEs go to the default section, $LOCAL_EXTRA and
# $REMOTE_EXTRA (lines) to [local] and [remote].
tunnel_conf() {
	local f=$1 db=$2 lt=$3 rt=$4
	shift 4
	{
		echo "database = $db"
		[ $# = 0 ] || printf '%s\n' "$@"
		printf '[local]\ntype = tunnel\ncommand = %s\n' "$lt"
		[ -z "${LOCAL_EXTRA:-}" ] || printf '%s\n' "$LOCAL_EXTRA"
		printf '[remote]\ntype = tunnel\ncommand = %s\n' "$rt"
		[ -z "${REMOTE_EXTRA:-}" ] || printf '%s\n' "$REMOTE_EXTRA"
	} >"$f"
}

# hang_tunnel SCRIPT DIR: SCRIPT, a tunnel command whose server never
# greets (it reads its input to the end), and DIR, created, where each
# start of it leaves a file: an interimap holds its database while it
# waits there, and the files count its connections.
hang_tunnel() {
	mkdir "$2" || return 1
	cat >"$1" <<HANG
#!/bin/sh
# a server that never greets; one marker per start
touch "$2/\$\$"
exec cat >/dev/null
HANG
	chmod +x "$1"
}

# maildir_zero_message MAILDIR: an empty file in the maildir's INBOX, a
# 0-length message (Dovecot takes it, its APPEND would not), with the
# same INTERNALDATE (the file's mtime) in every maildir.
maildir_zero_message() {
	local f="$1/cur/1500000000.M1P1.zero,S=0,W=0:2,S"
	: >"$f"
	touch -d @1500000000 "$f"
	if t_is_root; then chown nobody:nogroup "$f"; fi
}

# twins_init: the twin pairs, four throw-away Dovecots (preauthenticated
# tunnels): pair 1 for the program under test, its tunnels in L1 and R1,
# its local Dovecot's directory in L1DIR; pair 2 for the Perl interimap,
# L2, R2, L2DIR. Each remote offers neither MULTIAPPEND nor LITERAL+ (one
# APPEND per message, waiting for "+"), each local both (MULTIAPPEND
# batches). Writes $T/ours.conf (pair 1, database $T/ours.db) and
# $T/perl.conf (pair 2, $T/perl.db), and defines l1, l2, r1, r2 ARGS...
# (imaptool ARGS on one server) and lb, rb ARGS... (on the local, the
# remote server of both pairs). Status 1 if a Dovecot did not come up.
# shellcheck disable=SC2034,SC2317 # (the caller's variables and functions)
twins_init() {
	local ok=0
	dovecot_init "$T/l1" >/dev/null || ok=1
	L1=$DOVECOT_TUNNEL L1DIR=$DOVECOT_DIR
	dovecot_init "$T/l2" >/dev/null || ok=1
	L2=$DOVECOT_TUNNEL L2DIR=$DOVECOT_DIR
	DOVECOT_EXTRA_CONF="imap_capability = IMAP4rev1 ENABLE UNSELECT UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS NAMESPACE CHILDREN ID IDLE"
	dovecot_init "$T/r1" >/dev/null || ok=1
	R1=$DOVECOT_TUNNEL
	dovecot_init "$T/r2" >/dev/null || ok=1
	R2=$DOVECOT_TUNNEL
	unset DOVECOT_EXTRA_CONF
	tunnel_conf "$T/ours.conf" "$T/ours.db" "$L1" "$R1"
	tunnel_conf "$T/perl.conf" "$T/perl.db" "$L2" "$R2"
	l1() { IMAP_TUNNEL=$L1 imap_tool "$@"; }
	l2() { IMAP_TUNNEL=$L2 imap_tool "$@"; }
	r1() { IMAP_TUNNEL=$R1 imap_tool "$@"; }
	r2() { IMAP_TUNNEL=$R2 imap_tool "$@"; }
	lb() { l1 "$@" && l2 "$@"; }
	rb() { r1 "$@" && r2 "$@"; }
	return $ok
}

# twin_run NAME [ARGS...]: the caller's `ours ARGS...` (a run on pair 1,
# its stderr in $T/ours.err) and `perl ARGS...` (the Perl interimap on
# pair 2, $T/perl.err), compared (twin_compare); their statuses in
# OURS_RC and PERL_RC.
twin_run() {
	local name=$1
	shift
	ours "$@"
	OURS_RC=$?
	perl "$@"
	PERL_RC=$?
	twin_compare "$name" "$OURS_RC" "$PERL_RC"
}

# twin_compare NAME OURS-STATUS PERL-STATUS: after a run of each, their
# stderr in $T/ours.err and $T/perl.err, their databases $T/ours.db and
# $T/perl.db: the same exit status, the same log lines (ilog_lines
# --mask), the same tables (db_dump), and the same servers: the caller's
# function twin_servers PAIR (1: ours, 2: the Perl program's) prints
# what they hold. The logs are kept as $T/ours-NAME.err and
# $T/perl-NAME.err; the sorted lines stay in $T/ours.lines and
# $T/perl.lines until the next call.
twin_compare() {
	t_eq "$1: exit status as the Perl interimap's" "$2" "$3"
	ilog_lines --mask "$T/ours.err" >"$T/ours.lines"
	ilog_lines --mask "$T/perl.err" >"$T/perl.lines"
	twin__same "$1" "log lines" lines
	db_dump "$T/ours.db" >"$T/ours.dump"
	db_dump "$T/perl.db" >"$T/perl.dump"
	twin__same "$1" "database (mapping, UIDNEXT, HIGHESTMODSEQ)" dump
	twin_servers 1 >"$T/ours.servers"
	twin_servers 2 >"$T/perl.servers"
	twin__same "$1" servers servers
	cp "$T/ours.err" "$T/ours-$1.err"
	cp "$T/perl.err" "$T/perl-$1.err"
}
# twin__same NAME WHAT EXT: $T/ours.EXT as $T/perl.EXT, the difference
# shown if not.
twin__same() {
	t_same_file "$1: the Perl interimap's $2" "$T/ours.$3" "$T/perl.$3" ||
		diff "$T/ours.$3" "$T/perl.$3" | sed 's/^/#   /' >&2
}

# twin_same_mail NAME MAILBOX...: pair 1's two sides hold the same
# messages (bytes, INTERNALDATE, flags; UIDs aside) in each MAILBOX, but
# the 0-length ones, which are never copied.
twin_same_mail() {
	local n=$1 m
	shift
	for m; do
		mail_digest "$L1" "$m" | cut -f2- | grep -v '^[0-9a-f]* 0 ' >"$T/dl"
		mail_digest "$R1" "$m" | cut -f2- | grep -v '^[0-9a-f]* 0 ' >"$T/dr"
		t_same_file "$n: $m: the same messages (bytes, INTERNALDATE, flags) on both sides" "$T/dl" "$T/dr"
	done
}

# pair_setup X: a local Dovecot $T/Xl reached through its tunnel (the
# command in XL, for the tests' own commands too) and a remote one
# $T/Xr, its master started, reached over IMAPS as the destination user
# (XR: its tunnel as that user, for the tests' commands); $T/X.conf with
# database $T/X.db. $PAIR_LOCAL_DOVECOT, $PAIR_REMOTE_DOVECOT: configuration
# lines for the local, the remote Dovecot (e.g. imap_capability).
pair_setup() {
	local x=$1 lt
	DOVECOT_EXTRA_CONF=${PAIR_LOCAL_DOVECOT:-} dovecot_init "$T/${x}l" >/dev/null || return 1
	lt=$DOVECOT_TUNNEL
	printf -v "${x}L" '%s' "$lt"
	DOVECOT_EXTRA_CONF=${PAIR_REMOTE_DOVECOT:-} dovecot_init "$T/${x}r" >/dev/null && dovecot_start || return 1
	printf -v "${x}R" '%s' "$DOVECOT_TUNNEL $DOVECOT_DEST_USER"
	cat >"$T/$x.conf" <<EOF
database = $T/$x.db
[local]
type = tunnel
command = $lt
[remote]
type = imaps
host = $DOVECOT_HOST
port = $DOVECOT_IMAPS_PORT
username = $DOVECOT_DEST_USER
password = $DOVECOT_DEST_PASS
SSL_CAfile = $DOVECOT_CA
EOF
	# (ours would warn about a password in a file others can read)
	chmod 600 "$T/$x.conf"
}

# imap_script TUNNEL: the imaptool script on stdin ("|" between the
# arguments, see imaptool.py script) run on the server behind TUNNEL.
imap_script() { sed 's/ *| */\t/g' | IMAP_TUNNEL=$1 imap_tool script >/dev/null; }

# pair_apply SIDE "X Y...": the imaptool script on stdin (as imap_script)
# run on the SIDE (l or r) server of each of the pairs.
pair_apply() {
	local side=$1 x tun
	cat >"$T/script"
	for x in $2; do
		tun=$x$(printf '%s' "$side" | tr lr LR)
		imap_script "${!tun}" <"$T/script" || return 1
	done
}

# pair_run WHO X NAME [ARGS...]: ours ($INTERIMAP) or perl
# ($INTERIMAP_PERL) on pair X's configuration; stdout in $T/NAME.out,
# stderr in $T/NAME.err, status returned.
pair_run() {
	local who=$1 x=$2 n=$3 bin=$INTERIMAP
	shift 3
	[ "$who" = perl ] && bin=$INTERIMAP_PERL
	timeout 120 "$bin" --config="$T/$x.conf" "$@" >"$T/$n.out" 2>"$T/$n.err"
}

# pair_start WHO X NAME [ARGS...]: the same in the background (e.g.
# --watch), its pid in PID_X; stopped when the test ends.
pair_start() {
	local who=$1 x=$2 n=$3 bin=$INTERIMAP
	shift 3
	[ "$who" = perl ] && bin=$INTERIMAP_PERL
	"$bin" --config="$T/$x.conf" "$@" >"$T/$n.out" 2>"$T/$n.err" &
	printf -v "PID_$x" '%s' "$!"
	t_cleanup_add "t_kill_pid $!"
}

# pair_stop X SIGNAL: SIGNAL to pair_start's process on X, then its end
# waited for (at most 15 s): STOPPED is its exit status, or "running".
pair_stop() {
	local pid=PID_$1 i
	kill -"$2" "${!pid}" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		pair_ended "$1" && break
		sleep 0.05
	done
	if ! pair_ended "$1"; then
		STOPPED=running
		return
	fi
	wait "${!pid}"
	STOPPED=$?
}

# pair_ended X: pair_start's process on X is gone (or a zombie).
pair_ended() {
	local pid=PID_$1
	! kill -0 "${!pid}" 2>/dev/null || [ "$(ps -o stat= -p "${!pid}" 2>/dev/null | cut -c1)" = Z ]
}

# killrelay_pair: a local Dovecot $T/l (LT: its tunnel) and a remote one
# $T/r (RT: its tunnel as the destination user), both reached through
# t/lib/killrelay.py (relay directory R=$T/relay, created), without
# COMPRESS (the relays read the protocol); $T/X.conf with database
# $T/X.db. Skips the test when a tunnel command holds a shell
# metacharacter: the relays must be the client's own children.
killrelay_pair() {
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
		t_skip_all "a shell metacharacter in the tunnel commands" ;;
	esac
}

# relay_front X [DELAY_MS]: t/lib/tcprelay.py in front of pair X's
# remote server (X.conf's port rewritten), each chunk DELAY_MS later each
# way when given; its pid in RELAY_PID (stopped, even if frozen, when the
# test ends). Status 1 if it does not listen.
relay_front() {
	local port up
	port=$(free_port) || return 1
	up=$(sed -n 's/^port = //p' "$T/$1.conf")
	"$T_PYTHON" "$T_LIB/tcprelay.py" "$port" "$up" ${2:+"$2"} &
	RELAY_PID=$!
	t_cleanup_add "kill -CONT $RELAY_PID; t_kill_pid $RELAY_PID"
	wait_port 127.0.0.1 "$port" 10 || return 1
	sed -i "s/^port = .*/port = $port/" "$T/$1.conf"
}

# ahead_started NAME: "STARTED GIVEN_BACK" from the first round's report
# of the test knob INTERIMAP_AHEAD (main.c) in $T/NAME.err; nothing
# without one.
ahead_started() {
	sed -nE 's/^interimap: test: ([0-9]+) mailbox\(es\) started ahead, ([0-9]+) given back$/\1 \2/p' "$T/$1.err"
}

# killrelay_keep: killrelay_pair's servers, as they are, kept as the
# template killrelay_reset restores ($T/l.home, $T/r.home).
killrelay_keep() { cp -a "$T/l/home" "$T/l.home" && cp -a "$T/r/home" "$T/r.home"; }

# killrelay_reset: a fresh setup: the template's servers, no database.
killrelay_reset() {
	rm -rf "$T/l/home" "$T/r/home" "$T/X.db" "$T/X.db-journal" "$T/X.db-wal" &&
		cp -a "$T/l.home" "$T/l/home" && cp -a "$T/r.home" "$T/r/home"
}

# killrelay_run WHO NAME [SECS [ARGS...]]: WHO (ours, perl) on
# killrelay_pair's setup with ARGS, killed at the point in $R/plan
# (killrelay.py's "CHANNEL DIR KIND K"; none when empty), at most SECS
# (default 120) seconds; stdout and
# stderr in $T/NAME.out and .err, the status in RC, the relay's record
# in KILLED (empty when it killed nothing) and its counts of the run in
# $R/counts.local and .remote. Returns once both relays (and their
# servers) are done.
# shellcheck disable=SC2034 # RC and KILLED: the caller's
killrelay_run() {
	local bin=$INTERIMAP
	[ "$1" = perl ] && bin=$INTERIMAP_PERL
	rm -f "$R/killed" "$R/counts.local" "$R/counts.remote"
	# (bash's "Killed" aside)
	{ timeout "${3:-120}" "$bin" --config="$T/X.conf" "${@:4}" >"$T/$2.out" 2>"$T/$2.err"; } 2>/dev/null
	RC=$?
	{ flock -w 60 "$R/lock.local" true && flock -w 60 "$R/lock.remote" true; } ||
		t_fail "$2: the relays end"
	KILLED=$(cat "$R/killed" 2>/dev/null)
}
