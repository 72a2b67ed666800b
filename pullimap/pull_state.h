#ifndef PULLIMAP_PULL_STATE_H
#define PULLIMAP_PULL_STATE_H

/* pullimap's state database (one per configuration section):
 *   mailbox    the mailbox's UIDVALIDITY and the UIDNEXT below which every
 *              message has been handled;
 *   delivered  the journal: one row per message the MTA accepted, written
 *              and committed durably right after the MTA's reply, before
 *              anything else happens; "seen" once \Seen was stored;
 *   rejected   messages the MTA refused permanently (5xx), with its reply;
 *   meta       key/value facts (last run, last error).
 * UIDs at or above UIDNEXT that are in delivered or rejected are never
 * delivered again. */

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct pull_state;

struct pull_msg_info {
	uint32_t uid;
	uint64_t size;
	const char *message_id;   /* may be NULL */
	const char *internaldate; /* may be NULL */
	const char *sender;       /* may be NULL */
};

struct pull_state *pull_state_open(const char *path, struct err *err);
void pull_state_close(struct pull_state **sp);

/* Mailbox row. Returns 1 with the values when present, 0 when the state
 * is new, -1 on error. */
int pull_state_get_mailbox(struct pull_state *s, char **name_r,
    uint32_t *uidvalidity_r, uint32_t *uidnext_r, struct err *err);
int pull_state_set_mailbox(struct pull_state *s, const char *name,
    uint32_t uidvalidity, uint32_t uidnext, struct err *err);

/* UIDs >= from of the given UIDVALIDITY already delivered or rejected,
 * sorted ascending. *uids_r allocated; caller frees. */
int pull_state_known(struct pull_state *s, uint32_t uidvalidity,
    uint32_t from, uint32_t **uids_r, size_t *n_r, struct err *err);
/* Delivered UIDs not yet marked \Seen on the server. */
int pull_state_unseen(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err);
/* Rejected UIDs not yet flagged on the server. */
int pull_state_unflagged(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err);

/* Journal one message; durable when it returns 0. */
int pull_state_delivered(struct pull_state *s, uint32_t uidvalidity,
    const struct pull_msg_info *m, const char *reply, struct err *err);
int pull_state_rejected(struct pull_state *s, uint32_t uidvalidity,
    const struct pull_msg_info *m, const char *reply, struct err *err);

/* Group several journal writes into one transaction (--no-delivery records
 * whole batches at once: nothing is delivered, so nothing to protect). */
int pull_state_begin(struct pull_state *s, struct err *err);
int pull_state_commit(struct pull_state *s, struct err *err);
void pull_state_rollback(struct pull_state *s);

int pull_state_mark_seen(struct pull_state *s, uint32_t uidvalidity,
    const uint32_t *uids, size_t n, struct err *err);
int pull_state_mark_flagged(struct pull_state *s, uint32_t uidvalidity,
    const uint32_t *uids, size_t n, struct err *err);

/* meta table; value NULL deletes. */
int pull_state_set_meta(struct pull_state *s, const char *key,
    const char *value, struct err *err);

#endif
