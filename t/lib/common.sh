# shellcheck shell=bash
# t/lib/common.sh - helpers for the end-to-end tests (sourced, bash only).
#
#   . "$TOP/t/lib/common.sh"
#   t_init mytest                 # private temp dir in $T, cleanup on exit
#   t_check "runs" "$PULLIMAP" --config="$T/conf" demo
#   t_eq "count" "$(imap_count INBOX)" 3
#   t_done                        # exits 0 if nothing failed, 1 otherwise
#
# Output follows t/run's protocol: "ok NAME", "not ok NAME: reason",
# "skip NAME: reason".  Diagnostics go to stderr (t/run keeps them in the
# test's log).
#
# Environment:
#   TOP       repo top (set by t/run; derived from this file's location otherwise)
#   PULLIMAP  binary under test (set by t/run; default $TOP/build-san/bin/pullimap)
#   INTERIMAP the same for interimap (default $TOP/build-san/bin/interimap)
#   T_KEEP=1  keep the temp dir after the test (its path is printed)
#   T_VERBOSE=1  echo commands run by t_check/t_run and their output
#   T_SERVER_MAX  upper bound in seconds for any server a test starts (1800)

if [ -z "${BASH_VERSION:-}" ]; then
	echo "t/lib/common.sh needs bash" >&2
	# shellcheck disable=SC2317
	return 1 2>/dev/null || exit 1
fi

if [ -z "${TOP:-}" ]; then
	TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
export TOP
export PULLIMAP="${PULLIMAP:-$TOP/build-san/bin/pullimap}"
export INTERIMAP="${INTERIMAP:-$TOP/build-san/bin/interimap}"
T_LIB="$TOP/t/lib"
T_SERVER_MAX="${T_SERVER_MAX:-1800}"

# The system python (faster to start than a pyenv shim); stdlib only.
T_PYTHON="${T_PYTHON:-$(if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi)}"

T_NAME=""
T=""
T_PASS=0
T_FAIL=0
T_SKIP=0
T_CLEANUP=()

# t_is_root: true when running as uid 0.
t_is_root() { [ "$(id -u)" = 0 ]; }

# t_log MSG...: diagnostic on stderr.
t_log() { printf '# %s\n' "$*" >&2; }

# t_init NAME: create the private temp dir $T and install the exit/signal traps.
t_init() {
	T_NAME="${1:-$(basename "$0" .sh)}"
	local short base
	short=$(printf '%s' "$T_NAME" | tr -c 'A-Za-z0-9_.-' '_' | cut -c1-16)
	base="${TMPDIR:-/tmp}"
	# Unix socket paths are limited to 107 bytes: keep $T short.
	if [ "${#base}" -gt 40 ]; then base=/tmp; fi
	T=$(mktemp -d "$base/pt.$short.XXXXXX") || { echo "not ok $T_NAME: mktemp failed"; exit 1; }
	# Mail processes run as nobody when we are root: they must reach into $T.
	chmod 755 "$T"
	if t_is_root && ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$T" 2>/dev/null; then
		rmdir "$T"
		T=$(mktemp -d "/tmp/pt.$short.XXXXXX") || exit 1
		chmod 755 "$T"
	fi
	export T
	T_START=$EPOCHREALTIME
	trap 't__exit' EXIT
	trap 't__signal 129' HUP
	trap 't__signal 130' INT
	trap 't__signal 143' TERM
	trap 't__signal 141' PIPE
}

# t_elapsed: "N ms", the time since t_init (for the log).
t_elapsed() { echo "$(( (${EPOCHREALTIME/[.,]/} - ${T_START/[.,]/}) / 1000 )) ms"; }

t__signal() {
	# ignore further signals (a SIGPIPE from the log line itself included)
	trap '' HUP INT TERM PIPE
	t_log "caught signal, exiting ($1)" 2>/dev/null
	exit "$1"
}

# t_cleanup_add CMD: run CMD (a string, eval'ed) when the test exits.
# Commands run in reverse order of registration.
t_cleanup_add() { T_CLEANUP+=("$1"); }

t__exit() {
	local rc=$? i
	# No second round of traps; a closed stdout/stderr must not kill the
	# cleanup (SIGPIPE ignored: writes just fail).
	trap - EXIT
	trap '' HUP INT TERM PIPE
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[$i]}" || true
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$T_FAIL" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
			t__dump_logs
		fi
		if [ "${T_KEEP:-0}" = 1 ]; then
			t_log "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# On failure, show the tails of the server logs to help debugging.
