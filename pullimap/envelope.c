#include "util.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "envelope.h"

/* RFC 5321 §4.1.2 Dot-string: atoms of atext joined by dots. */
static bool
is_dot_string(const char *s)
{
	bool prev_dot = true;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
			continue;
		}
		prev_dot = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	return !prev_dot;
}

/* RFC 5321 §4.1.2 Domain: sub-domains of letters, digits and inner
 * hyphens, joined by dots. */
static bool
is_domain(const char *s)
{
	size_t label = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '.') {
			if (label == 0 || s[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[-1] != '-';
}

/* RFC 5321 §4.1.3 address literals: "[1.2.3.4]" or "[IPv6:...]" (the
 * characters of one, not its grammar: enough to keep anything that could
 * end the path or start ESMTP parameters out of MAIL FROM). Other tags
 * are refused: no MTA routes them. */
static bool
is_address_literal(const char *s)
{
	size_t n = strlen(s);
	const char *p, *end;
	int dots = 0;

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return false;
	end = s + n - 1;
	if (strncasecmp(s + 1, "IPv6:", 5) == 0) {
		if (end - (s + 6) < 2)
			return false;
		for (p = s + 6; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		return true;
	}
	for (p = s + 1; p < end; p++) {
		unsigned v = 0, digits = 0;
		while (p < end && isdigit((unsigned char)*p) && digits < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		if (p == end)
			break;
		if (*p != '.' || ++dots > 3)
			return false;
	}
	return dots == 3 && end[-1] != '.';
}

static bool
has_controls(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

char *
envelope_sender(const struct imap_arg *env)
{
	const struct imap_arg *sender, *addr;
	const char *local, *domain;
	struct buf b = BUF_INIT(4096);

	if (!env || env->type != IMAP_ARG_LIST || env->count < 4)
		return xstrdup("");
	sender = &env->list[3];
	if (sender->type != IMAP_ARG_LIST || sender->count < 1)
		return xstrdup("");
	addr = &sender->list[0];
	if (addr->type != IMAP_ARG_LIST || addr->count < 4)
		return xstrdup("");
	local = imap_arg_string(&addr->list[2]);
	domain = imap_arg_string(&addr->list[3]);
	if (!local || !domain || has_controls(local, addr->list[2].len) ||
	    has_controls(domain, addr->list[3].len) ||
	    strlen(local) != addr->list[2].len ||
	    strlen(domain) != addr->list[3].len ||
	    !(is_domain(domain) || is_address_literal(domain)))
		return xstrdup("");
	if (is_dot_string(local))
		return xasprintf("%s@%s", local, domain);
	for (const char *p = local; *p; p++)
		if ((unsigned char)*p > 0x7e)
			return xstrdup("");
	buf_append(&b, "\"", 1);
	for (const char *p = local; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(&b, "\\", 1);
		buf_append(&b, p, 1);
	}
	buf_appendf(&b, "\"@%s", domain);
	return buf_steal(&b);
}

char *
envelope_text(const struct imap_arg *a)
{
	const char *t = imap_arg_string(a);
	struct buf b = BUF_INIT(4096);
	size_t n;

	if (!t)
		return NULL;
	n = a->len < 998 ? a->len : 998;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x20 || c == 0x7f)
			buf_appendf(&b, "\\x%02x", c);
		else
			buf_append(&b, &t[i], 1);
	}
	if (!b.data)
		return xstrdup("");
	return buf_steal(&b);
}
