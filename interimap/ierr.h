#ifndef INTERIMAP_IERR_H
#define INTERIMAP_IERR_H

/* How interimap stops on an error, the reference's two ways, reported in
 * one place (main):
 *  - "fail": one line "[PREFIX]ERROR: text", PREFIX being the component
 *    the error is about ("local", "remote", "database", or none: the
 *    log-prefix format renders it), and exit status 1. The reference
 *    fails so on every IMAP error (a refusal, a lost connection, a
 *    missing capability that ENABLE needs) and on every inconsistency it
 *    refuses to resolve (a known mailbox on one side only, a delimiter
 *    mismatch, --delete INBOX).
 *  - "die": a line of its own and another non-zero status: what the
 *    reference dies with (a server lacking LIST-EXTENDED, UIDPLUS or
 *    LIST-STATUS; the database; the system). Tests can only rely on
 *    "non-zero" there (notes-interimap.md §1.3).
 * Errors of common/ (struct err) are wrapped with ierr_wrap(). */

#include <stdbool.h>

#include "err.h"

struct ierr {
	struct err e;      /* the message (one line) and its kind */
	const char *who;   /* "local", "remote", "database" or NULL; static */
	int status;        /* the exit status */
	bool bare;         /* printed as is, without "ERROR: " */
	bool logged;       /* the line was logged where it happened */
};

/* All return -1. */
/* A fail() of the reference: status 1, "[who: ]ERROR: text". */
int ierr_fail(struct ierr *ie, const char *who, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* A die of the reference: the text alone (no prefix, no "ERROR: "),
 * status err_exitcode(kind). */
int ierr_die(struct ierr *ie, enum err_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* e from common/ about who: a fail (status 1) when who is a side (the
 * reference's client fails on whatever goes wrong with its server), or
 * for IMAP kinds (ERR_TEMP, ERR_PROTO, ERR_AUTH, ERR_REFUSED); else (the
 * database, the system, a bug) the status is err_exitcode(). A message
 * starting with "WHO: " (the engine names itself after its side) loses
 * that start: the prefix says it. */
int ierr_wrap(struct ierr *ie, const char *who, const struct err *e);

/* e was logged already, with its mailbox's prefix (msync does so, as the
 * reference's client): status 1, and ierr_report() says nothing more. */
int ierr_logged(struct ierr *ie, const struct err *e);

/* Logs ie's line (log.h, with the log-prefix format: ilog.h), unless it
 * was logged already. */
void ierr_report(const struct ierr *ie);

#endif
