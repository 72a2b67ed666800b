/* libFuzzer target for the typed response views (common/imap_data.c).
 * Links: t/fuzz/fuzz_imap_data.c common/imap_data.c common/imap_parse.c
 * common/uidlist.c common/util.c common/err.c common/buf.c.
 *
 * The input after its first byte goes through the real tokenizer in pieces
 * whose size comes from that first byte; every complete response is
 * offered to every view and code accessor, and what they return is walked
 * (flags, envelope fields, sets), so that a view pointing outside the tree
 * shows up under ASan. At each streamed literal the partial FETCH view is
 * asked too. The first bytes also go to the date and set parsers. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "feed.h"
#include "imap_data.h"
#include "imap_parse.h"
#include "uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void
walk_atoms(const struct imap_atoms *a)
{
	for (size_t i = 0; i < a->n; i++)
		sink += strlen(a->v[i].str);
	sink += imap_atoms_has(a, "\\Seen");
}

static void
walk_set(struct uidset *s)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	uint32_t u;

	sink += uidset_count(s);
	if (uidset_next(s, 1, &u) == 1)
		sink += u;
	/* Formatting is proportional to the number of ranges, which is
	 * bounded by the input's length, never by the numbers. */
	uidset_format(&b, s);
	sink += b.len;
	buf_free(&b);
	uidset_clear(s);
}

static void
walk_fetch(const struct imap_resp *r, const struct imap_fetch *f)
{
	struct imap_address a;
	size_t len;

	walk_atoms(&f->flags);
	if (f->internaldate) {
		time_t t;
		int zone;
		sink += imap_date_parse(f->internaldate, &t, &zone) == 0;
	}
	for (int k = IMAP_ENV_DATE; k <= IMAP_ENV_MESSAGE_ID + 1; k++) {
		enum imap_env_field e = (enum imap_env_field)k;
		const char *s = imap_envelope_string(f->envelope, e, &len);
		if (s)
			sink += len + (s[len] == '\0');
		for (size_t i = 0; imap_envelope_address(f->envelope, e, i, &a);
		    i++)
			sink += (a.name != NULL) + (a.adl != NULL) +
			    (a.mailbox ? strlen(a.mailbox) : 0) +
			    (a.host != NULL);
	}
	if (f->body)
		sink += f->body->len;
	if (f->binary)
		sink += f->binary->len;
	sink += imap_fetch_item(r, "BODY[HEADER]") != NULL;
}

/* A broken promise of the header is a crash, for libFuzzer to report. */
static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* COPYUID: every source UID has a destination of the same rank. */
static void
check_pairs(struct uidset *src, struct uidset *dst)
{
	uint64_t rank;
	uint32_t u;

	check(uidset_count(src) == uidset_count(dst));
	for (size_t i = 0; i < src->n; i++) {
		check(uidset_rank(src, src->r[i].hi, &rank) == 1);
		check(uidset_nth(dst, rank, &u) == 1);
	}
}

static void
views(const struct imap_resp *r)
{
	struct uidset s1 = UIDSET_INIT, s2 = UIDSET_INIT;
	struct imap_fetch f;
	struct imap_list l;
	struct imap_status st;
	struct imap_esearch es;
	struct imap_atoms a;
	struct err err;
	uint64_t v;
	uint32_t u;
	bool flag;

	enum imap_data_kind kind = imap_data_kind(r);
	int ret;

	/* Each view claims exactly the responses imap_data_kind() gives it. */
	ret = imap_fetch_parse(r, &f, &err);
	check((ret != 0) == (kind == IMAP_DATA_FETCH));
	if (ret == 1)
		walk_fetch(r, &f);
	ret = imap_list_parse(r, &l, &err);
	check((ret != 0) == (kind == IMAP_DATA_LIST));
	if (ret == 1) {
		walk_atoms(&l.raw);
		check(strlen(l.mailbox) == l.mailbox_len);
		sink += l.delim + (l.oldname ? l.oldname_len : 0);
	}
	ret = imap_status_parse(r, &st, &err);
	check((ret != 0) == (kind == IMAP_DATA_STATUS));
	if (ret == 1)
		sink += st.mailbox_len + st.messages;
	ret = imap_search_parse(r, &s1, &v, &err);
	check((ret != 0) == (kind == IMAP_DATA_SEARCH));
	if (ret != 0)
		walk_set(&s1);
	ret = imap_esearch_parse(r, &es, &s1, &err);
	check((ret != 0) == (kind == IMAP_DATA_ESEARCH));
	if (ret != 0) {
		if (ret == 1 && es.tag)
			sink += strlen(es.tag);
		walk_set(&s1);
	}
	ret = imap_vanished_parse(r, &flag, &s1, &err);
	check((ret != 0) == (kind == IMAP_DATA_VANISHED));
	if (ret != 0)
		walk_set(&s1);
	ret = imap_enabled_parse(r, &a, &err);
	check((ret != 0) == (kind == IMAP_DATA_ENABLED));
	if (ret == 1)
		walk_atoms(&a);
	ret = imap_capability_parse(r, &a, &err);
	check((ret != 0) == (kind == IMAP_DATA_CAPABILITY));
	if (ret == 1)
		walk_atoms(&a);
	sink += imap_code(r) + strlen(imap_code_name(imap_code(r)));
	if (imap_code_number(r, &v, &err) == 1)
		sink += v;
	if (imap_code_appenduid(r, &u, &s1, &err) != 0)
		walk_set(&s1);
	ret = imap_code_copyuid(r, &u, &s1, &s2, &err);
	if (ret == 1)
		check_pairs(&s1, &s2);
	if (ret != 0) {
		walk_set(&s1);
		walk_set(&s2);
	}
	if (imap_code_modified(r, &s1, &err) != 0)
		walk_set(&s1);
	if (imap_code_atoms(r, &a, &err) == 1)
		walk_atoms(&a);
	if (imap_code_permanentflags(r, &a, &flag, &err) == 1)
		walk_atoms(&a);
	uidset_free(&s1);
	uidset_free(&s2);
}

/* The date and ascending-set parsers on a NUL-terminated prefix. */
static void
prefix_parsers(const uint8_t *data, size_t size)
{
	char s[48];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	struct uidset set = UIDSET_INIT;
	time_t t;
	int zone;

	memcpy(s, data, n);
	s[n] = '\0';
	if (imap_date_parse(s, &t, &zone) == 0)
		sink += (size_t)t + (size_t)zone;
	if (uidset_parse_ascending(&set, s) == 0)
		walk_set(&set);
	uidset_free(&set);
}

static void
literal_view(const struct imap_resp *partial, const struct imap_arg *cont,
    size_t count)
{
	const char *item = NULL;
	struct imap_fetch f;
	struct err err;

	if (imap_fetch_parse_partial(partial, cont, count, &f, &item, &err) ==
	    1) {
		sink += strlen(item);
		walk_atoms(&f.flags);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	prefix_parsers(data + 1, size - 1);
	fuzz_feed(data, size, views, literal_view);
	return 0;
}
