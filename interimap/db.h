#ifndef INTERIMAP_DB_H
#define INTERIMAP_DB_H

/* interimap's SQLite database, in the Perl interimap 0.5.7's exact format
 * (schema text, user_version 1, rollback journal between runs, value
 * encodings), so that either program continues the other's database.
 *
 * Tables (the reference's invariants):
 *   mailboxes (idx, mailbox, subscribed): one row per synchronised mailbox.
 *     mailbox is a BLOB: the name as on the wire (modified UTF-7), without
 *     the list-reference, each hierarchy delimiter replaced by a NUL byte.
 *     idx is AUTOINCREMENT: never reused.
 *   local, remote (idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ): the last
 *     synced state of each side. Every message below UIDNEXT has been
 *     replicated, every change up to HIGHESTMODSEQ propagated. A row of
 *     one side always has its twin on the other.
 *   mapping (idx, lUID, rUID): one-to-one UID pairs per mailbox. Pairs with
 *     lUID >= local.UIDNEXT or rUID >= remote.UIDNEXT exist only while a
 *     copy is under way: left over, they mark an interrupted sync.
 * And one table of ours, which the reference ignores: c_append_intent, the
 * copies under way (see "Copies under way" below).
 *
 * Why sqlite3 directly and not common/state.c: state.c is pullimap's model
 * (an flock() beside SQLite, WAL, migrations run at open, TEXT columns
 * copied as C strings). The reference's database needs the opposite on
 * each point: SQLite's own exclusive locking mode (what the Perl program
 * honours and takes), the reference's rollback journal between runs (a
 * write-ahead log only while a run that writes holds the file), a schema
 * step that waits for both servers' hierarchy delimiters, and BLOB names
 * holding NUL bytes. A small statement cache of its own (one prepared
 * statement per query, by enum) is all it shares in spirit with state.c.
 *
 * Implemented by interimap/db*.c, one file per job (their list and what
 * they share: db_int.h, which no other file includes).
 *
 * Transactions follow the reference (DBI AutoCommit off): every function
 * that writes opens a transaction (BEGIN IMMEDIATE) if none is open, and
 * nothing is durable before db_commit(). So a caller cannot make a write
 * durable by forgetting a BEGIN: deleting mapping rows before the servers
 * confirmed the EXPUNGE stays undone until the caller commits.
 *
 * Errors: functions that can fail take a caller-owned struct err and return
 * -1 with it set (ERR_DB naming the file and the operation, unless said
 * otherwise). Lookups return 1 when found, 0 when not.
 * Memory: everything a function hands out belongs to the caller, freed
 * with the free function named beside it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "uidlist.h"

struct db;

enum db_side {
	DB_LOCAL = 0,
	DB_REMOTE = 1,
};

/* One side's last synced state (a row of `local` or `remote`). A new row
 * has uidnext 0 and highestmodseq 0 until the mailbox's first sync ends.
 * highestmodseq is stored as the reference does (a signed 64-bit integer:
 * values >= 2^63 are negative in the file) and read back as unsigned. */
