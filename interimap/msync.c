#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imapc.h"
#include "log.h"
#include "msync_int.h"

/* The synchronisation of one mailbox (msync.h): the entry points, which
 * share their opening (the database's state, the SELECTs), and the
 * reference's sync_messages, on which the steps of the other msync_*.c
 * files hang (I: /usr/bin/interimap, L: Net/IMAP/InterIMAP.pm, 0.5.7). */

#define DEFAULT_TIMEOUT_MS 60000

/* ---- SELECT (select_mbx I:818, _select_or_examine L:2223) ---- */

struct imap_cmd *
ms_select_qresync(const struct ms_box *b, uint32_t uidvalidity, uint64_t hms,
    uint32_t uidnext, uint32_t lo, uint32_t hi, struct uidset *uids)
{
	struct imap_cmd *c = imap_cmd_new("SELECT");
	char range[32];

	imap_cmd_mailbox_wire(c, b->s->mailbox);
	imap_cmd_list_open(c);
	imap_cmd_atom(c, "QRESYNC");
	imap_cmd_list_open(c);
	imap_cmd_number(c, uidvalidity);
	imap_cmd_number(c, hms);
	if (uidnext > 1) {
		snprintf(range, sizeof(range), "1:%" PRIu32, uidnext - 1);
		imap_cmd_raw(c, range);
	}
	if (uids != NULL) {
		/* The sequence range as "lo:hi" even when lo == hi, as the
		 * reference writes it. */
		imap_cmd_list_open(c);
		snprintf(range, sizeof(range), "%" PRIu32 ":%" PRIu32, lo, hi);
		imap_cmd_raw(c, range);
		imap_cmd_uidset(c, uids);
		imap_cmd_list_close(c);
	}
	imap_cmd_list_close(c);
	imap_cmd_list_close(c);
	return c;
}

static int
select_cmd(struct ms *ms, struct ms_box *b, bool sample,
    struct imap_cmd **cmd_r)
{
	struct uidset uids = UIDSET_INIT;
	uint32_t lo = 0, hi = 0;
	struct err e;
	int k = 0;

	/* RFC 7162 §3.2.5, with what the database knows. */
	if (b->p_hms > 0 && b->p_uidnext > 1) {
		if (sample && (k = db_map_sample(ms->db, ms->idx, b->s->side,
		    &lo, &hi, &uids, &e)) < 0) {
			uidset_free(&uids);
			return ms_db_fail(ms, &e);
		}
		*cmd_r = ms_select_qresync(b, b->p_uidvalidity, b->p_hms,
		    b->p_uidnext, lo, hi, k > 0 ? &uids : NULL);
	} else {
		*cmd_r = imap_cmd_new("SELECT");
		imap_cmd_mailbox_wire(*cmd_r, b->s->mailbox);
	}
	uidset_free(&uids);
	return 0;
}

static int
open_both(struct ms *ms, const struct db_state *st, bool sample,
    bool prefetch);

int
ms_open(struct ms *ms, const struct db_state *st, bool sample)
{
	return open_both(ms, st, sample, false);
}

int
ms_open_new(struct ms *ms)
{
	return open_both(ms, NULL, true, true);
}

/* Will the first metadata FETCH of b be sent? Its LIST-STATUS says there
 * are messages beyond the persistent UIDNEXT (UIDNEXT never goes down),
 * and nothing is copied to b before: b is the remote side (its pass comes
 * first), or the remote side has nothing to copy (with guess, also when
 * it has no LIST-STATUS). */
static bool
will_fetch(const struct ms *ms, const struct ms_box *b, bool guess)
{
	const struct ms_box *r = &ms->b[DB_REMOTE];
	uint32_t since = b->p_uidnext ? b->p_uidnext : 1;
	uint32_t rsince = r->p_uidnext ? r->p_uidnext : 1;

	if (!b->s->have_status || b->s->uidnext <= since)
		return false;
	if (!r->s->have_status)
		return b == r || guess;
	return b == r || r->s->uidnext <= rsince;
}

