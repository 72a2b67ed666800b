#!/bin/bash
# interimap's command line and configuration file, side by side with the
# Perl reference (/usr/bin/interimap 0.5.7): for each command line and
# configuration file of the table, both programs must end in the same
# class of exit status: 0, 1 (usage errors, and the reference's fail()),
# X (any other non-zero: the reference dies with 255 or an errno), or N
# where only "non-zero" is promised (see the comments).
#
# Neither program may reach a server: every configuration either fails
# before connecting or names `type = tunnel` with `command = false`, and
# both run in a network namespace of their own when unshare(1) allows.
# Every valid run therefore ends where the local tunnel closes at once:
# a fail() with status 1, for both.
. "$TOP/t/lib/common.sh"
. "$T_LIB/interimap.sh"
t_init interimap-cli
t_need_interimap
REF=$INTERIMAP_PERL
if [ -x "$REF" ]; then have_ref=1; else have_ref=0; t_log "no $REF: checking ours only"; fi
NONET=()
if unshare -n true 2>/dev/null; then NONET=(unshare -n); fi

mkdir -p "$T/c"
GOOD=$'type = tunnel\ncommand = false\n[local]\n[remote]\n'
conf() { printf '%s' "$2" >"$T/c/$1"; }
conf good "$GOOD"
conf no-remote $'type = tunnel\ncommand = false\n[local]\n'
conf no-local $'type = tunnel\ncommand = false\n[remote]\n'
conf empty ''
conf unknown-default $'bogus = 1\n'"$GOOD"
conf unknown-local $'type = tunnel\ncommand = false\n[local]\nbogus = 1\n[remote]\n'
conf unknown-remote $'type = tunnel\ncommand = false\n[local]\n[remote]\nmailbox = INBOX\n'
conf key-case $'Type = tunnel\n'"$GOOD"
conf compress $'compress = maybe\n'"$GOOD"
conf type $'type = pop3\ncommand = false\n[local]\n[remote]\n'
conf starttls $'STARTTLS = perhaps\n'"$GOOD"
conf username $'username = caf\xc3\xa9\n'"$GOOD"
conf port-tunnel $'port = \n'"$GOOD"
conf logfile-rel $'logfile = interimap.log\n'"$GOOD"
conf logfile-local-rel $'type = tunnel\ncommand = false\n[local]\nlogfile = x.log\n[remote]\n'
conf database-empty $'database =\n'"$GOOD"
conf list-mailbox $'list-mailbox = a"b"\n'"$GOOD"
conf list-mailbox-empty-quoted $'list-mailbox = ""\n'"$GOOD"
conf list-mailbox-ok $'list-mailbox = INBOX "sp ace" "a\\0*"\n'"$GOOD"
conf select-opts $'list-select-opts = (subscribed)\n'"$GOOD"
conf select-opts-ok $'list-select-opts = subscribed\n'"$GOOD"
conf ignore-ok $'ignore-mailbox = ^virtual(?:\\x00|$)\n'"$GOOD"
conf ignore-bad $'ignore-mailbox = ^(virtual\n'"$GOOD"
conf reference-ok $'type = tunnel\ncommand = false\n[local]\nlist-reference = perso/\n[remote]\n'
conf syntax $'type = tunnel\ncommand = false\n[local]\n[remote\n'
conf log-prefix $'log-prefix = [%?n?%n&-?%?m?/%m?] \\& %%\n'"$GOOD"

# prepare DIR MODE: a home for one run. MODE: "nobase" (no ~/.config),
# "none" (base directories, no file), or a configuration name (written
# as ~/.config/interimap/config and ~/.config/interimap/rel).
prepare() {
	local home="$1" mode="$2"
	rm -rf "$home"
	mkdir -p "$home"
	[ "$mode" = nobase ] && return
	mkdir -p "$home/.config" "$home/.local/share"
	[ "$mode" = none ] && return
	mkdir -p "$home/.config/interimap"
	cp "$T/c/$mode" "$home/.config/interimap/config"
	cp "$T/c/$mode" "$home/.config/interimap/rel"
}

# runs PROG HOME ARGS...: exit status, output in HOME.out / HOME.err
runs() {
	local prog="$1" home="$2"
	shift 2
	(cd "$home" && timeout 30 "${NONET[@]}" env -u XDG_CONFIG_HOME -u XDG_DATA_HOME \
		HOME="$home" "$prog" "$@" >"$home.out" 2>"$home.err" </dev/null)
}

fits() { # CLASS WANT
	[ "$1" = "$2" ] || { [ "$2" = N ] && [ "$1" != 0 ]; }
}

