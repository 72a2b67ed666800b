#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "ilog.h"
#include "imap_auth.h"
#include "imap_verbs.h"
#include "log.h"
#include "side.h"

int side_timeout_ms = 30000;

void
side_init(struct side *s, const char *name, const struct iconf_side *conf)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->conf = conf;
}

void
side_set_mailbox(struct side *s, const char *mailbox)
{
	free(s->mailbox);
	s->mailbox = mailbox ? xstrdup(mailbox) : NULL;
}

const char *
side_prefix(const struct side *s)
{
	return ilog_prefix(s->name, s->mailbox);
}

/* The wrapping of the caller's handlers (side_run(), side_start()): the
 * tagged reply is needed for the refusal's text, and a handler's failure
 * must not pass for the server's refusal. */
static int
run_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct side_cmd *x = ctx;
	int rc = x->h.untagged ?
	    x->h.untagged(x->h.ctx, r, err) : 0;
	if (rc < 0)
		x->handler_failed = true;
	return rc;
}

static int
run_literal(void *ctx, const struct imap_resp *partial,
    const struct imap_arg *container, size_t count, uint64_t size,
    struct err *err)
{
	struct side_cmd *x = ctx;
	int rc = x->h.literal ? x->h.literal(x->h.ctx, partial,
	    container, count, size, err) : 0;
	if (rc < 0)
		x->handler_failed = true;
	return rc;
}

static int
run_continuation(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct side_cmd *x = ctx;
	int rc = x->h.continuation ?
	    x->h.continuation(x->h.ctx, r, err) : 0;
	if (rc < 0)
		x->handler_failed = true;
	return rc;
}

static void
run_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct side_cmd *x = ctx;

	x->done = true;
	x->ok = err == NULL;
	x->cancelled = x->s->cancelling;
	if (err)
		x->err = *err;
	if (tagged && tagged->status && strcmp(tagged->status, "OK") != 0) {
		/* The reference quotes the line after the tag: "NO [CODE
		 * args] text". */
		char *r = x->refusal;
		size_t size = sizeof(x->refusal);
		x->refused = true;
		if (tagged->code && tagged->code_raw && *tagged->code_raw)
			snprintf(r, size, "%s [%s %s]", tagged->status,
			    tagged->code, tagged->code_raw);
		else if (tagged->code)
			snprintf(r, size, "%s [%s]", tagged->status,
			    tagged->code);
		else
			snprintf(r, size, "%s", tagged->status);
		if (tagged->text && *tagged->text) {
			size_t n = strlen(r);
			snprintf(r + n, size - n, " %s", tagged->text);
		}
	}
	if (x->h.done)
		x->h.done(x->h.ctx, tagged, err);
}

static void
cmd_init(struct side_cmd *q, struct side *s, const struct imapc_handlers *h,
    struct imapc_handlers *w)
{
	memset(q, 0, sizeof(*q));
	q->s = s;
	if (h != NULL)
		q->h = *h;
	*w = (struct imapc_handlers){ run_untagged, run_literal,
		run_continuation, run_done, q };
}

int
side_result(struct side_cmd *q, struct ierr *ie)
{
	struct side *s = q->s;

	snprintf(s->refusal, sizeof(s->refusal), "%s", q->refusal);
	if (q->ok)
		return 0;
	if (q->refused && !q->handler_failed && imapc_usable(s->imap))
		return 1;
	/* Cut short by side_wait(): its reason, not "abandoned". */
	if (!q->done || q->cancelled)
		return ierr_wrap(ie, s->name, &s->broke);
	return ierr_wrap(ie, s->name, &q->err);
}

int
side_run(struct side *s, struct imap_cmd *cmd, const struct imapc_handlers *h,
    struct ierr *ie)
{
	struct side_cmd q;
	struct imapc_handlers w;

	cmd_init(&q, s, h, &w);
	if (imapc_run(s->imap, cmd, &w, SIDE_TIMEOUT_MS, &s->broke) == 0)
		return side_result(&q, ie);
	/* imapc_run()'s error is done()'s, or a timeout's or an
	 * interruption's: then the engine failed the command with it. */
	if (!q.done)
		q.err = s->broke;
	return side_result(&q, ie);
}

