#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "msync_int.h"

/* Sets of UIDs and flag lists as the reference computes and writes them
 * (its compact_set, compact_list, and the flag strings it compares). */

#define TEXT_MAX ((size_t)1 << 30)

/* ---- set arithmetic ---- */

bool
ms_set_empty(const struct uidset *s)
{
	return s->n == 0;
}

void
ms_set_copy(struct uidset *dst, struct uidset *src)
{
	uidset_normalise(src);
	for (size_t i = 0; i < src->n; i++)
		uidset_add(dst, src->r[i].lo, src->r[i].hi);
}

void
ms_set_merge(struct uidset *dst, struct uidset *src)
{
	ms_set_copy(dst, src);
	uidset_normalise(dst);
}

void
ms_set_minus(struct uidset *s, struct uidset *t)
{
	struct uidset out = UIDSET_INIT;
	size_t j = 0;

	uidset_normalise(s);
	uidset_normalise(t);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t lo = s->r[i].lo, hi = s->r[i].hi;
		while (j < t->n && t->r[j].hi < lo)
			j++;
		for (size_t k = j; k < t->n && t->r[k].lo <= hi; k++) {
			if (t->r[k].lo > lo)
				uidset_add(&out, (uint32_t)lo, t->r[k].lo - 1);
			lo = (uint64_t)t->r[k].hi + 1;
		}
		if (lo <= hi)
			uidset_add(&out, (uint32_t)lo, (uint32_t)hi);
	}
	uidset_free(s);
	*s = out;
}

/* ---- flags and sets as the reference writes them ---- */

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *
join_sorted(const char **v, size_t n, bool dedupe)
{
	struct buf out = BUF_INIT(TEXT_MAX);

	qsort(v, n, sizeof(*v), by_str);
	buf_append(&out, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (dedupe && i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (out.len > 0)
			buf_append(&out, " ", 1);
		buf_appends(&out, v[i]);
	}
	return buf_steal(&out);
}

char *
ms_flags_norm(const struct imap_atoms *a)
{
	const char **v = xcalloc(a->n ? a->n : 1, sizeof(*v));
	size_t n = 0;
	char *s;

	for (size_t i = 0; i < a->n; i++)
		if (!str_ieq(a->v[i].str, "\\Recent"))
			v[n++] = a->v[i].str;
	/* Perl's sort: bytewise, duplicates kept. */
	s = join_sorted(v, n, false);
	free(v);
	return s;
}

char *
ms_flags_norm_v(char *const *flags, size_t n)
{
	const char **v = xcalloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		if (!str_ieq(flags[i], "\\Recent"))
			v[k++] = flags[i];
	s = join_sorted(v, k, false);
	free(v);
	return s;
}

size_t
ms_flags_split(const char *flags, char ***v_r, char **store_r)
{
	char *s = xstrdup(flags), *p = s;
	size_t n = 0, cap = 0;
	char **v = NULL;

	while (*p) {
		char *sp = strchr(p, ' ');
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	*v_r = v;
	*store_r = s;
	return n;
}

char *
ms_flags_union(const char *a, const char *b)
{
	char **va, **vb, *sa, *sb, *u;
	size_t na = ms_flags_split(a, &va, &sa);
	size_t nb = ms_flags_split(b, &vb, &sb);
	const char **v = xcalloc(na + nb + 1, sizeof(*v));

	for (size_t i = 0; i < na; i++)
		v[i] = va[i];
	for (size_t i = 0; i < nb; i++)
		v[na + i] = vb[i];
	/* The reference takes the keys of a hash: each flag once. */
	u = join_sorted(v, na + nb, true);
	free(v);
	free(va);
	free(vb);
	free(sa);
	free(sb);
	return u;
}

char *
ms_set_text(struct uidset *s)
{
	struct buf out = BUF_INIT(TEXT_MAX);

	buf_append(&out, "", 0);
	uidset_format(&out, s);
	return buf_steal(&out);
}

static void
put_run(struct buf *out, uint32_t lo, uint32_t hi)
{
	if (out->len > 0)
		buf_append(out, ",", 1);
	if (lo == hi)
		buf_appendf(out, "%" PRIu32, lo);
	else
		buf_appendf(out, "%" PRIu32 ":%" PRIu32, lo, hi);
}

char *
ms_list_text(const uint32_t *v, size_t n)
{
	struct buf out = BUF_INIT(TEXT_MAX);
	uint32_t lo, hi;
	int dir = 0;

	buf_append(&out, "", 0);
	if (n == 0)
		return buf_steal(&out);
	lo = hi = v[0];
	for (size_t i = 1; i < n; i++) {
		uint32_t k = v[i];
		if (dir == 0)
			dir = k < hi ? -1 : 1;
		if (k != hi && (int64_t)k == (int64_t)hi + dir) {
			hi = k;
		} else {
			put_run(&out, lo, hi);
			lo = hi = k;
			dir = 0;
		}
	}
	put_run(&out, lo, hi);
	return buf_steal(&out);
}
