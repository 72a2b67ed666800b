#ifndef INTERIMAP_LANES_H
#define INTERIMAP_LANES_H

/* Two mailboxes synced at once, each over a pair of sessions of its own
 * (a "lane"): the main pair, and a second pair opened for the purpose.
 * Each mailbox costs both servers their turns one after the other (the
 * source's FETCH, the target's APPEND, the source again...): with one
 * pair, one server waits while the other works; with two, each has work
 * from the other lane meanwhile, and a first sync of many mailboxes takes
 * about half the time.
 *
 * Only the sync of each mailbox runs in a lane; everything before it (the
 * lists, the mailbox-list sync) stays on the main pair, as does anything
 * done after.
 *
 * What a sequential run would give, still:
 *   - the log: a lane's lines about a mailbox are held back until every
 *     mailbox before it in the list is done, then written in order
 *     (log.h, log_set_hold()); the traffic summaries count both pairs;
 *   - the database: each lane's writes go in a transaction of its own
 *     (db.h, db_set_txn_hook(): one lane waits for the other's commit
 *     before writing), so that what becomes durable, and when, is what
 *     each mailbox's sync decides, as in a sequential run;
 *   - the servers: one mailbox per lane, never the same in both.
 * The mailboxes are taken in list order. After a failure no new mailbox is
 * taken; the failure reported is that of the first mailbox in list order
 * that failed, and a mailbox after it that was under way in the other
 * lane is finished (its lines follow).
 *
 * Threads, one at a time: the lanes are two threads that run in turns,
 * the running one handing over only while it waits on a server
 * (sigwait.h's hook), so that nothing else (the engine, the log, the
 * database connection, the progress line) ever runs in two threads at
 * once. The stop signals reach the waits of both (lanes_kick()).
 *
 * The second pair opens while the first mailbox is synced on the main
 * pair. When it cannot open (a server refusing a second session...), the
 * main pair goes on alone: one line at --debug, nothing else. */

#include <stddef.h>

#include "db.h"
#include "ierr.h"
#include "side.h"

/* Syncs item i of the caller's list with sessions s (the main pair or the
 * second one): 0, or -1 with ie. */
typedef int lanes_sync_fn(void *ctx, struct side *const s[2], size_t i,
    struct ierr *ie);

/* Runs fn for items[0..n) (the caller's indexes, in order), over the
 * main pair s and, when n >= LANES_MIN, a second pair of sessions with
 * the same configuration (opened, then closed, here; its traffic added to
 * s's summaries, side_absorb()). lanes: 1 for one pair (a plain loop),
 * else 2. db: the database fn writes to. 0, or -1 with ie (the failure of
 * the first item in order that failed). */
#define LANES_MIN 3
int lanes_run(struct db *db, struct side *const s[2], unsigned lanes,
    const size_t *items, size_t n, lanes_sync_fn *fn, void *ctx,
    struct ierr *ie);

/* From a handler of the stop signals, after setting the flag the waits
 * test (conn_set_interrupt()): sends sig to the other lane's thread, so
 * that its wait ends too (the kernel gives a signal to one thread only).
 * Async-signal-safe; does nothing when no lane runs. */
void lanes_kick(int sig);

#endif
