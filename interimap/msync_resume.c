#include "util.h"

#include <stdlib.h>

#include "ilog.h"
#include "log.h"
#include "msync_int.h"

/* The resumption of a copy the last run left unfinished (I:1308): the
 * database has pairs beyond a side's UIDNEXT, or records of a copy under
 * way (ours: msync_intent.c), whose copies found become such pairs
 * first. */

struct present {
	struct uidset *asked, *seen;
};

static int
present_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	struct present *p = q->ctx;
	struct imap_fetch f;

	if (imap_data_kind(r) == IMAP_DATA_FETCH &&
	    imap_fetch_parse(r, &f, err) > 0 && (f.have & IMAP_FETCH_UID) &&
	    uidset_has(p->asked, f.uid))
		uidset_add(p->seen, f.uid, f.uid);
	return 0; /* the caches' too: a flag change, as the reference has it */
}

int
ms_resume(struct ms *ms, const struct db_state st[2],
    const struct db_pair *pairs, size_t n)
{
	struct db_pair *found = NULL;
	struct uidset asked[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset seen[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset rm[2] = {UIDSET_INIT, UIDSET_INIT};
	struct present pr[2];
	struct err e;
	int got, rc = -1;

	log_at(LOG_NOTICE, ilog_prefix(NULL, NULL), "Resuming interrupted "
	    "sync for %s", ms->display);
	/* Plain SELECTs: no HIGHESTMODSEQ is trusted. */
	if (ms_open(ms, NULL, false) < 0)
		goto out;
	/* The pairs recovered are pending ones like the others: checked
	 * on both sides, their flags compared. */
	if ((got = ms_intent_recover(ms, st)) < 0)
		goto out;
	if (got > 0) {
		if (db_map_pending(ms->db, ms->idx, &found, &n, &e) < 0) {
			ms_db_fail(ms, &e);
			goto out;
		}
		pairs = found;
	}
	for (size_t k = 0; k < n; k++) {
		uidset_add(&asked[DB_LOCAL], pairs[k].luid, pairs[k].luid);
		uidset_add(&asked[DB_REMOTE], pairs[k].ruid, pairs[k].ruid);
	}
	for (int i = 0; i < 2; i++) {
		pr[i].asked = &asked[i];
		pr[i].seen = &seen[i];
		if (ms_fetch_flags(&ms->b[i], &asked[i], present_own,
		    &pr[i]) < 0)
			goto out;
	}
	if (ms_wait(ms) < 0)
		goto out;
	ms_cmds_free(ms);
	/* A pair missing on one side: the other copy goes too. */
	for (size_t k = 0; k < n; k++) {
		bool l = uidset_has(&seen[DB_LOCAL], pairs[k].luid);
		bool r = uidset_has(&seen[DB_REMOTE], pairs[k].ruid);
		if (l && r)
			continue;
		if (l)
			uidset_add(&rm[DB_LOCAL], pairs[k].luid, pairs[k].luid);
		if (r)
			uidset_add(&rm[DB_REMOTE], pairs[k].ruid, pairs[k].ruid);
		if (ms_unmap(ms, pairs[k].luid) < 0)
			goto out;
	}
	if (ms_remove(ms, rm) < 0)
		goto out;
	/* Committed after the expunges, not before. */
	if ((!ms_set_empty(&rm[DB_LOCAL]) || !ms_set_empty(&rm[DB_REMOTE])) &&
	    db_commit(ms->db, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		ms_set_minus(&seen[i], &rm[i]);
		/* The reference's set_cache(UIDVALIDITY, UIDNEXT). */
		if (b->p_uidvalidity != 0 &&
		    b->p_uidvalidity != st[i].uidvalidity) {
			ms_uidvalidity_fail(b, b->p_uidvalidity,
			    st[i].uidvalidity);
			goto out;
		}
		b->p_uidvalidity = st[i].uidvalidity;
		b->p_uidnext = st[i].uidnext;
	}
	/* The copies made before the interruption are not copied again;
	 * their flags are compared as conflicts (no HIGHESTMODSEQ). */
	rc = ms_sync_new(ms, &seen[DB_LOCAL], &seen[DB_REMOTE]);
out:
	free(found);
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++) {
		uidset_free(&asked[i]);
		uidset_free(&seen[i]);
		uidset_free(&rm[i]);
	}
	return rc;
}
