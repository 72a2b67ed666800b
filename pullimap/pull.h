#ifndef PULLIMAP_PULL_H
#define PULLIMAP_PULL_H

/* One poll of a section: lock the state, connect, SELECT, deliver every new
 * message (journaling each one as soon as the MTA accepted it), mark them
 * \Seen, record the new UIDNEXT, purge, log out. */

#include <stdbool.h>

#include "err.h"
#include "pull_conf.h"

struct pull_run_opts {
	bool no_delivery; /* journal and mark \Seen without delivering */
	int timeout_ms;   /* network timeout for IMAP and delivery */
};

/* Returns 0 when everything went fine, or -1 with err: ERR_TEMP when a
 * temporary failure stopped the run (the rest is retried next time),
 * ERR_REFUSED when some messages were rejected permanently (everything else
 * was done), or the first fatal error. */
int pull_run(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err);

#endif
