/* libFuzzer target for what interimap reads from its configuration file
 * besides plain keys (interimap/mbfilter.h, interimap/ilog.h): `make fuzz`,
 * then build-fuzz/fuzz_iconf [corpus dir]. The first byte picks the parser,
 * the rest is the value:
 *   0  list-mailbox: on success every pattern is non-empty and its bytes
 *      (but NUL, the delimiter) are printable ASCII or came from an escape;
 *      on failure the pattern list is unchanged;
 *   1  list-select-opts: accepted exactly when every byte is in the set the
 *      header gives, and then stored upper-cased;
 *   2  log-prefix: ilog_render() terminates and its output is bounded by
 *      the format's length times the longest substitution;
 *   3  ignore-mailbox: whatever PCRE2 compiles is matched against a few
 *      internal names without crashing (a match limit is an error, not a
 *      hang).
 * Any violation abort()s, which libFuzzer reports with the input. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "mbfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_iconf: %s\n", what);
	abort();
}

static bool
select_opt_byte(unsigned char c)
{
	return c == 0x20 || c == 0x21 || c == 0x23 || c == 0x24 || c == 0x26 ||
	    c == 0x27 || (c >= 0x2b && c <= 0x5b) || (c >= 0x5e && c <= 0x7a) ||
	    (c >= 0x7c && c <= 0x7e);
}

static void
list_mailbox(const char *v)
{
	struct mbfilter f = {0};
	struct err err;

	if (mbfilter_set_list(&f, v, &err) == 0) {
		for (size_t i = 0; i < f.n_patterns; i++)
			if (f.patterns[i].len == 0)
				fail("list-mailbox: empty pattern accepted");
	} else if (f.n_patterns != 0) {
		fail("list-mailbox: refused but patterns left");
	}
	mbfilter_free(&f);
}

static void
select_opts(const char *v)
{
	struct mbfilter f = {0};
	struct err err;
	bool ok = true;

	for (const char *p = v; *p; p++)
		if (!select_opt_byte((unsigned char)*p))
			ok = false;
	if ((mbfilter_set_select_opts(&f, v, &err) == 0) != ok)
		fail("list-select-opts: accepted what it should refuse, or not");
	if (ok && f.select_opts) {
		if (strlen(f.select_opts) != strlen(v))
			fail("list-select-opts: length changed");
		for (size_t i = 0; v[i]; i++)
			if (f.select_opts[i] != (v[i] >= 'a' && v[i] <= 'z'
				? v[i] - 'a' + 'A' : v[i]))
				fail("list-select-opts: not upper-cased");
	}
	mbfilter_free(&f);
}

static void
log_prefix(const char *v)
{
	static const char *const names[] = {"local", "", "%n%m\\&?"};
	static const char *const boxes[] = {"INBOX", "", "a%?m?b&c?"};

	for (size_t i = 0; i < 3; i++) {
		char *out = ilog_render(v, names[i], boxes[i]);
		if (!out || strlen(out) > (strlen(v) + 1) * 16)
			fail("log-prefix: output out of bounds");
		free(out);
	}
}

static void
ignore_mailbox(const char *v)
{
	static const char names[][12] = {"INBOX", "a\0b", "virtual", ""};
	static const size_t lens[] = {5, 3, 7, 0};
	struct mbfilter f = {0};
	struct err err;

	if (mbfilter_set_ignore(&f, v, &err) == 0)
		for (size_t i = 0; i < 4; i++)
			if (mbfilter_ignored(&f, names[i], lens[i], &err) < -1)
				fail("ignore-mailbox: bad return");
	mbfilter_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v;

	if (size < 1)
		return 0;
	v = malloc(size);
	memcpy(v, data + 1, size - 1);
	v[size - 1] = '\0';
	switch (data[0] & 3) {
	case 0:
		list_mailbox(v);
		break;
	case 1:
		select_opts(v);
		break;
	case 2:
		log_prefix(v);
		break;
	case 3:
		ignore_mailbox(v);
		break;
	}
	free(v);
	return 0;
}
