#ifndef COMMON_STATE_H
#define COMMON_STATE_H

/* The SQLite state database: opened once per run, locked exclusively for
 * the whole run (a second process fails at once with ERR_LOCKED), created
 * with mode 0600, durable commits (WAL, synchronous=FULL), schema versioned
 * with PRAGMA user_version. Readers (state_open_readonly()) need no lock:
 * they read beside a running writer, and write nothing.
 * The state must be on a local file system (WAL's shared memory, flock()). */

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err.h"

struct state;

/* Opens the database for writing, creating it if needed, and locks it
 * (flock() on the file, held until state_close()) before anything else.
 * migrations[i] is the SQL that takes the schema from version i to i+1.
 * program names the user in messages ("is another pullimap running with
 * it?", "upgrade pullimap").
 * Returns NULL with err: ERR_LOCKED at once when another process holds the
 * lock, ERR_DB for a database newer than this program or a corrupt one,
 * ERR_SYS when the file cannot be created or locked. */
struct state *state_open(const char *path, const char *program,
    const char *const *migrations, size_t nmigrations, struct err *err);
/* Opens the existing database at path for reading only: takes no lock
 * that a writer (state_open()) would wait for or fail on, creates no file,
 * changes nothing (no journal mode, no migration: *version_r is the schema
 * version as found, 0 for an empty file; the caller decides what it can
 * read of an older one). Returns NULL with err: ERR_DB for a schema newer
 * than nmigrations (as state_open()) or a file that is not a database,
 * ERR_SYS when it cannot be opened (a missing file included). Check
 * state_unchanged() after reading. */
struct state *state_open_readonly(const char *path, const char *program,
    size_t nmigrations, int *version_r, struct err *err);
/* For a database opened by state_open_readonly(): false when what was
 * read may mix two versions (a writer started after the open and wrote to
 * the file): close and read again. Always true otherwise. */
bool state_unchanged(const struct state *s);
void state_close(struct state **sp);

const char *state_path(const struct state *s);
/* Sets the file's modification time to now, without writing anything: how
 * a run that changed nothing leaves its mark. -1 with errno on failure. */
int state_touch(struct state *s);

/* Execute SQL without results. */
int state_exec(struct state *s, const char *sql, struct err *err);

/* Cached statements. state_stmt() returns the statement for sql, prepared
 * on the first call and kept until state_close() (sql must be a string
 * that lives as long: its address is the key), reset and with its
 * bindings cleared; NULL with err when it does not compile.
 * The caller binds, steps, and must leave the statement reset before it
 * returns: state_row() for a read of one row and state_step_done() for a
 * statement without rows do that; after a loop over rows (left early or
 * not), call sqlite3_reset(). Why: a statement stepped to a row and not
 * reset keeps its read transaction open, which pins the snapshot of the
 * WAL it started with: no checkpoint can then start the WAL over, and it
 * grows with every write for as long as the connection lives (days, for
 * a long-running program). Column values (sqlite3_column_text()...) are only
 * valid until the reset: copy them out first. */
sqlite3_stmt *state_stmt(struct state *s, const char *sql, struct err *err);

/* A column value copied out of a row by state_row(). */
struct state_col {
	bool null;   /* SQL NULL */
	int64_t i;   /* sqlite3_column_int64(): 0 for NULL */
	char *text;  /* allocated copy of a TEXT or BLOB value, else NULL */
};
/* Steps st once, copies the first n columns of the row to cols, and resets
 * st in every case. Returns 1 with cols filled (free them with
 * state_cols_free()), 0 when there is no row (cols zeroed), -1 with err
 * (ERR_DB, naming what was being done). */
int state_row(struct state *s, sqlite3_stmt *st, struct state_col *cols,
    size_t n, const char *what, struct err *err);
void state_cols_free(struct state_col *cols, size_t n);
/* Steps st, which must return no row, to its end and resets it: 0, or -1
 * with err (ERR_DB, naming what was being done). */
int state_step_done(struct state *s, sqlite3_stmt *st, const char *what,
    struct err *err);
/* Error from the last SQLite call, in err (ERR_DB). Returns -1. */
int state_err(struct state *s, struct err *err, const char *what);

int state_begin(struct state *s, struct err *err);
/* Durable once this returns 0. On failure the transaction is rolled back:
 * none is open when this returns, whatever it returns. */
int state_commit(struct state *s, struct err *err);
/* Rolls back the open transaction, if any. */
void state_rollback(struct state *s);
/* True while an explicit transaction is open (not autocommit). */
bool state_in_transaction(const struct state *s);
/* True when no transaction is open and no statement is in progress (for
 * assertions and tests: see state_stmt()). */
bool state_idle(const struct state *s);

#endif
