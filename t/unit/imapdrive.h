#ifndef T_UNIT_IMAPDRIVE_H
#define T_UNIT_IMAPDRIVE_H

/* The engine (imapc.h) and a scripted server in one thread, taking turns:
 * the server writes its bytes (whole, or one byte at a time with the
 * engine stepped until it is idle after each), and reads what the client
 * sent once the engine has nothing left to do. No clock is involved:
 * "the client has sent nothing (yet)" is a fact here, not a timeout, so
 * ordering rules (a barrier, a literal waiting for its "+") are checked
 * exactly, and split mode cuts every response at every byte for sure.
 *
 * Handlers must not block: imapc_literal_read() would wait for bytes that
 * nobody writes while it waits (use imapscript.h, a server in a thread,
 * for handlers that read literals). A blocking wrapper (imapc_run()) may
 * be called when the server's answer has been written beforehand.
 *
 *	struct imapdrive *d = imapdrive_new(split, TMO);
 *	imapc_submit(d->e, ...);
 *	if (imapdrive_play(d, "C: 1 NOOP\nquiet\nS: 1 OK\n") < 0)
 *		fail with d->msg;
 *	imapc_free(&d->e);
 *	imapdrive_play(d, "eof\n");
 *	imapdrive_free(&d);
 *
 * Script lines as in imapscript.h ("S: TEXT", "C: TEXT", "S< N SEED",
 * "C< N SEED", "# ...", escapes \r \n \\ \xHH and a final \c), plus:
 *   "quiet"    the client has sent nothing more than what was expected;
 *   "hold" ... "go"  the server lines in between go out in one write
 *              (whole mode; split mode still writes byte by byte), e.g. a
 *              tagged OK and the compressed data right behind it;
 *   "deflate"  from here on the server compresses what it sends and
 *              inflates what it reads (RFC 4978: raw deflate, a sync
 *              flush after every write);
 *   "S! TEXT"  the server sends TEXT and CRLF without stepping the engine:
 *              the answer to a command a blocking call will send;
 *   "close"    the server shuts its side down: EOF for the client;
 *   "eof"      the client has closed its end (after imapc_free()).
 * Once the engine is unusable (abandoned, lost), what it does not read
 * and the socket cannot hold is dropped: not reading is right then.
 * The engine's last failing step is kept in step_rc/step_err. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "conn.h"
#include "enginepair.h"
#include "imapc.h"
#include "imapscript.h"

struct imapdrive {
	struct imapc *e;    /* NULL once the test freed it */
	int sfd;            /* the server's end, non-blocking */
	bool split;
	bool holding;
	char *held;
	size_t held_len;
	bool z;             /* "deflate" seen */
	z_stream zin, zout;
	char *rx;           /* what the client sent, not yet expected */
	size_t rx_len, rx_cap;
	bool client_eof;
	int step_rc;        /* the last step's result, once one failed: -1 */
	struct err step_err;
	unsigned lineno;
	char msg[400];
};

static inline struct imapdrive *
imapdrive_new(bool split, int timeout_ms)
{
	struct imapdrive *d = calloc(1, sizeof(*d));

	if (!d)
		abort();
	d->split = split;
	/* The server's end non-blocking: reading "nothing sent" never
	 * blocks. */
	d->e = engine_pair(timeout_ms, true, &d->sfd);
	return d;
}

static inline void
imapdrive_free(struct imapdrive **dp)
{
	struct imapdrive *d = *dp;
	if (!d)
		return;
	imapc_free(&d->e);
	if (d->z) {
		inflateEnd(&d->zin);
		deflateEnd(&d->zout);
	}
	close(d->sfd);
	free(d->held);
	free(d->rx);
	free(d);
	*dp = NULL;
}

/* Steps the engine until it would wait (or failed). Returns the last
 * step's result. */
static inline int
imapdrive_settle(struct imapdrive *d)
{
	struct err err;
	int r = 1;

	if (!d->e)
		return 0;
	for (unsigned i = 0; i < 1000000 && r > 0; i++)
		r = imapc_step(d->e, &err);
	if (r < 0) {
		d->step_rc = -1;
		d->step_err = err;
	}
	return r;
}

static inline int
imapdrive_fail(struct imapdrive *d, const char *fmt, ...)
    ATTR_PRINTF(2, 3);

