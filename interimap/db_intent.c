/* Our own table of copies under way, c_append_intent (see db.h): created
 * when first written, never part of the reference's schema. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"
#include "intent.h"

/* No foreign key: the Perl program deletes mailboxes without knowing of
 * this table, and a reference from it would make its DELETE fail. */
#define INTENT_TABLE                                                           \
	"CREATE TABLE IF NOT EXISTS c_append_intent ("                         \
	"idx          INTEGER         NOT NULL, "                              \
	"target       INTEGER         NOT NULL CHECK (target IN (0, 1)), "     \
	"UIDVALIDITY  UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "      \
	"UIDNEXT      UNSIGNED INT    NOT NULL, "                              \
	"sUIDVALIDITY UNSIGNED INT    NOT NULL CHECK (sUIDVALIDITY > 0), "     \
	"sUID         UNSIGNED INT    NOT NULL CHECK (sUID > 0), "             \
	"size         UNSIGNED BIGINT NOT NULL, "                              \
	"internaldate TEXT            NOT NULL, "                              \
	"flags        TEXT            NOT NULL, "                              \
	"PRIMARY KEY (idx, target, sUID))"

void
db_intent_forget(struct db *db)
{
	db->intent_state = 0;
	db->intent_n = 0;
}

void
db_intents_free(struct db_intent *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].date);
		free(v[i].flags);
	}
	free(v);
}

/* Position of idx in the sorted intent_idx, or where it would go. */
static size_t
idx_pos(const struct db *db, int64_t idx, bool *found_r)
{
	size_t lo = 0, hi = db->intent_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (db->intent_idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < db->intent_n && db->intent_idx[lo] == idx;
	return lo;
}

static void
idx_set(struct db *db, int64_t idx, bool has)
{
	bool found;
	size_t i = idx_pos(db, idx, &found);

	if (has && !found) {
		db->intent_idx = xgrow(db->intent_idx, &db->intent_cap,
		    db->intent_n + 1, sizeof(*db->intent_idx));
		memmove(db->intent_idx + i + 1, db->intent_idx + i,
		    (db->intent_n - i) * sizeof(*db->intent_idx));
		db->intent_idx[i] = idx;
		db->intent_n++;
	} else if (!has && found) {
		memmove(db->intent_idx + i, db->intent_idx + i + 1,
		    (db->intent_n - i - 1) * sizeof(*db->intent_idx));
		db->intent_n--;
	}
}

/* What db_intent_has() answers from: read once. */
static int
load(struct db *db, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (db->intent_state != 0)
		return 0;
	db->intent_n = 0;
	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master WHERE "
		"type = 'table' AND name = 'c_append_intent'", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(db, err, "reading the schema");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		db->intent_state = -1;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_err(db, err, "reading the schema");
	/* (in ascending order) */
	if (db_col0_list(db, Q_INTENT_IDX, &db->intent_idx, &db->intent_n,
	    &db->intent_cap, "listing copies under way", err) < 0) {
		db->intent_n = 0;
		return -1;
	}
	db->intent_state = 1;
	return 0;
}

int
db_intent_has(struct db *db, int64_t idx, bool *has_r, struct err *err)
{
	*has_r = false;
	if (load(db, err) < 0)
		return -1;
	if (db->intent_state > 0)
		idx_pos(db, idx, has_r);
	return 0;
}

int
db_intent_add(struct db *db, int64_t idx, const struct db_intent *v,
    size_t n, struct err *err)
{
	if (n == 0)
		return 0;
	if (db_begin(db, err) < 0 || load(db, err) < 0)
		return -1;
	if (db->intent_state < 0) {
		if (db_exec(db, INTENT_TABLE, "creating c_append_intent",
			err) < 0)
			return -1;
		db->intent_state = 1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = db_stmt(db, Q_INTENT_ADD, err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int(st, 2, v[i].target == DB_LOCAL ? 0 : 1);
		sqlite3_bind_int64(st, 3, v[i].uidvalidity);
		sqlite3_bind_int64(st, 4, v[i].uidnext);
		sqlite3_bind_int64(st, 5, v[i].s_uidvalidity);
		sqlite3_bind_int64(st, 6, v[i].suid);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)v[i].size);
		sqlite3_bind_text(st, 8, v[i].date, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 9, v[i].flags, -1, SQLITE_TRANSIENT);
		if (db_step_done(db, st, "recording a copy under way",
			err) < 0)
			return -1;
	}
	idx_set(db, idx, true);
	return 0;
}

