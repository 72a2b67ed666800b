/* SASL pieces (common/sasl.c): base64 and the initial responses against
 * published vectors (RFC 4648 §10, RFC 4616 §4, RFC 7628 §4.1, Google's
 * XOAUTH2 page), the RFC 7628 error status, and password-command. */

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "test.h"

static void
check_free(char *got, const char *want)
{
	test_assert_str(got, want);
	free(got);
}

static void
test_base64(void)
{
	static const char *const vec[][2] = { /* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	size_t i, n;
	unsigned char *d;

	test_begin("base64 encode/decode (RFC 4648 vectors)");
	for (i = 0; i < ARRAY_LEN(vec); i++) {
		check_free(sasl_base64(vec[i][0], strlen(vec[i][0])),
		    vec[i][1]);
		d = sasl_base64_decode(vec[i][1], &n);
		test_assert(d != NULL && n == strlen(vec[i][0]));
		if (d != NULL)
			test_assert_str((char *)d, vec[i][0]);
		free(d);
	}
	d = sasl_base64_decode("Zm9vYmE", &n); /* padding optional */
	test_assert(d != NULL && n == 5);
	free(d);
	test_assert(sasl_base64_decode("Zm9v!", &n) == NULL);
	test_assert(sasl_base64_decode("Z", &n) == NULL);
	test_assert(sasl_base64_decode("Zg===", &n) == NULL);
	test_end();
}

static void
test_initial_responses(void)
{
	test_begin("PLAIN initial response (RFC 4616)");
	check_free(sasl_plain("tim", "tanstaaftanstaaf"),
	    "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	test_end();

	test_begin("XOAUTH2 initial response (Google's example)");
	check_free(sasl_xoauth2("someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
	    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
	    "dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	test_end();

	test_begin("OAUTHBEARER initial response (RFC 7628 §4.1)");
	check_free(sasl_oauthbearer("user@example.com", "server.example.com",
	    "143", "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="),
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBv"
	    "cnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1s"
	    "emRHRXVZMjl0Q2c9PQEB");
	/* No host/port (tunnel); ',' and '=' escaped (RFC 5801 §4). */
	check_free(sasl_oauthbearer("a=b,c", NULL, NULL, "T"),
	    "bixhPWE9M0RiPTJDYywBYXV0aD1CZWFyZXIgVAEB");
	test_end();
}

static void
test_json_status(void)
{
	char s[32];

	test_begin("RFC 7628 error status");
	sasl_json_status("{\"status\":\"invalid_token\",\"scope\":\"x\"}", s,
	    sizeof(s));
	test_assert_str(s, "invalid_token");
	sasl_json_status("{ \"status\" : \"401\" }", s, sizeof(s));
	test_assert_str(s, "401");
	sasl_json_status("{\"scope\":\"x\"}", s, sizeof(s));
	test_assert_str(s, "");
	sasl_json_status("{\"status\":\"a\001b\\c\"}", s, sizeof(s));
	test_assert_str(s, "abc");
	sasl_json_status("{\"status\":\"0123456789\"}", s, 5);
	test_assert_str(s, "0123");
	test_end();
}

/* Runs cmd; on success returns the secret, on failure "ERR:" + message. */
static char *
pwcmd(const char *cmd, int timeout_ms, enum err_kind *kind)
{
	struct err err = { 0 };
	char *secret;

	if (sasl_password_command(cmd, timeout_ms, &secret, &err) < 0) {
		*kind = err.kind;
		return xasprintf("ERR:%s", err.msg);
	}
	*kind = ERR_NONE;
	return secret;
}

static void
test_password_command(void)
{
	enum err_kind k;
	uint64_t t0;

	test_begin("password-command: first line is the secret");
	check_free(pwcmd("printf 's3cr3t\\nsecond\\n'", 5000, &k), "s3cr3t");
	test_assert(k == ERR_NONE);
	check_free(pwcmd("printf 'tok en\\r\\n'", 5000, &k), "tok en");
	check_free(pwcmd("printf 'no-newline'", 5000, &k), "no-newline");
	/* Much output after the first line: read to the end, no SIGPIPE. */
	check_free(pwcmd("echo x; head -c 300000 /dev/zero", 5000, &k), "x");
	test_assert(k == ERR_NONE);
	/* stderr is not captured */
	check_free(pwcmd("echo oops >&2; echo pw", 5000, &k), "pw");
	test_end();

	test_begin("password-command: failures");
	check_free(pwcmd("echo pw; exit 3", 5000, &k),
	    "ERR:password-command exited with status 3");
	test_assert(k == ERR_AUTH);
	check_free(pwcmd("true", 5000, &k),
	    "ERR:password-command printed nothing");
	test_assert(k == ERR_AUTH);
	check_free(pwcmd("echo; echo pw", 5000, &k),
	    "ERR:password-command printed nothing");
	check_free(pwcmd("kill -TERM $$", 5000, &k),
	    "ERR:password-command killed by signal 15");
	check_free(pwcmd("printf 'a\\000b\\n'", 5000, &k),
	    "ERR:password-command printed a NUL byte");
	check_free(pwcmd("/nonexistent/helper", 5000, &k),
	    "ERR:password-command exited with status 127 "
	    "(command not found?)");
	t0 = now_ms();
	check_free(pwcmd("exec sleep 10", 300, &k),
	    "ERR:password-command timed out after 0.3 s (killed)");
	test_assert(k == ERR_AUTH);
	test_assert(now_ms() - t0 < 5000);
	test_end();
}

int
main(void)
{
	test_base64();
	test_initial_responses();
	test_json_status();
	test_password_command();
	return test_exit();
}
