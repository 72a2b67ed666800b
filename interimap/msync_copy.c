#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "imap_xfer.h"
#include "imapc.h"
#include "log.h"
#include "msync_int.h"
#include "progress.h"

/* New messages are copied to the other side: the reference's
 * pull_new_messages (L:1283), callback_new_message (I:1151),
 * callback_new_message_flush (I:1184) and append (L:910), the bodies
 * streamed from the source's FETCH into the target's APPEND. */

/* ---- metadata ---- */

struct collect {
	struct uidset *asked;
	bool envelope;
	struct ms_newmsgs *out;
};

void
ms_newmsgs_free(struct ms_newmsgs *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->v[i].nflags; j++)
			free(m->v[i].flags[j]);
		free(m->v[i].flags);
		free(m->v[i].date);
		free(m->v[i].from);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
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

/* The metadata FETCH's own responses: a message asked for, with its size
 * and date (and envelope, an address of "" without it). Anything else (an
 * unsolicited FETCH) is the caches'. */
static int
collect_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE;
	struct collect *c = q->ctx;
	struct ms_newmsgs *m = c->out;
	struct imap_fetch f;
	struct ms_newmsg *x;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	if ((f.have & need) != need || !uidset_has(c->asked, f.uid))
		return 0;
	ms_observe_fetch(q->b, &f);
	m->v = xgrow(m->v, &m->cap, m->n + 1, sizeof(*m->v));
	x = &m->v[m->n++];
	x->uid = f.uid;
	x->size = f.size;
	x->date = xstrdup(f.internaldate);
	x->from = !c->envelope ? NULL
	    : (f.have & IMAP_FETCH_ENVELOPE) ? envelope_from(f.envelope)
	    : xstrdup("");
	x->nflags = 0;
	x->flags = xcalloc(f.flags.n ? f.flags.n : 1, sizeof(*x->flags));
	for (size_t i = 0; i < f.flags.n; i++)
		x->flags[x->nflags++] = xstrdup(f.flags.v[i].str);
	return 1;
}

int
ms_fetch_new(struct ms *ms, struct ms_box *src, struct uidset *uids,
    bool envelope, struct ms_newmsgs *out)
{
	struct collect c = {uids, envelope, out};
	const char *items = envelope
	    ? "(MODSEQ FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"
	    : "(MODSEQ FLAGS INTERNALDATE RFC822.SIZE)";
	struct err e;
	int rc = 0;

	uidset_normalise(uids);
	for (size_t pos = 0; pos < uids->n && rc == 0;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(uids, &pos, items, IMAP_VERB_NO_MODSEQ,
		    false, &cmd, &e) < 0)
			rc = ms_box_fail(src, e.kind, "%s", e.msg);
		else
			ms_submit(src, cmd, collect_own, &c);
	}
	if (ms_wait(ms) < 0)
		rc = -1;
	ms_cmds_free(ms);
	return rc;
}

/* ---- APPEND ---- */

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

/* One APPEND of msgs[0..n) from src to dst, the pairs committed with it;
 * the new UIDs of dst are added to added. */
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
		ms_uidvalidity_fail(dst, dst->uidvalidity, uidvalidity);
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
			ms_db_fail(ms, &e);
			break;
		}
		uidset_add(added, t[i], t[i]);
	}
	/* With its pairs, the batch is no more a copy under way. */
	if (!ms->failed)
		ms_intent_done(ms, dst, s, n);
	free(t);
	free(s);
	/* Once per batch: a crash after it copies nothing twice. */
	if (!ms->failed && db_commit(ms->db, &e) < 0)
		ms_db_fail(ms, &e);
	rc = ms->failed ? -1 : 0;
out:
	uidset_free(&uids);
	return rc;
}

/* ---- the reference's batches ---- */

struct batch {
	struct ms *ms;
	struct ms_box *src, *dst;
	struct uidset *added;
	struct imap_xfer_msg *v;
	size_t n;
	uint64_t bytes;
	bool multi;
};

static int
batch_send(struct batch *b)
{
	int rc = append_batch(b->ms, b->src, b->dst, b->v, b->n, b->added);

	if (rc == 0)
		progress_copied(b->n, b->bytes);
	b->n = 0;
	b->bytes = 0;
	return rc;
}

/* Queues x (its strings borrowed until the batch is sent), sending the
 * batch first when it is full or x would take it past batch_bytes. */
static int
batch_add(struct batch *b, const struct imap_xfer_msg *x)
{
	if (x->size == 0) {
		/* NIL can't be APPENDed, and RFC 3502 §6.3.11 forbids
		 * 0-length messages. */
		log_at(LOG_WARN, ms_prefix_mbx(b->src), "Ignoring new 0-length "
		    "message (UID %" PRIu32 ")", x->uid);
		return 0;
	}
	if (b->n > 0 && (b->n >= b->ms->batch_max ||
	    b->bytes + x->size > b->ms->batch_bytes) && batch_send(b) < 0)
		return -1;
	b->v[b->n++] = *x;
	b->bytes += x->size;
	/* Without MULTIAPPEND each message goes at once. */
	return b->multi ? 0 : batch_send(b);
}

static int
by_uid(const void *a, const void *b)
{
	const struct ms_newmsg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int
ms_copy_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, bool announce, struct uidset *added)
{
	struct batch b;
	int rc = 0;

	if (m->n == 0)
		return 0;
	qsort(m->v, m->n, sizeof(*m->v), by_uid);
	/* Every batch's, durable before the first is sent. */
	if (ms_intent_record(ms, src, dst, m->v, m->n) < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.ms = ms;
	b.src = src;
	b.dst = dst;
	b.added = added;
	b.multi = imapc_capable(dst->c, "MULTIAPPEND");
	b.v = xcalloc(ms->batch_max < m->n ? ms->batch_max : m->n,
	    sizeof(*b.v));
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		const struct ms_newmsg *x = &m->v[i];
		struct imap_xfer_msg xm = {x->uid, x->size,
		    (const char *const *)x->flags, x->nflags, x->date};
		if (announce)
			log_at(LOG_INFO, ms_prefix_mbx(src), "UID %" PRIu32
			    " from <%s> (%s)", x->uid, x->from ? x->from : "",
			    x->date);
		rc = batch_add(&b, &xm);
	}
	if (rc == 0 && b.n > 0)
		rc = batch_send(&b);
	free(b.v);
	return rc;
}

/* ---- pull_new_messages ---- */

int
ms_pull_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *ignore, struct uidset *added)
{
	uint32_t uidnext;

	do {
		struct uidset range = UIDSET_INIT;
		struct ms_newmsgs m = {NULL, 0, 0};
		uint64_t since = src->p_uidnext ? src->p_uidnext : 1;
		uint32_t first = 0;
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
		if (!ms_set_empty(&range) &&
		    (first < uidnext || src->new_mail)) {
			rc = ms_fetch_new(ms, src, &range, false, &m);
			for (size_t i = 0; i < m.n; i++)
				if (uidnext <= m.v[i].uid)
					uidnext = m.v[i].uid < UINT32_MAX
					    ? m.v[i].uid + 1 : UINT32_MAX;
			src->new_mail = 0;
			src->p_uidnext = uidnext;
			if (rc == 0)
				rc = ms_copy_new(ms, src, dst, &m, false,
				    added);
		} else {
			src->p_uidnext = uidnext;
			src->new_mail = 0;
		}
		ms_newmsgs_free(&m);
		uidset_free(&range);
		if (rc < 0)
			return -1;
	} while (uidnext < src->uidnext);
	return 0;
}
