#ifndef COMMON_IMAP_CONF_H
#define COMMON_IMAP_CONF_H

/* The IMAP connection options of a configuration section, shared by
 * pullimap and interimap: the keys, defaults and accepted values of the
 * reference (Net::IMAP::InterIMAP's read_config), except where noted. */

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "conn.h"
#include "err.h"

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

/* Every string points into the struct conf it was loaded from, or is a
 * string literal (defaults): valid while that conf lives, never freed
 * through this struct. NULL means unset. */
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

/* True for the configuration keys read by imap_conf_load(). Case-sensitive,
 * like the reference. */
bool imap_conf_is_key(const char *key);

/* Fills o with the defaults, then with the IMAP keys of section (and of the
 * default section "_" it inherits), validating each value. Other keys are
 * ignored: the caller rejects unknown ones. Returns 0, or -1 with err
 * (ERR_CONFIG, "FILE:LINE: invalid value for KEY: ...", or naming both
 * password and password-command when both are set). */
int imap_conf_load(const struct conf *c, const char *section,
    struct imap_opts *o, struct err *err);

/* Helpers for the other keys of a section, with the same message format.
 * Each returns 0, or -1 with ERR_CONFIG naming the entry. */
/* YES or NO, any case. */
int imap_conf_bool(const struct conf *c, const struct conf_entry *e,
    bool *v, struct err *err);
/* No ASCII control character (the reference's \P{Control}); empty allowed
 * only when allow_empty. */
int imap_conf_text(const struct conf *c, const struct conf_entry *e,
    bool allow_empty, struct err *err);
/* Non-empty, bytes 0x01-0x7F only. */
int imap_conf_ascii(const struct conf *c, const struct conf_entry *e,
    bool secret, struct err *err);

#endif
