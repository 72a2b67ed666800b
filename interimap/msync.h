#ifndef INTERIMAP_MSYNC_H
#define INTERIMAP_MSYNC_H

/* The messages of one mailbox, synchronised between the local and the
 * remote server as the Perl interimap 0.5.7 does (its sync_known_messages,
 * sync_messages, the resumption of an interrupted copy, and the client's
 * caches behind them), with the same database writes, commit points and
 * log lines:
 *
 * 1. If the database has pairs beyond a side's UIDNEXT (a copy was
 *    interrupted): "Resuming interrupted sync for MBX", plain SELECT of
 *    both sides, UID FETCH (MODSEQ FLAGS) of those pairs; a pair whose
 *    message is gone on one side loses the other copy (expunged), the
 *    rest is synced with no HIGHESTMODSEQ known, so that a flag
 *    difference is resolved as a conflict (the union).
 * 2. Otherwise, when the caller gave both sides' LIST-STATUS values and
 *    both match the database (UIDNEXT and HIGHESTMODSEQ), nothing is sent:
 *    the mailbox is clean. Else SELECT both sides, with the QRESYNC
 *    parameter (RFC 7162 §3.2.5) built from the database (the sample of
 *    the mapping as message-sequence-match data) when the mailbox has a
 *    state, a plain SELECT when it is new (its state rows are then added,
 *    with the UIDVALIDITYs the servers gave). A known mailbox first has
 *    its known messages synced (3.), HIGHESTMODSEQ committed when
 *    anything was done.
 * 3. Known messages: messages vanished on one side (VANISHED (EARLIER) at
 *    SELECT, live VANISHED later) are expunged on the other (UID STORE
 *    +FLAGS.SILENT (\Deleted), UID EXPUNGE: "Removed N UID(s) SET") and
 *    their pairs deleted; flag changes (FETCH with a MODSEQ above the
 *    database's HIGHESTMODSEQ) are copied over with UID STORE set
 *    (UNCHANGEDSINCE m) FLAGS.SILENT (flags), grouped by flag list
 *    ("Updated flags (F) for UID SET"); a message changed on both sides
 *    gets the sorted union on both, with the reference's unprefixed
 *    "WARNING: Conflicting flag update ..."; UIDs a server reports
 *    [MODIFIED] are fetched again and retried; until both sides are quiet.
 * 4. New messages: UIDs from the database's UIDNEXT on, remote first,
 *    then local, again while the local pass copied something; each copied
 *    to the other side with its flags (less \Recent) and INTERNALDATE, in
 *    MULTIAPPEND batches (one APPEND per message without MULTIAPPEND);
 *    "Added N UID(s) T <- S" (to local) or "S -> T" (to remote); each
 *    batch's pairs committed with it. Then 3. again, then both sides'
 *    UIDNEXT and HIGHESTMODSEQ committed. 4. is repeated while new mail or
 *    changes arrived meanwhile (the reference's dirty loop).
 *
 * How a message is copied. The reference fetches (MODSEQ FLAGS
 * INTERNALDATE BODY.PEEK[]) and holds up to 1 MiB of bodies per APPEND.
 * Here a metadata FETCH (MODSEQ FLAGS INTERNALDATE RFC822.SIZE) comes
 * first, then each batch streams the bodies from the source's UID FETCH
 * (BODY.PEEK[]) into the target's APPEND, both in flight (imap_xfer.h):
 * no message is ever held in memory, whatever its size. The batches are
 * cut where the reference cuts them (128 messages, or before the message
 * that would take the batch past 1 MiB; msync_opts can raise both), so
 * that the "Added" lines are the same; a 0-length message is skipped
 * with "WARNING: Ignoring new 0-length message (UID n)". The metadata of
 * all new messages of a pass is held (a hundred bytes or so each).
 *
 * Concurrency. The two SELECTs, the two sides' expunges, all flag
 * updates, and each batch's FETCH and APPEND are in flight at once; the
 * next batch's FETCH and APPEND follow while the previous APPEND waits
 * for its OK, all but the APPEND's last byte, which goes once that batch
 * is recorded (imap_xfer_start(): never more than one batch copied and
 * not recorded, as in the sequential run; the lines the sequential run
 * logs between two "Added" lines wait for the first one). The metadata
 * FETCH a pass sends first goes ahead of its turn where it can be
 * foreseen: with the SELECT of a mailbox new to the database (when the
 * LIST-STATUS values promise it), and behind the last APPEND of a copy to
 * that side, its UIDs predicted (the copies take the next ones; a client
 * appending meanwhile breaks the prediction, and the pass asks again).
 * The next mailbox may start on a side this one is done with
 * (msync_ahead, below).
 * The results
 * are read in the reference's order (local before remote), so the
 * database, the servers and the log lines are those of its sequential
 * run. (The reference's iteration orders that are Perl hash
 * orders are made deterministic: UIDs ascending, flag groups by first
 * UID.)
 *
 * Failures. The reference's fatal errors ("PREFIX: ERROR: text", exit 1):
 * the UIDVALIDITY checks, "Mailbox X doesn't support MODSEQ.",
 * "Mailbox X does not support persistent UIDs.", an EXPUNGE response
 * with QRESYNC enabled, a refused command (the engine's message), a lost
 * connection, a database error. msync logs that one line itself, with
 * the prefix the reference uses, and returns -1 with err holding the same
 * text: the caller does not log it again and maps err.kind to an exit
 * status. Every command msync submitted is done when it returns; after a
 * failure an engine may have been cancelled (imapc_cancel(): unusable,
 * e.g. when an APPEND was cut short), never left with a command in
 * flight. What the database holds then is what the reference would have
 * committed by that point.
 *
 * Memory: everything belongs to the caller; nothing is kept after a call
 * returns. Not thread-safe (log lines, ilog_prefix()). */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

