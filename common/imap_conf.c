#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_conf.h"

/* Keys as the reference spells them (case matters: "STARTTLS", "SSL_*"). */
static const char *const imap_keys[] = {
	"type", "host", "port", "proxy", "command", "STARTTLS", "auth",
	"username", "password", "password-command", "null-stderr", "compress",
	"SSL_verify", "SSL_CAfile", "SSL_CApath", "SSL_hostname",
	"SSL_protocol_min", "SSL_protocol_max", "SSL_protocols",
	"SSL_cipherlist", "SSL_ciphersuites", "SSL_fingerprint",
};

bool
imap_conf_is_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(imap_keys); i++)
		if (strcmp(key, imap_keys[i]) == 0)
			return true;
	return false;
}

/* "FILE:LINE: invalid value for KEY: VALUE (why)"; secrets are not
 * echoed, an empty value shows as "". */
static int
invalid(const struct conf *c, const struct conf_entry *e, bool secret,
    const char *why, struct err *err)
{
	if (secret)
		return err_set(err, ERR_CONFIG, "%s: invalid value for %s (%s)",
		    conf_where(c, e), e->key, why);
	if (e->value[0] == '\0')
		return err_set(err, ERR_CONFIG,
		    "%s: invalid value for %s: \"\" (%s)", conf_where(c, e),
		    e->key, why);
	return err_set(err, ERR_CONFIG, "%s: invalid value for %s: %.200s (%s)",
	    conf_where(c, e), e->key, e->value, why);
}

int
imap_conf_bool(const struct conf *c, const struct conf_entry *e, bool *v,
    struct err *err)
{
	if (str_ieq(e->value, "YES"))
		*v = true;
	else if (str_ieq(e->value, "NO"))
		*v = false;
	else
		return invalid(c, e, false, "expected YES or NO", err);
	return 0;
}

/* The reference's \P{Control} reads bytes as Latin-1, so it also refuses
 * 0x80-0x9F, which cuts many UTF-8 characters in two; only ASCII controls
 * are refused here. */
int
imap_conf_text(const struct conf *c, const struct conf_entry *e,
    bool allow_empty, struct err *err)
{
	const unsigned char *p;

	if (!allow_empty && e->value[0] == '\0')
		return invalid(c, e, false, "must not be empty", err);
	for (p = (const unsigned char *)e->value; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7F)
			return invalid(c, e, false, "control character", err);
	return 0;
}

int
imap_conf_ascii(const struct conf *c, const struct conf_entry *e, bool secret,
    struct err *err)
{
	const unsigned char *p;

	if (e->value[0] == '\0')
		return invalid(c, e, secret, "must not be empty", err);
	for (p = (const unsigned char *)e->value; *p != '\0'; p++)
		if (*p > 0x7F)
			return invalid(c, e, secret, "must be ASCII", err);
	return 0;
}

/* Space-separated tokens, one space between them, none at either end
 * (the reference's "X(?: X)*"). Calls ok() on each token. */
static bool
each_token(const char *s, bool (*ok)(const char *t, size_t n, void *ctx),
    void *ctx)
{
	const char *q;

	if (*s == '\0')
		return false;
	for (;;) {
		q = strchr(s, ' ');
		if (q == NULL)
			return ok(s, strlen(s), ctx);
		if (q == s || !ok(s, (size_t)(q - s), ctx))
			return false;
		s = q + 1;
		if (*s == '\0')
			return false;
	}
}

/* RFC 3501 ATOM-CHAR, as the reference's $RE_ATOM_CHAR. */
static bool
is_atom_char(unsigned char ch)
{
	return ch == 0x21 || ch == 0x23 || ch == 0x24 || ch == 0x26 ||
	    ch == 0x27 || (ch >= 0x2B && ch <= 0x5B) ||
	    (ch >= 0x5E && ch <= 0x7A) || (ch >= 0x7C && ch <= 0x7E);
}

struct auth_ctx {
	struct imap_opts *o;
	bool unknown;
};

