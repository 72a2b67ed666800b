#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

/* Small helpers every module uses. Allocation failures abort: error paths are
 * for real errors, not for out-of-memory. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ATTR_UNUSED __attribute__((unused))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
/* Grows an array of *cap elements of size sz to hold at least need elements. */
void *xgrow(void *p, size_t *cap, size_t need, size_t sz);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns an allocated string; caller frees. */
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* Parse a decimal number from *p, advancing *p past the digits. Returns 0, or
 * -1 (and *p unchanged) when there is no digit or the value overflows. */
int parse_u32(const char **p, uint32_t *v);
int parse_u64(const char **p, uint64_t *v);
/* Whole-string variants: the entire string must be the number. */
int parse_u32_str(const char *s, uint32_t *v);
int parse_u64_str(const char *s, uint64_t *v);
/* v in decimal at out (room for 20 bytes; no NUL), without printf's
 * parsing (files of many numbers): the length. */
size_t fmt_u64(char *out, uint64_t v);

/* ASCII case-insensitive comparison (protocol keywords). */
bool str_ieq(const char *a, const char *b);
bool str_iprefix(const char *s, const char *prefix);

/* Monotonic clock in milliseconds, microseconds. */
uint64_t now_ms(void);
uint64_t now_us(void);

/* Overwrite secrets before freeing them. */
void explicit_zero(void *p, size_t n);

#endif
