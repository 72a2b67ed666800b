#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "imap_xfer.h"
#include "imapc.h"
#include "log.h"
#include "msync_int.h"

/* The synchronisation of one mailbox (msync.h), step for step the
 * reference's sync_known_messages, sync_messages, the resumption of an
 * interrupted copy and its client's pull_updates, pull_new_messages,
 * push_flag_updates, remove_message and append (I: /usr/bin/interimap,
 * L: Net/IMAP/InterIMAP.pm, 0.5.7). */

#define DEFAULT_TIMEOUT_MS 60000

/* ---- sets ---- */

static void
set_copy(struct uidset *dst, struct uidset *src)
{
	uidset_normalise(src);
	for (size_t i = 0; i < src->n; i++)
		uidset_add(dst, src->r[i].lo, src->r[i].hi);
}

static void
set_merge(struct uidset *dst, struct uidset *src)
{
	set_copy(dst, src);
	uidset_normalise(dst);
}

/* s becomes s minus t. */
static void
set_minus(struct uidset *s, struct uidset *t)
{
	struct uidset out = UIDSET_INIT;
	size_t j = 0;

	uidset_normalise(s);
	uidset_normalise(t);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t lo = s->r[i].lo, hi = s->r[i].hi;
		while (j < t->n && t->r[j].hi < lo)
			j++;
		for (size_t k = j; k < t->n && t->r[k].lo <= hi; k++) {
			if (t->r[k].lo > lo)
				uidset_add(&out, (uint32_t)lo, t->r[k].lo - 1);
			lo = (uint64_t)t->r[k].hi + 1;
		}
		if (lo <= hi)
			uidset_add(&out, (uint32_t)lo, (uint32_t)hi);
	}
	uidset_free(s);
	*s = out;
}

static bool
set_empty(const struct uidset *s)
{
	return s->n == 0;
}

/* The prefix of the reference's msg2(NAME => MBX, ...): the side's name
 * and mailbox, selected or not. */
static const char *
prefix_mbx(const struct ms_box *b)
{
	return ilog_prefix(b->s->name, b->s->mailbox);
}

static int
db_failed(struct ms *ms, const struct err *e)
{
	return ms_fail_err(ms, "database", NULL, e);
}

/* delete_mapping (I:782): the pair of lUID goes, with the reference's
 * warning when there was none. Not committed. */
static int
delete_mapping(struct ms *ms, uint32_t luid)
{
	struct err e;
	int k = db_map_delete(ms->db, ms->idx, luid, &e);

	if (k < 0)
		return db_failed(ms, &e);
	if (k == 0)
		log_at(LOG_WARN, ilog_prefix("database", NULL), "Can't delete "
		    "(idx,lUID) = (%" PRId64 ",%" PRIu32 ")", ms->idx, luid);
	return 0;
}

/* ---- SELECT (select_mbx I:818, _select_or_examine L:2223) ---- */

static int
select_cmd(struct ms *ms, struct ms_box *b, bool sample,
    struct imap_cmd **cmd_r)
{
	struct imap_cmd *c = imap_cmd_new("SELECT");
	struct uidset uids = UIDSET_INIT;
	uint32_t lo = 0, hi = 0;
	char range[32];
	struct err e;
	int k = 0;

	imap_cmd_mailbox_wire(c, b->s->mailbox);
	/* RFC 7162 §3.2.5, with what the database knows. */
	if (b->p_hms > 0 && b->p_uidnext > 1) {
		if (sample && (k = db_map_sample(ms->db, ms->idx, b->s->side,
		    &lo, &hi, &uids, &e)) < 0) {
			imap_cmd_free(&c);
			uidset_free(&uids);
			return db_failed(ms, &e);
		}
		imap_cmd_list_open(c);
		imap_cmd_atom(c, "QRESYNC");
		imap_cmd_list_open(c);
		imap_cmd_number(c, b->p_uidvalidity);
		imap_cmd_number(c, b->p_hms);
		snprintf(range, sizeof(range), "1:%" PRIu32, b->p_uidnext - 1);
		imap_cmd_raw(c, range);
		if (k > 0) {
			/* The sequence range as "lo:hi" even when lo == hi,
			 * as the reference writes it. */
			imap_cmd_list_open(c);
			snprintf(range, sizeof(range), "%" PRIu32 ":%" PRIu32,
			    lo, hi);
			imap_cmd_raw(c, range);
			imap_cmd_uidset(c, &uids);
			imap_cmd_list_close(c);
		}
		imap_cmd_list_close(c);
		imap_cmd_list_close(c);
	}
	uidset_free(&uids);
	*cmd_r = c;
	return 0;
}

/* SELECTs both sides at once; sample: with the message-sequence-match
 * data (select_mbx), else as the reference's plain select() calls. */
