#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "log.h"
#include "msync_int.h"

/* --repair (msync.h): the reference's repair() and download_missing()
 * (I:736-762, I:874-1005), on msync's caches and commands. As in the
 * rest of msync, what the reference walks in Perl hash order (its flag
 * groups, the UIDs in no pair) is taken in ascending UID order. */

/* download_missing (I:736): the messages uids of src copied to dst
 * again, each announced by "UID n from <ADDRESS> (DATE)"; the new UIDs of
 * dst are added to added. Where the reference fetches the bodies with
 * the envelopes, the envelopes come with the metadata FETCH and the
 * bodies are streamed as msync streams new messages. */
static int
download_missing(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *uids, struct uidset *added)
{
	struct ms_newmsgs m = {NULL, 0, 0};
	int rc = ms_fetch_new(ms, src, uids, true, &m);

	if (rc == 0)
		rc = ms_copy_new(ms, src, dst, &m, true, added);
	ms_newmsgs_free(&m);
	return rc;
}

/* ---- repair (I:874) ---- */

/* Flag lists to set, one side's: v[i].flags is own[i]. */
struct upds {
	struct ms_upd *v;
	char **own;
	size_t n, cap, capown;
};

static void
upds_add(struct upds *u, uint32_t uid, const char *flags)
{
	u->v = xgrow(u->v, &u->cap, u->n + 1, sizeof(*u->v));
	u->own = xgrow(u->own, &u->capown, u->n + 1, sizeof(*u->own));
	u->own[u->n] = xstrdup(flags);
	u->v[u->n].uid = uid;
	u->v[u->n].flags = u->own[u->n];
	u->n++;
}

static void
upds_free(struct upds *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->own[i]);
	free(u->own);
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* What the comparison of the mapping with the servers decided. */
struct plan {
	struct uidset rm[2];      /* to expunge, per side */
	struct uidset missing[2]; /* to copy from that side to the other */
	struct uidlist paired[2]; /* UIDs of some pair */
	struct upds upd[2];       /* flags to set, per side */
	struct uidlist unmap;     /* lUIDs whose pair goes */
};

static void
plan_free(struct plan *p)
{
	for (int i = 0; i < 2; i++) {
		uidset_free(&p->rm[i]);
		uidset_free(&p->missing[i]);
		uidlist_free(&p->paired[i]);
		upds_free(&p->upd[i]);
	}
	uidlist_free(&p->unmap);
}

static int
by_upd_uid(const void *a, const void *b)
{
	const struct ms_upd *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* One pair (l, r) against what the servers hold (I:897-957). */
static void
check_pair(struct ms *ms, const struct db_state st[2], struct ms_pulled h[2],
    struct plan *p, uint32_t l, uint32_t r)
{
	const struct ms_mod *lm = ms_pulled_find(&h[DB_LOCAL], l);
	const struct ms_mod *rm = ms_pulled_find(&h[DB_REMOTE], r);
	bool lgone = uidset_has(&h[DB_LOCAL].vanished, l);
	bool rgone = uidset_has(&h[DB_REMOTE].vanished, r);

	uidlist_push(&p->paired[DB_LOCAL], l);
	uidlist_push(&p->paired[DB_REMOTE], r);
	if (lm && rm) {
		bool lnew = lm->modseq > st[DB_LOCAL].highestmodseq;
		bool rnew = rm->modseq > st[DB_REMOTE].highestmodseq;
		char *u;
		if (strcmp(lm->flags, rm->flags) == 0)
			return;
		/* The side that changed since the last sync wins. */
		if (!lnew && rnew) {
			upds_add(&p->upd[DB_LOCAL], l, rm->flags);
			return;
		}
		if (lnew && !rnew) {
			upds_add(&p->upd[DB_REMOTE], r, lm->flags);
			return;
		}
		if (!lnew && !rnew)
			log_at(LOG_WARN, ilog_prefix(NULL, NULL), "Missed flag "
			    "update in %s for (lUID,rUID) = (%" PRIu32 ",%"
			    PRIu32 "). Repairing.", ms->display, l, r);
		u = ms_flag_conflict(ms, l, lm->flags, r, rm->flags);
		upds_add(&p->upd[DB_LOCAL], l, u);
		upds_add(&p->upd[DB_REMOTE], r, u);
		free(u);
		return;
	}
	uidlist_push(&p->unmap, l);
	if (!lm && !rm) {
		if (!lgone || !rgone)
			log_at(LOG_WARN, ilog_prefix(NULL, NULL), "Pair "
			    "(lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") vanished "
			    "from %s. Repairing.", l, r, ms->display);
	} else {
		/* One is gone, side k's; side o still has its copy. */
		int k = lm ? DB_REMOTE : DB_LOCAL, o = 1 - k;
		uint32_t uid[2] = { l, r };
		if (k == DB_LOCAL ? lgone : rgone) {
			uidset_add(&p->rm[o], uid[o], uid[o]);
		} else {
			log_at(LOG_WARN, ms_prefix_mbx(&ms->b[k]), "UID %"
			    PRIu32 " disappeared. Redownloading %s UID %"
			    PRIu32 ".", uid[k], ms->b[o].s->name, uid[o]);
			uidset_add(&p->missing[o], uid[o], uid[o]);
		}
	}
}

