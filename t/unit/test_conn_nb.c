/* conn's non-blocking interface (conn_fill_nb(), conn_write_nb(),
 * conn_flush_nb(), conn_want(), conn_has_buffered_input()) between two
 * conns of one process over a Unix socketpair-like connection: in clear
 * text, with TLS, with COMPRESS=DEFLATE on both ends, and with both. The
 * server end is a conn made from the accepted fd (conn_int.h); for TLS a
 * thread runs its handshake with a throw-away self-signed certificate made
 * here with OpenSSL's API. Everything after the setup runs in one thread
 * driven by poll(): a call that blocked would show as a slow call (the
 * conns' timeout is TIMEOUT_MS) or hang until the alarm. */

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conn.h"
#include "conn_int.h" /* conn_new() and c->ssl for the server end */
#include "err.h"
#include "log.h"
#include "test.h"

#define TIMEOUT_MS 5000
/* A non-blocking call taking this long waited for something. */
#define SLOW_MS 1500

enum { M_TLS = 1, M_DEFLATE = 2 };
static const char *const mode_name[] = {"clear", "TLS", "COMPRESS",
    "TLS+COMPRESS"};

static char tmpdir[] = "/tmp/test_conn_nb.XXXXXX";
static EVP_PKEY *key;
static X509 *cert;
/* The slowest non-blocking call since the last reset. */
static uint64_t slowest_ms;

static void
on_alarm(int sig)
{
	static const char m[] = "not ok test_conn_nb: overall timeout\n";
	(void)sig;
	(void)!write(1, m, sizeof(m) - 1);
	rmdir(tmpdir); /* async-signal-safe; empty unless a pair was opening */
	_exit(1);
}

static void
remove_tmpdir(void)
{
	rmdir(tmpdir);
}

static bool
make_cert(void)
{
	X509_NAME *n;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cert = X509_new();
	if (key == NULL || cert == NULL)
		return false;
	n = X509_get_subject_name(cert);
	return X509_set_version(cert, 2) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), -60) &&
	    X509_gmtime_adj(X509_getm_notAfter(cert), 86400) &&
	    X509_set_pubkey(cert, key) &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0) &&
	    X509_set_issuer_name(cert, n) &&
	    X509_sign(cert, key, EVP_sha256()) > 0;
}

static void *
accept_thread(void *arg)
{
	SSL *ssl = arg;
	return SSL_accept(ssl) == 1 ? arg : NULL;
}

/* Server-side TLS on srv's (still blocking) fd while the client handshakes
 * with conn_start_tls(). */
