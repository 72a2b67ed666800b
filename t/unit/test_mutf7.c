#include "util.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "test.h"

struct pair {
	const char *utf8, *m7;
};

/* Known pairs, both ways. The RFC 3501 §5.1.3 example first; the others
 * were checked against glibc's UTF-7-IMAP converter (iconv(1)). */
static const struct pair pairs[] = {
	{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	    "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"", ""},
	{"&", "&-"},
	{"&&", "&-&-"},
	{"a&b-c", "a&-b-c"},
	{" !\"#$%'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
	 "abcdefghijklmnopqrstuvwxyz{|}~",
	    " !\"#$%'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
	    "abcdefghijklmnopqrstuvwxyz{|}~"},
	{"INBOX", "INBOX"},
	{"-", "-"},
	{"\xc3\xa9", "&AOk-"},                       /* U+00E9 */
	{"\xc3\xa9&", "&AOk-&-"},                    /* "&-" after a run */
	{"\xc3\xa9&\xc3\xa9", "&AOk-&-&AOk-"},
	{"\xc3\xa9\xc3\xa9", "&AOkA6Q-"},            /* one run, not two */
	{"\xc3\xa9-", "&AOk--"},
	{"\x01", "&AAE-"},                           /* controls are encoded */
	{"\x7f", "&AH8-"},
	{"a\tb", "a&AAk-b"},
	{"\xc3\xbf", "&AP8-"},                       /* U+00FF */
	{"\xe5\x8f\xb0", "&U,A-"},                   /* U+53F0: uses "," */
	{"\xf0\x9f\x98\x80", "&2D3eAA-"},            /* U+1F600, surrogates */
	{"\xf0\x9f\x98\x80\xc3\xa9", "&2D3eAADp-"},
	{"\xf4\x8f\xbf\xbf", "&2,,f,w-"},            /* U+10FFFF */
	{"\xef\xbf\xbf", "&,,8-"},                   /* U+FFFF */
	{"\xf0\x90\x80\x80", "&2ADcAA-"},            /* U+10000 */
};

static void
test_pairs(void)
{
	struct err err;

	test_begin("mutf7: known pairs encode and decode both ways");
	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		char *e = mutf7_encode(pairs[i].utf8, strlen(pairs[i].utf8), &err);
		char *d = mutf7_decode(pairs[i].m7, strlen(pairs[i].m7), &err);
		test_assert_str(e, pairs[i].m7);
		test_assert_str(d, pairs[i].utf8);
		free(e);
		free(d);
	}
	test_end();
}

/* The input need not be NUL-terminated: only len bytes are read. */
static void
test_len(void)
{
	struct err err;
	char *s;

	test_begin("mutf7: only len bytes are read");
	s = mutf7_encode("\xc3\xa9zzz", 2, &err);
	test_assert_str(s, "&AOk-");
	free(s);
	s = mutf7_decode("&AOk-zzz", 5, &err);
	test_assert_str(s, "\xc3\xa9");
	free(s);
	/* A run cut by len is unterminated even if "-" follows in memory. */
	test_assert(mutf7_decode("&AOk-", 4, &err) == NULL);
	test_end();
}

struct bad {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *why;
};

static const struct bad bad_utf8[] = {
	{"\x80", 0, "at offset 0: unexpected continuation byte"},
	{"ab\xbf", 0, "at offset 2: unexpected continuation byte"},
	{"\xc0\xaf", 0, "overlong"},            /* "/" in two bytes */
	{"\xc1\xbf", 0, "overlong"},
	{"\xe0\x80\xaf", 0, "overlong"},        /* "/" in three bytes */
	{"\xe0\x9f\xbf", 0, "overlong"},        /* U+07FF in three bytes */
	{"\xf0\x80\x80\xaf", 0, "overlong"},    /* "/" in four bytes */
	{"\xf0\x8f\xbf\xbf", 0, "overlong"},    /* U+FFFF in four bytes */
	{"\xed\xa0\x80", 0, "surrogate"},       /* U+D800 */
	{"\xed\xbf\xbf", 0, "surrogate"},       /* U+DFFF */
	{"\xed\xa0\xbd\xed\xb8\x80", 0, "surrogate"}, /* CESU-8 U+1F600 */
	{"\xf4\x90\x80\x80", 0, "beyond U+10FFFF"},  /* U+110000 */
	{"\xf5\x80\x80\x80", 0, "beyond U+10FFFF"},
	{"\xf8\x88\x80\x80\x80", 0, "beyond U+10FFFF"},
	{"\xfe", 0, "beyond U+10FFFF"},
	{"\xff", 0, "beyond U+10FFFF"},
	{"\xc3", 0, "at offset 0: truncated"},
	{"x\xe5\x8f", 0, "at offset 1: truncated"},
	{"\xf0\x9f\x98", 0, "truncated"},
	{"\xe5\x8fx", 0, "truncated"},          /* cut by ASCII */
	{"\xc3\xc3\xa9", 0, "truncated"},       /* cut by a lead byte */
	{"a\0b", 3, "NUL byte at offset 1"},
	{"\0", 1, "NUL byte at offset 0"},
};