static int
select_both(struct ms *ms, bool sample)
{
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
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
		/* Not selected while the SELECT runs (the reference's AUTH
		 * state): its trace and errors say "local: ". */
		imapc_set_log_prefix(b->c, ilog_prefix(b->s->name, NULL));
		ms_submit_select(b, cmd);
	}
	if (ms_wait(ms) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
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

/* ---- known messages ---- */

/* A flag change to propagate: the UID and its normalised flags (owned). */
struct upd {
	uint32_t uid;
	char *flags;
	size_t order;
};

struct pulled {
	struct uidset vanished;
	struct upd *v;
	size_t n, cap;
};

static void
pulled_free(struct pulled *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].flags);
	free(p->v);
	uidset_free(&p->vanished);
	memset(p, 0, sizeof(*p));
}

static int
by_uid_last(const void *a, const void *b)
{
	const struct upd *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static const struct upd *
upd_find(const struct pulled *p, uint32_t uid)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->v[mid].uid == uid)
			return &p->v[mid];
		if (p->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Fetches (MODSEQ FLAGS) of the UIDs of s, in commands of at most
 * IMAP_VERB_SET_MAX bytes of set; own (may be NULL) sees the responses
 * first. Not waited for. */
static int
fetch_flags(struct ms_box *b, struct uidset *s,
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

/* pull_updates (L:1226): the vanished UIDs and the flag changes below the
 * persistent UIDNEXT, the changes newer than its HIGHESTMODSEQ; then that
 * HIGHESTMODSEQ becomes the server's. */
static int
pull_updates(struct ms *ms, struct ms_box *b, struct pulled *out)
{
	uint32_t below = b->p_uidnext;
	size_t order = 0;

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
			if (m->uid >= below || m->modseq <= b->p_hms)
				continue;
			out->v = xgrow(out->v, &out->cap, out->n + 1,
			    sizeof(*out->v));
			out->v[out->n].uid = m->uid;
			out->v[out->n].flags = m->flags;
			out->v[out->n++].order = order++;
			m->flags = NULL;
		}
		ms_mods_clear(&b->mods);
		if (!set_empty(&missing) &&
		    (fetch_flags(b, &missing, NULL, NULL) < 0 ||
		    ms_wait(ms) < 0))
			rc = -1;
		uidset_free(&missing);
		if (rc < 0) {
			pulled_free(out);
			return -1;
		}
	}
	/* One change per UID, the last one reported. */
	if (out->n > 0) {
		size_t k = 0;
		qsort(out->v, out->n, sizeof(*out->v), by_uid_last);
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
		set_copy(&out->vanished, &b->vanished);
		uidset_add(&range, 1, below - 1);
		uidset_intersect(&out->vanished, &range);
		uidset_free(&range);
	}
	uidset_clear(&b->vanished);
	/* Flag changes of vanished messages are moot. */
	if (!set_empty(&out->vanished)) {
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

/* remove_message (L:867) on both sides at once, sets[DB_LOCAL] and
 * sets[DB_REMOTE] (either may be empty): \Deleted, then UID EXPUNGE;
 * what the server reported VANISHED is expunged ("Removed"), the rest
 * failed ("Couldn't UID EXPUNGE", a warning). */
static int
remove_messages(struct ms *ms, struct uidset sets[2])
{
	static const char *const deleted[] = {"\\Deleted"};
	struct err e;

	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		size_t p1 = 0, p2 = 0;
		uidset_normalise(&sets[i]);
		while (p1 < sets[i].n) {
			struct imap_cmd *cmd;
			if (imap_verb_uid_store(&sets[i], &p1,
			    IMAP_VERB_NO_MODSEQ, IMAP_VERB_STORE_ADD, true,
			    deleted, 1, &cmd, &e) < 0)
				return ms_fail_err(ms, b->s->name,
				    b->s->mailbox, &e);
			ms_submit(b, cmd, NULL, NULL);
			ms_submit(b, imap_verb_uid_expunge(&sets[i], &p2),
			    NULL, NULL);
		}
	}
	if (ms_wait(ms) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		struct uidset done = UIDSET_INIT, failed = UIDSET_INIT;
		char *t;
		if (set_empty(&sets[i]))
			continue;
		set_copy(&done, &sets[i]);
		uidset_intersect(&done, &b->vanished);
		set_copy(&failed, &sets[i]);
		set_minus(&failed, &done);
		/* Ours, not news to pass on. */
		set_minus(&b->vanished, &done);
		ms_mods_remove(&b->mods, &done);
		if (!set_empty(&done)) {
			t = ms_set_text(&done);
			log_at(LOG_INFO, ms_prefix(b), "Removed %" PRIu64
			    " UID(s) %s", uidset_count(&done), t);
			free(t);
		}
		if (!set_empty(&failed)) {
			t = ms_set_text(&failed);
			log_at(LOG_WARN, ms_prefix(b), "Couldn't UID EXPUNGE %s",
			    t);
			free(t);
		}
		uidset_free(&done);
		uidset_free(&failed);
	}
	return 0;
}

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

/* push_flag_updates (L:1338) of every group of both sides at once: UID
 * STORE set (UNCHANGEDSINCE persistent HIGHESTMODSEQ) FLAGS.SILENT
 * (flags); then, in the reference's order, what was stored ("Updated
 * flags") and what a [MODIFIED] refused, to be fetched again. */
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
				set_merge(&failed, &x->cmds[k]->modified);
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
			if (!set_empty(&ok)) {
				t = ms_set_text(&ok);
				log_at(LOG_INFO, ms_prefix(b), "Updated flags "
				    "(%s) for UID %s", x->flags, t);
				free(t);
			}
			if (!set_empty(&failed)) {
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

/* The VANISHED half of a sync_known_messages turn (I:1040). */
static int
vanished_pass(struct ms *ms, struct pulled *lp, struct pulled *rp)
{
	struct uidset rm[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset dunno[2] = {UIDSET_INIT, UIDSET_INIT};
	struct pulled *p[2] = {lp, rp};
	struct err e;
	int rc = -1;

	for (int i = 0; i < 2; i++) {
		struct db_pair *pairs = NULL;
		uint32_t *mine;
		size_t n = 0;
		if (set_empty(&p[i]->vanished))
			continue;
		/* By ranges: a VANISHED (EARLIER) set may be large. */
		if (db_map_find(ms->db, ms->idx, (enum db_side)i,
		    &p[i]->vanished, &pairs, &n, &e) < 0) {
			db_failed(ms, &e);
			goto out;
		}
		mine = xcalloc(n ? n : 1, sizeof(*mine));
		for (size_t k = 0; k < n; k++) {
			uint32_t here = i == DB_LOCAL ? pairs[k].luid
						      : pairs[k].ruid;
			uint32_t there = i == DB_LOCAL ? pairs[k].ruid
						       : pairs[k].luid;
			mine[k] = here;
			/* Unless it vanished there too. */
			if (!uidset_has(&p[1 - i]->vanished, there))
				uidset_add(&rm[1 - i], there, there);
		}
		set_copy(&dunno[i], &p[i]->vanished);
		uidset_remove(&dunno[i], mine, n);
		free(mine);
		free(pairs);
	}
	for (int i = 0; i < 2; i++) {
		char *t;
		if (set_empty(&dunno[i]))
			continue;
		t = ms_set_text(&dunno[i]);
		log_at(LOG_WARN, prefix_mbx(&ms->b[1 - i]), "No match for %"
		    PRIu64 " vanished %s UID(s) %s. Ignoring.",
		    uidset_count(&dunno[i]), i == DB_LOCAL ? "local" : "remote",
		    t);
		free(t);
	}
	if (remove_messages(ms, rm) < 0)
		goto out;
	/* The pairs go (committed with the next state commit): the local
	 * UIDs that vanished, then those just expunged locally. */
	for (int pass = 0; pass < 2; pass++) {
		struct uidset *s = pass == 0 ? &lp->vanished : &rm[DB_LOCAL];
		uidset_normalise(s);
		for (size_t r = 0; r < s->n; r++)
			for (uint64_t u = s->r[r].lo; u <= s->r[r].hi; u++)
				if (delete_mapping(ms, (uint32_t)u) < 0)
					goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		uidset_free(&rm[i]);
		uidset_free(&dunno[i]);
	}
	return rc;
}

/* The flags half of a sync_known_messages turn (I:1087). */
static int
flags_pass(struct ms *ms, struct pulled *lp, struct pulled *rp)
{
	struct groups g[2];
	struct err e;
	int rc = -1;

	memset(g, 0, sizeof(g));
	for (size_t i = 0; i < lp->n; i++) {
		const struct upd *l = &lp->v[i], *r;
		uint32_t ruid;
		int k = db_map_get(ms->db, ms->idx, DB_LOCAL, l->uid, &ruid, &e);
		if (k < 0) {
			db_failed(ms, &e);
			goto out;
		}
		if (k == 0) {
			log_at(LOG_WARN, prefix_mbx(&ms->b[DB_REMOTE]), "No "
			    "match for modified local UID %" PRIu32 ". Try "
			    "'--repair'.", l->uid);
		} else if ((r = upd_find(rp, ruid)) != NULL) {
			char *u;
			if (strcmp(l->flags, r->flags) == 0)
				continue; /* the same change on both */
			u = ms_flags_union(l->flags, r->flags);
			log_at(LOG_WARN, ilog_prefix(NULL, NULL), "Conflicting "
			    "flag update in %s for local UID %" PRIu32 " (%s) "
			    "and remote UID %" PRIu32 " (%s). Setting both to "
			    "the union (%s).", ms->display, l->uid, l->flags,
			    ruid, r->flags, u);
			group_add(&g[DB_LOCAL], u, l->uid);
			group_add(&g[DB_REMOTE], u, ruid);
			free(u);
		} else {
			group_add(&g[DB_REMOTE], l->flags, ruid);
		}
	}
	for (size_t i = 0; i < rp->n; i++) {
		const struct upd *r = &rp->v[i];
		uint32_t luid;
		int k = db_map_get(ms->db, ms->idx, DB_REMOTE, r->uid, &luid,
		    &e);
		if (k < 0) {
			db_failed(ms, &e);
			goto out;
		}
		if (k == 0)
			log_at(LOG_WARN, prefix_mbx(&ms->b[DB_LOCAL]), "No "
			    "match for modified remote UID %" PRIu32 ". Try "
			    "'--repair'.", r->uid);
		else if (!upd_find(lp, luid))
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

/* sync_known_messages (I:1012): until both sides are quiet. *update_r:
 * something was pending. */
static int
sync_known(struct ms *ms, bool *update_r)
{
	*update_r = false;
	for (;;) {
		struct pulled lp, rp;
		int rc = 0;

		memset(&rp, 0, sizeof(rp));
		if (pull_updates(ms, &ms->b[DB_LOCAL], &lp) < 0)
			return -1;
		if (pull_updates(ms, &ms->b[DB_REMOTE], &rp) < 0) {
			pulled_free(&lp);
			return -1;
		}
		if (lp.n == 0 && rp.n == 0 && set_empty(&lp.vanished) &&
		    set_empty(&rp.vanished)) {
			pulled_free(&lp);
			pulled_free(&rp);
			return 0;
		}
		*update_r = true;
		if (!set_empty(&lp.vanished) || !set_empty(&rp.vanished))
			rc = vanished_pass(ms, &lp, &rp);
		if (rc == 0 && (lp.n > 0 || rp.n > 0))
			rc = flags_pass(ms, &lp, &rp);
		pulled_free(&lp);
		pulled_free(&rp);
		if (rc < 0)
			return -1;
	}
}

/* ---- new messages ---- */

struct newmsg {
	uint32_t uid;
	uint64_t size;
	char **flags;
	size_t nflags;
	char *date;
};

struct meta {
	struct ms_box *src;
	struct uidset *range;
	struct newmsg *v;
	size_t n, cap;
};

static void
meta_free(struct meta *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->v[i].nflags; j++)
			free(m->v[i].flags[j]);
		free(m->v[i].flags);
		free(m->v[i].date);
	}
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

/* The metadata FETCH's own responses: a message of the range with its
 * size and date. Anything else (an unsolicited FETCH) is the caches'. */
static int
meta_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE;
	struct meta *m = q->ctx;
	struct imap_fetch f;
	struct newmsg *x;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	if ((f.have & need) != need || !uidset_has(m->range, f.uid))
		return 0;
	ms_observe_fetch(q->b, &f);
	m->v = xgrow(m->v, &m->cap, m->n + 1, sizeof(*m->v));
	x = &m->v[m->n++];
	x->uid = f.uid;
	x->size = f.size;
	x->date = xstrdup(f.internaldate);
	x->nflags = 0;
	x->flags = xcalloc(f.flags.n ? f.flags.n : 1, sizeof(*x->flags));
	for (size_t i = 0; i < f.flags.n; i++)
		x->flags[x->nflags++] = xstrdup(f.flags.v[i].str);
	return 1;
}

static int
by_uid(const void *a, const void *b)
{
	const struct newmsg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The copy's untagged responses that are not its own: the caches'. */
static int
xfer_src_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct ms_box *const *bs = ctx;
	return ms_observe(bs[0], r, err);
}

static int
xfer_dst_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct ms_box *const *bs = ctx;
	return ms_observe(bs[1], r, err);
}

static void
xfer_dst_tagged(void *ctx, const struct imap_resp *tagged)
{
	struct ms_box *const *bs = ctx;
	struct err e;
	ms_observe_code(bs[1], tagged, &e);
}

/* callback_new_message_flush (I:1184) and append (L:910): one APPEND of
 * msgs[0..n) from src to dst, the pairs committed with it; the new UIDs
 * of dst are added to added. */
static int
append_batch(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    const struct imap_xfer_msg *msgs, size_t n, struct uidset *added)
{
	struct ms_box *bs[2] = {src, dst};
	struct imap_xfer x = {src->c, dst->c, dst->s->mailbox,
	    ms->timeout_ms,
	    xfer_src_untagged, xfer_dst_untagged, bs, xfer_dst_tagged};
	struct uidset uids = UIDSET_INIT;
	uint32_t uidvalidity, exists = dst->exists, *t, *s;
	uint64_t vanished = uidset_count(&dst->vanished), gone;
	bool had_exists = dst->have_exists;
	char *ts, *ss;
	struct err e;
	size_t k = 0;
	int rc = -1;

	if (imap_xfer_run(&x, msgs, n, &uidvalidity, &uids, &e) < 0) {
		uidset_free(&uids);
		return ms_fail_err(ms, dst->s->name, dst->s->mailbox, &e);
	}
	if (ms->failed)
		goto out; /* a cache saw something fatal meanwhile */
	if (uidvalidity == 0) {
		ms_box_fail(dst, ERR_PROTO, "%s: no [APPENDUID] in the reply to "
		    "APPEND (UIDPLUS, RFC 4315)", imapc_name(dst->c));
		goto out;
	}
	if (dst->uidvalidity != 0 && dst->uidvalidity != uidvalidity) {
		ms_box_fail(dst, ERR_DB, "UIDVALIDITY changed! (%" PRIu32 " != %"
		    PRIu32 ")  Need to invalidate the UID cache for %s.",
		    dst->uidvalidity, uidvalidity, dst->s->mailbox);
		goto out;
	}
	t = xcalloc(n, sizeof(*t));
	s = xcalloc(n, sizeof(*s));
	uidset_normalise(&uids);
	for (size_t r = 0; r < uids.n; r++)
		for (uint64_t u = uids.r[r].lo; u <= uids.r[r].hi && k < n; u++)
			t[k++] = (uint32_t)u;
	for (size_t i = 0; i < n; i++)
		s[i] = msgs[i].uid;
	if (dst->uidnext <= t[n - 1])
		dst->uidnext = t[n - 1] + 1;
	/* EXISTS responses are optional: count the messages when the
	 * server did not (what vanished meanwhile taken into account). */
	gone = uidset_count(&dst->vanished) - vanished;
	if (had_exists && (uint64_t)dst->exists + gone == exists)
		dst->exists += (uint32_t)n;
	ts = ms_list_text(t, n);
	ss = ms_list_text(s, n);
	if (dst->s->side == DB_LOCAL)
		log_at(LOG_INFO, ms_prefix(dst), "Added %zu UID(s) %s <- %s", n,
		    ts, ss);
	else
		log_at(LOG_INFO, ms_prefix(dst), "Added %zu UID(s) %s -> %s", n,
		    ss, ts);
	free(ts);
	free(ss);
	for (size_t i = 0; i < n; i++) {
		uint32_t l = dst->s->side == DB_LOCAL ? t[i] : s[i];
		uint32_t r = dst->s->side == DB_LOCAL ? s[i] : t[i];
		log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), "Adding mapping "
		    "(lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") for %s", l, r,
		    ms->display);
		if (db_map_add(ms->db, ms->idx, l, r, &e) < 0) {
			db_failed(ms, &e);
			break;
		}
		uidset_add(added, t[i], t[i]);
	}
	free(t);
	free(s);
	/* Once per batch: a crash after it copies nothing twice. */
	if (!ms->failed && db_commit(ms->db, &e) < 0)
		db_failed(ms, &e);
	rc = ms->failed ? -1 : 0;