static bool
start_tls_pair(struct conn *cli, struct conn *srv, struct err *err)
{
	struct tls_opts o = {.verify = false};
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	pthread_t t;
	void *ok = NULL;
	SSL *ssl;
	int r;
	if (ctx == NULL || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		return false;
	/* As conn_tls.c sets up the client's. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
	srv->ctx = ctx;
	if ((ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(ssl, srv->fd))
		return false;
	if (pthread_create(&t, NULL, accept_thread, ssl) != 0) {
		SSL_free(ssl);
		return false;
	}
	r = conn_start_tls(cli, "localhost", &o, err);
	pthread_join(t, &ok);
	srv->ssl = ssl;
	return r == 0 && ok != NULL;
}

/* A connected pair: *cli made by conn_connect_unix(), *srv from the
 * accepted fd, both non-blocking, with TLS and/or COMPRESS per mode. */
static bool
pair_open(int mode, struct conn **cli, struct conn **srv)
{
	static unsigned serial;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct err err = {0};
	char *path = xasprintf("%s/s%u", tmpdir, serial++);
	int lfd, fd = -1;
	bool ok = false;

	*cli = *srv = NULL;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(lfd, 1) < 0)
		goto out;
	if ((*cli = conn_connect_unix(path, TIMEOUT_MS, &err)) == NULL ||
	    (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		goto out;
	*srv = conn_new(fd, "server", TIMEOUT_MS);
	if ((mode & M_TLS) && !start_tls_pair(*cli, *srv, &err))
		goto out;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto out;
	if ((mode & M_DEFLATE) && (conn_start_deflate(*cli, &err) < 0 ||
	    conn_start_deflate(*srv, &err) < 0))
		goto out;
	ok = true;
out:
	if (!ok) {
		fprintf(stderr, "# pair setup: %s (%s)\n", err.msg,
		    strerror(errno));
		conn_free(cli);
		conn_free(srv);
	}
	if (lfd >= 0)
		close(lfd);
	unlink(path);
	free(path);
	return ok;
}

/* Stream s at offset i: 64 KiB blocks of pseudo-random bytes (they do not
 * compress) alternating with text (it does), so that COMPRESS sees both.
 * Every byte depends on its offset: reordering shows. */
static unsigned char
gen_byte(unsigned s, uint64_t i)
{
	static const char text[] = "the quick brown fox jumps over the "
	    "lazy dog\r\n";
	uint64_t x;
	if ((i >> 16) % 2)
		return (unsigned char)text[(i + s) % (sizeof(text) - 1)];
	x = i * 0x9e3779b97f4a7c15ull + s;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (unsigned char)(x ^ (x >> 31));
}

static void
gen_fill(unsigned s, uint64_t off, char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)gen_byte(s, off + i);
}

/* True when p[0..n) is stream s at offset off. */
static bool
gen_check(unsigned s, uint64_t off, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] != gen_byte(s, off + i)) {
			fprintf(stderr, "# stream %u: byte %llu differs\n", s,
			    (unsigned long long)(off + i));
			return false;
		}
	return true;
}

/* The non-blocking calls, timed. */
static void
timed(uint64_t t0)
{
	uint64_t dt = now_ms() - t0;
	if (dt > slowest_ms)
		slowest_ms = dt;
}

static int
fill(struct conn *c, struct err *err)
{
	uint64_t t0 = now_ms();
	int r = conn_fill_nb(c, err);
	timed(t0);
	return r;
}

static int
flush(struct conn *c, struct err *err)
{
	uint64_t t0 = now_ms();
	int r = conn_flush_nb(c, err);
	timed(t0);
	return r;
}

static ssize_t
write_nb(struct conn *c, const void *p, size_t n, struct err *err)
{
	uint64_t t0 = now_ms();
	ssize_t r = conn_write_nb(c, p, n, err);
	timed(t0);
	return r;
}

/* Waits (poll, at most ms) until c may make progress: 1, or 0. */
static int
wait_for(struct conn *c, int ms)
{
	struct pollfd p = {.fd = conn_fd(c), .events = conn_want(c)};
	if (conn_has_buffered_input(c))
		return 1;
	return poll(&p, 1, ms) > 0;
}

/* Sends n bytes with the non-blocking calls (the peer must be reading or
 * the socket have room). */
static bool
send_all(struct conn *c, const void *p, size_t n, struct err *err)
{
	uint64_t deadline = now_ms() + 5000;
	size_t done = 0;
	int r = 0;
	while (now_ms() < deadline) {
		ssize_t k = write_nb(c, (const char *)p + done, n - done, err);
		if (k < 0)
			return false;
		done += (size_t)k;
		if ((r = flush(c, err)) < 0)
			return false;
		if (r == 1 && done == n)
			return true;
		wait_for(c, 100);
	}
	return false;
}

/* Receives exactly n bytes into p with poll() and conn_fill_nb(). */
static bool
recv_all(struct conn *c, char *p, size_t n, struct err *err)
{
	uint64_t deadline = now_ms() + 5000;
	size_t got = 0;
	while (got < n && now_ms() < deadline) {
		const char *q;
		size_t len;
		int r = fill(c, err);
		if (r < 0)
			return false;
		if (r == 0) {
			wait_for(c, 100);
			continue;
		}
		q = conn_peek(c, &len);
		if (len > n - got)
			len = n - got;
		memcpy(p + got, q, len);
		conn_consume(c, len);
		got += len;
	}
	return got == n;
}

