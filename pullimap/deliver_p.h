#ifndef PULLIMAP_DELIVER_P_H
#define PULLIMAP_DELIVER_P_H

/* Internals shared by deliver.c (method parsing, dispatch, reply helpers),
 * smtp.c (libcurl) and lmtp.c (native client), and by t/unit. All memory
 * belongs to struct deliver unless stated otherwise. */

#include "deliver.h"

struct smtp_client;
struct lmtp_client;

struct deliver {
	struct deliver_target target;
	char *server;  /* "SMTP server 127.0.0.1:25", "LMTP server /PATH": for
			* messages */
	char *ehlo;
	char *rcpt;
	int timeout_ms; /* <= 0: no limit */
	/* Protocol state, created by the first message, freed by quit. */
	struct smtp_client *smtp;
	struct lmtp_client *lmtp;
};

/* A server reply being collected line by line (RFC 5321 §4.2: "NNN-text"
 * continuation lines, then "NNN text"). text joins the lines into one:
 * "250 first second", control bytes replaced by '?', truncated to fit. */
struct deliver_reply {
	int code;
	bool done;
	char text[sizeof(((struct deliver_result *)0)->reply)];
};

void deliver_reply_reset(struct deliver_reply *r);
/* Adds one line (CRLF/LF optional). Returns 1 when the reply is complete,
 * 0 when more lines follow, -1 when the line is not a valid reply line
 * (then r is left as before). */
int deliver_reply_add(struct deliver_reply *r, const char *line, size_t len);
/* Copies a complete reply into res. */
void deliver_reply_result(const struct deliver_reply *r,
    struct deliver_result *res);

/* Maps a non-2xx reply received during the transaction to an error:
 * 4xx -> ERR_TEMP, 5xx -> ERR_REFUSED, anything else -> ERR_TEMP (a
 * protocol violation). what names the phase ("MAIL", "end of data"). */
int deliver_reply_err(const struct deliver *d, const struct deliver_reply *r,
    const char *what, struct err *err);

/* True when s can go into a command line (no CR, LF or other controls). */
bool deliver_safe_arg(const char *s);

/* smtp.c: libcurl. Same contract as deliver_message()/deliver_quit();
 * smtp_quit also frees the state (harmless when there is none). */
int smtp_deliver(struct deliver *d, const char *sender, uint64_t size,
    deliver_read_fn *rd, void *ctx, struct deliver_result *res,
    struct err *err);
int smtp_quit(struct deliver *d, struct err *err);

/* lmtp.c: RFC 2033 client over TCP or a Unix socket. */
int lmtp_deliver(struct deliver *d, const char *sender, deliver_read_fn *rd,
    void *ctx, struct deliver_result *res, struct err *err);
int lmtp_quit(struct deliver *d, struct err *err);

#endif