t__dump_logs() {
	local f
	for f in "$T"/*/*.log "$T"/*.log "$T"/*/maillog; do
		[ -s "$f" ] || continue
		echo "# ---- tail of $f" >&2
		tail -n 25 "$f" | sed 's/^/#   /' >&2
	done
}

# t_ok NAME / t_fail NAME [REASON] / t_skip NAME [REASON]
t_ok() { echo "ok $1"; T_PASS=$((T_PASS + 1)); }
t_fail() {
	local reason="${2:-failed}"
	echo "not ok $1: $(printf '%s' "$reason" | tr '\n' ' ' | cut -c1-400)"
	T_FAIL=$((T_FAIL + 1))
}
t_skip() { echo "skip $1: ${2:-skipped}"; T_SKIP=$((T_SKIP + 1)); }

# t_check NAME CMD [ARGS...]: ok when CMD exits 0. CMD's output goes to
# $T/last.out / $T/last.err (and stderr when T_VERBOSE=1).
t_check() {
	local name="$1" rc
	shift
	t_run "$@"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_ok "$name"
	else
		t_fail "$name" "'$*' exited $rc: $(tail -n 3 "$T/last.err" 2>/dev/null)"
	fi
	return "$rc"
}

# t_check_fails NAME CMD [ARGS...]: ok when CMD exits non-zero.
t_check_fails() {
	local name="$1" rc
	shift
	t_run "$@"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		t_ok "$name"
		return 0
	fi
	t_fail "$name" "'$*' unexpectedly succeeded"
	return 1
}

# t_run CMD [ARGS...]: run CMD, stdout to $T/last.out, stderr to $T/last.err;
# returns its status.
t_run() {
	local rc
	[ "${T_VERBOSE:-0}" = 1 ] && t_log "run: $*"
	"$@" >"$T/last.out" 2>"$T/last.err"
	rc=$?
	if [ "${T_VERBOSE:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
		sed 's/^/#   out: /' "$T/last.out" | tail -n 20 >&2
		sed 's/^/#   err: /' "$T/last.err" | tail -n 20 >&2
	fi
	return "$rc"
}

# t_eq NAME GOT WANT
t_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1" "got '$2', want '$3'"
		return 1
	fi
}

# t_ne NAME GOT UNWANTED
t_ne() {
	if [ "$2" != "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1" "got '$2', expected something else"
		return 1
	fi
}

# t_match NAME STRING ERE   (grep -E semantics)
t_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		t_ok "$1"
	else
		t_fail "$1" "'$(printf '%s' "$2" | head -c 200)' does not match /$3/"
		return 1
	fi
}

# t_grep NAME ERE FILE: ok when some line of FILE matches.
t_grep() {
	if grep -Eq -- "$2" "$3" 2>/dev/null; then
		t_ok "$1"
	else
		t_fail "$1" "no line of $3 matches /$2/"
		return 1
	fi
}

# t_no_grep NAME ERE FILE: ok when no line of FILE matches (the first one
# that does is shown otherwise).
t_no_grep() {
	local hit
	if hit=$(grep -Em1 -- "$2" "$3" 2>/dev/null); then
		t_fail "$1" "$3 has: $hit"
		return 1
	fi
	t_ok "$1"
}

# t_same_file NAME FILE1 FILE2: byte-identical files.
t_same_file() {
	if cmp -s "$2" "$3"; then
		t_ok "$1"
	else
		t_fail "$1" "$2 and $3 differ ($(cmp "$2" "$3" 2>&1 | head -n 1))"
		return 1
	fi
}

# t_section NAME [LINE...]: append section NAME to $T/config, with the
# lines of $T_CONF_COMMON, a statefile of its own ($T/state-NAME.db) and
# the given KEY = VALUE lines.
t_section() {
	local name="$1"
	shift
	{
		echo "[$name]"
		echo "${T_CONF_COMMON:-}"
		echo "statefile = $T/state-$name.db"
		printf '%s\n' "$@"
	} >>"$T/config"
}

# t_fails NAME STATUS ERE CMD...: CMD exits with STATUS and says one line
# on stderr, matching ERE (output in $T/last.out, $T/last.err).
t_fails() {
	local name="$1" want="$2" re="$3" rc
	shift 3
	t_run "$@"
	rc=$?
	t_eq "$name: exit status" "$rc" "$want"
	t_grep "$name: message" "$re" "$T/last.err"
	t_eq "$name: one line on stderr" "$(wc -l <"$T/last.err")" 1
}

