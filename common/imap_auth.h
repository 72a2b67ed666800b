#ifndef COMMON_IMAP_AUTH_H
#define COMMON_IMAP_AUTH_H

/* Opening an IMAP session on the engine (imapc.h): connect (tunnel, imap
 * with STARTTLS, imaps, through a SOCKS proxy), read the greeting,
 * authenticate, learn the capabilities; COMPRESS on demand; LOGOUT. Shared
 * by pullimap and interimap. */

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "err.h"

struct imap_cmd;
struct imapc;
struct imapc_opts;

enum imap_type {
	IMAP_TYPE_IMAP,   /* "imap": TCP, STARTTLS unless starttls is off */
	IMAP_TYPE_IMAPS,  /* "imaps" (default): TLS from the start */
	IMAP_TYPE_TUNNEL, /* "tunnel": talk to the stdin/stdout of command */
};

/* Authentication mechanisms, by preference. LOGIN is the IMAP LOGIN
 * command (always available unless the server says LOGINDISABLED); the
 * others are AUTHENTICATE MECH when AUTH=MECH is advertised: PLAIN
 * (RFC 4616), XOAUTH2 (Google's) and OAUTHBEARER (RFC 7628), the last two
 * taking an OAuth 2.0 access token as the secret. */
enum imap_auth {
	IMAP_AUTH_PLAIN,
	IMAP_AUTH_LOGIN,
	IMAP_AUTH_XOAUTH2,
	IMAP_AUTH_OAUTHBEARER,
};
#define IMAP_AUTH_MAX 4

/* Plain data, filled by the configuration layer (imap_conf.h) or by
 * hand: this client needs no configuration parser. Strings are borrowed
 * (from the loaded configuration, or literals for the defaults): valid
 * while the caller keeps them, never freed through this struct. NULL
 * means unset. */
struct imap_opts {
	enum imap_type type;      /* type, default imaps */
	const char *host;         /* host, default "localhost" */
	const char *port;         /* port: decimal 1..65535; default "143"
	                           * (imap) or "993" (imaps); NULL for tunnel */
	const char *command;      /* command: required for tunnel */
	bool starttls;            /* STARTTLS, default YES (imap only) */
	/* auth: in the given order, no duplicates; default PLAIN LOGIN;
	 * XOAUTH2 and OAUTHBEARER are not in the reference */
	enum imap_auth auth[IMAP_AUTH_MAX];
	size_t n_auth;
	const char *username;     /* username: ASCII */
	const char *password;     /* password: ASCII */
	/* password-command: run by /bin/sh at every connect, its first
	 * output line is the secret (password or OAuth token); never set
	 * together with password (not in the reference) */
	const char *password_command;
	bool null_stderr;         /* null-stderr, default NO (tunnel) */
	bool compress;            /* compress, default YES (RFC 4978) */
	/* proxy: SOCKSv5 for imap and imaps (type PROXY_NONE when unset,
	 * and for tunnel, which ignores it like the reference); the URL is
	 * parsed into copies, so this part owns its strings */
	struct proxy_opts proxy;
	struct tls_opts tls;      /* SSL_*: syntax checked here, semantics
	                           * (protocol names, digests) by
	                           * conn_tls_opts_check() */
};

/* Sets the defaults above. */
void imap_opts_init(struct imap_opts *o);

/* Connects as o says, reads the greeting, upgrades with STARTTLS when
 * required, authenticates (the first mechanism of o->auth the server
 * offers; LOGIN means the LOGIN command), and makes sure the capabilities
 * are the post-login ones. eo is applied to the engine before the
 * greeting is read (imapc_configure(); NULL: the defaults). timeout_ms
 * bounds every wait (and, with the budget of conn.h, every exchange). The engine is named name in
 * messages, by default (NULL) "HOST:PORT" or "tunnel". Returns it, or NULL with err: ERR_TEMP (network),
 * ERR_AUTH (login refused, password-command failed), ERR_REFUSED (TLS
 * refused, STARTTLS missing, PREAUTH on a plaintext connection),
 * ERR_PROTO (not an IMAP server), ERR_CONFIG (credentials missing),
 * ERR_SYS (password-command could not be started). */
struct imapc *imap_login(const struct imap_opts *o, const char *name,
    const struct imapc_opts *eo, int timeout_ms, struct err *err);

/* imap_login() in steps, for a caller that opens several sessions at
 * once and drives their engines itself (imapc_drive()).
 *
 * imap_login_start() connects as imap_login() does (a tunnel is started,
 * TCP connected: these wait; for imaps, the TLS session set up and the
 * handshake's first flight sent, its rest left to the steps) and returns
 * the session being opened, or NULL with err (as imap_login()).
 * The greeting, STARTTLS, the authentication and the capabilities follow
 * in imap_login_step(), which takes the next steps as far as they go
 * without an answer: 1 logged in, 0 waiting for the server (step and
 * wait on imap_login_engine()), -1 with err (imap_login()'s errors,
 * the connection's failure). wake (may be NULL) is set to true whenever
 * imap_login_step() has something to do again (an answer came): a flag
 * for imapc_drive(), which the caller resets. STARTTLS's handshake and
 * password-command wait inside imap_login_step().
 *
 * imap_login_take() hands the engine over once logged in (1 from
 * imap_login_step()) and frees the rest, or returns NULL (nothing
 * freed); imap_login_free() gives the session up, engine included
 * (NULL-safe, sets *lp to NULL). */
struct imap_login;
struct imap_login *imap_login_start(const struct imap_opts *o,
    const char *name, const struct imapc_opts *eo, int timeout_ms,
    bool *wake, struct err *err);
int imap_login_step(struct imap_login *l, struct err *err);
struct imapc *imap_login_engine(const struct imap_login *l);
struct imapc *imap_login_take(struct imap_login **lp);
void imap_login_free(struct imap_login **lp);

/* Starts COMPRESS=DEFLATE (RFC 4978) when o->compress and the server
 * offers it and the link is not compressed yet; a no-op otherwise. Call
 * it before a command that transfers much (a session with nothing to
 * fetch saves the round trip), once per session. A refusal is a warning,
 * not an error. -1 with err only when the connection failed. */
int imap_compress(struct imapc *c, const struct imap_opts *o, int timeout_ms,
    struct err *err);

/* imap_compress() for a caller driving the engine itself: the command
 * to submit, or NULL when imap_compress() would send nothing; then, with
 * the err its done() got (NULL on OK), imap_compress_end(): 0 (on OK the
 * engine compresses already; a refusal is logged as imap_compress()
 * logs it), or -1 with err when the connection failed. */
struct imap_cmd *imap_compress_cmd(struct imapc *c, const struct imap_opts *o);
int imap_compress_end(struct imapc *c, const struct err *done_err,
    struct err *err);

/* Sends LOGOUT when the connection is usable (waiting at most 5 s,
 * errors ignored), logs the compression figures with --debug, frees the
 * engine and sets *cp to NULL. NULL-safe. */
void imap_logout(struct imapc **cp);

#endif
