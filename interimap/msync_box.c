#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imapc.h"
#include "msync_int.h"

/* Each side's caches, kept from the responses as the reference's client
 * keeps them (Net::IMAP::InterIMAP's _resp, _resp_text, _recv), msync's
 * commands and waits, and its failures. */

/* ---- failures ---- */

int
ms_fail_err(struct ms *ms, const char *name, const char *mailbox,
    const struct err *e)
{
	int rank = !name ? 2 : strcmp(name, "local") == 0 ? 0
	    : strcmp(name, "remote") == 0 ? 1 : 2;

	if (ms->cancelling || (ms->failed && rank >= ms->fail_rank))
		return -1;
	free(ms->fail_name);
	free(ms->fail_mbx);
	ms->failed = true;
	ms->err = *e;
	ms->fail_name = name ? xstrdup(name) : NULL;
	ms->fail_mbx = mailbox ? xstrdup(mailbox) : NULL;
	ms->fail_rank = rank;
	return -1;
}

int
ms_fail(struct ms *ms, const char *name, const char *mailbox,
    enum err_kind kind, const char *fmt, ...)
{
	struct err e;
	va_list ap;

	err_clear(&e);
	e.kind = kind;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	return ms_fail_err(ms, name, mailbox, &e);
}

int
ms_db_fail(struct ms *ms, const struct err *e)
{
	return ms_fail_err(ms, "database", NULL, e);
}

const char *
ms_prefix(const struct ms_box *b)
{
	return ilog_prefix(b->s->name, b->selected ? b->s->mailbox : NULL);
}

const char *
ms_prefix_mbx(const struct ms_box *b)
{
	return ilog_prefix(b->s->name, b->s->mailbox);
}

int
ms_box_fail(struct ms_box *b, enum err_kind kind, const char *fmt, ...)
{
	struct err e;
	va_list ap;

	err_clear(&e);
	e.kind = kind;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	return ms_fail_err(b->ms, b->s->name,
	    b->selected ? b->s->mailbox : NULL, &e);
}

int
ms_uidvalidity_fail(struct ms_box *b, uint32_t have, uint32_t want)
{
	return ms_box_fail(b, ERR_DB, "UIDVALIDITY changed! (%" PRIu32 " != %"
	    PRIu32 ")  Need to invalidate the UID cache for %s.", have, want,
	    b->s->mailbox);
}

/* A failure detected in a handler: recorded, and handed to the engine. */
static int
box_fail_h(struct ms_box *b, struct err *err, enum err_kind kind,
    const char *fmt, ...) ATTR_PRINTF(4, 5);
static int
box_fail_h(struct ms_box *b, struct err *err, enum err_kind kind,
    const char *fmt, ...)
{
	va_list ap;

	err_clear(err);
	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return ms_fail_err(b->ms, b->s->name,
	    b->selected ? b->s->mailbox : NULL, err);
}

/* ---- the caches ---- */

void
ms_box_open(struct ms_box *b)
{
	/* The reference's _open_mailbox: what was pending belongs to the
	 * mailbox before; EXISTS is learnt anew, without counting as new
	 * mail. */
	uidset_clear(&b->vanished);
	ms_mods_clear(&b->mods);
	b->new_mail = 0;
	b->have_exists = false;
	b->exists = 0;
}

static uint32_t
after(uint32_t uid)
{
	return uid < UINT32_MAX ? uid + 1 : UINT32_MAX;
}

