#ifndef INTERIMAP_ISTATUS_H
#define INTERIMAP_ISTATUS_H

/* interimap --status: per mailbox what the database knows (both sides'
 * UIDNEXT and HIGHESTMODSEQ, the pairs, an interrupted copy), then the
 * last run and the last error; and the status snapshot that lets it
 * answer while a run holds the database.
 *
 * Why a snapshot. The database is the Perl interimap's, locked for the
 * whole run (PRAGMA locking_mode = EXCLUSIVE, db.h): while a run or a
 * --watch holds it, readers get SQLITE_BUSY and must not wait. So the run
 * that holds it writes what --status would read there to a file beside
 * it, "DB.status" for the database DB: at its start (once the database is
 * locked: a second instance that fails on the lock never writes), after a
 * mailbox was synced (at most once a second), after each --watch or
 * --notify round, and at its end. Each write replaces the file whole
 * (DB.status.tmp, mode 0600, then rename(2)): a reader sees one snapshot
 * or the other, never a mix. Not fsync()ed: it informs, and the next
 * write replaces it. A write that fails is a warning, once per run; the
 * run goes on.
 *
 * The cost: the start takes the previous snapshot's mailbox lines as
 * they are when that one is "exact", ended, and not older than the
 * database file (no program wrote it since: its lines are then what the
 * database says), reading again only the mailboxes with records of a
 * copy under way (db.h: few have any); else it reads every mailbox's
 * states and counts its pairs (one scan of the mapping index, some 70 ms
 * a million pairs). A synced mailbox re-reads its own row (two index range
 * scans, a count of its pairs); a round with nothing synced only writes
 * the file again (~60 bytes a mailbox). The Perl interimap writes no
 * snapshot: with a database it last wrote, --status reads the database
 * only.
 *
 * The file, version 1: lines of text "KEY VALUE", in this order:
 *   interimap-status 1
 *   pid PID
 *   mode once | repair | delete | rename | watch SECS | notify SECS
 *   started T            Unix times (seconds, UTC)
 *   updated T            when this snapshot was taken
 *   ended T              absent while the run lasts
 *   result running | ok | stopped SIGNAL | failed
 *   error TEXT           with "failed": the run's error line, as printed
 *   last-error T TEXT    the latest failed run's line and end, carried
 *                        from run to run; absent when none failed yet
 *   delimiter D | NIL    the local hierarchy delimiter (NIL: flat);
 *                        absent when unknown
 *   exact                every mailbox line below was read from the
 *                        database after the mailbox's last change, by
 *                        the run that held it (see the cost above)
 *   mailbox IDX LUV LUN LHMS RUV RUN RHMS PAIRS PENDING NAME
 *                        one per mailbox of the database, in bytewise
 *                        order of NAME: its idx, local then remote
 *                        UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ (six "-"
 *                        when it has no state yet), its pairs and those
 *                        of an interrupted copy (struct db_summary)
 *   copying IDX LOCAL REMOTE
 *                        right after the mailbox line of IDX when it has
 *                        records of a copy under way (db_summary's
 *                        copying: to the local, to the remote); absent
 *                        when it has none (and from the snapshots of
 *                        interimaps before this key, which knew none)
 *   end                  the last line: a file without it is refused
 * TEXT, NAME and D run to the end of the line, escaped: bytes below 0x20,
 * 0x7F and above, and '%' as %XX (uppercase hexadecimal), so that an
 * internal name's hierarchy separators read %00. Readers skip keys they
 * do not know (later versions may add some) and refuse a later version.
 *
 * Memory: what a function hands out belongs to the caller (the free
 * function named beside it). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "iconf.h"
#include "ierr.h"
#include "side.h"

#define ISTATUS_VERSION 1
/* A snapshot file larger than this is refused (a million mailboxes). */
#define ISTATUS_MAX_FILE (256u << 20)
/* The least time between two writes after mailboxes synced (ms). */
#define ISTATUS_WRITE_INTERVAL_MS 1000

enum istatus_mode {
	ISTATUS_ONCE,   /* a plain run */
	ISTATUS_REPAIR,
	ISTATUS_DELETE,
	ISTATUS_RENAME,
	ISTATUS_WATCH,  /* --watch=SECS */
	ISTATUS_NOTIFY, /* --notify (SECS between NOOPs) */
};

enum istatus_result {
	ISTATUS_RUNNING,
	ISTATUS_OK,
	ISTATUS_STOPPED, /* by a signal: SIGTERM (status 0), SIGINT (1) */
	ISTATUS_FAILED,
};