N_CASE=0
# row NAME WANT MODE ARGS...: both programs, a fresh home each.
row() {
	local name="$1" want="$2" mode="$3" ours perl co cp
	shift 3
	N_CASE=$((N_CASE + 1))
	prepare "$T/o$N_CASE" "$mode"
	runs "$INTERIMAP" "$T/o$N_CASE" "$@"
	ours=$?
	co=$(exit_class $ours)
	if [ $have_ref = 1 ]; then
		prepare "$T/p$N_CASE" "$mode"
		runs "$REF" "$T/p$N_CASE" "$@"
		perl=$?
		cp=$(exit_class $perl)
	else
		perl=-; cp=$want
	fi
	if fits "$co" "$want" && fits "$cp" "$want"; then
		t_ok "$name: $want (ours $ours, reference $perl)"
	else
		t_fail "$name" "want class $want: ours exited $ours ($(head -c 200 "$T/o$N_CASE.err" | tr '\n' ' ')), reference $perl ($(head -c 200 "$T/p$N_CASE.err" 2>/dev/null | tr '\n' ' '))"
	fi
	LAST_OURS="$T/o$N_CASE"
	LAST_PERL="$T/p$N_CASE"
}

# --- the command line (with a valid configuration: a parse that passes
# ends in 1 for both: the tunnel, see above)
row "--help" 0 good --help
row "-h" 0 good -h
row "-qh bundle" 0 good -qh
row "--h" 0 good --h
row "help before command checks" 0 good --repair --delete --watch --help
row "--version" 0 good --version
row "--version after an unknown option" 0 good --bogus --version
row "--version stops parsing" 0 good --version --bogus
row "unknown option" 1 good --wat=3
row "no abbreviations" 1 good --rep
row "case-sensitive" 1 good --Quiet
row "unknown letter in a bundle" 1 good -qx
row "-d" 1 good -d
row "flag with a value" 1 good --quiet=1
row "--debug=2" 1 good --debug=2
row "--watch=abc" 1 good --watch=abc
row "--config without value" 1 good --config
row "--target without value" 1 good --target
row "help with an error" 1 good --help --bogus
row "two commands" 1 good --repair --delete x
row "--delete without mailbox" 1 good --delete
row "--rename with one" 1 good --rename a
row "--rename with three" 1 good --rename a b c
row "--repair with --watch" 1 good --repair --watch
row "--notify with --delete" 1 good --notify --delete x
row "--watch=0 with --rename" 1 good --watch=0 --rename a b
row "--target without command" 1 good --target=local
row "--target with --repair" 1 good --target=local --repair
# --status is ours: a usage error with another command or --watch here,
# an unknown option there.
row "--status with --repair" 1 good --status --repair
row "--status with --watch" 1 good --status --watch
row "--status with --target" 1 good --status --target=local
row "invalid target" X good --target=foo --delete x
row "empty field in --target" X good --target=local,,remote --delete x
row "non-ASCII mailbox" X good $'caf\xc3\xa9'
row "empty mailbox" X good ""
row "valid run" 1 good
row "options stop at a mailbox" 1 good INBOX --debug
row "-- ends options" 1 good -- --help
row "inbox in any case" 1 good inbox
row "bundle rest as long option" 1 good -q-debug
row "--target repeated" 1 good --target local --target=remote,database --delete x
row "--rename" 1 good --rename a b
row "--repair with mailboxes" 1 good --repair INBOX
row "--config relative" 1 good --config=rel
row "--config absolute" 1 good --config="$T/c/good"
row "--config twice, last wins" 1 good --config=/nonexistent --config=rel
row "--config takes the next word" X good --config --debug
row "--config=" X good --config=
# Both open the database before connecting, and --watch never creates
# it: no run.
row "--watch with no database" N good --watch
row "--notify with no database" N good --notify

# --- the configuration file
row "no ~/.config" X nobase
row "no config file" X none
row "missing [remote]" X no-remote
row "missing [local]" X no-local
row "empty file" X empty
row "unknown key, default section" X unknown-default
row "unknown key in [local]" X unknown-local
row "pullimap key in [remote]" X unknown-remote
row "keys are case-sensitive" X key-case
row "compress = maybe" X compress
row "type = pop3" X type
row "STARTTLS = perhaps" X starttls
row "non-ASCII username" X username
row "empty port" X port-tunnel
row "relative logfile" X logfile-rel
row "relative logfile in [local] (checked there too)" X logfile-local-rel
row "empty database" X database-empty
row "bad list-mailbox" X list-mailbox
row "empty quoted list-mailbox" X list-mailbox-empty-quoted
row "bad list-select-opts" X select-opts
row "syntax error" X syntax
row "valid list-mailbox" 1 list-mailbox-ok
row "valid list-select-opts" 1 select-opts-ok
row "valid ignore-mailbox" 1 ignore-ok
row "list-reference per side" 1 reference-ok
row "custom log-prefix" 1 log-prefix
# Parsed only when used by the reference (listing mailboxes), at load
# time by ours: non-zero both ways.
row "bad ignore-mailbox" N ignore-bad
row "bad list-mailbox with --delete" N list-mailbox --delete x

