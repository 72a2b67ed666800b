#ifndef INTERIMAP_MCMD_H
#define INTERIMAP_MCMD_H

/* The commands that change the mailbox list on purpose: --delete and
 * --rename, the reference's way (notes-interimap.md §4.12, §4.13), on the
 * targets chosen with --target (cli.h: ICLI_TARGET_* bits).
 *
 * Both run after mlist_list() listed the names given on the command line
 * (as LIST patterns, without RETURN) on both sides, and after the schema
 * step. Names are given as on the command line: the local delimiter
 * stands for the hierarchy (each side gets its own delimiter and
 * list-reference). Each database change is committed at once. Lines:
 * the servers' "local: Deleted mailbox X" / "Renamed mailbox X to Y"
 * (LOG_INFO), and "database: Removed mailbox X" / "database: Renamed
 * mailbox X to Y" (always).
 *
 * Deliberate difference: --delete refuses INBOX before deleting
 * anything, where the reference first deletes the names before it. */

#include <stddef.h>

#include "db.h"
#include "ierr.h"
#include "mlist.h"
#include "side.h"

/* --delete NAME...: for each name, DELETE on each targeted server where
 * it exists (a refusal fails), then, if the database is targeted and
 * knows it, its rows (mapping, local, remote, mailboxes). Not recursive.
 * INBOX (any case): fail "INBOX can't be deleted". 0, or -1 with ie. */
int mcmd_delete(const struct mlist *ml, struct side *s[2], struct db *db,
    const char *const *names, size_t n, unsigned targets, struct ierr *ie);

/* --rename FROM TO: refused when TO exists on a targeted server ("local:
 * Mailbox TO exists. Run `interimap --target=local --delete TO` to
 * delete.") or, the database targeted, is known there (the same with
 * "database"); else RENAME on each targeted server that listed FROM
 * (even \NonExistent: a parent of other mailboxes), then in the database
 * FROM and every child FROM\0... 0, or -1 with ie. */
int mcmd_rename(const struct mlist *ml, struct side *s[2], struct db *db,
    const char *from, const char *to, unsigned targets, struct ierr *ie);

#endif
