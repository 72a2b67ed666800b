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
 * prefix. */
void log_at(enum log_level level, const char *prefix, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
void log_vat(enum log_level level, const char *prefix, const char *fmt,
    va_list ap) ATTR_PRINTF(3, 0);

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

#endif
