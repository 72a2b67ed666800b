#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

/* Enough for any lock SQLite takes for a moment; the one long-held lock,
 * another writer's, is the flock(), which never waits. */
#define BUSY_TIMEOUT_MS 5000

struct stmt_cache {
	const char *sql; /* static string: pointer identity is the key */
	sqlite3_stmt *stmt;
};

struct state {
	sqlite3 *db;
	char *path;
	char *program;    /* who uses it, for messages */
	struct stmt_cache *stmts;
	size_t nstmts, capstmts;
	int lockfd;       /* state_open(): holds the flock(); else -1 */
	bool immutable;   /* read-only, opened without a WAL; then st0 is */
	struct stat st0;  /* the file as it was before the open */
};

/* "in use by another process (is another PROGRAM running with it?)" */
static int
in_use(const char *path, const char *program, struct err *err)
{
	return err_set(err, ERR_LOCKED, "%s: in use by another process (is "
	    "another %s running with it?)", path, program);
}

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
		if (sqlite3_errcode(s->db) == SQLITE_BUSY)
			in_use(s->path, s->program, err);
		else
			err_set(err, ERR_DB, "%s: %s", s->path,
			    msg ? msg : "SQL error");
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
	int rc = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return state_err(s, err, "reading the schema version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = 0;
	} else {
		state_err(s, err, "reading the schema version");
	}
	sqlite3_finalize(st);
	return rc;
}

static int
newer_schema(const struct state *s, int v, size_t known, struct err *err)
{
	return err_set(err, ERR_DB, "%s: schema version %d is newer than this "
	    "program knows (%zu); upgrade %s", s->path, v, known, s->program);
}

struct state *
state_open(const char *path, const char *program,
    const char *const *migrations, size_t nmig, struct err *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	int v = 0;

	s->path = xstrdup(path);
	s->program = xstrdup(program);
	/* Create the file ourselves so that it is 0600 from the start:
	 * it holds message metadata. */
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		err_sys(err, ERR_SYS, "cannot open state file %s", path);
		goto fail;
	}
	/* One writer per state file, refused at once: an flock() on the
	 * file, held until state_close(). SQLite's own locks (fcntl(), which
	 * Linux keeps apart from flock()) stay in normal mode, so that the
	 * WAL's shared-memory index lets readers (--status) in beside us.
	 * (The fd is closed only after SQLite's connection: closing any fd
	 * of a file drops the process's fcntl() locks on it.) */
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			in_use(path, program, err);
		else
			err_sys(err, ERR_SYS, "cannot lock state file %s",
			    path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_DB, "%s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	/* A reader may hold SQLite's locks for a moment (recovering the WAL
	 * index after a crash, say): wait for it rather than fail. */
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (state_exec(s, "PRAGMA journal_mode = WAL; "
			  "PRAGMA synchronous = FULL; "
			  "PRAGMA foreign_keys = ON", err) < 0)
		goto fail;
	if (user_version(s, &v, err) < 0)
		goto fail;
	if (v > (int)nmig) {
		newer_schema(s, v, nmig, err);
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

/* "file:" URI for path (RFC 8089 as SQLite reads it): '%', '?' and '#'
 * escaped; an absolute path gets the empty authority, so that one starting
 * with "//" is not taken for a host. */
static char *
file_uri(const char *path, const char *query)
{
	size_t n = strlen(path);
	char *u = xmalloc(3 * n + strlen(query) + 16), *p = u;

	p += sprintf(p, "file:%s", path[0] == '/' ? "//" : "");
	for (; *path; path++) {
		if (*path == '%' || *path == '?' || *path == '#')
			p += sprintf(p, "%%%02X", (unsigned char)*path);
		else
			*p++ = *path;
	}
	sprintf(p, "?%s", query);
	return u;
}

struct state *
state_open_readonly(const char *path, const char *program, size_t nmig,
    int *version_r, struct err *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	char *wal = xasprintf("%s-wal", path), *uri;
	struct stat sb;
	int rc;

	s->path = xstrdup(path);
	s->program = xstrdup(program);
	s->lockfd = -1;
	/* With a WAL (a writer has it open, or crashed), SQLite reads it
	 * through its shared-memory index, as a reader beside the writer.
	 * Without one, nobody is writing: SQLite would create a WAL and an
	 * index of its own (and fail where it cannot), and, read-only, could
	 * not remove them. The file alone is then the whole database: read
	 * it as immutable, and state_unchanged() tells whether a writer
	 * started meanwhile and touched it. (A writer removes its WAL only
	 * after its last checkpoint into the file: what we stat after
	 * seeing no WAL is complete. If it ends between that test and the
	 * open, SQLite leaves an empty WAL and index behind, which the next
	 * run uses and removes.) */
	s->immutable = stat(wal, &sb) < 0 && errno == ENOENT;
	if (stat(path, &s->st0) < 0) {
		err_sys(err, ERR_SYS, "cannot open state file %s", path);
		goto fail;
	}
	uri = file_uri(path, s->immutable ? "mode=ro&immutable=1" : "mode=ro");
	rc = sqlite3_open_v2(uri, &s->db,
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		err_set(err, ERR_DB, "%s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* The last connection to close checkpoints the WAL into the file
	 * and removes it: never a reader's job. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (user_version(s, version_r, err) < 0)
		goto fail;
	if (*version_r > (int)nmig) {
		newer_schema(s, *version_r, nmig, err);
		goto fail;
	}
	free(wal);
	return s;
fail:
	free(wal);
	state_close(&s);
	return NULL;
}

bool
state_unchanged(const struct state *s)
{
	struct stat sb;

	if (!s->immutable)
		return true;
	return stat(s->path, &sb) == 0 && sb.st_dev == s->st0.st_dev &&
	    sb.st_ino == s->st0.st_ino && sb.st_size == s->st0.st_size &&
	    sb.st_mtim.tv_sec == s->st0.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == s->st0.st_mtim.tv_nsec &&
	    sb.st_ctim.tv_sec == s->st0.st_ctim.tv_sec &&
	    sb.st_ctim.tv_nsec == s->st0.st_ctim.tv_nsec;
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
	/* After SQLite's close: see state_open(). */
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->path);
	free(s->program);
	free(s);
	*sp = NULL;
}
