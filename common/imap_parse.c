/* Streaming IMAP response tokenizer (RFC 3501 §7 and §9, LITERAL+ RFC 7888,
 * literal8 RFC 3516). The contract is in imap_parse.h.
 *
 * Design. The parser is a byte-driven state machine; every state can stop at
 * the end of the input and resume with the next feed, so no input byte is
 * ever looked at twice and nothing is buffered besides the tokens themselves.
 * Bulk states (atoms, quoted strings, text, literal data) consume runs with a
 * single memcpy.
 *
 * Tokens live in an arena of chunks that never move: a token that outgrows
 * its chunk is moved whole to a new chunk before it is finished, so a finished
 * token keeps its address and struct imap_arg can point to it at once. Args
 * are pushed on a stack; when a list closes, its elements are copied from the
 * stack into the arena and replaced by the list itself. Nothing but the
 * stack ever moves, and only the still-open lists point into it: exposing the
 * tree half way (at a streamed literal) or at the end costs O(depth).
 *
 * Limits. max_line counts the response bytes outside literals (including the
 * "{N}\r\n" headers and the final CRLF); the inline literal bytes of one
 * response are bounded separately by max_line as well, so a response never
 * holds more than about 2 * max_line bytes plus max_args args in memory.
 * Streamed literals count against neither.
 *
 * Leniency: a bare LF ends a line; SP between args is optional and may be
 * repeated; atoms may hold "\", "*", "%", "]" (flags, astrings) and 8-bit
 * bytes; an unknown "\c" escape in a quoted string is kept as is. */

#include "util.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "imap_parse.h"
#include "imap_parse_int.h"

const struct imap_parse_limits imap_parse_default_limits = {
	.max_line = 8 * 1024 * 1024,
	.max_inline_literal = 64 * 1024,
	.max_literal = (uint64_t)1 << 40,
	.max_depth = 32,
	.max_args = 1000000,
};

static const char *const role_name[] = {
	"a tag", "a status", "a number or response name", "a response name",
	"a response code", "an argument",
};

static enum imap_parse_status fail(struct imap_parser *p, struct err *err,
    const unsigned char *d, size_t i, const char *fmt, ...) ATTR_PRINTF(5, 6);

/* ---- helpers ---- */

/* Byte classes, looked up once per byte of every response:
 * RFC 3501 §9 ATOM-CHAR (any CHAR except atom-specials), and the bytes of
 * an atom among args: flags ("\Seen", "\*" from flag-perm), astrings
 * ("]" is an ASTRING-CHAR), list-mailbox wildcards, and 8-bit from lax
 * servers. */
enum { C_ATOM = 1, C_ARG = 2, C_PLAIN = 4 /* C_ARG but '[' */ };
#define IS_ATOM(c)                                                             \
	((c) > ' ' && (c) < 0x7f && (c) != '(' && (c) != ')' && (c) != '{' &&  \
	    (c) != '%' && (c) != '*' && (c) != '"' && (c) != '\\' &&          \
	    (c) != ']')
#define IS_ARG(c)                                                              \
	(IS_ATOM(c) || (c) == '\\' || (c) == '*' || (c) == '%' ||             \
	    (c) == ']' || (c) >= 0x80)
#define CLASS(c)                                                               \
	((IS_ATOM(c) ? C_ATOM : 0) | (IS_ARG(c) ? C_ARG : 0) |                 \
	    (IS_ARG(c) && (c) != '[' ? C_PLAIN : 0))
#define CLASS4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), CLASS4((c) + 12)
#define CLASS64(c)                                                             \
	CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), CLASS16((c) + 48)
static const unsigned char byte_class[256] = {
	CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192)
};

static bool
atom_char(unsigned char c)
{
	return byte_class[c] & C_ATOM;
}

static bool
arg_char(unsigned char c)
{
	return byte_class[c] & C_ARG;
}

