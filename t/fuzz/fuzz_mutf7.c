/* libFuzzer target for modified UTF-7 (common/mutf7.h): `make fuzz`, then
 * build-fuzz/fuzz_mutf7 [corpus dir]. The same bytes are tried both ways:
 *   - as a wire name: if mutf7_decode() accepts it, mutf7_encode() of the
 *     result must give back the input exactly (strict decoding accepts only
 *     the canonical form);
 *   - as a UTF-8 name: mutf7_encode() must accept it exactly when it is
 *     well-formed, NUL-free UTF-8 (checked by the independent validator
 *     below), its output must be printable US-ASCII, agree with glibc's
 *     UTF-7-IMAP converter, and decode back to the input.
 * Any violation abort()s, which libFuzzer reports with the input. */
#include "util.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_mutf7: %s\n", what);
	abort();
}

/* Well-formed UTF-8 after the Unicode Standard's table 3-7, written as byte
 * ranges so that it shares no logic with the code under test. */
static bool
utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t k;
		if (c == 0x00)
			return false;
		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c == 0xe0)
			k = 2, lo = 0xa0;
		else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			k = 2;
		else if (c == 0xed)
			k = 2, hi = 0x9f;
		else if (c == 0xf0)
			k = 3, lo = 0x90;
		else if (c >= 0xf1 && c <= 0xf3)
			k = 3;
		else if (c == 0xf4)
			k = 3, hi = 0x8f;
		else
			return false;
		if (n - i - 1 < k)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return false;
		i += k + 1;
	}
	return true;
}

static void
check_glibc(const uint8_t *data, size_t size, const char *m)
{
	static iconv_t cd;
	static bool tried;
	char out[8192], *o = out, *in = (char *)(uintptr_t)data;
	size_t il = size, ol = sizeof(out) - 1;

	if (!tried) {
		cd = iconv_open("UTF-7-IMAP", "UTF-8");
		tried = true;
	}
	if (cd == (iconv_t)-1 || size * 6 + 16 > sizeof(out))
		return;
	iconv(cd, NULL, NULL, NULL, NULL);
	if (iconv(cd, &in, &il, &o, &ol) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &o, &ol) == (size_t)-1)
		fail("glibc refused what mutf7_encode() accepted");
	*o = '\0';
	if (strcmp(out, m) != 0)
		fail("mutf7_encode() and glibc's UTF-7-IMAP disagree");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct err err = {ERR_NONE, ""};
	char *d, *m;

	if ((d = mutf7_decode(s, size, &err)) != NULL) {
		m = mutf7_encode(d, strlen(d), &err);
		if (m == NULL)
			fail("decoded name does not encode");
		if (strlen(m) != size || memcmp(m, data, size) != 0)
			fail("accepted wire name is not canonical");
		free(m);
		free(d);
	} else if (err.msg[0] == '\0') {
		fail("decode refused without a reason");
	}

	err.msg[0] = '\0';
	m = mutf7_encode(s, size, &err);
	if ((m != NULL) != utf8_ok(data, size))
		fail(m ? "encode accepted invalid UTF-8" :
			 "encode refused valid UTF-8");
	if (m == NULL) {
		if (err.msg[0] == '\0')
			fail("encode refused without a reason");
		return 0;
	}
	for (const char *p = m; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail("encoded name is not printable US-ASCII");
	check_glibc(data, size, m);
	if ((d = mutf7_decode(m, strlen(m), &err)) == NULL)
		fail("encoded name does not decode");
	if (strlen(d) != size || memcmp(d, data, size) != 0)
		fail("encode/decode round trip changed the name");
	free(d);
	free(m);
	return 0;
}
