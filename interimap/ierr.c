#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ierr.h"
#include "ilog.h"
#include "log.h"

int
ierr_fail(struct ierr *ie, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ie->e.msg, sizeof(ie->e.msg), fmt, ap);
	va_end(ap);
	ie->e.kind = ERR_REFUSED;
	ie->who = who;
	ie->status = 1;
	ie->bare = false;
	return -1;
}

int
ierr_die(struct ierr *ie, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ie->e.msg, sizeof(ie->e.msg), fmt, ap);
	va_end(ap);
	ie->e.kind = kind;
	ie->who = NULL;
	ie->status = err_exitcode(kind);
	ie->bare = true;
	return -1;
}

int
ierr_wrap(struct ierr *ie, const char *who, const struct err *e)
{
	const char *m = e->msg;
	size_t n = who ? strlen(who) : 0;

	if (who && strncmp(m, who, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;
	if (m != ie->e.msg)
		memmove(ie->e.msg, m, strlen(m) + 1);
	ie->e.kind = e->kind;
	ie->who = who;
	ie->bare = false;
	/* The reference's client fails on whatever goes wrong with its
	 * server (a tunnel that cannot start, missing credentials...). */
	if (who) {
		ie->status = 1;
		return -1;
	}
	switch (e->kind) {
	case ERR_TEMP:
	case ERR_PROTO:
	case ERR_AUTH:
	case ERR_REFUSED:
		ie->status = 1;
		break;
	default:
		ie->status = err_exitcode(e->kind);
		break;
	}
	return -1;
}

int
ierr_logged(struct ierr *ie, const struct err *e)
{
	ie->e = *e;
	ie->who = NULL;
	ie->status = 1;
	ie->bare = false;
	ie->logged = true;
	return -1;
}

void
ierr_report(const struct ierr *ie)
{
	if (ie->logged)
		return;
	if (ie->bare)
		log_at(LOG_NOTICE, NULL, "%s", ie->e.msg);
	else
		log_at(LOG_ERROR, ilog_prefix(ie->who, NULL), "%s", ie->e.msg);
}
