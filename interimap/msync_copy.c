#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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

/* A metadata FETCH's response f for c: a message asked for, with its
 * size and date (and envelope, an address of "" without it), added to
 * c->out; false for anything else (an unsolicited FETCH is the
 * caches'). */
static bool
collect(struct ms_box *b, struct collect *c, const struct imap_fetch *f)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE;
	struct ms_newmsgs *m = c->out;
	struct ms_newmsg *x;

	if ((f->have & need) != need || !uidset_has(c->asked, f->uid))
		return false;
	ms_observe_fetch(b, f);
	m->v = xgrow(m->v, &m->cap, m->n + 1, sizeof(*m->v));
	x = &m->v[m->n++];
	x->uid = f->uid;
	x->size = f->size;
	x->date = xstrdup(f->internaldate);
	x->from = !c->envelope ? NULL
	    : (f->have & IMAP_FETCH_ENVELOPE) ? envelope_from(f->envelope)
	    : xstrdup("");
	x->nflags = 0;
	x->flags = xcalloc(f->flags.n ? f->flags.n : 1, sizeof(*x->flags));
	for (size_t i = 0; i < f->flags.n; i++)
		x->flags[x->nflags++] = xstrdup(f->flags.v[i].str);
	return true;
}

/* The metadata FETCH's own responses (collect()). */
static int
collect_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	struct imap_fetch f;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	return collect(q->b, q->ctx, &f) ? 1 : 0;
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

/* A copy from src to dst: the reference's batches (callback_new_message,
 * I:1151), each sent as it fills; the next one streams while the one
 * before waits for its OK, but for its last byte, which goes once that
 * one is recorded (imap_xfer_start()): at most two are in flight, and
 * never more than one copied without being recorded, as in the
 * sequential run. What the sequential run logs between a batch's sending and
 * its "Added" line comes after that line here: such lines wait for the
 * batch they follow. */
struct flight;

struct dline {
	size_t after;             /* the batch whose "Added" comes first */
	enum log_level level;
	char *prefix, *text;
};

struct copy {
	struct ms *ms;
	struct ms_box *src, *dst;
	struct uidset *added;
	bool multi;
	/* The batch being filled (its strings are the caller's). */
	struct imap_xfer_msg *v;
	size_t n;
	uint64_t bytes;
	/* Batches in flight, oldest first, and how many were started. */
	struct flight *fl[2];
	size_t nfl, started;
	/* dst's EXISTS when the server starts on the next APPEND: at the
	 * first one's start, then at each OK. */
	uint32_t exists;
	uint64_t vanished;
	bool had_exists;
	struct dline *lines;
	size_t nlines, cap;
};

struct flight {
	struct copy *cp;
	size_t index;             /* of the batches started */
	struct imap_xfer_msg *v;
	size_t n;
	uint64_t bytes;
	struct imap_xfer_batch *xb;
	/* Something fatal was seen before its OK came: its UIDs are not
	 * recorded (what came after belongs to the next batch's time). */
	bool failed_at_ok;
};

/* The copy's untagged responses that are not its own: the caches'. */
static int
xfer_src_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct flight *f = ctx;
	return ms_observe(f->cp->src, r, err);
}

static int
xfer_dst_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct flight *f = ctx;
	return ms_observe(f->cp->dst, r, err);
}

/* The APPEND's OK, as it comes: its codes for the caches, and the
 * messages counted when the server sent no EXISTS for them (EXISTS
 * responses are optional; what vanished meanwhile taken into account). */
static void
xfer_dst_tagged(void *ctx, const struct imap_resp *tagged)
{
	struct flight *f = ctx;
	struct copy *cp = f->cp;
	struct ms_box *dst = cp->dst;
	uint64_t gone;
	struct err e;

	ms_observe_code(dst, tagged, &e);
	f->failed_at_ok = cp->ms->failed;
	gone = uidset_count(&dst->vanished) - cp->vanished;
	if (cp->had_exists && (uint64_t)dst->exists + gone == cp->exists)
		dst->exists += (uint32_t)f->n;
	cp->exists = dst->exists;
	cp->vanished = uidset_count(&dst->vanished);
	cp->had_exists = dst->have_exists;
}

