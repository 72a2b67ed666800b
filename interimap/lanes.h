#ifndef INTERIMAP_LANES_H
#define INTERIMAP_LANES_H

/* Several mailboxes synced at once (up to LANES_MAX), each over a pair of
 * sessions of its own (a "lane"): the main pair, and others opened for
 * the purpose.
 * Each mailbox costs its round trips one after the other (the source's
 * FETCH, the target's APPEND, the source again...): over a network link,
 * a first sync of many mailboxes waits for the network most of the time,
 * and N pairs wait at the same time (the caller decides when: interimap's
 * main.c measures the round trip first; on a local socket the servers'
 * own work bounds a sync, and more sessions of the same user cost them
 * more).
 *
 * Only the sync of each mailbox runs in a lane; everything before it (the
 * lists, the mailbox-list sync) stays on the main pair, as does anything
 * done after.
 *
 * What a sequential run would give, still:
 *   - the log: a lane's lines about a mailbox are held back until every
 *     mailbox before it in the list is done, then written in order
 *     (log.h, log_set_hold()); the traffic summaries count every pair;
 *   - the database: each lane's writes go in a transaction of its own
 *     (db.h, db_set_txn_hook(): a lane waits for another's commit before
 *     writing), so that what becomes durable, and when, is what each
 *     mailbox's sync decides, as in a sequential run;
 *   - the servers: one mailbox per lane, never the same in two.
 * The mailboxes are taken in list order. After a failure no new mailbox is
 * taken; the failure reported is that of the first mailbox in list order
 * that failed, and mailboxes after it under way in other lanes are
 * finished (their lines follow).
 *
 * Threads, one at a time: the lanes are threads that run in turns, the
 * running one handing over only while it waits on a server or the disk
 * (sigwait.h's hook), so that nothing else (the engine, the log, the
 * database connection, the progress line) ever runs in two threads at
 * once. The stop signals reach the waits of all (lanes_kick()).
 *
 * The other pairs open while the first mailbox is synced on the main
 * pair. One that cannot open (a server refusing more sessions...) is
 * done without: one line at --debug, nothing else. */

#include <stddef.h>

#include "db.h"
#include "ierr.h"
#include "side.h"

/* Syncs item i of the caller's list with sessions s (the main pair or the
 * second one): 0, or -1 with ie. */
typedef int lanes_sync_fn(void *ctx, struct side *const s[2], size_t i,
    struct ierr *ie);

/* Called once a pair of sessions s takes no more items, in its thread,
 * before the sessions close (the main pair's too, which stay open). */
typedef void lanes_end_fn(void *ctx, struct side *const s[2]);

/* Runs fn for items[0..n) (the caller's indexes, in order), over the
 * main pair s and, when n >= LANES_MIN, lanes - 1 other pairs of sessions
 * with the same configuration (opened, then closed, here; their traffic
 * added to s's summaries, side_absorb()), then end (NULL: none) for each
 * pair. lanes: 1 for one pair (a plain loop), at most LANES_MAX. db: the
 * database fn writes to. 0, or -1 with ie (the failure of the first item
 * in order that failed). */
#define LANES_MIN 3
#define LANES_MAX 4
int lanes_run(struct db *db, struct side *const s[2], unsigned lanes,
    const size_t *items, size_t n, lanes_sync_fn *fn, lanes_end_fn *end,
    void *ctx, struct ierr *ie);

/* How many pairs for a first round of n mailboxes to sync (lanes_pick.c,
 * whose comments give the measures): forced when not 0 (the test knob,
 * or 1: never more), else by the round trip of NOOPs sent to both
 * servers at once (2 from 2 ms, 4 from 8 ms) and by news, how many new
 * messages the round may copy (an upper bound: 2 for 500 or more, 50 a
 * mailbox on average, on a machine of two cores or more). 0 with
 * *lanes_r, or -1 with ie (a NOOP failed; refused: 1 pair). */
int lanes_pick(struct side *const s[2], unsigned forced, size_t n,
    uint64_t news, unsigned *lanes_r, struct ierr *ie);

/* From fn, while several pairs run: the item this pair syncs next, taken
 * now (the next one in order, as the pair would take it once fn
 * returns), so that its start may overlap the end of the current one
 * (msync.h, msync_ahead). SIZE_MAX when there is none to take, or while
 * taking one would hold too many lines back; and with a plain loop. At
 * most one taken ahead per pair: the next fn call is for it, unless an
 * item before it failed (then it is dropped as those never taken). */
size_t lanes_take_next(void);
/* From fn or end: which pair runs, 0 (the main pair, and the plain loop)
 * to lanes - 1. */
unsigned lanes_self(void);

/* From a handler of the stop signals, after setting the flag the waits
 * test (conn_set_interrupt()): sends sig to the other lanes' threads, so
 * that their waits end too (the kernel gives a signal to one thread
 * only).
 * Async-signal-safe; does nothing when no lane runs. */
void lanes_kick(int sig);

#endif