struct db_state {
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

/* A mailbox with both sides' states. name holds len bytes (NUL bytes for
 * the hierarchy delimiters) and a terminating NUL after them. */
struct db_mbx {
	int64_t idx;
	char *name;
	size_t len;
	bool subscribed;
	struct db_state st[2]; /* [DB_LOCAL], [DB_REMOTE] */
};
void db_mbx_free(struct db_mbx *v, size_t n);

struct db_pair {
	uint32_t luid, ruid;
};

/* ---- Opening ----------------------------------------------------------- */

/* Don't create a missing file: the reference's --watch and --notify modes,
 * long-lived, never start a new database. */
#define DB_OPEN_NO_CREATE 0x1

/* Opens the database at path (its directory exists: creating it 0700 is
 * the caller's job) and locks it for as long as it stays open, before any
 * network traffic, as the reference does:
 * - a missing file is created empty, mode 0600 (O_CREAT|O_EXCL), unless
 *   DB_OPEN_NO_CREATE; SQLite opens it read-write, never creating it;
 * - busy timeout 250 ms, PRAGMA locking_mode = EXCLUSIVE, then an
 *   exclusive transaction at once: a second instance (ours or the Perl
 *   one) fails within the 250 ms, and once committed the lock stays with
 *   this connection until db_close();
 * - foreign keys off until db_schema() (the reference's order).
 * Nothing in the file is changed: the schema step is db_schema()'s. The
 * first db_begin() switches the file to WAL journal mode (one fsync per
 * commit; in exclusive locking mode, no -shm file); db_close() switches it
 * back. A run killed meanwhile leaves it in WAL mode, which SQLite (ours,
 * the Perl program's, sqlite3's, a read-only peek's) reads as it is.
 * Returns NULL with err: ERR_LOCKED (one line naming the file) when another
 * process holds the database; ERR_DB for a missing file with
 * DB_OPEN_NO_CREATE, a read-only file or one that is not a database;
 * ERR_SYS when the file cannot be created. */
struct db *db_open(const char *path, unsigned flags, struct err *err);
/* Rolls back a transaction still open (as the reference's disconnect does),
 * puts a db_open() file back in rollback-journal mode (the log written back
 * into it and removed) and closes; *dbp becomes NULL. */
void db_close(struct db **dbp);
const char *db_path(const struct db *db);

/* Opens the database at path to read it beside whoever holds it
 * (--status): read-only (never created, never written), in SQLite's
 * normal locking mode (a shared lock for each read only), busy timeout
 * 0, foreign keys untouched, the schema as it is (no upgrade). Returns 1
 * with *dbp when the file holds tables, 0 with *dbp when it holds none
 * (an empty file: a run stopped before its schema step), or -1 with err,
 * *dbp NULL: ERR_LOCKED when a run holds it (interimap's and the Perl
 * one's exclusive locking mode keep readers out for the whole run);
 * ERR_TEMP when it holds a transaction left by a killed run, which the
 * next run rolls back (a read-only reader cannot); ERR_DB for a missing
 * file or one that is not a database. Reads only db_summary_*() then,
 * and db_close() it. A reader may delay the Perl interimap's commit by
 * as long as one of its reads lasts (a few ms; it waits 250 ms). */
int db_open_peek(const char *path, struct db **dbp, struct err *err);

/* The process that holds a lock on the database at path: its pid, 0
 * when none does, -1 when that cannot be told (or the holder cannot be
 * named). SQLite's unix VFS locks
 * bytes of the file (fcntl(2) record locks from 0x40000000); F_GETLK
 * names the holder of one that conflicts, taking none. A run holds such
 * a lock from its start (both programs' exclusive locking mode), a
 * --status reader for a read only. Call it while this process has no
 * connection to the file: closing its descriptor would drop the
 * process's own locks on it (fcntl(2)). */
long db_lock_holder(const char *path);

/* Hierarchy delimiter value for a flat namespace (LIST's NIL): NUL is
 * never a delimiter (RFC 3501 QUOTED-CHAR). */
#define DB_DELIM_NIL '\0'

/* The schema step, run once both servers' delimiters are known (after
 * LIST, as the reference does), then foreign keys on. By user_version:
 * - 0 and no table: creates the four tables (byte for byte the
 *   reference's statements), user_version 1, commit;
 *   *msg_r = "Creating new schema in database file PATH".
 * - 0 with tables (interimap < 0.5: names stored with the real delimiter,
 *   as TEXT): *msg_r = "Upgrading database version from 0"; fails when
 *   both delimiters are known and differ ("Local and remote hierachy
 *   delimiters differ (local "/", remote "."), refusing to update table
 *   `mailboxes`.", sic: the reference's words, which it prints without a
 *   component prefix); else rebuilds `mailboxes` with the local delimiter
 *   (if any) replaced by NUL bytes, as BLOBs, through _tmp1_mailboxes
 *   (SQLite's 12-step ALTER recipe: the file ends up byte for byte as
 *   the reference's, sqlite_sequence reset to the highest idx included),
 *   checks PRAGMA foreign_key_check ("Broken referential integrity!
 *   Refusing to commit changes.", the reference's "database" component),
 *   user_version 1, commit. On failure nothing is changed. One departure:
 *   with flat namespaces the reference copies the names as they were,
 *   TEXT, which its own BLOB lookups never find again (every mailbox
 *   would come back as new and be copied again); here they become BLOBs
 *   like the others.
 * - 1 or more: nothing (*msg_r NULL). A later version is accepted as the
 *   reference accepts it.
 * *msg_r is NULL or an allocated line the caller logs (the reference prints
 * it without prefix, even with -q) and frees, whatever the return: the
 * upgrade's line comes before its possible failure. */
int db_schema(struct db *db, char ldelim, char rdelim, char **msg_r,
    struct err *err);

/* ---- Transactions ------------------------------------------------------ */

/* BEGIN IMMEDIATE unless a transaction is open (then 0: nothing to do). */
int db_begin(struct db *db, struct err *err);
/* Commits the open transaction (0 when none is open). Durable once this
 * returns 0. On failure the transaction is rolled back: none is open when
 * this returns, whatever it returns. */
int db_commit(struct db *db, struct err *err);
/* Rolls back the open transaction, if any. */
void db_rollback(struct db *db);
/* Whether a transaction that db_begin() opened is open (not
 * db_reads_begin()'s). */
bool db_in_transaction(const struct db *db);

/* Lookups in a row (one or two per mailbox over a list of thousands)
 * cost SQLite a look at the file (fstat) each outside a transaction, once
 * inside one. db_reads_begin() opens a read transaction unless one of
 * either kind is open (nothing on failure: the reads then go one by
 * one); db_reads_end() ends it if it is still open. A db_begin() meanwhile
 * ends it first: its writes are in a transaction of their own, durable at
 * its db_commit() as ever, and the reads after it go one by one. */
void db_reads_begin(struct db *db);
void db_reads_end(struct db *db);

/* Several threads sharing the connection one at a time (interimap's
 * lanes, lanes.h), each with writes of its own: SQLite has one
 * transaction per connection, and a thread's commit would make another's
 * half-done writes durable. With a hook set, db_begin() calls acquire()
 * first, which returns once the calling thread owns the transaction
 * (letting the others run until then); db_commit() and db_rollback() do
 * nothing unless owned() says the caller owns it, and call release() once
 * it ended. h (borrowed, NULL: none) must outlive its use; set while no
 * transaction is open. */
struct db_txn_hook {
	void (*acquire)(void *ctx);
	bool (*owned)(void *ctx);
	void (*release)(void *ctx);
	void *ctx;
};
void db_set_txn_hook(struct db *db, const struct db_txn_hook *h);
/* Whether the SQLite library serialises each connection (its default
 * build): without, no second thread may touch one. */
bool db_serialized(void);

/* ---- Mailboxes --------------------------------------------------------- */
/* name, len: the internal name (delimiters as NUL bytes), never empty. */

/* The mailbox's idx and subscription flag: 1, or 0 when unknown. */
int db_mailbox_get(struct db *db, const char *name, size_t len,
    int64_t *idx_r, bool *subscribed_r, struct err *err);
/* Adds a mailbox (its local and remote rows come with db_state_add());
 * *idx_r its new idx (idx_r may be NULL). */
int db_mailbox_add(struct db *db, const char *name, size_t len,
    bool subscribed, int64_t *idx_r, struct err *err);
int db_mailbox_set_subscribed(struct db *db, int64_t idx, bool subscribed,
    struct err *err);
/* Removes the mailbox idx and everything about it (mapping, local, remote,
 * mailboxes, in that order for the foreign keys; then our copies under
 * way): --delete. Its children
 * stay. No error when idx is unknown. */
int db_mailbox_delete(struct db *db, int64_t idx, struct err *err);
/* Renames from to to, and every child from\0... to to\0... (--rename);
 * *changed_r (may be NULL) the number of rows renamed, 0 when neither from
 * nor a child was known (the reference then logs nothing). A name already
 * taken is a constraint error (the caller checks db_mailbox_get() first,
 * as the reference does). */
int db_mailbox_rename(struct db *db, const char *from, size_t flen,
    const char *to, size_t tlen, uint64_t *changed_r, struct err *err);

/* ---- Per-side states --------------------------------------------------- */

/* Both sides' states of idx (st_r[DB_LOCAL], st_r[DB_REMOTE]): 1, or 0
 * when the mailbox has no rows yet (never selected). */
int db_state_get(struct db *db, int64_t idx, struct db_state st_r[2],
    struct err *err);
/* Inserts both sides' rows at the mailbox's first SELECT: the given
 * UIDVALIDITYs (> 0), UIDNEXT 0 and HIGHESTMODSEQ 0. */
int db_state_add(struct db *db, int64_t idx, uint32_t luidvalidity,
    uint32_t ruidvalidity, struct err *err);
/* One side's UIDNEXT and HIGHESTMODSEQ, at the end of a mailbox's sync. */
int db_state_set(struct db *db, enum db_side side, int64_t idx,
    uint32_t uidnext, uint64_t highestmodseq, struct err *err);
/* One side's HIGHESTMODSEQ alone, after a flag/vanish pass. */
int db_state_set_modseq(struct db *db, enum db_side side, int64_t idx,
    uint64_t highestmodseq, struct err *err);

/* Every mailbox that has state rows, with both states, by idx: what the
 * client caches are loaded from (dirty detection, UIDVALIDITY checks). */
int db_known_list(struct db *db, struct db_mbx **v_r, size_t *n_r,
    struct err *err);
/* The idx of the mailboxes with an interrupted copy (a mapping row with
 * lUID >= local.UIDNEXT or rUID >= remote.UIDNEXT), ascending: *v_r is
 * allocated (NULL when *n_r is 0), the caller frees it. 0, or -1 with
 * err. */
int db_pending_idx(struct db *db, int64_t **v_r, size_t *n_r,
    struct err *err);

/* ---- Mapping ----------------------------------------------------------- */

int db_map_add(struct db *db, int64_t idx, uint32_t luid, uint32_t ruid,
    struct err *err);
/* The UID paired with uid, uid being of side: 1 with *other_r, or 0. */
int db_map_get(struct db *db, int64_t idx, enum db_side side, uint32_t uid,
    uint32_t *other_r, struct err *err);
/* The pairs whose side UID is in set, sorted by that UID: how a VANISHED
 * set finds its counterparts in one query per range. *pairs_r is
 * allocated (NULL when *n_r is 0); the caller frees it. */
int db_map_find(struct db *db, int64_t idx, enum db_side side,
    struct uidset *set, struct db_pair **pairs_r, size_t *n_r,
    struct err *err);
/* Deletes the pair (idx, luid): 1, or 0 when there was none (the reference
 * warns "Can't delete (idx,lUID) = (i,u)"). */
int db_map_delete(struct db *db, int64_t idx, uint32_t luid,
    struct err *err);
/* Deletes the pairs whose side UID is in set; *deleted_r (may be NULL)
 * how many. */
int db_map_delete_set(struct db *db, int64_t idx, enum db_side side,
    struct uidset *set, uint64_t *deleted_r, struct err *err);
/* Number of pairs of idx. */
int db_map_count(struct db *db, int64_t idx, uint64_t *n_r, struct err *err);
/* Every pair of idx, by lUID (--repair). *pairs_r as db_map_find(). */
int db_map_pairs(struct db *db, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err);
/* The pairs of an interrupted copy of idx (see db_pending_idx()), by
 * lUID. *pairs_r as db_map_find(). */
int db_map_pending(struct db *db, int64_t idx, struct db_pair **pairs_r,
    size_t *n_r, struct err *err);

/* The message-sequence-match data of SELECT's QRESYNC parameter (RFC 7162
 * §3.2.5.2) for side, sampled as the reference does: among the side's
 * 1024 highest mapped UIDs, from the top down, whole runs of consecutive
 * UIDs while the set's text stays within 256 bytes (the run that passes
 * the limit is the last one taken; the one after it is left out). With
 * count pairs in all and n UIDs sampled, the sequence numbers are
 * count-n+1:count (assuming the mapping is the mailbox).
 * Returns 1 with *seq_lo_r, *seq_hi_r and uids filled (uids must come in
 * empty; uidset_format() of it is the reference's text; send the sequence
 * range as "lo:hi" even when lo == hi, as the reference does), or 0 when
 * idx has no pair (send no match data). */
int db_map_sample(struct db *db, int64_t idx, enum db_side side,
    uint32_t *seq_lo_r, uint32_t *seq_hi_r, struct uidset *uids,
    struct err *err);

/* ---- Summaries (interimap --status, istatus.h) ------------------------- */

/* What the database says of a mailbox, for a person. */
struct db_summary {
	int64_t idx;
	char *name;              /* as struct db_mbx: len bytes, then NUL */
	size_t len;
	bool synced;             /* it has state rows; else st is zeroes */
	struct db_state st[2];   /* [DB_LOCAL], [DB_REMOTE] */
	uint64_t pairs;          /* its mapping rows */
	uint64_t pending;        /* of them, those of an interrupted copy
	                          * (see the mapping table above) */
	uint64_t copying[2];     /* records of a copy under way still valid
	                          * (db_intent_get_valid(), the servers'
	                          * UIDVALIDITYs not known), by target:
	                          * [DB_LOCAL], [DB_REMOTE] */
};
void db_summary_free(struct db_summary *v, size_t n);

/* Every mailbox of the mailboxes table, with or without state rows, in
 * bytewise order of the internal names, as one statement (one consistent
 * read). count: with the pairs, at the cost of a scan of the mapping
 * table's index (some 70 ms for a million pairs, when cached), and the
 * copies under way (of the mailboxes that have records only); else
 * pairs, pending and copying are 0 and neither table is read. */
int db_summary_list(struct db *db, bool count, struct db_summary **v_r,
    size_t *n_r, struct err *err);
/* The same for one mailbox: 1 with *s_r (its name allocated:
 * db_summary_free(s_r, 0) does not free it, free(s_r->name) does), or 0
 * when idx is not in the mailboxes table. */
int db_summary_get(struct db *db, int64_t idx, struct db_summary *s_r,
    struct err *err);

/* ---- Copies under way (c_append_intent: ours, not the reference's) ----- *
 *
 * What APPEND batches are about to copy, recorded (and committed) before
 * the first is sent, each batch's rows deleted in the transaction that
 * adds its pairs: rows left over say that a run ended between the two,
 * and what to look for on the target (interimap/msync_intent.c). The table is created by the
 * first db_intent_add(), never by db_schema(): a database that never
 * copied anything stays the reference's, byte for byte. It has no foreign
 * key (the Perl program, which ignores it, deletes mailboxes), so rows
 * may outlive their mailbox or its UIDs: readers validate them.
 *
 *   c_append_intent (idx, target, UIDVALIDITY, UIDNEXT, sUIDVALIDITY,
 *                    sUID, size, internaldate, flags)
 *   PRIMARY KEY (idx, target, sUID)
 */
struct db_intent {
	enum db_side target;       /* where the copy goes */
	uint32_t uidvalidity;      /* the target's */
	uint32_t uidnext;          /* the target's, as last seen before */
	uint32_t s_uidvalidity;    /* the source's */
	uint32_t suid;             /* the message on the source, > 0 */
	uint64_t size;             /* RFC822.SIZE */
	char *date;                /* INTERNALDATE, as the source gave it */
	char *flags;               /* as APPENDed: ms_flags_norm()'s form */
};
void db_intents_free(struct db_intent *v, size_t n);

/* Records v[0..n) for mailbox idx (replacing rows of the same target and
 * source UID), creating the table when missing. Not committed. */
int db_intent_add(struct db *db, int64_t idx, const struct db_intent *v,
    size_t n, struct err *err);
/* Whether idx has rows: answered from what one query read at the first
 * call (none at all when the table does not exist), kept up to date by
 * this module's writes and forgotten on a rollback: the database is
 * locked, nobody else writes it meanwhile. */
int db_intent_has(struct db *db, int64_t idx, bool *has_r, struct err *err);
/* The rows of idx, by target and source UID. *v_r is allocated (NULL
 * when *n_r is 0), freed with db_intents_free(). */
int db_intent_get(struct db *db, int64_t idx, struct db_intent **v_r,
    size_t *n_r, struct err *err);
/* The same, but only the rows that can still describe a copy in flight
 * (intent_valid(), intent.h: its source UID looked up in the mapping),
 * st being the database's states of idx, cur the UIDVALIDITYs the
 * servers give now ([DB_LOCAL], [DB_REMOTE]; 0: not known). */
int db_intent_get_valid(struct db *db, int64_t idx,
    const struct db_state st[2], const uint32_t cur[2],
    struct db_intent **v_r, size_t *n_r, struct err *err);
/* Deletes the rows of idx and target whose source UID is in suids[0..n)
 * (not committed). */
int db_intent_delete(struct db *db, int64_t idx, enum db_side target,
    const uint32_t *suids, size_t n, struct err *err);
/* Deletes every row of idx (not committed); nothing when there is none. */
int db_intent_clear(struct db *db, int64_t idx, struct err *err);

#endif
