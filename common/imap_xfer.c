#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap_cmd.h"
#include "imap_data.h"
#include "imap_xfer.h"
#include "imapc.h"

/* One batch (imap_xfer.h): the source's FETCH hands each message to the
 * destination's APPEND as it arrives. */

struct xfer;

/* The handle: the batch's state is freed when it is finished. */
struct imap_xfer_batch {
	struct xfer *x;
};

struct xmsg {
	struct xfer *x;
	const struct imap_xfer_msg *m;
};

struct xfer {
	struct imap_xfer o_copy;  /* the caller's, copied */
	const struct imap_xfer *o;
	struct xmsg *msgs;
	size_t n;
	size_t next;          /* the message the FETCH is to deliver next */
	struct xmsg *cur;     /* the one the APPEND's writer may read now */
	uint64_t cur_left;
	const char *cur_mem;  /* its bytes when they came inline */
	bool starved;         /* a source found none of the FETCH's bytes */
	bool src_done, dst_done;
	bool finished;        /* both done, or failed */
	bool failed;          /* err holds the first failure */
	struct err err;
	uint32_t uidvalidity;
	struct uidset uids;
	/* The batch started before and the one started after (the FETCH
	 * order, below). */
	struct xfer *prev, *later;
	/* held: the APPEND's very last byte waits for imap_xfer_go()
	 * (released); once the FETCH offered it, it waits in last. */
	bool held, released;
	char last;
	/* The FETCH waits for prev's FETCH to end: a server may interleave
	 * the responses of two FETCHes (Dovecot does), while the APPENDs
	 * must take the messages in order. */
	struct imap_cmd *fetch;
	struct imapc_handlers hs;
	struct imap_cmd *app;
	struct uidset set;
};

static void
fail(struct xfer *x, const struct err *e)
{
	if (!x->failed) {
		x->failed = true;
		x->err = *e;
	}
	x->finished = true;
}

/* xm is the batch's last message and its last byte is still held. */
static bool
holding(const struct xfer *x, const struct xmsg *xm)
{
	return x->held && !x->released && xm == &x->msgs[x->n - 1];
}

/* --- the APPEND's literal sources ------------------------------------ */

static ssize_t
msg_source(void *ctx, char *buf, size_t n, struct err *err)
{
	struct xmsg *xm = ctx;
	struct xfer *x = xm->x;
	ssize_t k;

	if (x->cur != xm)
		return IMAP_SOURCE_AGAIN; /* the FETCH has not offered it */
	if (n > x->cur_left)
		n = (size_t)x->cur_left;
	/* The batch's very last byte waits (imap_xfer_start()). */
	if (n == x->cur_left && holding(x, xm) && --n == 0)
		return IMAP_SOURCE_AGAIN;
	if (x->cur_mem) {
		memcpy(buf, x->cur_mem, n);
		x->cur_mem += n;
		k = (ssize_t)n;
	} else {
		k = imapc_literal_read_nb(x->o->src, buf, n, err);
		if (k == IMAP_SOURCE_AGAIN) {
			x->starved = true;
			return k;
		}
		if (k == 0)
			return err_set(err, ERR_PROTO, "%s: UID %" PRIu32 ": "
			    "literal ended early", imapc_name(x->o->src),
			    xm->m->uid);
		if (k < 0)
			return -1;
	}
	x->cur_left -= (uint64_t)k;
	if (x->cur_left == 0)
		x->cur = NULL;
	return k;
}

/* --- the FETCH: each message to the APPEND --------------------------- */

/* The batch's message that the FETCH response f is about: the next one,
 * in the order the APPEND lists them, with the size it announced. */
static struct xmsg *
expected(struct xfer *x, const struct imap_fetch *f, uint64_t size,
    struct err *err)
{
	const char *src = imapc_name(x->o->src);
	struct xmsg *xm;

	if (x->next >= x->n) {
		err_set(err, ERR_PROTO, "%s: FETCH sent a message more than "
		    "asked for (seq %" PRIu32 ")", src, f->seq);
		return NULL;
	}
	xm = &x->msgs[x->next];
	if (!(f->have & IMAP_FETCH_UID) || f->uid != xm->m->uid) {
		err_set(err, ERR_PROTO, "%s: FETCH sent %s %" PRIu32 " where "
		    "UID %" PRIu32 " was expected (the APPEND lists them in "
		    "UID order)", src,
		    (f->have & IMAP_FETCH_UID) ? "UID" : "seq",
		    (f->have & IMAP_FETCH_UID) ? f->uid : f->seq, xm->m->uid);
		return NULL;
	}
	if (size != xm->m->size) {
		/* The APPEND promised m->size bytes in a literal header. */
		err_set(err, ERR_PROTO, "%s: UID %" PRIu32 ": BODY[] is %"
		    PRIu64 " bytes but RFC822.SIZE said %" PRIu64, src,
		    xm->m->uid, size, xm->m->size);
		return NULL;
	}
	return xm;
}

