#ifndef COMMON_BUF_H
#define COMMON_BUF_H

/* A growable byte buffer with a hard cap (the peer is not trusted).
 * data[len] is always '\0' once anything was appended. The buffer owns data. */

#include "util.h"

struct buf {
	char *data;
	size_t len, cap, max;
};

#define BUF_INIT(maxlen) {NULL, 0, 0, (maxlen)}

void buf_init(struct buf *b, size_t max);
/* Return -1 (buffer unchanged) when len would exceed max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
void buf_reset(struct buf *b);
/* Hands the data over to the caller (never NULL) and resets the buffer. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#endif
