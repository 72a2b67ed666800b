#ifndef PULLIMAP_PULL_H
#define PULLIMAP_PULL_H

/* One poll of a section: lock the state, connect, SELECT, deliver every new
 * message (journaling each one as soon as the MTA accepted it), mark them
 * \Seen, record the new UIDNEXT, purge, log out. */

#include <signal.h>
#include <stdbool.h>

#include "err.h"
#include "pull_conf.h"

struct pull_run_opts {
	bool no_delivery; /* journal and mark \Seen without delivering */
	int timeout_ms;   /* network timeout for IMAP and delivery */
	int idle_ms;      /* --idle: longest IDLE before re-issuing it */
	/* Set by signal handlers installed with sigwait_install() (may be
	 * NULL for pull_run): stop asks to finish the message in flight and
	 * exit; wake asks for a poll now, and must be set with stop too:
	 * it is what ends an IDLE. */
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *wake;
};

/* Returns 0 when everything went fine, or -1 with err: ERR_TEMP when a
 * temporary failure stopped the run (the rest is retried next time),
 * ERR_REFUSED when some messages were rejected permanently (everything else
 * was done), or the first fatal error. */
int pull_run(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err);

/* --idle: poll, then wait with IDLE and poll again when the mailbox
 * changes, when o->idle_ms passed, or when *o->wake is set; on connection
 * trouble reconnect with capped exponential backoff and carry on from the
 * journal. Returns 0 when *o->stop was set, or -1 with err on a fatal
 * error (configuration, authentication, state/UIDVALIDITY). */
int pull_idle(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err);

#endif
