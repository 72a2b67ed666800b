#ifndef PULLIMAP_PULL_P_H
#define PULLIMAP_PULL_P_H

/* Internals shared by the parts of a pull (pull.h), one job a file:
 *   pull.c          the run: open, one poll, the outcome for --status
 *   pull_session.c  connect, SELECT, check the state against the mailbox
 *   pull_new.c      the new-message loop: SEARCH, then batches
 *   pull_search.c   UID SEARCH and its checks
 *   pull_fetch.c    one batch: FETCH metadata, then bodies
 *   pull_deliver.c  hand one message to the MTA and journal the outcome
 *   pull_store.c    \Seen on what was journaled, the rejected keyword
 *   pull_purge.c    purge-after: \Deleted and EXPUNGE
 *   pull_idle.c     --idle: the long-lived loop
 * All memory belongs to struct pull unless stated otherwise. Functions
 * returning int return 0, or -1 with err, unless stated otherwise. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "imap_cmd.h"
#include "imap_parse.h"
#include "pull.h"
#include "uidlist.h"

struct deliver;
struct imapc;
struct pull_state;

/* A keyword for messages the MTA refused permanently: they stay unseen,
 * and can be found by the user. */
#define PULL_REJECTED_KEYWORD "$PullimapRejected"

/* A message of the batch being fetched; strings are allocated, freed by
 * pull_fetch_clear(). */
struct pull_msg {
	uint32_t uid, seq;
	uint64_t size;
	char *sender;       /* for MAIL FROM, "" for <> */
	char *message_id;
	char *internaldate;
	bool meta;          /* metadata arrived */
	bool done;          /* body arrived (delivered, rejected or failed) */
	bool handled;       /* journaled: delivered, rejected, --no-delivery */
};

/* One pull: from pull_open() to pull_close(), over one or (--idle)
 * several sessions (imap is NULL between them) and polls. */
struct pull {
	const struct pull_conf *pc;
	const struct pull_run_opts *o;
	struct pull_state *st;
	struct imapc *imap;
	struct deliver *dlv;      /* NULL with --no-delivery */
	uint32_t uidvalidity;

	struct pull_msg *batch;
	size_t nbatch;
	struct uidset search;    /* the SEARCH result pull_new() works on */
	struct uidset *search_out; /* where pull_search() puts the result */
	bool search_seen;        /* the last SEARCH got its result line */
	/* Journaled UIDs >= the recorded UIDNEXT (from the state, then as
	 * this run journals them): never delivered again. */
	struct uidset journaled;
	/* UIDs that FETCH did not return although a later SEARCH still
	 * finds them: left for the next poll. */
	struct uidset skipped;
	unsigned nmissing;       /* this poll's UIDs SEARCH named, FETCH not */
	unsigned ndelivered, nrejected;
	uint64_t bytes;
	uint32_t uidnext;        /* recorded UIDNEXT */
	bool fresh_select;       /* SELECT's UIDNEXT is still current */
	bool compress_asked;     /* COMPRESS tried in this session */
	bool stop;               /* a temporary failure: deliver no more */
	struct err stop_err;     /* why; ERR_NONE for a stop signal */
};

/* The outcome of one or more commands in flight together: the first
 * failure. Zero-initialised; pull_outcome_done() is their done handler
 * (struct imapc_handlers), with the outcome as ctx. */
struct pull_outcome {
	bool failed;
	struct err err;
};

/* What UID SEARCH looks for: "UID <uids>" and/or "UID <from>:*", then
 * fixed criteria (raw protocol text), in this order. Borrowed by
 * pull_search() for the call. */
struct pull_criteria {
	struct uidset *uids; /* NULL: none */
	uint32_t from;       /* 0: none */
	const char *raw;     /* NULL: none */
};

/* pull.c */

/* The network timeout for imapc waits: -1 (none) when not configured. */
int pull_timeout(const struct pull *p);
/* Runs cmd (taken) on the session with an untagged and a literal handler
 * (either NULL; ctx is p), as imapc_run(). */
int pull_exec(struct pull *p, struct imap_cmd *cmd,
    int (*untagged)(void *, const struct imap_resp *, struct err *),
    int (*literal)(void *, const struct imap_resp *, const struct imap_arg *,
	size_t, uint64_t, struct err *),
    struct err *err);
void pull_outcome_done(void *ctx, const struct imap_resp *tagged,
    const struct err *err);
