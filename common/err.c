#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "err.h"

static void
set(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
	e->kind = kind;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int
err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_sys(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;
	va_start(ap, fmt);
	set(e, kind, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int
err_prefix(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t n;
	va_list ap;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n + 2 < sizeof(e->msg)) {
		memcpy(e->msg + n, ": ", 2);
		n += 2;
		memcpy(e->msg + n, old, sizeof(e->msg) - n - 1);
		e->msg[sizeof(e->msg) - 1] = '\0';
	}
	return -1;
}

void
err_clear(struct err *e)
{
	e->kind = ERR_NONE;
	e->msg[0] = '\0';
}

int
err_exitcode(enum err_kind kind)
{
	switch (kind) {
	case ERR_NONE:
		return 0;
	case ERR_USAGE:
		return EX_USAGE;
	case ERR_CONFIG:
		return EX_CONFIG;
	case ERR_TEMP:
	case ERR_PROTO:
	case ERR_LOCKED:
		return EX_TEMPFAIL;
	case ERR_AUTH:
		return EX_NOPERM;
	case ERR_REFUSED:
	case ERR_DB:
		return EX_UNAVAILABLE;
	case ERR_SYS:
		return EX_OSERR;
	case ERR_INTERNAL:
		break;
	}
	return EX_SOFTWARE;
}
