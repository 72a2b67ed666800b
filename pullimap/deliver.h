#ifndef PULLIMAP_DELIVER_H
#define PULLIMAP_DELIVER_H

/* Delivery of one message at a time to a local MTA, over SMTP (libcurl) or
 * LMTP (native client, RFC 2033), on TCP or a Unix socket. One connection is
 * opened lazily and reused for every message until deliver_quit()/free();
 * a connection the server closed while idle is reopened transparently.
 *
 * Body bytes are passed as they come from IMAP; this module dot-stuffs,
 * appends a CRLF when the body does not end with one, and sends an empty
 * body as one empty line (as the reference does). */

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum deliver_proto { DELIVER_SMTP, DELIVER_LMTP };

struct deliver_target {
	enum deliver_proto proto;
	char *host;   /* IP literal without brackets, or NULL for a Unix socket */
	char *port;   /* decimal, NULL for a Unix socket */
	char *path;   /* Unix socket path, or NULL */
};

/* Parses "smtp:[ADDR]:PORT", "lmtp:[ADDR]:PORT" (ADDR an IPv4 or IPv6
 * literal), "smtp:/path" or "lmtp:/path". Returns 0, or -1 with
 * ERR_CONFIG. Free with deliver_target_clear(). */
int deliver_parse_method(const char *method, struct deliver_target *t,
    struct err *err);
void deliver_target_clear(struct deliver_target *t);

struct deliver_opts {
	const char *method;  /* as above */
	const char *ehlo;    /* EHLO/LHLO name */
	const char *rcpt;    /* the one recipient, as in RCPT TO:<...> */
	int timeout_ms;      /* connect and per-reply timeout */
};

/* Body source: copy up to n bytes into buf. Returns the count (>0), 0 at
 * the end of the body, -1 on error (with err set: the IMAP side failed). */
typedef ssize_t deliver_read_fn(void *ctx, char *buf, size_t n,
    struct err *err);

struct deliver_result {
	int code;          /* final reply code (250), 0 if none */
	char reply[512];   /* final reply text, one line, e.g. "250 2.0.0 <x> Saved" */
	int source_failed; /* the read_fn failed: nothing was delivered */
	int sender_refused; /* the refusal answered MAIL FROM: no body byte
			     * was read from the source */
};

struct deliver;

/* Copies opts. Does not connect. Returns NULL with ERR_CONFIG on a bad
 * method. */
struct deliver *deliver_new(const struct deliver_opts *opts, struct err *err);

/* Delivers one message from sender ("" for <>; no angle brackets) with
 * body from rd. size is the body size if known (0 otherwise).
 * Returns 0 when the server accepted it (res filled), or -1 with err:
 *  - ERR_REFUSED: 5xx for this message; res holds the reply; the
 *    connection stays usable for the next message;
 *  - ERR_TEMP: 4xx, connection lost, timeout (the outcome may be unknown
 *    after the final dot: treat as not delivered);
 *  - the read_fn's error with res->source_failed set: the transaction was
 *    abandoned before the final dot (the connection is dropped so that no
 *    partial message can be accepted).
 * On any -1 other than ERR_REFUSED the connection is closed. */
int deliver_message(struct deliver *d, const char *sender, uint64_t size,
    deliver_read_fn *rd, void *ctx, struct deliver_result *res,
    struct err *err);

/* QUIT and close, if connected. Errors are reported but harmless. */
int deliver_quit(struct deliver *d, struct err *err);
void deliver_free(struct deliver **dp);

#endif