struct istatus_snap {
	long pid;
	enum istatus_mode mode;
	unsigned secs;                /* watch and notify: the interval */
	int64_t started, updated;
	int64_t ended;                /* 0 while running */
	enum istatus_result result;
	int signal;                   /* stopped: which */
	char *error;                  /* failed: the line; else NULL */
	int64_t last_error_at;
	char *last_error;             /* NULL: none yet */
	bool delim_known;
	char delim;                   /* '\0': flat (NIL) */
	bool exact;
	struct db_summary *mbx;       /* idx, name... as in the file */
	size_t nmbx;
};

/* Frees what s holds and zeroes it. */
void istatus_snap_free(struct istatus_snap *s);

/* "PATH.status" for the database PATH. Allocated. */
char *istatus_snap_path(const char *db_path);

/* s as the file's text (see above). Allocated, NUL-terminated, *len_r
 * bytes. */
char *istatus_snap_format(const struct istatus_snap *s, size_t *len_r);

/* Reads the text of a snapshot (len bytes, NUL bytes allowed: they are
 * refused) into s (zeroed first). 0, or -1 with err (ERR_DB, "line N:
 * why"; s then holds nothing): no "interimap-status" line first, a later
 * version, a line that does not read, a key missing (pid, mode, started,
 * updated, result), no "end" last. */
int istatus_snap_parse(const char *text, size_t len, struct istatus_snap *s,
    struct err *err);

/* The file at path into s: 1, 0 when there is none (s zeroed), -1 with
 * err (ERR_SYS, or ERR_DB from the parser; messages name the file). */
int istatus_snap_read(const char *path, struct istatus_snap *s,
    struct err *err);

/* Replaces the file at path with s, as described above (the temporary
 * file is path + ".tmp"). 0, or -1 with err (ERR_SYS). */
int istatus_snap_write(const char *path, const struct istatus_snap *s,
    struct err *err);

/* ---- The run's snapshot (one per process) ----------------------------- */
/* Each call is a no-op before istatus_begin() and after istatus_end(),
 * and none fails: a snapshot that cannot be written costs one warning. */

/* The run holds db (just opened, locked): its snapshot starts, running,
 * with every mailbox db knows (none when db has no schema yet: not
 * "exact" then), the pairs counted as told above, the last error and the
 * delimiter of the previous snapshot, and is written. */
void istatus_begin(struct db *db, const struct icli *o);
/* Mailbox idx was synced (or repaired), or its sync failed: its row is
 * read again, unless a transaction is open (what is uncommitted may yet
 * be rolled back: the row stays, the snapshot is no longer "exact"); the
 * file is written unless it was less than ISTATUS_WRITE_INTERVAL_MS
 * ago.
 * local: the local side (its delimiter, once known), or NULL. */
void istatus_synced(struct db *db, const struct side *local, int64_t idx);
/* A --watch or --notify round ended: the file is written. */
void istatus_round(const struct side *local);
/* The run ends with exit status rc; sig: the stop signal that came, or
 * 0; ie: the error reported when rc is not 0. Its line is the one
 * printed: ie's text for a bare die, else the last "ERROR:" line logged
 * (log_last_error()). The last write. */
void istatus_end(const struct side *local, int rc, int sig,
    const struct ierr *ie);

/* ---- interimap --status ------------------------------------------------ */

/* --status for the configuration ic: prints on out, reading the database
 * read-only when no run holds it (db_open_peek()), else the snapshot,
 * saying which and as of when, and naming the lock's holder
 * (db_lock_holder()); mailboxes filtered by o's MAILBOX patterns when
 * there are any. Writes and creates nothing. A missing or empty database
 * is a line saying so. Returns 0, or -1 with err (ERR_DB for a file that
 * is not a database, ERR_SYS). */
int istatus_show(const struct icli *o, const struct iconf *ic, FILE *out,
    struct err *err);
/* istatus_show() on stdout; an error as one line "interimap: ..." on
 * stderr. Returns the exit status: 0, or err_exitcode() of the error. */
int istatus_main(const struct icli *o, const struct iconf *ic);

/* The lines --status prints for the mailboxes v (n of them): a header,
 * then one line per mailbox matching one of the npat patterns (all when
 * npat is 0), aligned; or one line saying none matched. Names are shown
 * with delim for their hierarchy separators ('/' when !delim_known), and
 * bytes outside printable ASCII as \xHH. */
void istatus_print_mailboxes(FILE *out, const struct db_summary *v, size_t n,
    bool delim_known, char delim, const char *const *pat, size_t npat);

/* Whether name (NUL-terminated, delimiter delim) matches the LIST
 * pattern pat (RFC 3501 §6.3.8): '*' matches anything, '%' anything but
 * delim; other bytes match themselves. */
bool istatus_match(const char *pat, const char *name, char delim);

#endif
