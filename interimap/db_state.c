/* The local and remote tables (each side's last synced state), and the
 * lists of mailboxes with both states. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

int
db_state_get(struct db *db, int64_t idx, struct db_state st_r[2],
    struct err *err)
{
	sqlite3_stmt *st;
	int rc = db_reads_state(db, idx, st_r);

	if (rc != -2)
		return rc;
	if (!(st = db_stmt(db, Q_STATE_GET, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (db_col_states(db, st, 0, st_r, err) < 0)
			rc = SQLITE_ERROR;
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "reading a mailbox's state");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
db_state_add(struct db *db, int64_t idx, uint32_t luidvalidity,
    uint32_t ruidvalidity, struct err *err)
{
	const enum db_q q[2] = {Q_STATE_ADD_L, Q_STATE_ADD_R};
	const uint32_t v[2] = {luidvalidity, ruidvalidity};

	if (db_begin(db, err) < 0)
		return -1;
	for (int side = 0; side < 2; side++) {
		sqlite3_stmt *st = db_stmt(db, q[side], err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int64(st, 2, v[side]);
		if (db_step_done(db, st, "adding a mailbox's state", err) < 0)
			return -1;
	}
	return 0;
}

int
db_state_set(struct db *db, enum db_side side, int64_t idx, uint32_t uidnext,
    uint64_t highestmodseq, struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 ||
	    !(st = db_stmt(db, side == DB_LOCAL ? Q_STATE_SET_L : Q_STATE_SET_R,
		  err)))
		return -1;
	sqlite3_bind_int64(st, 1, uidnext);
	db_bind_modseq(st, 2, highestmodseq);
	sqlite3_bind_int64(st, 3, idx);
	return db_step_done(db, st, "updating a mailbox's state", err);
}

int
db_state_set_modseq(struct db *db, enum db_side side, int64_t idx,
    uint64_t highestmodseq, struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 ||
	    !(st = db_stmt(db,
		  side == DB_LOCAL ? Q_MODSEQ_SET_L : Q_MODSEQ_SET_R, err)))
		return -1;
	db_bind_modseq(st, 1, highestmodseq);
	sqlite3_bind_int64(st, 2, idx);
	return db_step_done(db, st, "updating a mailbox's HIGHESTMODSEQ", err);
}

void
db_mbx_free(struct db_mbx *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Rows (idx, mailbox, subscribed, STATE_COLS) of q into an array. */
static int
mbx_list(struct db *db, enum db_q q, struct db_mbx **v_r, size_t *n_r,
    const char *what, struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, q, err);
	struct db_mbx *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_mbx *m;
		const void *p = sqlite3_column_blob(st, 1);
		int len = sqlite3_column_bytes(st, 1);

		v = xgrow(v, &cap, n + 1, sizeof(*v));
		m = &v[n++];
		memset(m, 0, sizeof(*m));
		m->idx = sqlite3_column_int64(st, 0);
		m->len = (size_t)len;
		m->name = xmalloc(m->len + 1);
		if (len > 0)
			memcpy(m->name, p, m->len);
		m->name[m->len] = '\0';
		m->subscribed = sqlite3_column_int64(st, 2) != 0;
		if (db_col_states(db, st, 3, m->st, err) < 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (rc != SQLITE_ROW)
			db_err(db, err, what);
		db_mbx_free(v, n);
		return -1;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int
db_known_list(struct db *db, struct db_mbx **v_r, size_t *n_r,
    struct err *err)
{
	return mbx_list(db, Q_KNOWN, v_r, n_r, "listing mailboxes", err);
}

int
db_pending_idx(struct db *db, int64_t **v_r, size_t *n_r, struct err *err)
{
	size_t cap = 0;

	*v_r = NULL;
	*n_r = 0;
	if (db_col0_list(db, Q_PENDING, v_r, n_r, &cap,
	    "listing interrupted syncs", err) == 0)
		return 0;
	free(*v_r);
	*v_r = NULL;
	*n_r = 0;
	return -1;
}
