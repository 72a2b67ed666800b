#ifndef COMMON_UIDLIST_H
#define COMMON_UIDLIST_H

/* Lists of IMAP UIDs and their sequence-set form ("1:3,5", RFC 3501 §9):
 * what SEARCH/ESEARCH return and what UID FETCH/STORE/EXPUNGE take. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct uidlist {
	uint32_t *v;
	size_t n, cap;
};

#define UIDLIST_INIT {NULL, 0, 0}

void uidlist_push(struct uidlist *l, uint32_t uid);
void uidlist_sort(struct uidlist *l);
void uidlist_free(struct uidlist *l);

/* uid is in the sorted array u[0..n). */
bool uidlist_has(const uint32_t *u, size_t n, uint32_t uid);

/* Appends sorted UIDs u[0..n) to b as a sequence set ("1:3,5", duplicates
 * merged), stopping once b holds maxlen bytes or more: long sets go out in
 * several commands. Returns how many of the UIDs it took (at least one
 * when n > 0 and b was shorter than maxlen). */
size_t uidlist_format(struct buf *b, const uint32_t *u, size_t n,
    size_t maxlen);

/* Appends the UIDs of sequence set s ("1:3,5"; a range may be written
 * backwards) to l. -1 when s is malformed (no "*", no 0) or would bring l
 * above max UIDs: a server cannot make us allocate more than the caller
 * allows. */
int uidlist_parse(struct uidlist *l, const char *s, size_t max);

#endif
