#ifndef COMMON_CONN_H
#define COMMON_CONN_H

/* A byte stream to a server: TCP (IPv4/IPv6), a Unix socket, or a tunnel
 * command (socketpair to a child run through /bin/sh -c or execvp), with
 * optional TLS (OpenSSL) from the start or upgraded later (STARTTLS), and
 * optional DEFLATE compression above it (IMAP COMPRESS, RFC 4978).
 *
 * Reads and writes are buffered and bounded by a timeout (each wait) and,
 * between conn_budget_start() and conn_budget_stop(), by a budget over the
 * whole exchange (see there); every failure is
 * reported through err with the peer's name (kind ERR_TEMP for network
 * trouble and timeouts, ERR_TLS-like failures as ERR_TEMP too unless the
 * certificate was refused, which is ERR_REFUSED). */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct conn;

struct tls_opts {
	bool verify;              /* SSL_verify (default true): chain and name */
	const char *cafile;       /* SSL_CAfile, NULL = system default */
	const char *capath;       /* SSL_CApath, NULL = system default */
	/* SSL_hostname: SNI. NULL = derive from the host (none for an IP
	 * literal); "" = no SNI. Verification always checks the host name
	 * the user configured (or the IP literal). */
	const char *hostname;
	const char *protocol_min; /* "TLSv1.2" etc., NULL = library default */
	const char *protocol_max;
	const char *protocols;    /* deprecated SSL_protocols list, or NULL */
	const char *cipherlist;   /* SSL_cipherlist, or NULL */
	const char *ciphersuites; /* SSL_ciphersuites, or NULL */
	/* SSL_fingerprint: space-separated "[ALGO$]HEX" digests of the
	 * certificate's SubjectPublicKeyInfo (default algo sha256). When set,
	 * one of them must match, whatever verify says. */
	const char *fingerprints;
};

/* Check the TLS options without connecting (unknown protocol names, bad
 * fingerprint syntax, unknown digest). Returns 0 or -1 with ERR_CONFIG. */
int conn_tls_opts_check(const struct tls_opts *o, struct err *err);

/* host: a name or an IP literal, optionally in [brackets] (then never
 * resolved). port: decimal. Tries every address. timeout_ms bounds the
 * connect and, afterwards, each read/write wait (0 = none). */
struct conn *conn_connect_tcp(const char *host, const char *port,
    int timeout_ms, struct err *err);
struct conn *conn_connect_unix(const char *path, int timeout_ms,
    struct err *err);

/* A SOCKSv5 proxy (RFC 1928), with optional username/password
 * authentication (RFC 1929). Fixed arrays rather than pointers so that the
 * struct can be copied freely (it lives inside struct imap_opts). */
enum proxy_type {
	PROXY_NONE = 0,
	PROXY_SOCKS5,   /* socks5://: the destination is resolved locally */
	PROXY_SOCKS5H,  /* socks5h://: the proxy resolves the destination */
};
struct proxy_opts {
	enum proxy_type type;
	char host[256];      /* name or IP literal, IPv6 in [brackets] */
	char port[6];        /* decimal 1..65535 */
	/* RFC 1929 §2: 1..255 bytes each; both empty = no authentication. */
	char username[256];
	char password[256];
};
/* "socks5h://HOST:PORT" (never the credentials) - for messages. */
const char *proxy_url(const struct proxy_opts *p, char *buf, size_t size);

/* Like conn_connect_tcp(), through the proxy p (type != PROXY_NONE), with
 * libcurl (loaded on first use) doing the SOCKS negotiation: timeout_ms
 * bounds the connection to the proxy and the negotiation together. The
 * conn is named "host:port (via socks5h://proxy:port)"; conn_start_tls()
 * works on it as on a direct one (TLS end to end with host). Errors name
 * the proxy, never its password: ERR_AUTH when the proxy refuses the
 * credentials (or wants some and none are set), ERR_SYS when libcurl
 * cannot be loaded, ERR_TEMP otherwise (proxy down or timing out, the
 * destination refused or unreachable, name resolution failures). */
struct conn *conn_connect_proxy(const struct proxy_opts *p, const char *host,
    const char *port, int timeout_ms, struct err *err);
