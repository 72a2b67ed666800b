#!/bin/bash
# --status: reads the configuration and the state only; before any run it
# says so; after a run with a permanent rejection it shows the delivered
# count, the rejected UID with the MTA's reply, and the last error; it does
# not wait for the lock of a running pullimap.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init status
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

genmail --count 4 --sizes small --seed 11 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

mkdir -p "$T/sink"
"$T_PYTHON" "$T_LIB/sink.py" --port-file "$T/sink.port" --dir "$T/sink" \
	--log "$T/sink.log" --lmtp --eod 554@2 --lifetime 120 >/dev/null 2>&1 &
sink_pid=$!
t_cleanup_add "t_kill_pid $sink_pid 1"
wait_file "$T/sink.port" 10 || t_skip_all "the sink does not start"

cat >"$T/config" <<CONF
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
deliver-method = lmtp:[127.0.0.1]:$(cat "$T/sink.port")
deliver-rcpt = someone

[s]
statefile = $T/s.db

[slow]
statefile = $T/slow.db
command = sleep 3; $DOVECOT_TUNNEL
CONF
st() { t_run "$PULLIMAP" --config="$T/config" --status "$@"; }

st s
t_eq "never run: exit 0" "$?" 0
t_eq "never run: says so" "$(cat "$T/last.out")" "no state yet for s (never run)"
t_eq "never run: no state created" "$(ls "$T"/s.db* 2>/dev/null)" ""

t_run "$PULLIMAP" --config="$T/config" s
t_eq "run with a 5xx: exit 69" "$?" 69
st s
t_eq "status: exit 0" "$?" 0
t_log "$(cat "$T/last.out")"
t_grep "status: statefile" "^statefile: $T/s.db\$" "$T/last.out"
t_grep "status: mailbox" '^mailbox: INBOX$' "$T/last.out"
t_grep "status: UIDVALIDITY" '^UIDVALIDITY: [1-9][0-9]*$' "$T/last.out"
t_grep "status: UIDNEXT" '^UIDNEXT: 5$' "$T/last.out"
t_grep "status: delivered count and bytes" '^delivered: 3 messages, [1-9][0-9]* bytes$' "$T/last.out"
t_grep "status: last delivery" '^last delivery: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC, UID 4, 250 ' "$T/last.out"
t_grep "status: rejected count" '^rejected: 1 messages$' "$T/last.out"
t_grep "status: rejected UID with reply" '^  UID 2, [0-9-]{10} [0-9:]{8} UTC: 554' "$T/last.out"
t_grep "status: pending" '^pending: 0 ' "$T/last.out"
t_grep "status: last run" '^last run: [0-9-]{10} [0-9:]{8} UTC$' "$T/last.out"
t_grep "status: last error" '^last error: [0-9-]{10} [0-9:]{8} UTC: .*rejected permanently' "$T/last.out"

# A successful run clears the last error.
t_kill_pid "$sink_pid" 1
"$T_PYTHON" "$T_LIB/sink.py" --port-file "$T/sink2.port" --dir "$T/sink" \
	--lmtp --lifetime 120 >/dev/null 2>&1 &
sink_pid=$!
t_cleanup_add "t_kill_pid $sink_pid 1"
wait_file "$T/sink2.port" 10
sed -i "s/^deliver-method = .*/deliver-method = lmtp:[127.0.0.1]:$(cat "$T/sink2.port")/" "$T/config"
imap_append INBOX "$T"/mail/msg-0001.eml >/dev/null
t_check "a clean run" "$PULLIMAP" --config="$T/config" s
st s
t_grep "after a clean run: no last error" '^last error: none$' "$T/last.out"
t_grep "after a clean run: 4 delivered" '^delivered: 4 messages' "$T/last.out"
# A clean poll with nothing new after a clean run writes nothing (no disk
# write at every cron tick), yet "last run" moves: the file's mtime.
cp "$T/s.db" "$T/s.db.before"
touch -d '2001-02-03 04:05:06 UTC' "$T/s.db"
t_check "nothing new" "$PULLIMAP" --config="$T/config" s
t_same_file "nothing new: state file unchanged" "$T/s.db" "$T/s.db.before"
t_eq "nothing new: no WAL left" "$(ls "$T"/s.db-* 2>/dev/null)" ""
st s
t_grep "nothing new: last run moved" '^last run: 20[2-9][0-9]-' "$T/last.out"
t_grep "nothing new: last error still none" '^last error: none$' "$T/last.out"

# While a run holds the lock: exit 75 at once, saying so.
"$PULLIMAP" --config="$T/config" slow 2>"$T/slow.err" &
p1=$!
wait_until 10 test -s "$T/slow.db"
sleep 0.3
start=$(date +%s)
st slow
rc=$?
t_eq "locked: exit 75" "$rc" 75
t_grep "locked: says so" 'another pullimap' "$T/last.err"
t_eq "locked: no wait" "$(( $(date +%s) - start < 2 ))" 1
wait $p1

t_done
