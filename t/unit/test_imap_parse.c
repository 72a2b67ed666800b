/* Unit tests for common/imap_parse.c: a table of responses, each parsed
 * whole, split in two at every offset and one byte at a time; then streamed
 * literals, several responses in one buffer, limits, and random input. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "test.h"

#define BIN(s) s, sizeof(s) - 1

struct tcase {
	const char *name;
	const char *in;
	size_t len;       /* 0: strlen(in) */
	const char *want; /* dump(s), or a substring of the error */
	int err;
	const struct imap_parse_limits *lim;
};

enum mode { WHOLE, SPLIT, BYTES };

static struct imap_parse_limits lim_inline5, lim_small_lit, lim_huge_lit,
    lim_line32, lim_args3;

/* Feeds in[0..len) to a new parser in pieces and returns the dumps of the
 * responses, one per line, then "ERROR: msg" on an error or "INCOMPLETE"
 * when the input ends inside a response. Streamed literals are skipped (fed
 * to nobody). The first broken invariant of the feed API goes to bad;
 * *done_at is where the last response ended. */
static char *
parse_pieces(const char *in, size_t len, const struct imap_parse_limits *lim,
    enum mode m, size_t split, char *bad, size_t badsz, size_t *done_at)
{
	struct imap_parser *p = imap_parse_new(lim);
	struct buf out = BUF_INIT(SIZE_MAX);
	enum imap_parse_status r = IMAP_PARSE_DONE;
	size_t pos = 0;
	uint64_t skip = 0;
	struct err e;
	int failed = 0;

	*done_at = 0;
	while (pos < len && !failed) {
		size_t n = m == WHOLE ? len - pos : m == BYTES ? 1 :
		    pos < split ? split - pos : len - pos;
		const char *s = in + pos;
		pos += n;
		while (n > 0 && !failed) {
			size_t used = 0;
			if (skip > 0) {
				size_t k = skip < n ? (size_t)skip : n;
				s += k;
				n -= k;
				skip -= k;
				if (skip == 0)
					imap_parse_literal_done(p);
				continue;
			}
			r = imap_parse_feed(p, s, n, &used, &e);
			if (used > n && !bad[0])
				snprintf(bad, badsz, "used %zu > %zu", used, n);
			if (used > n)
				used = n;
			s += used;
			n -= used;
			switch (r) {
			case IMAP_PARSE_MORE:
				if (n != 0 && !bad[0])
					snprintf(bad, badsz, "MORE left %zu", n);
				n = 0;
				break;
			case IMAP_PARSE_DONE: {
				char *dump = imap_parse_dump(imap_parse_resp(p));
				if (used == 0 && !bad[0])
					snprintf(bad, badsz, "DONE used 0");
				*done_at = (size_t)(s - in);
				if (out.len)
					buf_appends(&out, "\n");
				buf_appends(&out, dump);
				free(dump);
				break;
			}
			case IMAP_PARSE_LITERAL:
				skip = imap_parse_literal_size(p);
				if ((used == 0 || skip == 0) && !bad[0])
					snprintf(bad, badsz, "bad LITERAL stop");
				break;
			case IMAP_PARSE_ERROR:
				if (out.len)
					buf_appends(&out, "\n");
				buf_appendf(&out, "ERROR: %s", e.msg);
				failed = 1;
				break;
			}
		}
	}
	if (!failed && (r != IMAP_PARSE_DONE || skip > 0))
		buf_appendf(&out, "%sINCOMPLETE", out.len ? "\n" : "");
	imap_parse_free(&p);
	return buf_steal(&out);
}

/* Whole, split at every offset, byte by byte: all must agree, and a single
 * good response must end exactly at its last byte (MORE until then). */
static void
check(const char *name, const char *in, size_t len, const char *want, int err,
    const struct imap_parse_limits *lim)
{
	char bad[200] = "";
	char *whole, *got;
	size_t k, done_at;
	int single = !err && !strchr(want, '\n') && strcmp(want, "INCOMPLETE");

	test_begin(name);
	if (len == 0)
		len = strlen(in);
	whole = parse_pieces(in, len, lim, WHOLE, 0, bad, sizeof(bad), &done_at);
	if (err) {
		if (strncmp(whole, "ERROR: ", 7) != 0 || !strstr(whole, want))
			test_assert_str(whole, want);
	} else {
		test_assert_str(whole, want);
	}
	for (k = 1; k <= len; k++) {
		got = parse_pieces(in, len, lim, k < len ? SPLIT : BYTES, k, bad,
		    sizeof(bad), &done_at);
		test_assert_str(got, whole);
		test_assert(!single || done_at == len);
		free(got);
	}
	if (bad[0])
		test_assert_str(bad, "");
	free(whole);
	test_end();
}