void
ms_open_init(struct ms *ms, const struct db_state *st)
{
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		if (st) {
			b->p_uidvalidity = st[i].uidvalidity;
			b->p_uidnext = st[i].uidnext;
			b->p_hms = st[i].highestmodseq;
		} else {
			b->p_uidvalidity = b->s->have_status
			    ? b->s->uidvalidity : 0;
			b->p_uidnext = 0;
			b->p_hms = 0;
		}
	}
}

int
ms_open_submit(struct ms *ms, struct ms_box *b, bool sample, bool ahead)
{
	struct imap_cmd *cmd;

	if (select_cmd(ms, b, sample, &cmd) < 0)
		return -1;
	b->selected = false;
	ms_box_open(b);
	/* The server's UIDVALIDITY is checked against this. */
	b->uidvalidity = b->p_uidvalidity;
	b->uidnext = b->s->have_status ? b->s->uidnext : 0;
	b->hms = b->s->have_status ? b->s->highestmodseq : 0;
	b->nomodseq = b->uidnotsticky = false;
	/* Not selected while the SELECT runs (the reference's AUTH state):
	 * its trace and errors say "local: ". */
	if (ahead)
		imapc_set_submit_prefix(b->c, ilog_prefix(b->s->name, NULL));
	else
		imapc_set_log_prefix(b->c, ilog_prefix(b->s->name, NULL));
	ms_submit_select(b, cmd);
	if (ahead)
		imapc_set_submit_prefix(b->c, NULL);
	return 0;
}

void
ms_open_prefetch(struct ms *ms, struct ms_box *b, bool guess)
{
	if (!will_fetch(ms, b, guess))
		return;
	/* Traced as sent in the selected state, as the reference sends
	 * it. */
	imapc_set_submit_prefix(b->c, ilog_prefix(b->s->name,
	    b->s->mailbox));
	ms_prefetch(ms, b);
	imapc_set_submit_prefix(b->c, NULL);
}

static int
open_both(struct ms *ms, const struct db_state *st, bool sample,
    bool prefetch)
{
	bool ahead = ms->b[0].ahead || ms->b[1].ahead;

	/* (A side started ahead had them set then, from the same.) */
	if (!ahead)
		ms_open_init(ms, st);
	/* Both at once. */
	for (int i = 0; i < 2; i++)
		if (!ms->b[i].ahead && ms_open_submit(ms, &ms->b[i], sample,
		    false) < 0)
			return -1;
	/* What the first pass would ask next, in the same round trip. */
	for (int i = 0; prefetch && i < 2; i++)
		if (!ms->b[i].ahead)
			ms_open_prefetch(ms, &ms->b[i], false);
	if (ms_wait(ms) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		b->ahead = false;
		if (ms_box_check(b) < 0)
			return -1;
		/* Without it the mailbox would look dirty for ever (the
		 * reference loops). */
		if (b->hms == 0)
			return ms_box_fail(b, ERR_PROTO, "Mailbox %s doesn't "
			    "support MODSEQ.", b->s->mailbox);
		b->selected = true;
		imapc_set_log_prefix(b->c, ilog_prefix(b->s->name,
		    b->s->mailbox));
	}
	return 0;
}

int
ms_state_write(struct ms *ms)
{
	struct err e;

	if (!ms->state_new)
		return 0;
	if (db_state_add(ms->db, ms->idx, ms->b[DB_LOCAL].uidvalidity,
	    ms->b[DB_REMOTE].uidvalidity, &e) < 0)
		return ms_db_fail(ms, &e);
	ms->state_new = false;
	return 0;
}

/* ---- sync_messages (I:1222) ---- */

