#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void ATTR_NORETURN
oom(size_t n)
{
	fprintf(stderr, "out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
	if (p == NULL)
		oom(nmemb * n);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

void *
xgrow(void *p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap;
	if (need <= c)
		return p;
	if (c < 8)
		c = 8;
	while (c < need) {
		if (c > SIZE_MAX / 2 / sz)
			oom(SIZE_MAX);
		c *= 2;
	}
	*cap = c;
	return xrealloc(p, c * sz);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(0);
	va_end(ap);
	return s;
}

int
parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*p = s;
	*v = n;
	return 0;
}

int
parse_u32(const char **p, uint32_t *v)
{
	const char *s = *p;
	uint64_t n;
	if (parse_u64(&s, &n) < 0 || n > UINT32_MAX)
		return -1;
	*p = s;
	*v = (uint32_t)n;
	return 0;
}

int
parse_u32_str(const char *s, uint32_t *v)
{
	return parse_u32(&s, v) == 0 && *s == '\0' ? 0 : -1;
}

int
parse_u64_str(const char *s, uint64_t *v)
{
	return parse_u64(&s, v) == 0 && *s == '\0' ? 0 : -1;
}

size_t
fmt_u64(char *out, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(out, d + i, sizeof(d) - i);
	return sizeof(d) - i;
}

/* ASCII folding only, whatever the locale: cheaper than strcasecmp()
 * (some 80,000 calls parse the LIST-STATUS of 1000 mailboxes), and a
 * keyword is never Turkish. x and y the same, or the same letter. */
static bool
fold_eq(unsigned char x, unsigned char y)
{
	return x == y || ((x | 0x20) == (y | 0x20) &&
	    (unsigned)((x | 0x20) - 'a') <= 'z' - 'a');
}

bool
str_ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		if (!fold_eq((unsigned char)*a, (unsigned char)*b))
			return false;
		if (*a == '\0')
			return true;
	}
}

bool
str_iprefix(const char *s, const char *prefix)
{
	for (;; s++, prefix++) {
		if (*prefix == '\0')
			return true;
		if (!fold_eq((unsigned char)*s, (unsigned char)*prefix))
			return false;
	}
}

uint64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
now_ms(void)
{
	return now_us() / 1000;
}

void
explicit_zero(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}