static void
test_basics(int mode)
{
	struct err err = {0};
	struct conn *cli, *srv;
	char name[100], b[64] = "";
	uint64_t t0;

	snprintf(name, sizeof(name), "nb %s: fill_nb 0 without input, 1 "
	    "after the peer wrote, EOF after it closed", mode_name[mode]);
	test_begin(name);
	slowest_ms = 0;
	test_assert(pair_open(mode, &cli, &srv));
	if (cli == NULL) {
		test_end();
		return;
	}
	t0 = now_ms();
	test_assert(conn_fill_nb(cli, &err) == 0);
	test_assert(now_ms() - t0 < SLOW_MS);
	test_assert(conn_fill_nb(srv, &err) == 0);
	test_assert(!conn_has_buffered_input(cli));
	test_assert(conn_want(cli) == POLLIN);
	test_assert(conn_want_out(cli) == 0);
	/* Queued, not sent: wants POLLOUT, the peer sees nothing yet. */
	test_assert(write_nb(srv, "* OK hello\r\n", 12, &err) == 12);
	test_assert(conn_want(srv) == (POLLIN | POLLOUT));
	test_assert(conn_want_out(srv) == POLLOUT);
	test_assert(!wait_for(cli, 50));
	test_assert(flush(srv, &err) == 1);
	test_assert(conn_want(srv) == POLLIN);
	test_assert(recv_all(cli, b, 12, &err));
	test_assert_str(b, "* OK hello\r\n");
	test_assert(fill(cli, &err) == 0);
	/* And the other way. */
	test_assert(send_all(cli, "a NOOP\r\n", 8, &err));
	memset(b, 0, sizeof(b));
	test_assert(recv_all(srv, b, 8, &err));
	test_assert_str(b, "a NOOP\r\n");
	/* The peer goes away. */
	conn_free(&srv);
	/* The first read after the wakeup sees it. */
	test_assert(wait_for(cli, 2000));
	test_assert(fill(cli, &err) == CONN_EOF);
	test_assert(conn_fill_nb(cli, &err) == CONN_EOF);
	test_assert(conn_peer_gone(cli));
	test_assert(!(conn_want(cli) & POLLIN));
	test_assert(slowest_ms < SLOW_MS);
	if (test_cur_failed)
		fprintf(stderr, "# %s (slowest %llu ms)\n", err.msg,
		    (unsigned long long)slowest_ms);
	conn_free(&cli);
	test_end();
}

/* The client queues and flushes while the server does not read: the
 * socket fills, conn_flush_nb() returns 0 and conn_write_nb() stops at
 * CONN_OUT_MAX, all without waiting; then the server reads and everything
 * arrives in order. */
