#!/bin/bash
# interimap's sessions, mailbox lists, --delete and --rename, against
# throw-away Dovecots (preauthenticated tunnels) and side by side with the
# Perl reference (/usr/bin/interimap 0.5.7): each scenario is set up twice,
# identically, "pair A" for ours and "pair B" for the reference, and the
# two must end with the same mailboxes and subscriptions on the servers,
# the same `mailboxes` table (names and subscriptions: idx depends on the
# reference's hash order) and the same log lines. Mailboxes stay empty:
# the reference also synchronises messages, which ours does not do yet
# (a run that would need it ends with status 1 and says so).
. "$(dirname "$0")/../lib/common.sh"
. "$T_LIB/dovecot.sh"
. "$T_LIB/interimap.sh"

t_init interimap-list
t_need_interimap
dovecot_available || t_skip_all "dovecot not installed"
command -v sqlite3 >/dev/null || t_skip_all "no sqlite3 command"
PERL=$INTERIMAP_PERL
if [ -x "$PERL" ]; then have_ref=1; else have_ref=0; t_log "no $PERL: checking ours only"; fi

# server NAME [EXTRA-CONF]: a Dovecot in $T/NAME, its tunnel in $NAME_T
# (NAME: letters and digits).
server() {
	DOVECOT_EXTRA_CONF=${2:-} dovecot_init "$T/$1" >/dev/null ||
		{ t_fail "Dovecot $1"; t_done; }
	printf -v "${1}_T" '%s' "$DOVECOT_TUNNEL"
}
it() { # TUNNEL imaptool-ARGS...
	local tun=$1
	shift
	IMAP_TUNNEL=$tun imap_tool "$@"
}
sub() { it "$1" raw "SUBSCRIBE \"$2\"" >/dev/null; }
unsub() { it "$1" raw "UNSUBSCRIBE \"$2\"" >/dev/null; }
# ours CONF OUT ARGS... / theirs CONF OUT ARGS... (the reference): run, keep stderr in
# $T/OUT.err, return the status.
ours() {
	local c=$1 o=$2
	shift 2
	timeout 60 "$INTERIMAP" --config="$c" "$@" >"$T/$o.out" 2>"$T/$o.err"
}
theirs() {
	local c=$1 o=$2
	shift 2
	timeout 60 "$PERL" --config="$c" "$@" >"$T/$o.out" 2>"$T/$o.err"
}
# lines OUT: the log lines that both programs must print alike (not the
# traffic summaries), sorted.
lines() { ilog_lines "$T/$1.err"; }

# ---------------------------------------------------------------------
# 1. First run: mailboxes and subscriptions both ways, ours and the
# reference on identical pairs.
server al; server ar; server bl; server br
populate() { # LOCAL REMOTE
	local l=$1 r=$2
	it "$l" create foo/bar && sub "$l" foo/bar &&
	it "$l" create "sp ace" && it "$l" create a/b/c &&
	it "$r" create c && sub "$r" c && it "$r" create d &&
	it "$l" create both && it "$r" create both && sub "$r" both &&
	it "$l" create "mél" && sub "$l" INBOX
}
populate "$al_T" "$ar_T" && populate "$bl_T" "$br_T" || t_fail "populate"
tunnel_conf "$T/a.conf" "$T/a.db" "$al_T" "$ar_T"
tunnel_conf "$T/b.conf" "$T/b.db" "$bl_T" "$br_T"