/* A line of the sequential run's order: now, or once the batches
 * started so far have their "Added" line. */
static void
copy_line(struct copy *cp, enum log_level level, const char *prefix,
    const char *fmt, ...) ATTR_PRINTF(4, 5);
static void
copy_line(struct copy *cp, enum log_level level, const char *prefix,
    const char *fmt, ...)
{
	struct dline *d;
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (cp->nfl == 0) {
		log_at(level, prefix, "%s", text);
		free(text);
		return;
	}
	cp->lines = xgrow(cp->lines, &cp->cap, cp->nlines + 1,
	    sizeof(*cp->lines));
	d = &cp->lines[cp->nlines++];
	d->after = cp->started - 1;
	d->level = level;
	d->prefix = xstrdup(prefix ? prefix : "");
	d->text = text;
}

/* The lines that waited for batch index's "Added" (all of them when
 * index is SIZE_MAX); drop: forget them (the sequential run failed
 * before them). */
static void
copy_flush(struct copy *cp, size_t index, bool drop)
{
	size_t k = 0;

	while (k < cp->nlines && (index == SIZE_MAX ||
	    cp->lines[k].after <= index)) {
		struct dline *d = &cp->lines[k++];
		if (!drop)
			log_at(d->level, d->prefix, "%s", d->text);
		free(d->prefix);
		free(d->text);
	}
	if (k == 0)
		return;
	memmove(cp->lines, cp->lines + k, (cp->nlines - k) *
	    sizeof(*cp->lines));
	cp->nlines -= k;
}

/* A batch given up cancels its destination: what else of msync's was in
 * flight there (a FETCH sent ahead) fails with it, and that is no news
 * (the caller reports the batch's failure). */
static void
flight_free(struct flight *f)
{
	struct ms *ms = f->cp->ms;
	bool was = ms->cancelling;

	ms->cancelling = true;
	imap_xfer_abort(&f->xb);
	ms->cancelling = was;
	free(f->v);
	free(f);
}

/* The oldest batch in flight: its OK waited for, its pairs committed
 * (callback_new_message_flush, I:1184), "Added" logged, the new UIDs of
 * dst added to cp->added, the lines that waited for it logged. */
static int
flight_finish(struct copy *cp)
{
	struct flight *f = cp->fl[0];
	struct ms *ms = cp->ms;
	struct ms_box *dst = cp->dst;
	struct uidset uids = UIDSET_INIT;
	uint32_t uidvalidity, *t, *s;
	const struct imap_xfer_msg *msgs = f->v;
	size_t n = f->n;
	char *ts, *ss;
	struct err e;
	bool ok = true;
	int rc = -1, k;

	cp->fl[0] = cp->fl[1];
	cp->fl[1] = NULL;
	cp->nfl--;
	/* (As flight_free(): a failure cancels the destination.) */
	ms->cancelling = true;
	k = imap_xfer_finish(&f->xb, &uidvalidity, &uids, &e);
	ms->cancelling = false;
	if (k < 0) {
		ms_fail_err(ms, dst->s->name, dst->s->mailbox, &e);
		goto out;
	}
	if (f->failed_at_ok)
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
	for (size_t r = 0, j = 0; r < uids.n; r++)
		for (uint64_t u = uids.r[r].lo; u <= uids.r[r].hi && j < n; u++)
			t[j++] = (uint32_t)u;
	for (size_t i = 0; i < n; i++)
		s[i] = msgs[i].uid;
	if (dst->uidnext <= t[n - 1])
		dst->uidnext = t[n - 1] + 1;
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
	if (ms_state_write(ms) < 0)
		ok = false;
	for (size_t i = 0; ok && i < n; i++) {
		uint32_t l = dst->s->side == DB_LOCAL ? t[i] : s[i];
		uint32_t r = dst->s->side == DB_LOCAL ? s[i] : t[i];
		log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), "Adding mapping "
		    "(lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") for %s", l, r,
		    ms->display);
		if (db_map_add(ms->db, ms->idx, l, r, &e) < 0) {
			ms_db_fail(ms, &e);
			ok = false;
			break;
		}
		uidset_add(cp->added, t[i], t[i]);
	}
	/* With its pairs, the batch is no more a copy under way. */
	if (!ms->failed)
		ms_intent_done(ms, dst, s, n);
	free(t);
	free(s);
	/* Once per batch: a crash after it copies nothing twice. (Also
	 * when the next batch's time brought a failure: these UIDs are the
	 * server's word.) */
	if (ok && db_commit(ms->db, &e) < 0) {
		ms_db_fail(ms, &e);
		ok = false;
	}
	if (ok) {
		progress_copied(f->n, f->bytes);
		copy_flush(cp, f->index, false);
		/* Recorded: the next batch's APPEND may end (its last byte
		 * waited for this, imap_xfer_start()). */
		if (cp->nfl > 0)
			imap_xfer_go(cp->fl[0]->xb);
	}
	rc = ok && !ms->failed ? 0 : -1;
