#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "deliver_p.h"
#include "log.h"

/* A native LMTP client (RFC 2033) on a non-blocking socket: every wait is a
 * poll() bounded by timeout_ms. Body bytes are streamed through a 64 KiB
 * output buffer; the message is never held in memory. */

#define LMTP_OUT_MAX (64 * 1024)
#define LMTP_IN_MAX 4096 /* RFC 5321 §4.5.3.1.5: reply lines are 512 */
#define LMTP_CHUNK (16 * 1024)

struct lmtp_client {
	int fd;
	bool pipelining;
	bool lost; /* EOF or reset seen (not a timeout) */
	size_t in_start, in_end, out_len;
	char in[LMTP_IN_MAX];
	char out[LMTP_OUT_MAX];
};

static void
lmtp_close(struct deliver *d)
{
	if (d->lmtp == NULL)
		return;
	if (d->lmtp->fd >= 0)
		close(d->lmtp->fd);
	free(d->lmtp);
	d->lmtp = NULL;
	log_debug("%s: connection closed", d->method);
}

static int
lost(struct deliver *d, struct lmtp_client *l, const char *what,
    struct err *err)
{
	l->lost = true;
	return err_set(err, ERR_TEMP, "%s: connection closed by the server %s",
	    d->method, what);
}

/* Waits for events on the socket; deadline 0 means none. */
static int
wait_fd(struct deliver *d, int fd, short events, uint64_t deadline,
    struct err *err)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r, ms;

	for (;;) {
		ms = -1;
		if (deadline) {
			uint64_t now = now_ms();
			ms = now >= deadline ? 0 : (int)(deadline - now);
		}
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return err_set(err, ERR_TEMP, "%s: timeout after %d ms",
			    d->method, d->timeout_ms);
		if (errno != EINTR)
			return err_sys(err, ERR_TEMP, "%s: poll", d->method);
	}
}

static uint64_t
deadline(const struct deliver *d)
{
	return d->timeout_ms > 0 ? now_ms() + (uint64_t)d->timeout_ms : 0;
}

static int
sock_connect(struct deliver *d, struct err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const struct sockaddr *sa = (const struct sockaddr *)&sun;
	socklen_t salen = sizeof(sun);
	int fd, e, one = 1;
	socklen_t elen = sizeof(e);

	if (d->target.path) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
		    d->target.path);
	} else {
		e = getaddrinfo(d->target.host, d->target.port, &hints, &ai);
		if (e != 0)
			return err_set(err, ERR_CONFIG, "%s: %s", d->method,
			    gai_strerror(e));
		sa = ai->ai_addr;
		salen = ai->ai_addrlen;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return err_sys(err, ERR_TEMP, "%s: socket", d->method);
	}
	if (ai)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		err_sys(err, ERR_TEMP, "%s: connect", d->method);
		goto fail;
	}
	freeaddrinfo(ai);
	ai = NULL;
	if (wait_fd(d, fd, POLLOUT, deadline(d), err) < 0) {
		err_prefix(err, "connect");
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e != 0) {
		errno = e;
		err_sys(err, ERR_TEMP, "%s: connect", d->method);
		goto fail;
	}
	return fd;
fail:
	freeaddrinfo(ai);
	close(fd);
	return -1;
}

static int
flush_out(struct deliver *d, struct lmtp_client *l, struct err *err)
{
	size_t off = 0;
	ssize_t n;

	while (off < l->out_len) {
		n = send(l->fd, l->out + off, l->out_len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(d, l->fd, POLLOUT, deadline(d), err) < 0)
				return -1;
		} else if (errno == EPIPE || errno == ECONNRESET) {
			return lost(d, l, "while sending", err);
		} else if (errno != EINTR) {
			return err_sys(err, ERR_TEMP, "%s: send", d->method);
		}
	}
	l->out_len = 0;
	return 0;
}

