#ifndef INTERIMAP_MBFILTER_H
#define INTERIMAP_MBFILTER_H

/* Which mailboxes interimap synchronises: the values of the configuration
 * keys list-mailbox (the LIST patterns), list-select-opts (LIST selection
 * options, RFC 5258) and ignore-mailbox (a Perl-compatible regular
 * expression on internal names), checked and turned into data here. The
 * configuration layer (iconf.h) says where a refused value was.
 *
 * Names inside interimap ("internal names") are byte strings in which the
 * hierarchy delimiter is a NUL byte and the list-reference is stripped:
 * "foo/bar" with delimiter '/' is "foo\0bar". Strings here therefore come
 * with a length and may contain NUL.
 *
 * All memory belongs to the struct mbfilter; mbfilter_free() releases it. */

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* One list-mailbox pattern: len bytes (NUL-terminated beyond them); a NUL
 * byte stands for the hierarchy delimiter, LIST wildcards '*' and '%' are
 * kept. */
struct mbfilter_pattern {
	char *name;
	size_t len;
};

struct mbfilter_re; /* a compiled ignore-mailbox */

struct mbfilter {
	/* list-mailbox, in order; none: LIST "*" */
	struct mbfilter_pattern *patterns;
	size_t n_patterns;
	/* list-select-opts upper-cased, e.g. "SUBSCRIBED"; NULL: none */
	char *select_opts;
	/* ignore-mailbox; NULL: none */
	struct mbfilter_re *ignore;
};

/* list-mailbox: patterns separated by whitespace, each either
 *  - unquoted: one or more bytes of 0x21 0x23-0x27 0x2A-0x5B 0x5D-0x7A
 *    0x7C-0x7E (printable ASCII but space " ( ) \ {), or
 *  - quoted: '"', one or more of 0x20 0x21 0x23-0x5B 0x5D-0x7E or an
 *    escape, '"'; escapes are \" \\ \0 (NUL: the delimiter) \a \b \t \n
 *    \f \r \xHH (two hex digits) and \v, which is a plain 'v' (Perl's
 *    reading of the reference's code).
 * Two tokens must be separated by whitespace ("a""b" is refused); leading
 * whitespace is skipped; "" (an empty quoted name) is refused. Appends to
 * f->patterns. Returns 0, or -1 with err (ERR_CONFIG, saying at which byte
 * reading stopped); f->patterns is then unchanged. */
int mbfilter_set_list(struct mbfilter *f, const char *value,
    struct err *err);

/* list-select-opts: bytes 0x20 0x21 0x23 0x24 0x26 0x27 0x2B-0x5B
 * 0x5E-0x7A 0x7C-0x7E only; stored upper-cased, an empty value meaning
 * none. Returns 0, or -1 with err (ERR_CONFIG naming the byte). */
int mbfilter_set_select_opts(struct mbfilter *f, const char *value,
    struct err *err);

/* ignore-mailbox: compiled with PCRE2 (Perl syntax, no option: the
 * reference's qr/$re/), matched unanchored against internal names.
 * Returns 0, or -1 with err (ERR_CONFIG, PCRE2's message and the offset
 * in re). */
int mbfilter_set_ignore(struct mbfilter *f, const char *re, struct err *err);

/* Whether the internal name (len bytes) matches ignore-mailbox: 1 yes, 0
 * no or no ignore-mailbox, -1 with err (ERR_INTERNAL) when PCRE2 gives up
 * (a match limit). Mailboxes named on the command line are not filtered:
 * that is the caller's business, as in the reference. */
int mbfilter_ignored(const struct mbfilter *f, const char *name, size_t len,
    struct err *err);

void mbfilter_free(struct mbfilter *f);

#endif
