#ifndef COMMON_IMAP_PARSE_INT_H
#define COMMON_IMAP_PARSE_INT_H

/* The tokenizer's insides (imap_parse.c: the state machine;
 * imap_parse_tree.c: the arena its tokens live in and the stack of args
 * they form). Not for users of imap_parse.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parse.h"

#define CHUNK_MIN 4096
#define CHUNK_MAX (1024 * 1024)
#define CTX_LEN 24 /* bytes of input quoted in error messages */


enum state {
	S_WORD,        /* a tag, status, name, code or atom; see role */
	S_AFTER_TAG,
	S_AFTER_NUM,   /* "* 12" */
	S_AFTER_STATUS,
	S_TEXT_START,  /* "* OK ": a "[" starts a resp-text-code */
	S_AFTER_CODE,  /* "* OK [CODE" */
	S_CODE_END,    /* "* OK [CODE args]" */
	S_TEXT,
	S_ARGS,        /* between args */
	S_QUOTED,
	S_QUOTED_ESC,
	S_TILDE,       /* "~", maybe literal8 */
	S_LIT_SIZE,
	S_LIT_PLUS,
	S_LIT_CR,
	S_LIT_LF,
	S_LIT_DATA,
	S_STREAM,      /* stopped at a streamed literal */
	S_LF,          /* CR seen at the end of the line */
	S_DONE,
	S_ERROR,
};

enum role { R_TAG, R_STATUS, R_FIRST, R_NAME, R_CODE, R_ARG };


struct chunk {
	struct chunk *next;
	size_t cap, used;
	max_align_t data[];
};

struct imap_parser {
	struct imap_parse_limits lim;
	enum state st;
	enum role role;
	bool code_ctx;      /* the args being parsed are a resp-text-code's */
	size_t bracket;     /* "[" nesting inside an atom such as BODY[...] */
	bool lit_digits;
	uint64_t lit_size;
	size_t lit_left;    /* inline literal bytes still to come */

	size_t line_bytes;  /* bytes outside literals (max_line) */
	size_t lit_bytes;   /* inline literal bytes */
	size_t nargs;       /* args so far (max_args) */
	uint64_t off;       /* bytes of this response before this feed */

	struct chunk *chunks; /* newest first */
	char *tok;            /* token being built: NULL or at chunks->used */
	size_t tok_len;

	struct imap_arg *stack;
	size_t nstack, stack_cap;
	size_t *open;         /* stack index of each open list */
	size_t nopen, open_cap;
	const struct imap_arg *cont;
	size_t cont_count;

	struct buf raw;       /* code_raw */
	size_t raw_from;      /* where code_raw starts in this feed's data */

	struct imap_resp resp;
	char ctx[CTX_LEN];    /* last bytes of the response, for errors */
	size_t ctx_len;
};

/* The token being built (p->tok, p->tok_len): begin, make room for n
 * more bytes (moving it whole to a new chunk if needed, so that a
 * finished token never moves), append, and finish (NUL-terminated; its
 * address is final). */
void iparse_tok_begin(struct imap_parser *p);
void iparse_tok_room(struct imap_parser *p, size_t n);
void iparse_tok_add(struct imap_parser *p, const void *s, size_t n);
char *iparse_tok_end(struct imap_parser *p);
/* n bytes in the arena, aligned; never while a token is built. */
void *iparse_arena_alloc(struct imap_parser *p, size_t n);
/* Args: push one on the stack; close the innermost open list (its
 * elements move to the arena); point the open lists and the response at
 * what the stack holds so far (a streamed literal shows the tree half
 * way). */
void iparse_push(struct imap_parser *p, enum imap_arg_type type,
    const char *s, size_t len);
void iparse_close_list(struct imap_parser *p);
void iparse_expose_partial(struct imap_parser *p);

/* Appends s[0..n) to b with '"' and '\\' escaped when quoted and bytes
 * outside 0x20-0x7e as \xHH: messages and dumps stay on one line. */
void iparse_esc(struct buf *b, const char *s, size_t n, bool quoted);

#endif
