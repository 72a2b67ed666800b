#ifndef COMMON_IMAP_TRACE_H
#define COMMON_IMAP_TRACE_H

/* The --debug protocol trace of server responses. */

#include "imap_parse.h"

/* One line in IMAP syntax: quoted strings re-quoted ('"' and '\\'
 * escaped), so that what was valid on the wire reads valid; literals held
 * in memory as {N} and their text quoted the same way (so that it stays
 * on the line), streamed ones (message bodies) as {N}[...]; strings longer
 * than 200 bytes cut, marked "...". Control bytes are left to the log
 * functions, which escape them. Allocated; caller frees. */
char *imap_trace_format(const struct imap_resp *r);

#endif