int
ms_sync_new(struct ms *ms, struct uidset *lign, struct uidset *rign)
{
	struct uidset ign[2] = {UIDSET_INIT, UIDSET_INIT};
	bool loop, update;
	struct err e;
	int rc = -1;

	if (lign)
		ms_set_copy(&ign[DB_LOCAL], lign);
	if (rign)
		ms_set_copy(&ign[DB_REMOTE], rign);
	do {
		/* Remote first; again while the local pass added to the
		 * remote (which moved the remote UIDNEXT). */
		for (int i = 0; i < 2; i++) {
			struct ms_box *src = &ms->b[i == 0 ? DB_REMOTE : DB_LOCAL];
			struct ms_box *dst = &ms->b[i == 0 ? DB_LOCAL : DB_REMOTE];
			struct uidset added = UIDSET_INIT;
			if (ms_pull_new(ms, src, dst, &ign[src->s->side],
			    &added, &ign[dst->s->side]) < 0) {
				uidset_free(&added);
				goto out;
			}
			loop = !ms_set_empty(&added);
			ms_set_merge(&ign[dst->s->side], &added);
			uidset_free(&added);
		}
	} while (loop);
	/* (The tests' knob: a side lent comes back now.) */
	for (int i = 0; ms_ahead_forced(ms->ahead) && i < 2; i++)
		if (ms_reclaim(&ms->b[i]) < 0)
			goto out;
	if (ms_sync_known(ms, &update) < 0)
		goto out;
	/* Only now: a crash before re-examines the new messages. */
	if (ms_state_write(ms) < 0)
		goto out;
	for (int i = 0; i < 2; i++)
		if (db_state_set(ms->db, (enum db_side)i, ms->idx,
		    ms->b[i].p_uidnext, ms->b[i].p_hms, &e) < 0) {
			ms_db_fail(ms, &e);
			goto out;
		}
	if (db_commit(ms->db, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	rc = 0;
out:
	ms_cmds_free(ms);
	uidset_free(&ign[0]);
	uidset_free(&ign[1]);
	return rc;
}

/* ---- before anything is sent ---- */

/* The early UIDVALIDITY check (set_cache at I:1407): LIST-STATUS against
 * the database. */
static int
check_status(struct ms *ms, const struct db_state st[2])
{
	for (int i = 0; i < 2; i++) {
		const struct msync_side *s = ms->b[i].s;
		if (s->have_status && s->uidvalidity != 0 &&
		    s->uidvalidity != st[i].uidvalidity)
			return ms_uidvalidity_fail(&ms->b[i], s->uidvalidity,
			    st[i].uidvalidity);
	}
	return 0;
}

/* Whether the LIST-STATUS values say there is nothing to do (the
 * reference's is_dirty before any SELECT). */
static bool
status_clean(const struct msync_side *s, const struct db_state *st)
{
	return s->have_status && st->uidnext != 0 && s->uidnext != 0 &&
	    st->uidnext == s->uidnext && st->highestmodseq != 0 &&
	    s->highestmodseq != 0 && st->highestmodseq == s->highestmodseq;
}

/* What msync_check() and the sync read of a mailbox the database knows
 * (state st): the UIDVALIDITY check, the pairs of an interrupted copy
 * (*pairs_r, allocated, for the caller to free, also after a failure),
 * whether a copy under way was recorded (*intents_r; with prune, records
 * no longer valid go first) and whether both sides' LIST-STATUS values
 * match the database. */
static int
preflight(struct ms *ms, const struct db_state st[2], bool prune,
    struct db_pair **pairs_r, size_t *n_r, bool *intents_r, bool *clean_r)
{
	struct err e;

	*pairs_r = NULL;
	*n_r = 0;
	*intents_r = false;
	if (check_status(ms, st) < 0)
		return -1;
	if (db_map_pending(ms->db, ms->idx, pairs_r, n_r, &e) < 0)
		return ms_db_fail(ms, &e);
	if ((prune ? ms_intent_prune(ms, st, intents_r)
		   : ms_intent_pending(ms, intents_r)) < 0)
		return -1;
	*clean_r = status_clean(ms->b[DB_LOCAL].s, &st[DB_LOCAL]) &&
	    status_clean(ms->b[DB_REMOTE].s, &st[DB_REMOTE]);
	return 0;
}

/* ---- the entry points ---- */

/* What an entry point runs once the database's state of the mailbox is
 * read: st, or NULL when the database has none. ctx is the entry
 * point's. */
typedef int ms_step_fn(struct ms *ms, const struct db_state *st, void *ctx);

static int
sides_ok(const struct msync_side *local, const struct msync_side *remote,
    struct err *err)
{
	if (local->side != DB_LOCAL || remote->side != DB_REMOTE ||
	    !local->c || !remote->c || !local->mailbox || !remote->mailbox ||
	    !local->name || !remote->name)
		return err_set(err, ERR_INTERNAL, "msync: bad msync_side");
	return 0;
}

void
ms_init(struct ms *ms, struct db *db, int64_t idx, const char *display,
    const struct msync_side *local, const struct msync_side *remote,
    const struct msync_opts *o)
{
	memset(ms, 0, sizeof(*ms));
	ms->db = db;
	ms->idx = idx;
	ms->display = display;
	ms->o = o;
	ms->batch_max = o->batch_max ? o->batch_max : MSYNC_BATCH_MAX;
	ms->batch_bytes = o->batch_bytes ? o->batch_bytes : MSYNC_BATCH_BYTES;
	ms->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		b->ms = ms;
		b->s = i == DB_LOCAL ? local : remote;
		b->c = b->s->c;
		b->vanished = (struct uidset)UIDSET_INIT;
		b->mods.sorted = true;
	}
}

void
ms_release(struct ms *ms)
{
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++) {
		uidset_free(&ms->b[i].vanished);
		ms_mods_clear(&ms->b[i].mods);
		ms_pre_free(&ms->b[i]);
	}
	free(ms->fail_name);
	free(ms->fail_mbx);
	ms->fail_name = ms->fail_mbx = NULL;
}

