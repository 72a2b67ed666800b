#include "util.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "imap_trace.h"

/* s (len bytes) as an IMAP quoted string, at most 200 bytes of it. */
static void
trace_quoted(struct buf *b, const char *s, size_t len)
{
	size_t n = len < 200 ? len : 200, run = 0;

	buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		buf_append(b, s + run, i - run);
		buf_append(b, "\\", 1);
		run = i;
	}
	buf_append(b, s + run, n - run);
	buf_appends(b, n < len ? "\"..." : "\"");
}

/* Protocol trace of a response's args (see imap_trace_format()). */
static void
trace_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n && b->len < 2000; i++) {
		if (i)
			buf_append(b, " ", 1);
		switch (a[i].type) {
		case IMAP_ARG_NIL:
			buf_appends(b, "NIL");
			break;
		case IMAP_ARG_ATOM:
			buf_appends(b, a[i].str);
			break;
		case IMAP_ARG_STRING:
			trace_quoted(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LITERAL:
			buf_appendf(b, "{%zu}", a[i].len);
			trace_quoted(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LITERAL_STREAMED:
			/* Message bodies never reach the log. */
			buf_appendf(b, "{%zu}[...]", a[i].len);
			break;
		case IMAP_ARG_LIST:
			buf_append(b, "(", 1);
			trace_args(b, a[i].list, a[i].count);
			buf_append(b, ")", 1);
			break;
		}
	}
}

char *
imap_trace_format(const struct imap_resp *r)
{
	struct buf b = BUF_INIT(4096);
	if (r->kind == IMAP_RESP_CONTINUE) {
		buf_appendf(&b, "+ %s", r->text);
	} else {
		buf_appends(&b, r->kind == IMAP_RESP_TAGGED ? r->tag : "*");
		if (r->status) {
			buf_appendf(&b, " %s", r->status);
			if (r->code)
				buf_appendf(&b, " [%s%s%s]", r->code,
				    r->code_raw && *r->code_raw ? " " : "",
				    r->code_raw ? r->code_raw : "");
			if (*r->text)
				buf_appendf(&b, " %s", r->text);
		} else {
			if (r->has_num)
				buf_appendf(&b, " %u", r->num);
			if (r->name)
				buf_appendf(&b, " %s", r->name);
			if (r->nargs) {
				buf_append(&b, " ", 1);
				trace_args(&b, r->args, r->nargs);
			}
		}
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}


/* --- the wire shape --------------------------------------------------- */

/* How the line so far ends, byte by byte: a literal's announcement is
 * "{" 1*DIGIT ["+"] "}" right before the CRLF (RFC 3501 §9, RFC 7888). */
enum { TW_NONE, TW_OPEN, TW_DIGITS, TW_PLUS, TW_CLOSE, TW_CLOSE_CR };

void
imap_trace_wire_init(struct imap_trace_wire *w, imap_trace_line_fn *fn,
    void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->fn = fn;
	w->ctx = ctx;
	buf_init(&w->line, IMAP_TRACE_LINE_MAX);
}

static void
wire_byte(struct imap_trace_wire *w, char ch)
{
	if (buf_append(&w->line, &ch, 1) < 0)
		w->cut = true;
	w->last_cr = ch == '\r';
	switch (ch) {
	case '{':
		w->tail = TW_OPEN;
		w->num = 0;
		break;
	case '+':
		w->tail = w->tail == TW_DIGITS ? TW_PLUS : TW_NONE;
		break;
	case '}':
		w->tail = w->tail == TW_DIGITS || w->tail == TW_PLUS ?
		    TW_CLOSE : TW_NONE;
		break;
	case '\r':
		w->tail = w->tail == TW_CLOSE ? TW_CLOSE_CR : TW_NONE;
		break;
	default:
		if (ch >= '0' && ch <= '9' &&
		    (w->tail == TW_OPEN || w->tail == TW_DIGITS) &&
		    w->num <= (UINT64_MAX - (uint64_t)(ch - '0')) / 10) {
			w->num = w->num * 10 + (uint64_t)(ch - '0');
			w->tail = TW_DIGITS;
		} else {
			/* an overflowing size is no literal: the parser
			 * refuses that response anyway */
			w->tail = TW_NONE;
		}
	}
}

static void
wire_line_end(struct imap_trace_wire *w)
{
	size_t n = w->line.len;
	bool lit = w->tail == TW_CLOSE || w->tail == TW_CLOSE_CR;

	if (w->last_cr && !w->cut && n > 0)
		w->line.data[--n] = '\0';
	w->fn(w->ctx, w->line.data ? w->line.data : "", n);
	buf_reset(&w->line);
	w->cut = w->last_cr = false;
	w->tail = TW_NONE;
	if (lit && w->num > 0) {
		w->lit_left = w->num;
		buf_appends(&w->line, "[...]");
	}
}

void
imap_trace_wire_feed(struct imap_trace_wire *w, const char *data, size_t len)
{
	while (len > 0) {
		if (w->lit_left > 0) {
			size_t k = len < w->lit_left ? len : (size_t)w->lit_left;
			data += k;
			len -= k;
			w->lit_left -= k;
			continue;
		}
		if (*data == '\n')
			wire_line_end(w);
		else
			wire_byte(w, *data);
		data++;
		len--;
	}
}

void
imap_trace_wire_literal_read(struct imap_trace_wire *w)
{
	w->lit_left = 0;
}

void
imap_trace_wire_literal_dropped(struct imap_trace_wire *w)
{
	w->lit_left = 0;
	buf_reset(&w->line);
}

void
imap_trace_wire_free(struct imap_trace_wire *w)
{
	buf_free(&w->line);
}