static const struct bad bad_m7[] = {
	/* encoded printable ASCII must stand for itself */
	{"&AGE-", 0, "encoded printable US-ASCII 0x61"},
	{"&ACY-", 0, "encoded printable US-ASCII 0x26"}, /* "&" is "&-" */
	{"&ACA-", 0, "0x20"},
	{"&AH4-", 0, "0x7e"},
	{"&AOkAYQ-", 0, "0x61"},                 /* ASCII inside a run */
	{"&AAA-", 0, "encoded NUL"},
	/* runs are merged by a canonical encoder */
	{"&AOk-&AOk-", 0, "run at offset 5 directly follows another run"},
	{"x&U,BTFw-&ZeVnLIqe-", 0, "directly follows"},
	/* bits: whole units, zero padding */
	{"&A-", 0, "dangling"},
	{"&AO-", 0, "dangling"},
	{"&AOkA-", 0, "dangling"},               /* 24 bits: 8 left */
	{"&AOkAA-", 0, "dangling"},
	{"&AOl-", 0, "non-zero padding bits"},   /* AOk = U+00E9 + 00 */
	{"&AOn-", 0, "non-zero padding bits"},
	{"&U,B-", 0, "non-zero padding bits"},   /* U,A is U+53F0 */
	/* surrogates */
	{"&2D0-", 0, "high surrogate at the end"},
	{"&2D3YPQ-", 0, "high surrogate not followed by a low"},
	{"&2D0AOQ-", 0, "high surrogate not followed by a low"},
	{"&3gA-", 0, "low surrogate without a high"},
	{"&3gDYPQ-", 0, "low surrogate without a high"}, /* reversed pair */
	{"&2D0-&3gA-", 0, "high surrogate at the end"}, /* split pair */
	/* alphabet */
	{"&U/BTFw-", 0, "byte 0x2f at offset 2 is not a modified BASE64"},
	{"&AOk=-", 0, "byte 0x3d at offset 4"},
	{"&AOk -", 0, "byte 0x20"},
	{"&AOk&-", 0, "byte 0x26"},
	{"&AOk\xc3\xa9-", 0, "byte 0xc3"},
	/* unterminated runs */
	{"&", 0, "unterminated \"&\" run at offset 0"},
	{"abc&", 0, "unterminated \"&\" run at offset 3"},
	{"&AOk", 0, "unterminated"},
	{"a&U,BTFw", 0, "unterminated \"&\" run at offset 1"},
	/* bytes that must be encoded */
	{"\xc3\xa9", 0, "byte 0xc3 at offset 0 is not printable US-ASCII"},
	{"INBOX/\xe5\x8f\xb0", 0, "byte 0xe5 at offset 6"},
	{"\x80", 0, "byte 0x80"},
	{"a\tb", 0, "byte 0x09 at offset 1"},
	{"a\r\n", 0, "byte 0x0d"},
	{"\x7f", 0, "byte 0x7f"},
	{"a\0b", 3, "NUL byte at offset 1"},
	{"&-\0", 3, "NUL byte at offset 2"},
};

static void
check_bad(const struct bad *t, size_t n, bool decode, enum err_kind kind)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		struct err err = {ERR_NONE, ""};
		char *r = decode ? mutf7_decode(t[i].in, len, &err)
				 : mutf7_encode(t[i].in, len, &err);
		if (r != NULL) {
			char m[300];
			snprintf(m, sizeof(m), "case %zu accepted as \"%s\"", i, r);
			test_fail_at(__FILE__, __LINE__, m);
		} else if (strstr(err.msg, t[i].why) == NULL) {
			test_assert_str(err.msg, t[i].why);
		}
		test_assert(r != NULL || err.kind == kind);
		free(r);
	}
}

static void
test_bad(void)
{
	test_begin("mutf7: encoding refuses invalid UTF-8 and NUL (ERR_CONFIG)");
	check_bad(bad_utf8, ARRAY_LEN(bad_utf8), false, ERR_CONFIG);
	test_end();
	test_begin("mutf7: decoding refuses non-canonical and malformed names (ERR_PROTO)");
	check_bad(bad_m7, ARRAY_LEN(bad_m7), true, ERR_PROTO);
	test_end();
}

