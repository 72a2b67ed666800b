#ifndef COMMON_CONN_INT_H
#define COMMON_CONN_INT_H

/* The inside of struct conn, shared by conn.c (sockets, tunnels, buffered I/O),
 * conn_tls.c, conn_deflate.c and conn_proxy.c. Nothing else includes it,
 * except unit tests that need conn_new() for an end of a socketpair
 * (t/unit/test_conn_nb.c, test_imapc.c, test_imap_idle.c, imapdrive.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "err.h"
#include "spawn_cmd.h"

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
	/* conn_start_tls_nb() left the handshake to the next reads and
	 * writes (conn_io_nb()). */
	bool hs_pending;
	/* The last TLS read wanted more from the socket: what OpenSSL holds
	 * (read ahead) is part of a record only, nothing to read yet. */
	bool tls_starved;
	/* Since conn_budget_start(), if on: time spent waiting for the fd
	 * and bytes read or written (conn.h). */
	bool budget_on;
	uint64_t budget_waited_ms;
	uint64_t budget_bytes;
	/* Bytes read and written through conn_io_nb() since the connection
	 * opened (conn_traffic()): above TLS, below compression. */
	uint64_t io_in, io_out;
	struct zstate *z;  /* NULL unless COMPRESS=DEFLATE is on */
	void *curl;        /* CURL *: owns fd when connected through a SOCKS proxy */
	size_t rpos, rend, olen;
	/* Wire queue of the non-blocking interface: bytes ready for the
	 * transport (compressed when COMPRESS is on, not yet encrypted),
	 * older than c->out. wq[wq_off..wq_len) is unsent; the blocking
	 * writes drain it first, so the order on the wire is kept. */
	char *wq;
	size_t wq_off, wq_len, wq_cap;
	/* What the last read / write step waits for (conn_want()): POLLIN
	 * and POLLOUT normally, swapped when OpenSSL asked for it. */
	short rd_ev, wr_ev;
	short last_ev;     /* what the last CONN_AGAIN waits for */
	/* Last, left unzeroed by conn_new(). */
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
/* The same step without waiting: CONN_AGAIN when it would block (then
 * c->rd_ev or c->wr_ev says for what). */
ssize_t conn_io_nb(struct conn *c, enum io_op op, void *rbuf,
    const void *wbuf, size_t n, struct err *err);
/* Sends n bytes, waiting as needed; the wire queue goes first. */
int conn_raw_write(struct conn *c, const char *p, size_t n,
    struct err *err);
/* Appends n bytes to the wire queue (never sends). */
void conn_wq_append(struct conn *c, const char *p, size_t n);
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
/* One step of the handshake conn_start_tls_nb() began: 1 done (and
 * checked), 0 to be continued (c->rd_ev, c->wr_ev and c->last_ev say
 * when), -1 with err (the TLS session dropped, the stream unusable). */
int conn_tls_handshake_nb(struct conn *c, struct err *err);
/* Input OpenSSL holds that the fd no longer shows: decrypted bytes, or
 * whole records read ahead (c->tls_starved: not a record's part only). */
bool conn_tls_pending(const struct conn *c);
/* Sends close_notify (never waits for the peer's) and frees. */
void conn_tls_free(struct conn *c);

/* conn_deflate.c */
/* Compresses n bytes and sends them (queue: appends them to the wire
 * queue instead, never waiting); sync pushes out everything zlib holds so
 * that the peer can decode it now. */
int conn_deflate_write(struct conn *c, const char *p, size_t n, bool sync,
    bool queue, struct err *err);
/* deflate holds input not flushed yet. */
bool conn_deflate_pending(const struct conn *c);
/* Refills c->in (which must be empty) with decompressed bytes, from the
 * compressed input already buffered first, then, per mode, from the
 * stream: 1 when it has some, 0 when nothing more could be decoded without
 * reading (INFLATE_NOREAD) or at EOF, CONN_AGAIN when a read would block
 * (INFLATE_NB), -1 on error. */
enum inflate_mode { INFLATE_NOREAD, INFLATE_WAIT, INFLATE_NB };
int conn_inflate(struct conn *c, enum inflate_mode mode, struct err *err);
/* Compressed input is buffered (or the stream failed): worth an inflate
 * before polling the fd. */
bool conn_inflate_buffered(const struct conn *c);
void conn_deflate_free(struct conn *c);

/* conn_proxy.c: releases the libcurl handle that owns the socket. */
void conn_proxy_free(struct conn *c);

#endif
