#include "util.h"

#include <ctype.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conn.h"
#include "log.h"
#include "tls_opts.h"

static const struct {
	const char *name;
	int version;
	uint64_t no;
} protos[] = {
	{"SSLv2", 0, 0}, /* gone from OpenSSL; only the deprecated list */
	{"SSLv3", SSL3_VERSION, SSL_OP_NO_SSLv3},
	{"TLSv1", TLS1_VERSION, SSL_OP_NO_TLSv1},
	{"TLSv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
	{"TLSv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
	{"TLSv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
};

/* Index into protos, or -1. "TLSv1.0" is accepted like the reference. */
static int
proto_find(const char *s, size_t n)
{
	if (n > 2 && memcmp(s + n - 2, ".0", 2) == 0)
		n -= 2;
	for (size_t i = 0; i < ARRAY_LEN(protos); i++)
		if (strlen(protos[i].name) == n &&
		    memcmp(protos[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

int
tls_proto_version(const char *opt, const char *s, int *v, struct err *err)
{
	int i = proto_find(s, strlen(s));
	if (i < 0 || protos[i].version == 0)
		return err_set(err, ERR_CONFIG, "%s: unknown protocol %s",
		    opt, s);
	*v = protos[i].version;
	return 0;
}

/* SSL_protocols: naming a protocol enables only the named ones, "!name"
 * disables it. Returns the SSL_OP_NO_* mask. */
int
tls_parse_protocols(const char *s, uint64_t *no, struct err *err)
{
	uint64_t inc = 0, exc = 0, all = 0;
	bool any_inc = false;
	for (size_t i = 0; i < ARRAY_LEN(protos); i++)
		all |= protos[i].no;
	while (*s != '\0') {
		bool neg;
		size_t n;
		int i;
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		neg = *s == '!';
		s += neg;
		n = strcspn(s, " \t");
		if ((i = proto_find(s, n)) < 0)
			return err_set(err, ERR_CONFIG,
			    "SSL_protocols: unknown protocol %.*s", (int)n, s);
		if (neg) {
			exc |= protos[i].no;
		} else {
			inc |= protos[i].no;
			any_inc = true;
		}
		s += n;
	}
	*no = exc | (any_inc ? all & ~inc : 0);
	return 0;
}

void
tls_lib_init(void)
{
	(void)OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL);
}

/* One "[ALGO$]HEX" token (colons allowed between hex pairs, as the
 * reference strips them). */
static int
parse_fpr(const char *tok, size_t n, const EVP_MD **md, unsigned char *dig,
    unsigned *dlen, struct err *err)
{
	const char *dollar = memchr(tok, '$', n), *h = tok;
	char algo[32] = "sha256";
	size_t nd = 0;
	if (dollar != NULL) {
		size_t al = (size_t)(dollar - tok);
		bool ok = al > 0 && al < sizeof(algo);
		for (size_t i = 0; ok && i < al; i++)
			ok = isalnum((unsigned char)tok[i]);
		if (!ok)
			return err_set(err, ERR_CONFIG,
			    "SSL_fingerprint: bad algorithm in %.*s", (int)n,
			    tok);
		memcpy(algo, tok, al);
		algo[al] = '\0';
		h = dollar + 1;
	}
	tls_lib_init();
	if ((*md = EVP_get_digestbyname(algo)) == NULL)
		return err_set(err, ERR_CONFIG,
		    "SSL_fingerprint: unknown digest %s", algo);
	for (; h < tok + n; h++) {
		int hi, lo;
		if (*h == ':')
			continue;
		if (h + 1 >= tok + n || nd >= EVP_MAX_MD_SIZE ||
		    (hi = OPENSSL_hexchar2int((unsigned char)h[0])) < 0 ||
		    (lo = OPENSSL_hexchar2int((unsigned char)h[1])) < 0)
			return err_set(err, ERR_CONFIG,
			    "SSL_fingerprint: bad hex digest in %.*s", (int)n,
			    tok);
		dig[nd++] = (unsigned char)(hi << 4 | lo);
		h++;
	}
	if (nd != (size_t)EVP_MD_get_size(*md))
		return err_set(err, ERR_CONFIG,
		    "SSL_fingerprint: a %s digest has %d hex digits, "
		    "not %zu in %.*s", algo, 2 * EVP_MD_get_size(*md), 2 * nd,
		    (int)n, tok);
	*dlen = (unsigned)nd;
	return 0;
}

bool
tls_spki_digest(X509 *cert, const EVP_MD *md, unsigned char *out, unsigned *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	bool ok = n > 0 && EVP_Digest(der, (size_t)n, out, len, md, NULL) == 1;
	OPENSSL_free(der);
	return ok;
}

/* Walks the SSL_fingerprint list: with cert NULL only checks the syntax;
 * else returns 1 as soon as a digest is that of cert's SPKI. */
int
tls_fpr_list(const char *s, X509 *cert, struct err *err)
{
	for (; *(s += strspn(s, " \t")) != '\0'; s += strcspn(s, " \t")) {
		size_t n = strcspn(s, " \t");
		unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
		unsigned wlen = 0, glen = 0;
		const EVP_MD *md = NULL;
		if (parse_fpr(s, n, &md, want, &wlen, err) < 0)
			return -1;
		if (cert && tls_spki_digest(cert, md, got, &glen) && glen == wlen &&
		    memcmp(got, want, wlen) == 0) {
			log_debug("server certificate matches SSL_fingerprint "
			    "%.*s", (int)n, s);
			return 1;
		}
	}
	return 0;
}

int
conn_tls_opts_check(const struct tls_opts *o, struct err *err)
{
	int vmin = 0, vmax = 0;
	uint64_t no;
	if (o->protocol_min != NULL &&
	    tls_proto_version("SSL_protocol_min", o->protocol_min, &vmin, err) < 0)
		return -1;
	if (o->protocol_max != NULL &&
	    tls_proto_version("SSL_protocol_max", o->protocol_max, &vmax, err) < 0)
		return -1;
	if (vmin && vmax && vmin > vmax)
		return err_set(err, ERR_CONFIG,
		    "SSL_protocol_min %s is above SSL_protocol_max %s",
		    o->protocol_min, o->protocol_max);
	if (o->protocols != NULL && tls_parse_protocols(o->protocols, &no, err) < 0)
		return -1;
	if (o->fingerprints != NULL) {
		if (o->fingerprints[strspn(o->fingerprints, " \t")] == '\0')
			return err_set(err, ERR_CONFIG,
			    "SSL_fingerprint: empty");
		if (tls_fpr_list(o->fingerprints, NULL, err) < 0)
			return -1;
	}
	if (o->cipherlist != NULL || o->ciphersuites != NULL) {
		/* Only OpenSSL knows which names it accepts. */
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		const char *opt = NULL, *val = NULL;
		if (ctx == NULL)
			return err_set(err, ERR_SYS, "SSL_CTX_new failed");
		if (o->cipherlist &&
		    !SSL_CTX_set_cipher_list(ctx, o->cipherlist))
			opt = "SSL_cipherlist", val = o->cipherlist;
		else if (o->ciphersuites &&
		    !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
			opt = "SSL_ciphersuites", val = o->ciphersuites;
		SSL_CTX_free(ctx);
		ERR_clear_error();
		if (opt)
			return err_set(err, ERR_CONFIG,
			    "%s: no usable cipher in \"%s\"", opt, val);
	}
	return 0;
}
