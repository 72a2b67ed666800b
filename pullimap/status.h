#ifndef PULLIMAP_STATUS_H
#define PULLIMAP_STATUS_H

/* pullimap --status SECTION: what the state database says about a section,
 * without touching the network. */

#include <stdio.h>

#include "err.h"
#include "pull_conf.h"

/* Prints a few "key: value" lines to out: statefile, mailbox,
 * UIDVALIDITY, UIDNEXT, delivered (count, bytes), last delivery (date
 * UTC, UID, the MTA's reply), rejected (count and the 10 latest), pending
 * (journaled, not yet \Seen), last run, last error. A missing or empty
 * state file prints "no state yet for SECTION (never run)"; a statefile of
 * the Perl pullimap is described (it is imported by the next run, not by
 * this). Reads only (pull_state_open_readonly()): writes and creates
 * nothing, takes no lock, works beside a running pullimap (what it has
 * committed) and on a state it cannot write; an older schema is read as
 * is. -1 on error: ERR_DB (a newer schema, not a database), ERR_SYS, or
 * ERR_TEMP when a writer kept changing the file while it was read;
 * messages name the file. */
int pull_status(const struct pull_conf *pc, FILE *out, struct err *err);

#endif
