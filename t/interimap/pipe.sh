#!/bin/bash
# What interimap does on both servers at once (doc/interimap.1,
# CONCURRENCY), seen in its --debug trace, whose lines are written as the
# commands go out and the responses come in: a command of one side sent
# before the other side's answer it would have waited for in a
# sequential run. Each check fails on a program that waits (the Perl
# interimap, or ours before the change). The results themselves (log
# lines, database, servers) are compared with the Perl interimap's by
# sync.sh, msync.sh, debug.sh and the others.
#
# One pair: a local Dovecot through a tunnel, a remote one over IMAPS.
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-pipe
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"

pair_setup A || { t_fail "setup: Dovecots"; t_done; }

# line RE FILE: the number of the first line of FILE matching RE, or a
# number past every line.
line() {
	local n
	n=$(grep -n -m1 -E "$1" "$2" | cut -d: -f1)
	echo "${n:-999999}"
}
# before NAME RE1 RE2 FILE: a line matching RE1 comes before the first
# one matching RE2, both there.
before() {
	local a b
	a=$(line "$2" "$4")
	b=$(line "$3" "$4")
	if [ "$a" = 999999 ] || [ "$b" = 999999 ]; then
		t_fail "$1" "no line matches /$2/ or /$3/ in $4"
	elif [ "$a" -lt "$b" ]; then
		t_ok "$1"
	else
		t_fail "$1" "line $a (/$2/) after line $b (/$3/) in $4"
	fi
}

# ---------------------------------------------------------------------
# 1. The two LISTs: each right behind its session's ENABLE, as soon as
# that session logged in, whatever the other one is at (so the local
# LIST may well be answered before the remote session logged in).
pair_apply l A <<'EOF'
create | a
create | b
EOF
pair_apply r A <<'EOF'
create | c
EOF
pair_run ours A list --debug
t_eq "LIST: status" "$?" 0
before "LIST: the local LIST is sent before ENABLE's reply" \
	'^local: C: [0-9]+ LIST "" \* RETURN' '^local: S: \* ENABLED' "$T/list.err"
before "LIST: the remote LIST is sent before ENABLE's reply" \
	'^remote: C: [0-9]+ LIST "" \* RETURN' '^remote: S: \* ENABLED' "$T/list.err"
t_grep "LIST: the local delimiter, as before" '^local: Using "/" as hierarchy delimiter$' "$T/list.err"
t_grep "LIST: the remote delimiter, as before" '^remote: Using "/" as hierarchy delimiter$' "$T/list.err"

# ---------------------------------------------------------------------
# 3. The mailbox list: the CREATEs of the next names go before the first
# one's reply; the lines are the reference's, in its order.
pair_apply l A <<'EOF'
create | d
create | e
create | f
EOF
pair_run ours A create --debug
t_eq "CREATE: status" "$?" 0
before "CREATE: the last one is sent before the first one's reply" \
	'^remote: C: [0-9]+ CREATE f$' '^remote: S: [0-9]+ OK .*Create' "$T/create.err"
t_eq "CREATE: the lines, in the reference's order" "$(grep -E 'Created mailbox [def]$' "$T/create.err")" "database: Created mailbox d
remote: Created mailbox d
database: Created mailbox e
remote: Created mailbox e
database: Created mailbox f
remote: Created mailbox f"

# ---------------------------------------------------------------------
# 4. A new mailbox: the first metadata FETCH goes with the SELECT, before
# its reply (the remote one holds messages), traced under the selected
# mailbox's prefix as the reference traces it; the second batch's APPEND
# (two messages of 700 KiB: the reference's batches end at 1 MiB) goes
# before the first one's OK.
big() { # FILE SIZE-KB: a message of about SIZE-KB KiB
	{
		printf 'From: a@example.org\r\nSubject: big %s\r\n\r\n' "$1"
		head -c $(($2 * 1024)) /dev/zero | tr '\0' 'y' | fold -w 76 | sed 's/$/\r/'
	} >"$1"
}
big "$T/b1.eml" 700
big "$T/b2.eml" 700
pair_apply r A <<EOF
create | fresh
append | fresh | $T/b1.eml | $T/b2.eml
EOF
pair_run ours A fresh --debug
t_eq "new mailbox: status" "$?" 0
before "new mailbox: the metadata FETCH goes before the SELECT's reply" \
	'^remote\(fresh\): C: [0-9]+ UID FETCH 1:4294967295 \(MODSEQ FLAGS INTERNALDATE RFC822\.SIZE\)$' \
	'^remote: S: [0-9]+ OK \[READ-WRITE\] Select' "$T/fresh.err"