out:
	uidset_free(&uids);
	return rc;
}

/* ---- the reference's batches (callback_new_message, I:1151) ---- */

void
ms_batch_init(struct ms_batch *b, struct ms *ms, struct ms_box *src,
    struct ms_box *dst, size_t total, struct uidset *added)
{
	memset(b, 0, sizeof(*b));
	b->ms = ms;
	b->src = src;
	b->dst = dst;
	b->added = added;
	b->multi = imapc_capable(dst->c, "MULTIAPPEND");
	b->v = xcalloc(ms->batch_max < total ? ms->batch_max : total,
	    sizeof(*b->v));
}

static int
batch_send(struct ms_batch *b)
{
	int rc = ms_append(b->ms, b->src, b->dst, b->v, b->n, b->added);
	b->n = 0;
	b->bytes = 0;
	return rc;
}

int
ms_batch_add(struct ms_batch *b, const struct imap_xfer_msg *x)
{
	if (x->size == 0) {
		/* NIL can't be APPENDed, and RFC 3502 §6.3.11 forbids
		 * 0-length messages. */
		log_at(LOG_WARN, prefix_mbx(b->src), "Ignoring new 0-length "
		    "message (UID %" PRIu32 ")", x->uid);
		return 0;
	}
	/* Full, or the next message would take it past the cap: sent before
	 * that message joins. */
	if (b->n > 0 && (b->n >= b->ms->batch_max ||
	    b->bytes + x->size > b->ms->batch_bytes) && batch_send(b) < 0)
		return -1;
	b->v[b->n++] = *x;
	b->bytes += x->size;
	/* Without MULTIAPPEND each message goes at once. */
	return b->multi ? 0 : batch_send(b);
}

