#ifndef T_UNIT_IMAPSCRIPT_H
#define T_UNIT_IMAPSCRIPT_H

/* A scripted IMAP server for unit tests of the client side (as Dovecot
 * tests its imapc client against a fake server): it plays a transcript on
 * one end of a socket, in a thread, and checks byte for byte what the
 * client sends.
 *
 *	struct imapscript *s = imapscript_start(fd, script, split);
 *	... run the client on the other end ...
 *	if (imapscript_wait(s, msg, sizeof(msg)) < 0) test_fail_at(...msg);
 *
 * A script is lines:
 *   "S: TEXT"     the server sends TEXT and CRLF;
 *   "C: TEXT"     the client must send exactly TEXT and CRLF next (within
 *                 5 s); anything else ends the script with a mismatch;
 *   "S< N SEED"   the server sends N bytes of a pattern (SEED: 0-255), no
 *                 CRLF: the body of a large literal;
 *   "C< N SEED"   the client must send those N bytes;
 *   "close"       the server closes the connection;
 *   "eof"         the client must close its end (or shut down writing);
 *   "# ..." and empty lines are ignored.
 * In TEXT, \r \n \\ and \xHH stand for those bytes, and a final \c drops
 * the CRLF (a line continued by a literal's bytes). With split, the server
 * sends every byte in a write of its own, so that the client sees each
 * response cut at every position.
 * Returns NULL only on a malformed script (a programming error: the
 * message goes to stderr). imapscript_wait() joins the thread, closes fd,
 * frees s: 0 when the whole script ran as written, -1 with the first
 * mismatch in msg. */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMAPSCRIPT_TIMEOUT_MS 5000

struct imapscript {
	int fd;
	bool split;
	char *script;
	pthread_t thread;
	char msg[512];
	int rc;
};

static inline unsigned char
imapscript_pattern(unsigned seed, size_t i)
{
	return (unsigned char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* Decodes the escapes of TEXT into out (at least strlen(text) + 2 bytes);
 * appends CRLF unless the text ends in \c. Returns the length. */
static inline size_t
imapscript_decode(const char *text, char *out)
{
	size_t n = 0;
	bool crlf = true;
	for (const char *p = text; *p; p++) {
		if (*p != '\\' || !p[1]) {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'r': out[n++] = '\r'; break;
		case 'n': out[n++] = '\n'; break;
		case 'c': crlf = false; break;
		case 'x': {
			unsigned v = 0;
			for (int k = 0; k < 2 && p[1]; k++) {
				char ch = *++p;
				v = v * 16 + (unsigned)(ch <= '9' ? ch - '0'
				    : (ch | 0x20) - 'a' + 10);
			}
			out[n++] = (char)v;
			break;
		}
		default: out[n++] = *p; break;
		}
	}
	if (crlf) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

static inline int
imapscript_send(struct imapscript *s, const char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		size_t k = s->split ? 1 : n - off;
		ssize_t w = write(s->fd, buf + off, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(s->msg, sizeof(s->msg), "server write: %s",
			    w < 0 ? strerror(errno) : "nothing written");
			return -1;
		}
		off += (size_t)w;
		if (s->split)
			sched_yield();
	}
	return 0;
}

/* Reads exactly n bytes into buf; the number read (short at EOF), or -1
 * on timeout or error (msg set). */
static inline ssize_t
imapscript_recv(struct imapscript *s, char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		struct pollfd pfd = {s->fd, POLLIN, 0};
		int r = poll(&pfd, 1, IMAPSCRIPT_TIMEOUT_MS);
		ssize_t k;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(s->msg, sizeof(s->msg), "timeout: the client "
			    "sent %zu of the %zu bytes expected", off, n);
			return -1;
		}
		k = read(s->fd, buf + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(s->msg, sizeof(s->msg), "server read: %s",
			    strerror(errno));
			return -1;
		}
		if (k == 0)
			break;
		off += (size_t)k;
	}
	return (ssize_t)off;
}

static inline void
imapscript_show(char *out, size_t size, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o < size ? o : size - 1] = '\0';
}

static inline int
imapscript_expect(struct imapscript *s, const char *want, size_t n,
    unsigned lineno)
{
	char *got = malloc(n ? n : 1), a[200], b[200];
	ssize_t k = imapscript_recv(s, got, n);
	int rc = 0;
	if (k < 0) {
		rc = -1;
	} else if ((size_t)k != n || memcmp(got, want, n) != 0) {
		size_t i = 0;
		while (i < (size_t)k && got[i] == want[i])
			i++;
		imapscript_show(a, sizeof(a), want + i, n - i < 60 ? n - i : 60);
		imapscript_show(b, sizeof(b), got + i,
		    (size_t)k - i < 60 ? (size_t)k - i : 60);
		snprintf(s->msg, sizeof(s->msg), "script line %u, byte %zu: "
		    "expected \"%s\", the client sent \"%s\"%s", lineno, i, a, b,
		    (size_t)k < n ? " and closed" : "");
		rc = -1;
	}
	free(got);
	return rc;
}

static inline void *
imapscript_run(void *arg)
{
	struct imapscript *s = arg;
	unsigned lineno = 0;
	char *save = NULL;

	s->rc = 0;
	for (char *line = strtok_r(s->script, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		char *buf = malloc(len + 3);
		unsigned long n = 0, seed = 0;
		int rc = 0;
		lineno++;
		if (len == 0 || line[0] == '#') {
			free(buf);
			continue;
		}
		if (strncmp(line, "S: ", 3) == 0) {
			rc = imapscript_send(s, buf,
			    imapscript_decode(line + 3, buf));
		} else if (strncmp(line, "C: ", 3) == 0) {
			rc = imapscript_expect(s, buf,
			    imapscript_decode(line + 3, buf), lineno);
		} else if (sscanf(line, "S< %lu %lu", &n, &seed) == 2 ||
		    sscanf(line, "C< %lu %lu", &n, &seed) == 2) {
			char *big = malloc(n ? n : 1);
			for (size_t i = 0; i < n; i++)
				big[i] = (char)imapscript_pattern((unsigned)seed, i);
			rc = line[0] == 'S' ? imapscript_send(s, big, n)
					    : imapscript_expect(s, big, n, lineno);
			free(big);
		} else if (strcmp(line, "close") == 0) {
			shutdown(s->fd, SHUT_RDWR);
		} else if (strcmp(line, "eof") == 0) {
			char c;
			ssize_t k = imapscript_recv(s, &c, 1);
			if (k != 0) {
				if (k > 0)
					snprintf(s->msg, sizeof(s->msg),
					    "script line %u: expected the client "
					    "to close, it sent more", lineno);
				rc = -1;
			}
		} else {
			snprintf(s->msg, sizeof(s->msg),
			    "script line %u: cannot parse \"%.100s\"", lineno,
			    line);
			rc = -1;
		}
		free(buf);
		if (rc < 0) {
			s->rc = -1;
			break;
		}
	}
	return NULL;
}

static inline struct imapscript *
imapscript_start(int fd, const char *script, bool split)
{
	struct imapscript *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->fd = fd;
	s->split = split;
	s->script = strdup(script);
	if (!s->script || pthread_create(&s->thread, NULL, imapscript_run, s))
		abort();
	return s;
}

static inline int
imapscript_wait(struct imapscript *s, char *msg, size_t size)
{
	int rc;
	pthread_join(s->thread, NULL);
	rc = s->rc;
	snprintf(msg, size, "%.380s", s->msg);
	close(s->fd);
	free(s->script);
	free(s);
	return rc;
}

#endif