void
side_start(struct side *s, struct imap_cmd *cmd,
    const struct imapc_handlers *h, struct side_cmd *q)
{
	struct imapc_handlers w;

	cmd_init(q, s, h, &w);
	imapc_submit(s->imap, cmd, &w);
}

int
side_wait(struct side *const *s, size_t n)
{
	return side_wait_for(s, n, NULL);
}

int
side_wait_for(struct side *const *s, size_t n, const struct side_cmd *q)
{
	struct imapc *cs[2] = { NULL, NULL };
	struct err err;
	size_t k = 0;

	for (size_t i = 0; i < n && k < 2; i++)
		if (s[i]->imap != NULL)
			cs[k++] = s[i]->imap;
	if (k == 0 || (q != NULL && q->done) || imapc_drive(cs, k,
	    q != NULL ? &q->done : NULL, SIDE_TIMEOUT_MS, &err) == 0)
		return 0;
	/* A connection failed (its commands are done with the failure), or
	 * a wait ended (timeout, stop request): whatever is still in flight
	 * is given up, with that reason. */
	for (size_t i = 0; i < n; i++) {
		struct side *sd = s[i];
		if (sd->imap == NULL || imapc_in_flight(sd->imap) == 0)
			continue;
		sd->broke = err;
		sd->cancelling = true;
		imapc_cancel(sd->imap);
		sd->cancelling = false;
	}
	return -1;
}

/* ENABLE's untagged handler: *ctx is "QRESYNC was enabled". */
static int
enabled_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	return imap_verb_enabled_check(r, "QRESYNC", ctx, err);
}

/* One side being opened (side_open()). */
struct opening {
	struct side *s;
	struct imap_login *l;
	enum { O_LOGIN, O_CMDS, O_FAILED } phase;
	struct ierr ie;            /* the failure, O_FAILED */
	bool compress, enable;     /* COMPRESS, ENABLE sent */
	bool enabled;              /* QRESYNC came in ENABLED */
	struct side_cmd qc, qe;
};

static void
open_failed(struct opening *op, const struct err *err)
{
	op->phase = O_FAILED;
	ierr_wrap(&op->ie, op->s->name, err);
	imap_login_free(&op->l);
}

/* Logged in: COMPRESS (the reference compresses at once, before
 * anything else is said; RFC 4978 §3: after authentication), then
 * ENABLE QRESYNC behind it (the engine holds it until COMPRESS's reply),
 * unless the capabilities already say it will fail. */
static void
open_logged_in(struct opening *op, size_t k,
    const struct side_open_hooks *hooks)
{
	static const char *const qresync[] = { "QRESYNC" };
	struct side *s = op->s;
	struct imapc_handlers h = { enabled_untagged, NULL, NULL, NULL,
		&op->enabled };
	struct imap_cmd *cmd;

	s->imap = imap_login_take(&op->l);
	op->phase = O_CMDS;
	conn_budget_stop(imapc_conn(s->imap));
	/* A stop signal ends every wait (main.c): the reference's handlers
	 * drop the connections whatever is in flight; what was not
	 * committed is rolled back. */
	conn_set_interruptible(imapc_conn(s->imap), true);
	if ((cmd = imap_compress_cmd(s->imap, &s->conf->imap)) != NULL) {
		op->compress = true;
		side_start(s, cmd, NULL, &op->qc);
	}
	if (imapc_capable(s->imap, "ENABLE") &&
	    imapc_capable(s->imap, "QRESYNC")) {
		op->enable = true;
		side_start(s, imap_verb_enable(qresync, 1), &h, &op->qe);
	}
	if (hooks != NULL && hooks->logged_in != NULL)
		hooks->logged_in(hooks->arg, s, k);
}

/* The outcome of one side's opening, in the reference's order of
 * checks. */
