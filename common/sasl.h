#ifndef COMMON_SASL_H
#define COMMON_SASL_H

/* SASL client pieces for IMAP AUTHENTICATE: base64 (RFC 4648 §4), the
 * initial responses of PLAIN (RFC 4616), XOAUTH2 (Google's, also offered
 * by Microsoft and Dovecot) and OAUTHBEARER (RFC 7628), and the
 * password-command helper that fetches a secret at connect time.
 *
 * Every returned string is allocated; as it may carry a secret, the caller
 * zeroes it (explicit_zero) before freeing it. */

#include <stddef.h>

#include "err.h"

/* Base64 with padding, no line breaks. */
char *sasl_base64(const void *in, size_t n);
/* Decodes base64 (padding optional, no whitespace). Returns an allocated
 * buffer NUL-terminated for convenience with its length in *n_r, or NULL
 * when in is not base64. */
unsigned char *sasl_base64_decode(const char *in, size_t *n_r);

/* base64("\0" user "\0" pass) */
char *sasl_plain(const char *user, const char *pass);
/* base64("user=" user "\x01auth=Bearer " token "\x01\x01") */
char *sasl_xoauth2(const char *user, const char *token);
/* RFC 7628 §3.1: base64("n,a=" user ",\x01host=" host "\x01port=" port
 * "\x01auth=Bearer " token "\x01\x01"); host and port are left out when
 * NULL (tunnels). ',' and '=' in user are escaped as RFC 5801 §4 wants
 * ("=2C", "=3D"). */
char *sasl_oauthbearer(const char *user, const char *host, const char *port,
    const char *token);

/* The "status" string of an RFC 7628 §3.2.2 error (the decoded JSON of a
 * failure challenge), printable ASCII only, at most size-1 bytes; ""
 * when there is none. Best effort: no JSON parser, just the first
 * "status":"..." pair. */
void sasl_json_status(const char *json, char *out, size_t size);

/* Runs cmd through /bin/sh -c (spawn_cmd.h), its stdin and stderr passed
 * through, and returns in *secret_r the first line of its standard output
 * (without "\n" or "\r\n"). Fails (ERR_AUTH, one line never quoting the
 * output) when the command exits non-zero or is killed, prints nothing on
 * its first line, prints a NUL byte there, or has not exited timeout_ms
 * after it started, even if it closed its output (then it is killed with
 * spawn_kill(), and this returns about a second later at most); ERR_SYS
 * when it cannot be started. */
int sasl_password_command(const char *cmd, int timeout_ms, char **secret_r,
    struct err *err);

#endif
