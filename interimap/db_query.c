/* Every query interimap runs on the reference's schema, prepared once and
 * cached in struct db, and the reference's encodings of the values bound
 * to them and read from them. */
#include "util.h"

#include <stdint.h>

#include <sqlite3.h>

#include "db_int.h"

#define STATE_COLS                                                             \
	"l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ, "                          \
	"r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ"

/* Columns: idx, mailbox, STATE_COLS (NULL without state rows), pairs,
 * pending pairs. */
#define SUMMARY_SQL                                                            \
	"SELECT m.idx, m.mailbox, " STATE_COLS ", "                            \
	"(SELECT COUNT(*) FROM mapping p WHERE p.idx = m.idx), "               \
	"(SELECT COUNT(*) FROM mapping p WHERE p.idx = m.idx "                 \
	"AND p.lUID >= l.UIDNEXT) + "                                          \
	"(SELECT COUNT(*) FROM mapping p WHERE p.idx = m.idx "                 \
	"AND p.rUID >= r.UIDNEXT AND p.lUID < l.UIDNEXT) "                     \
	"FROM mailboxes m LEFT JOIN local l ON l.idx = m.idx "                 \
	"LEFT JOIN remote r ON r.idx = m.idx "

static const char *const sql[Q_COUNT] = {
	[Q_MBX_GET] = "SELECT idx, subscribed FROM mailboxes WHERE mailbox = ?",
	[Q_MBX_ADD] = "INSERT INTO mailboxes (mailbox, subscribed) VALUES (?, ?)",
	[Q_MBX_SUBSCRIBE] = "UPDATE mailboxes SET subscribed = ? WHERE idx = ?",
	[Q_MBX_DEL_MAPPING] = "DELETE FROM mapping WHERE idx = ?",
	[Q_MBX_DEL_LOCAL] = "DELETE FROM local WHERE idx = ?",
	[Q_MBX_DEL_REMOTE] = "DELETE FROM remote WHERE idx = ?",
	[Q_MBX_DEL] = "DELETE FROM mailboxes WHERE idx = ?",
	[Q_MBX_RENAME] = "UPDATE mailboxes SET mailbox = ? WHERE mailbox = ?",
	/* || and SUBSTR() work on bytes here (a BLOB's length is its byte
	 * count); || yields TEXT, hence the CAST back to BLOB. */
	[Q_MBX_RENAME_CHILDREN] =
	    "UPDATE mailboxes SET mailbox = CAST(? || SUBSTR(mailbox, ?) AS BLOB) "
	    "WHERE SUBSTR(mailbox, 1, ?) = ?",
	[Q_STATE_GET] = "SELECT " STATE_COLS " FROM local l "
			"JOIN remote r ON l.idx = r.idx WHERE l.idx = ?",
	[Q_STATE_ALL] = "SELECT l.idx, " STATE_COLS " FROM local l "
			"JOIN remote r ON l.idx = r.idx",
	/* (= in Q_MBX_GET matches BLOBs only: a BLOB never equals TEXT) */
	[Q_MBX_ALL] = "SELECT mailbox, idx, subscribed FROM mailboxes "
		      "WHERE typeof(mailbox) = 'blob'",
	[Q_STATE_ADD_L] = "INSERT INTO local (idx, UIDVALIDITY, UIDNEXT, "
			  "HIGHESTMODSEQ) VALUES (?, ?, 0, 0)",
	[Q_STATE_ADD_R] = "INSERT INTO remote (idx, UIDVALIDITY, UIDNEXT, "
			  "HIGHESTMODSEQ) VALUES (?, ?, 0, 0)",
	[Q_STATE_SET_L] = "UPDATE local SET UIDNEXT = ?, HIGHESTMODSEQ = ? "
			  "WHERE idx = ?",
	[Q_STATE_SET_R] = "UPDATE remote SET UIDNEXT = ?, HIGHESTMODSEQ = ? "
			  "WHERE idx = ?",
	[Q_MODSEQ_SET_L] = "UPDATE local SET HIGHESTMODSEQ = ? WHERE idx = ?",
	[Q_MODSEQ_SET_R] = "UPDATE remote SET HIGHESTMODSEQ = ? WHERE idx = ?",
	[Q_KNOWN] = "SELECT m.idx, m.mailbox, m.subscribed, " STATE_COLS " FROM mailboxes m "
		    "JOIN local l ON m.idx = l.idx JOIN remote r ON m.idx = r.idx "
		    "ORDER BY m.idx",
	/* (two EXISTS, each a seek in a covering index; no name read) */
	[Q_PENDING] = "SELECT l.idx FROM local l JOIN remote r ON r.idx = l.idx "
		      "WHERE EXISTS (SELECT 1 FROM mapping p WHERE p.idx = l.idx "
		      "AND p.lUID >= l.UIDNEXT) "
		      "OR EXISTS (SELECT 1 FROM mapping p WHERE p.idx = l.idx "
		      "AND p.rUID >= r.UIDNEXT) "
		      "ORDER BY l.idx",
	[Q_MAP_ADD] = "INSERT INTO mapping (idx, lUID, rUID) VALUES (?, ?, ?)",
	[Q_MAP_GET_L] = "SELECT rUID FROM mapping WHERE idx = ? AND lUID = ?",
	[Q_MAP_GET_R] = "SELECT lUID FROM mapping WHERE idx = ? AND rUID = ?",
	[Q_MAP_FIND_L] = "SELECT lUID, rUID FROM mapping WHERE idx = ? "
			 "AND lUID BETWEEN ? AND ? ORDER BY lUID",
	[Q_MAP_FIND_R] = "SELECT lUID, rUID FROM mapping WHERE idx = ? "
			 "AND rUID BETWEEN ? AND ? ORDER BY rUID",
	[Q_MAP_DEL] = "DELETE FROM mapping WHERE idx = ? AND lUID = ?",
	[Q_MAP_DEL_RANGE_L] = "DELETE FROM mapping WHERE idx = ? "
			      "AND lUID BETWEEN ? AND ?",
	[Q_MAP_DEL_RANGE_R] = "DELETE FROM mapping WHERE idx = ? "
			      "AND rUID BETWEEN ? AND ?",
	[Q_MAP_COUNT] = "SELECT COUNT(*) FROM mapping WHERE idx = ?",
	[Q_MAP_PAIRS] = "SELECT lUID, rUID FROM mapping WHERE idx = ? "
			"ORDER BY lUID",
	[Q_MAP_PENDING] = "SELECT m.lUID, m.rUID FROM mapping m "
			  "JOIN local l ON m.idx = l.idx "
			  "JOIN remote r ON m.idx = r.idx WHERE m.idx = ? "
			  "AND (m.lUID >= l.UIDNEXT OR m.rUID >= r.UIDNEXT) "
			  "ORDER BY m.lUID",
	[Q_MAP_LAST_L] = "SELECT lUID FROM mapping WHERE idx = ? "
			 "ORDER BY lUID DESC LIMIT " DB_SAMPLE_ROWS,
	[Q_MAP_LAST_R] = "SELECT rUID FROM mapping WHERE idx = ? "
			 "ORDER BY rUID DESC LIMIT " DB_SAMPLE_ROWS,
	/* The interrupted copy's pairs in two range scans (one per index)
	 * rather than a scan of every pair with an OR. */
	[Q_SUMMARY_ALL] = SUMMARY_SQL "ORDER BY m.mailbox",
	[Q_SUMMARY_STATES] = "SELECT m.idx, m.mailbox, " STATE_COLS ", 0, 0 "
			     "FROM mailboxes m LEFT JOIN local l ON l.idx = m.idx "
			     "LEFT JOIN remote r ON r.idx = m.idx "
			     "ORDER BY m.mailbox",
	[Q_SUMMARY_ONE] = SUMMARY_SQL "WHERE m.idx = ?",
	[Q_INTENT_ADD] = "INSERT OR REPLACE INTO c_append_intent (idx, target, "
			 "UIDVALIDITY, UIDNEXT, sUIDVALIDITY, sUID, size, "
			 "internaldate, flags) "
			 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_INTENT_GET] = "SELECT target, UIDVALIDITY, UIDNEXT, sUIDVALIDITY, "
			 "sUID, size, internaldate, flags "
			 "FROM c_append_intent WHERE idx = ? "
			 "ORDER BY target, sUID",
	[Q_INTENT_DEL] = "DELETE FROM c_append_intent WHERE idx = ? "
			 "AND target = ? AND sUID = ?",
	[Q_INTENT_DEL_ALL] = "DELETE FROM c_append_intent WHERE idx = ?",
	[Q_INTENT_ANY] = "SELECT 1 FROM c_append_intent WHERE idx = ? LIMIT 1",
	[Q_INTENT_IDX] = "SELECT DISTINCT idx FROM c_append_intent ORDER BY idx",
};