int
ms_batch_end(struct ms_batch *b, int rc)
{
	if (rc == 0 && b->n > 0)
		rc = batch_send(b);
	free(b->v);
	b->v = NULL;
	return rc;
}

/* The new messages of one metadata FETCH, in UID order, copied in the
 * reference's batches. */
static int
copy_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct meta *m, struct uidset *added)
{
	struct ms_batch b;
	int rc = 0;

	qsort(m->v, m->n, sizeof(*m->v), by_uid);
	ms_batch_init(&b, ms, src, dst, m->n, added);
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		const struct newmsg *x = &m->v[i];
		struct imap_xfer_msg xm = {x->uid, x->size,
		    (const char *const *)x->flags, x->nflags, x->date};
		rc = ms_batch_add(&b, &xm);
	}
	return ms_batch_end(&b, rc);
}

/* pull_new_messages (L:1283) from src, copying to dst: the UIDs from
 * the persistent UIDNEXT on, less those of ignore (copies just made on
 * src). The new UIDs made on dst are added to added. */
static int
pull_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *ignore, struct uidset *added)
{
	uint32_t uidnext;

	do {
		struct uidset range = UIDSET_INIT;
		struct meta m = {src, &range, NULL, 0, 0};
		uint64_t since = src->p_uidnext ? src->p_uidnext : 1;
		uint32_t first = 0;
		struct err e;
		int rc = 0;

		uidset_normalise(ignore);
		for (size_t i = 0; i < ignore->n; i++) {
			const struct uidrange *g = &ignore->r[i];
			if (g->hi < since)
				continue;
			if (since < g->lo) {
				uidset_add(&range, (uint32_t)since, g->lo - 1);
				if (!first)
					first = (uint32_t)since;
			}
			since = (uint64_t)g->hi + 1;
		}
		/* 2^32-1, not "*": the highest UID may be known already. */
		if (since <= UINT32_MAX) {
			uidset_add(&range, (uint32_t)since, UINT32_MAX);
			if (!first)
				first = (uint32_t)since;
		}
		if (src->uidnext == 0) {
			uidset_free(&range);
			return ms_box_fail(src, ERR_PROTO, "Unknown UIDNEXT value "
			    "- non-compliant server?");
		}
		uidnext = src->uidnext;
		if (!set_empty(&range) && (first < uidnext || src->new_mail)) {
			for (size_t pos = 0; pos < range.n && rc == 0;) {
				struct imap_cmd *cmd;
				if (imap_verb_uid_fetch(&range, &pos,
				    "(MODSEQ FLAGS INTERNALDATE RFC822.SIZE)",
				    IMAP_VERB_NO_MODSEQ, false, &cmd, &e) < 0)
					rc = ms_box_fail(src, e.kind, "%s", e.msg);
				else
					ms_submit(src, cmd, meta_own, &m);
			}
			if (ms_wait(ms) < 0)
				rc = -1;
			ms_cmds_free(ms);
			for (size_t i = 0; i < m.n; i++)
				if (uidnext <= m.v[i].uid)
					uidnext = m.v[i].uid < UINT32_MAX
					    ? m.v[i].uid + 1 : UINT32_MAX;
			src->new_mail = 0;
			src->p_uidnext = uidnext;
			if (rc == 0 && m.n > 0)
				rc = copy_new(ms, src, dst, &m, added);
		} else {
			src->p_uidnext = uidnext;
			src->new_mail = 0;
		}
		meta_free(&m);
		uidset_free(&range);
		if (rc < 0)
			return -1;
	} while (uidnext < src->uidnext);
	return 0;
}

