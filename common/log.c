#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int log_debug_level;
bool log_quiet;

static const char *prefix_sep = ": ";
static log_tee_fn *tee_fn;
static void *tee_ctx;
static log_stderr_fn *stderr_fn;
static void *stderr_ctx;
/* log_set_hold()'s, per thread. */
static _Thread_local log_hold_fn *hold_fn;
static _Thread_local void *hold_ctx;
/* Bytes of text per line, before escaping; longer ones are cut and end in
 * " [...]". Room for a --debug trace of a long response. */
#define LOG_LINE_MAX 4096
/* log_last_error()'s; what_error is how emit() tells an error line. */
static const char what_error[] = "ERROR: ";
static char last_error[LOG_LAST_ERROR_MAX];

void
log_set_prefix_sep(const char *sep)
{
	prefix_sep = sep != NULL ? sep : ": ";
}

void
log_set_tee(log_tee_fn *fn, void *ctx)
{
	tee_fn = fn;
	tee_ctx = ctx;
}

void
log_set_stderr_hook(log_stderr_fn *fn, void *ctx)
{
	stderr_fn = fn;
	stderr_ctx = ctx;
}

void
log_set_hold(log_hold_fn *fn, void *ctx)
{
	hold_fn = fn;
	hold_ctx = ctx;
}

/* Writes line (len bytes, escaped, no newline; line[len] is the caller's
 * to overwrite) as emitted now: log_last_error(), the tee, stderr. */
static void
put(bool debug, bool error, char *line, size_t len)
{
	if (error) {
		size_t n = len < sizeof(last_error) ? len :
		    sizeof(last_error) - 1;
		memcpy(last_error, line, n);
		last_error[n] = '\0';
	}
	if (tee_fn != NULL && tee_fn(tee_ctx, debug, line, len))
		return;
	line[len++] = '\n';
	if (stderr_fn != NULL)
		stderr_fn(stderr_ctx, true);
	fwrite(line, 1, len, stderr);
	if (stderr_fn != NULL)
		stderr_fn(stderr_ctx, false);
}

void
log_put_line(bool debug, bool error, const char *line, size_t len)
{
	char buf[4 * LOG_LINE_MAX + 16];

	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	put(debug, error, buf, len);
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available),
 * RFC 3629 §4, or 0 when there is none or it encodes a C1 control
 * (U+0080-U+009F: 0x9B is a terminal's CSI). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		if (s[0] == 0xC2)
			lo = 0xA0;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		if (s[0] == 0xE0)
			lo = 0xA0; /* overlong */
		else if (s[0] == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		if (s[0] == 0xF0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Writes s (len bytes) to out (cap bytes, NUL-terminated) so that it reads
 * as one line of text: the server's data ends up in log lines, and a CR or
 * LF in it would forge a second journal or syslog line, an ESC would
 * drive the terminal. CR, LF and TAB become \r \n \t, other control bytes,
 * DEL and bytes that are not well-formed UTF-8 \xHH; everything else
 * (backslashes included, as in "\Seen") is kept. Stops at the last escape
 * that fits. Returns the length written. */
static size_t
escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;

	while (i < len) {
		char e[4];
		size_t elen = 0, u = 0;

		if (p[i] >= 0x20 && p[i] < 0x7f)
			u = 1;
		else if (p[i] >= 0x80)
			u = utf8_len(p + i, len - i);
		if (u > 0) {
			if (o + u >= cap)
				break;
			memcpy(out + o, p + i, u);
			o += u;
			i += u;
			continue;
		}
		e[elen++] = '\\';
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\t') {
			e[elen++] = p[i] == '\r' ? 'r' : p[i] == '\n' ? 'n' : 't';
		} else {
			e[elen++] = 'x';
			e[elen++] = hex[p[i] >> 4];
			e[elen++] = hex[p[i] & 15];
		}
		if (o + elen >= cap)
			break;
		memcpy(out + o, e, elen);
		o += elen;
		i++;
	}
	out[o] = '\0';
	return o;
}

/* Prints "PREFIX: ", what and text (len bytes), escaped, as one line: one
 * write per line, so that concurrent writers to the same journal do not
 * interleave within a line. The tee sees the line first. */
static void
emit(bool debug, const char *prefix, const char *what, const char *text,
    size_t len)
{
	char raw[LOG_LINE_MAX], line[4 * LOG_LINE_MAX + 16];
	const size_t cap = sizeof(line) - 8; /* room for " [...]\n" */
	bool cut = len > LOG_LINE_MAX;
	size_t o = 0;
	int n = 0;

	if (prefix && *prefix)
		n = snprintf(raw, sizeof(raw), "%s%s", prefix, prefix_sep);
	if (n < 0 || (size_t)n >= sizeof(raw))
		n = 0;
	/* escape() stays below its cap: o < cap throughout. */
	o = escape(line, cap, raw, (size_t)n);
	if (what)
		o += escape(line + o, cap - o, what, strlen(what));
	if (cut)
		len = LOG_LINE_MAX;
	o += escape(line + o, cap - o, text, len);
	if (cut) {
		memcpy(line + o, " [...]", 6);
		o += 6;
	}
	if (hold_fn != NULL &&
	    hold_fn(hold_ctx, debug, what == what_error, line, o))
		return;
	put(debug, what == what_error, line, o);
}

void
log_vat(enum log_level level, const char *prefix, const char *fmt,
    va_list ap)
{
	char text[LOG_LINE_MAX + 1];
	const char *what = level == LOG_WARN ? "WARNING: " :
	    level == LOG_ERROR ? what_error : NULL;
	int n;

	if ((level == LOG_INFO && log_quiet) ||
	    (level == LOG_DEBUG && log_debug_level <= 0))
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		n = 0;
	/* Longer than LOG_LINE_MAX: emit() sees it and cuts it. */
	emit(level == LOG_DEBUG, prefix, what, text,
	    (size_t)n < sizeof(text) ? (size_t)n : sizeof(text));
}

void
log_at(enum log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vat(level, prefix, fmt, ap);
	va_end(ap);
}

#define DEFINE_LOG(fn, level)                                                  \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vat(level, NULL, fmt, ap);                                 \
		va_end(ap);                                                    \
	}

DEFINE_LOG(log_info, LOG_INFO)
DEFINE_LOG(log_notice, LOG_NOTICE)
DEFINE_LOG(log_warnx, LOG_WARN)
DEFINE_LOG(log_errorx, LOG_ERROR)
DEFINE_LOG(log_debug, LOG_DEBUG)

void
log_trace_at(const char *prefix, const char *dir, const char *data,
    size_t len)
{
	char what[32];

	if (log_debug_level <= 0)
		return;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	snprintf(what, sizeof(what), "%s: ", dir);
	emit(true, prefix, what, data, len);
}

void
log_trace(const char *dir, const char *data, size_t len)
{
	log_trace_at(NULL, dir, data, len);
}

const char *
log_last_error(void)
{
	return last_error;
}
