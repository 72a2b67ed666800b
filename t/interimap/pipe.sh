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

t_done
