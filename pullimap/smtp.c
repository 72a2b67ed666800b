#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK /* curl_lazy.h redirects the calls */
#include <curl/curl.h>

#include "curl_lazy.h"
#include "deliver_p.h"
#include "log.h"
#include "plog.h"

/* SMTP through libcurl. One easy handle per struct deliver, so that its
 * connection (one EHLO) serves every message. libcurl dot-stuffs the body
 * and appends the CRLF before the final dot. It never pipelines and it
 * answers a MAIL/RCPT/DATA error with QUIT (the next message reconnects); a
 * non-2xx reply to the final dot keeps the connection. libcurl reports
 * server errors with generic CURLcodes: the reply itself is taken from the
 * protocol trace (CURLOPT_DEBUGFUNCTION). */

struct smtp_client {
	CURL *curl;
	struct curl_slist *rcpts;
	char errbuf[CURL_ERROR_SIZE];

	/* Per message. */
	deliver_read_fn *rd;
	void *ctx;
	struct err *err;
	uint64_t body_bytes;
	bool src_failed, src_done, sent_crlf, traced;
	const char *phase;        /* what the next reply answers */
	const char *step;         /* the same, but for libcurl's QUIT */
	struct deliver_reply cur; /* reply being read */
	struct deliver_reply last;/* last complete reply of this message */
	const char *last_phase;
	char line[1024];          /* a reply line split across callbacks */
	size_t line_len;
	char prev1, prev2;        /* the last two body bytes */
	char *tmp;                /* read_stuffed() */
	size_t tmp_size;
};

static void
trace_body(struct smtp_client *c)
{
	char s[64];

	if (c->src_done && !c->traced) {
		snprintf(s, sizeof(s), "(%llu body bytes)",
		    (unsigned long long)c->body_bytes);
		plog_trace("LC", s, strlen(s));
		plog_trace("LC", ".", 1);
		c->traced = true;
	}
}

static void
server_line(struct smtp_client *c, const char *p, size_t n)
{
	trace_body(c);
	plog_trace("LS", p, n);
	/* libcurl says QUIT after a failed MAIL/RCPT/DATA: keep the reply
	 * that failed, not the 221. */
	if (deliver_reply_add(&c->cur, p, n) == 1 && (c->phase == NULL ||
	    strcmp(c->phase, "QUIT") != 0)) {
		c->last = c->cur;
		c->last_phase = c->phase;
	}
}

static void
client_line(struct smtp_client *c, const char *p, size_t n)
{
	static const char *const verbs[] = { "EHLO", "HELO", "MAIL", "RCPT",
		"DATA", "QUIT", "STARTTLS", "AUTH" };
	size_t i;

	plog_trace("LC", p, n);
	c->phase = "command";
	for (i = 0; i < ARRAY_LEN(verbs); i++) {
		size_t k = strlen(verbs[i]);
		if (n >= k && strncmp(p, verbs[i], k) == 0 &&
		    (n == k || p[k] == ' ' || p[k] == '\r'))
			c->phase = verbs[i];
	}
	/* libcurl says QUIT after a failure: messages name what failed. */
	if (strcmp(c->phase, "QUIT") != 0)
		c->step = c->phase;
}

static int
debug_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp_client *c = arg;
	char *nl;
	size_t n;

	(void)curl;
	if (type == CURLINFO_HEADER_OUT) {
		client_line(c, data, size);
		return 0;
	}
	if (type != CURLINFO_HEADER_IN)
		return 0;
	/* libcurl hands over whole lines, but do not rely on it. */
	while (size > 0) {
		nl = memchr(data, '\n', size);
		n = nl ? (size_t)(nl - data) + 1 : size;
		if (c->line_len + n > sizeof(c->line))
			n = sizeof(c->line) - c->line_len;
		memcpy(c->line + c->line_len, data, n);
		c->line_len += n;
		data += n;
		size -= n;
		if (nl || c->line_len == sizeof(c->line)) {
			server_line(c, c->line, c->line_len);
			c->line_len = 0;
		}
	}
	return 0;
}

/* libcurl dot-stuffs lines that follow CRLF only; a '.' after a bare LF
 * gets its extra dot here, for the reason given in lmtp.c's send_body().
 * Reads at most half of max so that the result always fits. */
