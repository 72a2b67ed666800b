#ifndef INTERIMAP_ILOG_H
#define INTERIMAP_ILOG_H

/* interimap's log lines: the log-prefix format of the configuration file,
 * and the logfile, both as the reference has them. Lines themselves are
 * written by common/log.c (log_at(level, ilog_prefix(...), ...)); this
 * module tells it that prefixes are complete (no ": " added) and gives it
 * the logfile as a second destination.
 *
 * log-prefix: a format in which
 *   %n        is the name of the side ("local", "remote", "database"), or
 *             nothing;
 *   %m        is the mailbox the line is about, or nothing;
 *   %%        is '%';
 *   %?X?A?    is A when %X is not empty, nothing otherwise;
 *   %?X?A&B?  is A when %X is not empty, B otherwise;
 *   \& \? \\  are '&', '?' and '\'.
 * X is any ASCII letter (only n and m are ever non-empty). A and B are
 * made of bytes other than % & ? \, of '%' followed by anything but '?'
 * (kept as is: "%x" stays "%x"), of the escapes above, and of nested
 * conditionals. A conditional that does not read that way is printed as
 * is. Conditionals are resolved from the outside in (the chosen branch's
 * own conditionals next), then the escapes, then %n %m %%, each in one
 * left-to-right pass: "\%n" is "\" and the name, "%%n" is "%n".
 * Conditionals nested deeper than ILOG_MAX_DEPTH are read from the
 * inside out over more passes, which bounds the recursion (the reference
 * has no limit; well-formed formats give the same result).
 * The default format gives "local(INBOX): ", "local: ", or nothing. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "err.h"

#define ILOG_DEFAULT_FORMAT "%?n?%?m?%n(%m)&%n?: ?"
#define ILOG_MAX_DEPTH 32

/* The prefix fmt gives for name and mailbox (NULL or "" for nothing).
 * Allocated; caller frees. */
char *ilog_render(const char *fmt, const char *name, const char *mailbox);

/* Sets the process's format (copied; NULL: the default) and makes
 * common/log.c write prefixes as they are. */
void ilog_set_format(const char *fmt);

/* ilog_render() with the process's format. Valid until the calling
 * thread's next call (each thread has its own: lanes.h). */
const char *ilog_prefix(const char *name, const char *mailbox);
/* Frees what ilog_prefix() keeps for the calling thread, before it
 * ends. */
void ilog_thread_end(void);

/* Opens the logfile: appended to (created 0666 less the umask), closed on
 * exec. From then on every line also goes to it, preceded by
 * ilog_timestamp() and a space; --debug lines and protocol traces go to
 * it only, not to stderr. Returns 0, or -1 with err (ERR_SYS). */
int ilog_open_file(const char *path, struct err *err);
/* Back to stderr only; closes the file. */
void ilog_close_file(void);

/* "Mon DD HH:MM:SS.U" for tv in local time, the reference's format:
 * strftime's "%b %e %H:%M:%S" (C locale), '.', and the microseconds in
 * decimal without leading zeros. Returns the length (< cap), or 0 when it
 * does not fit. */
size_t ilog_timestamp(char *buf, size_t cap, const struct timeval *tv);

#endif
