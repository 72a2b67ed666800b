#ifndef COMMON_LOG_H
#define COMMON_LOG_H

/* Logging to stderr, one line per event, in the reference's format:
 * "NAME(MAILBOX): message" once a mailbox is selected, "NAME: message"
 * before. Debug output (the protocol trace) goes to stderr as well. */

#include "util.h"

/* 0: normal, 1: --debug, 2: --debug --debug (unredacted credentials). */
extern int log_debug_level;
extern bool log_quiet;

/* Copies the strings. NULL clears. */
void log_set_name(const char *name);
void log_set_mailbox(const char *mailbox);

void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);     /* suppressed by --quiet */
void log_notice(const char *fmt, ...) ATTR_PRINTF(1, 2);   /* always shown */
void log_warnx(const char *fmt, ...) ATTR_PRINTF(1, 2);    /* "WARNING: ..." */
void log_errorx(const char *fmt, ...) ATTR_PRINTF(1, 2);   /* "ERROR: ..." */
void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);    /* only with --debug */
/* Protocol trace line: dir is "C" or "S" (or "LC"/"LS" etc.); data need not be
 * NUL-terminated and trailing CRLF is not printed. Only with --debug. */
void log_trace(const char *dir, const char *data, size_t len);

#endif
