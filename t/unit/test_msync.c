#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "msync_int.h"
#include "test.h"

/* msync's notations and bookkeeping against the reference's: compact_list
 * (order kept, runs up and down), compact_set, the flag list it compares
 * and its conflict union, the merge rule of its _MODIFIED hash. The
 * synchronisation itself is t/interimap/msync.sh's, against Dovecot and the
 * Perl interimap. */

static void
test_list_text(void)
{
	static const struct {
		uint32_t v[8];
		size_t n;
		const char *want;
	} cases[] = {
		{{7}, 1, "7"},
		{{1, 2, 3}, 3, "1:3"},
		{{3, 2, 1}, 3, "3:1"},
		{{5, 6, 8, 7}, 4, "5:6,8:7"},
		{{1, 1, 2}, 3, "1,1:2"},
		{{3, 4, 10, 9, 8, 20}, 6, "3:4,10:8,20"},
		{{4294967294u, 4294967295u}, 2, "4294967294:4294967295"},
		{{0}, 0, ""},
	};

	test_begin("msync: compact_list keeps the order, runs either way");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *s = ms_list_text(cases[i].v, cases[i].n);
		test_assert_str(s, cases[i].want);
		free(s);
	}
	test_end();
}

static void
test_set_text(void)
{
	struct uidset s = UIDSET_INIT;
	char *t;

	test_begin("msync: compact_set sorts and merges");
	uidset_add(&s, 5, 5);
	uidset_add(&s, 2, 3);
	uidset_add(&s, 1, 1);
	uidset_add(&s, 9, 7);
	t = ms_set_text(&s);
	test_assert_str(t, "1:3,5,7:9");
	free(t);
	uidset_free(&s);
	test_end();
}

static struct imap_atoms
atoms(struct imap_arg *v, const char *const *s, size_t n)
{
	struct imap_atoms a = {v, n};
	for (size_t i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].type = IMAP_ARG_ATOM;
		v[i].str = s[i];
		v[i].len = strlen(s[i]);
	}
	return a;
}

static void
test_flags(void)
{
	static const char *const f1[] = {"\\Seen", "\\Recent", "$Work",
	    "\\Answered", "Zebra"};
	static const char *const f2[] = {"\\recent"};
	struct imap_arg v[8];
	struct imap_atoms a;
	char *s, **w, *store;

	test_begin("msync: flag lists: \\Recent out, sorted bytewise, union");
	a = atoms(v, f1, ARRAY_LEN(f1));
	s = ms_flags_norm(&a);
	test_assert_str(s, "$Work Zebra \\Answered \\Seen");
	free(s);
	a = atoms(v, f2, ARRAY_LEN(f2));
	s = ms_flags_norm(&a);
	test_assert_str(s, "");
	free(s);
	s = ms_flags_union("\\Seen $A", "$A \\Flagged");
	test_assert_str(s, "$A \\Flagged \\Seen");
	free(s);
	s = ms_flags_union("", "\\Seen");
	test_assert_str(s, "\\Seen");
	free(s);
	s = ms_flags_union("", "");
	test_assert_str(s, "");
	free(s);
	test_assert(ms_flags_split("", &w, &store) == 0);
	free(w);
	free(store);
	test_assert(ms_flags_split("$A \\Seen", &w, &store) == 2);
	test_assert_str(w[0], "$A");
	test_assert_str(w[1], "\\Seen");
	free(w);
	free(store);
	test_end();
}

static void
test_mods(void)
{
	struct ms_mods m = {NULL, 0, 0, true, 0};
	struct uidset gone = UIDSET_INIT;
	struct ms_mod *x;

	test_begin("msync: flag changes: the newer MODSEQ wins, flags fill in");
	ms_mods_add(&m, 5, 10, xstrdup("a"));
	ms_mods_add(&m, 3, 4, NULL);
	ms_mods_add(&m, 5, 9, xstrdup("b"));   /* older: ignored */
	ms_mods_add(&m, 3, 4, xstrdup("c"));   /* same, with flags: taken */
	ms_mods_add(&m, 3, 4, xstrdup("d"));   /* same again: the first kept */
	ms_mods_add(&m, 8, 7, xstrdup("e"));
	ms_mods_add(&m, 8, 9, NULL);           /* newer without flags: taken */
	test_assert((x = ms_mods_find(&m, 5)) && x->modseq == 10 &&
	    strcmp(x->flags, "a") == 0);
	test_assert((x = ms_mods_find(&m, 3)) && x->modseq == 4 &&
	    strcmp(x->flags, "c") == 0);
	test_assert((x = ms_mods_find(&m, 8)) && x->modseq == 9 && !x->flags);
	test_assert(m.n == 3);
	/* After a merge, later reports still merge in arrival order. */
	ms_mods_add(&m, 5, 11, NULL);
	test_assert((x = ms_mods_find(&m, 5)) && x->modseq == 11 && !x->flags);
	uidset_add(&gone, 3, 5);
	ms_mods_remove(&m, &gone);
	test_assert(m.n == 1 && ms_mods_find(&m, 8) && !ms_mods_find(&m, 5));
	uidset_free(&gone);
	ms_mods_clear(&m);
	test_assert(m.n == 0 && !ms_mods_find(&m, 8));
	test_end();
}

int
main(void)
{
	test_list_text();
	test_set_text();
	test_flags();
	test_mods();
	return test_exit();
}
