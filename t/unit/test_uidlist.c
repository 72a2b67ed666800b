#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "uidlist.h"

/* Formats u[0..n) in chunks of at most maxlen, joined with " | ". */
static char *
chunks(const uint32_t *u, size_t n, size_t maxlen)
{
	struct buf all = BUF_INIT(SIZE_MAX), one = BUF_INIT(SIZE_MAX);
	size_t i = 0;
	while (i < n) {
		size_t k = uidlist_format(&one, u + i, n - i, maxlen);
		if (k == 0)
			break;
		if (all.len)
			buf_append(&all, " | ", 3);
		buf_append(&all, one.data, one.len);
		buf_reset(&one);
		i += k;
	}
	buf_append(&all, "", 1);
	buf_free(&one);
	return all.data;
}

static void
test_format(void)
{
	static const uint32_t u[] = {1, 2, 3, 5, 7, 7, 8, 9, 4294967295u};
	char *s;

	test_begin("uidlist: format ranges, merge duplicates, chunk");
	s = chunks(u, ARRAY_LEN(u), SIZE_MAX);
	test_assert_str(s, "1:3,5,7:9,4294967295");
	free(s);
	s = chunks(u, 1, SIZE_MAX);
	test_assert_str(s, "1");
	free(s);
	/* Each chunk stops once it reached maxlen, never splits a range. */
	s = chunks(u, ARRAY_LEN(u), 4);
	test_assert_str(s, "1:3,5 | 7:9,4294967295");
	free(s);
	s = chunks(u, ARRAY_LEN(u), 1);
	test_assert_str(s, "1:3 | 5 | 7:9 | 4294967295");
	free(s);
	s = chunks(u, 0, SIZE_MAX);
	test_assert_str(s, "");
	free(s);
	test_end();
}

static char *
parsed(const char *set, size_t max, int *rc)
{
	struct uidlist l = UIDLIST_INIT;
	struct buf b = BUF_INIT(SIZE_MAX);
	*rc = uidlist_parse(&l, set, max);
	uidlist_sort(&l);
	uidlist_format(&b, l.v, l.n, SIZE_MAX);
	buf_append(&b, "", 1);
	uidlist_free(&l);
	return b.data;
}

static void
test_parse(void)
{
	static const char *const bad[] = {"", ",", "1,", ",1", "1:", ":3",
	    "1,,2", "a", "1:*", "*", "0", "0:3", "3:0", "1 2", "1;2",
	    "4294967296", "-1"};
	char *s;
	int rc;

	test_begin("uidlist: parse sequence sets, refuse malformed ones");
	s = parsed("1:3,5", 100, &rc);
	test_assert(rc == 0);
	test_assert_str(s, "1:3,5");
	free(s);
	s = parsed("9:7,2", 100, &rc);
	test_assert(rc == 0);
	test_assert_str(s, "2,7:9");
	free(s);
	s = parsed("4294967295", 100, &rc);
	test_assert(rc == 0);
	test_assert_str(s, "4294967295");
	free(s);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		s = parsed(bad[i], 100, &rc);
		if (rc != -1)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		test_assert(rc == -1);
		free(s);
	}
	test_end();
}

static void
test_parse_bound(void)
{
	struct uidlist l = UIDLIST_INIT;

	test_begin("uidlist: a hostile set cannot make us allocate past max");
	/* One range of four billion UIDs: refused before any allocation. */
	test_assert(uidlist_parse(&l, "1:4294967295", 1000) == -1);
	test_assert(l.n == 0 && l.cap == 0);
	/* Exactly max is fine; one more, across ranges or calls, is not. */
	test_assert(uidlist_parse(&l, "1:500,1001:1500", 1000) == 0);
	test_assert(l.n == 1000);
	test_assert(uidlist_parse(&l, "2000", 1000) == -1);
	uidlist_free(&l);
	test_assert(uidlist_parse(&l, "1:600,700:1100", 1000) == -1);
	test_assert(l.n <= 1000);
	uidlist_free(&l);
	test_end();
}

static void
test_has(void)
{
	static const uint32_t u[] = {2, 4, 8, 16};
	test_begin("uidlist: membership in a sorted array");
	test_assert(uidlist_has(u, ARRAY_LEN(u), 8));
	test_assert(!uidlist_has(u, ARRAY_LEN(u), 9));
	test_assert(!uidlist_has(u, 0, 2));
	test_assert(!uidlist_has(NULL, 0, 2));
	test_end();
}

int
main(void)
{
	test_format();
	test_parse();
	test_parse_bound();
	test_has();
	return test_exit();
}