# t_done: print a summary on stderr and exit (1 if any failure, 0 otherwise;
# 77 if everything was skipped).
t_done() {
	t_log "$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	if [ "$T_FAIL" -gt 0 ]; then exit 1; fi
	if [ "$T_PASS" -eq 0 ] && [ "$T_SKIP" -gt 0 ]; then exit 77; fi
	exit 0
}

# t_skip_all REASON: skip the whole test (exit 77).
t_skip_all() {
	echo "skip ${T_NAME:-$(basename "$0")}: $1"
	T_SKIP=$((T_SKIP + 1))
	exit 77
}

# t_need_pullimap: skip the test when $PULLIMAP is not an executable.
t_need_pullimap() {
	if [ ! -f "$PULLIMAP" ] || [ ! -x "$PULLIMAP" ]; then
		t_skip_all "no pullimap binary at $PULLIMAP"
	fi
}

# t_need_interimap: skip the test when $INTERIMAP is not an executable.
t_need_interimap() {
	if [ ! -f "$INTERIMAP" ] || [ ! -x "$INTERIMAP" ]; then
		t_skip_all "no interimap binary at $INTERIMAP"
	fi
}

# free_port [N]: print N (default 1) free TCP ports on 127.0.0.1, one per
# line, below the ephemeral range (so outgoing connections cannot take them)
# and distinct from every port this test got before (kept in $T/.ports).
# Racy in theory against other parallel tests: server starters retry with
# new ports when a bind fails.
free_port() {
	"$T_PYTHON" - "${1:-1}" "${T:+$T/.ports}" <<'EOF' || { t_log "free_port: no free port found"; return 1; }
import random, socket, sys
want, reg = int(sys.argv[1]), sys.argv[2]
try:
    used = set(int(x) for x in open(reg).read().split()) if reg else set()
except OSError:
    used = set()
try:
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
except Exception:
    lo, hi = 32768, 60999
if lo > 12000:
    a, b = 10000, lo - 1
elif hi < 63000:
    a, b = hi + 1, 65535
else:
    a = b = 0  # no room outside the ephemeral range: let the kernel choose
rnd = random.SystemRandom()
got = []
for _ in range(500):
    if len(got) == want:
        break
    port = rnd.randint(a, b) if b else 0
    if port in used:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        port = s.getsockname()[1]
    except OSError:
        continue
    finally:
        s.close()
    if port not in used:
        used.add(port)
        got.append(port)
if len(got) < want:
    sys.exit(1)
if reg:
    with open(reg, "a") as f:
        f.write("".join("%d\n" % p for p in got))
print("\n".join(str(p) for p in got))
EOF
}

# wait_port HOST PORT [TIMEOUT]: wait (default 10 s) until a TCP connect to
# HOST:PORT succeeds (HOST: a loopback address).
wait_port() {
	local host="$1" port="$2" timeout="${3:-10}" i n
	n=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 20 }')
	for ((i = 0; i <= n; i++)); do
		# (loopback only: a connect answers at once)
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	t_log "wait_port: $host:$port not answering after ${timeout}s"
	return 1
}

# read_banner HOST PORT [TIMEOUT]: connect, print the server's first line
# (CR removed), wait at most TIMEOUT seconds (default 5) for it.
read_banner() {
	local host="$1" port="$2" timeout="${3:-5}" line
	# shellcheck disable=SC2016 # $0, $1 and $l expand in the inner shell
	line=$(timeout "$timeout" bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r l <&3 && printf "%s" "$l"' \
		"$host" "$port" 2>/dev/null) || return 1
	printf '%s\n' "${line%$'\r'}"
}

# socks_start VAR [MICROSOCKS-OPTION...]: a SOCKSv5 proxy (microsocks) on
# a free loopback port, stopped when the test exits; its port in VAR, its
# log (a line "client[N] ADDR: connected to HOST:PORT" per connection it
# carried) in $T/socks-PORT.log. Status 1 if it does not start (or
# microsocks is not installed).
socks_start() {
	local var="$1" port
	shift
	command -v microsocks >/dev/null || return 1
	port=$(free_port) || return 1
	microsocks -i 127.0.0.1 -p "$port" "$@" >"$T/socks-$port.log" 2>&1 &
	t_cleanup_add "t_kill_pid $!"
	wait_port 127.0.0.1 "$port" 10 || return 1
	printf -v "$var" '%s' "$port"
}

# wait_file PATH [TIMEOUT]: wait (default 10 s) until PATH exists.
wait_file() {
	local path="$1" timeout="${2:-10}" i n
	n=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 20 }')
	for ((i = 0; i <= n; i++)); do
		[ -e "$path" ] && return 0
		sleep 0.05
	done
	t_log "wait_file: $path missing after ${timeout}s"
	return 1
}