static int
put(struct deliver *d, struct lmtp_client *l, const char *p, size_t n,
    struct err *err)
{
	while (n > 0) {
		size_t k = sizeof(l->out) - l->out_len;
		if (k > n)
			k = n;
		memcpy(l->out + l->out_len, p, k);
		l->out_len += k;
		p += k;
		n -= k;
		if (l->out_len == sizeof(l->out) && flush_out(d, l, err) < 0)
			return -1;
	}
	return 0;
}

static int ATTR_PRINTF(4, 5)
command(struct deliver *d, struct lmtp_client *l, struct err *err,
    const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return err_set(err, ERR_INTERNAL, "%s: command too long",
		    d->method);
	log_trace("LC", line, (size_t)n);
	memcpy(line + n, "\r\n", 2);
	return put(d, l, line, (size_t)n + 2, err);
}

/* One line, CRLF or LF terminated, into *line_r (valid until the next
 * read). */
static int
read_line(struct deliver *d, struct lmtp_client *l, const char **line_r,
    size_t *len_r, struct err *err)
{
	uint64_t dl = deadline(d);
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(l->in + l->in_start, '\n', l->in_end - l->in_start);
		if (nl) {
			*line_r = l->in + l->in_start;
			*len_r = (size_t)(nl + 1 - *line_r);
			l->in_start += *len_r;
			return 0;
		}
		if (l->in_start > 0) {
			memmove(l->in, l->in + l->in_start,
			    l->in_end - l->in_start);
			l->in_end -= l->in_start;
			l->in_start = 0;
		}
		if (l->in_end == sizeof(l->in))
			return err_set(err, ERR_TEMP, "%s: reply line too long",
			    d->method);
		n = recv(l->fd, l->in + l->in_end, sizeof(l->in) - l->in_end,
		    0);
		if (n > 0) {
			l->in_end += (size_t)n;
		} else if (n == 0 || errno == ECONNRESET) {
			return lost(d, l, "while we waited for a reply", err);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(d, l->fd, POLLIN, dl, err) < 0)
				return -1;
		} else if (errno != EINTR) {
			return err_sys(err, ERR_TEMP, "%s: recv", d->method);
		}
	}
}

/* Reads a whole (multi-line) reply. With caps, notes the LHLO keywords we
 * care about (RFC 2033 §4.1 answers LHLO like EHLO). */
static int
read_reply(struct deliver *d, struct lmtp_client *l, struct deliver_reply *r,
    bool caps, struct err *err)
{
	const char *line = NULL;
	size_t len = 0;
	int k;

	deliver_reply_reset(r);
	do {
		if (read_line(d, l, &line, &len, err) < 0)
			return -1;
		log_trace("LS", line, len);
		k = deliver_reply_add(r, line, len);
		if (k < 0)
			return err_set(err, ERR_TEMP, "%s: malformed reply "
			    "'%.*s'", d->method, (int)(len > 200 ? 200 : len),
			    line);
		if (caps && len >= 14 && str_iprefix(line + 4, "PIPELINING") &&
		    (len == 14 || line[14] == '\r' || line[14] == '\n' ||
		    line[14] == ' '))
			l->pipelining = true;
	} while (k == 0);
	return 0;
}

static int
lmtp_open(struct deliver *d, struct err *err)
{
	struct lmtp_client *l;
	struct deliver_reply r;

	l = xcalloc(1, sizeof(*l));
	l->fd = sock_connect(d, err);
	if (l->fd < 0) {
		free(l);
		return -1;
	}
	d->lmtp = l;
	log_debug("%s: connected", d->method);
	if (read_reply(d, l, &r, false, err) < 0)
		goto fail;
	/* Problems before MAIL are about the session, not the message: always
	 * temporary, whatever the code says. */
	if (r.code != 220) {
		err_set(err, ERR_TEMP, "%s: greeting: %s", d->method, r.text);
		goto fail;
	}
	if (command(d, l, err, "LHLO %s", d->ehlo) < 0 ||
	    flush_out(d, l, err) < 0 || read_reply(d, l, &r, true, err) < 0)
		goto fail;
	if (r.code != 250) {
		err_set(err, ERR_TEMP, "%s: LHLO refused: %s", d->method,
		    r.text);
		goto fail;
	}
	return 0;
fail:
	lmtp_close(d);
	return -1;
}