int
ms_observe_code(struct ms_box *b, const struct imap_resp *r, struct err *err)
{
	enum imap_code code = imap_code(r);
	uint64_t v;
	int k;

	switch (code) {
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_HIGHESTMODSEQ:
		if ((k = imap_code_number(r, &v, err)) < 0) {
			err_prefix(err, "%s", imapc_name(b->c));
			return ms_fail_err(b->ms, b->s->name, b->selected ?
			    b->s->mailbox : NULL, err);
		}
		if (k == 0)
			break;
		if (code == IMAP_CODE_UIDNEXT) {
			b->uidnext = (uint32_t)v;
		} else if (code == IMAP_CODE_HIGHESTMODSEQ) {
			b->hms = v;
		} else {
			/* Before any sync, as the reference checks it. */
			if (b->uidvalidity != 0 && b->uidvalidity != v)
				return box_fail_h(b, err, ERR_DB, "UIDVALIDITY "
				    "changed! (%" PRIu32 " != %" PRIu64 ")  Need "
				    "to invalidate the UID cache for %s.",
				    b->uidvalidity, v, b->s->mailbox);
			b->uidvalidity = (uint32_t)v;
			if (b->p_uidvalidity == 0)
				b->p_uidvalidity = (uint32_t)v;
		}
		break;
	case IMAP_CODE_NOMODSEQ:
		b->nomodseq = true;
		break;
	case IMAP_CODE_UIDNOTSTICKY:
		b->uidnotsticky = true;
		break;
	case IMAP_CODE_CLOSED:
		/* RFC 7162 §3.2.11: what follows is the new mailbox's (but
		 * when it is the same again: ms_reclaim()). */
		if (!b->reopen)
			ms_box_open(b);
		break;
	default:
		break;
	}
	return 0;
}

void
ms_observe_fetch(struct ms_box *b, const struct imap_fetch *f)
{
	if (f->seq > b->exists)
		b->exists = f->seq;
	/* The actual UIDNEXT is at least that. */
	if ((f->have & IMAP_FETCH_UID) && b->uidnext <= f->uid)
		b->uidnext = after(f->uid);
	if ((f->have & IMAP_FETCH_MODSEQ) && b->hms < f->modseq)
		b->hms = f->modseq;
}

static int
observe_vanished(struct ms_box *b, const struct imap_resp *r,
    struct err *err)
{
	struct uidset set = UIDSET_INIT;
	bool earlier = false;

	if (imap_vanished_parse(r, &earlier, &set, err) < 0) {
		uidset_free(&set);
		err_prefix(err, "%s", imapc_name(b->c));
		return ms_fail_err(b->ms, b->s->name,
		    b->selected ? b->s->mailbox : NULL, err);
	}
	uidset_normalise(&set);
	for (size_t i = 0; i < set.n; i++) {
		const struct uidrange *g = &set.r[i];
		uint64_t count = (uint64_t)g->hi - g->lo + 1;
		/* Explicit EXISTS responses are optional. */
		if (!earlier)
			b->exists = count < b->exists
			    ? b->exists - (uint32_t)count : 0;
		if (b->uidnext <= g->hi)
			b->uidnext = after(g->hi);
		uidset_add(&b->vanished, g->lo, g->hi);
	}
	uidset_free(&set);
	return 0;
}

int
ms_observe(struct ms_box *b, const struct imap_resp *r, struct err *err)
{
	struct imap_fetch f;

	if (r->kind != IMAP_RESP_UNTAGGED)
		return 0;
	if (r->status)
		return ms_observe_code(b, r, err) < 0 ? -1 : 1;
	switch (imap_data_kind(r)) {
	case IMAP_DATA_EXISTS:
		if (b->have_exists) {
			if (r->num < b->exists)
				return box_fail_h(b, err, ERR_PROTO, "Unexpected "
				    "EXISTS shrink %" PRIu32 " < %" PRIu32 "!",
				    r->num, b->exists);
			b->new_mail += r->num - b->exists;
		}
		b->exists = r->num;
		b->have_exists = true;
		break;
	case IMAP_DATA_EXPUNGE:
		/* QRESYNC is enabled (a precondition of msync). */
		return box_fail_h(b, err, ERR_PROTO, "RFC 7162 violation! Got "
		    "an EXPUNGE response with QRESYNC enabled.");
	case IMAP_DATA_VANISHED:
		if (observe_vanished(b, r, err) < 0)
			return -1;
		break;
	case IMAP_DATA_FETCH:
		if (imap_fetch_parse(r, &f, err) < 0) {
			err_prefix(err, "%s", imapc_name(b->c));
			return ms_fail_err(b->ms, b->s->name,
			    b->selected ? b->s->mailbox : NULL, err);
		}
		if (ms_pre_take(b, &f))
			break;
		ms_observe_fetch(b, &f);
		/* New mail (a body) or an envelope is not a flag change;
		 * nor is a FETCH without UID (RFC 7162 §3.2.4). */
		if ((f.have & (IMAP_FETCH_BODY | IMAP_FETCH_ENVELOPE)) ||
		    !(f.have & IMAP_FETCH_UID))
			break;
		ms_mods_add(&b->mods, f.uid, f.modseq,
		    (f.have & IMAP_FETCH_FLAGS) ? ms_flags_norm(&f.flags)
						 : NULL);
		break;
	case IMAP_DATA_STATUS:
	case IMAP_DATA_LIST:
		/* NOTIFY's news of other mailboxes (--notify): for the
		 * connection's events (interimap/watch.h). */
		return 0;
	default:
		break;
	}
	return 1;
}

