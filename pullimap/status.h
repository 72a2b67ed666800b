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
 * (journaled, not yet \Seen), last run, last error. A missing state file
 * prints "no state yet for SECTION (never run)"; a statefile of the Perl
 * pullimap is described (it is imported by the next run, not by this).
 * Never waits for the lock: -1 with ERR_LOCKED at once when another
 * pullimap holds it; other errors ERR_DB / ERR_SYS, naming the file. */
int pull_status(const struct pull_conf *pc, FILE *out, struct err *err);

#endif
