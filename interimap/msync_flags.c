#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "log.h"
#include "msync_int.h"

/* Flag changes go to the other side: the flags half of
 * sync_known_messages (I:1087) and push_flag_updates (L:1338). */

/* UIDs of one side to set to one flag list (push_flag_updates' input). */
struct group {
	char *flags;
	struct uidset uids;
	struct ms_cmd **cmds;
	size_t ncmds, cap;
};

struct groups {
	struct group *v;
	size_t n, cap;
};

static void
group_add(struct groups *g, const char *flags, uint32_t uid)
{
	struct group *x = NULL;

	for (size_t i = 0; i < g->n && !x; i++)
		if (strcmp(g->v[i].flags, flags) == 0)
			x = &g->v[i];
	if (!x) {
		g->v = xgrow(g->v, &g->cap, g->n + 1, sizeof(*g->v));
		x = &g->v[g->n++];
		memset(x, 0, sizeof(*x));
		x->flags = xstrdup(flags);
		x->uids = (struct uidset)UIDSET_INIT;
	}
	uidset_add(&x->uids, uid, uid);
}

static void
groups_free(struct groups *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].flags);
		uidset_free(&g->v[i].uids);
		free(g->v[i].cmds);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}

/* push_flag_updates of every group of both sides at once: UID STORE set
 * (UNCHANGEDSINCE persistent HIGHESTMODSEQ) FLAGS.SILENT (flags); then,
 * in the reference's order, what was stored ("Updated flags") and what a
 * [MODIFIED] refused, to be fetched again. */
static int
push_flags(struct ms *ms, struct groups g[2])
{
	struct err e;

	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		for (size_t j = 0; j < g[i].n; j++) {
			struct group *x = &g[i].v[j];
			char **v, *store;
			size_t nf = ms_flags_split(x->flags, &v, &store);
			int rc = 0;
			uidset_normalise(&x->uids);
			for (size_t pos = 0; pos < x->uids.n && rc == 0;) {
				struct imap_cmd *cmd;
				if (imap_verb_uid_store(&x->uids, &pos, b->p_hms,
				    IMAP_VERB_STORE_SET, true,
				    (const char *const *)v, nf, &cmd, &e) < 0) {
					rc = ms_fail_err(ms, b->s->name,
					    b->s->mailbox, &e);
					break;
				}
				x->cmds = xgrow(x->cmds, &x->cap, x->ncmds + 1,
				    sizeof(*x->cmds));
				x->cmds[x->ncmds++] = ms_submit(b, cmd, NULL,
				    NULL);
			}
			free(v);
			free(store);
			if (rc < 0)
				return -1;
		}
	}
	if (ms_wait(ms) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		for (size_t j = 0; j < g[i].n; j++) {
			struct group *x = &g[i].v[j];
			struct uidset failed = UIDSET_INIT, ok = UIDSET_INIT;
			struct uidlist again = UIDLIST_INIT;
			char *t;
			for (size_t k = 0; k < x->ncmds; k++)
				ms_set_merge(&failed, &x->cmds[k]->modified);
			for (size_t r = 0; r < x->uids.n; r++) {
				for (uint64_t u = x->uids.r[r].lo;
				    u <= x->uids.r[r].hi; u++) {
					uint32_t uid = (uint32_t)u;
					struct ms_mod *m;
					if (uidset_has(&failed, uid)) {
						/* Fetched again next turn. */
						if (!ms_mods_find(&b->mods, uid))
							uidlist_push(&again, uid);
						continue;
					}
					m = ms_mods_find(&b->mods, uid);
					/* Only what the server said it
					 * changed is reported. */
					if (!m || (m->flags &&
					    strcmp(m->flags, x->flags) != 0))
						continue;
					uidset_add(&ok, uid, uid);
				}
			}
			ms_mods_remove(&b->mods, &ok);
			for (size_t k = 0; k < again.n; k++)
				ms_mods_add(&b->mods, again.v[k], 0, NULL);
			uidlist_free(&again);
			if (!ms_set_empty(&ok)) {
				t = ms_set_text(&ok);
				log_at(LOG_INFO, ms_prefix(b), "Updated flags "
				    "(%s) for UID %s", x->flags, t);
				free(t);
			}
			if (!ms_set_empty(&failed)) {
				t = ms_set_text(&failed);
				log_at(LOG_INFO, ms_prefix(b), "Couldn't update "
				    "flags (%s) for UID %s, will try again "
				    "later", x->flags, t);
				free(t);
			}
			uidset_free(&failed);
			uidset_free(&ok);
		}
	}
	return 0;
}

