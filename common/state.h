#ifndef COMMON_STATE_H
#define COMMON_STATE_H

/* The SQLite state database: opened once per run, locked exclusively for
 * the whole run (a second process fails at once with ERR_LOCKED), created
 * with mode 0600, durable commits (WAL, synchronous=FULL), schema versioned
 * with PRAGMA user_version. */

#include <stdbool.h>

#include <sqlite3.h>

#include "err.h"

struct state;

/* migrations[i] is the SQL that takes the schema from version i to i+1.
 * Returns NULL with err: ERR_LOCKED when another process holds the
 * database, ERR_DB for a database newer than this program or a corrupt
 * one, ERR_SYS when the file cannot be created. */
struct state *state_open(const char *path, const char *const *migrations,
    size_t nmigrations, struct err *err);
void state_close(struct state **sp);

const char *state_path(const struct state *s);
/* Sets the file's modification time to now, without writing anything: how
 * a run that changed nothing leaves its mark. -1 with errno on failure. */
int state_touch(struct state *s);

/* Execute SQL without results. */
int state_exec(struct state *s, const char *sql, struct err *err);
/* Prepare a cached statement (valid until state_close); reset and with
 * bindings cleared on every call. */
sqlite3_stmt *state_stmt(struct state *s, const char *sql, struct err *err);
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

#endif
