#include "util.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mbfilter.h"

struct mbfilter_re {
	pcre2_code *code;
};

/* The reference's unquoted pattern bytes: RFC 3501 list-char without
 * '\' plus ']'. */
static bool
is_bare(unsigned char ch)
{
	return ch == 0x21 || (ch >= 0x23 && ch <= 0x27) ||
	    (ch >= 0x2A && ch <= 0x5B) || (ch >= 0x5D && ch <= 0x7A) ||
	    (ch >= 0x7C && ch <= 0x7E);
}

/* Inside quotes: printable ASCII but '"' and '\'. */
static bool
is_quoted(unsigned char ch)
{
	return ch == 0x20 || ch == 0x21 || (ch >= 0x23 && ch <= 0x5B) ||
	    (ch >= 0x5D && ch <= 0x7E);
}

/* Perl's \s on the bytes the key may hold. */
static bool
is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' ||
	    ch == '\r' || ch == '\n';
}

static int
hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The byte an escape \c stands for, or -1 when c starts none ("x" is
 * handled by the caller). What Perl makes of "\c" in the reference's
 * string eval: \v is no Perl escape and gives 'v'. */
static int
escape_byte(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '0': return 0;
	case 'a': return 0x07;
	case 'b': return 0x08;
	case 't': return '\t';
	case 'n': return '\n';
	case 'v': return 'v';
	case 'f': return '\f';
	case 'r': return '\r';
	default: return -1;
	}
}

/* A quoted pattern at s (s[0] == '"'): decodes it into out and returns
 * the length read, closing quote included, or 0 when s does not start
 * one. */
static size_t
read_quoted(const unsigned char *s, struct buf *out)
{
	size_t i = 1;
	int b;

	for (;;) {
		unsigned char ch = s[i];

		if (is_quoted(ch)) {
			buf_append(out, &ch, 1);
			i++;
		} else if (ch == '\\' && s[i + 1] == 'x' &&
		    hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			ch = (unsigned char)(hexval(s[i + 2]) << 4 |
			    hexval(s[i + 3]));
			buf_append(out, &ch, 1);
			i += 4;
		} else if (ch == '\\' && (b = escape_byte(s[i + 1])) >= 0) {
			ch = (unsigned char)b;
			buf_append(out, &ch, 1);
			i += 2;
		} else {
			break;
		}
	}
	/* At least one character, then the closing quote. */
	if (i == 1 || s[i] != '"')
		return 0;
	return i + 1;
}

int
mbfilter_set_list(struct mbfilter *f, const char *value, struct err *err)
{
	const unsigned char *v = (const unsigned char *)value;
	struct mbfilter_pattern *pats = NULL;
	size_t n = 0, i;

	/* As the reference: try a pattern, then go on while whitespace
	 * follows; whatever is left at the end is an error. */
	for (;;) {
		struct buf b = BUF_INIT(SIZE_MAX);
		size_t len = 0;

		if (is_bare(*v)) {
			while (is_bare(v[len]))
				len++;
			buf_append(&b, v, len);
		} else if (*v == '"') {
			len = read_quoted(v, &b);
		}
		if (len > 0) {
			pats = xrealloc(pats, (n + 1) * sizeof(*pats));
			pats[n].len = b.len;
			pats[n].name = buf_steal(&b);
			n++;
			v += len;
		}
		buf_free(&b);
		if (!is_space(*v))
			break;
		while (is_space(*v))
			v++;
	}

	if (*v != '\0') {
		for (i = 0; i < n; i++)
			free(pats[i].name);
		free(pats);
		return err_set(err, ERR_CONFIG, "no mailbox pattern at byte "
		    "%zu: expected NAME or \"NAME\" separated by spaces",
		    (size_t)(v - (const unsigned char *)value) + 1);
	}
	f->patterns = xrealloc(f->patterns,
	    (f->n_patterns + n + 1) * sizeof(*f->patterns));
	for (i = 0; i < n; i++)
		f->patterns[f->n_patterns++] = pats[i];
	free(pats);
	return 0;
}

/* The reference's class for list-select-opts: RFC 3501 ATOM-CHAR and
 * space (the options go inside the parentheses of RFC 5258's LIST). */
static bool
is_select_char(unsigned char ch)
{
	return ch == 0x20 || ch == 0x21 || ch == 0x23 || ch == 0x24 ||
	    ch == 0x26 || ch == 0x27 || (ch >= 0x2B && ch <= 0x5B) ||
	    (ch >= 0x5E && ch <= 0x7A) || (ch >= 0x7C && ch <= 0x7E);
}

int
mbfilter_set_select_opts(struct mbfilter *f, const char *value,
    struct err *err)
{
	size_t i, len = strlen(value);
	char *up;

	for (i = 0; i < len; i++)
		if (!is_select_char((unsigned char)value[i]))
			return err_set(err, ERR_CONFIG, "byte %zu (0x%02X) "
			    "can't be in LIST selection options", i + 1,
			    (unsigned char)value[i]);
	free(f->select_opts);
	f->select_opts = NULL;
	if (len == 0)
		return 0;
	up = xstrdup(value);
	for (i = 0; i < len; i++)
		if (up[i] >= 'a' && up[i] <= 'z')
			up[i] = (char)(up[i] - 'a' + 'A');
	f->select_opts = up;
	return 0;
}

int
mbfilter_set_ignore(struct mbfilter *f, const char *re, struct err *err)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	int ec;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec,
	    &off, NULL);
	if (code == NULL) {
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		return err_set(err, ERR_CONFIG, "PCRE2: %s at offset %zu",
		    (const char *)msg, (size_t)off);
	}
	if (f->ignore == NULL)
		f->ignore = xcalloc(1, sizeof(*f->ignore));
	else
		pcre2_code_free(f->ignore->code);
	f->ignore->code = code;
	return 0;
}

int
mbfilter_ignored(const struct mbfilter *f, const char *name, size_t len,
    struct err *err)
{
	pcre2_match_data *md;
	PCRE2_UCHAR msg[256];
	int rc;

	if (f->ignore == NULL)
		return 0;
	md = pcre2_match_data_create_from_pattern(f->ignore->code, NULL);
	if (md == NULL)
		abort();
	/* A length, not a C string: internal names hold NUL bytes. */
	rc = pcre2_match(f->ignore->code, (PCRE2_SPTR)name, len, 0, 0, md,
	    NULL);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", rc);
	return err_set(err, ERR_INTERNAL, "ignore-mailbox: PCRE2: %s",
	    (const char *)msg);
}

void
mbfilter_free(struct mbfilter *f)
{
	size_t i;

	for (i = 0; i < f->n_patterns; i++)
		free(f->patterns[i].name);
	free(f->patterns);
	free(f->select_opts);
	if (f->ignore != NULL) {
		pcre2_code_free(f->ignore->code);
		free(f->ignore);
	}
	memset(f, 0, sizeof(*f));
}
