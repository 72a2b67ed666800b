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


/* A set of UIDs kept as sorted, disjoint, non-adjacent ranges: what a
 * server says ("1:4294967295" is one range) never sizes an allocation,
 * only the length of its text does. */
struct uidrange {
	uint32_t lo, hi; /* lo <= hi */
};

struct uidset {
	struct uidrange *r;
	size_t n, cap;
	bool sorted; /* r is normalised (see uidset_normalise) */
};

#define UIDSET_INIT {NULL, 0, 0, true}

/* Adds lo:hi (either order). Cheap when ranges come in ascending order;
 * otherwise the set is normalised lazily by the readers below. */
void uidset_add(struct uidset *s, uint32_t lo, uint32_t hi);
/* Adds the sequence set text ("1:3,5", no "*", no 0). -1 when malformed
 * (s is then left with what came before the error). */
int uidset_parse(struct uidset *s, const char *text);
/* Like uidset_parse, but also -1 unless the text lists its UIDs in strictly
 * ascending order (every range low:high, each above the previous one), so
 * that the order of the text is the order of the set: RFC 4315 COPYUID
 * pairs the i-th source UID with the i-th destination UID. */
int uidset_parse_ascending(struct uidset *s, const char *text);
/* Sorts and merges overlapping or adjacent ranges. */
void uidset_normalise(struct uidset *s);
/* Number of UIDs in the set (normalises it). */
uint64_t uidset_count(struct uidset *s);
bool uidset_has(struct uidset *s, uint32_t uid);
/* When uid is in the set: true, with the last UID of its run in *hi_r. */
bool uidset_run_end(struct uidset *s, uint32_t uid, uint32_t *hi_r);
/* The smallest UID >= from in the set, in *uid_r: 1, or 0 when none. */
int uidset_next(struct uidset *s, uint32_t from, uint32_t *uid_r);
/* The position of uid among the set's UIDs in ascending order (from 0),
 * in *rank_r: 1, or 0 when uid is not in the set. */
int uidset_rank(struct uidset *s, uint32_t uid, uint64_t *rank_r);
/* The UID at position rank (from 0) in ascending order, in *uid_r: 1, or 0
 * when the set has no more than rank UIDs. With uidset_rank, pairs the
 * source and destination sets of a COPYUID (imap_data.h). */
int uidset_nth(struct uidset *s, uint64_t rank, uint32_t *uid_r);
/* Appends the set to b as a sequence set ("1:3,5"). */
void uidset_format(struct buf *b, struct uidset *s);
/* Appends ranges from index *pos on to an empty or partly filled b, as
 * uidlist_format does, stopping once b holds maxlen bytes or more; moves
 * *pos past them. Returns how many ranges it took. */
size_t uidset_format_chunk(struct buf *b, struct uidset *s, size_t *pos,
    size_t maxlen);
/* s becomes s ∩ t. */
void uidset_intersect(struct uidset *s, struct uidset *t);
/* s becomes s minus the sorted UIDs u[0..n). */
void uidset_remove(struct uidset *s, const uint32_t *u, size_t n);
/* Every UID of t is in s. */
bool uidset_covers(struct uidset *s, struct uidset *t);
void uidset_clear(struct uidset *s);
void uidset_free(struct uidset *s);

#endif