static ssize_t
read_stuffed(struct smtp_client *c, char *buf, size_t max)
{
	size_t half = max / 2, i, j;
	ssize_t n;

	if (half == 0) /* libcurl's buffer has at least 16 KiB */
		return err_set(c->err, ERR_INTERNAL, "read buffer too small");
	if (c->tmp_size < half) {
		free(c->tmp);
		c->tmp = xmalloc(half);
		c->tmp_size = half;
	}
	n = c->rd(c->ctx, c->tmp, half, c->err);
	if (n <= 0)
		return n;
	/* Copy line by line; a line that starts with '.' after a bare LF
	 * gets its dot doubled here (libcurl only does it after CRLF). */
	for (i = j = 0; i < (size_t)n;) {
		const char *nl;
		size_t k;
		if (c->tmp[i] == '.' && c->prev1 == '\n' && c->prev2 != '\r')
			buf[j++] = '.';
		nl = memchr(c->tmp + i, '\n', (size_t)n - i);
		k = nl ? (size_t)(nl - (c->tmp + i)) + 1 : (size_t)n - i;
		memcpy(buf + j, c->tmp + i, k);
		j += k;
		i += k;
		c->prev2 = k >= 2 ? c->tmp[i - 2] : c->prev1;
		c->prev1 = c->tmp[i - 1];
	}
	c->body_bytes += (uint64_t)n;
	return (ssize_t)j;
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp_client *c = arg;
	ssize_t n;

	if (c->src_done)
		return 0;
	n = read_stuffed(c, buf, size * nitems);
	if (n < 0) {
		/* libcurl then drops the connection without the final dot:
		 * nothing partial can be accepted. */
		c->src_failed = true;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		/* libcurl would send a zero-line message; the reference (and
		 * our contract) sends one empty line. */
		if (c->body_bytes == 0 && !c->sent_crlf && size * nitems >= 2) {
			c->sent_crlf = true;
			memcpy(buf, "\r\n", 2);
			return 2;
		}
		c->src_done = true;
		c->phase = c->step = "end of data";
	}
	return (size_t)n;
}

static char *
make_url(const struct deliver *d, CURL *curl)
{
	char *ehlo = curl_easy_escape(curl, d->ehlo, 0), *url;
	const char *h = d->target.host;

	if (ehlo == NULL)
		return NULL;
	/* The URL path is the EHLO name (libcurl URL-decodes it). */
	if (d->target.path)
		url = xasprintf("smtp://localhost/%s", ehlo);
	else
		url = xasprintf(strchr(h, ':') ? "smtp://[%s]:%s/%s" :
		    "smtp://%s:%s/%s", h, d->target.port, ehlo);
	curl_free(ehlo);
	return url;
}

static int
smtp_open(struct deliver *d, struct err *err)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	long secs = d->timeout_ms > 0 ? (d->timeout_ms + 999) / 1000 : 0;
	char *rcpt = xasprintf("<%s>", d->rcpt), *url = NULL;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	CURL *h;

	if (curl_lazy_load(err) < 0) {
		free(rcpt);
		free(c);
		return -1;
	}
	c->rcpts = curl_slist_append(NULL, rcpt);
	free(rcpt);
	h = c->curl = curl_easy_init();
	if (h == NULL || c->rcpts == NULL || (url = make_url(d, h)) == NULL)
		goto fail;
	d->smtp = c;
#define SET(opt, val)                                                          \
	if ((rc = curl_easy_setopt(h, opt, val)) != CURLE_OK)                  \
		goto fail;
	SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "smtp");
#else
	SET(CURLOPT_PROTOCOLS, (long)CURLPROTO_SMTP);
#endif
	if (d->target.path)
		SET(CURLOPT_UNIX_SOCKET_PATH, d->target.path);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_VERBOSE, 1L); /* feeds debug_cb, which prints nothing */
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, c);
	SET(CURLOPT_UPLOAD, 1L);
	/* Fewer, larger writes for large bodies (the default is 64 KiB). */
	SET(CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, c);
	SET(CURLOPT_MAIL_RCPT, c->rcpts);
	/* libcurl 7.88 waits forever for a reply by default. The low-speed
	 * limit catches a server that stops reading the body. */
	if (secs > 0) {
		SET(CURLOPT_CONNECTTIMEOUT_MS, (long)d->timeout_ms);
		SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, secs);
		SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SET(CURLOPT_LOW_SPEED_TIME, secs);
	}