static bool
auth_token(const char *t, size_t n, void *ctx)
{
	struct auth_ctx *a = ctx;
	enum imap_auth m;
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_atom_char((unsigned char)t[i]))
			return false;
	/* The reference upper-cases the mechanism names. */
	if (n == 5 && strncasecmp(t, "PLAIN", 5) == 0) {
		m = IMAP_AUTH_PLAIN;
	} else if (n == 5 && strncasecmp(t, "LOGIN", 5) == 0) {
		m = IMAP_AUTH_LOGIN;
	} else if (n == 7 && strncasecmp(t, "XOAUTH2", 7) == 0) {
		m = IMAP_AUTH_XOAUTH2;
	} else if (n == 11 && strncasecmp(t, "OAUTHBEARER", 11) == 0) {
		m = IMAP_AUTH_OAUTHBEARER;
	} else {
		a->unknown = true;
		return false;
	}
	for (i = 0; i < a->o->n_auth; i++)
		if (a->o->auth[i] == m)
			return true;
	a->o->auth[a->o->n_auth++] = m;
	return true;
}

static bool
is_hex(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

static bool
is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z');
}

/* "[ALGO$]HEX" */
static bool
fingerprint_token(const char *t, size_t n, void *ctx)
{
	const char *dollar = memchr(t, '$', n);
	size_t i = 0;

	(void)ctx;
	if (dollar != NULL) {
		if (dollar == t)
			return false;
		for (; t + i < dollar; i++)
			if (!is_alnum((unsigned char)t[i]))
				return false;
		i++;
	}
	if (i == n)
		return false;
	for (; i < n; i++)
		if (!is_hex((unsigned char)t[i]))
			return false;
	return true;
}

/* "[!]PROTO" with PROTO one of the reference's names. */
static bool
protocol_token(const char *t, size_t n, void *ctx)
{
	static const char *const names[] = {
		"SSLv2", "SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2",
		"TLSv1.3",
	};
	size_t i;

	(void)ctx;
	if (n > 0 && t[0] == '!') {
		t++;
		n--;
	}
	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strlen(names[i]) == n && memcmp(names[i], t, n) == 0)
			return true;
	return false;
}

/* Decimal only: the reference also took service names, but
 * conn_connect_tcp() takes a number. */
static int
load_port(const struct conf *c, const struct conf_entry *e, struct err *err)
{
	uint32_t v;

	if (parse_u32_str(e->value, &v) < 0 || v < 1 || v > 65535)
		return invalid(c, e, false, "expected a port number 1-65535",
		    err);
	return 0;
}

static bool
is_host_char(unsigned char ch)
{
	return is_alnum(ch) || ch == '.' || ch == '-' || ch == '_';
}