static void
upcase(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* RFC 3501 §9 resp-cond-state / resp-cond-auth / resp-cond-bye. */
static bool
is_status(const char *w, bool untagged)
{
	return !strcmp(w, "OK") || !strcmp(w, "NO") || !strcmp(w, "BAD") ||
	    (untagged && (!strcmp(w, "PREAUTH") || !strcmp(w, "BYE")));
}

/* RFC 3501 §9 tag: 1*<any ASTRING-CHAR except "+">. */
static bool
valid_tag(const char *w)
{
	for (; *w; w++)
		if (*w == '+' || !(atom_char((unsigned char)*w) || *w == ']'))
			return false;
	return true;
}

static void
ctx_push(struct imap_parser *p, const char *s, size_t n)
{
	size_t keep;

	if (n == 0)
		return;
	if (n >= CTX_LEN) {
		memcpy(p->ctx, s + n - CTX_LEN, CTX_LEN);
		p->ctx_len = CTX_LEN;
		return;
	}
	keep = CTX_LEN - n < p->ctx_len ? CTX_LEN - n : p->ctx_len;
	memmove(p->ctx, p->ctx + p->ctx_len - keep, keep);
	memcpy(p->ctx + keep, s, n);
	p->ctx_len = keep + n;
}

/* Printable ASCII as is, except '"' and '\' when quoted; the rest \xHH. */
void
iparse_esc(struct buf *b, const char *s, size_t n, bool quoted)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[4] = {'\\', (char)c};
		size_t elen = 2;

		if (c >= ' ' && c < 0x7f && !(quoted && (c == '"' || c == '\\')))
			continue;
		buf_append(b, s + run, i - run);
		/* By hand: a printf per byte was most of the fuzzer's time. */
		if (c != '"' && c != '\\') {
			e[1] = 'x';
			e[2] = "0123456789ABCDEF"[c >> 4];
			e[3] = "0123456789ABCDEF"[c & 15];
			elen = 4;
		}
		buf_append(b, e, elen);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
}

/* d[i] is the offending byte (always present). The excerpt is the end of the
 * response up to it, so the message does not depend on how the input was
 * split. */
static enum imap_parse_status
fail(struct imap_parser *p, struct err *err, const unsigned char *d, size_t i,
    const char *fmt, ...)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ctx_push(p, (const char *)d, i + 1);
	iparse_esc(&b, p->ctx, p->ctx_len, true);
	err_set(err, ERR_PROTO, "IMAP response: %s at byte %llu near \"%s\"",
	    why, (unsigned long long)(p->off + i), b.data ? b.data : "");
	buf_free(&b);
	p->st = S_ERROR;
	return IMAP_PARSE_ERROR;
}

/* ---- state machine ---- */

static void
begin_word(struct imap_parser *p, enum role role)
{
	p->role = role;
	p->bracket = 0;
	iparse_tok_begin(p);
	p->st = S_WORD;
}

static void
begin_text(struct imap_parser *p)
{
	iparse_tok_begin(p);
	p->st = S_TEXT;
}

