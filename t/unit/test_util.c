/* common/util.c's keyword comparisons: ASCII case folding only, never
 * the locale's, and nothing but letters folded. */
#include "util.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

int
main(void)
{
	static const struct {
		const char *a, *b;
		bool eq;
	} cases[] = {
		{"", "", true}, {"UIDNEXT", "uidnext", true},
		{"UidNext", "UIDNEXT", true}, {"STATUS", "STATUS", true},
		{"LIST", "LISTS", false}, {"LISTS", "LIST", false},
		{"", "A", false}, {"A", "", false},
		/* '@' and '`', '[' and '{' differ by 0x20 too: no letters. */
		{"@", "`", false}, {"[", "{", false}, {"^", "~", false},
		{"\\Seen", "\\SEEN", true}, {"a1", "A1", true}, {"a1", "A2", false},
		/* Not ASCII: compared as bytes. */
		{"\xc3\xa9", "\xc3\x89", false}, {"\xc9", "\xe9", false},
	};

	/* A locale where strcasecmp() folds otherwise must not matter. */
	setlocale(LC_ALL, "");
	test_begin("str_ieq: ASCII letters folded, nothing else");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (str_ieq(cases[i].a, cases[i].b) != cases[i].eq) {
			fprintf(stderr, "str_ieq(\"%s\", \"%s\")\n", cases[i].a,
			    cases[i].b);
			test_assert(!"str_ieq");
		}
	test_end();

	test_begin("str_iprefix: a prefix of the same case-folded letters");
	test_assert(str_iprefix("UIDNEXT 12", "uidnext"));
	test_assert(str_iprefix("x", ""));
	test_assert(str_iprefix("", ""));
	test_assert(!str_iprefix("UID", "uidnext"));
	test_assert(!str_iprefix("", "a"));
	test_assert(!str_iprefix("@x", "`x"));
	test_assert(str_iprefix("[CAPABILITY IMAP4rev1]", "[capability"));
	test_end();
	return test_exit();
}