/* Sets s to the UIDs u[0..n). */
void pull_uidset_of(struct uidset *s, const uint32_t *u, size_t n);
/* Zeroes p, then locks the state and, unless --no-delivery, prepares the
 * delivery; o and pc must outlive p. On failure p is still for
 * pull_close(). */
int pull_open(struct pull *p, const struct pull_conf *pc,
    const struct pull_run_opts *o, struct err *err);
/* Frees everything p holds, the session included. */
void pull_close(struct pull *p);
/* One poll on the open session: deliver what is new, \Seen, UIDNEXT, and
 * purge when purge_now. A temporary delivery failure sets p->stop and
 * returns 0. */
int pull_poll(struct pull *p, bool purge_now, struct err *err);

/* pull_session.c */

/* Logs in, ENABLE QRESYNC + SELECT, checks and records the mailbox's
 * UIDVALIDITY and UIDNEXT in the state (p->uidvalidity, p->uidnext).
 * ERR_DB when UIDVALIDITY changed (unless --no-delivery). On failure the
 * session (maybe half open) is for pull_session_close(). */
int pull_session_open(struct pull *p, struct err *err);
/* Logs out (if connected) and frees the session; p->imap becomes NULL. */
void pull_session_close(struct pull *p);

/* pull_new.c */

/* The main loop: searches for UIDs >= from not journaled yet, delivers
 * them in batches, repeats while new mail arrived meanwhile. Sets
 * *uidnext_r to the new UIDNEXT candidate (also when a command failed):
 * every UID below it was journaled or is gone (not found by a SEARCH); a
 * UID that FETCH did not return bounds it. A temporary delivery failure
 * sets p->stop and returns 0. */
int pull_new(struct pull *p, uint32_t from, uint32_t *uidnext_r,
    struct err *err);

/* pull_search.c */

/* UID SEARCH with criteria c; the result in out (cleared first). A
 * command that ends in OK without a result, or whose result names more
 * messages than the mailbox holds, is ERR_PROTO: never taken for "nothing
 * there". */
int pull_search(struct pull *p, const struct pull_criteria *c,
    struct uidset *out, struct err *err);

/* pull_fetch.c */

/* Fetches and delivers the messages with the sorted UIDs uids[0..n)
 * (n > 0). Lowers *first_unhandled to the first UID neither journaled nor
 * confirmed gone (skipped ones included). A temporary delivery failure
 * sets p->stop and returns 0. */
int pull_fetch_batch(struct pull *p, const uint32_t *uids, size_t n,
    uint64_t *first_unhandled, struct err *err);
/* Frees the batch (p->batch, p->nbatch); a no-op without one. */
void pull_fetch_clear(struct pull *p);

/* pull_deliver.c */

/* Delivers m (marking it done), then journals it as delivered or
 * rejected: body is its size bytes in memory, or NULL to stream them from
 * the IMAP literal being received. Returns 0 after a delivery, a
 * permanent rejection, or nothing to do (stopped already, journaled
 * already); -1 with err when the IMAP stream or the state failed, or with
 * ERR_TEMP after a temporary failure or a stop signal: then p->stop is set
 * (p->stop_err says why) and the session is abandoned. */
int pull_deliver(struct pull *p, struct pull_msg *m, const char *body,
    uint64_t size, struct err *err);
/* --no-delivery: journals every message of the batch whose metadata came
 * as delivered, in one transaction. */
int pull_deliver_none(struct pull *p, struct err *err);

/* pull_store.c */

/* "UID STORE <part of set from *pos> +FLAGS.SILENT (flag)", advancing
 * *pos (servers cap the length of a command line). flag is one of ours:
 * aborts if the command cannot carry it. The caller owns the command. */
struct imap_cmd *pull_store_cmd(struct uidset *set, size_t *pos,
    const char *flag);
/* Marks \Seen everything journaled but not yet \Seen, and flags the
 * rejected messages not flagged yet, recording each in the state once the
 * server said OK. */
int pull_store_seen(struct pull *p, struct err *err);

/* pull_purge.c */

/* Without purge-after, nothing. Else removes what pullimap handled (the
 * UIDs below uidnext, the journaled ones above), older than purge-after
 * days, never a rejected one. */
int pull_purge(struct pull *p, uint32_t uidnext, struct err *err);

#endif
