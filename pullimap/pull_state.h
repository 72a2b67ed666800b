#ifndef PULLIMAP_PULL_STATE_H
#define PULLIMAP_PULL_STATE_H

/* pullimap's state database (one per configuration section):
 *   mailbox    the mailbox's UIDVALIDITY and the UIDNEXT below which every
 *              message has been handled;
 *   delivered  the journal: one row per message the MTA accepted, written
 *              and committed durably right after the MTA's reply, before
 *              anything else happens; "seen" once \Seen was stored;
 *   rejected   messages the MTA refused permanently (5xx), with its reply;
 *   meta       key/value facts (last error).
 * The file's modification time is when the last run ended.
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

/* Opens (creating it if needed) and locks the state at path; ERR_LOCKED at
 * once when another process holds it.
 * With mailbox non-NULL (the configured mailbox), imports the statefile of
 * the Perl pullimap (see perl_state.h): a file at path that is neither
 * empty nor an SQLite database is parsed (corrupt: ERR_DB naming it, left
 * untouched), renamed to PATH.perl-statefile (ERR_DB when that exists
 * already), and the new SQLite state gets in one transaction the mailbox
 * row (mailbox, UIDVALIDITY, UIDNEXT) and the pending UIDs journaled as
 * delivered, not seen, reply "(imported from the Perl pullimap
 * statefile)". Whenever the state has no mailbox row and
 * PATH.perl-statefile exists, the import is done (again): a crash between
 * the rename and the commit is repaired by the next run. The kept file is
 * never removed: delete it too to start from scratch.
 * With mailbox NULL, nothing is imported or renamed and such a file is
 * refused with ERR_DB. */
struct pull_state *pull_state_open(const char *path, const char *mailbox,
    struct err *err);
/* Opens the existing state at path for reading only (--status), beside a
 * pullimap that may be running on it, writing nothing (see
 * state_open_readonly()). The functions that only read work on it:
 * get_mailbox, get_meta, summary and rejections, also on a state of an
 * older schema (it is not migrated). Returns 1 with *s_r, 0 when the file
 * holds no state yet (empty: a first run stopped before its first
 * commit), -1 with err (ERR_DB for a newer schema, naming the file; a
 * statefile of the Perl pullimap is not an SQLite database). After
 * reading, check pull_state_unchanged(). */
int pull_state_open_readonly(const char *path, struct pull_state **s_r,
    struct err *err);
/* False when what was read since pull_state_open_readonly() may mix two
 * versions of the state: close it and read again. */
bool pull_state_unchanged(const struct pull_state *s);
void pull_state_close(struct pull_state **sp);
/* True when no transaction is open and no read is in progress, as every
 * function here leaves it (for tests). */
bool pull_state_idle(const struct pull_state *s);

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

/* The highest journaled UID (delivered or rejected), 0 when none. */
int pull_state_last_uid(struct pull_state *s, uint32_t uidvalidity,
    uint32_t *uid_r, struct err *err);
/* Every rejected UID (purge keeps them for the user). */
int pull_state_rejected_uids(struct pull_state *s, uint32_t uidvalidity,
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

/* Marks the end of a run on the file (its modification time); a run that
 * changed nothing writes nothing. Failure is not an error: -1. */
int pull_state_touch(struct pull_state *s);

/* Returns 1 with *value_r (allocated) when key is set, 0 when not, -1. */
int pull_state_get_meta(struct pull_state *s, const char *key,
    char **value_r, struct err *err);

/* What --status shows, over every UIDVALIDITY in the journal. */
struct pull_state_summary {
	uint64_t ndelivered, bytes; /* journal rows, sum of their sizes */
	uint64_t npending;          /* journaled, not yet marked \Seen */
	uint64_t nrejected;
	bool has_last;              /* the last delivery, when any: */
	uint32_t last_uid;
	int64_t last_at;            /* Unix time */
	char *last_reply;           /* the MTA's reply; may be NULL */
};
int pull_state_summary(struct pull_state *s, struct pull_state_summary *sum,
    struct err *err);
void pull_state_summary_free(struct pull_state_summary *sum);

struct pull_state_rejection {
	uint32_t uid;
	int64_t at;  /* Unix time */
	char *reply; /* may be NULL */
};
/* The max latest rejections, newest first; free with
 * pull_state_rejections_free(). */
int pull_state_rejections(struct pull_state *s, size_t max,
    struct pull_state_rejection **r_r, size_t *n_r, struct err *err);
void pull_state_rejections_free(struct pull_state_rejection *r, size_t n);

#endif
