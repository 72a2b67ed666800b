#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"

/* The reference's: a second instance gives up after this long. */
#define BUSY_TIMEOUT_MS 250
/* SELECT's QRESYNC sample (the reference's numbers, see db_map_sample()):
 * rows looked at, and the length of the set's text. */
#define SAMPLE_ROWS "1024"
#define SAMPLE_TEXT 256

/* The reference builds each statement as "CREATE TABLE name (" + its
 * column clauses joined by ", " + ")". The padding inside the clauses is
 * part of the text SQLite keeps in sqlite_master: `.schema` of our files
 * and of the Perl program's must be the same, byte for byte. */
#define MAILBOXES_COLS                                                         \
	"idx        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "              \
	"mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, " \
	"subscribed BOOLEAN NOT NULL"
#define SIDE_COLS                                                              \
	"idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), " \
	"UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "     \
	"UIDNEXT       UNSIGNED INT    NOT NULL, "                             \
	"HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL"

static const char *const schema[] = {
	"CREATE TABLE mailboxes (" MAILBOXES_COLS ")",
	"CREATE TABLE local (" SIDE_COLS ")",
	"CREATE TABLE remote (" SIDE_COLS ")",
	"CREATE TABLE mapping ("
	"idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "
	"lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), "
	"rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "
	"PRIMARY KEY (idx,lUID), "
	"UNIQUE      (idx,rUID))",
};

#define STATE_COLS                                                             \
	"l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ, "                          \
	"r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ"

/* Every query, prepared on first use and kept until db_close(). Pairs
 * indexed by a side come as [local, remote], in that order. */
enum q {
	Q_MBX_GET,
	Q_MBX_ADD,
	Q_MBX_SUBSCRIBE,
	Q_MBX_DEL_MAPPING,
	Q_MBX_DEL_LOCAL,
	Q_MBX_DEL_REMOTE,
	Q_MBX_DEL,
	Q_MBX_RENAME,
	Q_MBX_RENAME_CHILDREN,
	Q_STATE_GET,
	Q_STATE_ADD_L,
	Q_STATE_ADD_R,
	Q_STATE_SET_L,
	Q_STATE_SET_R,
	Q_MODSEQ_SET_L,
	Q_MODSEQ_SET_R,
	Q_KNOWN,
	Q_PENDING,
	Q_MAP_ADD,
	Q_MAP_GET_L, /* the remote UID of a local one */
	Q_MAP_GET_R,
	Q_MAP_FIND_L,
	Q_MAP_FIND_R,
	Q_MAP_DEL,
	Q_MAP_DEL_RANGE_L,
	Q_MAP_DEL_RANGE_R,
	Q_MAP_COUNT,
	Q_MAP_PAIRS,
	Q_MAP_PENDING,
	Q_MAP_LAST_L,
	Q_MAP_LAST_R,
	Q_COUNT
};

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
	[Q_PENDING] = "SELECT m.idx, m.mailbox, m.subscribed, " STATE_COLS " FROM mailboxes m "
		      "JOIN local l ON m.idx = l.idx JOIN remote r ON m.idx = r.idx "
		      "WHERE EXISTS (SELECT 1 FROM mapping p WHERE p.idx = m.idx "
		      "AND (p.lUID >= l.UIDNEXT OR p.rUID >= r.UIDNEXT)) "
		      "ORDER BY m.idx",
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
			 "ORDER BY lUID DESC LIMIT " SAMPLE_ROWS,
	[Q_MAP_LAST_R] = "SELECT rUID FROM mapping WHERE idx = ? "
			 "ORDER BY rUID DESC LIMIT " SAMPLE_ROWS,
};

struct db {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[Q_COUNT];
};

/* The error of the last SQLite call on db: ERR_LOCKED for a lock held by
 * someone else, ERR_DB otherwise. Returns -1. */