static const struct tcase cases[] = {
	/* status responses */
	{"greeting", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n", 0,
	    "* OK [CAPABILITY ATOM:IMAP4rev1 ATOM:LITERAL+] text:\"ready\"", 0, NULL},
	{"preauth", "* PREAUTH [CAPABILITY IMAP4rev1] Logged in as joe\r\n", 0,
	    "* PREAUTH [CAPABILITY ATOM:IMAP4rev1] text:\"Logged in as joe\"", 0, NULL},
	{"bye", "* BYE\r\n", 0, "* BYE text:\"\"", 0, NULL},
	{"bye text", "* bye Server shutting down\r\n", 0,
	    "* BYE text:\"Server shutting down\"", 0, NULL},
	{"ok no code", "a1 OK done\r\n", 0, "a1 OK text:\"done\"", 0, NULL},
	{"no", "a2 NO [TRYCREATE] no such mailbox\r\n", 0,
	    "a2 NO [TRYCREATE] text:\"no such mailbox\"", 0, NULL},
	{"bad", "a3 bad command unknown\r\n", 0, "a3 BAD text:\"command unknown\"", 0, NULL},
	{"ok bare", "a4 OK\r\n", 0, "a4 OK text:\"\"", 0, NULL},
	{"uidvalidity", "a1 OK [UIDVALIDITY 123] done\r\n", 0,
	    "a1 OK [UIDVALIDITY ATOM:123] text:\"done\"", 0, NULL},
	{"permanentflags", "* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n", 0,
	    "* OK [PERMANENTFLAGS (ATOM:\\Seen ATOM:\\*)] text:\"Limited\"", 0, NULL},
	{"highestmodseq", "* OK [highestmodseq 99] x\r\n", 0,
	    "* OK [HIGHESTMODSEQ ATOM:99] text:\"x\"", 0, NULL},
	{"copyuid", "a5 OK [COPYUID 1 2:3 4:5] Copied\r\n", 0,
	    "a5 OK [COPYUID ATOM:1 ATOM:2:3 ATOM:4:5] text:\"Copied\"", 0, NULL},
	{"alert", "* OK [ALERT] Disk \"full (almost [90%\r\n", 0,
	    "* OK [ALERT] text:\"Disk \\\"full (almost [90%\"", 0, NULL},
	{"code no text", "* OK [READ-WRITE]\r\n", 0,
	    "* OK [READ-WRITE] text:\"\"", 0, NULL},
	{"code quoted", "* NO [BADCHARSET (UTF-8 \"A]B\")] no\r\n", 0,
	    "* NO [BADCHARSET (ATOM:UTF-8 STR:\"A]B\")] text:\"no\"", 0, NULL},
	{"text parens", "a1 NO ( \" ) [ x\r\n", 0,
	    "a1 NO text:\"( \\\" ) [ x\"", 0, NULL},
	{"bare lf", "a1 OK fine\n", 0, "a1 OK text:\"fine\"", 0, NULL},
	/* continuation */
	{"cont sp", "+ \r\n", 0, "+ text:\"\"", 0, NULL},
	{"cont bare", "+\r\n", 0, "+ text:\"\"", 0, NULL},
	{"cont text", "+ Ready for (literal \"data\r\n", 0,
	    "+ text:\"Ready for (literal \\\"data\"", 0, NULL},
	{"cont b64", "+ dGVzdA==\r\n", 0, "+ text:\"dGVzdA==\"", 0, NULL},
	/* data responses */
	{"exists", "* 5 EXISTS\r\n", 0, "* 5 EXISTS", 0, NULL},
	{"capability", "* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+ ID\r\n", 0,
	    "* CAPABILITY ATOM:IMAP4rev1 ATOM:AUTH=PLAIN ATOM:LITERAL+ ATOM:ID", 0, NULL},
	{"list", "* LIST (\\HasNoChildren) \"/\" INBOX\r\n", 0,
	    "* LIST (ATOM:\\HasNoChildren) STR:\"/\" ATOM:INBOX", 0, NULL},
	{"list nil esc", "* list () NIL \"a \\\"b\\\" \\\\c\"\r\n", 0,
	    "* LIST () NIL STR:\"a \\\"b\\\" \\\\c\"", 0, NULL},
	{"search empty", "* SEARCH\r\n", 0, "* SEARCH", 0, NULL},
	{"search", "* SEARCH 2 84 882\r\n", 0,
	    "* SEARCH ATOM:2 ATOM:84 ATOM:882", 0, NULL},
	{"esearch", "* ESEARCH (TAG \"a3\") UID COUNT 3 ALL 1:3\r\n", 0,
	    "* ESEARCH (ATOM:TAG STR:\"a3\") ATOM:UID ATOM:COUNT ATOM:3 ATOM:ALL ATOM:1:3", 0, NULL},
	{"enabled", "* ENABLED QRESYNC\r\n", 0, "* ENABLED ATOM:QRESYNC", 0, NULL},
	{"vanished", "* VANISHED (EARLIER) 1:5\r\n", 0,
	    "* VANISHED (ATOM:EARLIER) ATOM:1:5", 0, NULL},
	{"flags", "* FLAGS (\\Answered \\Seen $Forwarded)\r\n", 0,
	    "* FLAGS (ATOM:\\Answered ATOM:\\Seen ATOM:$Forwarded)", 0, NULL},
	{"fetch simple", "* 3 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n", 0,
	    "* 3 FETCH (ATOM:UID ATOM:7 ATOM:BODY[] LIT:5:\"hello\")", 0, NULL},
	{"fetch internaldate",
	    "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
	    "RFC822.SIZE 4286 MODSEQ (12121231000))\r\n", 0,
	    "* 12 FETCH (ATOM:FLAGS (ATOM:\\Seen) ATOM:INTERNALDATE "
	    "STR:\"17-Jul-1996 02:44:25 -0700\" ATOM:RFC822.SIZE ATOM:4286 "
	    "ATOM:MODSEQ (ATOM:12121231000))", 0, NULL},
	{"fetch envelope",
	    "* 1 FETCH (UID 9 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	    "{11}\r\nSub\"ject (x \"say \\\"hi\\\" \\\\o/\" "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((NIL NIL \"imap\" \"cac.washington.edu\")(\"B\" nil {3+}\r\nb\r\n \"x.org\")) "
	    "NIL NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n", 0,
	    "* 1 FETCH (ATOM:UID ATOM:9 ATOM:ENVELOPE ("
	    "STR:\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	    "LIT:11:\"Sub\\\"ject (x\" STR:\"say \\\"hi\\\" \\\\o/\" "
	    "((STR:\"Terry Gray\" NIL STR:\"gray\" STR:\"cac.washington.edu\")) "
	    "((NIL NIL STR:\"imap\" STR:\"cac.washington.edu\") "
	    "(STR:\"B\" NIL LIT:3:\"b\\x0D\\x0A\" STR:\"x.org\")) "
	    "NIL NIL NIL STR:\"<B27397-0100000@cac.washington.edu>\"))", 0, NULL},
	{"fetch sections",
	    "* 2 FETCH (BODY[HEADER.FIELDS (From To)] {0}\r\n BODY[1.2]<0> \"\" "
	    "BINARY[1] ~{3}\r\n\x01\x02\x03 X ~a)\r\n", 0,
	    "* 2 FETCH (ATOM:BODY[HEADER.FIELDS (From To)] LIT:0:\"\" "
	    "ATOM:BODY[1.2]<0> STR:\"\" ATOM:BINARY[1] LIT:3:\"\\x01\\x02\\x03\" "
	    "ATOM:X ATOM:~a)", 0, NULL},
	{"literal nul crlf paren", BIN("* 4 FETCH (BODY[] {7}\r\na\0)\r\n(\")\r\n"),
	    "* 4 FETCH (ATOM:BODY[] LIT:7:\"a\\x00)\\x0D\\x0A(\\\"\")", 0, NULL},
	{"literal plus", "* 1 FETCH (BODY[] {5+}\r\nhello)\r\n", 0,
	    "* 1 FETCH (ATOM:BODY[] LIT:5:\"hello\")", 0, NULL},
	{"literal lf only", "* 1 FETCH (BODY[] {2}\nab)\n", 0,
	    "* 1 FETCH (ATOM:BODY[] LIT:2:\"ab\")", 0, NULL},
	{"inline at max", "* 1 FETCH (BODY[] {5}\r\nhello)\r\n", 0,
	    "* 1 FETCH (ATOM:BODY[] LIT:5:\"hello\")", 0, &lim_inline5},
	{"streamed max+1", "* 1 FETCH (UID 7 BODY[] {6}\r\nhello!)\r\n", 0,
	    "* 1 FETCH (ATOM:UID ATOM:7 ATOM:BODY[] STREAMED:6)", 0, &lim_inline5},
	{"streamed top", "* 1 XFOO {6}\r\nhello! {6}\r\nworld!\r\n", 0,
	    "* 1 XFOO STREAMED:6 STREAMED:6", 0, &lim_inline5},
	{"utf8 atom", "* LIST () \".\" caf\xc3\xa9\r\n", 0,
	    "* LIST () STR:\".\" ATOM:caf\\xC3\\xA9", 0, NULL},
	{"tag bracket", "a]1 OK x\r\n", 0, "a]1 OK text:\"x\"", 0, NULL},
	{"spaces", "* 1 FETCH  ( UID  1 )\r\n", 0, "* 1 FETCH (ATOM:UID ATOM:1)", 0, NULL},
	/* errors */
	{"literal too large", "* 1 FETCH (BODY[] {4294967296}\r\n", 0,
	    "literal larger than 1000 bytes", 1, &lim_small_lit},
	{"literal overflow", "* 1 FETCH (BODY[] {99999999999999999999999}\r\n", 0,
	    "literal size overflows", 1, &lim_huge_lit},
	{"literal overflow default", "* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
	    0, "literal larger than", 1, NULL},
	{"literal empty size", "* 1 FETCH (BODY[] {}\r\n", 0,
	    "malformed literal size", 1, NULL},
	{"literal no crlf", "* 1 FETCH (BODY[] {3}abc)\r\n", 0,
	    "expected CRLF after literal size", 1, NULL},
	{"literal in code", "* OK [X {3}\r\nabc] x\r\n", 0,
	    "literal in a response code", 1, NULL},
	{"line at max", "* OK 4567890123456789012345678\r\n", 0,
	    "* OK text:\"4567890123456789012345678\"", 0, &lim_line32},
	{"line too long", "* OK 45678901234567890123456789\r\n", 0,
	    "response longer than 32 bytes", 1, &lim_line32},
	{"args at max", "* SEARCH 1 2 3\r\n", 0, "* SEARCH ATOM:1 ATOM:2 ATOM:3", 0,
	    &lim_args3},
	{"args too many", "* SEARCH 1 (2 3)\r\n", 0, "more than 3 arguments", 1,
	    &lim_args3},
	{"args too many quoted", "* SEARCH 1 2 3 \"x\"\r\n", 0,
	    "more than 3 arguments", 1, &lim_args3},
	{"args too many literal", "* SEARCH 1 2 3 {1}\r\nx\r\n", 0,
	    "more than 3 arguments", 1, &lim_args3},
	{"args too many list", "* SEARCH 1 2 3 ()\r\n", 0,
	    "more than 3 arguments", 1, &lim_args3},
	{"args code", "* OK [X 1 2 (3)] t\r\n", 0, "more than 3 arguments", 1,
	    &lim_args3},
	{"quoted crlf", "* LIST () \"/ INBOX\r\n", 0, "unterminated quoted string",
	    1, NULL},
	{"quoted esc crlf", "* LIST () \"/\\\r\n", 0, "unterminated quoted string",
	    1, NULL},
	{"lone cr text", "* OK a\rb\r\n", 0, "CR not followed by LF", 1, NULL},
	{"lone cr args", "* 1 FETCH (UID 1)\rX\r\n", 0, "CR not followed by LF", 1,
	    NULL},
	{"garbage parens", ")))\r\n", 0, "expected a tag", 1, NULL},
	{"unexpected close", "* SEARCH 1)\r\n", 0, "unexpected ')'", 1, NULL},
	{"unterminated list", "* 1 FETCH (UID 1\r\n", 0, "unterminated list", 1,
	    NULL},
	{"empty line", "\r\n", 0, "empty response line", 1, NULL},
	{"tag only", "a1\r\n", 0, "tagged response without status", 1, NULL},
	{"tag bad status", "a1 FETCH x\r\n", 0, "without OK, NO or BAD", 1, NULL},
	{"tag preauth", "a1 PREAUTH x\r\n", 0, "without OK, NO or BAD", 1, NULL},
	{"star only", "*\r\n", 0, "empty untagged response", 1, NULL},
	{"star space", "* \r\n", 0, "expected a number or response name", 1, NULL},
	{"num only", "* 5\r\n", 0, "expected a name after the number", 1, NULL},
	{"num overflow", "* 4294967296 EXISTS\r\n", 0, "number too large", 1, NULL},
	{"bad tag", "a+1 OK x\r\n", 0, "invalid tag", 1, NULL},
	{"tag ctl", "a\x01 OK\r\n", 0, "invalid character in tag", 1, NULL},
	{"code unterminated", "* OK [ALERT x\r\n", 0, "unterminated response code",
	    1, NULL},
	{"code paren", "* OK [X (a] x\r\n", 0, "unbalanced '(' in response code",
	    1, NULL},
	{"code empty", "* OK [] x\r\n", 0, "expected a response code", 1, NULL},
	{"bracket unterminated", "* 1 FETCH (BODY[HEADER\r\n", 0,
	    "unterminated '[' in atom", 1, NULL},
	{"ctl in args", "* SEARCH 1\x01\r\n", 0, "unexpected character", 1, NULL},
	{"status no space", "a1 OK[ALERT] x\r\n", 0, "expected a space after the status",
	    1, NULL},
	{"incomplete", "* 1 FETCH (UID 1", 0, "INCOMPLETE", 0, NULL},
	{"two responses", "* 5 EXISTS\r\n* 1 RECENT\r\n", 0,
	    "* 5 EXISTS\n* 1 RECENT", 0, NULL},
};

static void
init_limits(void)
{
	lim_inline5 = imap_parse_default_limits;
	lim_inline5.max_inline_literal = 5;
	lim_small_lit = imap_parse_default_limits;
	lim_small_lit.max_literal = 1000;
	lim_huge_lit = imap_parse_default_limits;
	lim_huge_lit.max_literal = UINT64_MAX;
	lim_line32 = imap_parse_default_limits;
	lim_line32.max_line = 32;
	lim_args3 = imap_parse_default_limits;
	lim_args3.max_args = 3;
}

static void
test_table(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++)
		check(cases[i].name, cases[i].in, cases[i].len, cases[i].want,
		    cases[i].err, cases[i].lim);
}

/* "* X (((a)))" nested d deep. */
static void
test_depth(void)
{
	unsigned max = imap_parse_default_limits.max_depth, d;
	struct buf in = BUF_INIT(SIZE_MAX), want = BUF_INIT(SIZE_MAX);

	for (d = max; d <= max + 1; d++) {
		unsigned k;
		buf_reset(&in);
		buf_reset(&want);
		buf_appends(&in, "* X ");
		buf_appends(&want, "* X ");
		for (k = 0; k < d; k++) {
			buf_appends(&in, "(");
			buf_appends(&want, "(");
		}
		buf_appends(&in, "a");
		buf_appends(&want, "ATOM:a");
		for (k = 0; k < d; k++) {
			buf_appends(&in, ")");
			buf_appends(&want, ")");
		}
		buf_appends(&in, "\r\n");
		if (d == max)
			check("depth at max", in.data, in.len, want.data, 0, NULL);
		else
			check("depth over max", in.data, in.len,
			    "lists nested deeper than 32", 1, NULL);
	}
	buf_free(&in);
	buf_free(&want);
}

static void
test_inline_budget(void)
{
	struct imap_parse_limits lim = imap_parse_default_limits;

	lim.max_line = 64;
	lim.max_inline_literal = 40;
	check("inline literal budget ok",
	    "* 1 FETCH (A {30}\r\n012345678901234567890123456789 "
	    "B {30}\r\n012345678901234567890123456789)\r\n", 0,
	    "* 1 FETCH (ATOM:A LIT:30:\"012345678901234567890123456789\" "
	    "ATOM:B LIT:30:\"012345678901234567890123456789\")", 0, &lim);
	check("inline literal budget exceeded",
	    "* 1 FETCH (A {40}\r\n0123456789012345678901234567890123456789 "
	    "B {40}\r\n0123456789012345678901234567890123456789)\r\n", 0,
	    "inline literals of more than 64 bytes", 1, &lim);
}

static void
test_streamed(void)
{
	static const char in[] = "* 3 FETCH (UID 7 BODY[] {6}\r\nhello!)\r\n";
	const size_t hdr = strlen("* 3 FETCH (UID 7 BODY[] {6}\r\n");
	struct imap_parser *p = imap_parse_new(&lim_inline5);
	const struct imap_resp *r;
	const struct imap_arg *c;
	size_t used, n;
	struct err e;
	char *dump;

	test_begin("streamed literal");
	test_assert(imap_parse_feed(p, in, strlen(in), &used, &e) ==
	    IMAP_PARSE_LITERAL);
	test_assert(used == hdr);
	test_assert(imap_parse_literal_size(p) == 6);
	r = imap_parse_partial(p);
	test_assert_str(r->name, "FETCH");
	test_assert(r->has_num && r->num == 3);
	dump = imap_parse_dump(r);
	test_assert_str(dump, "* 3 FETCH (ATOM:UID ATOM:7 ATOM:BODY[])");
	free(dump);
	c = imap_parse_literal_container(p, &n);
	test_assert(n == 3);
	test_assert(c != NULL && imap_arg_atom_is(&c[n - 1], "body[]"));
	/* Feeding before literal_done() is refused without consuming. */
	test_assert(imap_parse_feed(p, in + hdr, 6, &used, &e) ==
	    IMAP_PARSE_LITERAL && used == 0);
	imap_parse_literal_done(p);
	test_assert(imap_parse_feed(p, in + hdr + 6, strlen(in) - hdr - 6, &used,
	    &e) == IMAP_PARSE_DONE);
	test_assert(used == strlen(in) - hdr - 6);
	dump = imap_parse_dump(imap_parse_resp(p));
	test_assert_str(dump, "* 3 FETCH (ATOM:UID ATOM:7 ATOM:BODY[] STREAMED:6)");
	free(dump);
	imap_parse_free(&p);
	test_assert(p == NULL);
	test_end();

	/* At top level, the container is the response's args. */
	test_begin("streamed literal container at top level");
	p = imap_parse_new(&lim_inline5);
	test_assert(imap_parse_feed(p, "* XFOO a {9}\r\n", 14, &used, &e) ==
	    IMAP_PARSE_LITERAL);
	c = imap_parse_literal_container(p, &n);
	test_assert(n == 1 && imap_arg_atom_is(&c[0], "A"));
	test_assert(imap_parse_partial(p)->nargs == 1);
	imap_parse_free(&p);
	test_end();

	/* A nested literal: the container is the innermost open list. */
	test_begin("streamed literal nested container");
	p = imap_parse_new(&lim_inline5);
	test_assert(imap_parse_feed(p, "* 1 FETCH (A (B (C)) (D E {9}\r\n", 31,
	    &used, &e) == IMAP_PARSE_LITERAL);
	dump = imap_parse_dump(imap_parse_partial(p));
	test_assert_str(dump,
	    "* 1 FETCH (ATOM:A (ATOM:B (ATOM:C)) (ATOM:D ATOM:E))");
	free(dump);
	c = imap_parse_literal_container(p, &n);
	test_assert(n == 2 && imap_arg_atom_is(&c[1], "E"));
	imap_parse_free(&p);
	test_end();
}

static void
test_concatenated(void)
{
	static const char in[] =
	    "* 5 EXISTS\r\n"
	    "* 1 FETCH (BODY[] {2}\r\nhi)\r\n"
	    "* OK [UIDNEXT 9] x\r\n"
	    "a1 OK done\r\n"
	    "+ go\r\n"
	    "* 2 EXP";
	static const char *const want[] = {
		"* 5 EXISTS", "* 1 FETCH (ATOM:BODY[] LIT:2:\"hi\")",
		"* OK [UIDNEXT ATOM:9] text:\"x\"", "a1 OK text:\"done\"",
		"+ text:\"go\"",
	};
	static const size_t lens[] = {12, 28, 20, 12, 6};
	struct imap_parser *p = imap_parse_new(NULL);
	size_t pos = 0, used, i, total = strlen(in);
	struct err e;

	test_begin("concatenated responses");
	for (i = 0; i < ARRAY_LEN(want); i++) {
		char *dump;
		test_assert(imap_parse_feed(p, in + pos, total - pos, &used, &e) ==
		    IMAP_PARSE_DONE);
		test_assert(used == lens[i]);
		dump = imap_parse_dump(imap_parse_resp(p));
		test_assert_str(dump, want[i]);
		free(dump);
		pos += used;
	}
	test_assert(imap_parse_feed(p, in + pos, total - pos, &used, &e) ==
	    IMAP_PARSE_MORE && used == total - pos);
	test_assert(imap_parse_feed(p, "UNGE\r\n", 6, &used, &e) ==
	    IMAP_PARSE_DONE && used == 6);
	test_assert_str(imap_parse_resp(p)->name, "EXPUNGE");
	imap_parse_free(&p);
	test_end();
}

static void
test_fields(void)
{
	static const char in[] =
	    "* OK [CAPABILITY IMAP4rev1  SASL-IR] hi\r\n"
	    "tag7 no [alert] (x\r\n"
	    "* 3 fetch (uid 1 body[] {3}\r\na\0b NIL)\r\n";
	struct imap_parser *p = imap_parse_new(NULL);
	const struct imap_resp *r;
	const struct imap_arg *a;
	size_t pos = 0, used;
	struct err e;

	test_begin("response fields and helpers");
	test_assert(imap_parse_feed(p, in, sizeof(in) - 1, &used, &e) ==
	    IMAP_PARSE_DONE);
	r = imap_parse_resp(p);
	test_assert(r->kind == IMAP_RESP_UNTAGGED && r->tag == NULL);
	test_assert_str(r->status, "OK");
	test_assert_str(r->code, "CAPABILITY");
	test_assert_str(r->code_raw, "IMAP4rev1  SASL-IR");
	test_assert(r->code_nargs == 2 && imap_arg_atom_is(&r->code_args[1], "sasl-ir"));
	test_assert_str(r->text, "hi");
	test_assert(r->name == NULL && r->nargs == 0 && r->args == NULL);
	pos += used;
	test_assert(imap_parse_feed(p, in + pos, sizeof(in) - 1 - pos, &used, &e) ==
	    IMAP_PARSE_DONE);
	r = imap_parse_resp(p);
	test_assert(r->kind == IMAP_RESP_TAGGED);
	test_assert_str(r->tag, "tag7");
	test_assert_str(r->status, "NO");
	test_assert_str(r->code, "ALERT");
	test_assert_str(r->code_raw, "");
	test_assert(r->code_nargs == 0);
	test_assert_str(r->text, "(x");
	pos += used;
	test_assert(imap_parse_feed(p, in + pos, sizeof(in) - 1 - pos, &used, &e) ==
	    IMAP_PARSE_DONE);
	r = imap_parse_resp(p);
	test_assert(r->kind == IMAP_RESP_UNTAGGED && r->status == NULL);
	test_assert(r->code == NULL && r->code_raw == NULL);
	test_assert(r->has_num && r->num == 3);
	test_assert_str(r->name, "FETCH");
	test_assert(r->nargs == 1 && r->args[0].type == IMAP_ARG_LIST);
	a = r->args[0].list;
	test_assert(r->args[0].count == 5);
	test_assert(imap_arg_atom_is(&a[0], "UID") && !imap_arg_atom_is(&a[0], "UI"));
	test_assert_str(imap_arg_string(&a[1]), "1");
	test_assert_str(imap_arg_string(&a[2]), "body[]");
	test_assert(a[3].type == IMAP_ARG_LITERAL && a[3].len == 3 &&
	    memcmp(a[3].str, "a\0b", 4) == 0);
	test_assert(a[4].type == IMAP_ARG_NIL && imap_arg_string(&a[4]) == NULL);
	test_assert_str(a[4].str, "");
	test_assert(imap_arg_string(&r->args[0]) == NULL);
	test_assert(!imap_arg_atom_is(&a[4], "NIL"));
	imap_parse_free(&p);
	test_end();
}

/* code_raw is copied from the input as it goes by: check it across splits. */
static void
test_code_raw_split(void)
{
	static const char in[] = "* OK [PERMANENTFLAGS (\\Seen \"a]\" x[1])] hi\r\n";
	size_t k, used, n = sizeof(in) - 1;
	struct err e;
	int ok = 1;

	test_begin("code_raw across splits");
	for (k = 1; k <= n; k++) {
		struct imap_parser *p = imap_parse_new(NULL);
		const struct imap_resp *r;
		size_t first = k < n ? k : 1, pos = 0;
		enum imap_parse_status st = IMAP_PARSE_MORE;
		while (pos < n && st == IMAP_PARSE_MORE) {
			size_t piece = pos == 0 ? first : k < n ? n - pos : 1;
			st = imap_parse_feed(p, in + pos, piece, &used, &e);
			pos += used;
		}
		r = imap_parse_resp(p);
		if (st != IMAP_PARSE_DONE || !r->code_raw ||
		    strcmp(r->code_raw, "(\\Seen \"a]\" x[1])") != 0 ||
		    r->code_nargs != 1 || r->code_args[0].count != 3)
			ok = 0;
		imap_parse_free(&p);
	}
	test_assert(ok);
	test_end();
}

static void
test_error_reset(void)
{
	struct imap_parser *p = imap_parse_new(NULL);
	size_t used;
	struct err e;

	test_begin("error then reset");
	test_assert(imap_parse_feed(p, "* 1 FETCH (\"a\rb\r\n", 17, &used, &e) ==
	    IMAP_PARSE_ERROR);
	test_assert(e.kind == ERR_PROTO);
	test_assert(strstr(e.msg, "at byte 13 near \"* 1 FETCH (\\\"a\\x0D\"") != NULL);
	test_assert(imap_parse_feed(p, "* 1 EXISTS\r\n", 12, &used, &e) ==
	    IMAP_PARSE_ERROR);
	imap_parse_reset(p);
	test_assert(imap_parse_feed(p, "* 1 EXISTS\r\n", 12, &used, &e) ==
	    IMAP_PARSE_DONE && used == 12);
	/* reset in the middle of a response */
	test_assert(imap_parse_feed(p, "* 1 FETCH (A (B", 15, &used, &e) ==
	    IMAP_PARSE_MORE);
	imap_parse_reset(p);
	test_assert(imap_parse_feed(p, "a OK\r\n", 6, &used, &e) ==
	    IMAP_PARSE_DONE);
	test_assert_str(imap_parse_resp(p)->tag, "a");
	test_assert(imap_parse_feed(p, NULL, 0, &used, &e) == IMAP_PARSE_MORE &&
	    used == 0);
	imap_parse_literal_done(p); /* not at a literal: ignored */
	test_assert(imap_parse_literal_size(p) == 0);
	imap_parse_free(&p);
	imap_parse_free(&p);
	test_end();
}

/* A big response through a small buffer: literals must land intact. */
static void
test_large(void)
{
	struct buf in = BUF_INIT(SIZE_MAX);
	struct imap_parser *p = imap_parse_new(NULL);
	const struct imap_resp *r;
	size_t pos = 0, used, i, n = 0;
	enum imap_parse_status st = IMAP_PARSE_MORE;
	struct err e;
	int ok = 1;

	test_begin("many inline literals");
	for (i = 0; i < 300; i++) {
		size_t len = i * 211 % 60000;
		size_t k;
		buf_appendf(&in, "* %zu FETCH (UID %zu BODY[] {%zu}\r\n", i + 1,
		    i, len);
		for (k = 0; k < len; k++)
			buf_append(&in, &"abcdefgh\0\r\n"[(i + k) % 11], 1);
		buf_appends(&in, ")\r\n");
	}
	while (pos < in.len) {
		size_t chunk = in.len - pos < 4093 ? in.len - pos : 4093;
		st = imap_parse_feed(p, in.data + pos, chunk, &used, &e);
		pos += used;
		if (st == IMAP_PARSE_ERROR)
			break;
		if (st != IMAP_PARSE_DONE)
			continue;
		r = imap_parse_resp(p);
		if (r->num != n + 1 || r->nargs != 1 || r->args[0].count != 4 ||
		    r->args[0].list[3].len != n * 211 % 60000)
			ok = 0;
		for (i = 0; ok && i < r->args[0].list[3].len; i++)
			if (r->args[0].list[3].str[i] != "abcdefgh\0\r\n"[(n + i) % 11])
				ok = 0;
		n++;
	}
	test_assert(st == IMAP_PARSE_DONE);
	test_assert(n == 300);
	test_assert(ok);
	imap_parse_free(&p);
	buf_free(&in);
	test_end();
}

/* Tokens longer than any arena chunk, fed in small pieces: they must move
 * whole and keep their bytes; tokens finished earlier must not move. */
static void
test_long_tokens(void)
{
	struct imap_parse_limits lim = imap_parse_default_limits;
	struct buf in = BUF_INIT(SIZE_MAX);
	struct imap_parser *p;
	const struct imap_resp *r = NULL;
	const struct imap_arg *l;
	const char *first = NULL;
	size_t pos = 0, used, k;
	enum imap_parse_status st = IMAP_PARSE_MORE;
	struct err e;
	int ok = 1;

	test_begin("long tokens across chunks");
	lim.max_inline_literal = 4 << 20;
	p = imap_parse_new(&lim);
	buf_appends(&in, "* 1 FETCH (A \"");
	for (k = 0; k < 300000; k++)
		buf_appends(&in, k % 1000 == 999 ? "\\\"" : "q");
	buf_appends(&in, "\" ");
	for (k = 0; k < 200000; k++)
		buf_appends(&in, "a");
	buf_appends(&in, " BODY[] {3000000}\r\n");
	for (k = 0; k < 3000000; k++)
		buf_append(&in, "xyz" + k % 3, 1);
	buf_appends(&in, ")\r\n");
	while (pos < in.len && st == IMAP_PARSE_MORE) {
		size_t n = in.len - pos < 777 ? in.len - pos : 777;
		st = imap_parse_feed(p, in.data + pos, n, &used, &e);
		pos += used;
		if (first == NULL && imap_parse_resp(p)->name)
			first = imap_parse_resp(p)->name;
	}
	test_assert(st == IMAP_PARSE_DONE && pos == in.len);
	if (st == IMAP_PARSE_DONE) {
		r = imap_parse_resp(p);
		test_assert(r->name == first);
		l = r->args[0].list;
		test_assert(r->args[0].count == 5);
		test_assert(l[1].type == IMAP_ARG_STRING && l[1].len == 300000);
		for (k = 0; k < l[1].len && ok; k++)
			ok = l[1].str[k] == (k % 1000 == 999 ? '"' : 'q');
		test_assert(l[2].len == 200000 && strspn(l[2].str, "a") == 200000);
		test_assert(l[4].type == IMAP_ARG_LITERAL && l[4].len == 3000000);
		for (k = 0; k < l[4].len && ok; k++)
			ok = l[4].str[k] == "xyz"[k % 3];
		test_assert(ok);
	}
	imap_parse_free(&p);
	buf_free(&in);
	test_end();
}

/* Longer fuzzing runs: -DRANDOM_ITERS=1000000 -DRANDOM_SEED=n. */
#ifndef RANDOM_ITERS
#define RANDOM_ITERS 4000
#endif
#ifndef RANDOM_SEED
#define RANDOM_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng_state = RANDOM_SEED;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Mutated and random input must never crash (ASan/UBSan), and any split
 * must give the same result as feeding it whole. */
static void
test_random(void)
{
	static const char alphabet[] = "(){}[]<>\"\\\r\n ~+*%0123456789NILnil"
	    "OKBYEFETCH\x00\x01\x80\xff";
	struct imap_parse_limits small = imap_parse_default_limits;
	char in[300], bad[200] = "";
	unsigned iter;
	int mismatch = 0;

	small.max_line = 120;
	small.max_inline_literal = 6;
	small.max_literal = 5000;
	small.max_depth = 4;
	small.max_args = 25;
	test_begin("random input robustness");
	for (iter = 0; iter < RANDOM_ITERS; iter++) {
		const struct tcase *c = &cases[rng() % ARRAY_LEN(cases)];
		const struct imap_parse_limits *lim = iter % 2 ? &small : NULL;
		size_t len = c->len ? c->len : strlen(c->in), k, nmut;
		char *a, *b;

		if (len > sizeof(in) / 2)
			len = sizeof(in) / 2;
		memcpy(in, c->in, len);
		if (iter % 10 == 0) {
			len = rng() % 100;
			for (k = 0; k < len; k++)
				in[k] = iter % 20 ? (char)rng() :
				    alphabet[rng() % (sizeof(alphabet) - 1)];
		}
		for (nmut = rng() % 4; nmut > 0; nmut--) {
			size_t at = len ? rng() % len : 0;
			switch (rng() % 4) {
			case 0: /* replace */
				if (len)
					in[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
				break;
			case 1: /* insert */
				if (len < sizeof(in)) {
					memmove(in + at + 1, in + at, len - at);
					in[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
					len++;
				}
				break;
			case 2: /* delete */
				if (len) {
					memmove(in + at, in + at + 1, len - at - 1);
					len--;
				}
				break;
			case 3: /* duplicate the tail: more responses */
				k = len - at < sizeof(in) - len ? len - at : sizeof(in) - len;
				memcpy(in + len, in + at, k);
				len += k;
				break;
			}
		}
		a = parse_pieces(in, len, lim, WHOLE, 0, bad, sizeof(bad), &k);
		b = parse_pieces(in, len, lim, SPLIT, len ? rng() % len : 0, bad,
		    sizeof(bad), &k);
		if (strcmp(a, b) != 0)
			mismatch++;
		free(b);
		if (iter % 8 == 0) {
			b = parse_pieces(in, len, lim, BYTES, 0, bad, sizeof(bad),
			    &k);
			if (strcmp(a, b) != 0)
				mismatch++;
			free(b);
		}
		free(a);
	}
	test_assert(mismatch == 0);
	if (bad[0])
		test_assert_str(bad, "");
	test_end();
}

int
main(void)
{
	init_limits();
	test_table();
	test_depth();
	test_inline_budget();
	test_streamed();
	test_concatenated();
	test_fields();
	test_code_raw_split();
	test_error_reset();
	test_large();
	test_long_tokens();
	test_random();
	return test_exit();
}