static void
test_flush_full(int mode)
{
	size_t total = 6u << 20, done = 0, got = 0;
	struct err err = {0};
	struct conn *cli, *srv;
	char name[100], *data = xmalloc(total);
	uint64_t deadline;
	bool full = false;
	int r = 0;

	snprintf(name, sizeof(name), "nb %s: flush_nb against a peer that "
	    "does not read, then does", mode_name[mode]);
	test_begin(name);
	slowest_ms = 0;
	gen_fill(7, 0, data, total);
	test_assert(pair_open(mode, &cli, &srv));
	if (cli == NULL) {
		free(data);
		test_end();
		return;
	}
	while (done < total) {
		ssize_t k = write_nb(cli, data + done, total - done, &err);
		if (k < 0)
			break;
		done += (size_t)k;
		if ((r = flush(cli, &err)) < 0)
			break;
		/* 0 means the socket took all it could. */
		if (r == 0) {
			struct pollfd p = {.fd = conn_fd(cli),
			    .events = POLLOUT};
			test_assert(poll(&p, 1, 0) == 0);
		}
		if (r == 0 && k == 0) {
			full = true;
			break;
		}
	}
	test_assert(full && done < total);
	test_assert(r == 0);
	test_assert(conn_out_room(cli) == 0);
	test_assert(done < total && write_nb(cli, data + done, 1, &err) == 0);
	test_assert(conn_want(cli) == (POLLIN | POLLOUT));
	test_assert(conn_want_out(cli) == POLLOUT);
	/* Really full: the socket takes nothing more for now. */
	{
		struct pollfd p = {.fd = conn_fd(cli), .events = POLLOUT};
		test_assert(poll(&p, 1, 100) == 0);
	}
	test_assert(flush(cli, &err) == 0);
	/* Now the server reads, the client goes on. */
	deadline = now_ms() + 30000;
	while ((got < total || r != 1) && now_ms() < deadline &&
	    !test_cur_failed) {
		struct pollfd p[2] = {
			{.fd = conn_fd(cli), .events = conn_want(cli)},
			{.fd = conn_fd(srv), .events = conn_want(srv)},
		};
		int f;
		if (done < total) {
			ssize_t k = write_nb(cli, data + done, total - done,
			    &err);
			test_assert(k >= 0);
			done += k > 0 ? (size_t)k : 0;
		}
		test_assert((r = flush(cli, &err)) >= 0);
		while ((f = fill(srv, &err)) == 1) {
			size_t len;
			const char *q = conn_peek(srv, &len);
			test_assert(got + len <= total);
			if (got + len > total || !gen_check(7, got, q, len)) {
				test_assert(!"intact");
				break;
			}
			got += len;
			conn_consume(srv, len);
		}
		test_assert(f == 0);
		if (got == total && r == 1)
			break;
		if (!conn_has_buffered_input(srv))
			test_assert(poll(p, 2, 2000) > 0);
	}
	test_assert(got == total && done == total && r == 1);
	test_assert(conn_want(cli) == POLLIN);
	test_assert(conn_out_room(cli) == CONN_OUT_MAX);
	test_assert(slowest_ms < SLOW_MS);
	if (test_cur_failed)
		fprintf(stderr, "# %s (sent %zu, got %zu of %zu, slowest %llu "
		    "ms)\n", err.msg, done, got, total,
		    (unsigned long long)slowest_ms);
	conn_free(&cli);
	conn_free(&srv);
	free(data);
	test_end();
}

/* The blocking calls after conn_write_nb(): they send what was queued
 * first. The server reads in a thread, with the blocking conn_read(). */
struct reader {
	struct conn *c;
	size_t total, got;
};

static void *
reader_thread(void *arg)
{
	struct reader *rd = arg;
	struct err err = {0};
	char b[65536];
	while (rd->got < rd->total) {
		ssize_t n = conn_read(rd->c, b, sizeof(b), &err);
		if (n <= 0 || rd->got + (size_t)n > rd->total ||
		    !gen_check(9, rd->got, b, (size_t)n))
			break;
		rd->got += (size_t)n;
	}
	return NULL;
}

static void
test_mixed(int mode)
{
	size_t total = 4u << 20, done = 0;
	struct err err = {0};
	struct conn *cli, *srv;
	struct reader rd;
	char name[100], *data = xmalloc(total);
	pthread_t t;
	bool started = false;

	snprintf(name, sizeof(name), "nb %s: blocking writes after queued "
	    "ones keep the order", mode_name[mode]);
	test_begin(name);
	gen_fill(9, 0, data, total);
	test_assert(pair_open(mode, &cli, &srv));
	if (cli == NULL) {
		free(data);
		test_end();
		return;
	}
	/* Fill the socket and the queue, leaving a TLS write half done. */
	while (done < total / 2) {
		ssize_t k = write_nb(cli, data + done, total / 2 - done, &err);
		if (k < 0)
			break;
		done += (size_t)k;
		if (flush(cli, &err) != 1)
			break;
	}
	test_assert(conn_want_out(cli) == POLLOUT && done < total / 2);
	rd = (struct reader){srv, total, 0};
	started = pthread_create(&t, NULL, reader_thread, &rd) == 0;
	test_assert(started);
	/* Small writes (buffered), one big one (sent at once), a flush. */
	test_assert(conn_write(cli, data + done, 100, &err) == 0);
	done += 100;
	test_assert(conn_write(cli, data + done, total - done - 1000,
	    &err) == 0);
	done = total - 1000;
	test_assert(conn_write(cli, data + done, 1000, &err) == 0);
	test_assert(conn_flush(cli, &err) == 0);
	test_assert(conn_want_out(cli) == 0);
	if (started)
		pthread_join(t, NULL);
	test_assert(rd.got == total);
	if (test_cur_failed)
		fprintf(stderr, "# %s (got %zu)\n", err.msg, rd.got);
	conn_free(&cli);
	conn_free(&srv);
	free(data);
	test_end();
}