out:
	uidset_free(&uids);
	flight_free(f);
	return rc;
}

/* Every batch in flight finished, in order; after a failure the rest is
 * given up (the one behind it never got its last byte: nothing of it was
 * carried out), and the lines that waited are dropped. */
static int
copy_drain(struct copy *cp)
{
	int rc = 0;

	while (cp->nfl > 0) {
		if (rc == 0) {
			rc = flight_finish(cp);
			continue;
		}
		flight_free(cp->fl[0]);
		cp->fl[0] = cp->fl[1];
		cp->fl[1] = NULL;
		cp->nfl--;
	}
	copy_flush(cp, SIZE_MAX, rc < 0);
	return rc;
}

/* Sends the batch being filled; the one before it (if any) is then
 * finished, so that one is in flight while the next fills. */
static int
batch_send(struct copy *cp)
{
	struct ms *ms = cp->ms;
	struct ms_box *src = cp->src, *dst = cp->dst;
	struct flight *f;
	struct imap_xfer x;
	struct err e;

	/* A side lent to the next mailbox comes back first (msync.h,
	 * msync_ahead); if it cannot, nothing is sent. */
	if (ms_reclaim(src) < 0 || ms_reclaim(dst) < 0) {
		copy_drain(cp);
		return -1;
	}
	f = xcalloc(1, sizeof(*f));
	x = (struct imap_xfer){src->c, dst->c, dst->s->mailbox,
	    ms->timeout_ms, xfer_src_untagged, xfer_dst_untagged, f,
	    xfer_dst_tagged};

	f->cp = cp;
	f->n = cp->n;
	f->bytes = cp->bytes;
	f->v = xcalloc(cp->n, sizeof(*f->v));
	memcpy(f->v, cp->v, cp->n * sizeof(*f->v));
	f->index = cp->started;
	cp->n = 0;
	cp->bytes = 0;
	if (cp->nfl == 0) {
		cp->exists = dst->exists;
		cp->vanished = uidset_count(&dst->vanished);
		cp->had_exists = dst->have_exists;
	}
	f->xb = imap_xfer_start(&x, f->v, f->n,
	    cp->nfl > 0 ? cp->fl[cp->nfl - 1]->xb : NULL, &e);
	if (f->xb == NULL) {
		/* Nothing sent: what is in flight ends first, as in the
		 * sequential run. */
		flight_free(f);
		if (copy_drain(cp) < 0)
			return -1;
		return ms_fail_err(ms, dst->s->name, dst->s->mailbox, &e);
	}
	cp->started++;
	cp->fl[cp->nfl++] = f;
	if (cp->nfl == 2 && flight_finish(cp) < 0) {
		copy_drain(cp);
		return -1;
	}
	return 0;
}

/* Queues x (its strings borrowed until the batch is finished), sending
 * the batch first when it is full or x would take it past
 * batch_bytes. */
static int
batch_add(struct copy *cp, const struct imap_xfer_msg *x)
{
	struct ms *ms = cp->ms;

	if (x->size == 0) {
		/* NIL can't be APPENDed, and RFC 3502 §6.3.11 forbids
		 * 0-length messages. */
		copy_line(cp, LOG_WARN, ms_prefix_mbx(cp->src), "Ignoring new "
		    "0-length message (UID %" PRIu32 ")", x->uid);
		return 0;
	}
	if (cp->n > 0 && (cp->n >= ms->batch_max ||
	    cp->bytes + x->size > ms->batch_bytes) && batch_send(cp) < 0)
		return -1;
	cp->v[cp->n++] = *x;
	cp->bytes += x->size;
	/* Without MULTIAPPEND each message goes at once. */
	return cp->multi ? 0 : batch_send(cp);
}