bool
ms_box_dirty(const struct ms_box *b)
{
	if (b->new_mail)
		return true;
	return !(b->p_hms != 0 && b->hms != 0 && b->p_hms == b->hms &&
	    b->p_uidnext != 0 && b->uidnext != 0 &&
	    b->p_uidnext == b->uidnext);
}

int
ms_box_check(struct ms_box *b)
{
	/* Without MODSEQs nothing can be kept track of (QRESYNC is on). */
	if (b->nomodseq)
		return ms_box_fail(b, ERR_PROTO, "Mailbox %s doesn't support "
		    "MODSEQ.", b->s->mailbox);
	if (b->uidnotsticky)
		return ms_box_fail(b, ERR_PROTO, "Mailbox %s does not support "
		    "persistent UIDs.", b->s->mailbox);
	return 0;
}

/* ---- commands ---- */

static int
cmd_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct ms_cmd *q = ctx;
	int k;

	if (q->own && (k = q->own(q, r, err)) != 0)
		return k;
	/* Every untagged response is the caches': none is left for later
	 * commands or the connection's events. */
	return ms_observe(q->b, r, err);
}

static void
cmd_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct ms_cmd *q = ctx;
	struct ms_box *b = q->b;
	struct err e;

	q->done = true;
	if (err) {
		q->failed = true;
		ms_fail_err(b->ms, b->s->name,
		    b->selected ? b->s->mailbox : NULL, err);
		return;
	}
	/* Selected: what comes next is traced under the mailbox's prefix,
	 * as the reference's state changes (ms_open() makes it so for the
	 * rest once both SELECTs are done). */
	if (q->select)
		imapc_set_log_prefix(b->c, ilog_prefix(b->s->name,
		    b->s->mailbox));
	/* The reference reads the tagged reply's code too (_recv). */
	if (ms_observe_code(b, tagged, &e) < 0) {
		q->failed = true;
		return;
	}
	if (imap_code_modified(tagged, &q->modified, &e) < 0) {
		q->failed = true;
		err_prefix(&e, "%s", imapc_name(b->c));
		ms_fail_err(b->ms, b->s->name,
		    b->selected ? b->s->mailbox : NULL, &e);
	}
}

static struct ms_cmd *
cmd_new(struct ms_box *b,
    int (*own)(struct ms_cmd *, const struct imap_resp *, struct err *),
    void *ctx, struct imapc_handlers *h)
{
	struct ms_cmd *q = xcalloc(1, sizeof(*q));

	q->b = b;
	q->own = own;
	q->ctx = ctx;
	q->modified = (struct uidset)UIDSET_INIT;
	q->next = b->ms->cmds;
	b->ms->cmds = q;
	h->untagged = cmd_untagged;
	h->literal = NULL;
	h->continuation = NULL;
	h->done = cmd_done;
	h->ctx = q;
	return q;
}

struct ms_cmd *
ms_submit(struct ms_box *b, struct imap_cmd *cmd,
    int (*own)(struct ms_cmd *, const struct imap_resp *, struct err *),
    void *ctx)
{
	struct imapc_handlers h;
	/* Never in the next mailbox's place: should the side not come
	 * back, the command is not sent at all. */
	bool refused = b->lent && ms_reclaim(b) < 0;
	struct ms_cmd *q = cmd_new(b, own, ctx, &h);

	if (refused) {
		q->done = q->failed = true;
		imap_cmd_free(&cmd);
	} else {
		imapc_submit(b->c, cmd, &h);
	}
	return q;
}

