#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "deliver_p.h"
#include "log.h"
#include "plog.h"

/* A native LMTP client (RFC 2033) over a struct conn (TCP or a Unix
 * socket), every wait bounded by timeout_ms. Body bytes are streamed
 * through the connection's output buffer; the message is never held in
 * memory. */

#define LMTP_IN_MAX 4096 /* RFC 5321 §4.5.3.1.5: reply lines are 512 */
#define LMTP_CHUNK (16 * 1024)

struct lmtp_client {
	struct conn *conn;
	bool pipelining;
	struct buf line; /* the reply line being read */
};

static void
lmtp_close(struct deliver *d)
{
	if (d->lmtp == NULL)
		return;
	conn_free(&d->lmtp->conn);
	buf_free(&d->lmtp->line);
	free(d->lmtp);
	d->lmtp = NULL;
	plog_debug("%s: connection closed", d->server);
}

static int
flush_out(struct lmtp_client *l, struct err *err)
{
	return conn_flush(l->conn, err);
}

static int
put(struct lmtp_client *l, const char *p, size_t n, struct err *err)
{
	return conn_write(l->conn, p, n, err);
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
		    d->server);
	plog_trace("LC", line, (size_t)n);
	memcpy(line + n, "\r\n", 2);
	return put(l, line, (size_t)n + 2, err);
}

/* One line, CRLF or LF terminated, into *line_r (valid until the next
 * read). what is what the reply answers, for messages. */
static int
read_line(struct deliver *d, struct lmtp_client *l, const char *what,
    const char **line_r, size_t *len_r, struct err *err)
{
	int r = conn_read_line(l->conn, &l->line, LMTP_IN_MAX, err);
	if (r < 0)
		return err_prefix(err, "%s: waiting for the reply to %s",
		    d->server, what);
	if (r == 0)
		return err_set(err, ERR_TEMP, "%s: connection closed while "
		    "waiting for the reply to %s", d->server, what);
	*line_r = l->line.data;
	*len_r = l->line.len;
	return 0;
}

/* Reads a whole (multi-line) reply to what ("MAIL", "the greeting"). With
 * caps, notes the LHLO keywords we care about (RFC 2033 §4.1 answers LHLO
 * like EHLO). */
static int
read_reply(struct deliver *d, struct lmtp_client *l, const char *what,
    struct deliver_reply *r, bool caps, struct err *err)
{
	const char *line = NULL;
	size_t len = 0;
	int k;

