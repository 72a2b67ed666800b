/* The mailboxes table: names (BLOBs, see db.h), subscriptions, --delete
 * and --rename. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

int
db_mailbox_get(struct db *db, const char *name, size_t len, int64_t *idx_r,
    bool *subscribed_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc = -2;

	/* (a name db_bind_name() refuses: its error, as ever) */
	if (len > 0 && len <= INT32_MAX)
		rc = db_reads_mailbox(db, name, len, idx_r, subscribed_r);
	if (rc != -2)
		return rc;
	st = db_stmt(db, Q_MBX_GET, err);
	if (!st || db_bind_name(db, st, 1, name, len, err) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*idx_r = sqlite3_column_int64(st, 0);
		*subscribed_r = sqlite3_column_int64(st, 1) != 0;
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "looking up a mailbox");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
db_mailbox_add(struct db *db, const char *name, size_t len, bool subscribed,
    int64_t *idx_r, struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 || !(st = db_stmt(db, Q_MBX_ADD, err)) ||
	    db_bind_name(db, st, 1, name, len, err) < 0)
		return -1;
	sqlite3_bind_int(st, 2, subscribed ? 1 : 0);
	if (db_step_done(db, st, "adding a mailbox", err) < 0)
		return -1;
	if (idx_r)
		*idx_r = sqlite3_last_insert_rowid(db->db);
	return 0;
}

/* Runs q, taking idx as its only parameter. */
static int
by_idx(struct db *db, enum db_q q, int64_t idx, const char *what,
    struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, q, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	return db_step_done(db, st, what, err);
}

int
db_mailbox_set_subscribed(struct db *db, int64_t idx, bool subscribed,
    struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 ||
	    !(st = db_stmt(db, Q_MBX_SUBSCRIBE, err)))
		return -1;
	sqlite3_bind_int(st, 1, subscribed ? 1 : 0);
	sqlite3_bind_int64(st, 2, idx);
	return db_step_done(db, st, "updating a subscription", err);
}

int
db_mailbox_delete(struct db *db, int64_t idx, struct err *err)
{
	/* Referencing tables first: the foreign keys hold at every step. */
	static const enum db_q order[] = {Q_MBX_DEL_MAPPING, Q_MBX_DEL_LOCAL,
	    Q_MBX_DEL_REMOTE, Q_MBX_DEL};

	if (db_begin(db, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(order); i++)
		if (by_idx(db, order[i], idx, "deleting a mailbox", err) < 0)
			return -1;
	return db_intent_clear(db, idx, err);
}

int
db_mailbox_rename(struct db *db, const char *from, size_t flen,
    const char *to, size_t tlen, uint64_t *changed_r, struct err *err)
{
	sqlite3_stmt *st;
	uint64_t n = 0;
	char *prefix;
	int rc;

	if (db_begin(db, err) < 0 || !(st = db_stmt(db, Q_MBX_RENAME, err)) ||
	    db_bind_name(db, st, 1, to, tlen, err) < 0 ||
	    db_bind_name(db, st, 2, from, flen, err) < 0 ||
	    db_step_done(db, st, "renaming a mailbox", err) < 0)
		return -1;
	n += (uint64_t)sqlite3_changes(db->db);
	/* The children: every name starting with from and a delimiter. */
	if (!(st = db_stmt(db, Q_MBX_RENAME_CHILDREN, err)))
		return -1;
	prefix = xmalloc(flen + 1);
	memcpy(prefix, from, flen);
	prefix[flen] = '\0';
	rc = db_bind_name(db, st, 1, to, tlen, err);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)flen + 1);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)flen + 1);
	if (rc == 0)
		rc = db_bind_name(db, st, 4, prefix, flen + 1, err);
	free(prefix);
	if (rc < 0 || db_step_done(db, st, "renaming a mailbox's children",
			  err) < 0)
		return -1;
	n += (uint64_t)sqlite3_changes(db->db);
	if (changed_r)
		*changed_r = n;
	return 0;
}