static int
ms_finish(struct ms *ms, int rc, struct err *err)
{
	/* Commands sent ahead for this mailbox (msync_ahead) that a
	 * failure before its SELECTs left in flight end before they are
	 * freed. */
	for (struct ms_cmd *q = ms->cmds; q != NULL; q = q->next)
		if (!q->done) {
			if (ms_wait(ms) < 0)
				rc = -1;
			break;
		}
	if (rc < 0 || ms->failed) {
		if (!ms->failed)
			ms_fail(ms, NULL, NULL, ERR_INTERNAL, "msync failed");
		const char *msg = ms->err.msg;
		size_t n = ms->fail_name ? strlen(ms->fail_name) : 0;

		/* The engine names itself after its side: the prefix says
		 * "local(INBOX): " already. */
		if (n > 0 && strncmp(msg, ms->fail_name, n) == 0 &&
		    strncmp(msg + n, ": ", 2) == 0)
			msg += n + 2;
		if (!ms->o->stop || !*ms->o->stop)
			log_at(LOG_ERROR, ilog_prefix(ms->fail_name,
			    ms->fail_mbx), "%s", msg);
		*err = ms->err;
		rc = -1;
	}
	ms_release(ms);
	return rc;
}

static ms_step_fn sync_step;

/* Commands sent ahead for ms (msync_ahead) that its sync will not use:
 * answered, their results dropped; the sides opened afresh. */
static int
ahead_forget(struct ms *ms)
{
	int rc;

	if (!ms->b[0].ahead && !ms->b[1].ahead)
		return 0;
	rc = ms_wait(ms);
	ms->b[0].ahead = ms->b[1].ahead = false;
	ms_pre_free(&ms->b[0]);
	ms_pre_free(&ms->b[1]);
	return rc;
}

/* The entry points' common frame: the sides checked, the state read,
 * step run, the failure logged. */
static int
enter(struct db *db, int64_t idx, const char *display,
    const struct msync_side *local, const struct msync_side *remote,
    const struct msync_opts *o, ms_step_fn *step, void *ctx,
    struct err *err)
{
	struct db_state st[2];
	struct ms ms0, *ms = NULL;
	struct err e;
	int k, rc;

	if (sides_ok(local, remote, err) < 0)
		return -1;
	/* Started during the sync before (msync_ahead, msync.h)? */
	if (o->ahead && step == sync_step)
		ms = ms_ahead_take(o->ahead, idx, local, remote);
	if (ms == NULL) {
		ms = &ms0;
		ms_init(ms, db, idx, display, local, remote, o);
	} else {
		ms->display = display;
		ms->o = o;
	}
	ms->ahead = step == sync_step ? o->ahead : NULL;
	if ((k = db_state_get(db, idx, st, &e)) < 0) {
		rc = ms_db_fail(ms, &e);
	} else {
		/* (Started as new to the database and no more so, or the
		 * other way round, which nothing does between the two: its
		 * SELECT is replaced.) */
		rc = (k > 0) != ms->ahead_known ? ahead_forget(ms) : 0;
		if (rc == 0)
			rc = step(ms, k > 0 ? st : NULL, ctx);
	}
	rc = ms_finish(ms, rc, err);
	if (ms != &ms0)
		free(ms);
	return rc;
}

