#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ilog.h"
#include "log.h"

/* A conditional %?X?THEN&ELSE? found in a format: byte offsets. */
struct cond {
	char var;
	size_t then0, then1;
	bool has_else;
	size_t else0, else1;
};

static size_t cond_at(const char *s, size_t p, int depth, struct cond *c);

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Where a branch starting at p ends: the reference's
 * ((?>([^%&?\\]|%[^?]|\\[&?\\])+)|(?R))*, whose parse is unique (a run
 * stops only where a nested conditional, '&', '?' or a stray '\' or '%'
 * starts), so reading greedily is reading as Perl does. */
static size_t
branch_end(const char *s, size_t p, int depth)
{
	struct cond sub;
	size_t q;

	for (;;) {
		switch (s[p]) {
		case '\0':
		case '&':
		case '?':
			return p;
		case '%':
			if (s[p + 1] == '?') {
				if ((q = cond_at(s, p, depth + 1, &sub)) == 0)
					return p;
				p = q;
			} else if (s[p + 1] == '\0') {
				return p;
			} else {
				p += 2;
			}
			break;
		case '\\':
			if (s[p + 1] != '&' && s[p + 1] != '?' &&
			    s[p + 1] != '\\')
				return p;
			p += 2;
			break;
		default:
			p++;
		}
	}
}

/* The conditional at p: fills c and returns the offset just past it, or
 * 0 when there is none. */
static size_t
cond_at(const char *s, size_t p, int depth, struct cond *c)
{
	if (depth >= ILOG_MAX_DEPTH || s[p] != '%' || s[p + 1] != '?' ||
	    !is_alpha(s[p + 2]) || s[p + 3] != '?')
		return 0;
	c->var = s[p + 2];
	c->then0 = p + 4;
	c->then1 = branch_end(s, c->then0, depth);
	c->has_else = false;
	if (s[c->then1] == '&') {
		c->else0 = c->then1 + 1;
		c->else1 = branch_end(s, c->else0, depth);
		if (s[c->else1] != '?')
			return 0;
		c->has_else = true;
		return c->else1 + 1;
	}
	return s[c->then1] == '?' ? c->then1 + 1 : 0;
}

static const char *
var_value(char var, const char *name, const char *mailbox)
{
	if (var == 'n')
		return name;
	if (var == 'm')
		return mailbox;
	return "";
}

/* One pass over the top-level conditionals; false when there was none. */
static bool
resolve_pass(const char *in, struct buf *out, const char *name,
    const char *mailbox)
{
	bool changed = false;
	struct cond c;
	size_t p = 0, q;

	while (in[p] != '\0') {
		if ((q = cond_at(in, p, 0, &c)) == 0) {
			buf_append(out, in + p, 1);
			p++;
			continue;
		}
		if (*var_value(c.var, name, mailbox) != '\0')
			buf_append(out, in + c.then0, c.then1 - c.then0);
		else if (c.has_else)
			buf_append(out, in + c.else0, c.else1 - c.else0);
		p = q;
		changed = true;
	}
	return changed;
}

char *
ilog_render(const char *fmt, const char *name, const char *mailbox)
{
	struct buf a = BUF_INIT(SIZE_MAX), b = BUF_INIT(SIZE_MAX);
	const char *s;
	char *cur = xstrdup(fmt);

	if (name == NULL)
		name = "";
	if (mailbox == NULL)
		mailbox = "";
	/* Each pass that resolves something makes the text shorter. */
	while (resolve_pass(cur, &a, name, mailbox)) {
		free(cur);
		cur = buf_steal(&a);
	}
	buf_free(&a);

	/* The escapes left, then %n %m %%. */
	for (s = cur; *s != '\0'; s++) {
		if (s[0] == '\\' &&
		    (s[1] == '&' || s[1] == '?' || s[1] == '\\'))
			s++;
		buf_append(&a, s, 1);
	}
	free(cur);
	cur = buf_steal(&a);
	for (s = cur; *s != '\0'; s++) {
		if (s[0] == '%' && (s[1] == 'n' || s[1] == 'm' || s[1] == '%')) {
			buf_appends(&b, s[1] == 'n' ? name :
			    s[1] == 'm' ? mailbox : "%");
			s++;
		} else {
			buf_append(&b, s, 1);
		}
	}
	free(cur);
	return buf_steal(&b);
}

static char *format;
/* The last prefix rendered, for the same name and mailbox: each thread's
 * (lanes.h), valid until that thread's next call. */
static _Thread_local char *last, *last_name, *last_mailbox;

static void
forget_last(void)
{
	free(last);
	free(last_name);
	free(last_mailbox);
	last = last_name = last_mailbox = NULL;
}

void
ilog_thread_end(void)
{
	forget_last();
}

void
ilog_set_format(const char *fmt)
{
	free(format);
	format = xstrdup(fmt != NULL ? fmt : ILOG_DEFAULT_FORMAT);
	forget_last();
	log_set_prefix_sep("");
}

static bool
same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

const char *
ilog_prefix(const char *name, const char *mailbox)
{
	if (format == NULL)
		ilog_set_format(NULL);
	if (last != NULL && same(name, last_name) && same(mailbox, last_mailbox))
		return last;
	forget_last();
	last = ilog_render(format, name, mailbox);
	last_name = xstrdup(name != NULL ? name : "");
	last_mailbox = xstrdup(mailbox != NULL ? mailbox : "");
	return last;
}

size_t
ilog_timestamp(char *buf, size_t cap, const struct timeval *tv)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = tv->tv_sec;
	struct tm tm;
	int n;

	/* Month names by hand: strftime's %b follows LC_TIME. */
	if (localtime_r(&t, &tm) == NULL || tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	n = snprintf(buf, cap, "%s %2d %02d:%02d:%02d.%ld", months[tm.tm_mon],
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv->tv_usec);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static int logfile = -1;

/* log.c's tee: "TIMESTAMP LINE\n" in one write (O_APPEND keeps lines of
 * concurrent writers whole); debug lines stay out of stderr. A failed
 * write is ignored, as the reference ignores it. */
static bool
file_tee(void *ctx, bool debug, const char *line, size_t len)
{
	char ts[64];
	struct timeval tv;
	struct iovec iov[3];
	size_t n;

	(void)ctx;
	gettimeofday(&tv, NULL);
	n = ilog_timestamp(ts, sizeof(ts) - 1, &tv);
	ts[n++] = ' ';
	iov[0].iov_base = ts;
	iov[0].iov_len = n;
	iov[1].iov_base = (void *)(uintptr_t)line;
	iov[1].iov_len = len;
	iov[2].iov_base = (void *)(uintptr_t)"\n";
	iov[2].iov_len = 1;
	if (writev(logfile, iov, 3) < 0) {
		/* nothing to do: stderr still has the line unless debug */
	}
	return debug;
}

int
ilog_open_file(const char *path, struct err *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0)
		return err_sys(err, ERR_SYS, "can't open logfile %s", path);
	ilog_close_file();
	logfile = fd;
	log_set_tee(file_tee, NULL);
	return 0;
}

void
ilog_close_file(void)
{
	if (logfile < 0)
		return;
	log_set_tee(NULL, NULL);
	close(logfile);
	logfile = -1;
}