static int
by_uid(const void *a, const void *b)
{
	const struct ms_newmsg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The UIDs the next pull from dst will ask for once m is copied, the
 * copies taking the UIDs from dst's UIDNEXT on (RFC 3501 §2.3.1.1:
 * ascending, above every UID assigned before), besides dst_ignore. */
static void
predict(struct ms *ms, struct ms_box *dst, uint32_t uidnext,
    const struct ms_newmsgs *m, struct uidset *dst_ignore)
{
	struct uidset ign = UIDSET_INIT;
	uint64_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->v[i].size > 0;
	if (n == 0 || uidnext == 0 || uidnext + n - 1 > UINT32_MAX)
		return;
	ms_set_copy(&ign, dst_ignore);
	uidset_add(&ign, uidnext, (uint32_t)(uidnext + n - 1));
	ms_prefetch_ignoring(ms, dst, &ign);
	uidset_free(&ign);
}

static int
copy_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, bool announce, struct uidset *added,
    struct uidset *dst_ignore)
{
	struct copy cp;
	uint32_t uidnext = dst->uidnext; /* before the copies */
	int rc = 0;

	if (m->n == 0)
		return 0;
	qsort(m->v, m->n, sizeof(*m->v), by_uid);
	/* Every batch's, durable before the first is sent. */
	if (ms_intent_record(ms, src, dst, m->v, m->n) < 0)
		return -1;
	memset(&cp, 0, sizeof(cp));
	cp.ms = ms;
	cp.src = src;
	cp.dst = dst;
	cp.added = added;
	cp.multi = imapc_capable(dst->c, "MULTIAPPEND");
	cp.v = xcalloc(ms->batch_max < m->n ? ms->batch_max : m->n,
	    sizeof(*cp.v));
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		const struct ms_newmsg *x = &m->v[i];
		struct imap_xfer_msg xm = {x->uid, x->size,
		    (const char *const *)x->flags, x->nflags, x->date};
		if (announce)
			copy_line(&cp, LOG_INFO, ms_prefix_mbx(src), "UID %"
			    PRIu32 " from <%s> (%s)", x->uid,
			    x->from ? x->from : "", x->date);
		rc = batch_add(&cp, &xm);
	}
	if (rc == 0 && cp.n > 0)
		rc = batch_send(&cp);
	/* Behind the last APPEND, the pull that follows a copy: one round
	 * trip less (a server that sends no EXISTS for the copies would not
	 * have been asked: its new mail is what moves that pull). */
	if (rc == 0 && dst_ignore != NULL && dst->have_exists &&
	    dst->pre == NULL && cp.started > 0)
		predict(ms, dst, uidnext, m, dst_ignore);
	/* The source is done with this mailbox, in all likelihood: the
	 * next one may start there while dst works (msync_ahead). */
	if (rc == 0 && dst_ignore != NULL && cp.started > 0)
		ms_ahead_lend(ms, src, dst);
	if (rc == 0)
		rc = copy_drain(&cp);
	else
		copy_flush(&cp, SIZE_MAX, true);
	free(cp.lines);
	free(cp.v);
	return rc;
}

int
ms_copy_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, bool announce, struct uidset *added)
{
	return copy_new(ms, src, dst, m, announce, added, NULL);
}

int
ms_copy_new_ahead(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, struct uidset *added, struct uidset *dst_ignore)
{
	return copy_new(ms, src, dst, m, false, added, dst_ignore);
}

/* ---- pull_new_messages ---- */

/* A FETCH sent ahead and its answer. Should one of its commands fail,
 * the sync does (ms->failed, also when the failure was cancelling's: the
 * cancelled copy failed), and nothing takes the answer. */
struct ms_pre {
	struct uidset range;
	struct ms_newmsgs m;
	struct collect c;
};

/* The UIDs from b's persistent UIDNEXT on, but those of ignore. *first_r:
 * the lowest, 0 when none. */
