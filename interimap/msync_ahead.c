#include "util.h"

#include <stdlib.h>

#include "msync_int.h"

/* The next mailbox started ahead on a side this one is done with
 * (msync.h, msync_ahead): what the caller said it syncs next, the ms
 * started for it, and giving a lent side back. */

struct msync_ahead {
	/* The next mailbox, as the caller described it (copies). */
	bool have_next;
	struct db *db;
	int64_t idx;
	char *display;
	char *mailbox[2];
	struct msync_side side[2];
	struct msync_opts o;
	/* Started: its SELECT (and first FETCH) sent on one side or both. */
	struct ms *ms;
	unsigned started, reclaimed;
	bool force; /* msync_ahead_force() */
	void (*provider)(void *ctx);
	void *provider_ctx;
};

struct msync_ahead *
msync_ahead_new(void)
{
	return xcalloc(1, sizeof(struct msync_ahead));
}

static void
next_clear(struct msync_ahead *a)
{
	a->have_next = false;
	free(a->display);
	a->display = NULL;
	for (int i = 0; i < 2; i++) {
		free(a->mailbox[i]);
		a->mailbox[i] = NULL;
	}
}

void
msync_ahead_next(struct msync_ahead *a, struct db *db, int64_t idx,
    const char *display_name, const struct msync_side *local,
    const struct msync_side *remote)
{
	next_clear(a);
	if (local == NULL || remote == NULL)
		return;
	a->db = db;
	a->idx = idx;
	a->display = xstrdup(display_name);
	for (int i = 0; i < 2; i++) {
		a->side[i] = *(i == 0 ? local : remote);
		a->mailbox[i] = xstrdup(a->side[i].mailbox);
		a->side[i].mailbox = a->mailbox[i];
	}
	a->have_next = true;
}

/* What was started ends (its commands answered, or cancelled when the
 * engines fail or time out), and is forgotten. */
static void
drop(struct msync_ahead *a)
{
	struct ms *ms = a->ms;

	if (ms == NULL)
		return;
	a->ms = NULL;
	/* Nothing of ms may stay referenced by an engine: its commands
	 * answered, or cancelled by ms_wait() when an engine fails. */
	if (ms->cmds != NULL)
		(void)ms_wait(ms);
	ms_release(ms);
	free(ms);
}

void
msync_ahead_free(struct msync_ahead **ap)
{
	struct msync_ahead *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	drop(a);
	next_clear(a);
	free(a);
}

void
msync_ahead_provider(struct msync_ahead *a, void (*fn)(void *ctx),
    void *ctx)
{
	a->provider = fn;
	a->provider_ctx = ctx;
}

void
msync_ahead_force(struct msync_ahead *a)
{
	a->force = true;
}

bool
ms_ahead_forced(const struct msync_ahead *a)
{
	return a != NULL && a->force;
}

void
msync_ahead_counts(const struct msync_ahead *a, unsigned *started,
    unsigned *reclaimed)
{
	*started = a ? a->started : 0;
	*reclaimed = a ? a->reclaimed : 0;
}

struct ms *
ms_ahead_take(struct msync_ahead *a, int64_t idx,
    const struct msync_side *local, const struct msync_side *remote)
{
	struct ms *ms = a->ms;

	if (ms == NULL)
		return NULL;
	if (ms->idx != idx || ms->b[DB_LOCAL].c != local->c ||
	    ms->b[DB_REMOTE].c != remote->c) {
		drop(a);
		return NULL;
	}
	a->ms = NULL;
	/* The caller's descriptions from now on (the same values). */
	ms->b[DB_LOCAL].s = local;
	ms->b[DB_REMOTE].s = remote;
	return ms;
}

/* A mailbox the database knows, whose sync would start with a plain
 * open: no pair of a copy cut short, the LIST-STATUS UIDVALIDITYs those
 * recorded (records of a copy under way: the caller's check). */
static bool
known_plain(const struct msync_ahead *a, const struct db_state st[2])
{
	struct db_pair *pairs = NULL;
	size_t n = 0;
	struct err e;
	int rc;

	for (int i = 0; i < 2; i++)
		if (a->side[i].have_status &&
		    a->side[i].uidvalidity != st[i].uidvalidity)
			return false;
	rc = db_map_pending(a->db, a->idx, &pairs, &n, &e);
	free(pairs);
	return rc == 0 && n == 0;
}