/* Starts command (through /bin/sh -c or split into words, as Perl's
 * exec would) with a socketpair as its stdin/stdout; stderr to /dev/null
 * when null_stderr; with spawn_start() (spawn_cmd.h: its own process
 * group, SIGINT blocked).
 * conn_free() gives it a second to exit after EOF, then kills it. */
struct conn *conn_spawn(const char *command, bool null_stderr, int timeout_ms,
    struct err *err);

/* TLS handshake on the existing stream (imaps at once, or after STARTTLS).
 * host is the configured host (brackets allowed) used for verification and,
 * unless o->hostname says otherwise, SNI. */
int conn_start_tls(struct conn *c, const char *host, const struct tls_opts *o,
    struct err *err);
/* The same without waiting for the server: sets the session up (the CPU
 * the handshake costs us, mostly) and sends the first flight; the rest
 * of the handshake happens in the reads and writes that follow, blocking
 * or not (conn_want() asks for what it waits for), which report its
 * failure as conn_start_tls() would. -1 with err when setting up or the
 * first send fails. */
int conn_start_tls_nb(struct conn *c, const char *host,
    const struct tls_opts *o, struct err *err);
bool conn_is_tls(const struct conn *c);

/* RFC 4978 COMPRESS=DEFLATE: from now on everything written is compressed
 * (raw deflate, RFC 1951, no zlib/gzip header) and everything read is
 * decompressed, inside TLS when TLS is on (data -> deflate -> TLS -> fd).
 * Call it right after the server's tagged OK to COMPRESS: bytes already
 * buffered beyond what the caller consumed are taken as compressed (the
 * server compresses everything after its OK, RFC 4978 §3). Output queued
 * before the call is sent uncompressed first. Each conn_flush() ends with
 * a deflate sync flush, so the peer can decode everything sent so far
 * (RFC 4978 §4). conn_peek()/conn_consume() show decompressed bytes; memory
 * stays bounded (fixed buffers plus zlib's state, about 400 KiB).
 * Returns 0, or -1 with err (ERR_INTERNAL when already active, ERR_SYS
 * when zlib cannot start). Corrupt compressed input later fails reads with
 * ERR_PROTO ("COMPRESS: corrupt data from NAME: inflate error: ...").
 * TLS cannot be started afterwards: it belongs below compression. */
int conn_start_deflate(struct conn *c, struct err *err);
bool conn_is_deflate(const struct conn *c);
/* Byte counts since conn_start_deflate(): raw_* before compression
 * (what the caller read/wrote), wire_* after (what went through TLS or the
 * fd). All zero when compression is off. Any pointer may be NULL. */
void conn_deflate_stats(const struct conn *c, unsigned long long *raw_in,
    unsigned long long *wire_in, unsigned long long *raw_out,
    unsigned long long *wire_out);

/* Bytes moved since the connection was opened, for a traffic summary:
 * in and out as the caller read and wrote them (after decompression,
 * before compression), wire_in and wire_out as they went through TLS or
 * the fd (compressed under COMPRESS, else equal to in and out). The TLS
 * records' own overhead and handshake are not counted; neither are bytes
 * still queued for sending. Any pointer may be NULL. */
void conn_traffic(const struct conn *c, unsigned long long *in,
    unsigned long long *out, unsigned long long *wire_in,
    unsigned long long *wire_out);

/* Changes the per-operation timeout (ms, 0 = none). */
void conn_set_timeout(struct conn *c, int timeout_ms);

/* The timeout bounds each wait, so a peer that trickles (a byte every few
 * seconds) would hold us forever. A budget bounds a whole exchange (an
 * IMAP command and its response): from conn_budget_start() until
 * conn_budget_stop(), the time spent waiting on this connection may not
 * exceed the timeout plus one second per CONN_MIN_RATE bytes read or
 * written meanwhile. So a large transfer at any reasonable speed earns
 * the time it needs, while a trickle is given up on after about the
 * timeout: the wait fails with ERR_TEMP, "NAME: too slow: N bytes in S s
 * (...)". Time spent elsewhere (delivering a message between two reads)
 * does not count. No budget without a timeout. conn_budget_start()
 * restarts the count when one is running. */
#define CONN_MIN_RATE 1024 /* bytes per second */
void conn_budget_start(struct conn *c);
void conn_budget_stop(struct conn *c);
/* For a caller that waits itself, polling conn_fd() (the IMAP engine):
 * lowers *timeout_ms (< 0: none) to the wait time the running budget has
 * left; -1 with err ("too slow", ERR_TEMP) when nothing is left; no-op
 * without a budget. conn_budget_spend() then counts the time waited. */
