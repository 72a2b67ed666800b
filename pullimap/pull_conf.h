#ifndef PULLIMAP_PULL_CONF_H
#define PULLIMAP_PULL_CONF_H

/* pullimap's configuration: one SECTION of the INI file (plus the default
 * section "_" it inherits), validated, with the reference's defaults. */

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "imap_conf.h"

/* purge-after: at most 100 years back. */
#define PULL_PURGE_MAX_DAYS 36500u

struct pull_conf {
	struct conf *conf;        /* owns every const string below */
	char *config_path;        /* the file read, allocated */
	char *section;            /* allocated copy of the SECTION argument */
	struct imap_opts imap;    /* type, host, port, ... SSL_* */
	/* statefile (default: the section name), made absolute: relative
	 * paths are under $XDG_DATA_HOME/pullimap or
	 * ~/.local/share/pullimap. Allocated. */
	char *statefile;
	const char *mailbox;        /* mailbox, default "INBOX" (ASCII) */
	/* deliver-method, default "smtp:[127.0.0.1]:25"; syntax checked with
	 * deliver_parse_method(). */
	const char *deliver_method;
	const char *deliver_ehlo;   /* deliver-ehlo, default
	                             * "localhost.localdomain" */
	/* deliver-rcpt, default the user name of the effective UID.
	 * Allocated. */
	char *deliver_rcpt;
	/* purge-after = N (days): has_purge_after is false when unset or
	 * empty (the reference ignores an empty value); 0 is a valid value
	 * (purge every message as soon as it is delivered). */
	bool has_purge_after;
	uint32_t purge_after_days; /* <= PULL_PURGE_MAX_DAYS */
};

/* Loads conf_default_path("pullimap", config_path_arg) and validates
 * section. Errors (-1, pc left freed and zeroed):
 *  - ERR_USAGE: section NULL, empty or "_" (the default section is not
 *    an account);
 *  - ERR_CONFIG: unreadable file, syntax error, "FILE: no such section:
 *    NAME", "FILE:LINE: unknown option KEY", invalid values;
 *  - ERR_CONFIG also when deliver-rcpt is unset and the effective UID
 *    has no user name;
 *  - ERR_SYS: $XDG_DATA_HOME/pullimap (or ~/.local/share/pullimap) could
 *    not be created.
 * When statefile is relative, creates that directory (mode 0700, and its
 * missing parents) like the reference, so the caller can create the state
 * file in it. */
int pull_conf_load(const char *config_path_arg, const char *section,
    struct pull_conf *pc, struct err *err);

/* Frees and zeroes; safe on a zeroed or already freed struct. */
void pull_conf_free(struct pull_conf *pc);

#endif