/* sync_messages (I:1222): new messages both ways, then the known ones,
 * then both sides' state committed. lign, rign: local and remote UIDs
 * not to copy (NULL: none); taken. */
static int
sync_messages(struct ms *ms, struct uidset *lign, struct uidset *rign)
{
	struct uidset ign[2] = {UIDSET_INIT, UIDSET_INIT};
	bool loop, update;
	struct err e;
	int rc = -1;

	if (lign)
		set_copy(&ign[DB_LOCAL], lign);
	if (rign)
		set_copy(&ign[DB_REMOTE], rign);
	do {
		/* Remote first; again while the local pass added to the
		 * remote (which moved the remote UIDNEXT). */
		for (int i = 0; i < 2; i++) {
			struct ms_box *src = &ms->b[i == 0 ? DB_REMOTE : DB_LOCAL];
			struct ms_box *dst = &ms->b[i == 0 ? DB_LOCAL : DB_REMOTE];
			struct uidset added = UIDSET_INIT;
			if (pull_new(ms, src, dst, &ign[src->s->side], &added) < 0) {
				uidset_free(&added);
				goto out;
			}
			loop = !set_empty(&added);
			set_merge(&ign[dst->s->side], &added);
			uidset_free(&added);
		}
	} while (loop);
	if (sync_known(ms, &update) < 0)
		goto out;
	/* Only now: a crash before re-examines the new messages. */
	for (int i = 0; i < 2; i++)
		if (db_state_set(ms->db, (enum db_side)i, ms->idx,
		    ms->b[i].p_uidnext, ms->b[i].p_hms, &e) < 0) {
			db_failed(ms, &e);
			goto out;
		}
	if (db_commit(ms->db, &e) < 0) {
		db_failed(ms, &e);
		goto out;
	}
	rc = 0;
out:
	ms_cmds_free(ms);
	uidset_free(&ign[0]);
	uidset_free(&ign[1]);
	return rc;
}

