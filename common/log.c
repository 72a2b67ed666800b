#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int log_debug_level;
bool log_quiet;
static char *log_name, *log_mailbox;

void
log_set_name(const char *name)
{
	free(log_name);
	log_name = name ? xstrdup(name) : NULL;
}

void
log_set_mailbox(const char *mailbox)
{
	free(log_mailbox);
	log_mailbox = mailbox ? xstrdup(mailbox) : NULL;
}

static void
prefix(FILE *f)
{
	if (log_name && log_mailbox)
		fprintf(f, "%s(%s): ", log_name, log_mailbox);
	else if (log_name)
		fprintf(f, "%s: ", log_name);
}

static void
vlog(const char *what, const char *fmt, va_list ap)
{
	/* One fprintf-equivalent per line, so that concurrent writers to the
	 * same journal do not interleave within a line. */
	char line[2048];
	int n = 0;
	if (log_name && log_mailbox)
		n = snprintf(line, sizeof(line), "%s(%s): ", log_name, log_mailbox);
	else if (log_name)
		n = snprintf(line, sizeof(line), "%s: ", log_name);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	if (what)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s", what);
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

#define DEFINE_LOG(fn, what, cond)                                             \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		if (!(cond))                                                   \
			return;                                                \
		va_start(ap, fmt);                                             \
		vlog(what, fmt, ap);                                           \
		va_end(ap);                                                    \
	}

DEFINE_LOG(log_info, NULL, !log_quiet)
DEFINE_LOG(log_notice, NULL, true)
DEFINE_LOG(log_warnx, "WARNING: ", true)
DEFINE_LOG(log_errorx, "ERROR: ", true)
DEFINE_LOG(log_debug, NULL, log_debug_level > 0)

void
log_trace(const char *dir, const char *data, size_t len)
{
	if (log_debug_level <= 0)
		return;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	prefix(stderr);
	fprintf(stderr, "%s: %.*s\n", dir, (int)len, data);
}
