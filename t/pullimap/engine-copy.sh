#!/bin/bash
# engine-copy: the two-connection proof behind interimap. t/tools/imapcopy
# copies a mailbox from Dovecot A to Dovecot B with one FETCH on A and one
# MULTIAPPEND on B in flight at once, B's literals streamed from A's
# (common/imapc.h). Checked: B ends up with every message byte for byte,
# with its flags (but \Recent) and INTERNALDATE; a 50 MB message costs no
# memory (peak RSS with and without it within 4 MiB); failures are one
# line and a non-zero status.
#
# The copy whose result is checked byte for byte runs under the
# sanitizers (build-san/t/imapcopy). Peak RSS is compared on both builds:
# ASan adds some 10 MB of its own (shadow memory, allocator), the same with
# or without the big message, since nothing is allocated per message; the
# plain build (build/t/imapcopy) gives the figure a user would see.
# shellcheck disable=SC2016 # '\Seen $Work' and the like: flags, not expansions
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"

t_init engine-copy
dovecot_available || t_skip_all "dovecot not installed"
SAN="$TOP/build-san/t/imapcopy"
PLAIN="$TOP/build/t/imapcopy"
for b in "$SAN" "$PLAIN"; do
	[ -x "$b" ] || t_skip_all "no $b (make all units)"
done

if ! { dovecot_init "$T/a" && dovecot_start; }; then
	t_fail "server A starts"
	t_done
fi
A_PORT=$DOVECOT_IMAP_PORT A_TUNNEL=$DOVECOT_TUNNEL
if ! { dovecot_init "$T/b" && dovecot_start; }; then
	t_fail "server B starts"
	t_done
fi
B_PORT=$DOVECOT_IMAP_PORT B_TUNNEL=$DOVECOT_TUNNEL
t_ne "two servers on two ports" "$A_PORT" "$B_PORT"

# 499 messages of realistic sizes (a few MB at most; most under the
# parser's 64 KiB inline limit, the others streamed) and one of 50 MB in
# the middle, in groups with their own flags and INTERNALDATE.
genmail --count 499 --out "$T/mail" --big-mb 50 --seed engine-copy ||
	{ t_fail "genmail"; t_done; }
flags=('' '\Seen' '\Flagged' '\Seen \Flagged' '$Work' '\Seen $Work'
	'\Answered' '\Seen \Flagged $Work' '\Draft' '\Deleted \Seen')
dates=('01-Jan-2020 00:00:00 +0000' '15-Feb-2021 12:34:56 +0100'
	'29-Feb-2024 23:59:59 -0700' ' 3-Mar-2019 08:00:01 +0530'
	'31-Dec-1999 23:59:59 +0000' '10-Oct-2010 10:10:10 -0230'
	'07-Jul-2017 07:07:07 +1200' '20-Aug-2022 20:20:20 -1100'
	'01-Jun-2001 01:01:01 +0000' '30-Nov-2023 18:00:00 +0200')
append_group() { # GROUP: messages 50*GROUP+1.. (50, the last group 49)
	local g=$1 i files=()
	for ((i = g * 50 + 1; i <= g * 50 + 50 && i <= 499; i++)); do
		files+=("$(printf '%s/msg-%04d.eml' "$T/mail" "$i")")
	done
	IMAP_TUNNEL=$A_TUNNEL imap_append --flags "${flags[$g]}" --date "${dates[$g]}" INBOX "${files[@]}"
}
ok=1
for g in 0 1 2 3 4; do append_group "$g" || ok=0; done
IMAP_TUNNEL=$A_TUNNEL imap_append --flags '\Flagged $Big' --date '05-May-2015 05:05:05 +0500' \
	INBOX "$T/mail/msg-big.eml" || ok=0
for g in 5 6 7 8 9; do append_group "$g" || ok=0; done
rm -rf "$T/mail"
# The same without the big one (UID 251), for the RSS comparison.
IMAP_TUNNEL=$A_TUNNEL imap_tool raw 'CREATE NoBig' 'SELECT INBOX' \
	'UID COPY 1:250,252:500 NoBig' >/dev/null || ok=0
t_eq "A is filled" "$ok $(IMAP_TUNNEL=$A_TUNNEL imap_count INBOX) $(IMAP_TUNNEL=$A_TUNNEL imap_count NoBig)" "1 500 499"
for m in Rss500 Rss499 San499; do
	IMAP_TUNNEL=$B_TUNNEL imap_create "$m" || t_fail "create $m on B"
done