#undef SET
	free(url);
	return 0;
fail:
	free(url);
	d->smtp = c;
	smtp_quit(d, err);
	return err_set(err, ERR_INTERNAL, "%s: libcurl setup: %s", d->server,
	    curl_easy_strerror(rc));
}

/* Session-level replies (greeting, EHLO) say nothing about the message:
 * retry later, whatever the code. */
static bool
message_phase(const char *phase)
{
	return phase && (strcmp(phase, "MAIL") == 0 ||
	    strcmp(phase, "RCPT") == 0 || strcmp(phase, "DATA") == 0 ||
	    strcmp(phase, "end of data") == 0);
}

/* What the next reply would have answered, for messages. */
static const char *
phase_name(const char *phase)
{
	if (phase == NULL)
		return "the greeting";
	if (strcmp(phase, "end of data") == 0)
		return "the end of data";
	if (strcmp(phase, "command") == 0)
		return "a command";
	return phase;
}

/* A failure without a server reply to quote, in our words rather than
 * libcurl's ("response reading failed (errno: 115)" for an MTA that went
 * away): the server, the step, what happened. */
static int
no_reply(struct deliver *d, CURLcode rc, struct err *err)
{
	struct smtp_client *c = d->smtp;
	bool sending = (c->body_bytes > 0 || c->sent_crlf) && !c->src_done;
	const char *phase = phase_name(c->step);
	long os_errno = 0;

	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(err, ERR_TEMP, "%s: cannot connect: %s",
		    d->server, os_errno > 0 ? strerror((int)os_errno) :
		    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	case CURLE_OPERATION_TIMEDOUT:
		if (sending)
			return err_set(err, ERR_TEMP, "%s: timed out after "
			    "%d s while sending the message", d->server,
			    (d->timeout_ms + 999) / 1000);
		return err_set(err, ERR_TEMP, "%s: timed out after %d s "
		    "waiting for the reply to %s", d->server,
		    (d->timeout_ms + 999) / 1000, phase);
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_WEIRD_SERVER_REPLY:
		/* libcurl's errno is often a stale EINPROGRESS: only a reset
		 * is worth telling apart. */
		if (sending)
			return err_set(err, ERR_TEMP, "%s: connection %s while "
			    "sending the message", d->server,
			    os_errno == ECONNRESET || os_errno == EPIPE ?
			    "reset" : "closed");
		return err_set(err, ERR_TEMP, "%s: connection %s while "
		    "waiting for the reply to %s", d->server,
		    os_errno == ECONNRESET ? "reset" : "closed", phase);
	default:
		break;
	}
	return err_set(err, ERR_TEMP, "%s: %s", d->server,
	    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
}

static int
classify(struct deliver *d, CURLcode rc, struct deliver_result *res,
    struct err *err)
{
	struct smtp_client *c = d->smtp;
	long code = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		deliver_reply_result(&c->last, res);
		return 0;
	}
	/* CURLcode first: RESPONSE_CODE may be a stale 2xx/3xx after a socket
	 * error (curl/curl#8356). These codes are what libcurl 7.88 returns
	 * for an error reply; the reply must be one from this message. */
	if ((rc == CURLE_SEND_ERROR || rc == CURLE_WEIRD_SERVER_REPLY ||
	    rc == CURLE_REMOTE_ACCESS_DENIED || rc == CURLE_RECV_ERROR) &&
	    c->last.done && c->last.code >= 400 && c->last.code == code) {
		deliver_reply_result(&c->last, res);
		res->sender_refused = c->last_phase &&
		    strcmp(c->last_phase, "MAIL") == 0;
		if (message_phase(c->last_phase))
			return deliver_reply_err(d, &c->last, c->last_phase,
			    err);
		return err_set(err, ERR_TEMP, "%s: %s refused: %s", d->server,
		    c->last_phase ? c->last_phase : "greeting", c->last.text);
	}
	return no_reply(d, rc, err);
}

/* libcurl checks a cached connection for liveness only now and then, so a
 * connection the server closed while idle (silently or after a 421, RFC
 * 5321 §3.8) would fail the next MAIL. A readable idle socket means just
 * that: start afresh. */