/* splitmix64: deterministic, so that a failure is reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A code point from a mix that makes runs start, stop and merge often. */
static uint32_t
random_cp(void)
{
	uint32_t c;
	switch (rng() % 8) {
	case 0:
		return "&-+,/AZaz09 ~"[rng() % 13];
	case 1:
	case 2:
		return 0x20 + (uint32_t)(rng() % 95);
	case 3:
		return 1 + (uint32_t)(rng() % 0x1f); /* controls, no NUL */
	case 4:
		return 0x7f + (uint32_t)(rng() % 0x181); /* up to U+01FF */
	case 5:
		do
			c = 0x80 + (uint32_t)(rng() % 0xff80);
		while (c >= 0xd800 && c <= 0xdfff);
		return c;
	case 6:
		return 0x10000 + (uint32_t)(rng() % 0x100000);
	default:
		return "\x7f\x80\xff"[rng() % 3] & 0xff;
	}
}

/* An independent UTF-8 encoder, so that the generated input does not rely
 * on the code under test. */
static size_t
put_utf8(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	} else if (c < 0x800) {
		p[0] = (char)(0xc0 | (c >> 6));
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	} else if (c < 0x10000) {
		p[0] = (char)(0xe0 | (c >> 12));
		p[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (c >> 18));
	p[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* glibc's UTF-7-IMAP converter as an oracle: returns an allocated string,
 * or NULL if the conversion failed. */
static char *
oracle(iconv_t cd, const char *s, size_t len)
{
	char *out = xmalloc(len * 6 + 16), *o = out, *in = (char *)(uintptr_t)s;
	size_t il = len, ol = len * 6 + 15;
	iconv(cd, NULL, NULL, NULL, NULL);
	if (iconv(cd, &in, &il, &o, &ol) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &o, &ol) == (size_t)-1) {
		free(out);
		return NULL;
	}
	*o = '\0';
	return out;
}

static void
test_round_trip(void)
{
	iconv_t cd = iconv_open("UTF-7-IMAP", "UTF-8");
	size_t checked = 0, oracle_checked = 0;
	struct err err;

	test_begin("mutf7: 10000 generated names round-trip, agree with glibc");
	for (int i = 0; i < 10000 && !test_cur_failed; i++) {
		char s[16 * 4 + 1], *m, *d, *m2;
		size_t len = 0, n = (size_t)(rng() % 17);
		for (size_t k = 0; k < n; k++)
			len += put_utf8(s + len, random_cp());
		s[len] = '\0';

		m = mutf7_encode(s, len, &err);
		test_assert(m != NULL);
		if (m == NULL)
			break;
		for (const char *p = m; *p; p++)
			test_assert(*p >= 0x20 && *p <= 0x7e);
		d = mutf7_decode(m, strlen(m), &err);
		test_assert_str(d, s);
		if (d != NULL) {
			/* encode(decode(m)) == m for canonical m */
			m2 = mutf7_encode(d, strlen(d), &err);
			test_assert_str(m2, m);
			free(m2);
		}
		if (cd != (iconv_t)-1) {
			char *o = oracle(cd, s, len);
			if (o != NULL) {
				test_assert_str(m, o);
				oracle_checked++;
			}
			free(o);
		}
		checked++;
		free(m);
		free(d);
	}
	/* The oracle must really have been consulted where glibc has it. */
	if (cd != (iconv_t)-1) {
		test_assert(oracle_checked > 9000);
		iconv_close(cd);
	} else {
		fprintf(stderr, "# no UTF-7-IMAP in iconv: oracle skipped\n");
	}
	test_assert(checked == 10000);
	test_end();
}

/* Random wire strings: whatever is accepted is canonical, i.e. encodes back
 * to the same bytes, and what is refused has a reason. */
static void
test_random_wire(void)
{
	static const char alpha[] = "&&&-AAOk2D3eZ,+/=a \xc3\x01";
	size_t accepted = 0;
	struct err err;

	test_begin("mutf7: random wire strings: accepted means canonical");
	for (int i = 0; i < 100000 && !test_cur_failed; i++) {
		char m[13], *d, *m2;
		size_t n = (size_t)(rng() % sizeof(m));
		for (size_t k = 0; k < n; k++)
			m[k] = alpha[rng() % (sizeof(alpha) - 1)];
		m[n] = '\0';
		err.msg[0] = '\0';
		d = mutf7_decode(m, n, &err);
		if (d == NULL) {
			test_assert(err.msg[0] != '\0');
			continue;
		}
		accepted++;
		m2 = mutf7_encode(d, strlen(d), &err);
		test_assert_str(m2, m);
		free(m2);
		free(d);
	}
	/* The alphabet must give both outcomes often enough to mean much. */
	test_assert(accepted > 1000);
	test_end();
}

int
main(void)
{
	test_pairs();
	test_len();
	test_bad();
	test_round_trip();
	test_random_wire();
	return test_exit();
}
