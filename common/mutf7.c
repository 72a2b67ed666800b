#include "util.h"

#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "mutf7.h"

/* RFC 3501 §5.1.3: RFC 2045 BASE64 with "," in place of "/". */
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool
is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void
put(struct buf *b, char c)
{
	buf_append(b, &c, 1); /* cannot fail: the buffer has no cap */
}

/* Reads the UTF-8 sequence at s[*ip]. Returns the code point and advances
 * *ip, or returns -1 with *why_r set (*ip unchanged). */
static int32_t
utf8_next(const unsigned char *s, size_t len, size_t *ip, const char **why_r)
{
	size_t i = *ip, n;
	uint32_t cp, min;
	unsigned char c = s[i];

	if (c < 0x80) {
		*ip = i + 1;
		return c;
	} else if (c < 0xc0) {
		*why_r = "unexpected continuation byte";
		return -1;
	} else if (c < 0xc2) {
		*why_r = "overlong encoding";
		return -1;
	} else if (c < 0xe0) {
		n = 2, min = 0x80, cp = c & 0x1f;
	} else if (c < 0xf0) {
		n = 3, min = 0x800, cp = c & 0x0f;
	} else if (c < 0xf5) {
		n = 4, min = 0x10000, cp = c & 0x07;
	} else {
		*why_r = "lead byte beyond U+10FFFF";
		return -1;
	}
	for (size_t k = 1; k < n; k++) {
		if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
			*why_r = "truncated sequence";
			return -1;
		}
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	if (cp < min) {
		*why_r = "overlong encoding";
		return -1;
	}
	if (cp >= 0xd800 && cp <= 0xdfff) {
		*why_r = "UTF-16 surrogate";
		return -1;
	}
	if (cp > 0x10ffff) {
		*why_r = "code point beyond U+10FFFF";
		return -1;
	}
	*ip = i + n;
	return (int32_t)cp;
}

static void
utf8_put(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18), n = 4;
	}
	for (size_t k = 1; k < n; k++)
		u[k] = (char)(0x80 | ((cp >> (6 * (n - 1 - k))) & 0x3f));
	buf_append(b, u, n);
}

/* The BASE64 bit stream of one run: 16-bit units in, 6-bit digits out. */
struct bits {
	uint32_t acc; /* the low nbits are pending */
	unsigned nbits;
};

static void
bits_unit(struct buf *b, struct bits *st, uint32_t unit)
{
	st->acc = st->acc << 16 | unit;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		put(b, b64[(st->acc >> st->nbits) & 0x3f]);
	}
	st->acc &= (1u << st->nbits) - 1;
}

char *
mutf7_encode(const char *utf8, size_t len, struct err *err)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct buf b = BUF_INIT(SIZE_MAX);
	struct bits st = {0, 0};
	bool in_run = false;
	size_t i = 0;

	while (i < len) {
		size_t at = i;
		const char *why = NULL;
		int32_t cp;

		if (s[i] == '\0') {
			err_set(err, ERR_CONFIG, "NUL byte at offset %zu", i);
			goto fail;
		}
		if ((cp = utf8_next(s, len, &i, &why)) < 0) {
			err_set(err, ERR_CONFIG, "invalid UTF-8 at offset %zu: %s",
			    at, why);
			goto fail;
		}
		if (is_direct((uint32_t)cp)) {
			if (in_run) {
				if (st.nbits > 0)
					put(&b, b64[(st.acc << (6 - st.nbits)) & 0x3f]);
				put(&b, '-');
				in_run = false;
			}
			put(&b, (char)cp);
			if (cp == '&')
				put(&b, '-');
			continue;
		}
		if (!in_run) {
			put(&b, '&');
			st.acc = 0, st.nbits = 0;
			in_run = true;
		}
		if (cp >= 0x10000) {
			uint32_t v = (uint32_t)cp - 0x10000;
			bits_unit(&b, &st, 0xd800 | v >> 10);
			bits_unit(&b, &st, 0xdc00 | (v & 0x3ff));
		} else {
			bits_unit(&b, &st, (uint32_t)cp);
		}
	}
	if (in_run) {
		if (st.nbits > 0)
			put(&b, b64[(st.acc << (6 - st.nbits)) & 0x3f]);
		put(&b, '-');
	}
	return buf_steal(&b);