/* Input held above the fd, where poll() does not see it. */
static void
test_buffered(void)
{
	struct err err = {0};
	struct conn *cli, *srv;
	char b[64] = "";
	size_t len, got = 0;
	const char *q;
	char *big;

	test_begin("nb TLS: bytes OpenSSL holds are buffered input");
	test_assert(pair_open(M_TLS, &cli, &srv));
	if (cli != NULL) {
		struct pollfd p = {.fd = conn_fd(cli), .events = POLLIN};
		test_assert(send_all(srv, "first record\r\n", 14, &err));
		test_assert(wait_for(cli, 2000));
		/* What a reader with a small buffer leaves in OpenSSL. */
		test_assert(SSL_read(cli->ssl, b, 3) == 3);
		test_assert(conn_has_buffered_input(cli));
		test_assert(poll(&p, 1, 0) == 0);
		test_assert(fill(cli, &err) == 1);
		q = conn_peek(cli, &len);
		test_assert(len == 11 && memcmp(q, "st record\r\n", 11) == 0);
		conn_consume(cli, len);
		test_assert(!conn_has_buffered_input(cli));
		/* Two records: the second waits in the kernel. */
		test_assert(send_all(srv, "one\r\n", 5, &err));
		test_assert(send_all(srv, "two\r\n", 5, &err));
		test_assert(wait_for(cli, 2000));
		test_assert(SSL_read(cli->ssl, b, 2) == 2);
		test_assert(conn_has_buffered_input(cli));
		memset(b, 0, sizeof(b));
		test_assert(recv_all(cli, b, 8, &err));
		test_assert_str(b, "e\r\ntwo\r\n");
		test_assert(!conn_has_buffered_input(cli));
		test_assert(fill(cli, &err) == 0);
	}
	conn_free(&cli);
	conn_free(&srv);
	test_end();

	/* OpenSSL reads ahead (conn_tls.c): two records that came in one
	 * read, the second held where poll() cannot see it; a record's part
	 * held alone is nothing to read (no spinning on it). */
	test_begin("nb TLS: records read ahead are buffered input");
	test_assert(pair_open(M_TLS, &cli, &srv));
	if (cli != NULL) {
		struct pollfd p = {.fd = conn_fd(cli), .events = POLLIN};
		int one = 0, avail = 0;
		/* (the post-handshake messages read along with it) */
		test_assert(send_all(srv, "zero\r\n", 6, &err));
		test_assert(recv_all(cli, b, 6, &err));
		test_assert(send_all(srv, "one\r\n", 5, &err));
		test_assert(wait_for(cli, 2000));
		test_assert(ioctl(conn_fd(cli), FIONREAD, &one) == 0 && one > 5);
		test_assert(recv_all(cli, b, 5, &err));
		test_assert(send_all(srv, "two\r\n", 5, &err));
		test_assert(send_all(srv, "six\r\n", 5, &err));
		/* (a send on a local socket is in the peer's queue once it
		 * returns) */
		test_assert(ioctl(conn_fd(cli), FIONREAD, &avail) == 0 &&
		    avail == 2 * one);
		test_assert(fill(cli, &err) == 1);
		q = conn_peek(cli, &len);
		test_assert(len == 5 && memcmp(q, "two\r\n", 5) == 0);
		conn_consume(cli, len);
		test_assert(poll(&p, 1, 0) == 0);
		test_assert(conn_has_buffered_input(cli));
		test_assert(fill(cli, &err) == 1);
		q = conn_peek(cli, &len);
		test_assert(len == 5 && memcmp(q, "six\r\n", 5) == 0);
		conn_consume(cli, len);
		test_assert(fill(cli, &err) == 0);
		test_assert(!conn_has_buffered_input(cli));
		/* Half a record (the server's record made in memory, sent
		 * in two parts): held by OpenSSL, not input yet. */
		{
			BIO *mem = BIO_new(BIO_s_mem());
			char rec[256];
			int n = 0;
			SSL_set0_wbio(srv->ssl, mem);
			test_assert(SSL_write(srv->ssl, "ten\r\n", 5) == 5);
			n = BIO_read(mem, rec, sizeof(rec));
			SSL_set0_wbio(srv->ssl, BIO_new_socket(srv->fd,
			    BIO_NOCLOSE));
			test_assert(n > 10);
			if (n > 10) {
				test_assert(write(srv->fd, rec, 4) == 4);
				test_assert(wait_for(cli, 2000));
				test_assert(fill(cli, &err) == 0);
				test_assert(!conn_has_buffered_input(cli));
				test_assert(write(srv->fd, rec + 4, (size_t)n -
				    4) == n - 4);
				test_assert(wait_for(cli, 2000));
				test_assert(fill(cli, &err) == 1);
				q = conn_peek(cli, &len);
				test_assert(len == 5 &&
				    memcmp(q, "ten\r\n", 5) == 0);
				conn_consume(cli, len);
			}
		}
	}
	conn_free(&cli);
	conn_free(&srv);
	test_end();

	/* 1 MiB of one byte compresses to about 1 KiB: one read, many
	 * c->in fills. */
	test_begin("nb COMPRESS: inflated output zlib holds is buffered input");
	big = xmalloc(1u << 20);
	memset(big, 'x', 1u << 20);
	test_assert(pair_open(M_DEFLATE, &cli, &srv));
	if (cli != NULL) {
		struct pollfd p = {.fd = conn_fd(cli), .events = POLLIN};
		int r = 1;
		test_assert(send_all(srv, big, 1u << 20, &err));
		test_assert(wait_for(cli, 2000));
		test_assert(fill(cli, &err) == 1);
		q = conn_peek(cli, &len);
		test_assert(len > 0 && len < (1u << 20) && q[0] == 'x');
		conn_consume(cli, len);
		got = len;
		test_assert(conn_has_buffered_input(cli));
		test_assert(poll(&p, 1, 0) == 0);
		/* No poll needed for the rest. */
		while (got < (1u << 20) && (r = fill(cli, &err)) == 1) {
			q = conn_peek(cli, &len);
			test_assert(memchr(q, 'y', len) == NULL);
			conn_consume(cli, len);
			got += len;
		}
		test_assert(got == 1u << 20);
		/* 1 MiB is 16 full c->in: zlib may or may not hold more, only
		 * asking tells (conn.h). */
		test_assert(fill(cli, &err) == 0);
		test_assert(!conn_has_buffered_input(cli));
	}
	conn_free(&cli);
	conn_free(&srv);
	free(big);
	test_end();
}

