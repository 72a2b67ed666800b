/* The tokenizer's memory: tokens in an arena of chunks that never move,
 * args on a stack until their list closes (see imap_parse.c). */

#include "util.h"

#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "imap_parse.h"
#include "imap_parse_int.h"

/* ---- arena ---- */

static char *
iparse_chunk_data(struct chunk *c)
{
	return (char *)c->data;
}

static struct chunk *
iparse_chunk_new(struct imap_parser *p, size_t need)
{
	size_t cap = p->chunks ? p->chunks->cap : CHUNK_MIN / 2;
	struct chunk *c;

	cap = cap < CHUNK_MAX / 2 ? cap * 2 : CHUNK_MAX;
	if (cap < need)
		cap = need;
	/* An impossible size makes xmalloc abort rather than wrap around. */
	c = xmalloc(cap > SIZE_MAX - sizeof(*c) ? SIZE_MAX : sizeof(*c) + cap);
	c->cap = cap;
	c->used = 0;
	c->next = p->chunks;
	p->chunks = c;
	return c;
}

void
iparse_tok_begin(struct imap_parser *p)
{
	p->tok = NULL;
	p->tok_len = 0;
}

/* Room for n more bytes of the current token and its NUL, in one piece. */
void
iparse_tok_room(struct imap_parser *p, size_t n)
{
	struct chunk *c = p->chunks;
	char *old = p->tok;
	size_t need = SIZE_MAX;

	if (n < SIZE_MAX / 8 && p->tok_len < SIZE_MAX / 8)
		need = p->tok_len + n + 1;
	if (c != NULL && c->cap - c->used >= need) {
		p->tok = iparse_chunk_data(c) + c->used;
		return;
	}
	/* A token that keeps growing gets twice the room it needs, or a long
	 * string fed in small pieces would be copied over and over. */
	c = iparse_chunk_new(p, p->tok_len && need < SIZE_MAX ? 2 * need : need);
	p->tok = iparse_chunk_data(c);
	if (p->tok_len > 0)
		memcpy(p->tok, old, p->tok_len);
}

void
iparse_tok_add(struct imap_parser *p, const void *s, size_t n)
{
	iparse_tok_room(p, n);
	memcpy(p->tok + p->tok_len, s, n);
	p->tok_len += n;
}

char *
iparse_tok_end(struct imap_parser *p)
{
	char *s;

	iparse_tok_room(p, 0);
	s = p->tok;
	s[p->tok_len] = '\0';
	p->chunks->used += p->tok_len + 1;
	p->tok = NULL;
	return s;
}

/* Never called while a token is being built. */
void *
iparse_arena_alloc(struct imap_parser *p, size_t n)
{
	const size_t a = alignof(max_align_t);
	struct chunk *c = p->chunks;
	size_t at = c ? (c->used + a - 1) / a * a : 0;

	if (c == NULL || at > c->cap || c->cap - at < n) {
		c = iparse_chunk_new(p, n);
		at = 0;
	}
	c->used = at + n;
	return iparse_chunk_data(c) + at;
}

/* ---- args ---- */

void
iparse_push(struct imap_parser *p, enum imap_arg_type type, const char *s, size_t len)
{
	struct imap_arg *a;

	p->stack = xgrow(p->stack, &p->stack_cap, p->nstack + 1, sizeof(*a));
	a = &p->stack[p->nstack++];
	a->type = type;
	a->str = s ? s : "";
	a->len = len;
	a->list = NULL;
	a->count = 0;
}

void
iparse_close_list(struct imap_parser *p)
{
	size_t m = p->open[--p->nopen], n = p->nstack - m - 1;
	struct imap_arg *l = NULL;

	if (n > 0) {
		l = iparse_arena_alloc(p, n * sizeof(*l));
		memcpy(l, &p->stack[m + 1], n * sizeof(*l));
	}
	p->stack[m].list = l;
	p->stack[m].count = n;
	p->nstack = m + 1;
}

/* Points the open lists at their elements on the stack: the elements of
 * open[d] run up to and including open[d + 1]. */
void
iparse_expose_partial(struct imap_parser *p)
{
	size_t d, top = p->nopen ? p->open[0] + 1 : p->nstack;

	for (d = 0; d < p->nopen; d++) {
		size_t m = p->open[d];
		size_t end = d + 1 < p->nopen ? p->open[d + 1] + 1 : p->nstack;
		p->stack[m].count = end - m - 1;
		p->stack[m].list = end > m + 1 ? &p->stack[m + 1] : NULL;
	}
	p->resp.args = top ? p->stack : NULL;
	p->resp.nargs = top;
	if (p->nopen) {
		p->cont = p->stack[p->open[p->nopen - 1]].list;
		p->cont_count = p->stack[p->open[p->nopen - 1]].count;
	} else {
		p->cont = p->resp.args;
		p->cont_count = top;
	}
}