struct imapc;
struct msync_ahead;

/* One side of the mailbox, as the caller has it. */
struct msync_side {
	/* Logged in, capabilities known, QRESYNC enabled (the caller checked
	 * ENABLED, UIDPLUS), no command in flight. Any mailbox (or none) may
	 * be selected: msync SELECTs its own, and leaves it selected. */
	struct imapc *c;
	/* "local" or "remote": the log prefixes (ilog_prefix(name,
	 * mailbox)), and the engine's trace prefix once the mailbox is
	 * selected (imapc_set_log_prefix(), as the reference switches to
	 * "local(INBOX)"; not restored afterwards). */
	const char *name;
	/* The mailbox's name on that side, in wire form (modified UTF-7,
	 * the list-reference and that side's hierarchy delimiter in it), as
	 * SELECT and APPEND send it and the log prefixes show it. */
	const char *mailbox;
	/* DB_LOCAL for the local side, DB_REMOTE for the remote one
	 * (checked). */
	enum db_side side;
	/* The LIST-STATUS values (RFC 5819) the caller saw for the mailbox,
	 * for the reference's dirty detection (a clean mailbox is not even
	 * selected) and its early UIDVALIDITY check. have_status false: the
	 * mailbox is selected and synced unconditionally. */
	bool have_status;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

/* The reference's batches (L:1177). */
#define MSYNC_BATCH_MAX 128
#define MSYNC_BATCH_BYTES (UINT64_C(1) << 20)

struct msync_opts {
	/* Bound of every wait without progress, in ms; 0: 60 s. */
	int timeout_ms;
	/* A MULTIAPPEND batch holds at most batch_max messages and, unless
	 * it is one message, at most batch_bytes bytes. 0: the reference's
	 * MSYNC_BATCH_MAX and MSYNC_BATCH_BYTES (the same "Added" lines);
	 * bodies being streamed, larger values cost no memory, only the
	 * reference's log lines and commit points. */
	unsigned batch_max;
	uint64_t batch_bytes;
	/* NULL, or the flag a stop signal sets (main.c): a failure while it
	 * is set (the engines' waits say "interrupted", conn.h) is not
	 * logged, as the reference's SIGTERM and SIGINT handlers stop it
	 * without a word. */
	const volatile sig_atomic_t *stop;
	/* NULL, or the caller's msync_ahead (below): the mailbox synced
	 * next on the same sessions, which msync_mailbox() may start. */
	struct msync_ahead *ahead;
};

/* The next mailbox, started ahead. Where a first sync copies one way,
 * the source side has nothing left to do once its last FETCH is sent,
 * while the target still APPENDs: the SELECT of the mailbox the caller
 * syncs next (and its first metadata FETCH, as msync_mailbox() would
 * send them) goes out on that side at once, behind that FETCH, so that
 * one server works on the next mailbox while the other finishes this one
 * (the reference, and a sequential run, leave it idle meanwhile). On the
 * same sessions; the next mailbox new to the database (a plain SELECT,
 * and its first metadata FETCH) or known to it (a QRESYNC SELECT with its
 * state; not one whose copy was cut short, resumed otherwise). Should
 * this mailbox need the lent side again after all (new mail, another
 * client's change), the next one's commands are waited
 * for and given up, and this mailbox is selected again (QRESYNC with
 * what it had seen of it, so that nothing reported meanwhile is missed);
 * the next mailbox then starts as if nothing had been sent. Neither the
 * database, the log lines nor what the servers end up with depends on
 * it.
 *
 * Use: msync_ahead_new(); before each msync_mailbox() with o->ahead set,
 * msync_ahead_next() with the mailbox that follows (or NULL: none);
 * msync_ahead_free() once done, before anything else is sent on the
 * sessions (it waits for what was started and not taken). */
struct msync_ahead *msync_ahead_new(void);
/* The mailbox synced next (as msync_mailbox()'s arguments, copied: the
 * engines must be those of the sync before it), or none when local is
 * NULL. */
void msync_ahead_next(struct msync_ahead *a, struct db *db, int64_t idx,
    const char *display_name, const struct msync_side *local,
    const struct msync_side *remote);
/* Waits for (at most the engines' timeout) or cancels what was started
 * and not taken, frees. NULL-safe; sets *ap to NULL. */
void msync_ahead_free(struct msync_ahead **ap);
/* Instead of msync_ahead_next() before each mailbox (left without a next
 * one then): fn(ctx) is called when a side could be lent, and says then
 * which mailbox follows by calling msync_ahead_next(), or not (none).
 * For callers that decide late (several pairs of sessions, lanes.h). */
void msync_ahead_provider(struct msync_ahead *a, void (*fn)(void *ctx),
    void *ctx);
/* The tests' knob: a side lent is taken back as soon as the copy that
 * lent it is done, as when this mailbox needs it again. */
void msync_ahead_force(struct msync_ahead *a);
/* How many mailboxes were started ahead, and how many of those were
 * given back (their side needed again): for the tests. */
void msync_ahead_counts(const struct msync_ahead *a, unsigned *started,
    unsigned *reclaimed);

/* The reference's checks before any mailbox is synced (its set_cache
 * from the database, I:1398-1423), for the mailbox idx, which the caller
 * may call for every mailbox before syncing any: when the database has a
 * state for it and a side's LIST-STATUS UIDVALIDITY differs, logs
 * "NAME: ERROR: UIDVALIDITY changed! (SERVER != DB)  Need to invalidate
 * the UID cache for MBX." and returns -1 (err ERR_DB, the same text).
 * Else 0, with *dirty_r (may be NULL) telling whether msync_mailbox()
 * would do anything: the mailbox is new, has an interrupted copy, a side
 * has no LIST-STATUS values, or they differ from the database's. */
int msync_check(struct db *db, int64_t idx, const struct msync_side *local,
    const struct msync_side *remote, bool *dirty_r, struct err *err);

/* Synchronises the messages of the mailbox idx (its row in `mailboxes`
 * exists; display_name is its name with the local delimiter and without
 * the list-reference, as the reference's unprefixed lines show it), as
 * described at the top. A transaction the caller left open is committed
 * with msync's first commit (the reference runs on one DBI transaction);
 * one a failure leaves open is for the caller's db_close() to roll back,
 * as the reference's exit does. Returns 0, or -1 with err, the error
 * having been logged. */
int msync_mailbox(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err);

/* --repair (the reference's repair(), I:874-1005; msync_repair.c), for
 * the mailbox idx, after the caller's UIDVALIDITY checks and resumption
 * of interrupted copies. A mailbox without a state in the database is
 * left alone (0, nothing sent). Else both sides are SELECTed (QRESYNC
 * with the database's state, no message-sequence-match data), every
 * message below the database's UIDNEXT is fetched (UID FETCH
 * 1:UIDNEXT-1 (MODSEQ FLAGS)), and every pair of the mapping is checked
 * against what the servers hold:
 * - both messages there, other flags: the side that changed since the
 *   database's HIGHESTMODSEQ gives its flags to the other; otherwise both
 *   get the union, with the reference's conflict warning, preceded by
 *   "WARNING: Missed flag update in MBX for (lUID,rUID) = (a,b).
 *   Repairing." when neither changed;
 * - both gone: the pair goes ("WARNING: Pair (lUID,rUID) = (a,b)
 *   vanished from MBX. Repairing." unless both were reported VANISHED);
 * - one gone: reported VANISHED, the other is expunged; else "UID a
 *   disappeared. Redownloading remote UID b." and the other is copied
 *   again; the pair goes (committed after the expunges);
 * - messages in no pair: "No match for modified local UID n.
 *   Redownloading.", copied to the other side; each copy logs "UID n
 *   from <ADDRESS> (INTERNALDATE)" (the first address of From, Sender or
 *   Reply-To of its ENVELOPE; an INFO line, not shown with -q).
 * Then the new messages as in msync_mailbox() (the copies just made left
 * out) and the final commit of both sides' UIDNEXT and HIGHESTMODSEQ.
 * Returns as msync_mailbox(). */
int msync_repair(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err);

#endif