# --- what was printed and made, for a few of them
prepare "$T/h" good
runs "$INTERIMAP" "$T/h" --help
t_eq "--help: nothing on stdout" "$(cat "$T/h.out")" ""
t_match "--help: usage on stderr" "$(head -n 1 "$T/h.err")" '^Usage: interimap \[OPTIONS\]'
runs "$INTERIMAP" "$T/h" --version
t_match "--version: one line on stdout" "$(cat "$T/h.out")" '^interimap version [0-9]'
t_eq "--version: nothing on stderr" "$(cat "$T/h.err")" ""
runs "$INTERIMAP" "$T/h" --wat
t_eq "usage error: message, then the 2-line usage" "$(wc -l <"$T/h.err")" 3
t_match "usage error: short usage" "$(sed -n 2p "$T/h.err")" '^Usage: interimap \[OPTIONS\] \[COMMAND\]'
runs "$INTERIMAP" "$T/h"
t_eq "valid run: the tunnel's end, as the reference's fail()" "$(cat "$T/h.err")" 'local: ERROR: tunnel command `false` exited with status 1'
t_eq "valid run: database directory made 0700" "$(stat -c %a "$T/h/.local/share/interimap")" 700
t_eq "valid run: database created (0600) before connecting, the status snapshot beside it (0600)" "$(cd "$T/h/.local/share/interimap" && stat -c '%n %a' *)" "localhost.db 600
localhost.db.status 600"
prepare "$T/h" good
runs "$INTERIMAP" "$T/h" --watch
t_match "--watch: no database, no run" "$(cat "$T/h.err")" 'localhost.db: no such database'
t_eq "--watch: nothing created" "$(ls "$T/h/.local/share/interimap")" ""

prepare "$T/h" good
runs "$INTERIMAP" "$T/h" --status
t_eq "--status, no database: status 0" "$?" 0
t_eq "--status, no database: one line" "$(cat "$T/h.out")" "no database yet: $T/h/.local/share/interimap/localhost.db (interimap has not run with this configuration)"
t_eq "--status, no database: nothing on stderr" "$(cat "$T/h.err")" ""
t_eq "--status, no database: none created" "$(ls "$T/h/.local/share/interimap")" ""
: >"$T/h/.local/share/interimap/localhost.db.status"
echo "not a database" >"$T/h/.local/share/interimap/localhost.db"
runs "$INTERIMAP" "$T/h" --status
t_eq "--status, not a database: 69 (EX_UNAVAILABLE)" "$?" 69
t_match "--status, not a database: said on stderr" "$(cat "$T/h.err")" '^interimap: .*localhost\.db: .*not a database'

prepare "$T/h" none
runs "$INTERIMAP" "$T/h"
t_eq "no config file: ~/.config/interimap made 0700" "$(stat -c %a "$T/h/.config/interimap")" 700
t_grep "no config file: named" "/.config/interimap/config" "$T/h.err"

prepare "$T/h" unknown-local
runs "$INTERIMAP" "$T/h"
t_grep "unknown key: FILE:LINE and key" "/\.config/interimap/config:4: unknown option bogus$" "$T/h.err"
prepare "$T/h" ignore-bad
runs "$INTERIMAP" "$T/h"
t_grep "bad regex: PCRE2's message and offset" "config:1: invalid value for ignore-mailbox: \^\(virtual \(PCRE2: missing closing parenthesis at offset 9\)" "$T/h.err"

# logfile: opened (created) by both when in the default section, by
# neither when in [local]; --debug lines go to it, not to stderr.
for who in ours perl; do
	[ $who = perl ] && [ $have_ref = 0 ] && continue
	prog=$INTERIMAP; [ $who = perl ] && prog=$REF
	conf logfile-abs "logfile = $T/$who.log"$'\n'"$GOOD"
	prepare "$T/l$who" logfile-abs
	runs "$prog" "$T/l$who" --debug
	t_match "logfile: created by $who" "$(ls "$T/$who.log" 2>&1)" "^$T/$who.log\$"
	t_grep "logfile: $who's debug line with a timestamp" '^[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,6} >>> interimap ' "$T/$who.log"
	t_no_grep "logfile: $who's debug line not on stderr" '>>> interimap' "$T/l$who.err"
	conf logfile-local "type = tunnel"$'\n'"command = false"$'\n'"[local]"$'\n'"logfile = $T/$who-local.log"$'\n'"[remote]"$'\n'
	prepare "$T/l$who" logfile-local
	runs "$prog" "$T/l$who"
	t_eq "logfile in [local]: ignored by $who" "$(ls "$T/$who-local.log" 2>/dev/null)" ""
done

t_done