# wait_until TIMEOUT CMD [ARGS...]: wait until CMD succeeds (polled every
# 50 ms), at most TIMEOUT seconds of wall time however long CMD takes.
wait_until() {
	local timeout="$1" deadline
	shift
	deadline=$(awk -v n="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { printf "%.3f", n + t }')
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		awk -v n="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(n >= d) }' && return 1
		sleep 0.05
	done
}

# t_within NAME TIMEOUT CMD [ARGS...]: ok when CMD succeeds within TIMEOUT
# seconds (wait_until).
t_within() {
	local name=$1 timeout=$2
	shift 2
	if wait_until "$timeout" "$@"; then
		t_ok "$name"
	else
		t_fail "$name" "not within $timeout s: $*"
		return 1
	fi
}

# t_kill_pid PID [GRACE]: SIGTERM PID, wait up to GRACE seconds (default 5)
# for it to go, then SIGKILL.  Only ever signals the given PID.
t_kill_pid() {
	local pid="$1" grace="${2:-5}" i n
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	n=$((grace * 20))
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# reap it if it is our child (a zombie still answers kill -0)
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then break; fi
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; then
		t_log "pid $pid still alive after ${grace}s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# t_as_mailuser CMD [ARGS...]: run CMD as the unprivileged mail user
# (nobody:nogroup when root, ourselves otherwise).
t_as_mailuser() {
	if t_is_root; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		"$@"
	fi
}

# sink ARGS...: (re)start the scriptable SMTP/LMTP sink (t/lib/sink.py, see
# its --help) on a free TCP port, in $SINK_PORT; the messages it accepts go
# to $T/sink (emptied), its transcript to $T/sink.log. Stopped by sink_stop
# and when the test exits.
SINK_PID=
sink() {
	sink_stop
	rm -rf "$T/sink" "$T/sink.port" "$T/sink.log"
	mkdir -p "$T/sink"
	"$T_PYTHON" "$T_LIB/sink.py" --port-file "$T/sink.port" --dir "$T/sink" \
		--log "$T/sink.log" --lifetime 120 "$@" >/dev/null 2>&1 &
	SINK_PID=$!
	[ -n "${T_SINK_CLEANUP:-}" ] || { t_cleanup_add sink_stop; T_SINK_CLEANUP=1; }
	wait_file "$T/sink.port" 10 || t_fail "sink starts"
	SINK_PORT=$(cat "$T/sink.port")
}
sink_stop() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	SINK_PID=
}

# lmtp_sink_unix SOCKET DIR [ARGS...]: start a sink speaking LMTP on the Unix
# socket SOCKET, messages in DIR, for the rest of the test (600 s at most).
lmtp_sink_unix() {
	local sock="$1" dir="$2"
	shift 2
	mkdir -p "$dir"
	"$T_PYTHON" "$T_LIB/sink.py" --unix "$sock" --lmtp --dir "$dir" \
		--log "$sock.log" --lifetime 600 "$@" >/dev/null 2>&1 &
	t_cleanup_add "t_kill_pid $!"
	wait_file "$sock" 10
}

# fk ARGS...: run the scripted IMAP server's tool (t/lib/fakeimap.py: init,
# add, set, show, expunge; "serve STORE" is the tunnel command).
fk() { "$T_PYTHON" "$T_LIB/fakeimap.py" "$@"; }

# eml_count DIR / eml_distinct DIR: the messages a sink wrote to DIR, and
# how many of them differ (by content): equal when nothing came twice.
eml_count() { find "$1" -name '*.eml' | wc -l | tr -d ' '; }
eml_distinct() { find "$1" -name '*.eml' -exec md5sum {} + | awk '{print $1}' | sort -u | wc -l | tr -d ' '; }

# genmail ARGS...: run t/lib/genmail.py (see its --help).
genmail() { "$T_PYTHON" "$T_LIB/genmail.py" "$@"; }

# maildir_messages DIR: list the message files of maildir DIR (new/ and
# cur/), oldest delivery first, one absolute path per line.
maildir_messages() {
	local d="$1"
	[ -d "$d" ] || return 0
	find "$d/new" "$d/cur" -maxdepth 1 -type f 2>/dev/null |
		awk -F/ '{ n = $NF; split(n, a, "."); us = 0
			if (match(a[2], /^M[0-9]+/)) us = substr(a[2], 2, RLENGTH - 1)
			printf "%d %d %s\t%s\n", a[1], us, n, $0 }' |
		sort -k1,1n -k2,2n -k3,3 | cut -f2-
}