fail:
	buf_free(&b);
	return NULL;
}

/* Decodes the run whose first BASE64 digit is at s[*ip] up to and including
 * its "-", advancing *ip past it. start is the offset of its "&". */
static int
decode_run(struct buf *b, const unsigned char *s, size_t len, size_t *ip,
    size_t start, struct err *err)
{
	uint32_t acc = 0, high = 0;
	unsigned nbits = 0;
	size_t i = *ip;

	for (;; i++) {
		uint32_t unit, cp;
		int v;

		if (i >= len)
			return err_set(err, ERR_PROTO,
			    "unterminated \"&\" run at offset %zu", start);
		if (s[i] == '-')
			break;
		if ((v = b64_value(s[i])) < 0)
			return err_set(err, ERR_PROTO,
			    "byte 0x%02x at offset %zu is not a modified "
			    "BASE64 digit", s[i], i);
		acc = acc << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = acc >> nbits & 0xffff;
		acc &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return err_set(err, ERR_PROTO,
				    "high surrogate not followed by a low "
				    "surrogate in the run at offset %zu", start);
			cp = 0x10000 + ((high - 0xd800) << 10) +
			    (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return err_set(err, ERR_PROTO,
			    "low surrogate without a high surrogate in the "
			    "run at offset %zu", start);
		} else {
			cp = unit;
		}
		if (cp == 0)
			return err_set(err, ERR_PROTO,
			    "encoded NUL in the run at offset %zu", start);
		if (is_direct(cp))
			return err_set(err, ERR_PROTO,
			    "encoded printable US-ASCII 0x%02x in the run at "
			    "offset %zu (not canonical)", cp, start);
		utf8_put(b, cp);
	}
	if (high != 0)
		return err_set(err, ERR_PROTO,
		    "high surrogate at the end of the run at offset %zu",
		    start);
	/* A canonical run leaves 0, 2 or 4 bits, all zero. */
	if (nbits >= 6)
		return err_set(err, ERR_PROTO,
		    "dangling BASE64 digit in the run at offset %zu", start);
	if (acc != 0)
		return err_set(err, ERR_PROTO,
		    "non-zero padding bits in the run at offset %zu", start);
	*ip = i + 1;
	return 0;
}

char *
mutf7_decode(const char *m7, size_t len, struct err *err)
{
	const unsigned char *s = (const unsigned char *)m7;
	struct buf b = BUF_INIT(SIZE_MAX);
	bool after_run = false;
	size_t i = 0;

	while (i < len) {
		size_t start = i;

		if (s[i] == '\0') {
			err_set(err, ERR_PROTO, "NUL byte at offset %zu", i);
			goto fail;
		}
		if (!is_direct(s[i])) {
			err_set(err, ERR_PROTO,
			    "byte 0x%02x at offset %zu is not printable "
			    "US-ASCII (it must be encoded)", s[i], i);
			goto fail;
		}
		if (s[i] != '&') {
			put(&b, (char)s[i++]);
			after_run = false;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			put(&b, '&');
			i += 2;
			after_run = false;
			continue;
		}
		/* Two runs in a row would be one run from a canonical
		 * encoder: without this, names would have two wire forms. */
		if (after_run) {
			err_set(err, ERR_PROTO,
			    "\"&\" run at offset %zu directly follows another "
			    "run (not canonical)", i);
			goto fail;
		}
		i++;
		if (decode_run(&b, s, len, &i, start, err) < 0)
			goto fail;
		after_run = true;
	}
	return buf_steal(&b);
fail:
	buf_free(&b);
	return NULL;
}