/* ---- resuming an interrupted copy (I:1308) ---- */

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

static int
resume(struct ms *ms, const struct db_state st[2], struct db_pair *pairs,
    size_t n)
{
	struct uidset asked[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset seen[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset rm[2] = {UIDSET_INIT, UIDSET_INIT};
	struct present pr[2];
	struct err e;
	int rc = -1;

	log_at(LOG_NOTICE, ilog_prefix(NULL, NULL), "Resuming interrupted "
	    "sync for %s", ms->display);
	/* Plain SELECTs: no HIGHESTMODSEQ is trusted. */
	for (int i = 0; i < 2; i++) {
		ms->b[i].p_uidvalidity = ms->b[i].s->have_status
		    ? ms->b[i].s->uidvalidity : 0;
		ms->b[i].p_uidnext = 0;
		ms->b[i].p_hms = 0;
	}
	if (select_both(ms, false) < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		uidset_add(&asked[DB_LOCAL], pairs[k].luid, pairs[k].luid);
		uidset_add(&asked[DB_REMOTE], pairs[k].ruid, pairs[k].ruid);
	}
	for (int i = 0; i < 2; i++) {
		pr[i].asked = &asked[i];
		pr[i].seen = &seen[i];
		if (fetch_flags(&ms->b[i], &asked[i], present_own, &pr[i]) < 0)
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
		if (delete_mapping(ms, pairs[k].luid) < 0)
			goto out;
	}
	if (remove_messages(ms, rm) < 0)
		goto out;
	/* Committed after the expunges, not before. */
	if ((!set_empty(&rm[DB_LOCAL]) || !set_empty(&rm[DB_REMOTE])) &&
	    db_commit(ms->db, &e) < 0) {
		db_failed(ms, &e);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		set_minus(&seen[i], &rm[i]);
		/* The reference's set_cache(UIDVALIDITY, UIDNEXT). */
		if (b->p_uidvalidity != 0 &&
		    b->p_uidvalidity != st[i].uidvalidity) {
			ms_box_fail(b, ERR_DB, "UIDVALIDITY changed! (%" PRIu32
			    " != %" PRIu32 ")  Need to invalidate the UID cache "
			    "for %s.", b->p_uidvalidity, st[i].uidvalidity,
			    b->s->mailbox);
			goto out;
		}
		b->p_uidvalidity = st[i].uidvalidity;
		b->p_uidnext = st[i].uidnext;
	}
	/* The copies made before the interruption are not copied again;
	 * their flags are compared as conflicts (no HIGHESTMODSEQ). */
	rc = sync_messages(ms, &seen[DB_LOCAL], &seen[DB_REMOTE]);
out:
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++) {
		uidset_free(&asked[i]);
		uidset_free(&seen[i]);
		uidset_free(&rm[i]);
	}
	return rc;
}

/* ---- the mailbox ---- */

/* The early UIDVALIDITY check (set_cache at I:1407): LIST-STATUS against
 * the database, before anything is selected. */
static int
check_status(struct ms *ms, const struct db_state st[2])
{
	for (int i = 0; i < 2; i++) {
		const struct msync_side *s = ms->b[i].s;
		if (s->have_status && s->uidvalidity != 0 &&
		    s->uidvalidity != st[i].uidvalidity)
			return ms_fail(ms, s->name, NULL, ERR_DB, "UIDVALIDITY "
			    "changed! (%" PRIu32 " != %" PRIu32 ")  Need to "
			    "invalidate the UID cache for %s.", s->uidvalidity,
			    st[i].uidvalidity, s->mailbox);
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

static int
run(struct ms *ms)
{
	struct db_state st[2];
	struct db_pair *pairs = NULL;
	struct ms_box *l = &ms->b[DB_LOCAL], *r = &ms->b[DB_REMOTE];
	bool known, update;
	size_t n = 0;
	struct err e;
	int k;

	if ((k = db_state_get(ms->db, ms->idx, st, &e)) < 0)
		return db_failed(ms, &e);
	known = k > 0;
	if (known && (check_status(ms, st) < 0 ||
	    db_map_pending(ms->db, ms->idx, &pairs, &n, &e) < 0)) {
		if (!ms->failed)
			db_failed(ms, &e);
		return -1;
	}
	if (n > 0) {
		k = resume(ms, st, pairs, n);
		free(pairs);
		if (k < 0)
			return -1;
	} else {
		if (known && status_clean(l->s, &st[DB_LOCAL]) &&
		    status_clean(r->s, &st[DB_REMOTE]))
			return 0;
		for (int i = 0; i < 2; i++) {
			struct ms_box *b = &ms->b[i];
			if (known) {
				b->p_uidvalidity = st[i].uidvalidity;
				b->p_uidnext = st[i].uidnext;
				b->p_hms = st[i].highestmodseq;
			} else {
				b->p_uidvalidity = b->s->have_status
				    ? b->s->uidvalidity : 0;
			}
		}
		if (select_both(ms, true) < 0)
			return -1;
		if (!known) {
			/* Committed with the first pairs, not before. */
			if (db_state_add(ms->db, ms->idx, l->uidvalidity,
			    r->uidvalidity, &e) < 0)
				return db_failed(ms, &e);
		} else {
			if (sync_known(ms, &update) < 0)
				return -1;
			ms_cmds_free(ms);
			if (update) {
				for (int i = 0; i < 2; i++)
					if (db_state_set_modseq(ms->db,
					    (enum db_side)i, ms->idx,
					    ms->b[i].p_hms, &e) < 0)
						return db_failed(ms, &e);
				if (db_commit(ms->db, &e) < 0)
					return db_failed(ms, &e);
			}
		}
		if (sync_messages(ms, NULL, NULL) < 0)
			return -1;
	}
	/* The reference's loop on the selected mailbox while dirty. */
	while (ms_box_dirty(l) || ms_box_dirty(r))
		if (sync_messages(ms, NULL, NULL) < 0)
			return -1;
	return 0;
}

static void
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

static int
ms_finish(struct ms *ms, int rc, struct err *err)
{
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++) {
		uidset_free(&ms->b[i].vanished);
		ms_mods_clear(&ms->b[i].mods);
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
	free(ms->fail_name);
	free(ms->fail_mbx);
	return rc;
}

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

int
msync_check(struct db *db, int64_t idx, const struct msync_side *local,
    const struct msync_side *remote, bool *dirty_r, struct err *err)
{
	struct msync_opts o = {0, 0, 0, NULL};
	struct db_state st[2];
	struct db_pair *pairs = NULL;
	struct ms ms;
	size_t n = 0;
	bool dirty = true;
	int k, rc = 0;

	if (sides_ok(local, remote, err) < 0)
		return -1;
	ms_init(&ms, db, idx, "", local, remote, &o);
	if ((k = db_state_get(db, idx, st, err)) < 0) {
		rc = db_failed(&ms, err);
	} else if (k > 0) {
		if (check_status(&ms, st) < 0)
			rc = -1;
		else if (db_map_pending(db, idx, &pairs, &n, err) < 0)
			rc = db_failed(&ms, err);
		else
			dirty = n > 0 || !status_clean(local, &st[DB_LOCAL]) ||
			    !status_clean(remote, &st[DB_REMOTE]);
		free(pairs);
	}
	if (dirty_r)
		*dirty_r = dirty;
	return ms_finish(&ms, rc, err);
}

int
msync_mailbox(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err)
{
	struct ms ms;

	if (sides_ok(local, remote, err) < 0)
		return -1;
	ms_init(&ms, db, idx, display_name, local, remote, o);
	return ms_finish(&ms, run(&ms), err);
}

/* ---- --repair (msync_repair.c): the entry point, and the steps it
 * shares with the sync (msync_int.h) ---- */

int
msync_repair(struct db *db, int64_t idx, const char *display_name,
    struct msync_side *local, struct msync_side *remote,
    const struct msync_opts *o, struct err *err)
{
	struct ms ms;

	if (sides_ok(local, remote, err) < 0)
		return -1;
	ms_init(&ms, db, idx, display_name, local, remote, o);
	return ms_finish(&ms, ms_repair(&ms), err);
}

int
ms_select_plain(struct ms *ms)
{
	return select_both(ms, false);
}

int
ms_fetch_flags(struct ms_box *b, struct uidset *s)
{
	return fetch_flags(b, s, NULL, NULL);
}

int
ms_remove(struct ms *ms, struct uidset sets[2])
{
	return remove_messages(ms, sets);
}

int
ms_unmap(struct ms *ms, uint32_t luid)
{
	return delete_mapping(ms, luid);
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

int
ms_append(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    const struct imap_xfer_msg *msgs, size_t n, struct uidset *added)
{
	return append_batch(ms, src, dst, msgs, n, added);
}

int
ms_sync_new(struct ms *ms, struct uidset *lign, struct uidset *rign)
{
	return sync_messages(ms, lign, rign);
}