/* Makes xm the APPEND's current message and steps dst until its writer
 * took every byte: from mem, or from the FETCH's literal (then src is
 * waited on as well whenever the source found nothing buffered). */
static int
feed(struct xfer *x, struct xmsg *xm, const char *mem, struct err *err)
{
	const struct imap_xfer *o = x->o;
	bool hold = holding(x, xm);

	x->cur = xm;
	x->cur_left = xm->m->size;
	x->cur_mem = mem;
	while (x->cur_left > (hold ? 1 : 0)) {
		struct imapc *ws[2] = {o->dst, o->src};
		int r;

		x->starved = false;
		r = imapc_step(o->dst, err);
		if (r < 0 || x->failed) {
			if (x->failed)
				*err = x->err;
			return -1;
		}
		if (x->cur_left <= (hold ? 1 : 0))
			break;
		if (x->dst_done)
			return err_set(err, ERR_PROTO, "%s: APPEND ended before "
			    "UID %" PRIu32 " was sent", imapc_name(o->dst),
			    xm->m->uid);
		if (r > 0)
			continue;
		r = imapc_wait(ws, x->starved && !mem ? 2 : 1, o->timeout_ms,
		    err);
		if (r < 0)
			return -1;
		if (r == 0)
			return err_set(err, ERR_TEMP, "timeout (%g s without "
			    "progress) copying UID %" PRIu32 " from %s to %s",
			    o->timeout_ms / 1000.0, xm->m->uid,
			    imapc_name(o->src), imapc_name(o->dst));
	}
	x->next++;
	if (x->cur_left == 0) {
		x->cur = NULL;
		return 0;
	}
	/* The held byte: kept here, the literal read to its end, so that
	 * the FETCH goes on; the source gives it once released. */
	if (x->cur_mem != NULL) {
		x->last = *x->cur_mem;
	} else {
		ssize_t k = imapc_literal_read(o->src, &x->last, 1, err);
		if (k < 0)
			return -1;
		if (k == 0)
			return err_set(err, ERR_PROTO, "%s: UID %" PRIu32 ": "
			    "literal ended early", imapc_name(o->src),
			    xm->m->uid);
	}
	x->cur_mem = &x->last;
	return 0;
}

static int
src_literal(void *ctx, const struct imap_resp *p,
    const struct imap_arg *cont, size_t count, uint64_t size,
    struct err *err)
{
	struct xfer *x = ctx;
	struct imap_fetch f;
	const char *item;
	struct xmsg *xm;
	int k = imap_fetch_parse_partial(p, cont, count, &f, &item, err);

	if (k <= 0)
		return k;
	if (!str_ieq(item, "BODY[]"))
		return 0;
	if (x->failed)
		return 1; /* skipped unread */
	if (!(xm = expected(x, &f, size, err)) || feed(x, xm, NULL, err) < 0) {
		fail(x, err);
		return -1;
	}
	return 1;
}

static int
src_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct xfer *x = ctx;
	struct imap_fetch f;
	struct xmsg *xm;
	int k;

	if (imap_data_kind(r) == IMAP_DATA_FETCH) {
		if ((k = imap_fetch_parse(r, &f, err)) < 0) {
			fail(x, err);
			return -1;
		}
		if (k > 0 && (f.have & IMAP_FETCH_BODY)) {
			if (f.body->type == IMAP_ARG_LITERAL_STREAMED ||
			    x->failed)
				return 1; /* src_literal fed it */
			if (f.body->type != IMAP_ARG_LITERAL &&
			    f.body->type != IMAP_ARG_STRING) {
				err_set(err, ERR_PROTO, "%s: UID %" PRIu32 ": "
				    "BODY[] is NIL", imapc_name(x->o->src),
				    f.uid);
				fail(x, err);
				return -1;
			}
			if (!(xm = expected(x, &f, f.body->len, err)) ||
			    feed(x, xm, f.body->str, err) < 0) {
				fail(x, err);
				return -1;
			}
			return 1;
		}
	}
	/* Not the batch's: unsolicited data about the mailbox. */
	return x->o->src_untagged
	    ? x->o->src_untagged(x->o->ctx, r, err) : 0;
}

