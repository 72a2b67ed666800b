#ifndef INTERIMAP_ICONF_H
#define INTERIMAP_ICONF_H

/* interimap's configuration file, read and checked the reference's way:
 *  - the file is --config (default "config"); a relative name is under
 *    $XDG_CONFIG_HOME/interimap/ or ~/.config/interimap/, whose base
 *    directory must exist and whose interimap/ directory is created
 *    (mode 0700) if missing, even when the file then turns out not to
 *    exist;
 *  - INI syntax as common/conf.h reads it; sections [local] and [remote]
 *    are required, others are ignored; keys before any section apply to
 *    both sides, which can override them;
 *  - every key of the default section, [local] and [remote] must be one
 *    of the table in iconf.c: interimap's own keys (below) and the
 *    connection keys of common/imap_conf.h; each value is checked
 *    wherever it is, but interimap's own keys are read from the default
 *    section only (as the reference: "logfile" in [local] is checked,
 *    then ignored), except list-reference, which is per side;
 *  - errors are one line naming FILE:LINE and the key.
 * Deliberate differences: list-mailbox, list-select-opts and
 * ignore-mailbox are parsed (and a bad regular expression reported) when
 * the file is loaded, whatever the command; connection values of the
 * default section that both sides override are not checked. */

#include <stdbool.h>

#include "conf.h"
#include "err.h"
#include "imap_auth.h"
#include "mbfilter.h"

/* Indexes of struct iconf.side[]. */
enum { ICONF_LOCAL, ICONF_REMOTE };
#define ICONF_SIDES 2

struct iconf_side {
	const char *name;           /* "local" or "remote" */
	/* connection options (imap_conf_load()); compress defaults to NO
	 * for local, YES for remote, unless set for that side */
	struct imap_opts imap;
	/* list-reference: a prefix of every name on that side (names that
	 * lack it are not interimap's); "" by default; TEXT-CHARs */
	const char *list_reference;
};

struct iconf {
	struct conf *conf;          /* owns every const string here */
	char *config_path;          /* the file read; allocated */
	struct iconf_side side[ICONF_SIDES];
	/* database: absolute path of the SQLite file; default "HOST.db"
	 * with HOST the remote side's host (localhost by default, tunnels
	 * included); a relative name is under $XDG_DATA_HOME/interimap/ or
	 * ~/.local/share/interimap/, that interimap/ directory created 0700.
	 * Not opened here. Allocated. */
	char *database;
	const char *logfile;        /* absolute path, or NULL */
	const char *log_prefix;     /* ILOG_DEFAULT_FORMAT when unset */
	struct mbfilter filter;     /* list-mailbox, list-select-opts,
	                             * ignore-mailbox */
};

/* Loads config_arg (NULL: "config") into ic. Returns 0, or -1 with err and
 * ic freed and zeroed:
 *  - ERR_CONFIG: an empty name or one with control characters, a missing
 *    XDG base directory, an unreadable file, a syntax error, "FILE: no
 *    such section: local", "FILE:LINE: unknown option KEY", "FILE:LINE:
 *    invalid value for KEY: VALUE (why)" (secrets not echoed);
 *  - ERR_SYS: an interimap/ directory could not be created. */
int iconf_load(const char *config_arg, struct iconf *ic, struct err *err);

/* Frees and zeroes; safe on a zeroed or freed struct. */
void iconf_free(struct iconf *ic);

/* True for the keys a configuration file may hold. */
bool iconf_is_key(const char *key);

#endif