/* Column i as a copied string, or NULL for SQL NULL (or a value with a
 * NUL byte, which nothing of ours writes). */
static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *p = sqlite3_column_text(st, i);
	int len = sqlite3_column_bytes(st, i);

	if (!p || memchr(p, '\0', (size_t)len))
		return NULL;
	return xstrndup((const char *)p, (size_t)len);
}

int
db_intent_get(struct db *db, int64_t idx, struct db_intent **v_r,
    size_t *n_r, struct err *err)
{
	struct db_intent *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	bool has;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (db_intent_has(db, idx, &has, err) < 0)
		return -1;
	if (!has)
		return 0;
	if (!(st = db_stmt(db, Q_INTENT_GET, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_intent x;
		sqlite3_int64 t = sqlite3_column_int64(st, 0);
		sqlite3_int64 size = sqlite3_column_int64(st, 5);
		struct err ignored;

		memset(&x, 0, sizeof(x));
		/* Rows are checked, not trusted: one that makes no sense is
		 * left out (and goes with the others once handled). */
		if ((t != 0 && t != 1) || size < 0 ||
		    db_col_u32(db, st, 1, &x.uidvalidity, "", &ignored) < 0 ||
		    db_col_u32(db, st, 2, &x.uidnext, "", &ignored) < 0 ||
		    db_col_u32(db, st, 3, &x.s_uidvalidity, "", &ignored) < 0 ||
		    db_col_u32(db, st, 4, &x.suid, "", &ignored) < 0 ||
		    x.suid == 0 || x.uidvalidity == 0 || x.s_uidvalidity == 0)
			continue;
		x.target = t == 0 ? DB_LOCAL : DB_REMOTE;
		x.size = (uint64_t)size;
		x.date = col_text(st, 6);
		x.flags = col_text(st, 7);
		if (!x.date || !x.flags) {
			free(x.date);
			free(x.flags);
			continue;
		}
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = x;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_intents_free(v, n);
		return db_err(db, err, "reading copies under way");
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int
db_intent_get_valid(struct db *db, int64_t idx, const struct db_state st[2],
    const uint32_t cur[2], struct db_intent **v_r, size_t *n_r,
    struct err *err)
{
	struct db_intent *v;
	size_t n, k = 0;

	if (db_intent_get(db, idx, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		enum db_side src = v[i].target == DB_LOCAL ? DB_REMOTE :
		    DB_LOCAL;
		uint32_t other;
		int m = db_map_get(db, idx, src, v[i].suid, &other, err);

		if (m < 0) {
			db_intents_free(v, n);
			return -1;
		}
		if (intent_valid(&v[i], st, cur, m > 0)) {
			struct db_intent x = v[k];
			v[k++] = v[i];
			v[i] = x;
		}
	}
	/* The others, swapped behind the kept ones, go. */
	for (size_t i = k; i < n; i++) {
		free(v[i].date);
		free(v[i].flags);
	}
	if (k == 0) {
		free(v);
		v = NULL;
	}
	*v_r = v;
	*n_r = k;
	return 0;
}

int
db_intent_delete(struct db *db, int64_t idx, enum db_side target,
    const uint32_t *suids, size_t n, struct err *err)
{
	sqlite3_stmt *st;
	bool has;
	int rc;

	if (db_intent_has(db, idx, &has, err) < 0)
		return -1;
	if (!has || n == 0)
		return 0;
	if (db_begin(db, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(st = db_stmt(db, Q_INTENT_DEL, err)))
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int(st, 2, target == DB_LOCAL ? 0 : 1);
		sqlite3_bind_int64(st, 3, suids[i]);
		if (db_step_done(db, st, "deleting a copy under way", err) < 0)
			return -1;
	}
	/* Rows of other batches may be left (the other target's). */
	if (!(st = db_stmt(db, Q_INTENT_ANY, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(db, err, "reading copies under way");
	idx_set(db, idx, rc == SQLITE_ROW);
	return 0;
}

int
db_intent_clear(struct db *db, int64_t idx, struct err *err)
{
	sqlite3_stmt *st;
	bool has;

	if (db_intent_has(db, idx, &has, err) < 0)
		return -1;
	if (!has)
		return 0;
	if (db_begin(db, err) < 0 || !(st = db_stmt(db, Q_INTENT_DEL_ALL, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	if (db_step_done(db, st, "deleting copies under way", err) < 0)
		return -1;
	idx_set(db, idx, false);
	return 0;
}