static void
src_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct xfer *x = ctx;
	struct err e;
	(void)tagged;

	x->src_done = true;
	if (err) {
		fail(x, err);
	} else if (x->next < x->n) {
		err_set(&e, ERR_PROTO, "%s: FETCH ended without UID %" PRIu32
		    " (expunged meanwhile?)", imapc_name(x->o->src),
		    x->msgs[x->next].m->uid);
		fail(x, &e);
	}
	if (x->dst_done)
		x->finished = true;
}

/* --- the APPEND ------------------------------------------------------ */

static int
dst_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct xfer *x = ctx;
	return x->o->dst_untagged ? x->o->dst_untagged(x->o->ctx, r, err) : 0;
}

static void
dst_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct xfer *x = ctx;
	struct err e;
	int k;

	x->dst_done = true;
	if (x->src_done)
		x->finished = true;
	if (err) {
		fail(x, err);
		return;
	}
	if (x->o->dst_tagged)
		x->o->dst_tagged(x->o->ctx, tagged);
	k = imap_code_appenduid(tagged, &x->uidvalidity, &x->uids, &e);
	if (k < 0) {
		err_prefix(&e, "%s", imapc_name(x->o->dst));
		fail(x, &e);
	} else if (k > 0 && uidset_count(&x->uids) != x->n) {
		err_set(&e, ERR_PROTO, "%s: APPENDUID lists %" PRIu64 " UIDs "
		    "for %zu messages", imapc_name(x->o->dst),
		    uidset_count(&x->uids), x->n);
		fail(x, &e);
	}
}

/* --- one batch ------------------------------------------------------- */

static int
build_append(struct xfer *x, struct imap_cmd **cmd_r, struct err *err)
{
	struct imap_cmd *app = imap_cmd_new("APPEND");
	size_t i;

	imap_cmd_mailbox_wire(app, x->o->mailbox);
	for (i = 0; i < x->n; i++) {
		const struct imap_xfer_msg *m = x->msgs[i].m;
		imap_cmd_list_open(app);
		for (size_t j = 0; j < m->nflags; j++) {
			/* RFC 3501 §2.3.2: \Recent is the server's to set. */
			if (str_ieq(m->flags[j], "\\Recent"))
				continue;
			if (imap_cmd_flag(app, m->flags[j], err) < 0)
				goto fail;
		}
		imap_cmd_list_close(app);
		if (m->internaldate && imap_cmd_quoted(app, m->internaldate,
		    strlen(m->internaldate), err) < 0)
			goto fail;
		imap_cmd_literal_stream(app, m->size, false, msg_source,
		    &x->msgs[i]);
	}
	*cmd_r = app;
	return 0;
fail:
	imap_cmd_free(&app);
	return err_prefix(err, "%s: APPEND of UID %" PRIu32, imapc_name(
	    x->o->dst), x->msgs[i].m->uid);
}

/* After a failure: nothing of ours may stay in flight (the handlers point
 * at this stack frame). The APPEND cannot be cancelled on the wire: its
 * connection goes. The FETCH is driven to its end, its remaining bodies
 * skipped unread, when its connection still works. */
static void
quiesce(struct xfer *x)
{
	const struct imap_xfer *o = x->o;
	struct err e;

	if (!x->dst_done)
		imapc_cancel(o->dst);
	if (x->fetch != NULL)
		return; /* never sent */
	if (!x->src_done && (!imapc_usable(o->src) ||
	    imapc_drive(&o->src, 1, &x->src_done, o->timeout_ms, &e) < 0 ||
	    !x->src_done))
		imapc_cancel(o->src);
}

/* The FETCH goes once the one before is done (struct xfer). */
static void
send_fetch(struct xfer *x)
{
	if (x->fetch == NULL || (x->prev != NULL && !x->prev->src_done))
		return;
	imapc_submit(x->o->src, x->fetch, &x->hs);
	x->fetch = NULL;
}

