#ifndef COMMON_IMAP_IDLE_H
#define COMMON_IMAP_IDLE_H

/* IDLE (RFC 2177) on the engine, for a program that waits for news from
 * one selected mailbox: start, wait for a change, end. */

#include <signal.h>
#include <stdbool.h>

#include "err.h"

struct imapc;

/* One IDLE command; the caller's, zeroed before imap_idle_start(). */
struct imap_idle {
	struct imapc *c;
	bool accepted;  /* the server's "+" */
	bool ended;     /* its tagged reply arrived (or the connection broke) */
	bool answered;  /* accepted or ended */
	bool lost;      /* ended by the loss of the connection */
	struct err err; /* when it ended on anything but OK */
};

/* Sends IDLE and returns once the server accepted it (it may have ended
 * it right after the "+": imap_idle_wait() then returns 0 at once).
 * Changes reported before the call are the caller's (imapc_take_changes());
 * those reported from here on, even in the same read as the "+", are the
 * wait's. 0, or -1 with err: ERR_REFUSED when the server lacks IDLE or
 * refused it, else the engine's error. timeout_ms bounds each wait as in
 * imapc_run(). */
int imap_idle_start(struct imap_idle *idle, struct imapc *c, int timeout_ms,
    struct err *err);
/* Waits up to timeout_ms for the server to report a change of the
 * mailbox (EXISTS, EXPUNGE, VANISHED: returns 1), or returns 0 on
 * timeout, as soon as *wake is non-zero, or when the server ended the
 * IDLE itself; -1 with err when the connection failed (BYE included).
 * *wake is set by the handler of a signal installed with
 * sigwait_install(): such a signal ends the wait at once, whenever it
 * arrives (sigwait.h). */
int imap_idle_wait(struct imap_idle *idle, int timeout_ms,
    const volatile sig_atomic_t *wake, struct err *err);
/* Sends DONE (unless the server ended it) and waits for the tagged reply.
 * 0, or -1 with err (ERR_PROTO when IDLE ended with NO or BAD, after DONE
 * or by the server itself). */
int imap_idle_done(struct imap_idle *idle, int timeout_ms, struct err *err);

#endif