# digest TUNNEL MAILBOX: one line per message in UID order: md5 and size
# of BODY[], INTERNALDATE as an instant, flags sorted (\Recent left out).
digest() {
	"$T_PYTHON" - "$T_LIB" "$1" "$2" <<'EOF'
import calendar, hashlib, re, sys, time
sys.path.insert(0, sys.argv[1])
from imaptool import IMAP, mbox
imap = IMAP(sys.argv[2])
if imap.select(sys.argv[3], readonly=True) == 0:
    sys.exit(0)
tag = imap.next_tag()
imap.send(tag, "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
imap.w.flush()
out = {}
while True:
    line, lits = imap.read_response()
    if line.startswith(tag.encode() + b" "):
        if not line.startswith(tag.encode() + b" OK"):
            sys.exit("FETCH failed: %r" % line)
        break
    if not re.match(rb"\* \d+ FETCH", line) or not lits:
        continue
    uid = int(re.search(rb"\bUID (\d+)", line).group(1))
    flags = sorted(f for f in re.search(rb"\bFLAGS \(([^)]*)\)", line).group(1).decode().split()
                   if f.lower() != "\\recent")
    d = re.search(rb'INTERNALDATE "([^"]+)"', line).group(1).decode()
    t = time.strptime(d[:-6].strip(), "%d-%b-%Y %H:%M:%S")
    z = int(d[-5:-2]) * 60 + int(d[-5] + d[-2:])
    when = calendar.timegm(t) - z * 60
    out[uid] = "%s %d %d (%s)" % (hashlib.md5(lits[0]).hexdigest(), len(lits[0]), when, " ".join(flags))
for uid in sorted(out):
    print(out[uid])
imap.logout()
EOF
}

# run_copy NAME BINARY MAILBOX_A MAILBOX_B [OPTIONS]: output in $T/NAME.out.
run_copy() {
	local name=$1 bin=$2 ma=$3 mb=$4
	shift 4
	timeout 120 "$bin" "$@" \
		"$DOVECOT_HOST" "$A_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" "$ma" \
		"$DOVECOT_HOST" "$B_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" "$mb" \
		>"$T/$name.out" 2>"$T/$name.err"
}
rss() { awk '$1 == "maxrss_kib" { print $2 }' "$T/$1.out"; }

# 1. The copy, sanitizers on, checked byte for byte.
start=$(date +%s%N)
run_copy san "$SAN" INBOX INBOX
rc=$?
secs=$(( ($(date +%s%N) - start) / 1000000 ))
t_eq "imapcopy (build-san) exits 0" "$rc" 0 || sed 's/^/#   /' "$T/san.err" >&2
t_eq "nothing on stderr" "$(cat "$T/san.err")" ""
t_grep "it copied 500 messages" '^copied 500 messages' "$T/san.out"
t_grep "in several MULTIAPPEND batches with APPENDUID" '^batch [0-9]+: 100 messages, APPENDUID [0-9]+ 1:100$' "$T/san.out"
t_log "build-san copy: ${secs} ms, $(grep '^copied' "$T/san.out"), maxrss $(rss san) KiB"
t_eq "B has 500 messages" "$(IMAP_TUNNEL=$B_TUNNEL imap_count INBOX)" 500
digest "$A_TUNNEL" INBOX >"$T/a.digest"
digest "$B_TUNNEL" INBOX >"$T/b.digest"
t_eq "500 messages digested on A" "$(wc -l <"$T/a.digest")" 500
t_same_file "same bytes, flags and INTERNALDATE on B as on A" "$T/a.digest" "$T/b.digest"
t_grep "the 50 MB message is there with its flags" ' 524[0-9]{5} [0-9]+ \(\$Big \\Flagged\)$' "$T/b.digest"
t_grep "keywords and system flags came along" '\(\$Work \\Flagged \\Seen\)$' "$T/b.digest"
t_no_grep "no \\Recent copied" 'Recent' "$T/b.digest"

# 2. Peak RSS with and without the 50 MB message (plain build).
run_copy rss500 "$PLAIN" INBOX Rss500 || t_fail "plain imapcopy, 500 messages" "$(cat "$T/rss500.err")"
run_copy rss499 "$PLAIN" NoBig Rss499 || t_fail "plain imapcopy, 499 messages" "$(cat "$T/rss499.err")"
run_copy san499 "$SAN" NoBig San499 || t_fail "build-san imapcopy, 499 messages" "$(cat "$T/san499.err")"
t_eq "B got 500, 499 and 499" "$(for m in Rss500 Rss499 San499; do IMAP_TUNNEL=$B_TUNNEL imap_count $m; done | tr '\n' ' ')" "500 499 499 "
rss_check() { # BUILD WITH WITHOUT
	t_log "$1 build: maxrss $2 KiB with the 50 MB message, $3 KiB without"
	if [ -n "$2" ] && [ -n "$3" ] && [ $(($2 - $3)) -le 4096 ] && [ $(($3 - $2)) -le 4096 ]; then
		t_ok "$1 build: peak RSS does not grow with the message size ($2 vs $3 KiB)"
	else
		t_fail "$1 build: peak RSS does not grow with the message size" "$2 vs $3 KiB"
	fi
}
rss_check plain "$(rss rss500)" "$(rss rss499)"
rss_check sanitized "$(rss san)" "$(rss san499)"
t_log "plain build: $(grep '^copied' "$T/rss500.out"); $(grep '^copied' "$T/rss499.out")"
t_match "the second mailbox is the first without the 50 MB message" \
	"$(awk '$1 == "copied" { print $2, ($4 < 50000000) }' "$T/rss499.out")" '^499 1$'

# 3. Failures: one line, non-zero status.
# imap_login() reports a refused login as an authentication failure
# (ERR_AUTH: 77, EX_NOPERM), as pullimap does.
t_fails "wrong password" 77 '^imapcopy: authentication failed: A: LOGIN failed: NO' \
	timeout 60 "$SAN" "$DOVECOT_HOST" "$A_PORT" "$DOVECOT_USER" nope INBOX \
	"$DOVECOT_HOST" "$B_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" INBOX
t_fails "no such mailbox on B" 69 '^imapcopy: .*B: APPEND failed: NO \[TRYCREATE\]' \
	timeout 60 "$SAN" -n 10 "$DOVECOT_HOST" "$A_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" NoBig \
	"$DOVECOT_HOST" "$B_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" Nope
t_fails "nobody listening" 75 '^imapcopy: A: ' \
	timeout 60 "$SAN" "$DOVECOT_HOST" "$(free_port)" "$DOVECOT_USER" "$DOVECOT_PASS" INBOX \
	"$DOVECOT_HOST" "$B_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" INBOX

# 4. A server whose RFC822.SIZE for UID 3 is one more than its BODY[]
# (Dovecot cannot be made to lie: a relay in front of A rewrites it). The
# APPEND already promised B that size in a literal header and cannot be
# cancelled: B's connection is dropped, and B's server keeps nothing.
cat >"$T/liar.py" <<'PYEOF'
import os, re, socket, sys, threading
port_file, up = sys.argv[1], int(sys.argv[2])
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
ls.settimeout(60)
with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
cli = ls.accept()[0]
srv = socket.create_connection(("127.0.0.1", up))
def client_to_server():
    try:
        while True:
            b = cli.recv(65536)
            if not b:
                break
            srv.sendall(b)
    except OSError:
        pass
    srv.close()
threading.Thread(target=client_to_server, daemon=True).start()
bump = lambda m: b"RFC822.SIZE %d" % (int(m.group(1)) + 1)
try:
    for line in srv.makefile("rb"):
        if line.startswith(b"* ") and b" FETCH (UID 3 RFC822.SIZE " in line:
            line = re.sub(rb"RFC822\.SIZE (\d+)", bump, line)
        cli.sendall(line)
except OSError:
    pass
cli.close()
PYEOF
timeout 60 "$T_PYTHON" "$T/liar.py" "$T/liar.port" "$A_PORT" 2>"$T/liar.err" &
t_cleanup_add "t_kill_pid $!"
wait_file "$T/liar.port" 10
IMAP_TUNNEL=$B_TUNNEL imap_create Drop || t_fail "create Drop on B"
t_fails "RFC822.SIZE is not the size of BODY[]" 75 \
	'^imapcopy: connection to B dropped, its APPEND being unfinished: A: UID 3: BODY\[\] is [0-9]+ bytes but RFC822.SIZE said [0-9]+$' \
	timeout 60 "$SAN" -n 10 "$DOVECOT_HOST" "$(cat "$T/liar.port")" "$DOVECOT_USER" "$DOVECOT_PASS" NoBig \
	"$DOVECOT_HOST" "$B_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" Drop
t_eq "B kept nothing of the dropped APPEND" "$(IMAP_TUNNEL=$B_TUNNEL imap_count Drop)" 0

t_done
