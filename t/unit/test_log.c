/* common/log.c: whatever the log functions print stays one line of
 * printable text. Server data (an ENVELOPE host, an INTERNALDATE, a NO
 * text) must not be able to forge a second journal line or send terminal
 * escapes: control bytes, DEL and invalid UTF-8 are escaped, valid UTF-8 is
 * kept. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"
#include "test.h"

/* What was printed, without the final newline (which must be the only
 * one). */
static void
cap_begin(void)
{
	capture_begin();
}

static const char *
cap_end(void)
{
	char *got = capture_buf;
	size_t n;

	capture_end();
	n = strlen(got);
	test_assert(n > 0 && got[n - 1] == '\n');
	if (n > 0 && got[n - 1] == '\n')
		got[--n] = '\0';
	test_assert(memchr(got, '\n', n) == NULL);
	test_assert(memchr(got, '\r', n) == NULL);
	return got;
}

/* A tee that keeps what it got, and claims debug lines when asked. */
static char teed[1024];
static int tee_calls;

static bool
keep_tee(void *ctx, bool debug, const char *line, size_t len)
{
	bool *claim_debug = ctx;
	size_t n = strlen(teed);

	tee_calls++;
	snprintf(teed + n, sizeof(teed) - n, "%s%.*s|", debug ? "D:" : "",
	    (int)len, line);
	return debug && *claim_debug;
}

/* A stderr hook that marks where it was called: "<" before a line, ">"
 * after. */
static void
mark_hook(void *ctx, bool before)
{
	int *calls = ctx;

	(*calls)++;
	fputs(before ? "<" : ">", stderr);
}

/* A hold hook that keeps each line it is given (flags and text) and
 * claims them all while *ctx is true. */
static char held[1024];

static bool
keep_hold(void *ctx, bool debug, bool error, const char *line, size_t len)
{
	bool *claim = ctx;
	size_t n = strlen(held);

	if (!*claim)
		return false;
	snprintf(held + n, sizeof(held) - n, "%s%s%.*s|", debug ? "D:" : "",
	    error ? "E:" : "", (int)len, line);
	return true;
}

static void
test_hold(void)
{
	bool claim = true;

	test_begin("log_set_hold: lines held back, then written as they were");
	held[0] = '\0';
	log_set_hold(keep_hold, &claim);
	capture_begin();
	log_at(LOG_ERROR, "p", "first\n");
	log_at(LOG_NOTICE, NULL, "second");
	test_assert_str(capture_end(), "");
	test_assert_str(held, "E:p: ERROR: first\\n|second|");
	/* Not claimed: straight out. */
	claim = false;
	cap_begin();
	log_at(LOG_NOTICE, NULL, "third");
	test_assert_str(cap_end(), "third");
	log_set_hold(NULL, NULL);
	/* Written later: stderr, and the last error is the held one's. */
	cap_begin();
	log_put_line(false, true, "p: ERROR: first\\n", 17);
	test_assert_str(cap_end(), "p: ERROR: first\\n");
	test_assert_str(log_last_error(), "p: ERROR: first\\n");
	test_end();
}

