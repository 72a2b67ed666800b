#!/bin/bash
# Crash safety: kill -9 pullimap at many points of its runs (delivering,
# journaling, storing \Seen, updating UIDNEXT). Afterwards every message was
# delivered, each kill re-delivered at most the one message in flight, and
# the mailbox and the journal agree.
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init crash
t_need_pullimap
dovecot_init "$T/dc" || t_skip_all "dovecot not available"
dovecot_start || t_skip_all "dovecot does not start"

N=400
genmail --count $N --sizes small --seed 11 --out "$T/mail" >/dev/null
imap_append INBOX "$T"/mail/*.eml >/dev/null
dest=$(lmtp_delivered_dir)

cat >"$T/config" <<CONF
[c]
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
statefile = $T/c.db
deliver-method = lmtp:$DOVECOT_LMTP_SOCKET
deliver-rcpt = $DOVECOT_DEST_USER
CONF

kills=0 finished=0
# Kill after 0.01 s to 0.25 s, varying: each run resumes where the previous
# one died, so the kills land all along the work (start-up, SELECT,
# delivery, journaling, STORE, UIDNEXT update). From the 60th run on, 0.1 s
# more each time: on a machine too busy for any run to finish within
# 0.25 s, one still does.
for i in $(seq 1 100); do
	"$PULLIMAP" --config="$T/config" -q c 2>>"$T/runs.err" &
	pid=$!
	delay=$(awk -v i="$i" 'BEGIN { printf "%.2f", 0.01 + 0.02 * ((i * 7) % 13) + (i > 60 ? 0.1 * (i - 60) : 0) }')
	sleep "$delay"
	if kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		kills=$((kills + 1))
	else
		wait "$pid"
		rc=$?
		[ "$rc" -eq 0 ] && { finished=1; break; }
		t_log "run $i exited $rc"
	fi
done
t_log "$kills kills"
t_eq "a run eventually completes" "$finished" 1
t_ne "pullimap was killed mid-run" "$kills" 0
t_check "one more run succeeds" "$PULLIMAP" --config="$T/config" c

# Compare contents (not Message-IDs: some test messages have none).
maildir_messages "$dest" >"$T/delivered.list"
read -r missing dups unexpected < <("$T_PYTHON" -c "$T_MSG_PY"'
from collections import Counter
want = {orig(f) for f in sys.argv[2:]}
got = Counter(delivered(l.rstrip("\n")) for l in open(sys.argv[1]) if l.strip())
print(len(want - set(got)), sum(c - 1 for c in got.values() if c > 1),
      sum(c for m, c in got.items() if m not in want))
' "$T/delivered.list" "$T"/mail/*.eml)
t_log "missing $missing, duplicates $dups, unexpected $unexpected, kills $kills"
t_eq "every message delivered" "$missing" 0
t_eq "nothing but these messages delivered" "$unexpected" 0
if [ "$dups" -le "$kills" ]; then
	t_ok "at most one duplicate per kill ($dups <= $kills)"
else
	t_fail "at most one duplicate per kill" "$dups duplicates for $kills kills"
fi
t_eq "every message \\Seen" "$(imap_fetch_flags INBOX | grep -c '\\Seen')" $N
t_eq "journal complete and seen" "$(sqlite3 "$T/c.db" 'SELECT count(*), sum(seen) FROM delivered')" "$N|$N"
t_eq "UIDNEXT recorded" "$(sqlite3 "$T/c.db" 'SELECT uidnext FROM mailbox')" "$(imap_uidnext INBOX)"
t_check "database integrity" sqlite3 "$T/c.db" 'PRAGMA integrity_check'
t_eq "integrity ok" "$(cat "$T/last.out")" ok
t_done