static int
open_result(struct opening *op, bool notify, struct ierr *ie)
{
	static const char *const needed[] = { "LIST-EXTENDED", "UIDPLUS",
		"LIST-STATUS" };
	struct side *s = op->s;
	struct err err;
	int rc;

	if (op->phase == O_FAILED) {
		*ie = op->ie;
		return -1;
	}
	if (op->compress) {
		const struct err *e = op->qc.ok ? NULL :
		    !op->qc.done || op->qc.cancelled ? &s->broke : &op->qc.err;
		if (imap_compress_end(s->imap, e, &err) < 0)
			return ierr_wrap(ie, s->name, &err);
	}
	if (!imapc_capable(s->imap, "ENABLE"))
		return ierr_fail(ie, s->name, "Server did not advertise "
		    "ENABLE (RFC 5161) capability.");
	if (!imapc_capable(s->imap, "QRESYNC"))
		return ierr_fail(ie, s->name, "Server did not advertise "
		    "QRESYNC capability.");
	if ((rc = side_result(&op->qe, ie)) < 0)
		return -1;
	/* A refused ENABLE enables nothing: the same words. */
	if (rc > 0 || !op->enabled)
		return ierr_fail(ie, s->name, "Couldn't ENABLE QRESYNC");
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		/* --notify learns of changes by NOTIFY's STATUS instead. */
		if (notify && strcmp(needed[i], "LIST-STATUS") == 0)
			continue;
		if (!imapc_capable(s->imap, needed[i]))
			return ierr_die(ie, ERR_REFUSED, "Non %s-capable IMAP "
			    "server.", needed[i]);
	}
	return 0;
}

/* Gives up a side the reference would not have opened yet (the local
 * one failed first): no traffic line for it. */
static void
open_drop(struct opening *op)
{
	struct side *s = op->s;

	imap_login_free(&op->l);
	if (s->imap != NULL) {
		s->cancelling = true;
		imapc_cancel(s->imap);
		s->cancelling = false;
		imapc_free(&s->imap);
	}
	op->phase = O_FAILED;
}

/* Steps the logins of op[0..n) until none has anything to do but wait
 * for the server. Returns true while some login waits. */
static bool
open_step(struct opening *op, size_t n, const struct side_open_hooks *hooks)
{
	bool waiting = false;
	struct err err;

	for (size_t k = 0; k < n; k++) {
		int r;
		if (op[k].phase != O_LOGIN)
			continue;
		r = imap_login_step(op[k].l, &err);
		if (r < 0)
			open_failed(&op[k], &err);
		else if (r > 0)
			open_logged_in(&op[k], k, hooks);
		else
			waiting = true;
	}
	return waiting;
}

/* A wait that ran out on a side: its error, named after its
 * connection. */
static void
timed_out(struct imapc *c, struct err *err)
{
	err_set(err, ERR_TEMP, "%s: timeout (%g s without an answer)",
	    conn_name(imapc_conn(c)), SIDE_TIMEOUT_MS / 1000.0);
}

/* One wait of side_open() over the sessions still busy opening. Each
 * login's waits are bounded as imap_login()'s are (conn.h's budget: the
 * timeout plus 1 s per KiB moved, "too slow" once spent), a stop request
 * ends them: a side whose budget or timeout ran out fails, every side on
 * a stop. */
