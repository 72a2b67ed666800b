#!/bin/bash
# Switching from the Perl reference: its statefile, as the Perl pullimap
# itself leaves it, is imported by ours at the same path; (a) after a clean
# run only new mail is delivered, (b) after a run killed with pending UIDs
# those are marked \Seen and never delivered again.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init migrate
t_need_pullimap
[ -x /usr/bin/pullimap ] || t_skip_all "the Perl reference is not installed (apt-get install pullimap)"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

genmail --count 24 --sizes small --seed 23 --out "$T/mail" >/dev/null
mails=("$T"/mail/*.eml)
imap_create A >/dev/null
imap_create B >/dev/null
imap_append A "${mails[@]:0:8}" >/dev/null
imap_append B "${mails[@]:0:20}" >/dev/null
dest=$(lmtp_delivered_dir)

# The sink stands in for a slow MTA in (b), so that the Perl run can be
# killed in the middle.
mkdir -p "$T/sink"
"$T_PYTHON" "$T_LIB/sink.py" --lmtp --port-file "$T/sink.port" --dir "$T/sink" \
	--log "$T/sink.log" --delay-eod 0.25 --lifetime 300 >/dev/null 2>&1 &
sink_pid=$!
t_cleanup_add "t_kill_pid $sink_pid 1"
wait_file "$T/sink.port" 10 || t_skip_all "the sink does not start"
SINK_PORT=$(cat "$T/sink.port")

# One file for both programs (the Perl one takes only [IP]:PORT targets).
cat >"$T/config" <<CONF
host = 127.0.0.1
port = $DOVECOT_IMAP_PORT
type = imap
username = $DOVECOT_USER
password = $DOVECOT_PASS
SSL_CAfile = $DOVECOT_CA
deliver-rcpt = $DOVECOT_DEST_USER

[a]
mailbox = A
statefile = $T/a.state
deliver-method = lmtp:[127.0.0.1]:$DOVECOT_LMTP_PORT

[b]
mailbox = B
statefile = $T/b.state
deliver-method = lmtp:[127.0.0.1]:$SINK_PORT
CONF
chmod 600 "$T/config"

# Duplicates and missing messages among the delivered files ($1, a list)
# against the originals ($2...).
count_msgs() {
	"$T_PYTHON" -c "$T_MSG_PY"'
from collections import Counter
want = {orig(f) for f in sys.argv[2:]}
got = Counter(delivered(l.rstrip("\n")) for l in open(sys.argv[1]) if l.strip())
print(len(want - set(got)), sum(c - 1 for c in got.values() if c > 1),
      sum(c for m, c in got.items() if m not in want))
' "$@"
}

# (a) A clean Perl run, new mail, then ours.
t_check "a: the Perl pullimap delivers" /usr/bin/pullimap --config="$T/config" a
t_eq "a: Perl delivered 8" "$(maildir_count "$dest")" 8
t_eq "a: Perl statefile is 8 bytes" "$(stat -c %s "$T/a.state")" 8
perl_uv=$(od -An -N4 -tu1 "$T/a.state" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 }')
imap_append A "${mails[@]:8:3}" >/dev/null
t_check "a: ours runs on the Perl statefile" "$PULLIMAP" --config="$T/config" a
t_grep "a: import logged" "imported the Perl pullimap statefile \\(UIDVALIDITY $perl_uv, UIDNEXT 9, 0 pending UIDs\\); kept as $T/a.state.perl-statefile" "$T/last.err"
t_eq "a: ours delivered the 3 new ones only" "$(grep -c ' UID ' "$T/last.err")" 3
t_grep "a: starting at UID 9" ' UID 9 ' "$T/last.err"
t_eq "a: 11 messages delivered in all" "$(maildir_count "$dest")" 11
maildir_messages "$dest" >"$T/a.list"
read -r missing dups unexpected < <(count_msgs "$T/a.list" "${mails[@]:0:11}")
t_eq "a: each message exactly once" "$missing $dups $unexpected" "0 0 0"
t_eq "a: .perl-statefile kept" "$(stat -c %s "$T/a.state.perl-statefile")" 8
t_eq "a: state is SQLite now" "$(sqlite3 "$T/a.state" 'SELECT name, uidvalidity, uidnext FROM mailbox')" "A|$perl_uv|12"
t_check "a: second run of ours" "$PULLIMAP" --config="$T/config" a
t_eq "a: second run is silent" "$(cat "$T/last.out" "$T/last.err")" ""
t_eq "a: nothing more delivered" "$(maildir_count "$dest")" 11
t_eq "a: every message \\Seen" "$(imap_fetch_flags A | grep -c '\\Seen')" 11

# (b) A Perl run killed while it delivers: its statefile holds pending UIDs.
/usr/bin/pullimap --config="$T/config" b 2>"$T/perl-b.err" &
perl_pid=$!
size_ge() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
wait_until 60 size_ge "$T/b.state" 20
kill -9 "$perl_pid" 2>/dev/null
wait "$perl_pid" 2>/dev/null
size=$(stat -c %s "$T/b.state")
npend=$(( (size - 8) / 4 ))
t_log "Perl statefile: $size bytes, $npend pending"
if [ "$size" -ge 20 ] && [ "$npend" -lt 20 ]; then
	t_ok "b: the killed Perl run left pending UIDs ($npend)"
else
	t_fail "b: the killed Perl run left pending UIDs" "statefile of $size bytes"
fi
pending=$(od -An -j8 -v -tu1 -w4 "$T/b.state" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 }' | tr '\n' ' ')
t_log "pending UIDs: $pending"
ls "$T/sink"/*.eml >"$T/b-perl.list" 2>/dev/null
t_check "b: ours runs on the interrupted Perl statefile" "$PULLIMAP" --config="$T/config" b
t_grep "b: import logged" "imported the Perl pullimap statefile \\(UIDVALIDITY [0-9]+, UIDNEXT 1, $npend pending UIDs\\)" "$T/last.err"
redelivered=0
for u in $pending; do
	grep -q " UID $u " "$T/last.err" && redelivered=$((redelivered + 1))
done
t_eq "b: no pending UID delivered again" "$redelivered" 0
t_eq "b: pending UIDs journaled as imported" \
	"$(sqlite3 "$T/b.state" "SELECT count(*), sum(seen) FROM delivered WHERE reply = '(imported from the Perl pullimap statefile)'")" "$npend|$npend"
seen_pending=0
for u in $pending; do
	imap_fetch_flags B | grep -E "^$u " | grep -q '\\Seen' && seen_pending=$((seen_pending + 1))
done
t_eq "b: pending UIDs marked \\Seen" "$seen_pending" "$npend"
t_eq "b: every message \\Seen" "$(imap_fetch_flags B | grep -c '\\Seen')" 20
ls "$T/sink"/*.eml >"$T/b.list"
read -r missing dups unexpected < <(count_msgs "$T/b.list" "${mails[@]:0:20}")
t_log "b: missing $missing, duplicates $dups, unexpected $unexpected"
t_eq "b: every message delivered, nothing else" "$missing $unexpected" "0 0"
# The message in flight when the Perl run died (accepted by the MTA, not
# yet in its statefile) may come twice; nothing else may.
if [ "$dups" -le 1 ]; then
	t_ok "b: at most the message in flight twice ($dups)"
else
	t_fail "b: at most the message in flight twice" "$dups duplicates"
fi
# Each pending UID's message was delivered once, by the Perl run.
pend_once=0
for u in $pending; do
	f=${mails[$((u - 1))]}
	n=$("$T_PYTHON" -c "$T_MSG_PY"'
o = orig(sys.argv[1])
print(sum(1 for l in open(sys.argv[2]) if l.strip() and delivered(l.strip()) == o))
' "$f" "$T/b.list")
	[ "$n" = 1 ] && pend_once=$((pend_once + 1))
done
t_eq "b: each pending message delivered exactly once" "$pend_once" "$npend"
t_check "b: second run of ours" "$PULLIMAP" --config="$T/config" b
t_eq "b: second run is silent" "$(cat "$T/last.out" "$T/last.err")" ""

t_done