t_eq "new mailbox: one FETCH of the metadata" "$(grep -c '^remote(fresh): C: [0-9]* UID FETCH 1:4294967295 (MODSEQ' "$T/fresh.err")" 1
t_eq "new mailbox: two batches, as the reference cuts them" \
	"$(grep -E 'Added' "$T/fresh.err")" "local(fresh): Added 1 UID(s) 1 <- 1
local(fresh): Added 1 UID(s) 2 <- 2"
t_eq "new mailbox: the second APPEND goes before the first one's OK" \
	"$(grep -E '^local\(fresh\): (C: [0-9]+ APPEND|S: [0-9]+ OK \[APPENDUID)' "$T/fresh.err" |
		sed -E 's/^[^:]*: ([CS]): .*/\1/' | tr -d '\n')" CCSS
# The local pass's FETCH (the UIDs the copies did not take) goes behind
# the last APPEND, before its OK.
before "new mailbox: the next pass's FETCH goes before the last APPEND's OK" \
	'^local\(fresh\): C: [0-9]+ UID FETCH 3:4294967295 \(MODSEQ FLAGS INTERNALDATE RFC822\.SIZE\)$' \
	'^local\(fresh\): S: [0-9]+ OK \[APPENDUID [0-9]+ 2\]' "$T/fresh.err"
t_eq "new mailbox: that FETCH once" "$(grep -c '^local(fresh): C: [0-9]* UID FETCH' "$T/fresh.err")" 1

# ---------------------------------------------------------------------
# 2. The logins: the remote session is opened while the local tunnel has
# not greeted yet. The local tunnel waits (at most 10 s) for a marker
# that the remote tunnel leaves when it starts, then notes whether it
# came: a program opening the sides one after the other starts the remote
# tunnel only after the local greeting, and the local one notes a
# timeout.
cat >"$T/slow-local.sh" <<EOF
#!/bin/sh
i=0
while [ ! -e "$T/remote-started" ] && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
if [ -e "$T/remote-started" ]; then echo came >"$T/local-saw"; else echo timeout >"$T/local-saw"; fi
exec $AL
EOF
cat >"$T/mark-remote.sh" <<EOF
#!/bin/sh
touch "$T/remote-started"
exec $AR
EOF
chmod +x "$T/slow-local.sh" "$T/mark-remote.sh"
tunnel_conf "$T/L.conf" "$T/L.db" "$T/slow-local.sh" "$T/mark-remote.sh"
rm -f "$T/remote-started" "$T/local-saw"
pair_run ours L login --debug
t_eq "login: status" "$?" 0
t_eq "login: the remote tunnel started before the local greeting" "$(cat "$T/local-saw" 2>/dev/null)" came
t_grep "login: local ENABLE" '^local: C: [0-9]+ ENABLE QRESYNC$' "$T/login.err"
t_grep "login: remote ENABLE" '^remote: C: [0-9]+ ENABLE QRESYNC$' "$T/login.err"
# A local failure is all the reference would have met: nothing of the
# remote side, even though it was opened too.
cat >"$T/bad-local.sh" <<EOF
#!/bin/sh
echo '* BYE go away'
EOF
chmod +x "$T/bad-local.sh"
tunnel_conf "$T/B.conf" "$T/B.db" "$T/bad-local.sh" "$T/mark-remote.sh"
pair_run ours B badlocal
t_eq "local failure: status 1" "$?" 1
t_eq "local failure: its line alone" "$(cat "$T/badlocal.err")" "local: ERROR: server refused the connection: go away"

t_done