void
ms_ahead_lend(struct ms *ms, struct ms_box *src, struct ms_box *dst)
{
	struct msync_ahead *a = ms->ahead;
	enum db_side side = src->s->side;
	uint32_t since = dst->p_uidnext ? dst->p_uidnext : 1;
	struct db_state st[2];
	struct ms *n;
	struct ms_box *b;
	bool stale = false;
	int k;
	struct err e;

	if (a == NULL || (!a->have_next && a->provider == NULL) ||
	    a->ms != NULL || ms->ahead_tried || ms->failed)
		return;
	ms->ahead_tried = true;
	/* Not when this mailbox has more to take from src for all it
	 * knows: new mail there, or messages of dst to be copied to it. */
	if (src->lent || src->pre != NULL || src->new_mail ||
	    dst->uidnext > since)
		return;
	/* Only now the caller's provider decides (and takes it). */
	if (!a->have_next)
		a->provider(a->provider_ctx);
	if (!a->have_next)
		return;
	if (a->side[side].c != src->c || a->side[!side].c != dst->c)
		return;
	/* New to the database (a plain SELECT), or known to it and
	 * synced as usual (a QRESYNC SELECT with its state): not one
	 * whose copy was cut short (resumed otherwise) nor one the sync
	 * would fail at once. */
	if ((k = db_state_get(a->db, a->idx, st, &e)) < 0 ||
	    (k > 0 && !known_plain(a, st)))
		return;
	a->o = *ms->o;
	a->o.ahead = NULL;
	n = xcalloc(1, sizeof(*n));
	ms_init(n, a->db, a->idx, a->display, &a->side[DB_LOCAL],
	    &a->side[DB_REMOTE], &a->o);
	ms_open_init(n, k > 0 ? st : NULL);
	n->ahead_known = k > 0;
	b = &n->b[side];
	/* (records of a copy under way: stale ones of a new mailbox, or a
	 * known one's, resumed) */
	if (ms_intent_pending(n, &stale) < 0 || stale ||
	    ms_open_submit(n, b, true, true) < 0) {
		ms_release(n);
		free(n);
		return;
	}
	/* dst too, behind the FETCH that follows the copy there (its
	 * UIDs foreseen, ms_copy_new_ahead()): unless another client
	 * appended meanwhile, that FETCH is the last this mailbox sends
	 * there. */
	if (dst->pre != NULL && !dst->lent &&
	    ms_open_submit(n, &n->b[!side], true, true) == 0) {
		if (k == 0)
			ms_open_prefetch(n, &n->b[!side], false);
		n->b[!side].ahead = true;
		dst->lent = true;
	}
	/* A new one's first metadata FETCH too, as msync_mailbox() would
	 * send it (the remote side without LIST-STATUS: created by this
	 * run). */
	if (k == 0)
		ms_open_prefetch(n, b, true);
	b->ahead = true;
	a->ms = n;
	a->started++;
	src->lent = true;
}

int
ms_reclaim(struct ms_box *b)
{
	struct ms *ms = b->ms;
	uint64_t hms;
	int rc;

	if (!b->lent)
		return 0;
	if (ms->failed)
		return -1;
	/* The next mailbox's commands end, and it will start afresh. */
	rc = ms_wait(ms);
	if (ms->ahead != NULL && ms->ahead->ms != NULL) {
		drop(ms->ahead);
		ms->ahead->reclaimed++;
	}
	if (rc < 0)
		return -1;
	b->reopen = true;
	/* EXISTS anew (another client may have expunged meanwhile); new
	 * mail shows in UIDNEXT. */
	b->have_exists = false;
	/* b's mailbox again, with what b has seen of it: the changes
	 * since its HIGHESTMODSEQ come as they would have while it stayed
	 * selected. */
	hms = b->hms;
	ms_submit_select(b, ms_select_qresync(b, b->uidvalidity, hms,
	    b->uidnext, 0, 0, NULL));
	rc = ms_wait(ms);
	b->reopen = false;
	/* What it reports is handled, but the state recorded in the end
	 * stays what a run that never lent the side would record: the
	 * SELECT's HIGHESTMODSEQ and the MODSEQs of this mailbox's own
	 * copies, which it reports as changes since, are news that run
	 * would not have had (the next run catches up, as after it). */
	b->hms = hms;
	if (rc < 0 || ms_box_check(b) < 0)
		return -1;
	/* Only now: until then, nothing may be sent on b. */
	b->lent = false;
	return 0;
}
