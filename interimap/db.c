/* The database's life: opening it (creating an empty file), taking the
 * reference's lock, closing it, and the transactions every write runs in.
 * What is in the file is the other db_*.c files' business (see db_int.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db_int.h"
#include "sigwait.h"

/* The reference's: a second instance gives up after this long. */
#define BUSY_TIMEOUT_MS 250

int
db_err(struct db *db, struct err *err, const char *what)
{
	int rc = sqlite3_errcode(db->db);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return err_set(err, ERR_LOCKED, "%s: database is locked (is "
		    "another interimap running with it?)", db->path);
	return err_set(err, ERR_DB, "%s: %s: %s", db->path, what,
	    sqlite3_errmsg(db->db));
}

int
db_exec(struct db *db, const char *sql, const char *what, struct err *err)
{
	if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, err, what);
	return 0;
}

/* ---- Opening ----------------------------------------------------------- */

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
	if (db_exec(db, "PRAGMA locking_mode = EXCLUSIVE; "
			"PRAGMA foreign_keys = OFF", "setting up", err) < 0 ||
	    db_exec(db, "BEGIN EXCLUSIVE", "locking", err) < 0)
		goto fail;
	/* Read in the lock's transaction: a file that is not a database
	 * fails here, before any traffic too. */
	if (db_schema_read(db, &version, &tables, err) < 0 ||
	    db_exec(db, "COMMIT", "locking", err) < 0)
		goto fail;
	db->locked = true;
	return db;
fail:
	db_close(&db);
	return NULL;
}

int
db_open_peek(const char *path, struct db **dbp, struct err *err)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int version;
	bool tables;

	*dbp = NULL;
	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_DB, "%s: %s", path,
		    db->db ? sqlite3_errmsg(db->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(db->db, 0);
	/* Never wait: a run holds its lock for as long as it lasts. */
	sqlite3_busy_timeout(db->db, 0);
	if (db_schema_read(db, &version, &tables, err) < 0) {
		/* A hot journal that a read-only connection cannot roll
		 * back. */
		if (sqlite3_errcode(db->db) == SQLITE_READONLY)
			err_set(err, ERR_TEMP, "%s: holds the unfinished "
			    "transaction of a run that was killed (the next "
			    "run rolls it back)", path);
		goto fail;
	}
	*dbp = db;
	return tables ? 1 : 0;
fail:
	db_close(&db);
	return -1;
}

/* SQLite's os_unix.c: the pending byte at 1 GiB, then the reserved
 * byte and the 510 bytes of the shared range. */
#define LOCK_FIRST 0x40000000
#define LOCK_BYTES 512

long
db_lock_holder(const char *path)
{
	struct flock fl;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = LOCK_FIRST;
	fl.l_len = LOCK_BYTES;
	if (fcntl(fd, F_GETLK, &fl) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (fl.l_type == F_UNLCK)
		return 0;
	/* (0: a holder in another PID namespace.) */
	return fl.l_pid > 0 ? (long)fl.l_pid : -1;
}

void
db_close(struct db **dbp)
{
	struct db *db = *dbp;
	if (!db)
		return;
	if (db->db) {
		db_reads_end(db);
		db_rollback(db);
		for (size_t i = 0; i < Q_COUNT; i++)
			sqlite3_finalize(db->stmt[i]);
		/* Between runs the file is in the reference's mode, the log
		 * written back into it and gone: what the Perl interimap or
		 * a reader (--status, sqlite3) expects to find. Also when
		 * this run wrote nothing but found the mode a killed run
		 * left (no write then if the mode is already that). If this
		 * fails, the log stays and whoever opens the file next takes
		 * it in, as after a crash. */
		if (db->locked)
			sqlite3_exec(db->db, "PRAGMA journal_mode = DELETE",
			    NULL, NULL, NULL);
		sqlite3_close(db->db);
	}
	free(db->intent_idx);
	free(db->path);
	free(db);
	*dbp = NULL;
}

const char *
db_path(const struct db *db)
{
	return db->path;
}

/* ---- Transactions ------------------------------------------------------ */

void
db_set_txn_hook(struct db *db, const struct db_txn_hook *h)
{
	db->txn_hook = h;
}

bool
db_serialized(void)
{
	return sqlite3_threadsafe() == 1;
}

/* The transaction is the caller's to end (always without a hook). */
static bool
txn_owned(const struct db *db)
{
	return db->txn_hook == NULL || db->txn_hook->owned(db->txn_hook->ctx);
}

static void
txn_release(const struct db *db)
{
	if (db->txn_hook != NULL)
		db->txn_hook->release(db->txn_hook->ctx);
}

int
db_begin(struct db *db, struct err *err)
{
	if (db->txn_hook != NULL)
		db->txn_hook->acquire(db->txn_hook->ctx);
	db_reads_end(db);
	if (db_in_transaction(db))
		return 0;
	/* Before the run's first write, a write-ahead log: a commit then
	 * waits for one fsync, not the rollback journal's four (created,
	 * synced twice, deleted), and a first sync commits a few times per
	 * mailbox. In exclusive locking mode its index lives in our memory
	 * (no -shm file) and the lock stays ours. db_close() goes back to
	 * the reference's rollback journal; a run that writes nothing
	 * changes nothing. A file system that cannot (SQLite then keeps
	 * its mode) is no error: only slower, hence no check. */
	if (!db->wal_tried) {
		db->wal_tried = true;
		sqlite3_exec(db->db, "PRAGMA journal_mode = WAL", NULL, NULL,
		    NULL);
	}
	if (db_exec(db, "BEGIN IMMEDIATE", "starting a transaction",
	    err) == 0)
		return 0;
	txn_release(db);
	return -1;
}

int
db_commit(struct db *db, struct err *err)
{
	int r;

	if (!db_in_transaction(db) || !txn_owned(db))
		return 0;
	/* A COMMIT waits on the disk (fsync): a wait like a server's, during
	 * which another thread may run (sigwait.h's hook; lanes.h). SQLite
	 * serialises the connection: a thread calling it meanwhile waits for
	 * the COMMIT's end, and this one needs nothing of the others until
	 * then. */
	sigwait_hook(true);
	r = db_exec(db, "COMMIT", "committing", err);
	sigwait_hook(false);
	if (r == 0) {
		txn_release(db);
		return 0;
	}
	/* A failed COMMIT may leave the transaction open; the next write,
	 * believed to start a new one, would join it and go with it. */
	db_rollback(db);
	return -1;
}

void
db_rollback(struct db *db)
{
	if (db_in_transaction(db) && txn_owned(db)) {
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		db_intent_forget(db);
		txn_release(db);
	}
}

bool
db_in_transaction(const struct db *db)
{
	return !db->reads && !sqlite3_get_autocommit(db->db);
}

void
db_reads_begin(struct db *db)
{
	if (sqlite3_get_autocommit(db->db) &&
	    sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		db->reads = true;
}

void
db_reads_end(struct db *db)
{
	if (!db->reads)
		return;
	db->reads = false;
	db_reads_forget(db);
	/* (it wrote nothing: COMMIT and ROLLBACK alike) */
	sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}