static void
open_wait(struct opening *op, size_t k, bool *wake)
{
	struct imapc *cs[2];
	size_t nc = 0;
	int t = SIDE_TIMEOUT_MS, r;
	uint64_t t0, el;
	struct err err, e;
	bool lost = false, stop = false;

	for (size_t i = 0; i < k; i++) {
		struct imapc *c = op[i].phase == O_LOGIN ?
		    imap_login_engine(op[i].l) : op[i].s->imap;
		if (op[i].phase == O_LOGIN &&
		    conn_budget_clamp(imapc_conn(c), &t, &err) < 0) {
			open_failed(&op[i], &err);
			return;
		}
		if (op[i].phase == O_LOGIN || (op[i].phase == O_CMDS &&
		    imapc_usable(c) && imapc_in_flight(c) > 0))
			cs[nc++] = c;
	}
	*wake = false;
	t0 = now_ms();
	r = imapc_drive(cs, nc, wake, t, &err);
	el = now_ms() - t0;
	for (size_t i = 0; i < k; i++)
		if (op[i].phase == O_LOGIN)
			conn_budget_spend(imapc_conn(imap_login_engine(op[i].l)),
			    el);
	if (r == 0)
		return;
	/* A connection failed: its login or commands say so. */
	for (size_t i = 0; i < nc; i++) {
		lost = lost || !imapc_usable(cs[i]);
		stop = stop || conn_interrupted(imapc_conn(cs[i]));
	}
	if (lost && !stop)
		return;
	for (size_t i = 0; i < k; i++) {
		struct side *sd = op[i].s;
		if (op[i].phase == O_LOGIN) {
			struct imapc *c = imap_login_engine(op[i].l);
			int tt = -1;
			if (stop) {
				open_failed(&op[i], &err);
			} else if (conn_budget_clamp(imapc_conn(c), &tt,
			    &e) < 0) {
				open_failed(&op[i], &e);
			} else if (el >= (uint64_t)SIDE_TIMEOUT_MS) {
				timed_out(c, &e);
				open_failed(&op[i], &e);
			}
		} else if (op[i].phase == O_CMDS &&
		    imapc_in_flight(sd->imap) > 0 &&
		    (stop || el >= (uint64_t)SIDE_TIMEOUT_MS)) {
			if (stop)
				sd->broke = err;
			else
				timed_out(sd->imap, &sd->broke);
			sd->cancelling = true;
			imapc_cancel(sd->imap);
			sd->cancelling = false;
		}
	}
}

/* Takes in, without waiting, what the servers sent while the
 * connections were made (at most a few steps each; a failure is the
 * login's to report). */
static void
open_poll(struct opening *op, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		struct err e;
		if (op[i].phase != O_LOGIN)
			continue;
		for (int n = 0; n < 8 &&
		    imapc_step(imap_login_engine(op[i].l), &e) > 0; n++)
			;
	}
}

static void
call_meanwhile(const struct side_open_hooks *hooks)
{
	if (hooks != NULL && hooks->meanwhile != NULL)
		hooks->meanwhile(hooks->arg);
}

int
side_open(struct side *const *s, size_t n, bool notify,
    const struct side_open_hooks *hooks, struct ierr *ie)
{
	struct opening op[2];
	bool wake = false, hooked = false;
	struct err err;
	size_t k;
	int rc = 0;

	memset(op, 0, sizeof(op));
	/* Connecting waits (TCP, TLS handshake): meanwhile the tunnel
	 * started first makes its way to its greeting. */
	for (k = 0; k < n && k < 2; k++) {
		/* The reference's tags and trace, under the log-prefix
		 * (nothing selected yet: "local: "); msync changes the
		 * prefix around its SELECTs as the reference's state
		 * changes. */
		struct imapc_opts eo = { ilog_prefix(s[k]->name, NULL),
			IMAPC_TRACE_WIRE, true };
		op[k].s = s[k];
		op[k].l = imap_login_start(&s[k]->conf->imap, s[k]->name, &eo,
		    SIDE_TIMEOUT_MS, &wake, &err);
		if (op[k].l == NULL) {
			open_failed(&op[k], &err);
			if (k == 0)
				break;
			continue;
		}
		/* The login is an exchange (conn.h's budget), as
		 * imap_login()'s. */
		conn_budget_start(imapc_conn(imap_login_engine(op[k].l)));
	}
	/* The hook after a first step: a greeting that came while the
	 * other connection was made has its login sent first, for the
	 * server to work on meanwhile. */
	open_poll(op, k);
	while (op[0].phase != O_FAILED && open_step(op, k, hooks)) {
		if (!hooked) {
			hooked = true;
			/* (sends what the step queued) */
			open_poll(op, k);
			call_meanwhile(hooks);
		} else {
			open_wait(op, k, &wake);
		}
	}
	if (!hooked)
		call_meanwhile(hooks);
	/* The reference opens the local side first: a local failure is
	 * all it would have met. */
	if (op[0].phase == O_FAILED) {
		for (size_t i = 1; i < k; i++)
			open_drop(&op[i]);
		*ie = op[0].ie;
		return -1;
	}
	(void)side_wait(s, k);
	for (size_t i = 0; i < k; i++) {
		if ((rc = open_result(&op[i], notify, ie)) == 0)
			continue;
		/* The reference would not have opened the rest yet. */
		for (size_t j = i + 1; j < k; j++)
			open_drop(&op[j]);
		break;
	}
	return rc;
}