/* Dot-stuffs and sends the body (RFC 5321 §4.5.2: a line starting with '.'
 * gets one more, wherever the chunk boundaries are), then the final
 * CRLF "." CRLF (RFC 5321 §4.1.1.4). A line starts after any LF, not only
 * after CRLF: Dovecot (and Postfix) end lines at a bare LF too, so an
 * unstuffed "\n." would lose its dot and "\n.\r\n" would end the data
 * early and let the rest of the body run as commands (SMTP smuggling). */
static int
send_body(struct deliver *d, struct lmtp_client *l, deliver_read_fn *rd,
    void *ctx, struct deliver_result *res, struct err *err)
{
	char *chunk = xmalloc(LMTP_CHUNK);
	uint64_t total = 0;
	bool bol = true, crlf = false;
	char prev = '\0', dbg[64];
	ssize_t n, i, start;
	int ret = -1;

	while ((n = rd(ctx, chunk, LMTP_CHUNK, err)) != 0) {
		if (n < 0) {
			res->source_failed = 1;
			goto out;
		}
		for (i = start = 0; i < n; i++) {
			if (bol && chunk[i] == '.') {
				if (put(d, l, chunk + start,
				    (size_t)(i - start), err) < 0 ||
				    put(d, l, ".", 1, err) < 0)
					goto out;
				start = i;
			}
			bol = chunk[i] == '\n';
			crlf = bol && prev == '\r';
			prev = chunk[i];
		}
		if (put(d, l, chunk + start, (size_t)(n - start), err) < 0)
			goto out;
		total += (uint64_t)n;
	}
	snprintf(dbg, sizeof(dbg), "(%llu body bytes)",
	    (unsigned long long)total);
	log_trace("LC", dbg, strlen(dbg));
	/* An empty body goes out as one empty line, as the reference does. */
	if (total == 0 || !crlf) {
		if (put(d, l, "\r\n", 2, err) < 0)
			goto out;
	}
	log_trace("LC", ".", 1);
	ret = put(d, l, ".\r\n", 3, err) < 0 ? -1 : flush_out(d, l, err);
out:
	free(chunk);
	return ret;
}

/* Returns 0, -1 with err, or 1 (with err) when a reused connection turned
 * out to be closed before the server answered MAIL: nothing was sent that
 * could be delivered, so the caller may retry on a new connection. */
static int
transaction(struct deliver *d, bool reused, const char *sender,
    deliver_read_fn *rd, void *ctx, struct deliver_result *res,
    struct err *err)
{
	struct lmtp_client *l = d->lmtp;
	struct deliver_reply mail, rcpt, data, r;
	const struct deliver_reply *bad = NULL;
	const char *what = NULL;