ours "$T/a.conf" a1
t_eq "first run: status 0" "$?" 0
t_grep "first run: schema line, unprefixed" "^Creating new schema in database file $T/a.db\$" "$T/a1.err"
t_grep "first run: database line" '^database: Created mailbox foo/bar$' "$T/a1.err"
t_grep "first run: created on the other side" '^remote: Created mailbox foo/bar$' "$T/a1.err"
t_grep "first run: subscribed there" '^remote: Subscribe to foo/bar$' "$T/a1.err"
t_grep "first run: remote-only to local" '^local: Created mailbox c$' "$T/a1.err"
t_grep "first run: on both, subscribed on one" '^local: Subscribe to both$' "$T/a1.err"
t_grep "first run: modified UTF-7 kept" '^remote: Created mailbox m&AOk-l$' "$T/a1.err"
t_grep "first run: only the leaf is created" '^remote: Created mailbox a/b/c$' "$T/a1.err"
t_no_grep "first run: not the parents" 'Created mailbox a(/b)?$' "$T/a1.err"
t_grep "traffic: local, uncompressed" '^local: IMAP traffic \(bytes\): recv [0-9.]+K? sent [0-9.]+K?$' "$T/a1.err"
t_grep "traffic: remote, compressed" '^remote: IMAP traffic \(bytes\): recv [0-9.]+K? \(compr\. [0-9.]+K?, factor [0-9]\.[0-9]{2}\) sent ' "$T/a1.err"
t_eq "traffic: local then remote, last" "$(tail -n 2 "$T/a1.err" | cut -d: -f1 | tr '\n' ' ')" "local remote "
t_eq "both sides hold the same names" "$(imap_names "$al_T")" "$(imap_names "$ar_T")"
t_eq "eight mailboxes" "$(imap_names "$al_T" | wc -l)" 8
t_eq "subscriptions: INBOX both c both foo/bar" "$(imap_names "$ar_T" | awk '$NF == "S" { print $1 }' | tr '\n' ' ')" "INBOX both c foo/bar "
t_eq "database: a/b/c stored with NULs" "$(sqlite3 "$T/a.db" "SELECT count(*) FROM mailboxes WHERE hex(mailbox) = '6100620063'")" 1

if [ $have_ref = 1 ]; then
	theirs "$T/b.conf" b1
	t_eq "reference: first run" "$?" 0
	t_eq "same log lines as the reference" "$(lines a1)" "$(lines b1)"
	t_eq "same local names as the reference's" "$(imap_names "$al_T")" "$(imap_names "$bl_T")"
	t_eq "same remote names as the reference's" "$(imap_names "$ar_T")" "$(imap_names "$br_T")"
	t_eq "same mailboxes table as the reference's" "$(db_mailboxes "$T/a.db")" "$(db_mailboxes "$T/b.db")"
fi

ours "$T/a.conf" a2
t_eq "second run: status 0" "$?" 0
t_eq "second run: nothing to do" "$(lines a2)" ""

# -q: what the reference keeps (notes §1.1 -q).
ours "$T/a.conf" aq -q
t_eq "-q: nothing to say" "$(cat "$T/aq.err")" ""