static void
new_range(const struct ms_box *b, struct uidset *ignore, struct uidset *range,
    uint32_t *first_r)
{
	uint64_t since = b->p_uidnext ? b->p_uidnext : 1;
	uint32_t first = 0;

	if (ignore != NULL) {
		uidset_normalise(ignore);
		for (size_t i = 0; i < ignore->n; i++) {
			const struct uidrange *g = &ignore->r[i];
			if (g->hi < since)
				continue;
			if (since < g->lo) {
				uidset_add(range, (uint32_t)since, g->lo - 1);
				if (!first)
					first = (uint32_t)since;
			}
			since = (uint64_t)g->hi + 1;
		}
	}
	/* 2^32-1, not "*": the highest UID may be known already. */
	if (since <= UINT32_MAX) {
		uidset_add(range, (uint32_t)since, UINT32_MAX);
		if (!first)
			first = (uint32_t)since;
	}
	*first_r = first;
}

void
ms_prefetch(struct ms *ms, struct ms_box *b)
{
	ms_prefetch_ignoring(ms, b, NULL);
}

void
ms_prefetch_ignoring(struct ms *ms, struct ms_box *b, struct uidset *ignore)
{
	struct ms_pre *p = xcalloc(1, sizeof(*p));
	uint32_t first;
	struct err e;

	p->range = (struct uidset)UIDSET_INIT;
	new_range(b, ignore, &p->range, &first);
	uidset_normalise(&p->range);
	p->c = (struct collect){&p->range, false, &p->m};
	b->pre = p;
	for (size_t pos = 0; pos < p->range.n;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(&p->range, &pos, "(MODSEQ FLAGS "
		    "INTERNALDATE RFC822.SIZE)", IMAP_VERB_NO_MODSEQ, false,
		    &cmd, &e) < 0) {
			ms_box_fail(b, e.kind, "%s", e.msg);
			return;
		}
		ms_submit(b, cmd, collect_own, &p->c);
	}
	(void)ms;
}

bool
ms_pre_take(struct ms_box *b, const struct imap_fetch *f)
{
	return b->pre != NULL && collect(b, &b->pre->c, f);
}

void
ms_pre_free(struct ms_box *b)
{
	if (b->pre == NULL)
		return;
	ms_newmsgs_free(&b->pre->m);
	uidset_free(&b->pre->range);
	free(b->pre);
	b->pre = NULL;
}

static bool
same_set(struct uidset *a, struct uidset *b)
{
	uidset_normalise(a);
	uidset_normalise(b);
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->r[i].lo != b->r[i].lo || a->r[i].hi != b->r[i].hi)
			return false;
	return true;
}

int
ms_pull_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *ignore, struct uidset *added, struct uidset *dst_ignore)
{
	uint32_t uidnext;

	/* A FETCH sent ahead is read once it is done. */
	if (src->pre != NULL && ms_wait(ms) < 0) {
		ms_pre_free(src);
		return -1;
	}
	do {
		struct uidset range = UIDSET_INIT;
		struct ms_newmsgs m = {NULL, 0, 0};
		uint32_t first = 0;
		bool fetch;
		int rc = 0;

		new_range(src, ignore, &range, &first);
		if (src->uidnext == 0) {
			uidset_free(&range);
			ms_pre_free(src);
			return ms_box_fail(src, ERR_PROTO, "Unknown UIDNEXT value "
			    "- non-compliant server?");
		}
		uidnext = src->uidnext;
		fetch = !ms_set_empty(&range) &&
		    (first < uidnext || src->new_mail);
		if (fetch && src->pre != NULL && same_set(&range,
		    &src->pre->range)) {
			/* Asked already, with the SELECT: its answer. */
			m = src->pre->m;
			src->pre->m = (struct ms_newmsgs){NULL, 0, 0};
		} else if (fetch) {
			rc = ms_fetch_new(ms, src, &range, false, &m);
		}
		ms_pre_free(src);
		if (fetch) {
			for (size_t i = 0; i < m.n; i++)
				if (uidnext <= m.v[i].uid)
					uidnext = m.v[i].uid < UINT32_MAX
					    ? m.v[i].uid + 1 : UINT32_MAX;
			src->new_mail = 0;
			src->p_uidnext = uidnext;
			if (rc == 0)
				rc = ms_copy_new_ahead(ms, src, dst, &m, added,
				    dst_ignore);
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