int
ms_push_updates(struct ms *ms, const struct ms_upd *const v[2],
    const size_t n[2])
{
	struct groups g[2];
	int rc;

	memset(g, 0, sizeof(g));
	for (int i = 0; i < 2; i++)
		for (size_t k = 0; k < n[i]; k++)
			group_add(&g[i], v[i][k].flags, v[i][k].uid);
	rc = g[0].n > 0 || g[1].n > 0 ? push_flags(ms, g) : 0;
	groups_free(&g[0]);
	groups_free(&g[1]);
	return rc;
}

char *
ms_flag_conflict(struct ms *ms, uint32_t luid, const char *lflags,
    uint32_t ruid, const char *rflags)
{
	char *u = ms_flags_union(lflags, rflags);

	log_at(LOG_WARN, ilog_prefix(NULL, NULL), "Conflicting flag update "
	    "in %s for local UID %" PRIu32 " (%s) and remote UID %" PRIu32
	    " (%s). Setting both to the union (%s).", ms->display, luid,
	    lflags, ruid, rflags, u);
	return u;
}

int
ms_propagate_flags(struct ms *ms, struct ms_pulled *lp, struct ms_pulled *rp)
{
	struct groups g[2];
	struct err e;
	int rc = -1;

	memset(g, 0, sizeof(g));
	for (size_t i = 0; i < lp->n; i++) {
		const struct ms_mod *l = &lp->v[i], *r;
		uint32_t ruid;
		int k = db_map_get(ms->db, ms->idx, DB_LOCAL, l->uid, &ruid, &e);
		if (k < 0) {
			ms_db_fail(ms, &e);
			goto out;
		}
		if (k == 0) {
			log_at(LOG_WARN, ms_prefix_mbx(&ms->b[DB_REMOTE]), "No "
			    "match for modified local UID %" PRIu32 ". Try "
			    "'--repair'.", l->uid);
		} else if ((r = ms_pulled_find(rp, ruid)) != NULL) {
			char *u;
			if (strcmp(l->flags, r->flags) == 0)
				continue; /* the same change on both */
			u = ms_flag_conflict(ms, l->uid, l->flags, ruid,
			    r->flags);
			group_add(&g[DB_LOCAL], u, l->uid);
			group_add(&g[DB_REMOTE], u, ruid);
			free(u);
		} else {
			group_add(&g[DB_REMOTE], l->flags, ruid);
		}
	}
	for (size_t i = 0; i < rp->n; i++) {
		const struct ms_mod *r = &rp->v[i];
		uint32_t luid;
		int k = db_map_get(ms->db, ms->idx, DB_REMOTE, r->uid, &luid,
		    &e);
		if (k < 0) {
			ms_db_fail(ms, &e);
			goto out;
		}
		if (k == 0)
			log_at(LOG_WARN, ms_prefix_mbx(&ms->b[DB_LOCAL]), "No "
			    "match for modified remote UID %" PRIu32 ". Try "
			    "'--repair'.", r->uid);
		else if (!ms_pulled_find(lp, luid))
			group_add(&g[DB_LOCAL], r->flags, luid);
	}
	if (push_flags(ms, g) < 0)
		goto out;
	rc = 0;
out:
	groups_free(&g[0]);
	groups_free(&g[1]);
	return rc;
}
