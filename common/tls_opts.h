#ifndef COMMON_TLS_OPTS_H
#define COMMON_TLS_OPTS_H

/* The SSL_* options' syntax and their OpenSSL meaning, for conn.c (which
 * also defines conn_tls_opts_check() in terms of these). */

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* Initialises OpenSSL, its configuration file read, without the clean-up
 * at exit (~2 ms of freeing what the exit frees anyway). Call before any
 * other OpenSSL function that would initialise it with the defaults;
 * later calls do nothing. */
void tls_lib_init(void);
/* SSL_protocol_min/max: a protocol name ("TLSv1.2", "TLSv1.0" accepted) to
 * its OpenSSL version constant; opt names the option in messages. */
int tls_proto_version(const char *opt, const char *s, int *v, struct err *err);
/* SSL_protocols: naming protocols enables only those, "!name" disables one.
 * *no is the SSL_OP_NO_* mask. */
int tls_parse_protocols(const char *s, uint64_t *no, struct err *err);
/* Digest of cert's SubjectPublicKeyInfo (DER) with md. */
bool tls_spki_digest(X509 *cert, const EVP_MD *md, unsigned char *out,
    unsigned *len);
/* Walks an SSL_fingerprint list ("[ALGO$]HEX ..."): with cert NULL only
 * checks the syntax (0 or -1 with ERR_CONFIG); else returns 1 as soon as a
 * digest is that of cert's SPKI, 0 when none is. */
int tls_fpr_list(const char *s, X509 *cert, struct err *err);

#endif