/* ---- The engine's situation: two connections, a pump between them ----
 *
 * Server A sends stream 1 to its client a, which the pump copies to
 * client b, whose server B checks it; B sends stream 2 the other way. The
 * pump reads a client only while the other has room (conn_out_room()),
 * and polls only what conn_want()/conn_want_out() say. Everything runs in
 * one poll() loop: a poll that sleeps its whole timeout is a deadlock. */

struct node {
	struct conn *c;
	struct conn *to;   /* a client: where its input goes */
	unsigned gen, chk; /* a server: the streams it sends and checks */
	uint64_t sent, checked;
};

static bool
node_reads(const struct node *n)
{
	return n->to == NULL || conn_out_room(n->to) > 0;
}

/* Reads what n can take now. -1 on error or bad data. */
/* A server reads at most this much per wakeup: slower than the pump, so
 * that queues fill and the pump must stop reading the other side. */
#define SERVER_READ_MAX 16384

static int
node_read(struct node *n, uint64_t total, struct err *err)
{
	size_t budget = SERVER_READ_MAX;
	int r = 0;
	while (node_reads(n) && budget > 0 && (r = fill(n->c, err)) == 1) {
		size_t len;
		const char *q = conn_peek(n->c, &len);
		if (n->to != NULL) {
			ssize_t k = write_nb(n->to, q, len, err);
			if (k < 0 || flush(n->to, err) < 0)
				return -1;
			conn_consume(n->c, (size_t)k);
			continue;
		}
		if (len > budget)
			len = budget;
		budget -= len;
		if (n->checked + len > total || !gen_check(n->chk, n->checked,
		    q, len))
			return err_set(err, ERR_PROTO, "bad data");
		n->checked += len;
		conn_consume(n->c, len);
	}
	return r < 0 ? -1 : 0; /* CONN_EOF too: unexpected here */
}

