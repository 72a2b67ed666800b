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
# 1. The two LISTs: the remote one goes before the local one's answer.
pair_apply l A <<'EOF'
create | a
create | b
EOF
pair_apply r A <<'EOF'
create | c
EOF
pair_run ours A list --debug
t_eq "LIST: status" "$?" 0
before "LIST: the remote LIST is sent before the local LIST's reply" \
	'^remote: C: [0-9]+ LIST "" \* RETURN' '^local: S: [0-9]+ OK .*List' "$T/list.err"
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
