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
set_text(struct uidset *s)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	uidset_format(&b, s);
	buf_append(&b, "", 1);
	return b.data;
}

static void
test_parse(void)
{
	static const char *const bad[] = {"", ",", "1,", ",1", "1:", ":3",
	    "1,,2", "a", "1:*", "*", "0", "0:3", "3:0", "1 2", "1;2",
	    "4294967296", "-1"};
	static const struct {
		const char *in, *out;
	} good[] = {{"1:3,5", "1:3,5"}, {"9:7,2", "2,7:9"},
	    {"4294967295", "4294967295"}};

	test_begin("uidset: parse sequence sets, refuse malformed ones");
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct uidset u = UIDSET_INIT;
		char *t;
		test_assert(uidset_parse(&u, good[i].in) == 0);
		t = set_text(&u);
		test_assert_str(t, good[i].out);
		free(t);
		uidset_free(&u);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct uidset u = UIDSET_INIT;
		int rc = uidset_parse(&u, bad[i]);
		if (rc != -1)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		test_assert(rc == -1);
		uidset_free(&u);
	}
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

static void
test_uidset(void)
{
	struct uidset s = UIDSET_INIT;
	uint32_t u = 0;
	char *t;

	test_begin("uidset: ranges, never one element per UID");
	test_assert(uidset_parse(&s, "1:4294967295") == 0);
	test_assert(s.n == 1);
	test_assert(uidset_count(&s) == 4294967295ull);
	test_assert(uidset_has(&s, 4294967295u));
	uidset_clear(&s);
	test_assert(uidset_count(&s) == 0);
	test_assert(!uidset_has(&s, 1));
	test_assert(uidset_next(&s, 1, &u) == 0);
	test_end();

	test_begin("uidset: out of order, overlapping, backwards, adjacent");
	test_assert(uidset_parse(&s, "9,3:1,4,20:30,25:40,8") == 0);
	t = set_text(&s);
	test_assert_str(t, "1:4,8:9,20:40");
	free(t);
	test_assert(uidset_count(&s) == 27);
	test_assert(uidset_has(&s, 4) && !uidset_has(&s, 5) &&
	    uidset_has(&s, 40) && !uidset_has(&s, 41) && !uidset_has(&s, 0));
	test_assert(uidset_next(&s, 5, &u) == 1 && u == 8);
	test_assert(uidset_next(&s, 21, &u) == 1 && u == 21);
	test_assert(uidset_next(&s, 41, &u) == 0);
	test_assert(uidset_run_end(&s, 21, &u) && u == 40);
	test_assert(uidset_run_end(&s, 8, &u) && u == 9);
	test_assert(!uidset_run_end(&s, 5, &u) && !uidset_run_end(&s, 41, &u));
	uidset_add(&s, 4294967295u, 4294967295u);
	test_assert(uidset_next(&s, 41, &u) == 1 && u == 4294967295u);
	test_end();

	test_begin("uidset: intersect, remove, covers, chunks");
	{
		struct uidset a = UIDSET_INIT, b = UIDSET_INIT;
		static const uint32_t rm[] = {1, 5, 6, 10, 4294967295u};
		struct buf out = BUF_INIT(SIZE_MAX);
		size_t pos = 0;
		test_assert(uidset_parse(&a, "1:10,20:30,4294967290:4294967295") == 0);
		test_assert(uidset_parse(&b, "5:25,28,4294967295") == 0);
		uidset_intersect(&a, &b);
		t = set_text(&a);
		test_assert_str(t, "5:10,20:25,28,4294967295");
		free(t);
		uidset_remove(&a, rm, ARRAY_LEN(rm));
		t = set_text(&a);
		test_assert_str(t, "7:9,20:25,28");
		free(t);
		test_assert(uidset_covers(&b, &a));
		test_assert(!uidset_covers(&a, &b));
		uidset_clear(&b);
		test_assert(uidset_covers(&a, &b));
		test_assert(uidset_format_chunk(&out, &a, &pos, 4) == 2);
		test_assert_str(out.data, "7:9,20:25");
		buf_reset(&out);
		test_assert(uidset_format_chunk(&out, &a, &pos, 4) == 1);
		test_assert_str(out.data, "28");
		test_assert(uidset_format_chunk(&out, &a, &pos, 4) == 0);
		buf_free(&out);
		uidset_free(&a);
		uidset_free(&b);
	}
	test_end();

	test_begin("uidset: malformed sets refused");
	uidset_clear(&s);
	test_assert(uidset_parse(&s, "") == -1);
	test_assert(uidset_parse(&s, "0") == -1);
	test_assert(uidset_parse(&s, "1:*") == -1);
	test_assert(uidset_parse(&s, "1,") == -1);
	test_assert(uidset_parse(&s, "4294967296") == -1);
	test_assert(uidset_parse(&s, "1 2") == -1);
	test_end();
	uidset_free(&s);
}

int
main(void)
{
	test_uidset();
	test_format();
	test_parse();
	test_has();
	return test_exit();
}
