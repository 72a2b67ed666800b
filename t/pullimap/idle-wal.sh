#!/bin/bash
# A long --idle run stays small: 2,000 deliveries on a state that existed
# at start (a first run made it) keep the SQLite WAL within the size of one
# checkpoint interval (wal_autocheckpoint: 1000 pages of 4 KiB) and the
# process's resident memory flat. A read left in progress on the state
# (a statement stepped to a row and never reset) pins the WAL snapshot:
# no checkpoint can then start the WAL over, and it grew by some 10 KB per
# message here (21 MB after 2,000).
. "$TOP/t/lib/common.sh"
. "$TOP/t/lib/dovecot.sh"
t_init idle-wal
t_need_pullimap
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
dovecot_init "$T/dc" || t_skip_all "dovecot not available"

BATCH=500 BATCHES=4 # appended while idling
FIRST=10            # delivered by the first run, which creates the state
# 1000 pages of 4 KiB, plus the last transaction written before the
# checkpoint, plus slack; far below the unbounded growth (~5 MB at 500,
# ~21 MB at 2,000).
WAL_MAX=$((5 * 1024 * 1024))
RSS_SLACK_KB=4096 RSS_SLACK2_KB=2048

genmail --count $((FIRST + BATCH * BATCHES)) --sizes small --seed 31 --out "$T/mail" >/dev/null
mapfile -t MAIL < <(find "$T/mail" -name '*.eml' | sort)
[ "${#MAIL[@]}" -eq $((FIRST + BATCH * BATCHES)) ] || t_skip_all "genmail failed"

sink --lmtp

cat >"$T/config" <<CONF
type = tunnel
command = $DOVECOT_TUNNEL
null-stderr = YES
deliver-method = lmtp:[127.0.0.1]:$SINK_PORT
deliver-rcpt = someone

[w]
statefile = $T/w.db
CONF

delivered() { eml_count "$T/sink"; }
wal_size() { stat -c %s "$T/w.db-wal" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# wait_delivered N TIMEOUT: wait until the sink holds N messages, keeping
# the largest WAL size seen meanwhile in WAL_PEAK.
WAL_PEAK=0
wait_delivered() {
	local want="$1" i w
	for ((i = 0; i < $2 * 10; i++)); do
		w=$(wal_size)
		[ "$w" -gt "$WAL_PEAK" ] && WAL_PEAK=$w
		[ "$(delivered)" -ge "$want" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

imap_append INBOX "${MAIL[@]:0:FIRST}" >/dev/null
t_check "first run creates the state" "$PULLIMAP" --config="$T/config" w
t_eq "first run: delivered" "$(delivered)" "$FIRST"

# ASan keeps freed memory in quarantine (256 MB by default), which would
# read as growth: keep it small so that VmRSS tracks the live heap.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
	"$PULLIMAP" --config="$T/config" --idle=600 w 2>"$T/idle.err" &
pid=$!
t_cleanup_add "t_kill_pid $pid 2"

start=$(date +%s)
# Four batches of 500, appended while it idles; after each: VmRSS and WAL.
rss=()
for ((b = 0; b < BATCHES; b++)); do
	from=$((FIRST + b * BATCH))
	imap_append INBOX "${MAIL[@]:from:BATCH}" >/dev/null
	if ! wait_delivered $((from + BATCH)) 60; then
		t_fail "batch $((b + 1)) delivered while idling" "$(delivered) delivered"
		break
	fi
	rss+=("$(rss_kb "$pid")")
	t_log "after $(((b + 1) * BATCH)): VmRSS ${rss[b]} kB, WAL $(wal_size) bytes, $(($(date +%s) - start)) s"
done
t_eq "every batch delivered while idling" "${#rss[@]}" "$BATCHES"
wal=$(wal_size)
t_eq "WAL bounded during the run (peak $WAL_PEAK bytes)" "$((WAL_PEAK <= WAL_MAX))" 1
t_eq "WAL bounded after $((BATCHES * BATCH)) deliveries ($wal bytes)" "$((wal <= WAL_MAX))" 1
# Caches (SQLite's page cache, the allocator's) fill during the first
# batches; then nothing may grow with the number of messages.
if [ "${#rss[@]}" -eq "$BATCHES" ]; then
	r1=${rss[0]} r2=${rss[1]} rn=${rss[BATCHES - 1]}
	t_log "VmRSS: ${rss[*]} kB"
	t_eq "RSS flat: +$((rn - r1)) kB from $BATCH to $((BATCHES * BATCH)) messages" "$((rn - r1 <= RSS_SLACK_KB))" 1
	t_eq "RSS flat: +$((rn - r2)) kB from $((2 * BATCH)) to $((BATCHES * BATCH)) messages" "$((rn - r2 <= RSS_SLACK2_KB))" 1
fi

kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(ps -o stat= -p "$pid" | cut -c1)" = Z ]; }
wait_until 10 gone || kill -KILL "$pid"
wait "$pid"
t_eq "SIGTERM: exit 0" "$?" 0
t_eq "every message delivered once" "$(delivered)" $((FIRST + BATCH * BATCHES))
t_eq "journal" "$(sqlite3 "$T/w.db" 'SELECT count(*) FROM delivered WHERE seen = 1')" $((FIRST + BATCH * BATCHES))
t_eq "no WAL left after the end" "$(ls "$T"/w.db-wal 2>/dev/null)" ""
t_done