/* The reference's \P{Control}+, without echoing credentials. */
static int
proxy_text(const struct conf *c, const struct conf_entry *e, struct err *err)
{
	bool secret = strchr(e->value, '@') != NULL;
	const char *s;

	if (e->value[0] == '\0')
		return invalid(c, e, false, "must not be empty", err);
	for (s = e->value; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return invalid(c, e, secret, "control character", err);
	return 0;
}

/* proxy = PROTOCOL://[USER:PASSWORD@]PROXYHOST[:PROXYPORT], the
 * reference's syntax, stricter: PROTOCOL socks5 or socks5h, a host name,
 * IPv4 literal or [IPv6] literal, a decimal port (default 1080), and, when
 * given, a user name and a password of 1 to 255 bytes each (RFC 1929 §2),
 * taken literally (no %-decoding, as the reference). The value is echoed
 * in errors only when it holds no credentials. */
static int
load_proxy(const struct conf *c, const struct conf_entry *e,
    struct proxy_opts *p, struct err *err)
{
	const char *v = e->value, *s, *at, *colon, *hs, *he, *q;
	bool secret = strchr(v, '@') != NULL;
	size_t n;
	uint32_t port = 1080;

	memset(p, 0, sizeof(*p));
	if (proxy_text(c, e, err) < 0)
		return -1;
	if (strncmp(v, "socks5://", 9) == 0) {
		p->type = PROXY_SOCKS5;
		s = v + 9;
	} else if (strncmp(v, "socks5h://", 10) == 0) {
		p->type = PROXY_SOCKS5H;
		s = v + 10;
	} else {
		return invalid(c, e, secret, strstr(v, "://") ?
		    "unsupported protocol, expected socks5 or socks5h" :
		    "expected socks5://[USER:PASSWORD@]HOST[:PORT] or "
		    "socks5h://...", err);
	}
	/* The last '@', like the reference's greedy match: a password may
	 * hold '@'. */
	if ((at = strrchr(s, '@')) != NULL) {
		colon = memchr(s, ':', (size_t)(at - s));
		if (colon == NULL)
			return invalid(c, e, true,
			    "expected USER:PASSWORD before '@'", err);
		n = (size_t)(colon - s);
		if (n < 1 || n > 255)
			return invalid(c, e, true,
			    "the user name must have 1 to 255 bytes", err);
		memcpy(p->username, s, n);
		n = (size_t)(at - colon - 1);
		if (n < 1 || n > 255)
			return invalid(c, e, true,
			    "the password must have 1 to 255 bytes", err);
		memcpy(p->password, colon + 1, n);
		s = at + 1;
	}
	if (*s == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL || he == hs)
			return invalid(c, e, secret,
			    "expected an IPv6 address in [brackets]", err);
		for (q = hs; q < he; q++)
			if (!is_hex((unsigned char)*q) && *q != ':' &&
			    *q != '.')
				return invalid(c, e, secret,
				    "expected an IPv6 address in [brackets]",
				    err);
		q = he + 1;
		hs--;  /* keep the brackets: libcurl wants them */
		he++;
	} else {
		hs = s;
		for (he = hs; is_host_char((unsigned char)*he); he++)
			;
		if (he == hs || (*he != '\0' && *he != ':'))
			return invalid(c, e, secret, "expected a host name or "
			    "an IP address, then an optional :PORT", err);
		q = he;
	}
	if ((size_t)(he - hs) >= sizeof(p->host))
		return invalid(c, e, secret, "host name too long", err);
	memcpy(p->host, hs, (size_t)(he - hs));
	if (*q == ':') {
		if (parse_u32_str(q + 1, &port) < 0 || port < 1 ||
		    port > 65535)
			return invalid(c, e, secret,
			    "expected a port number 1-65535 after the host",
			    err);
	} else if (*q != '\0') {
		return invalid(c, e, secret, "unexpected text after the host",
		    err);
	}
	snprintf(p->port, sizeof(p->port), "%u", (unsigned)port);
	return 0;
}

int
imap_conf_load(const struct conf *c, const char *section, struct imap_opts *o,
    struct err *err)
{
	/* Free text (no controls), borrowed from the conf. */
	const struct {
		const char *key;
		bool allow_empty;
		const char **dst;
	} text_keys[] = {
		{ "host", false, &o->host },
		{ "command", false, &o->command },
		{ "SSL_CAfile", false, &o->tls.cafile },
		{ "SSL_CApath", false, &o->tls.capath },
		/* "" means "no SNI", NULL "derive from host". */
		{ "SSL_hostname", true, &o->tls.hostname },
		{ "SSL_protocol_min", false, &o->tls.protocol_min },
		{ "SSL_protocol_max", false, &o->tls.protocol_max },
		{ "SSL_cipherlist", false, &o->tls.cipherlist },
		/* "an empty list is permissible" (the reference) */
		{ "SSL_ciphersuites", true, &o->tls.ciphersuites },
	};
	const struct conf_entry *e;
	size_t i;

	imap_opts_init(o);

	if ((e = conf_get(c, section, "type")) != NULL) {
		/* Case-sensitive, like the reference's regex. */
		if (strcmp(e->value, "imap") == 0)
			o->type = IMAP_TYPE_IMAP;
		else if (strcmp(e->value, "imaps") == 0)
			o->type = IMAP_TYPE_IMAPS;
		else if (strcmp(e->value, "tunnel") == 0)
			o->type = IMAP_TYPE_TUNNEL;
		else
			return invalid(c, e, false,
			    "expected imap, imaps or tunnel", err);
	}
	o->port = o->type == IMAP_TYPE_IMAPS ? "993" :
	    o->type == IMAP_TYPE_IMAP ? "143" : NULL;