static int
node_write(struct node *n, uint64_t total, struct err *err)
{
	char b[32768];
	while (n->to == NULL && n->sent < total && conn_out_room(n->c) > 0) {
		size_t k = total - n->sent < sizeof(b) ? total - n->sent :
		    sizeof(b);
		ssize_t w;
		gen_fill(n->gen, n->sent, b, k);
		if ((w = write_nb(n->c, b, k, err)) < 0)
			return -1;
		n->sent += (size_t)w;
	}
	return flush(n->c, err) < 0 ? -1 : 0;
}

static void
test_pump(int mode)
{
	uint64_t total = 4u << 20, t0;
	struct err err = {0};
	struct conn *a, *sa, *b, *sb;
	struct node nodes[4];
	char name[100];
	unsigned polls = 0, paused = 0;
	bool ok_a, ok_b;

	snprintf(name, sizeof(name), "nb %s: pump between two connections, "
	    "4 MiB each way", mode_name[mode]);
	test_begin(name);
	slowest_ms = 0;
	ok_a = pair_open(mode, &a, &sa);
	ok_b = pair_open(mode, &b, &sb);
	test_assert(ok_a && ok_b);
	if (!ok_a || !ok_b) {
		conn_free(&a);
		conn_free(&sa);
		conn_free(&b);
		conn_free(&sb);
		test_end();
		return;
	}
	nodes[0] = (struct node){.c = sa, .gen = 1, .chk = 2};
	nodes[1] = (struct node){.c = a, .to = b};
	nodes[2] = (struct node){.c = b, .to = a};
	nodes[3] = (struct node){.c = sb, .gen = 2, .chk = 1};
	t0 = now_ms();
	while (!test_cur_failed) {
		/* A few seconds at most: a pump that spins, busy but without
		 * progress, fails too. */
		test_assert(now_ms() - t0 < 30000);
		struct pollfd p[4];
		bool buffered = false, done = true;
		int r;
		for (int i = 0; i < 4; i++) {
			struct node *n = &nodes[i];
			if (node_write(n, total, &err) < 0)
				test_assert(!"write");
			if (n->to == NULL && (n->checked < total ||
			    n->sent < total))
				done = false;
			if (conn_want_out(n->c))
				done = false;
			p[i] = (struct pollfd){.fd = conn_fd(n->c),
			    .events = node_reads(n) ? conn_want(n->c) :
			    conn_want_out(n->c)};
			if (node_reads(n) && conn_has_buffered_input(n->c))
				buffered = true;
			if (!node_reads(n))
				paused++;
		}
		if (done || test_cur_failed)
			break;
		polls++;
		r = poll(p, 4, buffered ? 0 : 3000);
		test_assert(r > 0 || buffered);
		for (int i = 0; i < 4 && !test_cur_failed; i++)
			if ((p[i].revents ||
			    conn_has_buffered_input(nodes[i].c)) &&
			    node_read(&nodes[i], total, &err) < 0)
				test_assert(!"read");
	}
	test_assert(nodes[0].checked == total && nodes[3].checked == total);
	test_assert(slowest_ms < SLOW_MS);
	if (test_cur_failed)
		fprintf(stderr, "# %s (checked %llu and %llu, %u polls, "
		    "slowest %llu ms)\n", err.msg,
		    (unsigned long long)nodes[0].checked,
		    (unsigned long long)nodes[3].checked, polls,
		    (unsigned long long)slowest_ms);
	else if (getenv("TEST_DEBUG"))
		fprintf(stderr, "# %s: %u polls, %u paused, %llu ms\n",
		    mode_name[mode], polls, paused,
		    (unsigned long long)(now_ms() - t0));
	conn_free(&a);
	conn_free(&sa);
	conn_free(&b);
	conn_free(&sb);
	test_end();
}

