#ifndef COMMON_ERR_H
#define COMMON_ERR_H

/* Errors carry their context up to one place (main) that reports them and
 * maps them to an exit status. Functions that can fail take a caller-owned
 * struct err and return -1 after filling it; the message is one line. */

#include "util.h"

enum err_kind {
	ERR_NONE = 0,
	ERR_USAGE,    /* bad command line                        -> 64 EX_USAGE */
	ERR_CONFIG,   /* bad configuration file or value         -> 78 EX_CONFIG */
	ERR_TEMP,     /* network, server down, 4xx: retry later  -> 75 EX_TEMPFAIL */
	ERR_PROTO,    /* server said something we cannot accept  -> 75 EX_TEMPFAIL */
	ERR_AUTH,     /* authentication refused                  -> 77 EX_NOPERM */
	ERR_REFUSED,  /* permanent refusal (5xx, NO on SELECT)   -> 69 EX_UNAVAILABLE */
	ERR_DB,    /* state database or mailbox state problem -> 69 EX_UNAVAILABLE */
	ERR_LOCKED,   /* another instance holds the lock         -> 75 EX_TEMPFAIL */
	ERR_SYS,      /* local system error                      -> 71 EX_OSERR */
	ERR_INTERNAL, /* a bug                                   -> 70 EX_SOFTWARE */
};

struct err {
	enum err_kind kind;
	char msg[1024];
};

/* All return -1 so that callers can write `return err_set(...)`. */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Appends ": strerror(errno)". */
int err_sys(struct err *e, enum err_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Prepends "prefix: " to an already set message, keeping the kind. */
int err_prefix(struct err *e, const char *fmt, ...) ATTR_PRINTF(2, 3);
void err_clear(struct err *e);

/* sysexits(3) status for an error kind. */
int err_exitcode(enum err_kind kind);

#endif
