/* imap_parse_dump(): a canonical one-line dump of a parsed response, for
 * tests and the fuzzer (imap_parse.h). Format:
 *
 *   continuation:  + text:"T"
 *   status:        TAG STATUS [CODE ARG ARG...] text:"T"   (TAG is * if
 *                  untagged; the [...] part only when there is a code)
 *   data:          * [NUM ]NAME ARG ARG...
 *   ARG:           NIL | ATOM:chars | STR:"s" | LIT:len:"s" | STREAMED:len
 *                  | (ARG ARG...)
 * Inside "..." a quote or backslash is escaped with a backslash; everywhere,
 * bytes outside 0x20-0x7e are written \xHH. Atom chars are printed as is. */

#include "util.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "imap_parse_int.h"

static void dump_args(struct buf *b, const struct imap_arg *a, size_t n);

static void
dump_quoted(struct buf *b, const char *prefix, const char *s, size_t n)
{
	buf_appends(b, prefix);
	buf_appends(b, "\"");
	iparse_esc(b, s, n, true);
	buf_appends(b, "\"");
}

static void
dump_arg(struct buf *b, const struct imap_arg *a)
{
	char pre[40];

	switch (a->type) {
	case IMAP_ARG_NIL:
		buf_appends(b, "NIL");
		break;
	case IMAP_ARG_ATOM:
		buf_appends(b, "ATOM:");
		iparse_esc(b, a->str, a->len, false);
		break;
	case IMAP_ARG_STRING:
		dump_quoted(b, "STR:", a->str, a->len);
		break;
	case IMAP_ARG_LITERAL:
		snprintf(pre, sizeof(pre), "LIT:%zu:", a->len);
		dump_quoted(b, pre, a->str, a->len);
		break;
	case IMAP_ARG_LITERAL_STREAMED:
		buf_appendf(b, "STREAMED:%zu", a->len);
		break;
	case IMAP_ARG_LIST:
		buf_appends(b, "(");
		dump_args(b, a->list, a->count);
		buf_appends(b, ")");
		break;
	}
}

static void
dump_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_appends(b, " ");
		dump_arg(b, &a[i]);
	}
}

char *
imap_parse_dump(const struct imap_resp *r)
{
	struct buf b = BUF_INIT(SIZE_MAX);

	if (r->kind == IMAP_RESP_CONTINUE) {
		dump_quoted(&b, "+ text:", r->text, strlen(r->text));
		return buf_steal(&b);
	}
	if (r->kind == IMAP_RESP_TAGGED && r->tag)
		iparse_esc(&b, r->tag, strlen(r->tag), false);
	else
		buf_appends(&b, "*");
	if (r->status) {
		buf_appendf(&b, " %s", r->status);
		if (r->code) {
			buf_appendf(&b, " [%s", r->code);
			if (r->code_nargs)
				buf_appends(&b, " ");
			dump_args(&b, r->code_args, r->code_nargs);
			buf_appends(&b, "]");
		}
		dump_quoted(&b, " text:", r->text, strlen(r->text));
		return buf_steal(&b);
	}
	if (r->has_num)
		buf_appendf(&b, " %u", (unsigned)r->num);
	if (r->name)
		buf_appendf(&b, " %s", r->name);
	if (r->nargs)
		buf_appends(&b, " ");
	dump_args(&b, r->args, r->nargs);
	return buf_steal(&b);
}