static void
drop_if_closed(struct deliver *d)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	struct pollfd pfd;
	struct err ignored;

	if (d->smtp == NULL || curl_easy_getinfo(d->smtp->curl,
	    CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
		return;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 0) {
		plog_debug("%s: idle connection was closed", d->server);
		smtp_quit(d, &ignored);
	}
}

static CURLcode
perform(struct deliver *d, const char *sender, deliver_read_fn *rd, void *ctx,
    struct err *err)
{
	struct smtp_client *c = d->smtp;
	char *from;
	CURLcode rc;

	c->rd = rd;
	c->ctx = ctx;
	c->err = err;
	c->body_bytes = 0;
	c->src_failed = c->src_done = c->sent_crlf = c->traced = false;
	c->phase = c->step = c->last_phase = NULL;
	c->line_len = 0;
	c->prev1 = c->prev2 = '\0';
	c->errbuf[0] = '\0';
	deliver_reply_reset(&c->cur);
	deliver_reply_reset(&c->last);

	from = xasprintf("<%s>", sender);
	rc = curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, from);
	free(from);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c->curl);
	trace_body(c);
	return rc;
}

/* A reused connection that failed before the body started (no reply at
 * all, or 421 to MAIL) was closed by the server meanwhile (a race with
 * drop_if_closed): nothing of the message can have been accepted, so one
 * retry on a new connection is safe. Not after a timeout: that would only
 * double the wait. */
static bool
retryable(struct smtp_client *c, CURLcode rc)
{
	long connects = 1;

	if (rc == CURLE_OK || rc == CURLE_OPERATION_TIMEDOUT ||
	    c->src_failed || c->body_bytes > 0 || c->sent_crlf)
		return false;
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
	return connects == 0 && (!c->last.done || (c->last.code == 421 &&
	    c->last_phase && strcmp(c->last_phase, "MAIL") == 0));
}

int
smtp_deliver(struct deliver *d, const char *sender, uint64_t size,
    deliver_read_fn *rd, void *ctx, struct deliver_result *res,
    struct err *err)
{
	struct err ignored;
	CURLcode rc;
	int ret, tries = 0;

	/* size stays unused: with CURLOPT_INFILESIZE_LARGE (which would add
	 * SIZE=, RFC 1870) libcurl 7.88 stops reading once it has *sent* that
	 * many bytes, dot-stuffing included, and silently cuts the body
	 * (".a\r\nbc\r\r\n" for ".a\r\nbc\r\n" in 1-byte reads; see
	 * test_deliver). The reference never sends SIZE either. */
	(void)size;
	drop_if_closed(d);
	for (;;) {
		if (d->smtp == NULL && smtp_open(d, err) < 0)
			return -1;
		rc = perform(d, sender, rd, ctx, err);
		if (++tries > 1 || !retryable(d->smtp, rc))
			break;
		plog_debug("%s: reused connection failed (%s); reconnecting",
		    d->server, curl_easy_strerror(rc));
		smtp_quit(d, &ignored);
	}
	if (d->smtp->src_failed) {
		res->source_failed = 1;
		ret = -1; /* err was set by rd */
	} else {
		ret = classify(d, rc, res, err);
	}
	/* The contract: any failure but a 5xx closes the connection. */
	if (ret < 0 && (err->kind != ERR_REFUSED || res->source_failed))
		smtp_quit(d, &ignored);
	return ret;
}

int
smtp_quit(struct deliver *d, struct err *err)
{
	struct smtp_client *c = d->smtp;

	(void)err;
	if (c == NULL)
		return 0;
	/* curl_easy_cleanup sends QUIT on a live connection, through an
	 * internal handle that bypasses debug_cb: trace it here. Errors
	 * cannot be seen from here and do not matter. */
	if (c->curl) {
		curl_socket_t fd = CURL_SOCKET_BAD;
		if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &fd) ==
		    CURLE_OK && fd != CURL_SOCKET_BAD)
			plog_trace("LC", "QUIT", 4);
		curl_easy_cleanup(c->curl);
	}
	curl_slist_free_all(c->rcpts);
	free(c->tmp);
	free(c);
	d->smtp = NULL;
	return 0;
}
