/* interimap/mlist.c's pure parts (internal names, delimiters), the
 * traffic line of side.c and the error wrapping of ierr.c. The server
 * side (LIST, the list synchronisation, --delete, --rename) is
 * t/interimap/list.sh's, against Dovecot and the reference. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ierr.h"
#include "imap_data.h"
#include "mlist.h"
#include "side.h"
#include "test.h"

static const struct {
	const char *ref;
	char delim;
	const char *wire;
	int want;
	const char *name; /* NUL bytes written as '|' */
} unname_cases[] = {
	{ "", '/', "INBOX", 1, "INBOX" },
	{ "", '/', "a/b/c", 1, "a|b|c" },
	{ "", '.', "a/b.c", 1, "a/b|c" },
	{ "perso/", '/', "perso/x/y", 1, "x|y" },
	{ "perso/", '/', "perso/", 1, "" },
	{ "perso/", '/', "persox/y", 0, NULL },
	{ "perso/", '/', "pers", 0, NULL },
	{ "", '\0', "a/b.c", 1, "a/b.c" },
	{ "", '/', "/lead/", 1, "|lead|" },
	{ "", '\\', "a\\b", 1, "a|b" },
};

static char *
bars(const char *s, size_t len)
{
	char *t = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		t[i] = s[i] == '\0' ? '|' : s[i];
	t[len] = '\0';
	return t;
}

static void
test_names(void)
{
	char buf[5];

	test_begin("mlist_unname: reference stripped, delimiter -> NUL");
	for (size_t i = 0; i < ARRAY_LEN(unname_cases); i++) {
		char *name = NULL, *b;
		size_t len = 0;
		int rc = mlist_unname(unname_cases[i].ref, unname_cases[i].delim,
		    unname_cases[i].wire, strlen(unname_cases[i].wire), &name,
		    &len);
		test_assert(rc == unname_cases[i].want);
		if (rc == 1) {
			test_assert(name[len] == '\0');
			b = bars(name, len);
			test_assert_str(b, unname_cases[i].name);
			free(b);
		}
		free(name);
	}
	test_end();

	test_begin("mlist_wire: the way back, and no NUL in a flat namespace");
	{
		char *w = mlist_wire("perso/", '.', "x\0y", 3);
		test_assert_str(w, "perso/x.y");
		free(w);
		w = mlist_wire("", '/', "INBOX", 5);
		test_assert_str(w, "INBOX");
		free(w);
		test_assert(mlist_wire("", '\0', "x\0y", 3) == NULL);
		w = mlist_wire("", '\0', "x.y", 3);
		test_assert_str(w, "x.y");
		free(w);
		/* "/" locally and "." remotely: one internal name, two
		 * wire names, each round trip exact */
		for (size_t i = 0; i < ARRAY_LEN(unname_cases); i++) {
			char *name;
			size_t len;
			if (unname_cases[i].want != 1)
				continue;
			mlist_unname(unname_cases[i].ref, unname_cases[i].delim,
			    unname_cases[i].wire, strlen(unname_cases[i].wire),
			    &name, &len);
			w = mlist_wire(unname_cases[i].ref, unname_cases[i].delim,
			    name, len);
			test_assert_str(w, unname_cases[i].wire);
			free(w);
			free(name);
		}
	}
	test_end();

	test_begin("mlist_delim_str: the reference's print_delimiter");
	test_assert_str(mlist_delim_str('/', buf), "\"/\"");
	test_assert_str(mlist_delim_str('.', buf), "\".\"");
	test_assert_str(mlist_delim_str('\\', buf), "\"\\\\\"");
	test_assert_str(mlist_delim_str('"', buf), "\"\\\"\"");
	test_assert_str(mlist_delim_str('\0', buf), "NIL");
	test_end();
}

/* A listing as mlist_list() leaves it: sorted by wire name. */
static void
listing(struct mlist_side *ls, struct mlist_entry *v, size_t n)
{
	ls->v = v;
	ls->n = ls->cap = n;
}

/* Writable names for struct mlist_entry (its strings are owned). */
static char w_inbox[] = "INBOX", w_a[] = "a", w_b[] = "b", w_bc[] = "b/c",
    w_c[] = "c";

