#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "log.h"
#include "progress.h"

struct progress {
	size_t total, done;
	/* The mailboxes under way, oldest first (several with lanes.h). */
	char **mailbox;
	size_t nmailbox, capmailbox;
	uint64_t msgs, bytes;
	bool started;      /* t0 is set */
	uint64_t t0;       /* when the first mailbox began (now_ms()) */
	bool drawn;        /* drawn_at is set */
	uint64_t drawn_at; /* the last drawing */
	bool visible;      /* on the screen (not erased for a log line) */
};

/* NULL while the line is off. */
static struct progress *pg;

/* n with a comma every three digits, as people write counts. */
static void
fmt_count(char *out, size_t cap, uint64_t n)
{
	char d[32];
	int len = snprintf(d, sizeof(d), "%" PRIu64, n);
	size_t o = 0;

	for (int i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = '\0';
}

/* "512 B", "56.7 MB": SI units, as the sizes of RFC822.SIZE are bytes. */
static void
fmt_bytes(char *out, size_t cap, double n)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	size_t u = 0;

	while (n >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%.0f B", n);
	else
		snprintf(out, cap, "%.1f %s", n, units[u]);
}

/* The columns the line may take: one less than the terminal's width, so
 * that the cursor never reaches the last column (where some terminals
 * wrap at once, and "\r" would then go back to the wrong row). */
static size_t
line_cols(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col - 1;
	return 79;
}

/* Copies s to out as the terminal shows it, in at most cols columns:
 * what the locale cannot decode or the terminal would not print (a
 * control character, ESC included: mailbox names are the server's) as
 * '?'. Returns the length written. */
static size_t
fit(char *out, size_t cap, const char *s, size_t cols)
{
	mbstate_t st;
	size_t o = 0, used = 0, len = strlen(s);

	memset(&st, 0, sizeof(st));
	while (len > 0) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, len, &st);
		int w = -1;

		if (n != (size_t)-1 && n != (size_t)-2 && n != 0)
			w = wcwidth(wc);
		if (w < 0) {
			memset(&st, 0, sizeof(st));
			n = 1;
			w = 1;
			if (used + 1 > cols || o + 2 > cap)
				break;
			out[o++] = '?';
		} else {
			if (used + (size_t)w > cols || o + n + 1 > cap)
				break;
			memcpy(out + o, s, n);
			o += n;
		}
		used += (size_t)w;
		s += n;
		len -= n;
	}
	out[o] = '\0';
	return o;
}

static void
put(const char *s, size_t n)
{
	/* A terminal gone: nothing to be done, the log has failed too. */
	if (fwrite(s, 1, n, stderr) != n)
		clearerr(stderr);
}

static void
draw(uint64_t now)
{
	char text[1024], out[2048], msgs[32], bytes[32], rate[32] = "";
	char done[64], more[32] = "";
	const char *cur = pg->nmailbox > 0 ? pg->mailbox[0] : NULL;
	size_t o;

	if (pg->total > 0)
		snprintf(done, sizeof(done), "%zu/%zu mailboxes", pg->done,
		    pg->total);
	else
		snprintf(done, sizeof(done), "%zu mailbox%s", pg->done,
		    pg->done == 1 ? "" : "es");
	fmt_count(msgs, sizeof(msgs), pg->msgs);
	fmt_bytes(bytes, sizeof(bytes), (double)pg->bytes);
	if (pg->started && now - pg->t0 >= 500) {
		fmt_bytes(rate, sizeof(rate) - 3,
		    (double)pg->bytes * 1000 / (double)(now - pg->t0));
		strcat(rate, "/s");
	}
	if (pg->nmailbox > 1)
		snprintf(more, sizeof(more), " +%zu", pg->nmailbox - 1);
	snprintf(text, sizeof(text), "[%s] %s message%s, %s copied%s%s%s%s%s%s",
	    done, msgs, pg->msgs == 1 ? "" : "s", bytes, *rate ? ", " : "",
	    rate, cur ? " (" : "", cur ? cur : "", more, cur ? ")" : "");
	/* Written over the old line, then the rest of that erased: one
	 * write, no blank moment. */
	out[0] = '\r';
	o = 1 + fit(out + 1, sizeof(out) - 5, text, line_cols());
	memcpy(out + o, "\033[K", 3);
	put(out, o + 3);
	pg->visible = pg->drawn = true;
	pg->drawn_at = now;
}

/* Something changed: drawn now, or at the next change once
 * PROGRESS_INTERVAL_MS have passed since the last drawing (force: now). */
static void
update(bool force)
{
	uint64_t now = now_ms();

	if (force || !pg->drawn ||
	    now - pg->drawn_at >= PROGRESS_INTERVAL_MS)
		draw(now);
}

static void
erase(void)
{
	put("\r\033[K", 4);
	pg->visible = false;
}

/* log.c's hook: a log line goes above the status line. Drawn again
 * under the same limit as any change: a burst of log lines costs one
 * erasure each, not a drawing each (until the next change, or the next
 * line once the interval has passed, there is none). */
static void
around_log_line(void *ctx, bool before)
{
	(void)ctx;
	if (pg == NULL)
		return;
	if (before && pg->visible)
		erase();
	else if (!before && pg->drawn && !pg->visible)
		update(false);
}

static void
at_exit(void)
{
	progress_stop();
}

void
progress_start(bool show)
{
	const char *term = getenv("TERM");
	static bool registered;

	if (pg != NULL || !show || !isatty(STDERR_FILENO) || term == NULL ||
	    *term == '\0' || strcmp(term, "dumb") == 0)
		return;
	pg = xcalloc(1, sizeof(*pg));
	log_set_stderr_hook(around_log_line, NULL);
	if (!registered && atexit(at_exit) == 0)
		registered = true;
}

void
progress_total(size_t n)
{
	if (pg == NULL)
		return;
	pg->total = n;
}

void
progress_mailbox(const char *name)
{
	if (pg == NULL)
		return;
	pg->mailbox = xgrow(pg->mailbox, &pg->capmailbox, pg->nmailbox + 1,
	    sizeof(*pg->mailbox));
	pg->mailbox[pg->nmailbox++] = xstrdup(name);
	if (!pg->started) {
		pg->started = true;
		pg->t0 = now_ms();
	}
	update(false);
}

void
progress_mailbox_done(const char *name)
{
	if (pg == NULL)
		return;
	pg->done++;
	/* The first of that name (the same name twice under way: either
	 * one, they look alike). */
	for (size_t i = 0; i < pg->nmailbox; i++) {
		if (strcmp(pg->mailbox[i], name) != 0)
			continue;
		free(pg->mailbox[i]);
		memmove(pg->mailbox + i, pg->mailbox + i + 1,
		    (pg->nmailbox - i - 1) * sizeof(*pg->mailbox));
		pg->nmailbox--;
		break;
	}
	/* The last one: the final figures, however soon after the last. */
	update(pg->total > 0 && pg->done == pg->total);
}

void
progress_copied(size_t n, uint64_t bytes)
{
	if (pg == NULL)
		return;
	pg->msgs += n;
	pg->bytes += bytes;
	update(false);
}

void
progress_stop(void)
{
	if (pg == NULL)
		return;
	if (pg->visible)
		erase();
	log_set_stderr_hook(NULL, NULL);
	for (size_t i = 0; i < pg->nmailbox; i++)
		free(pg->mailbox[i]);
	free(pg->mailbox);
	free(pg);
	pg = NULL;
}
