#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "imap_verbs.h"
#include "msync_int.h"

/* The known messages (sync_known_messages, I:1012), turn by turn, and
 * what a turn reads: the reference's pull_updates (L:1226) of each side's
 * caches, which --repair reads too, in full. */

int
ms_fetch_flags(struct ms_box *b, struct uidset *s,
    int (*own)(struct ms_cmd *, const struct imap_resp *, struct err *),
    void *ctx)
{
	struct err e;

	uidset_normalise(s);
	for (size_t pos = 0; pos < s->n;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(s, &pos, "(MODSEQ FLAGS)",
		    IMAP_VERB_NO_MODSEQ, false, &cmd, &e) < 0)
			return ms_fail_err(b->ms, b->s->name, b->s->mailbox, &e);
		ms_submit(b, cmd, own, ctx);
	}
	return 0;
}

void
ms_pulled_free(struct ms_pulled *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].flags);
	free(p->v);
	uidset_free(&p->vanished);
	memset(p, 0, sizeof(*p));
	p->vanished = (struct uidset)UIDSET_INIT;
}

const struct ms_mod *
ms_pulled_find(const struct ms_pulled *p, uint32_t uid)
{
	return ms_mod_find(p->v, p->n, uid);
}

int
ms_pull(struct ms *ms, struct ms_box *b, bool full, struct ms_pulled *out)
{
	uint32_t below = b->p_uidnext;
	uint64_t order = 0;

	memset(out, 0, sizeof(*out));
	out->vanished = (struct uidset)UIDSET_INIT;
	while (b->mods.n > 0) {
		struct uidset missing = UIDSET_INIT;
		int rc = 0;
		ms_mods_norm(&b->mods);
		for (size_t i = 0; i < b->mods.n; i++) {
			struct ms_mod *m = &b->mods.v[i];
			/* MODSEQ 0 (after [MODIFIED]) or no FLAGS: ask. */
			if (!m->flags || m->modseq == 0) {
				uidset_add(&missing, m->uid, m->uid);
				continue;
			}
			if (m->uid >= below || (!full && m->modseq <= b->p_hms))
				continue;
			out->v = xgrow(out->v, &out->cap, out->n + 1,
			    sizeof(*out->v));
			out->v[out->n] = *m;
			out->v[out->n++].order = order++;
			m->flags = NULL;
		}
		ms_mods_clear(&b->mods);
		if (!ms_set_empty(&missing) &&
		    (ms_fetch_flags(b, &missing, NULL, NULL) < 0 ||
		    ms_wait(ms) < 0))
			rc = -1;
		uidset_free(&missing);
		if (rc < 0) {
			ms_pulled_free(out);
			return -1;
		}
	}
	/* One change per UID, the last one reported. */
	if (out->n > 0) {
		size_t k = 0;
		qsort(out->v, out->n, sizeof(*out->v), ms_mod_cmp);
		for (size_t i = 1; i < out->n; i++) {
			if (out->v[i].uid == out->v[k].uid) {
				free(out->v[k].flags);
				out->v[k] = out->v[i];
			} else {
				out->v[++k] = out->v[i];
			}
		}
		out->n = k + 1;
	}
	/* Afterwards: the FETCH above may have brought VANISHED too. */
	if (below > 1) {
		struct uidset range = UIDSET_INIT;
		ms_set_copy(&out->vanished, &b->vanished);
		uidset_add(&range, 1, below - 1);
		uidset_intersect(&out->vanished, &range);
		uidset_free(&range);
	}
	uidset_clear(&b->vanished);
	/* Flag changes of vanished messages are moot. */
	if (!ms_set_empty(&out->vanished)) {
		size_t k = 0;
		for (size_t i = 0; i < out->n; i++) {
			if (uidset_has(&out->vanished, out->v[i].uid))
				free(out->v[i].flags);
			else
				out->v[k++] = out->v[i];
		}
		out->n = k;
	}
	b->p_hms = b->hms;
	return 0;
}

int
ms_sync_known(struct ms *ms, bool *update_r)
{
	*update_r = false;
	for (;;) {
		struct ms_pulled lp, rp;
		int rc = 0;

		memset(&rp, 0, sizeof(rp));
		if (ms_pull(ms, &ms->b[DB_LOCAL], false, &lp) < 0)
			return -1;
		if (ms_pull(ms, &ms->b[DB_REMOTE], false, &rp) < 0) {
			ms_pulled_free(&lp);
			return -1;
		}
		if (lp.n == 0 && rp.n == 0 && ms_set_empty(&lp.vanished) &&
		    ms_set_empty(&rp.vanished)) {
			ms_pulled_free(&lp);
			ms_pulled_free(&rp);
			return 0;
		}
		*update_r = true;
		if (!ms_set_empty(&lp.vanished) || !ms_set_empty(&rp.vanished))
			rc = ms_expunge_vanished(ms, &lp, &rp);
		if (rc == 0 && (lp.n > 0 || rp.n > 0))
			rc = ms_propagate_flags(ms, &lp, &rp);
		ms_pulled_free(&lp);
		ms_pulled_free(&rp);
		if (rc < 0)
			return -1;
	}
}
