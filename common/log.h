#ifndef COMMON_LOG_H
#define COMMON_LOG_H

/* Logging to stderr, one line per event, in the reference's format:
 * "PREFIX: message", where the caller says what PREFIX is: the program's
 * identity for the line ("SECTION(MAILBOX)" for pullimap, "local(INBOX)"
 * for interimap), the connection's for the engine (imapc_set_log_prefix).
 * There is no process-wide "current" name or mailbox: two connections log
 * side by side. Debug output (the protocol trace) goes to stderr as
 * well. Control bytes and invalid UTF-8 are escaped in every line. */

#include <stdarg.h>

#include "util.h"

/* 0: normal, 1: --debug, 2: --debug --debug (unredacted credentials). */
extern int log_debug_level;
extern bool log_quiet;

enum log_level {
	LOG_DEBUG,  /* only with --debug */
	LOG_INFO,   /* suppressed by --quiet */
	LOG_NOTICE, /* always shown */
	LOG_WARN,   /* "WARNING: ..." */
	LOG_ERROR,  /* "ERROR: ..." */
};

/* One line "PREFIX: [WARNING: |ERROR: ]message"; prefix NULL or "": no
 * prefix. The ": " is log_set_prefix_sep()'s. */
void log_at(enum log_level level, const char *prefix, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
void log_vat(enum log_level level, const char *prefix, const char *fmt,
    va_list ap) ATTR_PRINTF(3, 0);

/* The last LOG_ERROR line, as printed (prefix included, escaped, without
 * its newline, cut to LOG_LAST_ERROR_MAX - 1 bytes), or "" when there was
 * none: what a program records of how it failed. Valid until the next
 * line. */
#define LOG_LAST_ERROR_MAX 1024
const char *log_last_error(void);

/* The same without a prefix. */
void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);     /* suppressed by --quiet */
void log_notice(const char *fmt, ...) ATTR_PRINTF(1, 2);   /* always shown */
void log_warnx(const char *fmt, ...) ATTR_PRINTF(1, 2);    /* "WARNING: ..." */
void log_errorx(const char *fmt, ...) ATTR_PRINTF(1, 2);   /* "ERROR: ..." */
void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);    /* only with --debug */
/* Protocol trace line: dir is "C" or "S" (or "LC"/"LS" etc.); data need not be
 * NUL-terminated and trailing CRLF is not printed. Only with --debug. */
void log_trace(const char *dir, const char *data, size_t len);
void log_trace_at(const char *prefix, const char *dir, const char *data,
    size_t len);

/* What goes between a non-empty prefix and the message: ": " unless set.
 * interimap sets "": its log-prefix format (ilog.h) writes its own
 * punctuation. sep must stay valid (a literal). */
void log_set_prefix_sep(const char *sep);

/* A second destination for the lines (interimap's logfile). fn gets every
 * line that passes the filters above, escaped as on stderr, without its
 * newline; debug is true for LOG_DEBUG lines and protocol traces. When fn
 * returns true the line does not go to stderr as well. NULL: stderr
 * only. */
typedef bool log_tee_fn(void *ctx, bool debug, const char *line, size_t len);
void log_set_tee(log_tee_fn *fn, void *ctx);

/* Called around each line written to stderr (not those the tee keeps):
 * with before true just before the line, false just after it. For a
 * status line kept on the terminal below the log (interimap's progress
 * line): erased before, drawn again after, so that the log reads as
 * without it. fn must not log. NULL: none. */
typedef void log_stderr_fn(void *ctx, bool before);
void log_set_stderr_hook(log_stderr_fn *fn, void *ctx);

/* Lines held back by the calling thread (interimap's lanes, lanes.h,
 * keep those of a mailbox synced ahead until the mailboxes before it are
 * done, so that the log reads as a sequential run's): fn gets each line
 * that passes the filters, escaped, without its newline (debug: a
 * LOG_DEBUG line or a trace; error: a LOG_ERROR line); when it returns
 * true the line is the caller's to write later with log_put_line(), which
 * writes it as emitted now (log_last_error(), the tee, stderr). The hook
 * is the calling thread's own; NULL: none. */
typedef bool log_hold_fn(void *ctx, bool debug, bool error, const char *line,
    size_t len);
void log_set_hold(log_hold_fn *fn, void *ctx);
void log_put_line(bool debug, bool error, const char *line, size_t len);

#endif
