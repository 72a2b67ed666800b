#!/bin/bash
# --status: reads the configuration and the state only; before any run it
# says so; after a run with a permanent rejection it shows the delivered
# count, the rejected UID with the MTA's reply, and the last error. It
# writes nothing (not the state file, no -wal or -shm file of its own, no
# migration of an older schema), works on a state it cannot write, and
# works beside a running pullimap (a run, or --idle: the service), which
# it neither waits for nor disturbs.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init status
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

genmail --count 4 --sizes small --seed 11 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null

sink --lmtp --eod 554@2

cat >"$T/config" <<CONF
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
deliver-method = lmtp:[127.0.0.1]:$SINK_PORT
deliver-rcpt = someone

[s]
statefile = $T/s.db

[slow]
statefile = $T/slow.db
command = sleep 3; $DOVECOT_TUNNEL

[ro]
statefile = $T/ro/s.db

[old]
statefile = $T/old.db

[new]
statefile = $T/new.db

[empty]
statefile = $T/empty.db
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
sink --lmtp
sed -i "s/^deliver-method = .*/deliver-method = lmtp:[127.0.0.1]:$SINK_PORT/" "$T/config"
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

# --status writes nothing: not the state file (contents, mtime), and it
# leaves no -wal or -shm file behind.
sum() { sha256sum "$@" | cut -d' ' -f1 | tr '\n' ' '; }
before="$(sum "$T/s.db") $(stat -c %Y.%y "$T/s.db")"
st s
t_eq "read only: exit 0" "$?" 0
t_eq "read only: state file unchanged" "$(sum "$T/s.db") $(stat -c %Y.%y "$T/s.db")" "$before"
t_eq "read only: no -wal or -shm left" "$(ls "$T"/s.db-* 2>/dev/null)" ""
cp "$T/last.out" "$T/status.ref"

# On a state it cannot write (a 0400 copy in a directory it cannot write
# either; as root, run as nobody, for whom that holds): the same.
mkdir "$T/ro"
cp -p "$T/s.db" "$T/ro/s.db" # -p: "last run" is its mtime
sed 's|^statefile: .*|statefile: '"$T/ro/s.db"'|' "$T/status.ref" >"$T/status.ro.ref"
chmod 0400 "$T/ro/s.db"
if t_is_root; then
	chown nobody "$T/ro/s.db"
	chmod 0644 "$T/config"
	t_run t_as_mailuser "$PULLIMAP" --config="$T/config" --status ro
else
	chmod 0555 "$T/ro"
	st ro
fi
t_eq "unwritable state: exit 0" "$?" 0
t_same_file "unwritable state: same figures" "$T/last.out" "$T/status.ro.ref"
t_eq "unwritable state: nothing created" "$(ls "$T/ro")" "s.db"
chmod 0755 "$T/ro"

# An older schema (version 1: no partial indexes) is read as is, not
# migrated; a newer one is refused, saying so; an empty file (a first run
# that stopped at once) is no state yet.
cp "$T/s.db" "$T/old.db"
sqlite3 "$T/old.db" 'DROP INDEX delivered_unseen; DROP INDEX rejected_unflagged; PRAGMA user_version = 1'
before=$(sum "$T/old.db")
st old
t_eq "schema version 1: exit 0" "$?" 0
t_grep "schema version 1: figures" '^delivered: 4 messages' "$T/last.out"
t_eq "schema version 1: not migrated" "$(sum "$T/old.db")" "$before"
cp "$T/s.db" "$T/new.db"
sqlite3 "$T/new.db" 'PRAGMA user_version = 99'
st new
t_eq "newer schema: exit 69" "$?" 69
t_grep "newer schema: says so" 'new\.db.*schema version 99.*newer.*upgrade' "$T/last.err"
: >"$T/empty.db"
st empty
t_eq "empty file: exit 0" "$?" 0
t_eq "empty file: no state yet" "$(cat "$T/last.out")" "no state yet for empty (never run)"
t_eq "empty file: left empty" "$(stat -c %s "$T/empty.db")" 0
t_eq "empty file: nothing created" "$(ls "$T"/empty.db-* 2>/dev/null)" ""

# Beside a run that holds the state (here waiting for its tunnel): exit 0
# at once, and what is committed so far (a new state: no mailbox yet).
"$PULLIMAP" --config="$T/config" slow 2>"$T/slow.err" &
p1=$!
wait_until 10 test -s "$T/slow.db"
start=$(date +%s)
st slow
rc=$?
t_eq "beside a run: exit 0" "$rc" 0
t_grep "beside a run: what is committed" '^UIDVALIDITY: unknown' "$T/last.out"
t_eq "beside a run: no wait" "$(( $(date +%s) - start < 2 ))" 1
wait $p1
t_eq "beside a run: the run is not disturbed" "$?" 0

# Beside pullimap --idle (the service): the figures of what it delivered,
# exit 0; the state file and its WAL, which it holds, are left alone.
"$PULLIMAP" --config="$T/config" --idle=600 s 2>"$T/idle.err" &
p1=$!
t_cleanup_add "t_kill_pid $p1 2"
imap_append INBOX "$T"/mail/msg-000[1-2].eml >/dev/null
if wait_until 20 grep -q 'delivered 2 message' "$T/idle.err"; then
	t_ok "--idle delivers"
else
	t_fail "--idle delivers" "$(tail -n 3 "$T/idle.err")"
fi
before=$(sum "$T/s.db" "$T/s.db-wal")
st s
t_eq "beside --idle: exit 0" "$?" 0
t_grep "beside --idle: delivered count" '^delivered: 6 messages' "$T/last.out"
t_grep "beside --idle: UIDNEXT" '^UIDNEXT: 8$' "$T/last.out"
t_grep "beside --idle: pending" '^pending: 0 ' "$T/last.out"
t_eq "beside --idle: state file and WAL unchanged" "$(sum "$T/s.db" "$T/s.db-wal")" "$before"
imap_append INBOX "$T"/mail/msg-0003.eml >/dev/null
if wait_until 20 grep -q 'delivered 1 message' "$T/idle.err"; then
	t_ok "--idle goes on after --status"
else
	t_fail "--idle goes on after --status" "$(tail -n 3 "$T/idle.err")"
fi
st s
t_grep "beside --idle: the next delivery" '^delivered: 7 messages' "$T/last.out"

# After a crash (SIGKILL) the WAL holds what was committed: --status reads
# it, and leaves the recovery to the next run (file and WAL unchanged).
kill -KILL "$p1"
wait "$p1" 2>/dev/null
t_eq "after a crash: the WAL is left" "$(test -s "$T/s.db-wal" && echo yes)" yes
before=$(sum "$T/s.db" "$T/s.db-wal")
st s
t_eq "after a crash: exit 0" "$?" 0
t_grep "after a crash: what was committed" '^delivered: 7 messages' "$T/last.out"
t_eq "after a crash: state file and WAL unchanged" "$(sum "$T/s.db" "$T/s.db-wal")" "$before"
t_check "after a crash: the next run" "$PULLIMAP" --config="$T/config" s
t_eq "after a crash: the next run tidies up" "$(ls "$T"/s.db-* 2>/dev/null)" ""
st s
t_grep "after a crash: nothing lost" '^delivered: 7 messages' "$T/last.out"

t_done