int conn_budget_clamp(struct conn *c, int *timeout_ms, struct err *err);
void conn_budget_spend(struct conn *c, uint64_t ms);

/* Process-wide: while *flag is non-zero (a signal handler installed with
 * sigwait_install() sets it), connecting fails at once ("connect to NAME:
 * interrupted", ERR_TEMP), and so does every wait of a connection marked
 * interruptible ("NAME: interrupted"), whenever the signal comes (the
 * flag is tested with the signals blocked, sigwait.h). For --idle, whose
 * reconnections must not hold up SIGTERM for a whole timeout. NULL (the
 * default) turns it off. Mark a connection only while nothing would be
 * lost by dropping it (logging in, not fetching a message). */
void conn_set_interrupt(const volatile sig_atomic_t *flag);
void conn_set_interruptible(struct conn *c, bool on);
/* c is marked interruptible and the flag of conn_set_interrupt() is set:
 * for a caller that waits itself, between sigwait_block() and
 * sigwait_unblock(). */
bool conn_interrupted(const struct conn *c);
/* Enables SO_KEEPALIVE with a short idle time on network sockets. */
void conn_set_keepalive(struct conn *c);

/* Queue bytes for sending (may send, waiting, when the output buffer is
 * full). */
int conn_write(struct conn *c, const void *p, size_t n, struct err *err);
int conn_writes(struct conn *c, const char *s, struct err *err);
/* Send everything queued (by conn_write() or conn_write_nb()), waiting
 * as needed. */
int conn_flush(struct conn *c, struct err *err);

/* Input buffer access without copying: conn_fill() waits until at least
 * one unread byte is buffered (returns 1), or returns 0 at EOF, or -1 on
 * error/timeout. conn_peek() shows the unread bytes; conn_consume() marks n
 * of them read. */
int conn_fill(struct conn *c, struct err *err);
const char *conn_peek(const struct conn *c, size_t *len_r);
void conn_consume(struct conn *c, size_t n);
/* Read up to n bytes (copying). >0 bytes, 0 EOF, -1 error. */
ssize_t conn_read(struct conn *c, void *p, size_t n, struct err *err);
/* Read one line ending in LF (the CRLF/LF is kept) into line (reset
 * first), at most max bytes: longer is an error. 1 = line, 0 = EOF before
 * any byte, -1 = error. */
struct buf;
int conn_read_line(struct conn *c, struct buf *line, size_t max,
    struct err *err);

/* True when a read would not block (data buffered or readable fd). With
 * compression, buffered compressed input counts only once it decompresses
 * to at least one byte (this may inflate it into the input buffer). */
bool conn_readable(struct conn *c);
/* True once the peer closed or reset the connection (as opposed to a
 * timeout): what was sent may simply have been too late to be read. */
bool conn_peer_gone(const struct conn *c);
int conn_fd(const struct conn *c);
/* "host:port", "unix:/path", "tunnel" or "host:port (via socks5://...)" -
 * for messages. */
const char *conn_name(const struct conn *c);

/* ---- Non-blocking interface ----
 *
 * For a caller that drives several connections from one poll()/ppoll()
 * loop (the IMAP engine). These functions never wait for the peer: a
 * transfer that cannot go on now returns at once, and the caller polls
 * conn_fd() for conn_want() before calling again. The only wait is at EOF
 * on a tunnel, where the command's exit status is collected (at most
 * 200 ms, as conn_fill() does). They therefore never time out and never
 * spend the budget (conn_budget_start()): deadlines are the caller's.
 * The bytes they move still count towards a running budget's allowance.
 *
 * A connection may mix both interfaces: the blocking calls keep the byte
 * order (conn_flush(), conn_write() and conn_fill() first send what
 * conn_write_nb() queued, waiting as they always do). Connecting, the TLS
 * handshake of conn_start_tls() and conn_start_deflate() stay blocking
 * (both send what is queued first, waiting); conn_start_tls_nb()'s goes
 * on in these functions.
 * There is one fd per connection whatever the transport (a tunnel's
 * stdin and stdout are one socketpair, a SOCKS proxy hands over a plain
 * socket), always O_NONBLOCK: poll conn_fd(). */