	deliver_reply_reset(r);
	do {
		if (read_line(d, l, what, &line, &len, err) < 0)
			return -1;
		plog_trace("LS", line, len);
		k = deliver_reply_add(r, line, len);
		if (k < 0)
			return err_set(err, ERR_TEMP, "%s: malformed reply "
			    "to %s: '%.*s'", d->server, what,
			    (int)(len > 200 ? 200 : len), line);
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
	buf_init(&l->line, LMTP_IN_MAX);
	l->conn = d->target.path
	    ? conn_connect_unix(d->target.path, d->timeout_ms, err)
	    : conn_connect_tcp(d->target.host, d->target.port, d->timeout_ms,
		  err);
	if (l->conn == NULL) {
		/* conn says "connect to ADDR: why": the address is in ours. */
		const char *why = strrchr(err->msg, ':');
		char reason[128];

		if (strncmp(err->msg, "connect to ", 11) == 0 && why != NULL) {
			snprintf(reason, sizeof(reason), "%s", why + 1);
			err_set(err, err->kind, "%s: cannot connect:%s",
			    d->server, reason);
		} else {
			err_prefix(err, "%s: cannot connect", d->server);
		}
		buf_free(&l->line);
		free(l);
		return -1;
	}
	d->lmtp = l;
	plog_debug("%s: connected", d->server);
	if (read_reply(d, l, "the greeting", &r, false, err) < 0)
		goto fail;
	/* Problems before MAIL are about the session, not the message: always
	 * temporary, whatever the code says. */
	if (r.code != 220) {
		err_set(err, ERR_TEMP, "%s: greeting: %s", d->server, r.text);
		goto fail;
	}
	if (command(d, l, err, "LHLO %s", d->ehlo) < 0 ||
	    flush_out(l, err) < 0 || read_reply(d, l, "LHLO", &r, true, err) < 0)
		goto fail;
	if (r.code != 250) {
		err_set(err, ERR_TEMP, "%s: LHLO refused: %s", d->server,
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
send_body(struct lmtp_client *l, deliver_read_fn *rd,
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
		/* Line by line with memchr(): only the first byte of each
		 * line needs a look. */
		for (i = start = 0; i < n;) {
			const char *nl;
			if (bol && chunk[i] == '.') {
				if (put(l, chunk + start,
				    (size_t)(i - start), err) < 0 ||
				    put(l, ".", 1, err) < 0)
					goto out;
				start = i;
			}
			nl = memchr(chunk + i, '\n', (size_t)(n - i));
			bol = nl != NULL;
			i = nl ? nl - chunk + 1 : n;
		}
		crlf = chunk[n - 1] == '\n' &&
		    (n >= 2 ? chunk[n - 2] : prev) == '\r';
		prev = chunk[n - 1];
		if (put(l, chunk + start, (size_t)(n - start), err) < 0)
			goto out;
		total += (uint64_t)n;
	}
	snprintf(dbg, sizeof(dbg), "(%llu body bytes)",
	    (unsigned long long)total);
	plog_trace("LC", dbg, strlen(dbg));
	/* An empty body goes out as one empty line, as the reference does. */
	if (total == 0 || !crlf) {
		if (put(l, "\r\n", 2, err) < 0)
			goto out;
	}
	plog_trace("LC", ".", 1);
	ret = put(l, ".\r\n", 3, err) < 0 ? -1 : flush_out(l, err);
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
	    command(d, l, err, "DATA") < 0)) || flush_out(l, err) < 0 ||
	    read_reply(d, l, "MAIL", &mail, false, err) < 0)
		return reused && conn_peer_gone(l->conn) ? 1 : -1;
	/* 421 here: the server closed the idle connection before MAIL. */
	if (mail.code == 421 && reused) {
		err_set(err, ERR_TEMP, "%s: %s", d->server, mail.text);
		return 1;
	}
	if (mail.code / 100 != 2) {
		bad = &mail;
		what = "MAIL";
	}
	if (l->pipelining || !bad) {
		if ((!l->pipelining && (command(d, l, err, "RCPT TO:<%s>",
		    d->rcpt) < 0 || flush_out(l, err) < 0)) ||
		    read_reply(d, l, "RCPT", &rcpt, false, err) < 0)
			return -1;
		if (!bad && rcpt.code / 100 != 2) {
			bad = &rcpt;
			what = "RCPT";
		}
	}
	if (l->pipelining || !bad) {
		if ((!l->pipelining && (command(d, l, err, "DATA") < 0 ||
		    flush_out(l, err) < 0)) ||
		    read_reply(d, l, "DATA", &data, false, err) < 0)
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
		res->sender_refused = bad == &mail;
		/* After a 5xx the connection serves the next message: RSET
		 * (RFC 5321 §4.1.1.5) clears what the server kept. A 4xx
		 * closes it anyway (see deliver.h). */
		if (d->lmtp && bad->code / 100 == 5 &&
		    (command(d, l, err, "RSET") < 0 ||
		    flush_out(l, err) < 0 ||
		    read_reply(d, l, "RSET", &r, false, err) < 0))
			lmtp_close(d);
		return deliver_reply_err(d, bad, what, err);
	}
	if (send_body(l, rd, ctx, res, err) < 0) {
		if (!res->source_failed)
			err_prefix(err, "%s: sending the message", d->server);
		return -1;
	}
	/* RFC 2033 §4.2: one reply per accepted recipient; we have one. */
	if (read_reply(d, l, "the end of data", &r, false, err) < 0)
		return -1;
	deliver_reply_result(&r, res);
	if (r.code / 100 != 2)
		return deliver_reply_err(d, &r, "end of data", err);
	return 0;
}

/* A server closing an idle connection either just closes it or says 421
 * first (RFC 5321 §3.8); either way the connection is readable. */
static bool
idle_closed(struct lmtp_client *l)
{
	return conn_readable(l->conn);
}

int
lmtp_deliver(struct deliver *d, const char *sender, deliver_read_fn *rd,
    void *ctx, struct deliver_result *res, struct err *err)
{
	int r, tries = 0;
	bool reused;

	for (;;) {
		if (d->lmtp && idle_closed(d->lmtp)) {
			plog_debug("%s: idle connection was closed", d->server);
			lmtp_close(d);
		}
		reused = d->lmtp != NULL;
		if (!reused && lmtp_open(d, err) < 0)
			return -1;
		r = transaction(d, reused, sender, rd, ctx, res, err);
		if (r <= 0 || ++tries > 1)
			break;
		plog_debug("%s: %s; reconnecting", d->server, err->msg);
		lmtp_close(d);
	}
	if (r != 0 && d->lmtp && (err->kind != ERR_REFUSED || r > 0 ||
	    res->source_failed)) {
		/* A 4xx reply leaves a healthy connection: say goodbye. */
		struct err ignored;
		if (res->code / 100 == 4 && !res->source_failed &&
		    !conn_peer_gone(d->lmtp->conn))
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
	if (command(d, l, err, "QUIT") < 0 || flush_out(l, err) < 0 ||
	    read_reply(d, l, "QUIT", &r, false, err) < 0)
		ret = -1;
	lmtp_close(d);
	return ret;
}
