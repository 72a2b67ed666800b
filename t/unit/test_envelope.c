#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "imap_parse.h"
#include "test.h"

/* The envelope sender and the journal's text, from ENVELOPEs parsed by the
 * real tokenizer. */

/* The sender of "* 1 FETCH (ENVELOPE (NIL NIL FROM SENDER NIL ...))". */
static char *
sender_of(const char *from, const char *sender)
{
	struct imap_parser *p = imap_parse_new(NULL);
	char *line = xasprintf("* 1 FETCH (ENVELOPE (NIL \"s\" %s %s NIL NIL NIL "
	    "NIL NIL \"<id@x>\"))\r\n", from, sender);
	size_t used;
	struct err e;
	char *out = NULL;

	if (imap_parse_feed(p, line, strlen(line), &used, &e) ==
	    IMAP_PARSE_DONE) {
		const struct imap_resp *r = imap_parse_resp(p);
		out = envelope_sender(&r->args[0].list[1]);
	}
	free(line);
	imap_parse_free(&p);
	return out ? out : xstrdup("(parse error)");
}

static void
check(const char *from, const char *sender, const char *want)
{
	char *got = sender_of(from, sender);
	test_assert_str(got, want);
	free(got);
}

static void
test_sender(void)
{
	test_begin("envelope: the sender field, as the reference");
	check("((NIL NIL \"a\" \"example.org\"))",
	    "((NIL NIL \"list-bounces\" \"lists.example.net\"))",
	    "list-bounces@lists.example.net");
	check("((NIL NIL \"a\" \"example.org\"))", "NIL", "");
	check("NIL", "((NIL NIL \"john doe\" \"example.org\"))",
	    "\"john doe\"@example.org");
	check("NIL", "((NIL NIL \"a\\\"b\" \"example.org\"))",
	    "\"a\\\"b\"@example.org");
	test_end();

	test_begin("envelope: only RFC 5321 domains and IP literals");
	check("NIL", "((NIL NIL \"lit\" \"[127.0.0.1]\"))", "lit@[127.0.0.1]");
	check("NIL", "((NIL NIL \"v6\" \"[IPv6:::1]\"))", "v6@[IPv6:::1]");
	check("NIL", "((NIL NIL \"x\" \"[x> RET=HDRS]\"))", "");
	check("NIL", "((NIL NIL \"x\" \"[300.1.1.1]\"))", "");
	check("NIL", "((NIL NIL \"x\" \"[1.2.3]\"))", "");
	check("NIL", "((NIL NIL \"x\" \"[tag:x]\"))", "");
	check("NIL", "((NIL NIL \"x\" \"bad_domain.example\"))", "");
	check("NIL", "((NIL NIL \"x\" \"-a.example\"))", "");
	check("NIL", "((NIL NIL \"x\" \"a..example\"))", "");
	check("NIL", "((NIL NIL \"x\" {12}\r\nexample.com\n))", "");
	check("NIL", "((NIL NIL {5}\r\na\r\nbc \"example.com\"))", "");
	check("NIL", "((NIL NIL \"x\" \"Example-1.COM\"))", "x@Example-1.COM");
	test_end();
}

static void
test_text(void)
{
	struct imap_arg a = {IMAP_ARG_STRING, "<a\r\nb@x>\x7f", 9, NULL, 0};
	struct imap_arg nil = {IMAP_ARG_NIL, "", 0, NULL, 0};
	char *t;

	test_begin("envelope: server text with control bytes escaped");
	t = envelope_text(&a);
	test_assert_str(t, "<a\\x0d\\x0ab@x>\\x7f");
	free(t);
	test_assert(envelope_text(&nil) == NULL);
	test_end();
}

int
main(void)
{
	test_sender();
	test_text();
	return test_exit();
}
