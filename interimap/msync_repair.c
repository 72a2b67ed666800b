#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "imapc.h"
#include "log.h"
#include "msync_int.h"

/* --repair (msync.h): the reference's repair() and download_missing()
 * (I:736-762, I:874-1005), on msync's caches and commands. As in the
 * rest of msync, what the reference walks in Perl hash order (its flag
 * groups, the UIDs in no pair) is taken in ascending UID order. */

/* What a side holds below the database's UIDNEXT: every message with its
 * MODSEQ and flags (the reference's pull_updates(1)), and the UIDs the
 * server reported VANISHED since the database's HIGHESTMODSEQ. */
struct held {
	struct ms_mod *v; /* by UID; flags owned */
	size_t n;
	struct uidset vanished;
};

static void
held_free(struct held *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].flags);
	free(h->v);
	uidset_free(&h->vanished);
	memset(h, 0, sizeof(*h));
}

static struct ms_mod *
held_find(const struct held *h, uint32_t uid)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->v[mid].uid == uid)
			return &h->v[mid];
		if (h->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
by_uid_then_order(const void *a, const void *b)
{
	const struct ms_mod *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* pull_updates(1) (L:1226) once the full FETCH is in the caches: every
 * change below the persistent UIDNEXT, whatever its MODSEQ (a FETCH
 * without FLAGS, or a UID a [MODIFIED] refused, is asked again; the last
 * answer counts); the vanished UIDs below it, which no change survives;
 * then the persistent HIGHESTMODSEQ becomes the server's. */
static int
pull_full(struct ms *ms, struct ms_box *b, struct held *out)
{
	uint64_t order = 0;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	out->vanished = (struct uidset)UIDSET_INIT;
	while (b->mods.n > 0) {
		struct uidset missing = UIDSET_INIT;
		int rc = 0;
		ms_mods_norm(&b->mods);
		for (size_t i = 0; i < b->mods.n; i++) {
			struct ms_mod *m = &b->mods.v[i];
			if (!m->flags || m->modseq == 0) {
				uidset_add(&missing, m->uid, m->uid);
				continue;
			}
			if (m->uid >= b->p_uidnext)
				continue;
			out->v = xgrow(out->v, &cap, out->n + 1,
			    sizeof(*out->v));
			out->v[out->n] = *m;
			out->v[out->n++].order = order++;
			m->flags = NULL;
		}
		ms_mods_clear(&b->mods);
		if (missing.n > 0 &&
		    (ms_fetch_flags(b, &missing) < 0 || ms_wait(ms) < 0))
			rc = -1;
		ms_cmds_free(ms);
		uidset_free(&missing);
		if (rc < 0)
			return -1;
	}
	if (out->n > 1) {
		size_t k = 0;
		qsort(out->v, out->n, sizeof(*out->v), by_uid_then_order);
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
	/* Afterwards: the FETCHes above may have brought VANISHED too. */
	if (b->p_uidnext > 1) {
		struct uidset range = UIDSET_INIT;
		uidset_add(&range, 1, b->p_uidnext - 1);
		uidset_normalise(&b->vanished);
		for (size_t i = 0; i < b->vanished.n; i++)
			uidset_add(&out->vanished, b->vanished.r[i].lo,
			    b->vanished.r[i].hi);
		uidset_intersect(&out->vanished, &range);
		uidset_free(&range);
	}
	uidset_clear(&b->vanished);
	if (out->vanished.n > 0) {
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

/* ---- download_missing (I:736) ---- */

struct dl_msg {
	uint32_t uid;
	uint64_t size;
	char **flags;
	size_t nflags;
	char *date;
	char *from; /* "mailbox@host", or "" */
};

struct dl {
	struct uidset *asked;
	struct dl_msg *v;
	size_t n, cap;
};

static void
dl_free(struct dl *d)
{
	for (size_t i = 0; i < d->n; i++) {
		for (size_t j = 0; j < d->v[i].nflags; j++)
			free(d->v[i].flags[j]);
		free(d->v[i].flags);
		free(d->v[i].date);
		free(d->v[i].from);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* The first address of From, Sender or Reply-To (the first of them that
 * has one), as "mailbox@host", or "" when it lacks either part (a group,
 * say). Allocated. */
static char *
envelope_from(const struct imap_arg *env)
{
	static const enum imap_env_field fields[] = {
		IMAP_ENV_FROM, IMAP_ENV_SENDER, IMAP_ENV_REPLY_TO};
	struct imap_address a;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (imap_envelope_address(env, fields[i], 0, &a) <= 0)
			continue;
		if (!a.mailbox || !a.host)
			break;
		return xasprintf("%s@%s", a.mailbox, a.host);
	}
	return xstrdup("");
}

/* The metadata FETCH's own responses: a message asked for, with its
 * size, date, flags and envelope (an address of "" without it). Anything
 * else is the caches'. */
static int
dl_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE;
	struct dl *d = q->ctx;
	struct imap_fetch f;
	struct dl_msg *x;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	if ((f.have & need) != need || !uidset_has(d->asked, f.uid))
		return 0;
	ms_observe_fetch(q->b, &f);
	d->v = xgrow(d->v, &d->cap, d->n + 1, sizeof(*d->v));
	x = &d->v[d->n++];
	x->uid = f.uid;
	x->size = f.size;
	x->date = xstrdup(f.internaldate);
	x->from = (f.have & IMAP_FETCH_ENVELOPE) ? envelope_from(f.envelope)
						  : xstrdup("");
	x->nflags = 0;
	x->flags = xcalloc(f.flags.n ? f.flags.n : 1, sizeof(*x->flags));
	for (size_t i = 0; i < f.flags.n; i++)
		x->flags[x->nflags++] = xstrdup(f.flags.v[i].str);
	return 1;
}

static int
by_dl_uid(const void *a, const void *b)
{
	const struct dl_msg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Copies the messages uids of src to dst again, in the reference's
 * batches, each announced by "UID n from <ADDRESS> (DATE)"; the new UIDs
 * of dst are added to added. Where the reference fetches the bodies with
 * the envelopes, the envelopes come with the metadata FETCH and the
 * bodies are streamed as msync streams new messages. */
static int
download_missing(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *uids, struct uidset *added)
{
	struct dl d = {uids, NULL, 0, 0};
	struct ms_batch b = {0};
	struct err e;
	int rc = 0;

	uidset_normalise(uids);
	for (size_t pos = 0; pos < uids->n && rc == 0;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(uids, &pos, "(MODSEQ FLAGS INTERNALDATE "
		    "RFC822.SIZE ENVELOPE)", IMAP_VERB_NO_MODSEQ, false, &cmd,
		    &e) < 0)
			rc = ms_box_fail(src, e.kind, "%s", e.msg);
		else
			ms_submit(src, cmd, dl_own, &d);
	}
	if (ms_wait(ms) < 0)
		rc = -1;
	ms_cmds_free(ms);
	if (rc == 0 && d.n > 0) {
		qsort(d.v, d.n, sizeof(*d.v), by_dl_uid);
		ms_batch_init(&b, ms, src, dst, d.n, added);
	}
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		const struct dl_msg *x = &d.v[i];
		struct imap_xfer_msg xm = {x->uid, x->size,
		    (const char *const *)x->flags, x->nflags, x->date};

		log_at(LOG_INFO, ilog_prefix(src->s->name, src->s->mailbox),
		    "UID %" PRIu32 " from <%s> (%s)", x->uid, x->from, x->date);
		rc = ms_batch_add(&b, &xm);
	}
	rc = ms_batch_end(&b, rc);
	dl_free(&d);
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

static const char *
prefix_mbx(const struct ms_box *b)
{
	return ilog_prefix(b->s->name, b->s->mailbox);
}

/* One pair (l, r) against what the servers hold (I:897-957). */
static void
check_pair(struct ms *ms, const struct db_state st[2], struct held h[2],
    struct plan *p, uint32_t l, uint32_t r)
{
	const struct ms_mod *lm = held_find(&h[DB_LOCAL], l);
	const struct ms_mod *rm = held_find(&h[DB_REMOTE], r);
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
		u = ms_flags_union(lm->flags, rm->flags);
		log_at(LOG_WARN, ilog_prefix(NULL, NULL), "Conflicting flag "
		    "update in %s for local UID %" PRIu32 " (%s) and remote UID "
		    "%" PRIu32 " (%s). Setting both to the union (%s).",
		    ms->display, l, lm->flags, r, rm->flags, u);
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
	} else if (!lm) {
		if (lgone) {
			uidset_add(&p->rm[DB_REMOTE], r, r);
		} else {
			log_at(LOG_WARN, prefix_mbx(&ms->b[DB_LOCAL]), "UID %"
			    PRIu32 " disappeared. Redownloading remote UID %"
			    PRIu32 ".", l, r);
			uidset_add(&p->missing[DB_REMOTE], r, r);
		}
	} else {
		if (rgone) {
			uidset_add(&p->rm[DB_LOCAL], l, l);
		} else {
			log_at(LOG_WARN, prefix_mbx(&ms->b[DB_REMOTE]), "UID %"
			    PRIu32 " disappeared. Redownloading local UID %"
			    PRIu32 ".", r, l);
			uidset_add(&p->missing[DB_LOCAL], l, l);
		}
	}
}

/* The UIDs in no pair (I:979-993): the vanished ones are reported, the
 * others copied to the other side. */
static void
check_unpaired(struct ms *ms, struct held h[2], struct plan *p)
{
	static const char *const what[2] = {"local", "remote"};

	for (int i = 0; i < 2; i++) {
		uidlist_sort(&p->paired[i]);
		uidset_remove(&h[i].vanished, p->paired[i].v,
		    p->paired[i].n);
		if (h[i].vanished.n > 0) {
			char *t = ms_set_text(&h[i].vanished);
			log_at(LOG_WARN, prefix_mbx(&ms->b[1 - i]), "No match "
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
			log_at(LOG_WARN, prefix_mbx(&ms->b[1 - i]), "No match "
			    "for modified %s UID %" PRIu32 ". Redownloading.",
			    what[i], uid);
			uidset_add(&p->missing[i], uid, uid);
		}
	}
}

int
ms_repair(struct ms *ms)
{
	struct db_state st[2];
	struct db_pair *pairs = NULL;
	struct held h[2];
	struct plan p;
	struct uidset ign[2] = {UIDSET_INIT, UIDSET_INIT};
	const struct ms_upd *uv[2];
	size_t un[2], npairs = 0;
	struct err e;
	int k, rc = -1;

	/* Not in the database, or never selected: nothing to repair. */
	if ((k = db_state_get(ms->db, ms->idx, st, &e)) < 0)
		return ms_fail_err(ms, "database", NULL, &e);
	if (k == 0)
		return 0;
	memset(h, 0, sizeof(h));
	memset(&p, 0, sizeof(p));
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		b->p_uidvalidity = st[i].uidvalidity;
		b->p_uidnext = st[i].uidnext;
		b->p_hms = st[i].highestmodseq;
		h[i].vanished = (struct uidset)UIDSET_INIT;
		p.rm[i] = p.missing[i] = (struct uidset)UIDSET_INIT;
	}
	if (ms_select_plain(ms) < 0)
		goto out;
	/* Every message below the database's UIDNEXT, both sides at once. */
	for (int i = 0; i < 2; i++) {
		struct uidset all = UIDSET_INIT;
		k = 0;
		if (ms->b[i].p_uidnext > 1) {
			uidset_add(&all, 1, ms->b[i].p_uidnext - 1);
			k = ms_fetch_flags(&ms->b[i], &all);
		}
		uidset_free(&all);
		if (k < 0)
			goto out;
	}
	if (ms_wait(ms) < 0)
		goto out;
	ms_cmds_free(ms);
	for (int i = 0; i < 2; i++)
		if (pull_full(ms, &ms->b[i], &h[i]) < 0)
			goto out;

	if (db_map_pairs(ms->db, ms->idx, &pairs, &npairs, &e) < 0) {
		ms_fail_err(ms, "database", NULL, &e);
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
		ms_fail_err(ms, "database", NULL, &e);
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
		held_free(&h[i]);
		uidset_free(&ign[i]);
	}
	return ms->failed ? -1 : rc;
}