	deliver_reply_reset(&rcpt);
	deliver_reply_reset(&data);
	/* RFC 2033 §5 requires PIPELINING of LMTP servers; RFC 2920 §3.1 lets
	 * MAIL, RCPT and DATA go in one write. Without it, one at a time. */
	if (command(d, l, err, "MAIL FROM:<%s>", sender) < 0 ||
	    (l->pipelining && (command(d, l, err, "RCPT TO:<%s>", d->rcpt) < 0 ||
	    command(d, l, err, "DATA") < 0)) || flush_out(d, l, err) < 0 ||
	    read_reply(d, l, &mail, false, err) < 0)
		return reused && l->lost ? 1 : -1;
	/* 421 here: the server closed the idle connection before MAIL. */
	if (mail.code == 421 && reused) {
		err_set(err, ERR_TEMP, "%s: %s", d->method, mail.text);
		return 1;
	}
	if (mail.code / 100 != 2) {
		bad = &mail;
		what = "MAIL";
	}
	if (l->pipelining || !bad) {
		if ((!l->pipelining && (command(d, l, err, "RCPT TO:<%s>",
		    d->rcpt) < 0 || flush_out(d, l, err) < 0)) ||
		    read_reply(d, l, &rcpt, false, err) < 0)
			return -1;
		if (!bad && rcpt.code / 100 != 2) {
			bad = &rcpt;
			what = "RCPT";
		}
	}
	if (l->pipelining || !bad) {
		if ((!l->pipelining && (command(d, l, err, "DATA") < 0 ||
		    flush_out(d, l, err) < 0)) ||
		    read_reply(d, l, &data, false, err) < 0)
			return -1;
		if (!bad && data.code != 354) {
			bad = &data;
			what = "DATA";
		} else if (bad && data.code == 354) {
			/* The server broke RFC 2920 §3.1 (DATA without any
			 * valid recipient): only dropping the connection
			 * ends that data phase safely. */
			lmtp_close(d);
		}
	}
	if (bad) {
		deliver_reply_result(bad, res);
		/* After a 5xx the connection serves the next message: RSET
		 * (RFC 5321 §4.1.1.5) clears what the server kept. A 4xx
		 * closes it anyway (see deliver.h). */
		if (d->lmtp && bad->code / 100 == 5 &&
		    (command(d, l, err, "RSET") < 0 ||
		    flush_out(d, l, err) < 0 ||
		    read_reply(d, l, &r, false, err) < 0))
			lmtp_close(d);
		return deliver_reply_err(d, bad, what, err);
	}
	if (send_body(d, l, rd, ctx, res, err) < 0)
		return -1;
	/* RFC 2033 §4.2: one reply per accepted recipient; we have one. */
	if (read_reply(d, l, &r, false, err) < 0)
		return -1;
	deliver_reply_result(&r, res);
	if (r.code / 100 != 2)
		return deliver_reply_err(d, &r, "end of data", err);
	return 0;
}

/* A server closing an idle connection either just closes it or says 421
 * first (RFC 5321 §3.8); either way the socket is readable. */
static bool
idle_closed(struct lmtp_client *l)
{
	struct pollfd pfd = { .fd = l->fd, .events = POLLIN };

	if (l->in_end > l->in_start)
		return true;
	return poll(&pfd, 1, 0) != 0;
}

int
lmtp_deliver(struct deliver *d, const char *sender, deliver_read_fn *rd,
    void *ctx, struct deliver_result *res, struct err *err)
{
	int r, tries = 0;
	bool reused;

	for (;;) {
		if (d->lmtp && idle_closed(d->lmtp)) {
			log_debug("%s: idle connection was closed", d->method);
			lmtp_close(d);
		}
		reused = d->lmtp != NULL;
		if (!reused && lmtp_open(d, err) < 0)
			return -1;
		r = transaction(d, reused, sender, rd, ctx, res, err);
		if (r <= 0 || ++tries > 1)
			break;
		log_debug("%s: %s; reconnecting", d->method, err->msg);
		lmtp_close(d);
	}
	if (r != 0 && d->lmtp && (err->kind != ERR_REFUSED || r > 0 ||
	    res->source_failed)) {
		/* A 4xx reply leaves a healthy connection: say goodbye. */
		struct err ignored;
		if (res->code / 100 == 4 && !res->source_failed &&
		    !d->lmtp->lost)
			lmtp_quit(d, &ignored);
		lmtp_close(d);
	}
	return r == 0 ? 0 : -1;
}

int
lmtp_quit(struct deliver *d, struct err *err)
{
	struct lmtp_client *l = d->lmtp;
	struct deliver_reply r;
	int ret = 0;

	if (l == NULL)
		return 0;
	if (command(d, l, err, "QUIT") < 0 || flush_out(d, l, err) < 0 ||
	    read_reply(d, l, &r, false, err) < 0)
		ret = -1;
	lmtp_close(d);
	return ret;
}
