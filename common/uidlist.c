#include "util.h"

#include <stdlib.h>

#include "uidlist.h"

void
uidlist_push(struct uidlist *l, uint32_t uid)
{
	l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = uid;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
uidlist_sort(struct uidlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
}

void
uidlist_free(struct uidlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

bool
uidlist_has(const uint32_t *u, size_t n, uint32_t uid)
{
	return n > 0 && bsearch(&uid, u, n, sizeof(*u), cmp_u32) != NULL;
}

size_t
uidlist_format(struct buf *b, const uint32_t *u, size_t n, size_t maxlen)
{
	size_t i = 0;
	while (i < n && b->len < maxlen) {
		size_t j = i;
		while (j + 1 < n && (u[j + 1] == u[j] || u[j + 1] == u[j] + 1))
			j++;
		if (b->len)
			buf_append(b, ",", 1);
		if (u[j] != u[i])
			buf_appendf(b, "%u:%u", u[i], u[j]);
		else
			buf_appendf(b, "%u", u[i]);
		i = j + 1;
	}
	return i;
}

void
uidset_add(struct uidset *s, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	if (s->n > 0) {
		struct uidrange *last = &s->r[s->n - 1];
		/* Extends the last range: ascending input stays compact. */
		if (s->sorted && lo >= last->lo &&
		    (uint64_t)lo <= (uint64_t)last->hi + 1) {
			if (hi > last->hi)
				last->hi = hi;
			return;
		}
		if (lo <= last->hi)
			s->sorted = false;
	}
	s->r = xgrow(s->r, &s->cap, s->n + 1, sizeof(*s->r));
	s->r[s->n].lo = lo;
	s->r[s->n].hi = hi;
	s->n++;
}

int
uidset_parse(struct uidset *s, const char *text)
{
	if (*text == '\0')
		return -1;
	while (*text) {
		uint32_t a, b;
		if (parse_u32(&text, &a) < 0 || a == 0)
			return -1;
		b = a;
		if (*text == ':') {
			text++;
			if (parse_u32(&text, &b) < 0 || b == 0)
				return -1;
		}
		uidset_add(s, a, b);
		if (*text == ',' && text[1] != '\0')
			text++;
		else if (*text)
			return -1;
	}
	return 0;
}

int
uidset_parse_ascending(struct uidset *s, const char *text)
{
	uint64_t prev = 0; /* the highest UID so far; UIDs are >= 1 */

	if (*text == '\0')
		return -1;
	while (*text) {
		uint32_t a, b;
		if (parse_u32(&text, &a) < 0 || a <= prev)
			return -1;
		b = a;
		if (*text == ':') {
			text++;
			if (parse_u32(&text, &b) < 0 || b < a)
				return -1;
		}
		uidset_add(s, a, b);
		prev = b;
		if (*text == ',' && text[1] != '\0')
			text++;
		else if (*text)
			return -1;
	}
	return 0;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct uidrange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
uidset_normalise(struct uidset *s)
{
	size_t o = 0;
	if (s->sorted)
		return;
	qsort(s->r, s->n, sizeof(*s->r), cmp_range);
	for (size_t i = 0; i < s->n; i++) {
		if (o > 0 && (uint64_t)s->r[i].lo <= (uint64_t)s->r[o - 1].hi + 1) {
			if (s->r[i].hi > s->r[o - 1].hi)
				s->r[o - 1].hi = s->r[i].hi;
			continue;
		}
		s->r[o++] = s->r[i];
	}
	s->n = o;
	s->sorted = true;
}

uint64_t
uidset_count(struct uidset *s)
{
	uint64_t n = 0;
	uidset_normalise(s);
	for (size_t i = 0; i < s->n; i++)
		n += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
	return n;
}

/* Index of the first range whose hi >= uid (s->n when none). */
static size_t
range_at(const struct uidset *s, uint32_t uid)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool
uidset_has(struct uidset *s, uint32_t uid)
{
	size_t i;
	uidset_normalise(s);
	i = range_at(s, uid);
	return i < s->n && s->r[i].lo <= uid;
}

bool
uidset_run_end(struct uidset *s, uint32_t uid, uint32_t *hi_r)
{
	size_t i;
	uidset_normalise(s);
	i = range_at(s, uid);
	if (i == s->n || s->r[i].lo > uid)
		return false;
	*hi_r = s->r[i].hi;
	return true;
}

int
uidset_next(struct uidset *s, uint32_t from, uint32_t *uid_r)
{
	size_t i;
	uidset_normalise(s);
	i = range_at(s, from);
	if (i == s->n)
		return 0;
	*uid_r = s->r[i].lo > from ? s->r[i].lo : from;
	return 1;
}

int
uidset_rank(struct uidset *s, uint32_t uid, uint64_t *rank_r)
{
	uint64_t before = 0;
	size_t i;

	uidset_normalise(s);
	for (i = 0; i < s->n && s->r[i].hi < uid; i++)
		before += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
	if (i == s->n || s->r[i].lo > uid)
		return 0;
	*rank_r = before + (uid - s->r[i].lo);
	return 1;
}

int
uidset_nth(struct uidset *s, uint64_t rank, uint32_t *uid_r)
{
	uidset_normalise(s);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t len = (uint64_t)s->r[i].hi - s->r[i].lo + 1;
		if (rank < len) {
			*uid_r = s->r[i].lo + (uint32_t)rank;
			return 1;
		}
		rank -= len;
	}
	return 0;
}

void
uidset_format(struct buf *b, struct uidset *s)
{
	uidset_normalise(s);
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			buf_append(b, ",", 1);
		if (s->r[i].lo == s->r[i].hi)
			buf_appendf(b, "%u", s->r[i].lo);
		else
			buf_appendf(b, "%u:%u", s->r[i].lo, s->r[i].hi);
	}
}

size_t
uidset_format_chunk(struct buf *b, struct uidset *s, size_t *pos,
    size_t maxlen)
{
	size_t k = 0;
	uidset_normalise(s);
	while (*pos < s->n && b->len < maxlen) {
		const struct uidrange *r = &s->r[(*pos)++];
		if (b->len)
			buf_append(b, ",", 1);
		if (r->lo == r->hi)
			buf_appendf(b, "%u", r->lo);
		else
			buf_appendf(b, "%u:%u", r->lo, r->hi);
		k++;
	}
	return k;
}

void
uidset_intersect(struct uidset *s, struct uidset *t)
{
	struct uidset out = UIDSET_INIT;
	size_t i = 0, j = 0;

	uidset_normalise(s);
	uidset_normalise(t);
	while (i < s->n && j < t->n) {
		uint32_t lo = s->r[i].lo > t->r[j].lo ? s->r[i].lo : t->r[j].lo;
		uint32_t hi = s->r[i].hi < t->r[j].hi ? s->r[i].hi : t->r[j].hi;
		if (lo <= hi)
			uidset_add(&out, lo, hi);
		if (s->r[i].hi < t->r[j].hi)
			i++;
		else
			j++;
	}
	uidset_free(s);
	*s = out;
}

void
uidset_remove(struct uidset *s, const uint32_t *u, size_t n)
{
	struct uidset out = UIDSET_INIT;
	size_t j = 0;

	uidset_normalise(s);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t lo = s->r[i].lo;
		while (j < n && u[j] < lo)
			j++;
		for (; j < n && u[j] <= s->r[i].hi; j++) {
			if (u[j] > lo)
				uidset_add(&out, (uint32_t)lo, u[j] - 1);
			lo = (uint64_t)u[j] + 1;
		}
		if (lo <= s->r[i].hi)
			uidset_add(&out, (uint32_t)lo, s->r[i].hi);
	}
	uidset_free(s);
	*s = out;
}

bool
uidset_covers(struct uidset *s, struct uidset *t)
{
	uidset_normalise(s);
	uidset_normalise(t);
	for (size_t j = 0; j < t->n; j++) {
		/* Normalised: a range of t fits in one range of s or not. */
		size_t i = range_at(s, t->r[j].lo);
		if (i == s->n || s->r[i].lo > t->r[j].lo ||
		    s->r[i].hi < t->r[j].hi)
			return false;
	}
	return true;
}

void
uidset_clear(struct uidset *s)
{
	s->n = 0;
	s->sorted = true;
}

void
uidset_free(struct uidset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
	s->sorted = true;
}
