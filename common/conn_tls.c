#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conn.h"
#include "conn_int.h"
#include "log.h"
#include "tls_opts.h"

/* TLS on a conn (OpenSSL): the handshake with certificate, host name and
 * SPKI fingerprint checks, and the read/write steps conn_io() runs. */

/* Builds the message for a failed SSL_* call from OpenSSL's error queue,
 * falling back to errno (saved right after the call). */
static int
tls_fail(struct conn *c, const char *what, int sslerr, int saved_errno,
    struct err *err)
{
	unsigned long e = ERR_get_error();
	char s[256];
	ERR_clear_error();
	if (e != 0) {
		ERR_error_string_n(e, s, sizeof(s));
		return err_set(err, ERR_TEMP, "%s %s: %s", what, c->name, s);
	}
	if (sslerr == SSL_ERROR_SYSCALL && saved_errno != 0) {
		errno = saved_errno;
		return err_sys(err, ERR_TEMP, "%s %s", what, c->name);
	}
	return err_set(err, ERR_TEMP, "%s %s: connection closed by peer",
	    what, c->name);
}

/* Records the leaf's sha256 SPKI digest (for messages) and whether it
 * matches SSL_fingerprint. */
static void
check_leaf(struct conn *c, X509 *cert)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	struct err scratch;
	size_t o = (size_t)snprintf(c->fp_actual, sizeof(c->fp_actual),
	    "sha256$");
	if (tls_spki_digest(cert, EVP_sha256(), d, &len))
		for (unsigned i = 0; i < len; i++)
			o += (size_t)snprintf(c->fp_actual + o,
			    sizeof(c->fp_actual) - o, "%02x", d[i]);
	c->fp_checked = true;
	c->fp_ok = c->fingerprints == NULL ||
	    tls_fpr_list(c->fingerprints, cert, &scratch) == 1;
}