static void
test_delims(void)
{
	struct mlist_side ls;
	char d = 'x';

	test_begin("delimiter: the first name but INBOX's");
	{
		struct mlist_entry v[] = {
			{ .wire = w_inbox, .delim = '.' },
			{ .wire = w_a, .delim = '/' },
			{ .wire = w_bc, .delim = '/' },
		};
		listing(&ls, v, ARRAY_LEN(v));
		test_assert(mlist_delim_of(&ls, &d) == 1 && d == '/');
		/* INBOX may have its own (RFC 3501 §7.2.2) */
		test_assert(mlist_delim_mismatch(&ls, '/') == NULL);
		test_assert(mlist_delim_mismatch(&ls, '.') == &v[1]);
	}
	test_end();

	test_begin("delimiter: INBOX alone says nothing");
	{
		struct mlist_entry v[] = { { .wire = w_inbox, .delim = '/' } };
		d = 'x';
		listing(&ls, v, ARRAY_LEN(v));
		test_assert(mlist_delim_of(&ls, &d) == 0 && d == 'x');
		test_assert(mlist_delim_mismatch(&ls, '.') == NULL);
		listing(&ls, NULL, 0);
		test_assert(mlist_delim_of(&ls, &d) == 0);
	}
	test_end();

	test_begin("delimiter: NIL against one, and a mixed listing");
	{
		struct mlist_entry v[] = {
			{ .wire = w_a, .delim = '\0' },
			{ .wire = w_b, .delim = '/' },
			{ .wire = w_c, .delim = '\0' },
		};
		listing(&ls, v, ARRAY_LEN(v));
		test_assert(mlist_delim_of(&ls, &d) == 1 && d == '\0');
		test_assert(mlist_delim_mismatch(&ls, d) == &v[1]);
		test_assert(mlist_delim_mismatch(&ls, '/') == &v[0]);
	}
	test_end();

	test_begin("exists and subscribed: \\NonExistent, \\Noselect");
	{
		struct mlist_entry e = { .wire = w_a };
		test_assert(!mlist_exists(NULL) && !mlist_subscribed(NULL));
		test_assert(mlist_exists(&e) && !mlist_subscribed(&e));
		e.attrs = IMAP_LIST_SUBSCRIBED | IMAP_LIST_NONEXISTENT |
		    IMAP_LIST_NOSELECT;
		test_assert(!mlist_exists(&e) && mlist_subscribed(&e));
		e.attrs = IMAP_LIST_NOSELECT;
		test_assert(!mlist_exists(&e));
		e.attrs = IMAP_LIST_HASCHILDREN | IMAP_LIST_MARKED;
		test_assert(mlist_exists(&e));
	}
	test_end();
}

static void
test_traffic(void)
{
	char buf[160];

	/* The figures of a run of the reference (notes §4.15 and a Perl
	 * run against Dovecot: 2.34K = 2396 bytes, compr. 1.77K). */
	test_begin("traffic line: the reference's _kibi() and factors");
	test_assert_str(side_traffic_format(buf, sizeof(buf), 2141, 2141, 678,
	    678, false), "IMAP traffic (bytes): recv 2.09K sent 678");
	test_assert_str(side_traffic_format(buf, sizeof(buf), 0, 0, 0, 0,
	    false), "IMAP traffic (bytes): recv 0 sent 0");
	test_assert_str(side_traffic_format(buf, sizeof(buf), 2396, 1813, 261,
	    245, true), "IMAP traffic (bytes): recv 2.34K (compr. 1.77K, "
	    "factor 0.76) sent 261 (compr. 245, factor 0.94)");
	test_assert_str(side_traffic_format(buf, sizeof(buf), 1023, 0, 1024,
	    0, false), "IMAP traffic (bytes): recv 1023 sent 1.00K");
	test_assert_str(side_traffic_format(buf, sizeof(buf), 1048576,
	    1048576, 1073741824ULL, 1, false),
	    "IMAP traffic (bytes): recv 1.00M sent 1.00G");
	/* compression on, nothing sent: no factor (no division by 0) */
	test_assert_str(side_traffic_format(buf, sizeof(buf), 10, 8, 0, 0,
	    true), "IMAP traffic (bytes): recv 10 (compr. 8, factor 0.80) "
	    "sent 0");
	test_assert_str(side_traffic_format(buf, 13, 10, 8, 0, 0, true),
	    "IMAP traffic");
	test_end();
}

static void
test_ierr(void)
{
	struct ierr ie;
	struct err e;

	test_begin("ierr: fail is status 1, the engine's own name dropped");
	err_set(&e, ERR_TEMP, "local: connection lost");
	test_assert(ierr_wrap(&ie, "local", &e) == -1);
	test_assert_str(ie.e.msg, "connection lost");
	test_assert_str(ie.who, "local");
	test_assert(ie.status == 1 && !ie.bare);
	err_set(&e, ERR_REFUSED, "localhost: x");
	ierr_wrap(&ie, "local", &e);
	test_assert_str(ie.e.msg, "localhost: x");
	err_set(&e, ERR_PROTO, "local:x");
	ierr_wrap(&ie, "local", &e);
	test_assert_str(ie.e.msg, "local:x");
	/* the same struct err in and out */
	err_set(&ie.e, ERR_AUTH, "remote: LOGIN refused");
	ierr_wrap(&ie, "remote", &ie.e);
	test_assert_str(ie.e.msg, "LOGIN refused");
	test_assert(ie.status == 1);
	/* whatever the kind, about a side */
	err_set(&e, ERR_CONFIG, "local: missing username");
	ierr_wrap(&ie, "local", &e);
	test_assert(ie.status == 1);
	test_end();

	test_begin("ierr: die and the database keep their own status");
	err_set(&e, ERR_LOCKED, "/x.db: database is locked");
	ierr_wrap(&ie, NULL, &e);
	test_assert(ie.status != 0 && ie.status != 1 && ie.who == NULL);
	err_set(&e, ERR_TEMP, "x");
	ierr_wrap(&ie, NULL, &e);
	test_assert(ie.status == 1);
	ierr_die(&ie, ERR_REFUSED, "Non %s-capable IMAP server.", "UIDPLUS");
	test_assert_str(ie.e.msg, "Non UIDPLUS-capable IMAP server.");
	test_assert(ie.bare && ie.status != 0 && ie.status != 1);
	ierr_fail(&ie, "database", "Mailbox %s exists.", "a");
	test_assert(ie.status == 1 && !ie.bare);
	test_assert_str(ie.who, "database");
	test_end();
}

int
main(void)
{
	test_names();
	test_delims();
	test_traffic();
	test_ierr();
	return test_exit();
}