# maildir_count DIR: number of messages in maildir DIR.
maildir_count() { maildir_messages "$1" | wc -l | tr -d ' '; }

# The message comparisons below remove the leading trace header fields an
# MTA/LDA prepends (Return-Path:, Delivered-To:, Received:, X-Original-To:)
# from both sides, use CRLF line endings on both sides (maildirs store LF)
# and add the final CRLF that SMTP/LMTP delivery adds when the original
# lacks it.
T_MSG_PY='
import re, sys
SKIP = (b"return-path:", b"received:", b"delivered-to:", b"x-original-to:")
def strip_trace(m):
    pos = 0
    while pos < len(m):
        eol = m.find(b"\n", pos)
        if eol < 0 or not m[pos:eol].lower().startswith(SKIP):
            break
        pos = eol + 1
        while pos < len(m) and m[pos:pos + 1] in (b" ", b"\t"):
            eol = m.find(b"\n", pos)
            pos = len(m) if eol < 0 else eol + 1
    return m[pos:]
def norm(m):
    m = re.sub(rb"\r?\n", b"\r\n", m)
    if m and not m.endswith(b"\r\n"):
        m += b"\r\n"
    return m
def orig(path):
    return norm(strip_trace(open(path, "rb").read()))
def delivered(path):
    return norm(strip_trace(open(path, "rb").read()))
'

# same_message ORIGINAL DELIVERED: true when DELIVERED (e.g. a maildir file)
# is ORIGINAL (see above).  Shows the first difference on stderr.
same_message() {
	"$T_PYTHON" -c "$T_MSG_PY"'
a, b = orig(sys.argv[1]), delivered(sys.argv[2])
if a == b:
    sys.exit(0)
n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
sys.stderr.write("# messages differ at byte %d (sizes %d/%d): %r vs %r\n"
                 % (n, len(a), len(b), a[max(0, n - 20):n + 40], b[max(0, n - 20):n + 40]))
sys.exit(1)
' "$1" "$2"
}

# t_same_message NAME ORIGINAL DELIVERED: ok/not ok for same_message.
t_same_message() {
	if same_message "$2" "$3" 2>"$T/same_message.err"; then
		t_ok "$1"
	else
		t_fail "$1" "$(cat "$T/same_message.err")"
		return 1
	fi
}

# delivered_set_equal MAILDIR ORIGINAL...: true when the messages in MAILDIR
# are exactly the ORIGINAL files (compared as above), in any order (an MTA
# like Postfix delivers in parallel), each exactly once.  Details on stderr.
delivered_set_equal() {
	local md="$1"
	shift
	maildir_messages "$md" >"$T/.delivered.list"
	"$T_PYTHON" -c "$T_MSG_PY"'
from collections import Counter
dl = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
want = Counter()
names = {}
for f in sys.argv[2:]:
    m = orig(f)
    want[m] += 1
    names.setdefault(m, f)
got = Counter(delivered(f) for f in dl)
missing = want - got
extra = got - want
if not missing and not extra:
    sys.exit(0)
sys.stderr.write("# %d delivered, %d expected; missing: %s; unexpected: %d (%s)\n" % (
    len(dl), len(sys.argv) - 2,
    " ".join(sorted(names[m].rsplit("/", 1)[-1] + ("x%d" % c if c > 1 else "") for m, c in missing.items())) or "none",
    sum(extra.values()), "; ".join(repr(m[:60]) for m in list(extra)[:3])))
sys.exit(1)
' "$T/.delivered.list" "$@"
}

# t_delivered_set NAME MAILDIR ORIGINAL...: ok/not ok for delivered_set_equal.
t_delivered_set() {
	local name="$1"
	shift
	if delivered_set_equal "$@" 2>"$T/same_message.err"; then
		t_ok "$name"
	else
		t_fail "$name" "$(cat "$T/same_message.err")"
		return 1
	fi
}

# strip_trace_headers FILE: print FILE without the leading trace header
# fields (as above; line endings untouched).
strip_trace_headers() {
	"$T_PYTHON" -c "$T_MSG_PY"'
sys.stdout.buffer.write(strip_trace(open(sys.argv[1], "rb").read()))
' "$1"
}
