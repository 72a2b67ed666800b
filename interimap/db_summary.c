/* What --status shows of each mailbox: both states, the pairs, those of
 * an interrupted copy (Q_SUMMARY_*; Q_SUMMARY_STATES: the same columns,
 * the counts 0), the copies under way recorded (c_append_intent). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

void
db_summary_free(struct db_summary *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The current row of a Q_SUMMARY_* statement into s (name allocated). */
static int
summary_row(struct db *db, sqlite3_stmt *st, struct db_summary *s,
    struct err *err)
{
	const void *p = sqlite3_column_blob(st, 1);
	int len = sqlite3_column_bytes(st, 1);

	memset(s, 0, sizeof(*s));
	s->idx = sqlite3_column_int64(st, 0);
	s->len = (size_t)len;
	s->name = xmalloc(s->len + 1);
	if (len > 0)
		memcpy(s->name, p, s->len);
	s->name[s->len] = '\0';
	/* LEFT JOIN: no state rows yet (a mailbox never selected). */
	s->synced = sqlite3_column_type(st, 2) != SQLITE_NULL &&
	    sqlite3_column_type(st, 5) != SQLITE_NULL;
	if (s->synced && db_col_states(db, st, 2, s->st, err) < 0)
		return -1;
	s->pairs = (uint64_t)sqlite3_column_int64(st, 8);
	s->pending = (uint64_t)sqlite3_column_int64(st, 9);
	return 0;
}

/* s->copying, from the records of s's copies under way: those a run
 * would act on, as far as the database tells (no server asked). */
static int
count_copies(struct db *db, struct db_summary *s, struct err *err)
{
	static const uint32_t unknown[2] = {0, 0};
	struct db_intent *v;
	size_t n;
	bool has;

	/* Records of a mailbox without states are stale (msync.c). */
	if (!s->synced)
		return 0;
	if (db_intent_has(db, s->idx, &has, err) < 0)
		return -1;
	if (!has)
		return 0;
	if (db_intent_get_valid(db, s->idx, s->st, unknown, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		s->copying[v[i].target]++;
	db_intents_free(v, n);
	return 0;
}

int
db_summary_list(struct db *db, bool count, struct db_summary **v_r,
    size_t *n_r, struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, count ? Q_SUMMARY_ALL : Q_SUMMARY_STATES,
	    err);
	struct db_summary *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		if (summary_row(db, st, &v[n++], err) < 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_err(db, err, "summing up the mailboxes");
	sqlite3_reset(st);
	for (size_t i = 0; count && rc == SQLITE_DONE && i < n; i++)
		if (count_copies(db, &v[i], err) < 0)
			rc = SQLITE_ERROR;
	if (rc != SQLITE_DONE) {
		db_summary_free(v, n);
		return -1;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

int
db_summary_get(struct db *db, int64_t idx, struct db_summary *s_r,
    struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, Q_SUMMARY_ONE, err);
	int rc;

	memset(s_r, 0, sizeof(*s_r));
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (summary_row(db, st, s_r, err) < 0) {
			free(s_r->name);
			s_r->name = NULL;
			rc = SQLITE_ERROR;
		}
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "summing up a mailbox");
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW && count_copies(db, s_r, err) < 0) {
		free(s_r->name);
		s_r->name = NULL;
		rc = SQLITE_ERROR;
	}
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}
