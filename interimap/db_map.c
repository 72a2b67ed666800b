/* The mapping table: UID pairs, looked up and deleted by UID set, the
 * pairs of an interrupted copy, and QRESYNC's sample of them. */
#include "util.h"

#include <stdlib.h>

#include <sqlite3.h>

#include "db_int.h"

int
db_map_add(struct db *db, int64_t idx, uint32_t luid, uint32_t ruid,
    struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 || !(st = db_stmt(db, Q_MAP_ADD, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, luid);
	sqlite3_bind_int64(st, 3, ruid);
	return db_step_done(db, st, "adding a UID pair", err);
}

int
db_map_get(struct db *db, int64_t idx, enum db_side side, uint32_t uid,
    uint32_t *other_r, struct err *err)
{
	sqlite3_stmt *st =
	    db_stmt(db, side == DB_LOCAL ? Q_MAP_GET_L : Q_MAP_GET_R, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (db_col_u32(db, st, 0, other_r, "UID", err) < 0)
			rc = SQLITE_ERROR;
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "looking up a UID");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Appends the rows (lUID, rUID) of the bound statement st to *v, and
 * resets st. */
static int
read_pairs(struct db *db, sqlite3_stmt *st, struct db_pair **v, size_t *n,
    size_t *cap, struct err *err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_pair p;
		if (db_col_u32(db, st, 0, &p.luid, "lUID", err) < 0 ||
		    db_col_u32(db, st, 1, &p.ruid, "rUID", err) < 0)
			break;
		*v = xgrow(*v, cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = p;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		db_err(db, err, "reading UID pairs");
	return -1;
}

/* The pairs of the single-parameter (idx) query q. */
static int
pairs_of(struct db *db, enum db_q q, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, q, err);
	size_t cap = 0;

	*pairs_r = NULL;
	*n_r = 0;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	if (read_pairs(db, st, pairs_r, n_r, &cap, err) < 0) {
		free(*pairs_r);
		*pairs_r = NULL;
		*n_r = 0;
		return -1;
	}
	return 0;
}

int
db_map_find(struct db *db, int64_t idx, enum db_side side,
    struct uidset *set, struct db_pair **pairs_r, size_t *n_r,
    struct err *err)
{
	size_t cap = 0;

	*pairs_r = NULL;
	*n_r = 0;
	uidset_normalise(set);
	for (size_t i = 0; i < set->n; i++) {
		sqlite3_stmt *st = db_stmt(db,
		    side == DB_LOCAL ? Q_MAP_FIND_L : Q_MAP_FIND_R, err);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int64(st, 2, set->r[i].lo);
		sqlite3_bind_int64(st, 3, set->r[i].hi);
		if (read_pairs(db, st, pairs_r, n_r, &cap, err) < 0)
			goto fail;
	}
	return 0;
fail:
	free(*pairs_r);
	*pairs_r = NULL;
	*n_r = 0;
	return -1;
}

int
db_map_delete(struct db *db, int64_t idx, uint32_t luid, struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 || !(st = db_stmt(db, Q_MAP_DEL, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, luid);
	if (db_step_done(db, st, "deleting a UID pair", err) < 0)
		return -1;
	return sqlite3_changes(db->db) > 0 ? 1 : 0;
}

int
db_map_delete_set(struct db *db, int64_t idx, enum db_side side,
    struct uidset *set, uint64_t *deleted_r, struct err *err)
{
	uint64_t n = 0;

	if (deleted_r)
		*deleted_r = 0;
	if (db_begin(db, err) < 0)
		return -1;
	uidset_normalise(set);
	for (size_t i = 0; i < set->n; i++) {
		sqlite3_stmt *st = db_stmt(db,
		    side == DB_LOCAL ? Q_MAP_DEL_RANGE_L : Q_MAP_DEL_RANGE_R,
		    err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int64(st, 2, set->r[i].lo);
		sqlite3_bind_int64(st, 3, set->r[i].hi);
		if (db_step_done(db, st, "deleting UID pairs", err) < 0)
			return -1;
		n += (uint64_t)sqlite3_changes(db->db);
	}
	if (deleted_r)
		*deleted_r = n;
	return 0;
}

int
db_map_count(struct db *db, int64_t idx, uint64_t *n_r, struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, Q_MAP_COUNT, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(st, 0);
	else
		db_err(db, err, "counting UID pairs");
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
db_map_pairs(struct db *db, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err)
{
	return pairs_of(db, Q_MAP_PAIRS, idx, pairs_r, n_r, err);
}

int
db_map_pending(struct db *db, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err)
{
	return pairs_of(db, Q_MAP_PENDING, idx, pairs_r, n_r, err);
}

static size_t
digits(uint32_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Length of "lo:hi", or "lo" when they are equal. */
static size_t
run_len(uint32_t lo, uint32_t hi)
{
	return digits(lo) + (lo == hi ? 0 : 1 + digits(hi));
}

int
db_map_sample(struct db *db, int64_t idx, enum db_side side,
    uint32_t *seq_lo_r, uint32_t *seq_hi_r, struct uidset *uids,
    struct err *err)
{
	sqlite3_stmt *st;
	uint64_t count, n = 0;
	size_t text = 0; /* length of the sampled set's text so far */
	uint32_t lo = 0, hi = 0, k = 0;
	bool have = false, full = false;
	int rc;

	if (db_map_count(db, idx, &count, err) < 0)
		return -1;
	if (count == 0)
		return 0;
	if (count > UINT32_MAX)
		return db_bad_value(db, err, "message count");
	st = db_stmt(db, side == DB_LOCAL ? Q_MAP_LAST_L : Q_MAP_LAST_R, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	/* From the highest UID down (the lowest are the likeliest to still
	 * be there, the highest the likeliest to tell an expunge): runs of
	 * consecutive UIDs are taken whole, the set closing once its text
	 * passes the limit. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (db_col_u32(db, st, 0, &k, "UID", err) < 0)
			break;
		if (!have) {
			have = true;
			lo = hi = k;
		} else if ((uint64_t)k + 1 == lo) {
			lo = k;
		} else {
			n += (uint64_t)hi - lo + 1;
			uidset_add(uids, lo, hi);
			text += run_len(lo, hi) + (text > 0);
			lo = hi = k;
			if (text > DB_SAMPLE_TEXT) {
				full = true;
				break;
			}
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(db, err, "sampling UIDs");
	if (rc == SQLITE_ROW && !full)
		return -1; /* db_col_u32() */
	if (!have)
		return 0;
	if (!full) {
		/* May pass the limit by one run, as the reference's does. */
		n += (uint64_t)hi - lo + 1;
		uidset_add(uids, lo, hi);
	}
	if (n > count)
		return db_bad_value(db, err, "message count");
	uidset_normalise(uids);
	*seq_lo_r = (uint32_t)(count - n + 1);
	*seq_hi_r = (uint32_t)count;
	return 1;
}
