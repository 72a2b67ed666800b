#ifndef COMMON_CONN_INT_H
#define COMMON_CONN_INT_H

/* The inside of struct conn, shared by conn.c (sockets, tunnels, buffered I/O),
 * conn_tls.c, conn_deflate.c and conn_proxy.c. Nothing else includes it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "err.h"
#include "spawn.h"

/* Matches the largest TLS record payload several times over, so that one
 * read usually drains what the kernel has. */
#define CONN_BUFSIZE (64 * 1024)
/* "sha512$" plus the hex of the largest digest. */
#define FPR_MAX (16 + 2 * EVP_MAX_MD_SIZE)

struct zstate;

struct conn {
	int fd;
	int timeout_ms;
	bool tcp;
	bool eof;
	bool gone;         /* the peer reset the connection */
	bool interruptible; /* conn_set_interruptible() */
	struct spawn child; /* the tunnel command (pid -1 otherwise) */
	char *name;
	char *command;
	SSL_CTX *ctx;
	SSL *ssl;
	/* Handshake state shared with verify_cb(). */
	bool verify;
	const char *fingerprints;
	bool fp_checked, fp_ok;
	char fp_actual[FPR_MAX];
	/* Since conn_budget_start(), if on: time spent waiting for the fd
	 * and bytes read or written (conn.h). */
	bool budget_on;
	uint64_t budget_waited_ms;
	uint64_t budget_bytes;
	struct zstate *z;  /* NULL unless COMPRESS=DEFLATE is on */
	void *curl;        /* CURL *: owns fd when connected through a SOCKS proxy */
	size_t rpos, rend, olen;
	char in[CONN_BUFSIZE];
	char out[CONN_BUFSIZE];
};

enum io_op { IO_READ, IO_WRITE, IO_HANDSHAKE };

/* conn_tls_step() could not make progress: wait for *ev on the fd. */
#define CONN_AGAIN (-2)

/* conn.c */
struct conn *conn_new(int fd, const char *name, int timeout_ms);
/* One read, write or handshake step, retried until it makes progress
 * while waiting on the fd for what the kernel or OpenSSL asks. Returns >0
 * bytes (1 for the handshake), 0 at EOF (reads), or -1. */
ssize_t conn_io(struct conn *c, enum io_op op, void *rbuf, const void *wbuf,
    size_t n, struct err *err);
int conn_raw_write(struct conn *c, const char *p, size_t n,
    struct err *err);
/* -1 with err when the tunnel command failed (its exit status explains an
 * EOF or EPIPE best), 0 otherwise. */
int conn_child_error(struct conn *c, struct err *err);
/* "[v6]:port" so that the port stays readable. */
char *conn_host_port(const char *host, const char *port);
/* Copy of host without the [brackets] that force an IP literal. */
char *conn_strip_brackets(const char *host, bool *bracketed);

/* conn_tls.c: one SSL_read/SSL_write/SSL_connect: >0, 0 at EOF (reads),
 * -1 with err, or CONN_AGAIN with *ev to wait for. */
ssize_t conn_tls_step(struct conn *c, enum io_op op, void *rbuf,
    const void *wbuf, size_t n, short *ev, struct err *err);
/* Decrypted bytes buffered in OpenSSL that the fd no longer shows. */
bool conn_tls_pending(const struct conn *c);
/* Sends close_notify (never waits for the peer's) and frees. */
void conn_tls_free(struct conn *c);

/* conn_deflate.c */
/* Compresses n bytes and sends them; sync pushes out everything zlib
 * holds so that the peer can decode it now. */
int conn_deflate_write(struct conn *c, const char *p, size_t n, bool sync,
    struct err *err);
/* deflate holds input not flushed yet. */
bool conn_deflate_pending(const struct conn *c);
/* Refills c->in (which must be empty) with decompressed bytes: 1 when it
 * has some, 0 when nothing more could be decoded without reading (or at EOF
 * when may_read), -1 on error. */
int conn_inflate(struct conn *c, bool may_read, struct err *err);
/* Compressed input is buffered (or the stream failed): worth an inflate
 * before polling the fd. */
bool conn_inflate_buffered(const struct conn *c);
void conn_deflate_free(struct conn *c);

/* conn_proxy.c: releases the libcurl handle that owns the socket. */
void conn_proxy_free(struct conn *c);

#endif