sqlite3_stmt *
db_stmt(struct db *db, enum db_q q, struct err *err)
{
	sqlite3_stmt *st = db->stmt[q];
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v2(db->db, sql[q], -1, &st, NULL) != SQLITE_OK) {
		db_err(db, err, "prepare");
		return NULL;
	}
	db->stmt[q] = st;
	return st;
}

int
db_step_done(struct db *db, sqlite3_stmt *st, const char *what,
    struct err *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_err(db, err, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_col0_list(struct db *db, enum db_q q, int64_t **v, size_t *n, size_t *cap,
    const char *what, struct err *err)
{
	sqlite3_stmt *st = db_stmt(db, q, err);
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = xgrow(*v, cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_err(db, err, what);
}

int
db_bad_value(struct db *db, struct err *err, const char *what)
{
	return err_set(err, ERR_DB, "%s: %s: value out of range (corrupt "
	    "database?)", db->path, what);
}

int
db_col_u32(struct db *db, sqlite3_stmt *st, int i, uint32_t *v,
    const char *what, struct err *err)
{
	sqlite3_int64 x = sqlite3_column_int64(st, i);
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER || x < 0 ||
	    x > UINT32_MAX)
		return db_bad_value(db, err, what);
	*v = (uint32_t)x;
	return 0;
}

/* HIGHESTMODSEQ: written as a signed 64-bit integer (the reference's
 * sprintf "%lld"), read back as unsigned ("%llu"). */
uint64_t
db_col_modseq(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

void
db_bind_modseq(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Names are BLOBs: the reference binds them as such, and SQLite never
 * finds a BLOB equal to a TEXT. */
int
db_bind_name(struct db *db, sqlite3_stmt *st, int i, const char *name,
    size_t len, struct err *err)
{
	if (len == 0 || len > INT32_MAX)
		return err_set(err, ERR_INTERNAL, "%s: mailbox name of %zu "
		    "bytes", db->path, len);
	sqlite3_bind_blob(st, i, name, (int)len, SQLITE_TRANSIENT);
	return 0;
}

/* STATE_COLS, from column i on. */
int
db_col_states(struct db *db, sqlite3_stmt *st, int i, struct db_state s[2],
    struct err *err)
{
	for (int side = 0; side < 2; side++, i += 3) {
		if (db_col_u32(db, st, i, &s[side].uidvalidity, "UIDVALIDITY",
			err) < 0 ||
		    db_col_u32(db, st, i + 1, &s[side].uidnext, "UIDNEXT",
			err) < 0)
			return -1;
		s[side].highestmodseq = db_col_modseq(st, i + 2);
	}
	return 0;
}
