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

int
uidlist_parse(struct uidlist *l, const char *s, size_t max)
{
	if (*s == '\0')
		return -1;
	while (*s) {
		uint32_t a, b;
		if (parse_u32(&s, &a) < 0 || a == 0)
			return -1;
		b = a;
		if (*s == ':') {
			s++;
			if (parse_u32(&s, &b) < 0 || b == 0)
				return -1;
		}
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		/* Check before allocating: "1:4294967295" is one line. */
		if ((uint64_t)b - a + 1 > max - (max < l->n ? max : l->n))
			return -1;
		for (uint64_t u = a; u <= b; u++)
			uidlist_push(l, (uint32_t)u);
		if (*s == ',' && s[1] != '\0')
			s++;
		else if (*s)
			return -1;
	}
	return 0;
}
