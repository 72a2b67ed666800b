#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

struct stmt_cache {
	const char *sql; /* static string: pointer identity is the key */
	sqlite3_stmt *stmt;
};

struct state {
	sqlite3 *db;
	char *path;
	struct stmt_cache *stmts;
	size_t nstmts, capstmts;
};

int
state_err(struct state *s, struct err *err, const char *what)
{
	return err_set(err, ERR_DB, "%s: %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

int
state_exec(struct state *s, const char *sql, struct err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int busy = sqlite3_errcode(s->db) == SQLITE_BUSY;
		err_set(err, busy ? ERR_LOCKED : ERR_DB, "%s: %s", s->path,
		    busy ? "in use by another process (is another pullimap "
			   "running on this section?)"
			 : msg ? msg : "SQL error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *
state_stmt(struct state *s, const char *sql, struct err *err)
{
	sqlite3_stmt *st;
	for (size_t i = 0; i < s->nstmts; i++) {
		if (s->stmts[i].sql == sql) {
			sqlite3_reset(s->stmts[i].stmt);
			sqlite3_clear_bindings(s->stmts[i].stmt);
			return s->stmts[i].stmt;
		}
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		state_err(s, err, "prepare");
		return NULL;
	}
	s->stmts = xgrow(s->stmts, &s->capstmts, s->nstmts + 1,
	    sizeof(*s->stmts));
	s->stmts[s->nstmts].sql = sql;
	s->stmts[s->nstmts].stmt = st;
	s->nstmts++;
	return st;
}

int
state_row(struct state *s, sqlite3_stmt *st, struct state_col *cols,
    size_t n, const char *what, struct err *err)
{
	int rc = sqlite3_step(st);

	memset(cols, 0, n * sizeof(*cols));
	if (rc == SQLITE_ROW) {
		for (size_t i = 0; i < n; i++) {
			int t = sqlite3_column_type(st, (int)i);
			cols[i].null = t == SQLITE_NULL;
			cols[i].i = sqlite3_column_int64(st, (int)i);
			if (t == SQLITE_TEXT || t == SQLITE_BLOB)
				cols[i].text = xstrdup(
				    (const char *)sqlite3_column_text(st,
					(int)i));
		}
	} else if (rc != SQLITE_DONE) {
		state_err(s, err, what);
	}
	/* The reset ends the statement's read transaction: see state.h. */
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
state_cols_free(struct state_col *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cols[i].text);
		cols[i].text = NULL;
	}
}

int
state_step_done(struct state *s, sqlite3_stmt *st, const char *what,
    struct err *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		state_err(s, err, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
state_begin(struct state *s, struct err *err)
{
	return state_exec(s, "BEGIN IMMEDIATE", err);
}

int
state_commit(struct state *s, struct err *err)
{
	if (state_exec(s, "COMMIT", err) == 0)
		return 0;
	/* A failed COMMIT (full disk, I/O error, deferred constraint, busy)
	 * may leave the transaction open: the next autocommit write, which
	 * its caller believes durable on return, would then run inside it
	 * and go with it. */
	state_rollback(s);
	return -1;
}

void
state_rollback(struct state *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

bool
state_in_transaction(const struct state *s)
{
	return !sqlite3_get_autocommit(s->db);
}

bool
state_idle(const struct state *s)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st;
	     st = sqlite3_next_stmt(s->db, st))
		if (sqlite3_stmt_busy(st))
			return false;
	return !state_in_transaction(s);
}

static int
user_version(struct state *s, int *v, struct err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return state_err(s, err, "reading the schema version");
	*v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

struct state *
state_open(const char *path, const char *const *migrations, size_t nmig,
    struct err *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	int fd, v = 0;

	s->path = xstrdup(path);
	/* Create the file ourselves so that it is 0600 from the start:
	 * it holds message metadata. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, ERR_SYS, "cannot open state file %s", path);
		goto fail;
	}
	close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_DB, "%s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	/* EXCLUSIVE locking mode keeps the lock from the first write until
	 * the connection closes: one pullimap per state file. Set before WAL
	 * so that no shared-memory index is used. */
	if (state_exec(s, "PRAGMA locking_mode = EXCLUSIVE", err) < 0 ||
	    state_exec(s, "BEGIN EXCLUSIVE; COMMIT", err) < 0)
		goto fail;
	if (state_exec(s, "PRAGMA journal_mode = WAL; "
			  "PRAGMA synchronous = FULL; "
			  "PRAGMA foreign_keys = ON", err) < 0)
		goto fail;
	if (user_version(s, &v, err) < 0)
		goto fail;
	if (v > (int)nmig) {
		err_set(err, ERR_DB,
		    "%s: schema version %d is newer than this program knows "
		    "(%zu); upgrade pullimap", path, v, nmig);
		goto fail;
	}
	for (; v < (int)nmig; v++) {
		char sql[64];
		if (state_begin(s, err) < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (state_exec(s, migrations[v], err) < 0 ||
		    state_exec(s, sql, err) < 0 || state_commit(s, err) < 0) {
			state_rollback(s);
			goto fail;
		}
	}
	return s;
fail:
	state_close(&s);
	return NULL;
}


const char *
state_path(const struct state *s)
{
	return s->path;
}

int
state_touch(struct state *s)
{
	return utimensat(AT_FDCWD, s->path, NULL, 0);
}

void
state_close(struct state **sp)
{
	struct state *s = *sp;
	if (!s)
		return;
	for (size_t i = 0; i < s->nstmts; i++)
		sqlite3_finalize(s->stmts[i].stmt);
	free(s->stmts);
	if (s->db)
		sqlite3_close(s->db);
	free(s->path);
	free(s);
	*sp = NULL;
}