static const struct {
	const char *name, *in, *want;
} cases[] = {
	{"CR LF", "a\r\nWARNING: forged", "a\\r\\nWARNING: forged"},
	{"tab, ESC, DEL, other controls", "t\tx\x1b[2Jy\x7f\x01",
	    "t\\tx\\x1B[2Jy\\x7F\\x01"},
	{"backslash and quotes as is", "\\Seen \"q\"", "\\Seen \"q\""},
	{"valid UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
	{"invalid bytes", "\xff\x80x\xc3", "\\xFF\\x80x\\xC3"},
	{"overlong and surrogate", "\xc0\xaf\xed\xa0\x80",
	    "\\xC0\\xAF\\xED\\xA0\\x80"},
	{"C1 control (CSI)", "a\xc2\x9b" "31mb", "a\\xC2\\x9B31mb"},
	{"truncated 4-byte sequence", "\xf0\x9f\x98", "\\xF0\\x9F\\x98"},
};

int
main(void)
{
	size_t i;
	char *long_in;
	const char *got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[128];

		snprintf(name, sizeof(name), "log_warnx escapes: %s",
		    cases[i].name);
		test_begin(name);
		cap_begin();
		log_warnx("%s", cases[i].in);
		got = cap_end();
		if (strncmp(got, "WARNING: ", 9) == 0)
			test_assert_str(got + 9, cases[i].want);
		else
			test_assert_str(got, "WARNING: ...");
		test_end();
	}

	test_begin("the caller's prefix is escaped too");
	cap_begin();
	log_at(LOG_ERROR, "acct\nx(IN\rBOX)", "no\nsuch");
	test_assert_str(cap_end(), "acct\\nx(IN\\rBOX): ERROR: no\\nsuch");
	test_end();

	test_begin("log_at: levels and an empty prefix");
	cap_begin();
	log_at(LOG_WARN, "", "w");
	test_assert_str(cap_end(), "WARNING: w");
	log_quiet = true;
	cap_begin();
	log_at(LOG_INFO, "p", "hidden");
	log_at(LOG_NOTICE, "p", "shown");
	test_assert_str(cap_end(), "p: shown");
	log_quiet = false;
	log_debug_level = 0;
	cap_begin();
	log_at(LOG_DEBUG, "p", "hidden");
	log_trace_at("p", "S", "x", 1);
	log_at(LOG_NOTICE, "p", "only");
	test_assert_str(cap_end(), "p: only");
	log_debug_level = 1;
	cap_begin();
	log_trace_at("p", "S", "x\r\n", 3);
	test_assert_str(cap_end(), "p: S: x");
	log_debug_level = 0;
	test_end();

	test_begin("every function: log_info, log_notice, log_debug");
	log_debug_level = 1;
	cap_begin();
	log_info("i\n");
	test_assert_str(cap_end(), "i\\n");
	cap_begin();
	log_notice("n\x1b");
	test_assert_str(cap_end(), "n\\x1B");
	cap_begin();
	log_debug("d\r");
	test_assert_str(cap_end(), "d\\r");
	test_end();

	test_begin("log_trace: trailing CRLF dropped, the rest escaped");
	cap_begin();
	log_trace("S", "* OK a\rb\x00" "c\r\n", 12);
	test_assert_str(cap_end(), "S: * OK a\\rb\\x00c");
	test_end();

	test_begin("a long line of control bytes stays one line");
	long_in = malloc(5001);
	memset(long_in, '\n', 5000);
	long_in[5000] = '\0';
	cap_begin();
	log_warnx("%s", long_in);
	got = cap_end();
	test_assert(strncmp(got, "WARNING: \\n\\n", 13) == 0);
	test_assert(strlen(got) > 4000 && strcmp(got + strlen(got) - 6,
	    " [...]") == 0);
	test_end();

	test_begin("a long trace line is cut visibly, not silently");
	memset(long_in, 'a', 5000);
	cap_begin();
	log_trace("S", long_in, 5000);
	got = cap_end();
	test_assert(strlen(got) > 4000 && strcmp(got + strlen(got) - 6,
	    " [...]") == 0);
	free(long_in);
	test_end();

	test_begin("log_set_prefix_sep: the prefix as given");
	log_set_prefix_sep("");
	cap_begin();
	log_at(LOG_WARN, "local(INBOX): ", "w");
	test_assert_str(cap_end(), "local(INBOX): WARNING: w");
	log_set_prefix_sep(" - ");
	cap_begin();
	log_at(LOG_NOTICE, "p", "n");
	test_assert_str(cap_end(), "p - n");
	log_set_prefix_sep(NULL);
	cap_begin();
	log_at(LOG_NOTICE, "p", "n");
	test_assert_str(cap_end(), "p: n");
	test_end();

	test_begin("log_set_tee: every shown line, escaped; debug claimed");
	{
		bool claim = true;

		teed[0] = '\0';
		tee_calls = 0;
		log_set_tee(keep_tee, &claim);
		log_debug_level = 1;
		log_quiet = true;
		cap_begin();
		log_at(LOG_INFO, "p", "hidden by --quiet");
		log_at(LOG_NOTICE, "p", "a\nb");
		log_at(LOG_DEBUG, "p", "dbg");
		log_trace_at("p", "C", "x\r\n", 3);
		test_assert_str(cap_end(), "p: a\\nb");
		test_assert_str(teed, "p: a\\nb|D:p: dbg|D:p: C: x|");
		claim = false;
		cap_begin();
		log_at(LOG_DEBUG, NULL, "both");
		test_assert_str(cap_end(), "both");
		log_set_tee(NULL, NULL);
		cap_begin();
		log_at(LOG_DEBUG, NULL, "alone");
		test_assert_str(cap_end(), "alone");
		test_assert(tee_calls == 4);
		log_quiet = false;
		log_debug_level = 0;
	}
	test_end();

	test_begin("log_set_stderr_hook: around each line stderr gets, only");
	{
		bool claim = true;
		int calls = 0;

		log_set_stderr_hook(mark_hook, &calls);
		log_set_tee(keep_tee, &claim);
		log_debug_level = 1;
		capture_begin();
		log_at(LOG_NOTICE, "p", "a");
		log_at(LOG_DEBUG, "p", "teed only");
		log_trace_at("p", "C", "x", 1);
		log_warnx("w");
		test_assert_str(capture_end(), "<p: a\n><WARNING: w\n>");
		test_assert(calls == 4);
		log_set_tee(NULL, NULL);
		log_set_stderr_hook(NULL, NULL);
		capture_begin();
		log_notice("n");
		test_assert_str(capture_end(), "n\n");
		test_assert(calls == 4);
		log_debug_level = 0;
	}
	test_end();

	test_begin("log_last_error: the last ERROR line as printed, only");
	{
		char *big = xmalloc(3000), *before = xstrdup(log_last_error());

		capture_begin();
		log_at(LOG_WARN, "p", "a warning");
		log_at(LOG_NOTICE, "p", "a notice");
		capture_end();
		test_assert_str(log_last_error(), before);
		free(before);
		capture_begin();
		log_at(LOG_ERROR, "local(INBOX)", "bad\nthing");
		capture_end();
		test_assert_str(log_last_error(),
		    "local(INBOX): ERROR: bad\\nthing");
		capture_begin();
		log_at(LOG_WARN, "p", "later warning");
		log_trace_at("p", "S", "* BYE", 5);
		capture_end();
		test_assert_str(log_last_error(),
		    "local(INBOX): ERROR: bad\\nthing");
		/* Cut, not dropped. */
		memset(big, 'x', 2999);
		big[2999] = '\0';
		capture_begin();
		log_errorx("%s", big);
		capture_end();
		test_assert(strlen(log_last_error()) ==
		    LOG_LAST_ERROR_MAX - 1);
		test_assert(strncmp(log_last_error(), "ERROR: xxx", 10) == 0);
		free(big);
	}
	test_end();

	test_hold();
	return test_exit();
}