/* Bound on the output queued by conn_write_nb() and not yet sent: bytes
 * before compression in the 64 KiB staging buffer plus bytes after it
 * (compressed, not yet encrypted) in the wire queue. With COMPRESS the
 * last staged block may compress to slightly more than it was, so the
 * queue may exceed the bound by a few dozen bytes. Memory: the staging
 * buffer plus a wire queue allocation of at most 2 MiB (it doubles from
 * 64 KiB), kept until conn_free(). */
#define CONN_OUT_MAX (1024 * 1024)

/* How many bytes conn_write_nb() takes now: CONN_OUT_MAX minus what is
 * queued, 0 when full (then conn_flush_nb() and poll for POLLOUT). */
size_t conn_out_room(const struct conn *c);
/* Queues min(n, conn_out_room(c)) bytes of p, never sending nor waiting,
 * and returns that count (0 when the queue is full, so a caller can stream
 * a literal in pieces), or -1 with err (ERR_INTERNAL: a deflate failure).
 * Nothing goes out before conn_flush_nb() (or a blocking call). */
ssize_t conn_write_nb(struct conn *c, const void *p, size_t n,
    struct err *err);
/* Sends as much of the queued output as the socket takes now. With
 * COMPRESS, what conn_write_nb() queued is first compressed with a deflate
 * sync flush (RFC 4978 §4), so that once the call returns 1 the peer can
 * decode everything written so far; with TLS the records are complete.
 * Returns 1 when everything queued went out, 0 when some is left (poll
 * for conn_want_out()), -1 with err (as conn_flush(): ERR_TEMP, and
 * conn_peer_gone() tells a reset). */
int conn_flush_nb(struct conn *c, struct err *err);

/* conn_fill_nb() at EOF. */
#define CONN_EOF (-2)
/* Reads what is available without waiting. Returns 1 when unread bytes
 * are buffered (conn_peek()): already there (then it reads nothing: peek
 * and consume them all, then call it again), or newly read and decrypted
 * and/or decompressed; 0 when nothing could be read now (poll for
 * conn_want()); CONN_EOF (-2) once the peer closed the stream, the TLS
 * session (close_notify) or the compressed stream, and at every later
 * call; -1 with err on errors (as conn_fill(): ERR_TEMP for the network,
 * ERR_PROTO for corrupt compressed data, the tunnel command's exit
 * status when it failed). With COMPRESS, input that was buffered but not
 * yet inflated is inflated first; 0 means all of it was decoded and more
 * is needed. It never sends queued output: the caller flushes. */
int conn_fill_nb(struct conn *c, struct err *err);
/* The poll events the connection needs now: POLLIN while the stream is
 * not at EOF (POLLOUT instead when OpenSSL's last read asked to write,
 * SSL_ERROR_WANT_WRITE), plus conn_want_out(). On any revents call both
 * conn_fill_nb() and conn_flush_nb(): with TLS a read may progress on
 * POLLOUT and a write on POLLIN; POLLERR/POLLHUP are reported by them.
 * Before sleeping in poll, check conn_has_buffered_input(). */
short conn_want(const struct conn *c);
/* The events needed to send the queued output: POLLOUT (POLLIN when
 * OpenSSL's last write asked to read, SSL_ERROR_WANT_READ) while anything
 * is queued (conn_write_nb(), conn_write(), or deflate input not flushed),
 * else 0. For a caller that stops reading a connection for a while (flow
 * control) and polls only for its output. */
short conn_want_out(const struct conn *c);
/* True when input is buffered above the fd, where poll() cannot see it:
 * unread bytes (conn_peek()), compressed input not yet inflated or
 * inflated output zlib still holds, or what OpenSSL holds (decrypted
 * bytes, records read ahead). Then conn_fill_nb() has something to work
 * on: do not sleep in poll (poll with a zero timeout). False right after
 * conn_fill_nb() returned 0. With COMPRESS it may be true when nothing
 * more decodes (an inflate that filled the buffer exactly cannot tell
 * whether zlib holds more): conn_fill_nb() then returns 0, and it turns
 * false. */
bool conn_has_buffered_input(const struct conn *c);

/* Closes (TLS shutdown without waiting, close, reap a tunnel child:
 * spawn_end() with a second to exit and a second of grace), frees, sets
 * *cp to NULL. NULL-safe. */
void conn_free(struct conn **cp);

#endif