/* Like the reference: chain and name errors count only with SSL_verify;
 * the fingerprint (checked on the leaf) counts either way, and aborts the
 * handshake before anything is sent. */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *c = SSL_get_app_data(ssl);
	if (!c->verify)
		ok = 1;
	if (X509_STORE_CTX_get_error_depth(store) == 0 && !c->fp_checked)
		check_leaf(c, X509_STORE_CTX_get_current_cert(store));
	if (c->fp_checked && !c->fp_ok) {
		X509_STORE_CTX_set_error(store,
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return ok;
}

static void
ignore_sigpipe(void)
{
	/* OpenSSL's socket BIO write()s, so MSG_NOSIGNAL cannot help there:
	 * ignore SIGPIPE unless the program chose a handler itself. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

static bool
is_ip(const char *h)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

static int
setup_ctx(SSL_CTX *ctx, const struct tls_opts *o, struct err *err)
{
	uint64_t no = 0;
	int v;
	if (o->protocol_min || o->protocol_max) {
		/* The reference ignores SSL_protocols then. */
		if (o->protocol_min && (tls_proto_version("SSL_protocol_min",
		    o->protocol_min, &v, err) < 0 ||
		    !SSL_CTX_set_min_proto_version(ctx, v)))
			goto fail;
		if (o->protocol_max && (tls_proto_version("SSL_protocol_max",
		    o->protocol_max, &v, err) < 0 ||
		    !SSL_CTX_set_max_proto_version(ctx, v)))
			goto fail;
	} else if (o->protocols &&
	    tls_parse_protocols(o->protocols, &no, err) < 0) {
		return -1;
	}
	SSL_CTX_set_options(ctx, no | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
	/* Whatever the socket holds in one read, up to our buffer's size:
	 * without it, two reads a record (its header, then the rest), some
	 * 7,800 for the 62 MB of a first sync's download (`make bench`:
	 * 27,820 reads against 51,569 in such a sync, the local server's
	 * counted too; our CPU 0.70-0.76 s against 0.75-0.87 s, three runs
	 * of each in turns). What is read ahead is input poll() cannot
	 * see: conn_tls_pending(). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, CONN_BUFSIZE);
	if (o->cipherlist && !SSL_CTX_set_cipher_list(ctx, o->cipherlist))
		goto fail;
	if (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
		goto fail;
	if (o->verify) {
		if (o->cafile || o->capath) {
			if (!SSL_CTX_load_verify_locations(ctx, o->cafile,
			    o->capath)) {
				ERR_clear_error();
				return err_set(err, ERR_CONFIG,
				    "cannot load SSL_CAfile %s / SSL_CApath %s",
				    o->cafile ? o->cafile : "(unset)",
				    o->capath ? o->capath : "(unset)");
			}
		} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return 0;
fail:
	/* The option names were checked already: this is OpenSSL's word. */
	{
		char s[256] = "failed";
		unsigned long e = ERR_get_error();
		if (e != 0)
			ERR_error_string_n(e, s, sizeof(s));
		ERR_clear_error();
		return err_set(err, ERR_CONFIG, "TLS setup: %s", s);
	}
}

static int
handshake_fail(struct conn *c, int sslerr, int saved, struct err *err)
{
	long vr = SSL_get_verify_result(c->ssl);
	unsigned long e = ERR_peek_error();
	if (c->fp_checked && !c->fp_ok) {
		ERR_clear_error();
		return err_set(err, ERR_REFUSED,
		    "TLS handshake with %s: server certificate fingerprint "
		    "%s does not match SSL_fingerprint", c->name,
		    c->fp_actual);
	}
	if (vr != X509_V_OK && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		bool trust = vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		    vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		    vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
		ERR_clear_error();
		return err_set(err, ERR_REFUSED,
		    "TLS handshake with %s: certificate verify failed: %s%s",
		    c->name, X509_verify_cert_error_string(vr),
		    trust ? " (use SSL_CAfile or SSL_fingerprint)" : "");
	}
	return tls_fail(c, "TLS handshake with", sslerr, saved, err);
}

/* Drops a TLS session that failed to set up: the stream is unusable, and
 * nothing may go out in clear text after a failed upgrade. */
static void
tls_abandon(struct conn *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fingerprints = NULL;
	c->hs_pending = false;
	c->eof = true;
	shutdown(c->fd, SHUT_RDWR);
	ERR_clear_error();
}

/* Everything before the handshake's first flight: the checks, the
 * context (the CPU-heavy part), the session with its host name. */
static int
tls_begin(struct conn *c, const char *host, const struct tls_opts *o,
    struct err *err)
{
	char *h = conn_strip_brackets(host ? host : "", NULL);
	const char *sni;
	bool ip = is_ip(h);
	int r = -1;

	if (conn_tls_opts_check(o, err) < 0)
		goto out;
	if (c->ssl != NULL) {
		err_set(err, ERR_INTERNAL, "%s: TLS already started", c->name);
		goto out;
	}
	/* TLS would have to go below the compression layer already in
	 * use (RFC 4978 §3 compresses inside TLS): refuse the mix-up. */
	if (c->z != NULL) {
		err_set(err, ERR_INTERNAL, "%s: TLS after COMPRESS", c->name);
		goto out;
	}
	/* Plaintext that arrived before the handshake could be injected
	 * (CVE-2011-0411 style): refuse rather than parse it later. */
	if (c->rpos < c->rend) {
		err_set(err, ERR_PROTO, "%s sent data before the TLS handshake",
		    c->name);
		goto out;
	}
	if (conn_flush(c, err) < 0)
		goto out;
	ignore_sigpipe();
	tls_lib_init();
	ERR_clear_error();
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	if (setup_ctx(c->ctx, o, err) < 0)
		goto fail;
	if ((c->ssl = SSL_new(c->ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd)) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	c->verify = o->verify;
	c->fingerprints = o->fingerprints;
	c->fp_checked = c->fp_ok = false;
	if (o->verify && *h != '\0' &&
	    !(ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), h) :
	    SSL_set1_host(c->ssl, h))) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	sni = o->hostname ? o->hostname : ip ? "" : h;
	if (*sni != '\0' && !SSL_set_tlsext_host_name(c->ssl, sni)) {
		tls_fail(c, "TLS SNI for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	r = 0;
	goto out;
fail:
	tls_abandon(c);
out:
	free(h);
	return r;
}

/* After the handshake: the fingerprint, should the leaf never have reached
 * the callback. */
static int
tls_done(struct conn *c, struct err *err)
{
	if (!c->fp_checked) {
		X509 *cert = SSL_get0_peer_certificate(c->ssl);
		if (cert == NULL) {
			err_set(err, ERR_REFUSED, "TLS handshake with %s: no "
			    "server certificate", c->name);
			tls_abandon(c);
			return -1;
		}
		check_leaf(c, cert);
		if (!c->fp_ok) {
			handshake_fail(c, SSL_ERROR_SSL, 0, err);
			tls_abandon(c);
			return -1;
		}
	}
	c->fingerprints = NULL;
	log_debug("TLS with %s: %s, cipher %s (%d bits), server SPKI %s",
	    c->name, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	    SSL_get_cipher_bits(c->ssl, NULL), c->fp_actual);
	return 0;
}

int
conn_start_tls(struct conn *c, const char *host, const struct tls_opts *o,
    struct err *err)
{
	if (tls_begin(c, host, o, err) < 0)
		return -1;
	if (conn_io(c, IO_HANDSHAKE, NULL, NULL, 0, err) < 0) {
		tls_abandon(c);
		return -1;
	}
	return tls_done(c, err);
}

int
conn_start_tls_nb(struct conn *c, const char *host, const struct tls_opts *o,
    struct err *err)
{
	if (tls_begin(c, host, o, err) < 0)
		return -1;
	c->hs_pending = true;
	/* The first flight goes now: the server says nothing before it. */
	return conn_tls_handshake_nb(c, err) < 0 ? -1 : 0;
}

int
conn_tls_handshake_nb(struct conn *c, struct err *err)
{
	short ev = 0;
	ssize_t r = conn_tls_step(c, IO_HANDSHAKE, NULL, NULL, 0, &ev, err);

	if (r == CONN_AGAIN) {
		/* What the reads and writes wait for meanwhile. */
		c->last_ev = c->rd_ev = c->wr_ev = ev;
		return 0;
	}
	c->hs_pending = false;
	c->rd_ev = POLLIN;
	c->wr_ev = POLLOUT;
	if (r < 0) {
		tls_abandon(c);
		return -1;
	}
	return tls_done(c, err) < 0 ? -1 : 1;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

ssize_t
conn_tls_step(struct conn *c, enum io_op op, void *rbuf, const void *wbuf,
    size_t n, short *ev, struct err *err)
{
	int m = n > INT_MAX ? INT_MAX : (int)n, e, saved, r;

	ERR_clear_error();
	r = op == IO_READ ? SSL_read(c->ssl, rbuf, m) :
	    op == IO_WRITE ? SSL_write(c->ssl, wbuf, m) :
	    SSL_connect(c->ssl);
	saved = errno;
	if (op == IO_READ)
		c->tls_starved = r <= 0;
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN && op == IO_READ)
		return 0;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return CONN_AGAIN;
	}
	if (op == IO_HANDSHAKE)
		return handshake_fail(c, e, saved, err);
	if (op == IO_WRITE && conn_child_error(c, err) < 0)
		return -1;
	return tls_fail(c, op == IO_READ ? "TLS read from" : "TLS write to", e,
	    saved, err);
}

bool
conn_tls_pending(const struct conn *c)
{
	/* Decrypted bytes, or records read ahead, unless the last read
	 * found only part of one. */
	return SSL_pending(c->ssl) > 0 ||
	    (!c->tls_starved && SSL_has_pending(c->ssl));
}

void
conn_tls_free(struct conn *c)
{
	if (c->ssl) {
		/* close_notify, but never wait for the peer's. */
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}