/* The UIDs in no pair (I:979-993): the vanished ones are reported, the
 * others copied to the other side. */
static void
check_unpaired(struct ms *ms, struct ms_pulled h[2], struct plan *p)
{
	static const char *const what[2] = {"local", "remote"};

	for (int i = 0; i < 2; i++) {
		uidlist_sort(&p->paired[i]);
		uidset_remove(&h[i].vanished, p->paired[i].v,
		    p->paired[i].n);
		if (h[i].vanished.n > 0) {
			char *t = ms_set_text(&h[i].vanished);
			log_at(LOG_WARN, ms_prefix_mbx(&ms->b[1 - i]), "No match "
			    "for %" PRIu64 " vanished %s UID(s) %s. Ignoring.",
			    uidset_count(&h[i].vanished), what[i], t);
			free(t);
		}
	}
	for (int i = 0; i < 2; i++) {
		for (size_t k = 0; k < h[i].n; k++) {
			uint32_t uid = h[i].v[k].uid;
			if (uidlist_has(p->paired[i].v, p->paired[i].n, uid))
				continue;
			log_at(LOG_WARN, ms_prefix_mbx(&ms->b[1 - i]), "No match "
			    "for modified %s UID %" PRIu32 ". Redownloading.",
			    what[i], uid);
			uidset_add(&p->missing[i], uid, uid);
		}
	}
}

int
ms_repair(struct ms *ms, const struct db_state st[2])
{
	struct db_pair *pairs = NULL;
	struct ms_pulled h[2];
	struct plan p;
	struct uidset ign[2] = {UIDSET_INIT, UIDSET_INIT};
	const struct ms_upd *uv[2];
	size_t un[2], npairs = 0;
	struct err e;
	int k, rc = -1;

	memset(h, 0, sizeof(h));
	memset(&p, 0, sizeof(p));
	for (int i = 0; i < 2; i++) {
		h[i].vanished = (struct uidset)UIDSET_INIT;
		p.rm[i] = p.missing[i] = (struct uidset)UIDSET_INIT;
	}
	/* Not select_mbx: no sample (I:880). */
	if (ms_open(ms, st, false) < 0)
		goto out;
	/* Every message below the database's UIDNEXT, both sides at once. */
	for (int i = 0; i < 2; i++) {
		struct uidset all = UIDSET_INIT;
		k = 0;
		if (ms->b[i].p_uidnext > 1) {
			uidset_add(&all, 1, ms->b[i].p_uidnext - 1);
			k = ms_fetch_flags(&ms->b[i], &all, NULL, NULL);
		}
		uidset_free(&all);
		if (k < 0)
			goto out;
	}
	if (ms_wait(ms) < 0)
		goto out;
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++)
		if (ms_pull(ms, &ms->b[i], true, &h[i]) < 0)
			goto out;

	if (db_map_pairs(ms->db, ms->idx, &pairs, &npairs, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	for (size_t i = 0; i < npairs; i++)
		check_pair(ms, st, h, &p, pairs[i].luid, pairs[i].ruid);
	/* Expunged before their pairs go, and those committed after. */
	if (ms_remove(ms, p.rm) < 0)
		goto out;
	for (size_t i = 0; i < p.unmap.n; i++)
		if (ms_unmap(ms, p.unmap.v[i]) < 0)
			goto out;
	if (p.unmap.n > 0 && db_commit(ms->db, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	/* The groups in the order of their lowest UID. */
	for (int i = 0; i < 2; i++) {
		if (p.upd[i].n > 1)
			qsort(p.upd[i].v, p.upd[i].n, sizeof(*p.upd[i].v),
			    by_upd_uid);
		uv[i] = p.upd[i].v;
		un[i] = p.upd[i].n;
	}
	if (ms_push_updates(ms, uv, un) < 0)
		goto out;
	check_unpaired(ms, h, &p);
	/* Local messages to the remote first, as the reference. */
	if (p.missing[DB_LOCAL].n > 0 &&
	    download_missing(ms, &ms->b[DB_LOCAL], &ms->b[DB_REMOTE],
	    &p.missing[DB_LOCAL], &ign[DB_REMOTE]) < 0)
		goto out;
	if (p.missing[DB_REMOTE].n > 0 &&
	    download_missing(ms, &ms->b[DB_REMOTE], &ms->b[DB_LOCAL],
	    &p.missing[DB_REMOTE], &ign[DB_LOCAL]) < 0)
		goto out;
	/* The copies just made are not new messages. */
	rc = ms_sync_new(ms, &ign[DB_LOCAL], &ign[DB_REMOTE]);
out:
	ms_cmds_free(ms);
	free(pairs);
	plan_free(&p);
	for (int i = 0; i < 2; i++) {
		ms_pulled_free(&h[i]);
		uidset_free(&ign[i]);
	}
	return ms->failed ? -1 : rc;
}