int
side_connect(struct side *s, bool notify, struct ierr *ie)
{
	return side_open(&s, 1, notify, NULL, ie);
}

/* The end of a mailbox verb whose outcome is rc (side_run()'s): on a
 * refusal, a warning when try, else a failure: "Couldn't WHAT MAILBOX:
 * NO ...". */
static int
verb_end(struct side *s, int rc, bool try, const char *what,
    const char *mailbox, struct ierr *ie)
{
	if (rc <= 0)
		return rc;
	if (try) {
		log_at(LOG_WARN, side_prefix(s), "Couldn't %s %s: %s", what,
		    mailbox, s->refusal);
		return 0;
	}
	return ierr_fail(ie, s->name, "Couldn't %s %s: %s", what, mailbox,
	    s->refusal);
}

/* One mailbox verb, run; the reference's log line is the caller's. */
static int
verb(struct side *s, struct imap_cmd *cmd, bool try, const char *what,
    const char *mailbox, struct ierr *ie)
{
	return verb_end(s, side_run(s, cmd, NULL, ie), try, what, mailbox,
	    ie);
}

static struct imap_cmd *
mailbox_cmd(const char *name, const char *mailbox)
{
	struct imap_cmd *cmd = imap_cmd_new(name);
	/* Wire form as listed: no conversion (imap_cmd.h). */
	imap_cmd_mailbox_wire(cmd, mailbox);
	return cmd;
}

/* side_create()'s reading of rc. */
static int
create_end(struct side *s, int rc, const char *mailbox)
{
	if (rc < 0)
		return -1;
	if (rc == 0)
		log_at(LOG_INFO, side_prefix(s), "Created mailbox %s", mailbox);
	else
		log_at(LOG_WARN, side_prefix(s), "Couldn't create mailbox %s: "
		    "%s", mailbox, s->refusal);
	return 0;
}

int
side_create(struct side *s, const char *mailbox, struct ierr *ie)
{
	return create_end(s, side_run(s, mailbox_cmd("CREATE", mailbox), NULL,
	    ie), mailbox);
}

void
side_create_start(struct side *s, const char *mailbox, struct side_cmd *q)
{
	side_start(s, mailbox_cmd("CREATE", mailbox), NULL, q);
}

int
side_create_end(struct side_cmd *q, const char *mailbox, struct ierr *ie)
{
	return create_end(q->s, side_result(q, ie), mailbox);
}

int
side_delete(struct side *s, const char *mailbox, struct ierr *ie)
{
	int rc = verb(s, mailbox_cmd("DELETE", mailbox), false,
	    "delete mailbox", mailbox, ie);
	if (rc == 0)
		log_at(LOG_INFO, side_prefix(s), "Deleted mailbox %s", mailbox);
	return rc;
}

int
side_rename(struct side *s, const char *from, const char *to,
    struct ierr *ie)
{
	struct imap_cmd *cmd = mailbox_cmd("RENAME", from);
	int rc;

	imap_cmd_mailbox_wire(cmd, to);
	rc = verb(s, cmd, false, "rename mailbox", from, ie);
	if (rc == 0)
		log_at(LOG_INFO, side_prefix(s), "Renamed mailbox %s to %s",
		    from, to);
	return rc;
}

/* side_subscribe()'s reading of rc. */
static int
subscribe_end(struct side *s, int rc, const char *mailbox, bool subscribe,
    struct ierr *ie)
{
	rc = verb_end(s, rc, false, subscribe ? "subscribe to" :
	    "unsubscribe to", mailbox, ie);
	if (rc == 0)
		log_at(LOG_INFO, side_prefix(s), "%s to %s", subscribe ?
		    "Subscribe" : "Unsubscribe", mailbox);
	return rc;
}