/* A tunnel is one socketpair fd: the same calls work on it. */
static void
test_tunnel(void)
{
	size_t total = 1u << 20;
	struct err err = {0};
	struct conn *c;
	char *out = xmalloc(total), *in = xmalloc(total);

	test_begin("nb tunnel: round trip through cat, EOF, exit status");
	slowest_ms = 0;
	gen_fill(3, 0, out, total);
	c = conn_spawn("cat", false, TIMEOUT_MS, &err);
	test_assert(c != NULL);
	if (c) {
		size_t done = 0, got = 0;
		uint64_t deadline = now_ms() + 10000;
		test_assert(conn_fill_nb(c, &err) == 0);
		/* cat echoes while we write: both at once, or it blocks. */
		while (got < total && now_ms() < deadline) {
			ssize_t k = write_nb(c, out + done, total - done, &err);
			int r;
			test_assert(k >= 0);
			done += k > 0 ? (size_t)k : 0;
			test_assert(flush(c, &err) >= 0);
			while ((r = fill(c, &err)) == 1) {
				size_t len;
				const char *q = conn_peek(c, &len);
				if (len > total - got)
					len = total - got;
				memcpy(in + got, q, len);
				conn_consume(c, len);
				got += len;
			}
			test_assert(r == 0);
			if (test_cur_failed)
				break;
			wait_for(c, 1000);
		}
		test_assert(got == total && memcmp(in, out, total) == 0);
	}
	conn_free(&c);
	c = conn_spawn("printf bye", false, TIMEOUT_MS, &err);
	test_assert(c != NULL);
	if (c) {
		char b[8] = "";
		test_assert(recv_all(c, b, 3, &err));
		test_assert_str(b, "bye");
		test_assert(wait_for(c, 2000));
		test_assert(fill(c, &err) == CONN_EOF);
	}
	conn_free(&c);
	/* A failed command: its exit status explains the EOF. */
	c = conn_spawn("sh -c 'exit 3'", false, TIMEOUT_MS, &err);
	test_assert(c != NULL);
	if (c) {
		int r;
		test_assert(wait_for(c, 2000));
		r = fill(c, &err);
		test_assert(r == -1);
		test_assert_str(r == -1 ? err.msg : NULL,
		    "tunnel command `sh -c 'exit 3'` exited with status 3");
	}
	conn_free(&c);
	test_assert(slowest_ms < SLOW_MS);
	free(out);
	free(in);
	test_end();
}

int
main(void)
{
	bool tls;
	if (getenv("TEST_DEBUG"))
		log_debug_level = 1;
	signal(SIGALRM, on_alarm);
	alarm(180);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(remove_tmpdir);
	tls = make_cert();
	test_begin("nb setup: throw-away certificate");
	test_assert(tls);
	test_end();
	for (int mode = 0; mode < 4; mode++) {
		if ((mode & M_TLS) && !tls)
			continue;
		test_basics(mode);
		test_flush_full(mode);
		test_mixed(mode);
		test_pump(mode);
	}
	if (tls)
		test_buffered();
	test_tunnel();
	EVP_PKEY_free(key);
	X509_free(cert);
	return test_exit();
}