static void
xfer_free(struct xfer *x)
{
	if (x->later != NULL)
		x->later->prev = NULL;
	if (x->prev != NULL)
		x->prev->later = NULL;
	imap_cmd_free(&x->app);
	imap_cmd_free(&x->fetch);
	uidset_free(&x->set);
	uidset_free(&x->uids);
	free(x->msgs);
	free(x);
}

struct imap_xfer_batch *
imap_xfer_start(const struct imap_xfer *o, const struct imap_xfer_msg *msgs,
    size_t n, struct imap_xfer_batch *after, struct err *err)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	struct imapc_handlers hs = {src_untagged, src_literal, NULL, src_done,
	    x};
	struct imapc_handlers hd = {dst_untagged, NULL, NULL, dst_done, x};

	x->o_copy = *o;
	x->o = &x->o_copy;
	x->n = n;
	x->uids = (struct uidset)UIDSET_INIT;
	x->set = (struct uidset)UIDSET_INIT;
	x->msgs = xcalloc(n, sizeof(*x->msgs));
	for (size_t i = 0; i < n; i++) {
		x->msgs[i].x = x;
		x->msgs[i].m = &msgs[i];
		uidset_add(&x->set, msgs[i].uid, msgs[i].uid);
	}
	if (build_append(x, &x->app, err) < 0) {
		xfer_free(x);
		return NULL;
	}
	if (after != NULL) {
		x->held = true;
		x->prev = after->x;
		after->x->later = x;
	}
	x->fetch = imap_cmd_new("UID FETCH");
	imap_cmd_uidset(x->fetch, &x->set);
	imap_cmd_raw(x->fetch, "(BODY.PEEK[])");
	x->hs = hs;
	imapc_submit(o->dst, x->app, &hd);
	x->app = NULL;
	send_fetch(x);
	{
		struct imap_xfer_batch *b = xcalloc(1, sizeof(*b));
		b->x = x;
		return b;
	}
}

const bool *
imap_xfer_done_flag(const struct imap_xfer_batch *b)
{
	return &b->x->finished;
}

void
imap_xfer_go(struct imap_xfer_batch *b)
{
	/* The source is asked again at the destination's next step. */
	b->x->released = true;
}

int
imap_xfer_finish(struct imap_xfer_batch **bp, uint32_t *uidvalidity_r,
    struct uidset *uids, struct err *err)
{
	struct imap_xfer_batch *b = *bp;
	struct xfer *x = b->x;
	const struct imap_xfer *o = x->o;
	struct imapc *both[2] = {o->src, o->dst};
	int rc = 0;

	*bp = NULL;
	*uidvalidity_r = 0;
	x->released = true;
	send_fetch(x);
	while (!x->failed && (!x->src_done || !x->dst_done)) {
		bool *done = !x->src_done ? &x->src_done : &x->dst_done;
		struct err e;
		/* Until one of them is done, then the other (a failure
		 * ends the loop at once); the next batch's FETCH goes as
		 * soon as this one's ended. */
		if (imapc_drive(both, 2, done, o->timeout_ms, &e) < 0)
			fail(x, &e);
		if (!x->failed && x->src_done && x->later != NULL)
			send_fetch(x->later);
	}
	if (!x->failed && x->later != NULL)
		send_fetch(x->later);
	if (x->failed) {
		quiesce(x);
		*err = x->err;
		rc = -1;
	} else {
		*uidvalidity_r = x->uidvalidity;
		for (size_t i = 0; i < x->uids.n; i++)
			uidset_add(uids, x->uids.r[i].lo, x->uids.r[i].hi);
	}
	xfer_free(x);
	free(b);
	return rc;
}

void
imap_xfer_abort(struct imap_xfer_batch **bp)
{
	struct imap_xfer_batch *b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	if (!b->x->finished)
		fail(b->x, &(struct err){ ERR_TEMP, "copy abandoned" });
	/* Its APPEND is cut short whatever it sent: the server never
	 * carries out a command it did not wholly receive. */
	imapc_cancel(b->x->o->dst);
	quiesce(b->x);
	xfer_free(b->x);
	free(b);
}

int
imap_xfer_run(const struct imap_xfer *o, const struct imap_xfer_msg *msgs,
    size_t n, uint32_t *uidvalidity_r, struct uidset *uids, struct err *err)
{
	struct imap_xfer_batch *b = imap_xfer_start(o, msgs, n, NULL, err);

	*uidvalidity_r = 0;
	if (b == NULL)
		return -1;
	return imap_xfer_finish(&b, uidvalidity_r, uids, err);
}