# ---------------------------------------------------------------------
# 2. On the reference's database (message states written by it), nothing
# to do: status 0, no change; then a new message makes one mailbox dirty.
if [ $have_ref = 1 ]; then
	sqlite3 "$T/b.db" .dump >"$T/b.before"
	ours "$T/b.conf" b2
	t_eq "after the reference: nothing to do, status 0" "$?" 0
	t_eq "after the reference: no line but the traffic" "$(lines b2)" ""
	sqlite3 "$T/b.db" .dump >"$T/b.after"
	t_same_file "after the reference: database unchanged" "$T/b.before" "$T/b.after"
	genmail --count 1 --out "$T/mail" --sizes small --seed list >/dev/null || t_fail genmail
	it "$br_T" append c "$T"/mail/*.eml || t_fail "append"
	ours "$T/b.conf" b3 --debug
	t_eq "a new message: status 0" "$?" 0
	t_grep "a new message: copied to local" '^local\(c\): Added 1 UID\(s\) [0-9]+ <- [0-9]+$' "$T/b3.err"
	t_grep "--debug: the reference's trace prefix" '^local: C: [0-9]+ ENABLE QRESYNC$' "$T/b3.err"
	t_no_grep "no LOGOUT (as the reference)" 'C: [0-9]+ LOGOUT' "$T/b3.err"
	theirs "$T/b.conf" b4
	t_eq "the reference has nothing left to do" "$?" 0
	t_eq "the reference agrees: nothing to do" "$(lines b4)" ""

	# Subscriptions of known mailboxes, one side changed.
	unsub "$br_T" c
	sub "$bl_T" "sp ace"
	unsub "$bl_T" both; unsub "$br_T" both
	ours "$T/b.conf" b5
	t_eq "subscriptions: status 0" "$?" 0
	t_eq "subscriptions: carried over" "$(lines b5)" "local: Unsubscribe to c
remote: Subscribe to sp ace"
	t_eq "subscriptions: both sides agree" "$(imap_names "$bl_T")" "$(imap_names "$br_T")"
	t_eq "subscriptions: database follows" "$(sqlite3 "$T/b.db" "SELECT mailbox, subscribed FROM mailboxes WHERE mailbox IN (CAST('c' AS BLOB), CAST('sp ace' AS BLOB), CAST('both' AS BLOB)) ORDER BY mailbox" | tr '\n' ' ')" "both|0 c|0 sp ace|1 "
	theirs "$T/b.conf" b6
	t_eq "subscriptions: the reference sees nothing to do" "$(lines b6)" ""

	# A known mailbox gone from one side: refused, nothing changed
	# (even what comes before it).
	it "$bl_T" delete d
	it "$br_T" create aaa
	sqlite3 "$T/b.db" .dump >"$T/b.before"
	ours "$T/b.conf" b7
	t_eq "one side only: status 1" "$?" 1
	t_eq "one side only: the reference's words" "$(lines b7)" 'database: ERROR: Mailbox d exists. Run `interimap --target=database --delete d` to delete.'
	sqlite3 "$T/b.db" .dump >"$T/b.after"
	t_same_file "one side only: database unchanged" "$T/b.before" "$T/b.after"
	t_eq "one side only: nothing created before it" "$(imap_names "$bl_T" | grep -c '^aaa ')" 0
	theirs "$T/b.conf" b8
	t_eq "one side only: the reference fails too" "$?" 1
	t_grep "one side only: with the same line" '^database: ERROR: Mailbox d exists\. Run `interimap --target=database --delete d` to delete\.$' "$T/b8.err"
	ours "$T/b.conf" b9 --target=database --delete d
	t_eq "--target=database --delete: status 0" "$?" 0
	t_eq "--target=database --delete: the database only" "$(lines b9)" "database: Removed mailbox d"
	t_eq "--target=database --delete: remote keeps it" "$(imap_names "$br_T" | grep -c '^d ')" 1
	ours "$T/b.conf" b10
	t_grep "then recreated from the other side" '^local: Created mailbox d$' "$T/b10.err"
	theirs "$T/b.conf" b10p

	# A mailbox deleted and created again: its UIDs mean other
	# messages now.
	old=$(it "$br_T" uidvalidity both)
	it "$br_T" delete both && it "$br_T" create both || t_fail "recreate both"
	new=$(it "$br_T" uidvalidity both)
	ours "$T/b.conf" b12
	t_eq "UIDVALIDITY changed: status 1" "$?" 1
	t_eq "UIDVALIDITY changed: the reference's words" "$(lines b12)" "remote: ERROR: UIDVALIDITY changed! ($new != $old)  Need to invalidate the UID cache for both."
	theirs "$T/b.conf" b13
	t_eq "UIDVALIDITY changed: the reference too" "$?:$(lines b13)" "1:$(lines b12)"
	ours "$T/b.conf" b14 --target=database --delete both
	theirs "$T/b.conf" b15
	t_eq "UIDVALIDITY changed: a new start after --target=database --delete" "$?" 0
fi

# ---------------------------------------------------------------------
# 3. --delete and --rename, on pair A (ours) and pair B (reference).
both() { # FUNCTION ARGS...: on both pairs
	"$@" "$al_T" "$ar_T" a
	[ $have_ref = 1 ] && "$@" "$bl_T" "$br_T" b
	return 0
}
mk_tree() {
	for m in r r/s r/s/t x y p p/q gone; do it "$1" create "$m" || return 1; done
	it "$2" create x
}
both mk_tree
if [ $have_ref = 1 ]; then
	# What section 2 did to pair B, on pair A.
	unsub "$ar_T" c; sub "$al_T" "sp ace"; unsub "$al_T" both; unsub "$ar_T" both
	it "$ar_T" create aaa
	theirs "$T/b.conf" b11
fi
ours "$T/a.conf" a3
if [ $have_ref = 1 ]; then
	t_eq "pairs alike again: local" "$(imap_names "$al_T")" "$(imap_names "$bl_T")"
	t_eq "pairs alike again: remote" "$(imap_names "$ar_T")" "$(imap_names "$br_T")"
	t_eq "pairs alike again: database" "$(db_mailboxes "$T/a.db")" "$(db_mailboxes "$T/b.db")"
fi

ours "$T/a.conf" d1 --delete INBOX
t_eq "--delete INBOX: status 1" "$?" 1
t_eq "--delete INBOX: the reference's words" "$(lines d1)" "ERROR: INBOX can't be deleted"
ours "$T/a.conf" d2 --delete x inbox
t_eq "--delete x inbox: refused before x is deleted" "$?:$(imap_names "$al_T" | grep -c '^x ')" "1:1"
if [ $have_ref = 1 ]; then
	theirs "$T/b.conf" d3 --delete INBOX
	t_eq "--delete INBOX: the reference fails too" "$?:$(lines d3)" "1:ERROR: INBOX can't be deleted"
fi

run_both() { # NAME ARGS...: ours on A, the reference on B; statuses in $RA $RB
	local n=$1
	shift
	ours "$T/a.conf" "$n-a" "$@"
	RA=$?
	RB=$RA
	if [ $have_ref = 1 ]; then
		theirs "$T/b.conf" "$n-b" "$@"
		RB=$?
	fi
}
same_as_ref() { # NAME: the pairs and databases agree after NAME
	[ $have_ref = 1 ] || return 0
	t_eq "$1: same lines as the reference" "$(lines "$1-a")" "$(lines "$1-b")"
	t_eq "$1: same local names" "$(imap_names "$al_T")" "$(imap_names "$bl_T")"
	t_eq "$1: same remote names" "$(imap_names "$ar_T")" "$(imap_names "$br_T")"
	t_eq "$1: same mailboxes table" "$(db_mailboxes "$T/a.db")" "$(db_mailboxes "$T/b.db")"
}

run_both del-local --target=local --delete x
t_eq "--target=local --delete: status 0" "$RA:$RB" "0:0"
t_eq "--target=local --delete: the reference's line" "$(lines del-local-a)" "local: Deleted mailbox x"
t_eq "--target=local --delete: remote keeps x" "$(imap_names "$ar_T" | grep -c '^x ')" 1
same_as_ref del-local
run_both del-all --delete x y p
t_eq "--delete x y p: status 0" "$RA:$RB" "0:0"
t_eq "--delete x y p: servers and database" "$(lines del-all-a)" "database: Removed mailbox p
database: Removed mailbox x
database: Removed mailbox y
local: Deleted mailbox p
local: Deleted mailbox y
remote: Deleted mailbox p
remote: Deleted mailbox x
remote: Deleted mailbox y"
t_eq "--delete: not recursive (p/q kept)" "$(imap_names "$al_T" | grep -c '^p/q ')" 1
t_eq "--delete: not recursive (p\\0q kept)" "$(sqlite3 "$T/a.db" "SELECT count(*) FROM mailboxes WHERE hex(mailbox) = '700071'")" 1
same_as_ref del-all

run_both ren-exists --rename gone c
t_eq "--rename onto an existing name: status 1" "$RA:$RB" "1:1"
t_eq "--rename onto an existing name: the reference's words" "$(lines ren-exists-a)" 'local: ERROR: Mailbox c exists. Run `interimap --target=local --delete c` to delete.'
t_eq "--rename onto an existing name: nothing renamed" "$(imap_names "$al_T" | grep -c '^gone ')" 1
same_as_ref ren-exists
run_both ren-db --target=local,remote --delete gone
run_both ren-db2 --rename r/s gone
t_eq "--rename onto a name the database knows: status 1" "$RA:$RB" "1:1"
t_eq "--rename onto a name the database knows: the words" "$(lines ren-db2-a)" 'database: ERROR: Mailbox gone exists. Run `interimap --target=database --delete gone` to delete.'
run_both ren-db3 --target=database --delete gone
run_both ren --rename r/s n
t_eq "--rename with children: status 0" "$RA:$RB" "0:0"
t_eq "--rename with children: lines" "$(lines ren-a)" "database: Renamed mailbox r/s to n
local: Renamed mailbox r/s to n
remote: Renamed mailbox r/s to n"
t_eq "--rename with children: the database moved them" "$(sqlite3 "$T/a.db" "SELECT hex(mailbox) FROM mailboxes WHERE hex(mailbox) LIKE '6E%' ORDER BY 1" | tr '\n' ' ')" "6E 6E0074 "
t_eq "--rename with children: servers too" "$(imap_names "$ar_T" | grep '^n' | tr '\n' ' ')" "n - n/t - "
same_as_ref ren
run_both after-ren
# Dovecot keeps listing a mailbox it was asked to DELETE while it has
# children (RFC 3501 §6.3.4 allows either; it cannot be selected, which
# the message sync then fails on, ours as the reference's): p is back as
# new.
t_eq "after --rename: both fail on SELECT p" "$RA:$RB" "1:1"
t_eq "after --rename: p is new again, then its SELECT fails" "$(lines after-ren-a | sed 's/ (0\.[0-9]* + 0\.[0-9]* secs)//')" "database: Created mailbox p
local: ERROR: SELECT \"p\" failed: NO Mailbox doesn't exist: p."
if [ $have_ref = 1 ]; then
	t_grep "after --rename: the reference re-adds p too" '^database: Created mailbox p$' "$T/after-ren-b.err"
	t_eq "after-ren: same local names" "$(imap_names "$al_T")" "$(imap_names "$bl_T")"
	t_eq "after-ren: same remote names" "$(imap_names "$ar_T")" "$(imap_names "$br_T")"
	t_eq "after-ren: same mailboxes table" "$(db_mailboxes "$T/a.db")" "$(db_mailboxes "$T/b.db")"
fi

# ---------------------------------------------------------------------
# 4. Delimiters: "/" locally, "." remotely, and a list-reference.
DOT=$'namespace inbox {\n  separator = .\n}'
server cl; server cr "$DOT"; server dl; server dr "$DOT"
dots() { it "$1" create a/b && it "$2" create x.y && it "$2" create x.z; }
dots "$cl_T" "$cr_T" && dots "$dl_T" "$dr_T" || t_fail "populate dots"
LOCAL_EXTRA="list-reference = perso/" tunnel_conf "$T/c.conf" "$T/c.db" "$cl_T" "$cr_T"
LOCAL_EXTRA="list-reference = perso/" tunnel_conf "$T/d.conf" "$T/d.db" "$dl_T" "$dr_T"
ours "$T/c.conf" c1
t_eq "'/' and '.': status 0" "$?" 0
t_grep "'/' and '.': local name with its delimiter and reference" '^local: Created mailbox perso/x/y$' "$T/c1.err"
t_grep "'/' and '.': database line with the local delimiter" '^database: Created mailbox x/y$' "$T/c1.err"
t_grep "'/' and '.': the remote INBOX under the reference" '^local: Created mailbox perso/INBOX$' "$T/c1.err"
t_eq "'/' and '.': perso/a/b is not ours (outside the reference)" "$(imap_names "$cr_T" | grep -c '^a')" 0
t_eq "'/' and '.': x/y stored as x NUL y" "$(sqlite3 "$T/c.db" "SELECT count(*) FROM mailboxes WHERE hex(mailbox) = '780079'")" 1
if [ $have_ref = 1 ]; then
	theirs "$T/d.conf" d1
	t_eq "'/' and '.': same lines as the reference" "$(lines c1)" "$(lines d1)"
	t_eq "'/' and '.': same mailboxes table" "$(db_mailboxes "$T/c.db")" "$(db_mailboxes "$T/d.db")"
	t_eq "'/' and '.': same local names" "$(imap_names "$cl_T")" "$(imap_names "$dl_T")"
fi
# list-mailbox with a NUL: the delimiter is asked first on each side.
tunnel_conf "$T/c2.conf" "$T/c2.db" "$cl_T" "$cr_T" 'list-mailbox = "x\0*" INBOX'
ours "$T/c2.conf" c2 --debug
t_grep "list-mailbox NUL: LIST \"\" \"\" first" '^local: C: [0-9]+ LIST "" ""$' "$T/c2.err"
t_grep "list-mailbox NUL: local pattern, quoted as the reference's" '^local: C: [0-9]+ LIST "" \("x/\*" INBOX\) RETURN \(SUBSCRIBED STATUS \(UIDVALIDITY UIDNEXT HIGHESTMODSEQ\)\)$' "$T/c2.err"
t_grep "list-mailbox NUL: remote pattern" '^remote: C: [0-9]+ LIST "" \("x\.\*" INBOX\) RETURN ' "$T/c2.err"
t_grep "list-mailbox NUL: delimiter in the debug output" '^remote: Using "\." as hierarchy delimiter$' "$T/c2.err"

tunnel_conf "$T/c3.conf" "$T/c3.db" "$cl_T" "$cr_T" 'list-select-opts = subscribed'
ours "$T/c3.conf" c3 --debug
t_grep "list-select-opts: sent as the reference sends it" '^local: C: [0-9]+ LIST \(SUBSCRIBED\) "" \* RETURN \(SUBSCRIBED STATUS \(UIDVALIDITY UIDNEXT HIGHESTMODSEQ\)\)$' "$T/c3.err"
ours "$T/c3.conf" c4 --debug --delete zz
t_grep "--delete: LIST of the names, without RETURN or options" '^remote: C: [0-9]+ LIST "" zz$' "$T/c4.err"

# Flat against hierarchical, a mismatching delimiter, NUL in a flat
# namespace: the local side through a filter rewriting LIST replies.
cat >"$T/flat.sh" <<EOF
#!/bin/sh
$al_T | sed -u 's/^\\(\\* LIST ([^)]*)\\) "\\/"/\\1 NIL/'
EOF
cat >"$T/odd.sh" <<EOF
#!/bin/sh
$al_T | sed -u 's/^\\(\\* LIST ([^)]*)\\) "\\/" c\\r\$/\\1 "." c\\r/'
EOF
chmod +x "$T/flat.sh" "$T/odd.sh"
tunnel_conf "$T/f.conf" "$T/f.db" "$T/flat.sh" "$ar_T"
ours "$T/f.conf" f1
t_eq "flat and hierarchical: status 1" "$?" 1
t_eq "flat and hierarchical: the reference's words" "$(lines f1)" 'ERROR: Local and remote namespaces are neither both flat nor both hierarchical (local NIL, remote "/").'
if [ $have_ref = 1 ]; then
	tunnel_conf "$T/fp.conf" "$T/fp.db" "$T/flat.sh" "$ar_T"
	theirs "$T/fp.conf" f2
	t_eq "flat and hierarchical: the reference" "$?:$(grep ERROR "$T/f2.err")" "1:$(grep ERROR "$T/f1.err")"
fi
tunnel_conf "$T/f3.conf" "$T/f3.db" "$T/flat.sh" "$ar_T" 'list-mailbox = "x\0*"'
ours "$T/f3.conf" f3
t_eq "NUL in a flat namespace: status 1" "$?" 1
t_eq "NUL in a flat namespace: the reference's words" "$(grep ERROR "$T/f3.err")" "local: ERROR: Mailbox name contains null characters but the namespace is flat!"
tunnel_conf "$T/o.conf" "$T/o.db" "$T/odd.sh" "$ar_T"
ours "$T/o.conf" o1
t_eq "a name with another delimiter: status 1" "$?" 1
t_eq "a name with another delimiter: the reference's words" "$(grep ERROR "$T/o1.err")" 'local: ERROR: Mailbox c has hierarchy delimiter ".", while "/" was expected.'

# ---------------------------------------------------------------------
# 5. Capabilities (imap_capability replaces the advertised list).
caps() { # NAME CAPS...: a local server advertising CAPS
	server "$1" "imap_capability = $2"
}
caps nolx 'IMAP4rev1 ENABLE QRESYNC UIDPLUS LIST-STATUS'
caps noqr 'IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED LIST-STATUS'
caps noen 'IMAP4rev1 QRESYNC UIDPLUS LIST-EXTENDED LIST-STATUS'
caps nols 'IMAP4rev1 ENABLE QRESYNC UIDPLUS LIST-EXTENDED'
for s in nolx noqr noen nols; do
	tun=${s}_T
	tunnel_conf "$T/$s.conf" "$T/$s.db" "${!tun}" "$ar_T"
done
ours "$T/nolx.conf" nolx
rc=$?
t_eq "no LIST-EXTENDED: dies (non-zero, not 1)" "$(exit_class $rc)" X
t_eq "no LIST-EXTENDED: the reference's words" "$(lines nolx)" "Non LIST-EXTENDED-capable IMAP server."
t_eq "no LIST-EXTENDED: remote never reached" "$(grep -c '^remote:' "$T/nolx.err")" 0
ours "$T/noqr.conf" noqr
t_eq "no QRESYNC: status 1, the reference's words" "$?:$(lines noqr)" "1:local: ERROR: Server did not advertise QRESYNC capability."
ours "$T/noen.conf" noen
t_eq "no ENABLE: status 1, the reference's words" "$?:$(lines noen)" "1:local: ERROR: Server did not advertise ENABLE (RFC 5161) capability."
ours "$T/nols.conf" nols
t_eq "no LIST-STATUS: dies, the reference's words" "$(exit_class $?):$(lines nols)" "X:Non LIST-STATUS-capable IMAP server."
ours "$T/nols.conf" nols2 --notify
t_no_grep "no LIST-STATUS with --notify: not needed" 'LIST-STATUS' "$T/nols2.err"
if [ $have_ref = 1 ]; then
	for s in nolx noqr noen nols; do
		theirs "$T/$s.conf" "p$s"
		rc=$?
		ours "$T/$s.conf" "$s"
		t_eq "$s: same status class and words as the reference" "$(exit_class $?):$(lines "$s")" "$(exit_class $rc):$(lines "p$s")"
	done
fi

# ---------------------------------------------------------------------
# 6. ignore-mailbox (not for command-line names).
server il; server ir
it "$il_T" create Junk/x && it "$il_T" create JunkFood && it "$ir_T" create Junk || t_fail "populate junk"
tunnel_conf "$T/i.conf" "$T/i.db" "$il_T" "$ir_T" 'ignore-mailbox = ^Junk(?:\x00|$)'
ours "$T/i.conf" i1 -q
t_eq "ignore-mailbox: Junk and Junk/x left alone" "$(imap_names "$ir_T" | tr '\n' ' ')" "INBOX - Junk - JunkFood - "
# -q: the reference keeps these (notes §1.1).
t_eq "-q: schema, database and error lines only" "$(cat "$T/i1.err")" "Creating new schema in database file $T/i.db
database: Created mailbox INBOX
database: Created mailbox JunkFood"
ours "$T/i.conf" i2 Junk/x
t_grep "ignore-mailbox: not for command-line names" '^remote: Created mailbox Junk/x$' "$T/i2.err"
t_no_grep "command-line names: nothing else" 'Created mailbox (INBOX|JunkFood|Junk)$' "$T/i2.err"

# ---------------------------------------------------------------------
# 7. One instance at a time: a second one fails at once, before any
# traffic, while the first holds the database. (The first one starts
# both tunnels at once: one directory of markers each.)
hang_tunnel "$T/hang.sh" "$T/hang"
hang_tunnel "$T/hang2.sh" "$T/hang2"
tunnel_conf "$T/h.conf" "$T/h.db" "$T/hang.sh" "$T/hang2.sh"
"$INTERIMAP" --config="$T/h.conf" >"$T/h1.out" 2>"$T/h1.err" &
h_pid=$!
t_cleanup_add "t_kill_pid $h_pid"
wait_until 10 sh -c "ls '$T'/hang/* '$T'/hang2/* >/dev/null 2>&1" || t_fail "first instance starts"
start=$(date +%s%N)
ours "$T/h.conf" h2
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_ne "second instance refused" "$rc" 0
t_grep "second instance: database is locked" 'database is locked' "$T/h2.err"
t_eq "second instance: no connection" "$(ls "$T"/hang | wc -l) $(ls "$T"/hang2 | wc -l)" "1 1"
t_no_grep "second instance: no traffic" 'IMAP traffic' "$T/h2.err"
if [ "$ms" -lt 2000 ]; then t_ok "second instance: at once ($ms ms)"; else t_fail "second instance: at once" "$ms ms"; fi
t_kill_pid "$h_pid"

t_done
