#ifndef INTERIMAP_WATCH_H
#define INTERIMAP_WATCH_H

/* What interimap does between two rounds of --watch and --notify
 * (notes-interimap.md §4.14), and what the servers tell it meanwhile.
 *
 * --watch=N: after a round, the mailbox left selected is closed with
 * UNSELECT on both sides when both offer it (else a NOOP each: a
 * server's LIST-STATUS need not be exact for the selected mailbox, RFC
 * 5819 §1), then N seconds pass; the caller lists again and syncs what
 * changed.
 *
 * --notify: NOTIFY SET STATUS (RFC 5465) asks each side for a STATUS of
 * every mailbox of the working list at once, and for MessageNew,
 * MessageExpunge and FlagChange events on them (STATUS responses) and on
 * the selected mailbox (EXISTS, VANISHED, FETCH), then NOTIFY SET adds
 * MailboxName and SubscriptionChange (personal) as the reference does;
 * a LIST notification sets relist: unlike the reference, whose list is
 * fixed for the run, the caller lists and syncs the lists again. Between
 * rounds, interimap reads both connections until a notification marks a
 * mailbox or N seconds pass, then sends a NOOP to each (some servers,
 * Dovecot among them, deliver notifications only with a command's
 * reply).
 *
 * While a watch is attached, the sides' connection-wide responses come
 * here: a STATUS updates the mailbox's struct mlist_status and marks it
 * "notified"; EXISTS, VANISHED and FETCH outside any command mark the
 * side's selected mailbox "changed" (its STATUS is never sent: RFC 5465
 * §5.1). [NOTIFICATIONOVERFLOW] and [BADEVENT] end the run as the
 * reference's client fails on them.
 *
 * Waits end at once on a stop request (*stop set by a signal handler
 * installed with sigwait_install()). Every wait on a server is bounded
 * by SIDE_TIMEOUT_MS without progress.
 *
 * The struct watch borrows the sides and the mailbox array; the caller
 * keeps them alive and calls watch_set_mailboxes() when it replaces the
 * array. */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ierr.h"
#include "mlist.h"
#include "side.h"

struct watch {
	struct side *s[2];
	struct mlist_mbx *mv;          /* borrowed */
	size_t nm;
	/* Per mailbox of mv: a STATUS came for it (on either side), or
	 * the selected one changed. */
	bool *notified;
	bool *changed;
	bool any;                      /* one of the above is set */
	/* A LIST notification came (RFC 5465 MailboxName,
	 * SubscriptionChange): the lists are to be synced again. */
	bool relist;
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *wake;   /* "a round now" (SIGHUP, SIGUSR1) */
	struct ierr fail;              /* an event's error, kind ERR_NONE */
};

/* Attaches w to both sides' connections (their events). stop and wake
 * are flags set by signal handlers (sigwait.h); wake may be NULL. */
void watch_init(struct watch *w, struct side *s[2],
    volatile sig_atomic_t *stop, volatile sig_atomic_t *wake);
/* Detaches w and frees what it holds. */
void watch_free(struct watch *w);

/* The mailboxes that responses are matched against (borrowed); clears
 * every mark. */
void watch_set_mailboxes(struct watch *w, struct mlist_mbx *mv, size_t nm);

/* Mailbox i was synced: its marks are cleared. */
void watch_clear(struct watch *w, size_t i);

/* --notify's two commands on each side (see above), local first. The
 * STATUS replies update mv[i].st as they come. Fails as the reference:
 * "Server did not advertise NOTIFY (RFC 5465) capability." (the side's
 * prefix) when a side lacks it. 0, or -1 with ie. */
int watch_notify(struct watch *w, struct ierr *ie);

/* After a --watch round: UNSELECT or NOOP, as described above, when a
 * mailbox is selected on either side. 0, or -1 with ie. */
int watch_release(struct watch *w, struct ierr *ie);

/* Reads both connections for at most ms milliseconds, until *wake is set,
 * and, when until_marked, until a notification marked a mailbox or asked
 * for the lists (relist). Returns 1 when one of those happened, 0 when
 * the time ran out or a stop was requested, -1 with ie (a connection
 * lost, a server's BYE, an event's error). */
int watch_wait(struct watch *w, uint64_t ms, bool until_marked,
    struct ierr *ie);

/* --watch between two rounds, when both servers have IDLE (RFC 2177) and
 * INBOX is in the list (watch_can_idle()): INBOX selected on both sides
 * (EXAMINE, unless it is), IDLE on both, and the wait above until INBOX
 * changes on either side (or, with NOTIFY, any mailbox is marked or the
 * lists asked for), *wake, a stop request, or ms milliseconds. Returns 1
 * when a mailbox is marked (INBOX "changed": a new message there is
 * synced within a second, not at the next round), 0 otherwise, -1 with
 * ie. */
bool watch_can_idle(const struct watch *w);
int watch_idle(struct watch *w, uint64_t ms, struct ierr *ie);

/* A NOOP on each side (its responses go through the events). 0, or -1
 * with ie. */
int watch_noop(struct watch *w, struct ierr *ie);

#endif
