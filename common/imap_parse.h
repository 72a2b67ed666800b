#ifndef COMMON_IMAP_PARSE_H
#define COMMON_IMAP_PARSE_H

/* A streaming tokenizer for IMAP server responses (RFC 3501 §7, §9).
 *
 * Bytes in, one response at a time out; no sockets, no I/O. The parser is
 * resumable at every byte: feeding a response split anywhere gives the same
 * result as feeding it whole.
 *
 * Large literals are never buffered: when a literal larger than
 * limits.max_inline_literal starts, imap_parse_feed() returns
 * IMAP_PARSE_LITERAL and stops right after the "{N}\r\n". The caller then
 * consumes exactly imap_parse_literal_size() bytes of the stream itself (for
 * instance into an SMTP transaction) and calls imap_parse_literal_done();
 * the tree then holds an IMAP_ARG_LITERAL_STREAMED placeholder with the size.
 * While stopped at a literal, imap_parse_partial() shows the arguments parsed
 * so far, so that the caller can see that the literal is "BODY[]" of a FETCH.
 *
 * Memory: the response and every string/arg it points to belong to the parser
 * and stay valid until the next imap_parse_feed() call that starts a new
 * response (i.e. the first feed after IMAP_PARSE_DONE) or imap_parse_free().
 * All strings are NUL-terminated; literals and quoted strings may also contain
 * NUL bytes, so use len. */

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum imap_arg_type {
	IMAP_ARG_NIL,             /* NIL */
	IMAP_ARG_ATOM,            /* atom, number, flag (\Seen), BODY[...]<..> */
	IMAP_ARG_STRING,          /* quoted string, unescaped */
	IMAP_ARG_LITERAL,         /* {N} literal held in memory */
	IMAP_ARG_LITERAL_STREAMED,/* {N} literal consumed by the caller; str is "" */
	IMAP_ARG_LIST,            /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;             /* ATOM/STRING/LITERAL; "" otherwise */
	size_t len;                  /* string length, or literal size */
	const struct imap_arg *list; /* LIST: its elements */
	size_t count;                /* LIST: number of elements */
};

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED,  /* "* ..." */
	IMAP_RESP_TAGGED,    /* "TAG OK|NO|BAD ..." */
	IMAP_RESP_CONTINUE,  /* "+ text" */
};

/* A whole response line, including its literals. */
struct imap_resp {
	enum imap_resp_kind kind;
	const char *tag;      /* TAGGED: the tag; NULL otherwise */

	/* Status responses: OK, NO, BAD, PREAUTH, BYE (uppercased). NULL for
	 * data responses such as "* 3 EXISTS" or "* CAPABILITY ...". */
	const char *status;
	/* Optional response code "[CODE args]" of a status response:
	 * code is uppercased ("UIDVALIDITY"), code_args its arguments parsed as
	 * ordinary args (atoms stop at ']'), code_raw the raw text between the
	 * code and ']' (for CAPABILITY and the like). NULL/0 when absent. */
	const char *code;
	const struct imap_arg *code_args;
	size_t code_nargs;
	const char *code_raw;
	/* Human-readable text of a status or continuation response, never
	 * tokenized (it may hold unbalanced quotes or parentheses); "" if none. */
	const char *text;

	/* Data responses ("* 12 FETCH (...)", "* CAPABILITY IMAP4rev1 ...",
	 * "* SEARCH 1 2", "* ESEARCH (TAG "a") UID ALL 1:3"):
	 * has_num/num for a leading number, name the uppercased keyword
	 * ("FETCH", "EXISTS", "CAPABILITY"), args/nargs what follows it. */
	int has_num;
	uint32_t num;
	const char *name;
	const struct imap_arg *args;
	size_t nargs;
};

struct imap_parse_limits {
	size_t max_line;           /* bytes of a response outside literals */
	size_t max_inline_literal; /* larger literals are streamed (see above) */
	uint64_t max_literal;      /* larger literals are an error */
	unsigned max_depth;        /* list nesting */
	size_t max_args;           /* total args in one response */
};

/* Reasonable defaults: 8 MiB line, 64 KiB inline literal, 2^40 literal,
 * depth 32, 1M args. */
extern const struct imap_parse_limits imap_parse_default_limits;

enum imap_parse_status {
	IMAP_PARSE_ERROR = -1,
	IMAP_PARSE_MORE = 0,     /* all input consumed, response not complete */
	IMAP_PARSE_DONE = 1,     /* a whole response; see imap_parse_resp() */
	IMAP_PARSE_LITERAL = 2,  /* stopped at a streamed literal (see above) */
};

struct imap_parser;

/* limits may be NULL for the defaults. Never returns NULL. */
struct imap_parser *imap_parse_new(const struct imap_parse_limits *limits);
void imap_parse_free(struct imap_parser **pp);

/* Consume bytes from data. *used_r is set to the number of bytes consumed,
 * which is less than len when a response completed (DONE) or a streamed
 * literal starts (LITERAL): the rest belongs to the next response or to the
 * literal. On ERROR, err holds a one-line reason (kind ERR_PROTO) quoting a
 * short excerpt of the offending input; the parser must then be reset. */
enum imap_parse_status imap_parse_feed(struct imap_parser *p, const char *data,
    size_t len, size_t *used_r, struct err *err);

/* After DONE: the response. Valid as described at the top. */
const struct imap_resp *imap_parse_resp(const struct imap_parser *p);

/* After LITERAL: size of the literal the caller must consume now. */
uint64_t imap_parse_literal_size(const struct imap_parser *p);
/* After LITERAL: the top-level args of the (incomplete) response so far
 * (tag/name/num filled in), and the list that directly contains the literal
 * (for "* 3 FETCH (UID 7 BODY[] {N}": the FETCH list, whose last element is
 * the BODY[] atom). Pointers valid until the next feed. */
const struct imap_resp *imap_parse_partial(const struct imap_parser *p);
const struct imap_arg *imap_parse_literal_container(const struct imap_parser *p,
    size_t *count_r);
/* The caller has consumed the literal; parsing can go on with feed(). */
void imap_parse_literal_done(struct imap_parser *p);

/* Forget any partial response (after an error or a reconnect). */
void imap_parse_reset(struct imap_parser *p);

/* Canonical one-line dump of a response for tests and debug output, e.g.
 * "* 3 FETCH (ATOM:UID ATOM:7 ATOM:BODY[] LIT:5:\"hello\")". Allocated;
 * caller frees. */
char *imap_parse_dump(const struct imap_resp *r);

/* Helpers for consumers. */
/* True when arg is an ATOM equal (ASCII case-insensitively) to s. */
int imap_arg_atom_is(const struct imap_arg *a, const char *s);
/* ATOM, STRING or LITERAL: its text; NIL: NULL; other types: NULL. */
const char *imap_arg_string(const struct imap_arg *a);

#endif
