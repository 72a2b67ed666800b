/* The --debug trace of server responses (imap_trace_format): what was valid
 * IMAP on the wire must read as valid IMAP in the trace, quoted strings
 * with their '"' and '\' escaped again, literals clearly marked. And the
 * wire shape (imap_trace_wire_*): a stream cut into its lines, literals
 * left out, the same whatever the stream's cuts. */
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

/* The lines a splitter passed on, each followed by '|'. */
static char wire_got[2 * IMAP_TRACE_LINE_MAX];

static void
wire_line(void *ctx, const char *line, size_t len)
{
	size_t n = strlen(wire_got);
	(void)ctx;
	test_assert(line[len] == '\0');
	snprintf(wire_got + n, sizeof(wire_got) - n, "%.*s|", (int)len, line);
}

static const struct {
	const char *name, *in, *want;
} wire_cases[] = {
	{"wire: lines, CRLF removed",
	    "* OK hi\r\n1 OK done\r\n", "* OK hi|1 OK done|"},
	{"wire: a literal left out, the line after it marked",
	    "* 1 FETCH (BODY[] {5}\r\nhe\r\no)\r\n* 2 EXISTS\r\n",
	    "* 1 FETCH (BODY[] {5}|[...])|* 2 EXISTS|"},
	{"wire: two literals on one response, non-synchronizing and literal8",
	    "1 APPEND X {3+}\r\nabc () ~{2}\r\n\n\n\r\n",
	    "1 APPEND X {3+}|[...] () ~{2}|[...]|"},
	{"wire: a literal holding CRLF and braces is not read into",
	    "* 1 FETCH (X {4}\r\n{9}\n)\r\n", "* 1 FETCH (X {4}|[...])|"},
	{"wire: {0} announces nothing to skip, nothing marked",
	    "* 1 FETCH (X {0}\r\n)\r\n", "* 1 FETCH (X {0}|)|"},
	{"wire: braces that are no literal", "* OK {5} x\r\n* OK {x}\r\n"
	    "* OK {+}\r\n* OK {5++}\r\n* OK {99999999999999999999}\r\n"
	    "* OK a\r\n",
	    "* OK {5} x|* OK {x}|* OK {+}|* OK {5++}|"
	    "* OK {99999999999999999999}|* OK a|"},
	{"wire: a lone LF ends a line, a lone CR stays",
	    "* OK a\rb\n* OK c\r\n", "* OK a\rb|* OK c|"},
};

static void
wire_check(const char *name, const char *in, const char *want)
{
	size_t len = strlen(in);
	struct imap_trace_wire w;

	test_begin(name);
	/* Whole, in two pieces at every offset, a byte at a time. */
	for (size_t cut = 0; cut <= len + 1; cut++) {
		wire_got[0] = '\0';
		imap_trace_wire_init(&w, wire_line, NULL);
		if (cut == len + 1) {
			for (size_t i = 0; i < len; i++)
				imap_trace_wire_feed(&w, in + i, 1);
		} else {
			imap_trace_wire_feed(&w, in, cut);
			imap_trace_wire_feed(&w, in + cut, len - cut);
		}
		imap_trace_wire_free(&w);
		test_assert_str(wire_got, want);
	}
	test_end();
}

static void
wire_misc(void)
{
	struct imap_trace_wire w;
	char in[IMAP_TRACE_LINE_MAX + 64], want[IMAP_TRACE_LINE_MAX + 64];

	test_begin("wire: a literal read elsewhere, one never sent");
	wire_got[0] = '\0';
	imap_trace_wire_init(&w, wire_line, NULL);
	/* A streamed literal: the engine reads its 100000 bytes itself. */
	imap_trace_wire_feed(&w, "* 1 FETCH (BODY[] {100000}\r\n", 29);
	imap_trace_wire_literal_read(&w);
	imap_trace_wire_feed(&w, ")\r\n", 3);
	/* A synchronizing literal refused: the next command is no [...]. */
	imap_trace_wire_feed(&w, "2 APPEND X {5}\r\n", 16);
	imap_trace_wire_literal_dropped(&w);
	imap_trace_wire_feed(&w, "3 NOOP\r\n", 8);
	imap_trace_wire_free(&w);
	test_assert_str(wire_got, "* 1 FETCH (BODY[] {100000}|[...])|"
	    "2 APPEND X {5}|3 NOOP|");
	test_end();

	test_begin("wire: a long line cut at IMAP_TRACE_LINE_MAX, its "
	    "literal still left out");
	memset(in, 'a', IMAP_TRACE_LINE_MAX + 10);
	memcpy(in + IMAP_TRACE_LINE_MAX + 10, " {2}\r\nxy\r\n", 11);
	memset(want, 'a', IMAP_TRACE_LINE_MAX);
	memcpy(want + IMAP_TRACE_LINE_MAX, "|[...]|", 8);
	wire_got[0] = '\0';
	imap_trace_wire_init(&w, wire_line, NULL);
	imap_trace_wire_feed(&w, in, IMAP_TRACE_LINE_MAX + 21);
	imap_trace_wire_free(&w);
	test_assert(strcmp(wire_got, want) == 0);
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

	for (i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++)
		wire_check(wire_cases[i].name, wire_cases[i].in,
		    wire_cases[i].want);
	wire_misc();
	return test_exit();
}