static int
check_step(struct ms *ms, const struct db_state *st, void *ctx)
{
	struct db_pair *pairs = NULL;
	bool *dirty = ctx, intents = false, clean = false;
	size_t n = 0;
	int rc = 0;

	if (st && (rc = preflight(ms, st, false, &pairs, &n, &intents,
	    &clean)) == 0)
		*dirty = n > 0 || intents || !clean;
	free(pairs);
	return rc;
}

int
msync_check(struct db *db, int64_t idx, const struct msync_side *local,
    const struct msync_side *remote, bool *dirty_r, struct err *err)
{
	static const struct msync_opts o = {0, 0, 0, NULL, NULL};
	bool dirty = true;
	int rc = enter(db, idx, "", local, remote, &o, check_step, &dirty,
	    err);

	if (dirty_r)
		*dirty_r = dirty;
	return rc;
}

/* The first pass over a mailbox without an interrupted copy (st NULL: new
 * to the database). */
static int
sync_first(struct ms *ms, const struct db_state *st)
{
	bool update;
	struct err e;

	if ((st ? ms_open(ms, st, true) : ms_open_new(ms)) < 0)
		return -1;
	if (!st) {
		/* Committed with the first intent records or pairs, not
		 * before. */
		ms->state_new = true;
	} else {
		if (ms_sync_known(ms, &update) < 0)
			return -1;
		ms_cmds_free(ms);
		if (update) {
			for (int i = 0; i < 2; i++)
				if (db_state_set_modseq(ms->db, (enum db_side)i,
				    ms->idx, ms->b[i].p_hms, &e) < 0)
					return ms_db_fail(ms, &e);
			if (db_commit(ms->db, &e) < 0)
				return ms_db_fail(ms, &e);
		}
	}
	return ms_sync_new(ms, NULL, NULL);
}

static int
sync_step(struct ms *ms, const struct db_state *st, void *ctx)
{
	struct db_pair *pairs = NULL;
	bool intents = false, clean = false, resumed = false;
	size_t n = 0;
	int rc = 0;

	(void)ctx;
	if (st) {
		rc = preflight(ms, st, true, &pairs, &n, &intents, &clean);
		/* A copy cut short: before or after its pairs came. (Not
		 * started ahead so, msync_ahead.c: should it be all the
		 * same, resumed as it is resumed.) */
		resumed = n > 0 || intents;
		if (rc == 0 && resumed && (rc = ahead_forget(ms)) == 0)
			rc = ms_resume(ms, st, pairs, n);
		free(pairs);
		if (rc < 0)
			return -1;
		if (!resumed && clean)
			return 0;
	}
	if (!st) {
		/* Records of a mailbox the database has no state of (they
		 * are committed with it): nothing they say can be true. */
		bool stale = false;
		struct err e;
		if (ms_intent_pending(ms, &stale) < 0)
			return -1;
		if (stale && db_intent_clear(ms->db, ms->idx, &e) < 0)
			return ms_db_fail(ms, &e);
	}
	if (!resumed && sync_first(ms, st) < 0)
		return -1;
	/* The reference's loop on the selected mailbox while dirty. */
	while (ms_box_dirty(&ms->b[DB_LOCAL]) ||
	    ms_box_dirty(&ms->b[DB_REMOTE]))
		if (ms_sync_new(ms, NULL, NULL) < 0)
			return -1;
	return 0;
}

int
msync_mailbox(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err)
{
	return enter(db, idx, display_name, local, remote, o, sync_step, NULL,
	    err);
}

static int
repair_step(struct ms *ms, const struct db_state *st, void *ctx)
{
	(void)ctx;
	/* Not in the database, or never selected: nothing to repair. */
	return st ? ms_repair(ms, st) : 0;
}

int
msync_repair(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err)
{
	return enter(db, idx, display_name, local, remote, o, repair_step,
	    NULL, err);
}