static inline int
imapdrive_fail(struct imapdrive *d, const char *fmt, ...)
{
	char m[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(d->msg, sizeof(d->msg), "script line %u: %s", d->lineno, m);
	return -1;
}

/* Writes n bytes to the client as the mode says, the engine stepped
 * after each write. */
static inline int
imapdrive_write(struct imapdrive *d, const char *p, size_t n)
{
	size_t off = 0;
	int stuck = 0;

	while (off < n) {
		size_t k = d->split ? 1 : n - off;
		ssize_t w = send(d->sfd, p + off, k, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			/* The socket is full: the client must read. */
			if (!d->e || !imapc_usable(d->e))
				return 0;
			if (imapdrive_settle(d) <= 0 && ++stuck > 3)
				return imapdrive_fail(d, "the client reads "
				    "nothing and the socket is full");
			continue;
		}
		if (w <= 0)
			return imapdrive_fail(d, "server write: %s",
			    w < 0 ? strerror(errno) : "nothing written");
		stuck = 0;
		off += (size_t)w;
		imapdrive_settle(d);
	}
	return 0;
}

/* The server sends n bytes (compressed after "deflate"; kept back while
 * holding). */
static inline int
imapdrive_send(struct imapdrive *d, const char *p, size_t n)
{
	char *out = NULL;
	size_t len = n;
	int rc;

	if (d->z) {
		size_t cap = deflateBound(&d->zout, (uLong)n) + 64;
		out = malloc(cap);
		if (!out)
			abort();
		d->zout.next_in = (Bytef *)(uintptr_t)p;
		d->zout.avail_in = (uInt)n;
		d->zout.next_out = (Bytef *)out;
		d->zout.avail_out = (uInt)cap;
		if (deflate(&d->zout, Z_SYNC_FLUSH) != Z_OK ||
		    d->zout.avail_in != 0)
			abort();
		len = cap - d->zout.avail_out;
		p = out;
	}
	if (d->holding) {
		char *h = realloc(d->held, d->held_len + len + 1);
		if (!h)
			abort();
		memcpy(h + d->held_len, p, len);
		d->held = h;
		d->held_len += len;
		free(out);
		return 0;
	}
	rc = imapdrive_write(d, p, len);
	free(out);
	return rc;
}

static inline void
imapdrive_rx_add(struct imapdrive *d, const char *p, size_t n)
{
	if (d->rx_len + n > d->rx_cap) {
		d->rx_cap = (d->rx_len + n) * 2 + 4096;
		d->rx = realloc(d->rx, d->rx_cap);
		if (!d->rx)
			abort();
	}
	memcpy(d->rx + d->rx_len, p, n);
	d->rx_len += n;
}

/* Reads what the client sent so far; returns the number of bytes that
 * arrived (before inflating). */
static inline size_t
imapdrive_pull(struct imapdrive *d)
{
	char buf[65536], plain[65536];
	size_t total = 0;

	for (;;) {
		ssize_t k = read(d->sfd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		/* A close with our bytes unread resets the connection. */
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			d->client_eof = true;
		if (k <= 0)
			return total;
		total += (size_t)k;
		if (!d->z) {
			imapdrive_rx_add(d, buf, (size_t)k);
			continue;
		}
		d->zin.next_in = (Bytef *)buf;
		d->zin.avail_in = (uInt)k;
		do {
			int zr;
			d->zin.next_out = (Bytef *)plain;
			d->zin.avail_out = sizeof(plain);
			zr = inflate(&d->zin, Z_SYNC_FLUSH);
			if (zr != Z_OK && zr != Z_BUF_ERROR) {
				/* Show the raw bytes: they were no deflate. */
				imapdrive_rx_add(d, "<corrupt deflate>", 17);
				return total;
			}
			imapdrive_rx_add(d, plain,
			    sizeof(plain) - d->zin.avail_out);
		} while (d->zin.avail_in > 0 || d->zin.avail_out == 0);
	}
}

/* The client must have sent exactly want[0..n) next. */
static inline int
imapdrive_expect(struct imapdrive *d, const char *want, size_t n)
{
	char a[200], b[200];
	size_t i = 0, k;

	while (d->rx_len < n) {
		int r = imapdrive_settle(d);
		if (imapdrive_pull(d) == 0 && r <= 0)
			break;
	}
	k = d->rx_len < n ? d->rx_len : n;
	if (k == n && memcmp(d->rx, want, n) == 0) {
		memmove(d->rx, d->rx + n, d->rx_len - n);
		d->rx_len -= n;
		return 0;
	}
	while (i < k && d->rx[i] == want[i])
		i++;
	imapscript_show(a, sizeof(a), want + i, n - i < 60 ? n - i : 60);
	imapscript_show(b, sizeof(b), d->rx + i,
	    d->rx_len - i < 60 ? d->rx_len - i : 60);
	return imapdrive_fail(d, "expected \"%s\", the client sent \"%s\"", a,
	    b);
}

static inline int
imapdrive_quiet(struct imapdrive *d)
{
	char b[200];

	imapdrive_settle(d);
	imapdrive_pull(d);
	if (d->rx_len == 0)
		return 0;
	imapscript_show(b, sizeof(b), d->rx, d->rx_len < 60 ? d->rx_len : 60);
	return imapdrive_fail(d, "expected nothing, the client sent \"%s\"",
	    b);
}

static inline int
imapdrive_line(struct imapdrive *d, const char *line)
{
	size_t len = strlen(line);
	unsigned long n = 0, seed = 0;
	char *buf;
	int rc = 0;

	if (len == 0 || line[0] == '#')
		return 0;
	if (strcmp(line, "quiet") == 0)
		return imapdrive_quiet(d);
	if (strcmp(line, "hold") == 0) {
		d->holding = true;
		return 0;
	}
	if (strcmp(line, "go") == 0) {
		d->holding = false;
		rc = imapdrive_write(d, d->held, d->held_len);
		d->held_len = 0;
		return rc;
	}
	if (strcmp(line, "deflate") == 0) {
		d->z = true;
		if (inflateInit2(&d->zin, -15) != Z_OK ||
		    deflateInit2(&d->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
			-15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		return 0;
	}
	if (strcmp(line, "close") == 0) {
		shutdown(d->sfd, SHUT_WR);
		imapdrive_settle(d);
		return 0;
	}
	if (strcmp(line, "eof") == 0) {
		if (imapdrive_quiet(d) < 0)
			return -1;
		if (!d->client_eof)
			return imapdrive_fail(d, "the client did not close");
		return 0;
	}
	buf = malloc(len + 3);
	if (!buf)
		abort();
	if (strncmp(line, "S: ", 3) == 0) {
		rc = imapdrive_send(d, buf, imapscript_decode(line + 3, buf));
	} else if (strncmp(line, "S! ", 3) == 0) {
		size_t k = imapscript_decode(line + 3, buf);
		if (send(d->sfd, buf, k, MSG_NOSIGNAL) != (ssize_t)k)
			rc = imapdrive_fail(d, "server write: %s",
			    strerror(errno));
	} else if (strncmp(line, "C: ", 3) == 0) {
		rc = imapdrive_expect(d, buf, imapscript_decode(line + 3, buf));
	} else if (sscanf(line, "S< %lu %lu", &n, &seed) == 2 ||
	    sscanf(line, "C< %lu %lu", &n, &seed) == 2) {
		char *big = malloc(n ? n : 1);
		if (!big)
			abort();
		for (size_t i = 0; i < n; i++)
			big[i] = (char)imapscript_pattern((unsigned)seed, i);
		rc = line[0] == 'S' ? imapdrive_send(d, big, n)
				    : imapdrive_expect(d, big, n);
		free(big);
	} else {
		rc = imapdrive_fail(d, "cannot parse \"%.100s\"", line);
	}
	free(buf);
	return rc;
}

/* Plays script; 0, or -1 with the first mismatch in d->msg (the rest of
 * the script is not played). Line numbers count from the script's start
 * at every call. */
static inline int
imapdrive_play(struct imapdrive *d, const char *script)
{
	char *copy = strdup(script);
	int rc = 0;

	if (!copy)
		abort();
	d->lineno = 0;
	for (char *p = copy, *nl; p && rc == 0; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		d->lineno++;
		rc = imapdrive_line(d, p);
	}
	free(copy);
	return rc;
}

#endif
