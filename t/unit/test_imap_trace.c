/* The --debug trace of server responses (imap_trace_format): what was valid
 * IMAP on the wire must read as valid IMAP in the trace, quoted strings
 * with their '"' and '\' escaped again, literals clearly marked. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_trace.h"
#include "imap_parse.h"
#include "test.h"

static const struct {
	const char *name, *in, *want;
} cases[] = {
	{"quote and backslash re-escaped",
	    "* LIST (\\HasNoChildren) \"/\" \"a\\\"b\\\\c\"\r\n",
	    "* LIST (\\HasNoChildren) \"/\" \"a\\\"b\\\\c\""},
	{"ENVELOPE subject with quotes, NIL, nested lists",
	    "* 1 FETCH (UID 7 ENVELOPE (\"Tue, 1 Dec 2026\" \"say \\\"hi\\\"\" "
	    "((NIL NIL \"a\" \"b.org\")) NIL))\r\n",
	    "* 1 FETCH (UID 7 ENVELOPE (\"Tue, 1 Dec 2026\" \"say \\\"hi\\\"\" "
	    "((NIL NIL \"a\" \"b.org\")) NIL))"},
	{"empty string",
	    "* 2 FETCH (X \"\")\r\n", "* 2 FETCH (X \"\")"},
	{"inline literal: size, then its text quoted on the line",
	    "* 3 FETCH (ENVELOPE (NIL {8}\r\nx\r\n\"y\"\\z NIL))\r\n",
	    "* 3 FETCH (ENVELOPE (NIL {8}\"x\r\n\\\"y\\\"\\\\z\" NIL))"},
	{"status response with code",
	    "a1 NO [SERVERBUG] Internal \"error\"\r\n",
	    "a1 NO [SERVERBUG] Internal \"error\""},
	{"ESEARCH",
	    "* ESEARCH (TAG \"5\") UID ALL 1:3\r\n",
	    "* ESEARCH (TAG \"5\") UID ALL 1:3"},
};

static void
check(const char *name, const char *in, const char *want)
{
	struct imap_parser *p = imap_parse_new(NULL);
	struct err err;
	size_t used;
	char *got;

	test_begin(name);
	if (imap_parse_feed(p, in, strlen(in), &used, &err) != IMAP_PARSE_DONE) {
		test_assert_str(err.msg, "(parsed)");
	} else {
		got = imap_trace_format(imap_parse_resp(p));
		test_assert_str(got, want);
		free(got);
	}
	imap_parse_free(&p);
	test_end();
}

int
main(void)
{
	char in[1024], want[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(cases[i].name, cases[i].in, cases[i].want);

	/* 300 bytes: the first 200 and a mark. */
	snprintf(in, sizeof(in), "* 4 FETCH (X \"%0300d\")\r\n", 0);
	snprintf(want, sizeof(want), "* 4 FETCH (X \"%0200d\"...)", 0);
	check("long string cut with a mark", in, want);
	return test_exit();
}
