#ifndef INTERIMAP_DB_INT_H
#define INTERIMAP_DB_INT_H

/* db's insides, shared by the files that implement db.h:
 *   db.c          opening, the lock, closing, transactions, SQLite errors
 *   db_query.c    every query's text, the statement cache, and how values
 *                 are bound and read (the reference's encodings)
 *   db_schema.c   the schema's text, creating it, the pre-0.5 upgrade
 *   db_mailbox.c  the mailboxes table
 *   db_state.c    the local and remote tables, the mailbox lists
 *   db_map.c      the mapping table, QRESYNC's sample
 *   db_summary.c  what --status shows of each mailbox
 *   db_intent.c   our own table of copies under way (c_append_intent)
 * Not for other users: they have db.h.
 *
 * Errors as in db.h: functions returning int return -1 with err set
 * (through db_err() for a failed SQLite call). */

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "db.h"
#include "err.h"

/* SELECT's QRESYNC sample (the reference's numbers, see db_map_sample()):
 * rows looked at (text: it goes into the query), and the length of the
 * set's text. */
#define DB_SAMPLE_ROWS "1024"
#define DB_SAMPLE_TEXT 256

/* Every query (its text is db_query.c's), prepared on first use and kept
 * until db_close(). Pairs indexed by a side come as [local, remote], in
 * that order. */
enum db_q {
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
	Q_STATE_ALL,   /* db_reads.c: every row of Q_STATE_GET */
	Q_MBX_ALL,     /* and of Q_MBX_GET */
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
	Q_SUMMARY_ALL,
	Q_SUMMARY_STATES,
	Q_SUMMARY_ONE,
	/* c_append_intent: prepared only once the table exists */
	Q_INTENT_ADD,
	Q_INTENT_GET,
	Q_INTENT_DEL,
	Q_INTENT_DEL_ALL,
	Q_INTENT_ANY,
	Q_INTENT_IDX,
	Q_COUNT
};

struct db {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[Q_COUNT]; /* NULL until first used */
	/* db_intent_has()'s knowledge: 0 not read yet (or forgotten),
	 * -1 no table, 1 the table exists and intent_idx[0..n) (sorted)
	 * are the mailboxes with rows. */
	int intent_state;
	int64_t *intent_idx;
	size_t intent_n, intent_cap;
	/* db_set_txn_hook()'s, or NULL. */
	const struct db_txn_hook *txn_hook;
	/* db_open()'s (not db_open_peek()'s): db_close() puts the file back
	 * in the rollback-journal mode that db_begin() switched from (to
	 * WAL, before the first write). */
	bool locked, wal_tried;
	/* db_reads_begin()'s transaction is open. */
	bool reads;
	/* Within it (db_reads.c): lookups counted, then tables read whole. */
	struct db_reads_memo *memo;
};

/* ---- db.c -------------------------------------------------------------- */

/* The error of the last SQLite call on db: ERR_LOCKED for a lock held by
 * someone else, ERR_DB otherwise ("PATH: what: SQLite's message"). */
int db_err(struct db *db, struct err *err, const char *what);
/* Runs the statements of sql (no rows wanted); what names them in err. */
int db_exec(struct db *db, const char *sql, const char *what,
    struct err *err);

/* ---- db_query.c -------------------------------------------------------- */

/* The statement for q, reset and with its bindings cleared, or NULL with
 * err. It belongs to db (db_close() finalizes it). Callers leave it reset
 * when they return (db_step_done() and the row loops do), so that no
 * statement stays active between calls. */
sqlite3_stmt *db_stmt(struct db *db, enum db_q q, struct err *err);
/* Steps st (no rows expected) and resets it. */
int db_step_done(struct db *db, sqlite3_stmt *st, const char *what,
    struct err *err);
/* The first column of q's rows (no bindings), appended to *v (*n used,
 * *cap allocated: xgrow()'s) in the order they come, and q reset. 0, or
 * -1 with err (what names the query; what was appended stays). */
int db_col0_list(struct db *db, enum db_q q, int64_t **v, size_t *n,
    size_t *cap, const char *what, struct err *err);
/* ERR_DB: a value read from the file is out of range (corrupt file). */
int db_bad_value(struct db *db, struct err *err, const char *what);
/* Column i of st as a UID-sized value (0 allowed: a new UIDNEXT). */
int db_col_u32(struct db *db, sqlite3_stmt *st, int i, uint32_t *v,
    const char *what, struct err *err);
/* HIGHESTMODSEQ, in the reference's encoding (see struct db_state). */
uint64_t db_col_modseq(sqlite3_stmt *st, int i);
void db_bind_modseq(sqlite3_stmt *st, int i, uint64_t v);
/* Binds a mailbox name (len bytes, not 0) as a BLOB; the bytes are
 * copied. ERR_INTERNAL for an empty or oversized name. */
int db_bind_name(struct db *db, sqlite3_stmt *st, int i, const char *name,
    size_t len, struct err *err);
/* Columns i to i+5 of st: both sides' states, in the order of the
 * queries' state columns (local UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
 * then remote's). */
int db_col_states(struct db *db, sqlite3_stmt *st, int i,
    struct db_state s[2], struct err *err);

/* ---- db_reads.c ------------------------------------------------------- */

/* Within db_reads_begin()'s transaction nothing is written, and the
 * lookups come in a row over a list of mailboxes: after DB_READS_BULK
 * lookups of one kind, its table is read whole, once (one statement
 * rather than one per mailbox), and the rest answered from memory, alike
 * (the same rows: no write between). A table with a value that does not
 * read (a corrupt file) is not kept: the lookups go on one by one and
 * report it as ever. */
#define DB_READS_BULK 16

/* As db_mailbox_get() and db_state_get(): 1 or 0, the answer from
 * memory; -2 when there is none (not within a read transaction, not yet
 * DB_READS_BULK lookups, or not kept): the caller looks it up. */
int db_reads_mailbox(struct db *db, const char *name, size_t len,
    int64_t *idx_r, bool *subscribed_r);
int db_reads_state(struct db *db, int64_t idx, struct db_state st_r[2]);
/* Forgets what was read (db_reads_end()). */
void db_reads_forget(struct db *db);

/* ---- db_intent.c ------------------------------------------------------ */

/* Forgets what db_intent_has() knew (a rollback may have undone it). */
void db_intent_forget(struct db *db);

/* ---- db_schema.c ------------------------------------------------------- */

/* The schema's user_version, and whether the file holds any table. Reads
 * the file: a file that is not a database fails here (ERR_DB). */
int db_schema_read(struct db *db, int *version_r, bool *tables_r,
    struct err *err);

#endif