static void
start_resp(struct imap_parser *p)
{
	struct chunk *c, *next, *keep = NULL;

	/* Keep the biggest chunk so that steady traffic does not malloc. */
	for (c = p->chunks; c; c = c->next)
		if (keep == NULL || c->cap > keep->cap)
			keep = c;
	for (c = p->chunks; c; c = next) {
		next = c->next;
		if (c != keep)
			free(c);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	p->chunks = keep;
	p->nstack = p->nopen = p->cont_count = 0;
	p->cont = NULL;
	buf_reset(&p->raw);
	p->code_ctx = false;
	p->line_bytes = p->lit_bytes = p->nargs = p->ctx_len = 0;
	p->off = 0;
	memset(&p->resp, 0, sizeof(p->resp));
	p->resp.text = "";
	begin_word(p, R_TAG);
}

/* Counts one more arg against max_args; IMAP_PARSE_MORE (0) when fine. */
static enum imap_parse_status
count_arg(struct imap_parser *p, struct err *err, const unsigned char *d,
    size_t i)
{
	if (++p->nargs <= p->lim.max_args)
		return IMAP_PARSE_MORE;
	return fail(p, err, d, i, "more than %zu arguments", p->lim.max_args);
}

/* d[*ip] is CR or LF where the response may end. */
static enum imap_parse_status
line_end(struct imap_parser *p, const unsigned char *d, size_t *ip,
    struct err *err)
{
	size_t n = p->nstack;

	if (p->nopen)
		return fail(p, err, d, *ip, "unterminated list");
	if (d[(*ip)++] == '\r') {
		p->st = S_LF;
		return IMAP_PARSE_MORE;
	}
	/* Status responses have no data args, so the stack is the code's. */
	if (p->resp.status) {
		p->resp.code_args = n ? p->stack : NULL;
		p->resp.code_nargs = n;
	} else {
		p->resp.args = n ? p->stack : NULL;
		p->resp.nargs = n;
	}
	p->st = S_DONE;
	return IMAP_PARSE_DONE;
}

/* d[i] is the byte after the word, not consumed. */
static enum imap_parse_status
word_end(struct imap_parser *p, const unsigned char *d, size_t i,
    struct err *err)
{
	size_t n = p->tok_len;
	char *w;

	if (p->bracket)
		return fail(p, err, d, i, "unterminated '[' in atom");
	if (n == 0 && p->role == R_TAG && (d[i] == '\r' || d[i] == '\n'))
		return fail(p, err, d, i, "empty response line");
	if (n == 0)
		return fail(p, err, d, i, "expected %s", role_name[p->role]);
	w = iparse_tok_end(p);
	if (p->role != R_TAG && p->role != R_ARG)
		upcase(w);
	switch (p->role) {
	case R_TAG:
		p->resp.kind = !strcmp(w, "*") ? IMAP_RESP_UNTAGGED :
		    !strcmp(w, "+") ? IMAP_RESP_CONTINUE : IMAP_RESP_TAGGED;
		if (p->resp.kind == IMAP_RESP_TAGGED && !valid_tag(w))
			return fail(p, err, d, i, "invalid tag");
		if (p->resp.kind == IMAP_RESP_TAGGED)
			p->resp.tag = w;
		p->st = S_AFTER_TAG;
		break;
	case R_FIRST:
		if (strspn(w, "0123456789") == n) {
			/* RFC 3501 §9 message-data: nz-number SP ... */
			if (parse_u32_str(w, &p->resp.num) < 0)
				return fail(p, err, d, i, "number too large");
			p->resp.has_num = 1;
			p->st = S_AFTER_NUM;
			break;
		}
		/* fall through */
	case R_STATUS:
		if (is_status(w, p->role == R_FIRST)) {
			p->resp.status = w;
			p->st = S_AFTER_STATUS;
			break;
		}
		if (p->role == R_STATUS)
			return fail(p, err, d, i,
			    "tagged response without OK, NO or BAD");
		/* fall through */
	case R_NAME:
		p->resp.name = w;
		p->st = S_ARGS; /* which skips the SP */
		break;
	case R_CODE:
		p->resp.code = w;
		p->st = S_AFTER_CODE;
		break;
	case R_ARG:
		if (count_arg(p, err, d, i))
			return IMAP_PARSE_ERROR;
		if (n == 3 && str_ieq(w, "NIL"))
			iparse_push(p, IMAP_ARG_NIL, NULL, 0);
		else
			iparse_push(p, IMAP_ARG_ATOM, w, n);
		p->st = S_ARGS;
		break;
	}
	return IMAP_PARSE_MORE;
}

/* Scans a word from d[i] up to end; returns where it stops. */
static size_t
scan_word(struct imap_parser *p, const unsigned char *d, size_t i, size_t end)
{
	/* Most bytes: an argument's atom outside brackets and response codes
	 * (names, numbers, flags), scanned without the cases below. */
	if (p->role == R_ARG && !p->bracket && !p->code_ctx)
		while (i < end && (byte_class[d[i]] & C_PLAIN))
			i++;
	for (; i < end; i++) {
		unsigned char c = d[i];
		if (p->role == R_TAG) {
			if (!atom_char(c) && c != ']' && c != '*')
				break;
		} else if (p->role != R_ARG) {
			if (!atom_char(c) || c == '[')
				break;
		} else if (p->bracket) {
			/* fetch-att section: "BODY[HEADER.FIELDS (A B)]". */
			if (c == ']')
				p->bracket--;
			else if (c == '[')
				p->bracket++;
			else if (c < ' ' || c == 0x7f)
				break;
		} else if (c == '[') {
			p->bracket++;
		} else if (!arg_char(c) || (c == ']' && p->code_ctx)) {
			break;
		}
	}
	return i;
}

static void
lit_finish(struct imap_parser *p)
{
	size_t n = p->tok_len;

	iparse_push(p, IMAP_ARG_LITERAL, iparse_tok_end(p), n);
	p->st = S_ARGS;
}

/* d[*ip] is the LF ending "{N}\r\n". */
static enum imap_parse_status
lit_start(struct imap_parser *p, const unsigned char *d, size_t *ip,
    struct err *err)
{
	uint64_t n = p->lit_size;

	if (count_arg(p, err, d, *ip))
		return IMAP_PARSE_ERROR;
	if (n <= p->lim.max_inline_literal && n > p->lim.max_line - p->lit_bytes)
		return fail(p, err, d, *ip,
		    "inline literals of more than %zu bytes", p->lim.max_line);
	(*ip)++;
	if (n > p->lim.max_inline_literal) {
		iparse_expose_partial(p);
		p->st = S_STREAM;
		return IMAP_PARSE_LITERAL;
	}
	p->lit_bytes += (size_t)n;
	iparse_tok_begin(p);
	iparse_tok_room(p, (size_t)n); /* so that the data is copied only once */
	p->lit_left = (size_t)n;
	if (n == 0)
		lit_finish(p);
	else
		p->st = S_LIT_DATA;
	return IMAP_PARSE_MORE;
}

/* Between args: RFC 3501 §9 msg-att, envelope, body, mailbox-data... are
 * all atoms, strings and parenthesized lists separated by SP. */
static enum imap_parse_status
args_byte(struct imap_parser *p, const unsigned char *d, size_t *ip,
    struct err *err)
{
	size_t i = *ip;
	unsigned char c = d[i];

	switch (c) {
	case ' ':
		break;
	case '(':
		if (p->nopen >= p->lim.max_depth)
			return fail(p, err, d, i, "lists nested deeper than %u",
			    p->lim.max_depth);
		if (count_arg(p, err, d, i))
			return IMAP_PARSE_ERROR;
		p->open = xgrow(p->open, &p->open_cap, p->nopen + 1,
		    sizeof(*p->open));
		p->open[p->nopen++] = p->nstack;
		iparse_push(p, IMAP_ARG_LIST, NULL, 0);
		break;
	case ')':
		if (p->nopen == 0)
			return fail(p, err, d, i, "unexpected ')'");
		iparse_close_list(p);
		break;
	case '"':
		iparse_tok_begin(p);
		p->st = S_QUOTED;
		break;
	case '{':
		/* resp-text-code args are TEXT-CHARs: no literals. */
		if (p->code_ctx)
			return fail(p, err, d, i, "literal in a response code");
		p->lit_size = 0;
		p->lit_digits = false;
		p->st = S_LIT_SIZE;
		break;
	case '~':
		p->st = S_TILDE;
		break;
	case '\r':
	case '\n':
		if (p->code_ctx)
			return fail(p, err, d, i, "unterminated response code");
		return line_end(p, d, ip, err);
	default:
		if (c == ']' && p->code_ctx) {
			if (p->nopen)
				return fail(p, err, d, i,
				    "unbalanced '(' in response code");
			buf_append(&p->raw, d + p->raw_from, i - p->raw_from);
			p->resp.code_raw = p->raw.data ? p->raw.data : "";
			p->code_ctx = false;
			p->st = S_CODE_END;
			break;
		}
		if (!arg_char(c) && c != '[')
			return fail(p, err, d, i, "unexpected character");
		begin_word(p, R_ARG);
		return IMAP_PARSE_MORE; /* the word takes c */
	}
	*ip = i + 1;
	return IMAP_PARSE_MORE;
}

/* Consumes bytes of d[*ip..end), outside literal data: at least one, unless
 * it only changes state. */
static enum imap_parse_status
step(struct imap_parser *p, const unsigned char *d, size_t *ip, size_t end,
    struct err *err)
{
	size_t i = *ip, j;
	unsigned char c = d[i];
	bool eol = c == '\r' || c == '\n';
	const char *why = NULL; /* error, with d[i] the offending byte */

	switch (p->st) {
	case S_WORD:
		j = scan_word(p, d, i, end);
		iparse_tok_add(p, d + i, j - i);
		*ip = j;
		return j < end ? word_end(p, d, j, err) : IMAP_PARSE_MORE;
	case S_AFTER_TAG:
		if (p->resp.kind == IMAP_RESP_CONTINUE && (c == ' ' || eol))
			begin_text(p); /* RFC 3501 §7.5; lax servers omit SP */
		else if (c == ' ')
			begin_word(p, p->resp.kind == IMAP_RESP_TAGGED ?
			    R_STATUS : R_FIRST);
		else if (eol && p->resp.kind == IMAP_RESP_TAGGED)
			why = "tagged response without status";
		else
			why = eol ? "empty untagged response" :
			    "invalid character in tag";
		i += c == ' ';
		break;
	case S_AFTER_NUM:
		if (c == ' ')
			begin_word(p, R_NAME);
		else
			why = "expected a name after the number";
		i += c == ' ';
		break;
	case S_AFTER_STATUS:
		if (c == ' ')
			p->st = S_TEXT_START;
		else if (eol)
			begin_text(p);
		else
			why = "expected a space after the status";
		i += c == ' ';
		break;
	case S_TEXT_START:
		/* RFC 3501 §9 resp-text: ["[" resp-text-code "]" SP] text */
		if (c == '[')
			begin_word(p, R_CODE);
		else
			begin_text(p);
		i += c == '[';
		break;
	case S_AFTER_CODE:
		if (c == ' ') {
			p->code_ctx = true;
			p->raw_from = i + 1;
			p->st = S_ARGS;
		} else if (c == ']') {
			p->resp.code_raw = "";
			p->st = S_CODE_END;
		} else {
			why = "malformed response code";
		}
		i += c == ' ' || c == ']';
		break;
	case S_CODE_END:
		begin_text(p);
		i += c == ' ';
		break;
	case S_TEXT:
		for (j = i; j < end && d[j] != '\r' && d[j] != '\n'; j++)
			;
		iparse_tok_add(p, d + i, j - i);
		*ip = j;
		if (j == end)
			return IMAP_PARSE_MORE;
		p->resp.text = iparse_tok_end(p);
		return line_end(p, d, ip, err);
	case S_ARGS:
		return args_byte(p, d, ip, err);
	case S_QUOTED:
		/* RFC 3501 §9 quoted: QUOTED-CHAR is any TEXT-CHAR (no CR/LF). */
		for (j = i; j < end && d[j] != '"' && d[j] != '\\' &&
		    d[j] != '\r' && d[j] != '\n'; j++)
			;
		iparse_tok_add(p, d + i, j - i);
		i = j;
		if (i == end)
			break;
		if (d[i] == '\r' || d[i] == '\n') {
			why = "unterminated quoted string";
		} else if (d[i] == '"') {
			size_t n = p->tok_len;
			if (count_arg(p, err, d, i))
				return IMAP_PARSE_ERROR;
			iparse_push(p, IMAP_ARG_STRING, iparse_tok_end(p), n);
			p->st = S_ARGS;
			i++;
		} else {
			p->st = S_QUOTED_ESC;
			i++;
		}
		break;
	case S_QUOTED_ESC:
		if (eol) {
			why = "unterminated quoted string";
			break;
		}
		if (c != '"' && c != '\\')
			iparse_tok_add(p, "\\", 1); /* not a quoted-special: keep it */
		iparse_tok_add(p, &c, 1);
		p->st = S_QUOTED;
		i++;
		break;
	case S_TILDE:
		/* RFC 3516 literal8; otherwise "~" is an ordinary ATOM-CHAR. */
		if (c == '{')
			return args_byte(p, d, ip, err);
		begin_word(p, R_ARG);
		iparse_tok_add(p, "~", 1);
		break;
	case S_LIT_SIZE:
		/* RFC 3501 §9 literal: "{" number "}" CRLF; RFC 7888 "{N+}". */
		if (c >= '0' && c <= '9') {
			unsigned dig = c - '0';
			if (p->lit_size > (UINT64_MAX - dig) / 10) {
				why = "literal size overflows";
				break;
			}
			p->lit_size = p->lit_size * 10 + dig;
			if (p->lit_size > p->lim.max_literal)
				return fail(p, err, d, i,
				    "literal larger than %llu bytes",
				    (unsigned long long)p->lim.max_literal);
			p->lit_digits = true;
		} else if (p->lit_digits && (c == '}' || c == '+')) {
			p->st = c == '}' ? S_LIT_CR : S_LIT_PLUS;
		} else {
			why = "malformed literal size";
			break;
		}
		i++;
		break;
	case S_LIT_PLUS:
		if (c == '}')
			p->st = S_LIT_CR;
		else
			why = "malformed literal size";
		i += c == '}';
		break;
	case S_LIT_CR:
	case S_LIT_LF:
		if (c == '\n')
			return lit_start(p, d, ip, err);
		if (c != '\r' || p->st != S_LIT_CR) {
			why = "expected CRLF after literal size";
			break;
		}
		p->st = S_LIT_LF;
		i++;
		break;
	case S_LF:
		if (c == '\n')
			return line_end(p, d, ip, err);
		why = "CR not followed by LF";
		break;
	case S_LIT_DATA:
	case S_STREAM:
	case S_DONE:
	case S_ERROR:
		abort(); /* handled by run() and imap_parse_feed() */
	}
	if (why)
		return fail(p, err, d, i, "%s", why);
	*ip = i;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
run(struct imap_parser *p, const unsigned char *d, size_t len, size_t *ip,
    struct err *err)
{
	enum imap_parse_status r = IMAP_PARSE_MORE;
	size_t i = 0, start, end, room;

	while (i < len) {
		if (p->st == S_LIT_DATA) {
			size_t n = len - i < p->lit_left ? len - i : p->lit_left;
			iparse_tok_add(p, d + i, n);
			i += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				lit_finish(p);
			continue;
		}
		if (p->line_bytes >= p->lim.max_line) {
			r = fail(p, err, d, i, "response longer than %zu bytes",
			    p->lim.max_line);
			break;
		}
		/* Runs stop at the limit, so it is checked once per step. */
		room = p->lim.max_line - p->line_bytes;
		end = len - i < room ? len : i + room;
		start = i;
		r = step(p, d, &i, end, err);
		p->line_bytes += i - start;
		if (r != IMAP_PARSE_MORE)
			break;
	}
	*ip = i;
	return r;
}

/* ---- public interface ---- */

struct imap_parser *
imap_parse_new(const struct imap_parse_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->lim = limits ? *limits : imap_parse_default_limits;
	buf_init(&p->raw, SIZE_MAX);
	start_resp(p);
	return p;
}

void
imap_parse_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	struct chunk *c, *next;

	if (p == NULL)
		return;
	for (c = p->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(p->stack);
	free(p->open);
	buf_free(&p->raw);
	free(p);
	*pp = NULL;
}

enum imap_parse_status
imap_parse_feed(struct imap_parser *p, const char *data, size_t len,
    size_t *used_r, struct err *err)
{
	enum imap_parse_status r;
	size_t i = 0;

	*used_r = 0;
	switch (p->st) {
	case S_ERROR:
		err_set(err, ERR_PROTO, "IMAP parser used after an error");
		return IMAP_PARSE_ERROR;
	case S_STREAM:
		return IMAP_PARSE_LITERAL; /* literal_done() not called yet */
	case S_DONE:
		start_resp(p);
		break;
	default:
		break;
	}
	p->raw_from = 0;
	r = run(p, (const unsigned char *)data, len, &i, err);
	if (r == IMAP_PARSE_MORE && p->code_ctx)
		buf_append(&p->raw, data + p->raw_from, len - p->raw_from);
	if (r != IMAP_PARSE_ERROR) {
		ctx_push(p, data, i);
		p->off += i;
	}
	*used_r = i;
	return r;
}

const struct imap_resp *
imap_parse_resp(const struct imap_parser *p)
{
	return &p->resp;
}

uint64_t
imap_parse_literal_size(const struct imap_parser *p)
{
	return p->st == S_STREAM ? p->lit_size : 0;
}

const struct imap_resp *
imap_parse_partial(const struct imap_parser *p)
{
	return &p->resp;
}

const struct imap_arg *
imap_parse_literal_container(const struct imap_parser *p, size_t *count_r)
{
	*count_r = p->cont_count;
	return p->cont;
}

void
imap_parse_literal_done(struct imap_parser *p)
{
	if (p->st != S_STREAM)
		return;
	iparse_push(p, IMAP_ARG_LITERAL_STREAMED, NULL, (size_t)p->lit_size);
	p->off += p->lit_size;
	p->st = S_ARGS;
}

void
imap_parse_reset(struct imap_parser *p)
{
	start_resp(p);
}

int
imap_arg_atom_is(const struct imap_arg *a, const char *s)
{
	return a != NULL && a->type == IMAP_ARG_ATOM && str_ieq(a->str, s);
}

const char *
imap_arg_string(const struct imap_arg *a)
{
	return a && (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_STRING ||
	    a->type == IMAP_ARG_LITERAL) ? a->str : NULL;
}
