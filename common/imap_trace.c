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