static int
db_err(struct db *db, struct err *err, const char *what)
{
	int rc = sqlite3_errcode(db->db);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return err_set(err, ERR_LOCKED, "%s: database is locked (is "
		    "another interimap running with it?)", db->path);
	return err_set(err, ERR_DB, "%s: %s: %s", db->path, what,
	    sqlite3_errmsg(db->db));
}

static int
run_sql(struct db *db, const char *s, const char *what, struct err *err)
{
	if (sqlite3_exec(db->db, s, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, err, what);
	return 0;
}

/* The statement for q, reset and with its bindings cleared. Callers leave
 * it reset when they return (step_done(), one_row() and the loops do), so
 * that no statement stays active between calls. */
static sqlite3_stmt *
stmt(struct db *db, enum q q, struct err *err)
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

/* Steps st (no rows expected) and resets it. */
static int
step_done(struct db *db, sqlite3_stmt *st, const char *what,
    struct err *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_err(db, err, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
bad_value(struct db *db, struct err *err, const char *what)
{
	return err_set(err, ERR_DB, "%s: %s: value out of range (corrupt "
	    "database?)", db->path, what);
}

/* Column i of st as a UID-sized value (0 allowed: a new UIDNEXT). */
static int
col_u32(struct db *db, sqlite3_stmt *st, int i, uint32_t *v, const char *what,
    struct err *err)
{
	sqlite3_int64 x = sqlite3_column_int64(st, i);
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER || x < 0 ||
	    x > UINT32_MAX)
		return bad_value(db, err, what);
	*v = (uint32_t)x;
	return 0;
}

/* HIGHESTMODSEQ: written as a signed 64-bit integer (the reference's
 * sprintf "%lld"), read back as unsigned ("%llu"). */
static uint64_t
col_modseq(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

static void
bind_modseq(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Names are BLOBs: the reference binds them as such, and SQLite never
 * finds a BLOB equal to a TEXT. */
static int
bind_name(struct db *db, sqlite3_stmt *st, int i, const char *name,
    size_t len, struct err *err)
{
	if (len == 0 || len > INT32_MAX)
		return err_set(err, ERR_INTERNAL, "%s: mailbox name of %zu "
		    "bytes", db->path, len);
	sqlite3_bind_blob(st, i, name, (int)len, SQLITE_TRANSIENT);
	return 0;
}

/* Columns from i on: the six state columns (STATE_COLS). */
static int
col_states(struct db *db, sqlite3_stmt *st, int i, struct db_state s[2],
    struct err *err)
{
	for (int side = 0; side < 2; side++, i += 3) {
		if (col_u32(db, st, i, &s[side].uidvalidity, "UIDVALIDITY",
			err) < 0 ||
		    col_u32(db, st, i + 1, &s[side].uidnext, "UIDNEXT", err) <
			0)
			return -1;
		s[side].highestmodseq = col_modseq(st, i + 2);
	}
	return 0;
}

/* ---- Opening ----------------------------------------------------------- */

/* The schema: its version, and whether the file holds any table. */
static int
schema_read(struct db *db, int *version_r, bool *tables_r, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		db_err(db, err, "reading the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	*version_r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	/* The reference's test (DBI table_info of type TABLE): any table. */
	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master WHERE "
		"type = 'table' LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, err, "reading the schema");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(db, err, "reading the schema");
		sqlite3_finalize(st);
		return -1;
	}
	*tables_r = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return 0;
}

struct db *
db_open(const char *path, unsigned flags, struct err *err)
{
	struct db *db = xcalloc(1, sizeof(*db));
	struct stat sb;
	int version;
	bool tables;

	db->path = xstrdup(path);
	if (stat(path, &sb) < 0) {
		int fd;
		if (errno != ENOENT) {
			err_sys(err, ERR_SYS, "%s", path);
			goto fail;
		}
		if (flags & DB_OPEN_NO_CREATE) {
			err_set(err, ERR_DB, "%s: no such database (a "
			    "long-running interimap never creates one: run it "
			    "once without --watch or --notify)", path);
			goto fail;
		}
		/* 0600 from the start: it names every mailbox. (Another
		 * process creating it meanwhile is fine: the lock below
		 * sorts us out.) */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			err_sys(err, ERR_SYS, "cannot create %s", path);
			goto fail;
		}
		if (fd >= 0)
			close(fd);
	}
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_DB, "%s: %s", path,
		    db->db ? sqlite3_errmsg(db->db) : "cannot open");
		goto fail;
	}
	if (sqlite3_db_readonly(db->db, "main") == 1) {
		err_set(err, ERR_DB, "%s: database file is read-only", path);
		goto fail;
	}
	sqlite3_extended_result_codes(db->db, 0);
	sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
	/* In exclusive locking mode SQLite keeps every lock it took until
	 * the connection closes: one exclusive transaction now, before any
	 * network traffic, and the database is ours for the whole run. The
	 * Perl interimap does the same (its first statement opens a BEGIN
	 * IMMEDIATE in this mode), so each refuses the other at once. */
	if (run_sql(db, "PRAGMA locking_mode = EXCLUSIVE; "
			"PRAGMA foreign_keys = OFF", "setting up", err) < 0 ||
	    run_sql(db, "BEGIN EXCLUSIVE", "locking", err) < 0)
		goto fail;
	/* Read in the lock's transaction: a file that is not a database
	 * fails here, before any traffic too. */
	if (schema_read(db, &version, &tables, err) < 0 ||
	    run_sql(db, "COMMIT", "locking", err) < 0)
		goto fail;
	return db;
fail:
	db_close(&db);
	return NULL;
}

void
db_close(struct db **dbp)
{
	struct db *db = *dbp;
	if (!db)
		return;
	if (db->db) {
		db_rollback(db);
		for (size_t i = 0; i < Q_COUNT; i++)
			sqlite3_finalize(db->stmt[i]);
		sqlite3_close(db->db);
	}
	free(db->path);
	free(db);
	*dbp = NULL;
}

const char *
db_path(const struct db *db)
{
	return db->path;
}

/* The reference's print_delimiter(): "x" (quote and backslash escaped)
 * or NIL. */
static const char *
delim_text(char d, char buf[5])
{
	if (d == DB_DELIM_NIL)
		return "NIL";
	snprintf(buf, 5, "\"%s%c\"", d == '"' || d == '\\' ? "\\" : "", d);
	return buf;
}

/* interimap < 0.5 to 1 (see db.h), in the caller's transaction. */
static int
upgrade_from_0(struct db *db, char ldelim, char rdelim, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (ldelim != DB_DELIM_NIL && rdelim != DB_DELIM_NIL &&
	    ldelim != rdelim) {
		char lb[5], rb[5];
		/* sic: the reference's message. */
		return err_set(err, ERR_DB, "Local and remote hierachy "
		    "delimiters differ (local %s, remote %s), refusing to "
		    "update table `mailboxes`.", delim_text(ldelim, lb),
		    delim_text(rdelim, rb));
	}
	/* SQLite's 12-step ALTER TABLE recipe, with the reference's
	 * intermediate name (the rename leaves it as CREATE TABLE
	 * "mailboxes" in sqlite_master, as in the Perl program's files). */
	if (run_sql(db, "CREATE TABLE _tmp1_mailboxes (" MAILBOXES_COLS ")",
		"upgrading the schema", err) < 0)
		return -1;
	if (ldelim != DB_DELIM_NIL) {
		if (sqlite3_prepare_v2(db->db,
			"INSERT INTO _tmp1_mailboxes SELECT idx, "
			"CAST(REPLACE(mailbox, ?, x'00') AS BLOB), subscribed "
			"FROM mailboxes", -1, &st, NULL) != SQLITE_OK)
			return db_err(db, err, "upgrading the schema");
		sqlite3_bind_text(st, 1, &ldelim, 1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_err(db, err, "upgrading the schema");
	} else {
		/* Flat namespaces: the names as they were, but as BLOBs. The
		 * reference copies them as they are (TEXT), which no BLOB
		 * lookup finds afterwards: each would come back as a new
		 * mailbox, and its messages be copied again. */
		if (run_sql(db, "INSERT INTO _tmp1_mailboxes SELECT idx, "
				"CAST(mailbox AS BLOB), subscribed FROM mailboxes",
			"upgrading the schema", err) < 0)
			return -1;
	}
	if (run_sql(db, "DROP TABLE mailboxes; "
			"ALTER TABLE _tmp1_mailboxes RENAME TO mailboxes",
		"upgrading the schema", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(db->db, "PRAGMA foreign_key_check", -1, &st,
		NULL) != SQLITE_OK)
		return db_err(db, err, "checking foreign keys");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return err_set(err, ERR_DB, "Broken referential integrity! "
		    "Refusing to commit changes.");
	if (rc != SQLITE_DONE)
		return db_err(db, err, "checking foreign keys");
	return 0;
}

int
db_schema(struct db *db, char ldelim, char rdelim, char **msg_r,
    struct err *err)
{
	int version;
	bool tables;

	*msg_r = NULL;
	if (db_in_transaction(db))
		return err_set(err, ERR_INTERNAL, "%s: schema step inside a "
		    "transaction", db->path);
	if (db_begin(db, err) < 0 ||
	    schema_read(db, &version, &tables, err) < 0)
		goto fail;
	if (version < 1) {
		if (version == 0 && !tables) {
			*msg_r = xasprintf("Creating new schema in database "
					   "file %s", db->path);
			for (size_t i = 0; i < ARRAY_LEN(schema); i++)
				if (run_sql(db, schema[i], "creating the schema",
					err) < 0)
					goto fail;
		} else {
			*msg_r = xasprintf("Upgrading database version from "
					   "%d", version);
			if (upgrade_from_0(db, ldelim, rdelim, err) < 0)
				goto fail;
		}
		if (run_sql(db, "PRAGMA user_version = 1", "setting the schema "
			"version", err) < 0)
			goto fail;
	}
	if (db_commit(db, err) < 0)
		goto fail;
	/* Only outside a transaction (a no-op inside one). */
	return run_sql(db, "PRAGMA foreign_keys = ON", "enabling foreign keys",
	    err);
fail:
	db_rollback(db);
	return -1;
}

/* ---- Transactions ------------------------------------------------------ */

int
db_begin(struct db *db, struct err *err)
{
	if (db_in_transaction(db))
		return 0;
	return run_sql(db, "BEGIN IMMEDIATE", "starting a transaction", err);
}

int
db_commit(struct db *db, struct err *err)
{
	if (!db_in_transaction(db))
		return 0;
	if (run_sql(db, "COMMIT", "committing", err) == 0)
		return 0;
	/* A failed COMMIT may leave the transaction open; the next write,
	 * believed to start a new one, would join it and go with it. */
	db_rollback(db);
	return -1;
}

void
db_rollback(struct db *db)
{
	if (db_in_transaction(db))
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

bool
db_in_transaction(const struct db *db)
{
	return !sqlite3_get_autocommit(db->db);
}

/* ---- Mailboxes --------------------------------------------------------- */

int
db_mailbox_get(struct db *db, const char *name, size_t len, int64_t *idx_r,
    bool *subscribed_r, struct err *err)
{
	sqlite3_stmt *st = stmt(db, Q_MBX_GET, err);
	int rc;

	if (!st || bind_name(db, st, 1, name, len, err) < 0)
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

	if (db_begin(db, err) < 0 || !(st = stmt(db, Q_MBX_ADD, err)) ||
	    bind_name(db, st, 1, name, len, err) < 0)
		return -1;
	sqlite3_bind_int(st, 2, subscribed ? 1 : 0);
	if (step_done(db, st, "adding a mailbox", err) < 0)
		return -1;
	if (idx_r)
		*idx_r = sqlite3_last_insert_rowid(db->db);
	return 0;
}

/* Runs q, taking idx as its only parameter. */
static int
by_idx(struct db *db, enum q q, int64_t idx, const char *what,
    struct err *err)
{
	sqlite3_stmt *st = stmt(db, q, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	return step_done(db, st, what, err);
}

int
db_mailbox_set_subscribed(struct db *db, int64_t idx, bool subscribed,
    struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 ||
	    !(st = stmt(db, Q_MBX_SUBSCRIBE, err)))
		return -1;
	sqlite3_bind_int(st, 1, subscribed ? 1 : 0);
	sqlite3_bind_int64(st, 2, idx);
	return step_done(db, st, "updating a subscription", err);
}

int
db_mailbox_delete(struct db *db, int64_t idx, struct err *err)
{
	/* Referencing tables first: the foreign keys hold at every step. */
	static const enum q order[] = {Q_MBX_DEL_MAPPING, Q_MBX_DEL_LOCAL,
	    Q_MBX_DEL_REMOTE, Q_MBX_DEL};

	if (db_begin(db, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(order); i++)
		if (by_idx(db, order[i], idx, "deleting a mailbox", err) < 0)
			return -1;
	return 0;
}

int
db_mailbox_rename(struct db *db, const char *from, size_t flen,
    const char *to, size_t tlen, uint64_t *changed_r, struct err *err)
{
	sqlite3_stmt *st;
	uint64_t n = 0;
	char *prefix;
	int rc;

	if (db_begin(db, err) < 0 || !(st = stmt(db, Q_MBX_RENAME, err)) ||
	    bind_name(db, st, 1, to, tlen, err) < 0 ||
	    bind_name(db, st, 2, from, flen, err) < 0 ||
	    step_done(db, st, "renaming a mailbox", err) < 0)
		return -1;
	n += (uint64_t)sqlite3_changes(db->db);
	/* The children: every name starting with from and a delimiter. */
	if (!(st = stmt(db, Q_MBX_RENAME_CHILDREN, err)))
		return -1;
	prefix = xmalloc(flen + 1);
	memcpy(prefix, from, flen);
	prefix[flen] = '\0';
	rc = bind_name(db, st, 1, to, tlen, err);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)flen + 1);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)flen + 1);
	if (rc == 0)
		rc = bind_name(db, st, 4, prefix, flen + 1, err);
	free(prefix);
	if (rc < 0 || step_done(db, st, "renaming a mailbox's children",
			  err) < 0)
		return -1;
	n += (uint64_t)sqlite3_changes(db->db);
	if (changed_r)
		*changed_r = n;
	return 0;
}

/* ---- Per-side states --------------------------------------------------- */

int
db_state_get(struct db *db, int64_t idx, struct db_state st_r[2],
    struct err *err)
{
	sqlite3_stmt *st = stmt(db, Q_STATE_GET, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (col_states(db, st, 0, st_r, err) < 0)
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
	const enum q q[2] = {Q_STATE_ADD_L, Q_STATE_ADD_R};
	const uint32_t v[2] = {luidvalidity, ruidvalidity};

	if (db_begin(db, err) < 0)
		return -1;
	for (int side = 0; side < 2; side++) {
		sqlite3_stmt *st = stmt(db, q[side], err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int64(st, 2, v[side]);
		if (step_done(db, st, "adding a mailbox's state", err) < 0)
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
	    !(st = stmt(db, side == DB_LOCAL ? Q_STATE_SET_L : Q_STATE_SET_R,
		  err)))
		return -1;
	sqlite3_bind_int64(st, 1, uidnext);
	bind_modseq(st, 2, highestmodseq);
	sqlite3_bind_int64(st, 3, idx);
	return step_done(db, st, "updating a mailbox's state", err);
}

int
db_state_set_modseq(struct db *db, enum db_side side, int64_t idx,
    uint64_t highestmodseq, struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 ||
	    !(st = stmt(db, side == DB_LOCAL ? Q_MODSEQ_SET_L : Q_MODSEQ_SET_R,
		  err)))
		return -1;
	bind_modseq(st, 1, highestmodseq);
	sqlite3_bind_int64(st, 2, idx);
	return step_done(db, st, "updating a mailbox's HIGHESTMODSEQ", err);
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
mbx_list(struct db *db, enum q q, struct db_mbx **v_r, size_t *n_r,
    const char *what, struct err *err)
{
	sqlite3_stmt *st = stmt(db, q, err);
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
		if (col_states(db, st, 3, m->st, err) < 0)
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
db_pending_list(struct db *db, struct db_mbx **v_r, size_t *n_r,
    struct err *err)
{
	return mbx_list(db, Q_PENDING, v_r, n_r,
	    "listing interrupted syncs", err);
}

/* ---- Mapping ----------------------------------------------------------- */

int
db_map_add(struct db *db, int64_t idx, uint32_t luid, uint32_t ruid,
    struct err *err)
{
	sqlite3_stmt *st;

	if (db_begin(db, err) < 0 || !(st = stmt(db, Q_MAP_ADD, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, luid);
	sqlite3_bind_int64(st, 3, ruid);
	return step_done(db, st, "adding a UID pair", err);
}

int
db_map_get(struct db *db, int64_t idx, enum db_side side, uint32_t uid,
    uint32_t *other_r, struct err *err)
{
	sqlite3_stmt *st =
	    stmt(db, side == DB_LOCAL ? Q_MAP_GET_L : Q_MAP_GET_R, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (col_u32(db, st, 0, other_r, "UID", err) < 0)
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
		if (col_u32(db, st, 0, &p.luid, "lUID", err) < 0 ||
		    col_u32(db, st, 1, &p.ruid, "rUID", err) < 0)
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
pairs_of(struct db *db, enum q q, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err)
{
	sqlite3_stmt *st = stmt(db, q, err);
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
		sqlite3_stmt *st = stmt(db,
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

	if (db_begin(db, err) < 0 || !(st = stmt(db, Q_MAP_DEL, err)))
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, luid);
	if (step_done(db, st, "deleting a UID pair", err) < 0)
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
		sqlite3_stmt *st = stmt(db,
		    side == DB_LOCAL ? Q_MAP_DEL_RANGE_L : Q_MAP_DEL_RANGE_R,
		    err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_int64(st, 2, set->r[i].lo);
		sqlite3_bind_int64(st, 3, set->r[i].hi);
		if (step_done(db, st, "deleting UID pairs", err) < 0)
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
	sqlite3_stmt *st = stmt(db, Q_MAP_COUNT, err);
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
		return bad_value(db, err, "message count");
	st = stmt(db, side == DB_LOCAL ? Q_MAP_LAST_L : Q_MAP_LAST_R, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	/* From the highest UID down (the lowest are the likeliest to still
	 * be there, the highest the likeliest to tell an expunge): runs of
	 * consecutive UIDs are taken whole, the set closing once its text
	 * passes the limit. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (col_u32(db, st, 0, &k, "UID", err) < 0)
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
			if (text > SAMPLE_TEXT) {
				full = true;
				break;
			}
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(db, err, "sampling UIDs");
	if (rc == SQLITE_ROW && !full)
		return -1; /* col_u32() */
	if (!have)
		return 0;
	if (!full) {
		/* May pass the limit by one run, as the reference's does. */
		n += (uint64_t)hi - lo + 1;
		uidset_add(uids, lo, hi);
	}
	if (n > count)
		return bad_value(db, err, "message count");
	uidset_normalise(uids);
	*seq_lo_r = (uint32_t)(count - n + 1);
	*seq_hi_r = (uint32_t)count;
	return 1;
}
