#ifndef INTERIMAP_CLI_H
#define INTERIMAP_CLI_H

/* interimap's command line, parsed the way the reference's Getopt::Long
 * configuration ("posix_default no_ignore_case gnu_compat bundling
 * auto_version") parses it:
 *  - options stop at the first argument that is not one ("interimap INBOX
 *    --debug" names two mailboxes); "--" ends them and is dropped; "-"
 *    alone is an argument;
 *  - long names are exact and case-sensitive (no abbreviations); "-q" and
 *    "-h" also exist as "--q" and "--h";
 *  - "-qh" bundles; what follows the first letter of a bundle is read as
 *    the next option, "-" + rest, so "-q-debug" is "-q --debug" and "-q-"
 *    is "-q --" (a Getopt::Long quirk, kept: it is what users of the
 *    reference may have in scripts);
 *  - "--config" and "--target" take the next word whatever it is
 *    ("--config --debug" reads the file "--debug"), or "=VALUE";
 *  - "--watch" takes an optional integer: "--watch=N", "--watch=" (0), or
 *    the next word when it is [-+]DIGITS;
 *  - "--version" prints the version and exits 0 at once, even after an
 *    unknown option; every other problem is reported, parsing goes on,
 *    and the short usage follows with status 1.
 * Our messages are worded our way; the exit statuses are the reference's.
 * One option is ours: --status, a command (the reference refuses it as an
 * unknown option, status 1). */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum icli_command {
	ICLI_SYNC,   /* no command: synchronise */
	ICLI_REPAIR, /* --repair [MAILBOX...] */
	ICLI_DELETE, /* --delete MAILBOX... */
	ICLI_RENAME, /* --rename SOURCE DEST */
	ICLI_STATUS, /* --status [MAILBOX...] (ours: istatus.h) */
};

/* --target values, as bits. */
#define ICLI_TARGET_LOCAL    0x1u
#define ICLI_TARGET_REMOTE   0x2u
#define ICLI_TARGET_DATABASE 0x4u
#define ICLI_TARGET_ALL      0x7u

/* Default --watch intervals (seconds): between rounds, and with --notify
 * between NOOPs when no notification arrives. */
#define ICLI_WATCH_DEFAULT  60u
#define ICLI_NOTIFY_DEFAULT 900u
/* Upper bound of --watch=N (not in the reference, which takes any Perl
 * number, negative ones included). */
#define ICLI_WATCH_MAX 2147483647u

struct icli {
	const char *config;   /* --config: the last one given; NULL: none */
	bool quiet;           /* -q, --quiet */
	int debug;            /* --debug, once per occurrence */
	bool watch;           /* --watch or --notify */
	unsigned watch_secs;  /* when watch: N, or the default above */
	bool notify;          /* --notify */
	enum icli_command command;
	unsigned targets;     /* ICLI_TARGET_* bits; ALL without --target */
	/* The MAILBOX arguments, in order; "inbox" in any case is "INBOX".
	 * The array is allocated (icli_free()); the strings are argv's or
	 * static. */
	const char **mailboxes;
	size_t n_mailboxes;
};

/* Parses argv into o (zeroed first). Returns -1 when the program should go
 * on with o; otherwise it has printed what the reference prints and
 * returns the exit status:
 *  - 0 for --help (the long usage, on err) and --version (one line, on
 *    out);
 *  - 1 for a usage error: a message per problem, then the 2-line short
 *    usage, on err: unknown option, a value given to or missing from an
 *    option, --watch=NOT-A-NUMBER (or out of 0..ICLI_WATCH_MAX), two
 *    commands (--status is one), --delete without MAILBOX, --rename
 *    without exactly two, a command with --watch or --notify, --target
 *    without --delete or --rename;
 *  - 64 (EX_USAGE, the reference dies with 255) for a --target value
 *    other than local, remote, database (comma-separated, repeatable) or
 *    an empty list, and for a MAILBOX that is empty or has a byte outside
 *    0x01-0x7F (names are given in modified UTF-7); one line on err.
 * o owns memory only when -1 is returned. */
int icli_parse(struct icli *o, int argc, char *const argv[], FILE *out,
    FILE *err);

/* The usage texts: long (--help) and short (after a usage error). */
void icli_usage(FILE *f);
void icli_usage_short(FILE *f);

/* Frees what icli_parse() allocated; zeroes o. */
void icli_free(struct icli *o);

#endif