static struct imap_cmd *
subscribe_cmd(const char *mailbox, bool subscribe)
{
	return mailbox_cmd(subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", mailbox);
}

int
side_subscribe(struct side *s, const char *mailbox, bool subscribe,
    struct ierr *ie)
{
	return subscribe_end(s, side_run(s, subscribe_cmd(mailbox, subscribe),
	    NULL, ie), mailbox, subscribe, ie);
}

void
side_subscribe_start(struct side *s, const char *mailbox, bool subscribe,
    struct side_cmd *q)
{
	side_start(s, subscribe_cmd(mailbox, subscribe), NULL, q);
}

int
side_subscribe_end(struct side_cmd *q, const char *mailbox, bool subscribe,
    struct ierr *ie)
{
	return subscribe_end(q->s, side_result(q, ie), mailbox, subscribe, ie);
}

/* The reference's _kibi(). */
static void
kibi(char *buf, size_t size, unsigned long long n)
{
	if (n < 1024ULL)
		snprintf(buf, size, "%llu", n);
	else if (n < 1048576ULL)
		snprintf(buf, size, "%.2fK", (double)n / 1024.0);
	else if (n < 1073741824ULL)
		snprintf(buf, size, "%.2fM", (double)n / 1048576.0);
	else
		snprintf(buf, size, "%.2fG", (double)n / 1073741824.0);
}

/* " recv N" or " sent N", and its compression figures. */
static size_t
traffic_part(char *buf, size_t size, const char *what,
    unsigned long long n, unsigned long long wire, bool compressed)
{
	char a[32], b[32];
	int len;

	kibi(a, sizeof(a), n);
	if (compressed && n > 0) {
		kibi(b, sizeof(b), wire);
		len = snprintf(buf, size, " %s %s (compr. %s, factor %.2f)",
		    what, a, b, (double)wire / (double)n);
	} else {
		len = snprintf(buf, size, " %s %s", what, a);
	}
	if (len < 0)
		return 0;
	return (size_t)len < size ? (size_t)len : size > 0 ? size - 1 : 0;
}

char *
side_traffic_format(char *buf, size_t size, unsigned long long in,
    unsigned long long wire_in, unsigned long long out,
    unsigned long long wire_out, bool compressed)
{
	size_t n;
	if (size == 0)
		return buf;
	snprintf(buf, size, "IMAP traffic (bytes):");
	n = strlen(buf);
	n += traffic_part(buf + n, size - n, "recv", in, wire_in, compressed);
	traffic_part(buf + n, size - n, "sent", out, wire_out, compressed);
	return buf;
}

/* s's traffic, with what it absorbed: in, out, wire in, wire out. */
static void
traffic(const struct side *s, unsigned long long v[4])
{
	for (int i = 0; i < 4; i++)
		v[i] = s->absorbed[i];
	if (s->imap != NULL) {
		unsigned long long c[4];
		conn_traffic(imapc_conn(s->imap), &c[0], &c[1], &c[2], &c[3]);
		for (int i = 0; i < 4; i++)
			v[i] += c[i];
	}
}

void
side_summary(struct side *s)
{
	unsigned long long v[4];
	char line[160];

	if (s->imap == NULL)
		return;
	traffic(s, v);
	side_traffic_format(line, sizeof(line), v[0], v[2], v[1], v[3],
	    conn_is_deflate(imapc_conn(s->imap)));
	log_at(LOG_INFO, ilog_prefix(s->name, NULL), "%s", line);
}

void
side_absorb(struct side *into, const struct side *from)
{
	unsigned long long v[4];

	traffic(from, v);
	for (int i = 0; i < 4; i++)
		into->absorbed[i] += v[i];
}

void
side_drop(struct side *s)
{
	imapc_free(&s->imap);
	free(s->mailbox);
	s->mailbox = NULL;
}