	if ((e = conf_get(c, section, "proxy")) != NULL) {
		/* A tunnel ignores it, like the reference, which checks only
		 * the \P{Control}+ of read_config() then. */
		if (o->type == IMAP_TYPE_TUNNEL) {
			if (proxy_text(c, e, err) < 0)
				return -1;
		} else if (load_proxy(c, e, &o->proxy, err) < 0) {
			return -1;
		}
	}

	for (i = 0; i < ARRAY_LEN(text_keys); i++) {
		if ((e = conf_get(c, section, text_keys[i].key)) == NULL)
			continue;
		if (imap_conf_text(c, e, text_keys[i].allow_empty, err) < 0)
			return -1;
		*text_keys[i].dst = e->value;
	}

	if ((e = conf_get(c, section, "port")) != NULL) {
		if (load_port(c, e, err) < 0)
			return -1;
		/* Meaningless for a tunnel, but validated all the same, as
		 * the reference does; kept NULL there. */
		if (o->type != IMAP_TYPE_TUNNEL)
			o->port = e->value;
	}

	if ((e = conf_get(c, section, "username")) != NULL) {
		if (imap_conf_ascii(c, e, true, err) < 0)
			return -1;
		o->username = e->value;
	}
	if ((e = conf_get(c, section, "password")) != NULL) {
		if (imap_conf_ascii(c, e, true, err) < 0)
			return -1;
		o->password = e->value;
	}
	if ((e = conf_get(c, section, "password-command")) != NULL) {
		const struct conf_entry *pw = conf_get(c, section, "password");

		/* Two sources of the secret: which one wins would be a
		 * guess. */
		if (pw != NULL) {
			const char *w = conf_where(c, pw);
			char *where = xstrdup(w);

			err_set(err, ERR_CONFIG, "%s: password and "
			    "password-command (%s) are mutually exclusive",
			    where, conf_where(c, e));
			free(where);
			return -1;
		}
		if (imap_conf_text(c, e, false, err) < 0)
			return -1;
		o->password_command = e->value;
	}

	if ((e = conf_get(c, section, "auth")) != NULL) {
		struct auth_ctx a = { o, false };

		o->n_auth = 0;
		if (!each_token(e->value, auth_token, &a))
			return invalid(c, e, false, a.unknown ?
			    "supported mechanisms: PLAIN LOGIN XOAUTH2 "
			    "OAUTHBEARER" :
			    "expected mechanisms separated by single spaces",
			    err);
	}

	if ((e = conf_get(c, section, "STARTTLS")) != NULL &&
	    imap_conf_bool(c, e, &o->starttls, err) < 0)
		return -1;
	if ((e = conf_get(c, section, "null-stderr")) != NULL &&
	    imap_conf_bool(c, e, &o->null_stderr, err) < 0)
		return -1;
	if ((e = conf_get(c, section, "compress")) != NULL &&
	    imap_conf_bool(c, e, &o->compress, err) < 0)
		return -1;
	if ((e = conf_get(c, section, "SSL_verify")) != NULL &&
	    imap_conf_bool(c, e, &o->tls.verify, err) < 0)
		return -1;

	if ((e = conf_get(c, section, "SSL_protocols")) != NULL) {
		if (!each_token(e->value, protocol_token, NULL))
			return invalid(c, e, false, "expected [!]PROTOCOL "
			    "names (SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 "
			    "TLSv1.3) separated by single spaces", err);
		o->tls.protocols = e->value;
	}
	if ((e = conf_get(c, section, "SSL_fingerprint")) != NULL) {
		if (!each_token(e->value, fingerprint_token, NULL))
			return invalid(c, e, false, "expected [ALGO$]HEX "
			    "digests separated by single spaces", err);
		o->tls.fingerprints = e->value;
	}

	if (o->type == IMAP_TYPE_TUNNEL && o->command == NULL) {
		e = conf_get(c, section, "type");
		return err_set(err, ERR_CONFIG,
		    "%s: type = tunnel needs a command", conf_where(c, e));
	}
	return 0;
}