struct ms_cmd *
ms_submit_select(struct ms_box *b, struct imap_cmd *cmd)
{
	struct imapc_handlers h;
	struct ms_cmd *q = cmd_new(b, NULL, NULL, &h);

	q->select = true;
	imapc_submit_select(b->c, cmd, b->s->mailbox, &h);
	return q;
}

int
ms_wait(struct ms *ms)
{
	struct imapc *cs[2] = {ms->b[DB_LOCAL].c, ms->b[DB_REMOTE].c};
	struct err e;

	if (imapc_drive(cs, 2, NULL, ms->timeout_ms, &e) < 0) {
		struct ms_box *b = NULL;
		for (int i = 0; i < 2 && !b; i++)
			if (!imapc_usable(cs[i]))
				b = &ms->b[i];
		if (b)
			ms_fail_err(ms, b->s->name,
			    b->selected ? b->s->mailbox : NULL, &e);
		else
			ms_fail_err(ms, NULL, NULL, &e);
		/* No handler of ours may outlive this call. */
		ms->cancelling = true;
		for (int i = 0; i < 2; i++)
			if (imapc_in_flight(cs[i]) > 0)
				imapc_cancel(cs[i]);
		ms->cancelling = false;
	}
	return ms->failed ? -1 : 0;
}

void
ms_cmds_free(struct ms *ms)
{
	while (ms->cmds) {
		struct ms_cmd *q = ms->cmds;
		ms->cmds = q->next;
		uidset_free(&q->modified);
		free(q);
	}
}

/* ---- flag changes ---- */

void
ms_mods_add(struct ms_mods *m, uint32_t uid, uint64_t modseq, char *flags)
{
	struct ms_mod *e;

	m->v = xgrow(m->v, &m->cap, m->n + 1, sizeof(*m->v));
	if (m->n > 0 && m->v[m->n - 1].uid >= uid)
		m->sorted = false;
	e = &m->v[m->n++];
	e->uid = uid;
	e->modseq = modseq;
	e->flags = flags;
	e->order = m->order++;
}

int
ms_mod_cmp(const void *a, const void *b)
{
	const struct ms_mod *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void
ms_mods_norm(struct ms_mods *m)
{
	size_t out = 0;

	if (m->sorted || m->n == 0) {
		m->sorted = true;
		return;
	}
	qsort(m->v, m->n, sizeof(*m->v), ms_mod_cmp);
	/* The reference's rule, applied in arrival order: a later report
	 * replaces the known one when its MODSEQ is higher, or equal with
	 * flags where the known one had none. */
	for (size_t i = 0; i < m->n; i++) {
		struct ms_mod e = m->v[i], *cur;
		if (out == 0 || m->v[out - 1].uid != e.uid) {
			m->v[out++] = e;
			continue;
		}
		cur = &m->v[out - 1];
		if (cur->modseq < e.modseq ||
		    (cur->modseq == e.modseq && !cur->flags)) {
			free(cur->flags);
			*cur = e;
		} else {
			free(e.flags);
		}
	}
	m->n = out;
	m->sorted = true;
}

struct ms_mod *
ms_mod_find(struct ms_mod *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].uid == uid)
			return &v[mid];
		if (v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct ms_mod *
ms_mods_find(struct ms_mods *m, uint32_t uid)
{
	ms_mods_norm(m);
	return ms_mod_find(m->v, m->n, uid);
}

void
ms_mods_remove(struct ms_mods *m, struct uidset *s)
{
	size_t out = 0;

	ms_mods_norm(m);
	for (size_t i = 0; i < m->n; i++) {
		if (uidset_has(s, m->v[i].uid)) {
			free(m->v[i].flags);
			continue;
		}
		m->v[out++] = m->v[i];
	}
	m->n = out;
}

void
ms_mods_clear(struct ms_mods *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].flags);
	free(m->v);
	memset(m, 0, sizeof(*m));
	m->sorted = true;
}
