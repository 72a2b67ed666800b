#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "deliver.h"
#include "envelope.h"
#include "imap_auth.h"
#include "imap_cmd.h"
#include "imap_conf.h"
#include "imap_idle.h"
#include "imapc.h"
#include "log.h"
#include "plog.h"
#include "pull.h"
#include "pull_state.h"
#include "sigwait.h"
#include "uidlist.h"

/* Messages handled per FETCH command: bounds the metadata kept in memory and
 * the work drained after a failure. */
#define BATCH 256
/* UIDs that a SEARCH named but FETCH did not return, per poll: a few are a
 * race with another client or a message the server cannot render; many
 * mean a server naming UIDs it does not have. */
#define MAX_MISSING 1000
/* A SEARCH cannot name many more messages than EXISTS says the mailbox
 * holds (some may arrive meanwhile). */
#define SEARCH_SLACK 10000
/* A keyword for messages the MTA refused permanently: they stay unseen,
 * and can be found by the user. */
#define REJECTED_KEYWORD "$PullimapRejected"

struct msg {
	uint32_t uid, seq;
	uint64_t size;
	char *sender;       /* for MAIL FROM, "" for <> */
	char *message_id;
	char *internaldate;
	bool meta;          /* metadata arrived */
	bool done;          /* body arrived (delivered, rejected or failed) */
	bool handled;       /* journaled: delivered, rejected, --no-delivery */
};

struct pull {
	const struct pull_conf *pc;
	const struct pull_run_opts *o;
	struct pull_state *st;
	struct imapc *imap;
	struct deliver *dlv;
	uint32_t uidvalidity;

	struct msg *batch;
	size_t nbatch;
	struct uidset search;    /* the SEARCH result pull_new() works on */
	struct uidset *search_out; /* where search_cb() puts the result */
	bool search_seen;        /* the last SEARCH got its result line */
	/* Journaled UIDs >= the recorded UIDNEXT (from the state, then as
	 * this run journals them): never delivered again. */
	struct uidset journaled;
	/* UIDs that FETCH did not return although a later SEARCH still
	 * finds them: left for the next poll. */
	struct uidset skipped;
	unsigned nmissing;       /* this poll's UIDs SEARCH named, FETCH not */
	unsigned ndelivered, nrejected;
	uint64_t bytes;
	uint32_t uidnext;        /* recorded UIDNEXT */
	bool fresh_select;       /* SELECT's UIDNEXT is still current */
	bool compress_asked;     /* COMPRESS tried in this session */
	bool stop;               /* a temporary failure: deliver no more */
	struct err stop_err;
};

/* Waits this long without a byte from the server (and the exchange's
 * budget, conn.h). */
static int
timeout_of(const struct pull *p)
{
	return p->o->timeout_ms > 0 ? p->o->timeout_ms : -1;
}

/* Runs cmd with an untagged and a literal handler (either NULL). */
static int
run(struct pull *p, struct imap_cmd *cmd,
    int (*untagged)(void *, const struct imap_resp *, struct err *),
    int (*literal)(void *, const struct imap_resp *, const struct imap_arg *,
	size_t, uint64_t, struct err *),
    struct err *err)
{
	struct imapc_handlers h = {untagged, literal, NULL, NULL, p};
	return imapc_run(p->imap, cmd, &h, timeout_of(p), err);
}

/* The outcome of one or more commands in flight together: the first
 * failure. */
struct outcome {
	bool failed;
	struct err err;
};

static void
outcome_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct outcome *o = ctx;
	(void)tagged;
	if (err && !o->failed) {
		o->failed = true;
		o->err = *err;
	}
}

static void
set_of(struct uidset *s, const uint32_t *u, size_t n)
{
	uidset_clear(s);
	for (size_t i = 0; i < n; i++)
		uidset_add(s, u[i], u[i]);
}

static struct msg *
batch_find(struct pull *p, uint32_t uid, uint32_t seq)
{
	for (size_t i = 0; i < p->nbatch; i++)
		if (uid ? p->batch[i].uid == uid : p->batch[i].seq == seq)
			return &p->batch[i];
	return NULL;
}

static void
batch_clear(struct pull *p)
{
	for (size_t i = 0; i < p->nbatch; i++) {
		free(p->batch[i].sender);
		free(p->batch[i].message_id);
		free(p->batch[i].internaldate);
	}
	free(p->batch);
	p->batch = NULL;
	p->nbatch = 0;
}

/* Find "NAME value" in a FETCH attribute list. */
static const struct imap_arg *
fetch_item(const struct imap_arg *list, size_t n, const char *name)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		if (imap_arg_atom_is(&list[i], name))
			return &list[i + 1];
	return NULL;
}

static uint32_t
fetch_uid(const struct imap_arg *list, size_t n)
{
	const struct imap_arg *a = fetch_item(list, n, "UID");
	uint32_t uid = 0;
	if (a && a->type == IMAP_ARG_ATOM)
		parse_u32_str(a->str, &uid);
	return uid;
}

/* ESEARCH (RFC 4731): [(TAG "x")] UID {NAME VALUE}. Without "UID" the
 * numbers would be sequence numbers: refused, as is anything that does
 * not parse. Only ALL is kept. */
static int
esearch(struct pull *p, const struct imap_resp *r, struct err *err)
{
	size_t i = 0;

	if (i < r->nargs && r->args[i].type == IMAP_ARG_LIST)
		i++;
	if (i >= r->nargs || !imap_arg_atom_is(&r->args[i], "UID") ||
	    (r->nargs - i - 1) % 2 != 0)
		return -1;
	for (i++; i < r->nargs; i += 2) {
		const char *v = imap_arg_string(&r->args[i + 1]);
		if (r->args[i].type != IMAP_ARG_ATOM || !v)
			return -1;
		if (imap_arg_atom_is(&r->args[i], "ALL") &&
		    uidset_parse(p->search_out, v) < 0)
			return -1;
	}
	(void)err;
	return 0;
}

static int
search_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	if (!r->name || r->kind != IMAP_RESP_UNTAGGED)
		return 0;
	if (strcmp(r->name, "SEARCH") == 0) {
		for (size_t i = 0; i < r->nargs; i++) {
			uint32_t u;
			if (r->args[i].type != IMAP_ARG_ATOM ||
			    parse_u32_str(r->args[i].str, &u) < 0 || u == 0)
				return err_set(err, ERR_PROTO,
				    "UID SEARCH: unparsable SEARCH response "
				    "from the server");
			uidset_add(p->search_out, u, u);
		}
		p->search_seen = true;
		return 1;
	} else if (strcmp(r->name, "ESEARCH") == 0) {
		if (esearch(p, r, err) < 0)
			return err_set(err, ERR_PROTO,
			    "UID SEARCH: unparsable ESEARCH response from the "
			    "server");
		p->search_seen = true;
		return 1;
	}
	return 0;
}

/* What UID SEARCH looks for: "UID <uids>" and/or "UID <from>:*", then
 * fixed criteria (raw protocol text), in this order. */
struct criteria {
	struct uidset *uids;
	uint32_t from;       /* 0: none */
	const char *raw;
};

/* A UID SEARCH command, and its criteria as text for messages. */
static struct imap_cmd *
search_cmd(struct pull *p, const struct criteria *c, struct buf *text)
{
	struct imap_cmd *cmd = imap_cmd_new("UID SEARCH");

	if (imapc_capable(p->imap, "ESEARCH"))
		imap_cmd_raw(cmd, "RETURN (ALL)");
	if (c->uids) {
		imap_cmd_atom(cmd, "UID");
		imap_cmd_uidset(cmd, c->uids);
		buf_appends(text, "UID ");
		uidset_format(text, c->uids);
	}
	if (c->from) {
		imap_cmd_atom(cmd, "UID");
		imap_cmd_range(cmd, c->from, IMAP_CMD_STAR);
		buf_appendf(text, "%sUID %u:*", text->len ? " " : "", c->from);
	}
	if (c->raw) {
		imap_cmd_raw(cmd, c->raw);
		buf_appendf(text, "%s%s", text->len ? " " : "", c->raw);
	}
	return cmd;
}

/* UID SEARCH with criteria; the result in out. A command that ends in OK
 * without a result (RFC 3501 and 4731 require one, even when empty), or
 * whose result names more messages than the mailbox holds, is a protocol
 * error: never taken for "nothing there". */
static int
search(struct pull *p, const struct criteria *c, struct uidset *out,
    struct err *err)
{
	struct buf text = BUF_INIT(SIZE_MAX);
	uint64_t n, exists;
	int rc = -1;

	uidset_clear(out);
	p->search_out = out;
	p->search_seen = false;
	if (run(p, search_cmd(p, c, &text), search_cb, NULL, err) < 0)
		goto out;
	if (!p->search_seen) {
		err_set(err, ERR_PROTO,
		    "%s: the server answered UID SEARCH %s without a result",
		    imapc_name(p->imap), text.data);
		goto out;
	}
	n = uidset_count(out);
	exists = imapc_selected(p->imap)->exists;
	if (n > exists + SEARCH_SLACK) {
		err_set(err, ERR_PROTO,
		    "%s: UID SEARCH %s named %llu messages, the mailbox holds "
		    "%llu", imapc_name(p->imap), text.data,
		    (unsigned long long)n, (unsigned long long)exists);
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	return rc;
}

static int
meta_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	const struct imap_arg *l, *a;
	struct msg *m;
	uint32_t uid;
	(void)err;

	if (!r->name || strcmp(r->name, "FETCH") != 0 || r->nargs < 1 ||
	    r->args[0].type != IMAP_ARG_LIST)
		return 0;
	l = r->args[0].list;
	uid = fetch_uid(l, r->args[0].count);
	if (!uid || !(m = batch_find(p, uid, 0)))
		return 0; /* e.g. flag changes from another client */
	m->seq = r->num;
	m->meta = true;
	if ((a = fetch_item(l, r->args[0].count, "RFC822.SIZE")))
		parse_u64_str(a->str, &m->size);
	if ((a = fetch_item(l, r->args[0].count, "INTERNALDATE")) &&
	    imap_arg_string(a)) {
		free(m->internaldate);
		m->internaldate = envelope_text(a);
	}
	if ((a = fetch_item(l, r->args[0].count, "ENVELOPE")) &&
	    a->type == IMAP_ARG_LIST) {
		free(m->sender);
		m->sender = envelope_sender(a);
		if (a->count > 9 && imap_arg_string(&a->list[9])) {
			free(m->message_id);
			m->message_id = envelope_text(&a->list[9]);
		}
	}
	return 1;
}

static struct pull_msg_info
info_of(const struct msg *m)
{
	struct pull_msg_info i = {m->uid, m->size, m->message_id,
	    m->internaldate, m->sender};
	return i;
}

/* Record a message the MTA accepted: journal first (durably), then the
 * rest. A crash between the MTA's reply and the commit re-delivers this one
 * message next time; nothing is ever lost. */
static int
accepted(struct pull *p, struct msg *m, const char *reply, struct err *err)
{
	struct pull_msg_info i = info_of(m);
	if (pull_state_delivered(p->st, p->uidvalidity, &i, reply, err) < 0)
		return -1;
	m->handled = true;
	uidset_add(&p->journaled, m->uid, m->uid);
	p->ndelivered++;
	p->bytes += m->size;
	return 0;
}

struct body_src {
	struct pull *p;
	const char *data; /* in-memory body, or NULL: stream from IMAP */
	size_t len, off;
	uint64_t consumed; /* bytes handed to the MTA client */
};

static ssize_t
body_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct body_src *s = ctx;
	ssize_t r;
	if (!s->data) {
		r = imapc_literal_read(s->p->imap, buf, n, err);
	} else {
		if (n > s->len - s->off)
			n = s->len - s->off;
		memcpy(buf, s->data + s->off, n);
		s->off += n;
		r = (ssize_t)n;
	}
	if (r > 0)
		s->consumed += (uint64_t)r;
	return r;
}

/* Stops delivering for this poll. The rest of the FETCH (up to a whole
 * batch of bodies) is not worth downloading only to be thrown away: the
 * connection is given up at once; what was delivered is journaled, and
 * the next session marks it \Seen. */
static int
stop_now(struct pull *p, const struct err *why, struct err *err)
{
	p->stop = true;
	if (why)
		p->stop_err = *why;
	else
		err_clear(&p->stop_err);
	imapc_abandon(p->imap);
	return err_set(err, ERR_TEMP, "delivery stopped");
}

static int
deliver_one(struct pull *p, struct msg *m, struct body_src *src,
    uint64_t size, struct err *err)
{
	struct deliver_result res;
	struct err derr;
	const char *sender = m->sender ? m->sender : "";
	int rc;

	m->done = true;
	if (p->stop)
		return 0;
	if (p->o->stop && *p->o->stop) {
		/* SIGTERM/SIGINT: what was delivered is journaled; stop
		 * before the next message. */
		return stop_now(p, NULL, err);
	}
	if (uidset_has(&p->journaled, m->uid)) {
		/* Journaled already: a server handing out a UID twice. */
		plog_warnx("UID %u was delivered already: not again", m->uid);
		m->handled = true;
		return 0;
	}
	plog_info("UID %u from <%s> (%s)", m->uid, sender,
	    m->internaldate ? m->internaldate : "");
	memset(&res, 0, sizeof(res));
	rc = deliver_message(p->dlv, sender, size, body_read, src, &res, &derr);
	if (rc < 0 && derr.kind == ERR_REFUSED && res.sender_refused &&
	    *sender && src->consumed == 0) {
		/* Some MTAs refuse senders others accept (quoted local parts,
		 * address literals): the message matters more than its
		 * bounce address. */
		plog_warnx("UID %u: the MTA refused the sender <%s> (%s); "
		    "delivering it with the null sender <>", m->uid, sender,
		    res.reply[0] ? res.reply : derr.msg);
		memset(&res, 0, sizeof(res));
		rc = deliver_message(p->dlv, "", size, body_read, src, &res,
		    &derr);
	}
	if (rc == 0)
		return accepted(p, m, res.reply, err);
	if (res.source_failed) {
		/* The IMAP stream broke: the command fails with it. */
		*err = derr;
		return -1;
	}
	if (derr.kind == ERR_REFUSED) {
		struct pull_msg_info i = info_of(m);
		plog_errorx("UID %u rejected by the MTA: %s", m->uid,
		    res.reply[0] ? res.reply : derr.msg);
		if (pull_state_rejected(p->st, p->uidvalidity, &i,
			res.reply[0] ? res.reply : derr.msg, err) < 0)
			return -1;
		m->handled = true;
		uidset_add(&p->journaled, m->uid, m->uid);
		p->nrejected++;
		return 0;
	}
	/* Temporary: deliver nothing more in this poll. */
	return stop_now(p, &derr, err);
}

static struct msg *
msg_of_fetch(struct pull *p, uint32_t seq, const struct imap_arg *l, size_t n)
{
	uint32_t uid = fetch_uid(l, n);
	struct msg *m = uid ? batch_find(p, uid, 0) : batch_find(p, 0, seq);
	return m && !m->done ? m : NULL;
}

static int
body_lit_cb(void *ctx, const struct imap_resp *partial,
    const struct imap_arg *cont, size_t count, uint64_t size, struct err *err)
{
	struct pull *p = ctx;
	struct body_src src = {p, NULL, 0, 0, 0};
	struct msg *m;

	if (!partial->name || strcmp(partial->name, "FETCH") != 0 || count < 1 ||
	    !imap_arg_atom_is(&cont[count - 1], "BODY[]"))
		return 0;
	if (!(m = msg_of_fetch(p, partial->num, cont, count - 1)))
		return 0;
	return deliver_one(p, m, &src, size, err) < 0 ? -1 : 1;
}

static int
body_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	const struct imap_arg *l, *body;
	struct body_src src = {p, NULL, 0, 0, 0};
	struct msg *m;

	if (!r->name || strcmp(r->name, "FETCH") != 0 || r->nargs < 1 ||
	    r->args[0].type != IMAP_ARG_LIST)
		return 0;
	l = r->args[0].list;
	body = fetch_item(l, r->args[0].count, "BODY[]");
	if (!body || body->type == IMAP_ARG_LITERAL_STREAMED)
		return 0;
	if (!(m = msg_of_fetch(p, r->num, l, r->args[0].count)))
		return 0;
	/* NIL: the reference sends an empty message; so do we. */
	src.data = body->type == IMAP_ARG_NIL ? "" : body->str;
	src.len = body->type == IMAP_ARG_NIL ? 0 : body->len;
	return deliver_one(p, m, &src, src.len, err) < 0 ? -1 : 1;
}

static int
no_delivery(struct pull *p, struct err *err)
{
	if (pull_state_begin(p->st, err) < 0)
		return -1;
	for (size_t i = 0; i < p->nbatch; i++) {
		struct msg *m = &p->batch[i];
		if (!m->meta)
			continue;
		plog_info("UID %u from <%s> (%s)", m->uid,
		    m->sender ? m->sender : "",
		    m->internaldate ? m->internaldate : "");
		m->done = true;
		if (uidset_has(&p->journaled, m->uid)) {
			m->handled = true;
			continue;
		}
		if (accepted(p, m, "(not delivered: --no-delivery)", err) < 0) {
			pull_state_rollback(p->st);
			return -1;
		}
	}
	return pull_state_commit(p->st, err);
}

/* UIDs of the batch that a SEARCH named but FETCH did not return: those a
 * fresh SEARCH still finds are left for the next poll (p->skipped), the
 * others are gone. Never proof of anything past MAX_MISSING per poll. */
static int
confirm_missing(struct pull *p, const uint32_t *u, size_t n, struct err *err)
{
	struct uidset still = UIDSET_INIT, want = UIDSET_INIT;
	struct criteria crit = {&want, 0, NULL};
	int rc;

	p->nmissing += (unsigned)n;
	if (p->nmissing > MAX_MISSING)
		return err_set(err, ERR_PROTO,
		    "%s: more than %d UIDs named by UID SEARCH were not returned "
		    "by UID FETCH: the server is inconsistent; giving up this "
		    "poll", imapc_name(p->imap), MAX_MISSING);
	set_of(&want, u, n);
	rc = search(p, &crit, &still, err);
	uidset_free(&want);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (uidset_has(&still, u[i])) {
			plog_warnx("UID %u: the server did not return this "
			    "message although it still lists it; it will be "
			    "retried at the next poll", u[i]);
			uidset_add(&p->skipped, u[i], u[i]);
		} else {
			plog_debug("UID %u was expunged before it could be "
			    "fetched", u[i]);
		}
	}
	uidset_free(&still);
	return rc;
}

/* Fetch and deliver the messages with the given sorted UIDs. Lowers
 * *first_unhandled to the first UID neither journaled nor confirmed gone
 * (skipped ones included). A temporary delivery failure sets p->stop and
 * returns 0. */
static int
pull_batch(struct pull *p, const uint32_t *uids, size_t n,
    uint64_t *first_unhandled, struct err *err)
{
	struct uidset set = UIDSET_INIT;
	struct uidlist missing = UIDLIST_INIT, body = UIDLIST_INIT;
	struct imap_cmd *cmd;
	int rc = -1;

	p->batch = xcalloc(n, sizeof(*p->batch));
	p->nbatch = n;
	for (size_t i = 0; i < n; i++)
		p->batch[i].uid = uids[i];
	set_of(&set, uids, n);

	/* Metadata first: the envelope sender is needed before the body
	 * can be streamed into MAIL FROM, whatever order the server sends
	 * the items in. */
	cmd = imap_cmd_new("UID FETCH");
	imap_cmd_uidset(cmd, &set);
	imap_cmd_raw(cmd, "(UID RFC822.SIZE INTERNALDATE ENVELOPE)");
	if (run(p, cmd, meta_cb, NULL, err) < 0)
		goto out;
	if (p->o->no_delivery) {
		if (no_delivery(p, err) < 0)
			goto out;
	} else {
		/* Only messages whose metadata came: no MAIL FROM guessed. */
		for (size_t i = 0; i < n; i++)
			if (p->batch[i].meta)
				uidlist_push(&body, uids[i]);
		if (body.n > 0) {
			set_of(&set, body.v, body.n);
			cmd = imap_cmd_new("UID FETCH");
			imap_cmd_uidset(cmd, &set);
			imap_cmd_raw(cmd, "(UID BODY.PEEK[])");
			if (run(p, cmd, body_cb, body_lit_cb, err) < 0 &&
			    !p->stop)
				goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (p->batch[i].handled)
			continue;
		if (p->stop) {
			if (uids[i] < *first_unhandled)
				*first_unhandled = uids[i];
		} else {
			uidlist_push(&missing, uids[i]);
		}
	}
	if (missing.n > 0 && confirm_missing(p, missing.v, missing.n, err) < 0)
		goto out;
	rc = 0;
out:
	uidlist_free(&missing);
	uidlist_free(&body);
	uidset_free(&set);
	batch_clear(p);
	return rc;
}

/* "UID STORE <part of set from *pos> +FLAGS.SILENT (flag)": servers cap
 * the length of a command line. */
static struct imap_cmd *
store_cmd(struct uidset *set, size_t *pos, const char *flag)
{
	struct imap_cmd *cmd = imap_cmd_new("UID STORE");
	struct err e;

	imap_cmd_uidset_chunk(cmd, set, pos, 8000);
	imap_cmd_raw(cmd, "+FLAGS.SILENT");
	imap_cmd_list_open(cmd);
	if (imap_cmd_flag(cmd, flag, &e) < 0)
		abort(); /* our own flags: \Seen, \Deleted, the keyword */
	imap_cmd_list_close(cmd);
	return cmd;
}

/* Submits the STOREs of a flag on UIDs, in commands of bounded length,
 * without waiting: their first failure goes to o (which must live until
 * they are done: imapc_sync()). */
static void
store_submit(struct pull *p, const uint32_t *u, size_t n, const char *flag,
    struct outcome *o)
{
	struct imapc_handlers h = {NULL, NULL, NULL, outcome_done, o};
	struct uidset set = UIDSET_INIT;
	size_t pos = 0;

	set_of(&set, u, n);
	while (pos < set.n)
		imapc_submit(p->imap, store_cmd(&set, &pos, flag), &h);
	uidset_free(&set);
}

static int
mark_seen(struct pull *p, struct err *err)
{
	uint32_t *u = NULL, *f = NULL;
	size_t n = 0, nf = 0;
	struct outcome seen = {0}, flagged = {0};
	bool keywords = imapc_selected(p->imap)->permanent_keywords;
	int rc = -1;

	/* Everything journaled but not yet \Seen, including messages
	 * delivered by a run that died before it could say so; and the
	 * rejected ones not flagged yet. Their STOREs go out together, and
	 * each is recorded once the server said OK. */
	if (pull_state_unseen(p->st, p->uidvalidity, &u, &n, err) < 0 ||
	    pull_state_unflagged(p->st, p->uidvalidity, &f, &nf, err) < 0)
		goto out;
	store_submit(p, u, n, "\\Seen", &seen);
	if (nf > 0 && keywords)
		store_submit(p, f, nf, REJECTED_KEYWORD, &flagged);
	if (imapc_sync(p->imap, timeout_of(p), err) < 0)
		goto out;
	if (seen.failed) {
		*err = seen.err;
		goto out;
	}
	if (pull_state_mark_seen(p->st, p->uidvalidity, u, n, err) < 0)
		goto out;
	if (nf > 0 && !keywords)
		plog_warnx("cannot flag rejected messages with %s: the mailbox "
		    "does not accept keywords", REJECTED_KEYWORD);
	if (flagged.failed) {
		*err = flagged.err;
		goto out;
	}
	if (nf > 0 && pull_state_mark_flagged(p->st, p->uidvalidity, f, nf,
			  err) < 0)
		goto out;
	rc = 0;
out:
	free(u);
	free(f);
	return rc;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Without UIDPLUS, EXPUNGE removes every \Deleted message of the mailbox:
 * true when no message outside ours carries \Deleted (another client's
 * pending deletion is not ours to complete). A message flagged by another
 * client between this SEARCH and the EXPUNGE can still go with ours. */
static int
only_ours_deleted(struct pull *p, struct uidset *ours, bool *ok_r,
    struct err *err)
{
	struct uidset del = UIDSET_INIT;
	struct criteria crit = {NULL, 0, "DELETED"};
	int rc = search(p, &crit, &del, err);
	if (rc == 0)
		*ok_r = uidset_covers(ours, &del);
	uidset_free(&del);
	return rc;
}

/* Purge what pullimap knows it handled: the UIDs below the recorded
 * UIDNEXT (delivered, or gone, or accepted by --no-delivery or the Perl
 * statefile import) and the journaled ones above it (behind a message
 * left for later); never a rejected one, never one it skipped. The sets
 * stay ranges: whatever the server answers, nothing is sized by it. */
static int
purge(struct pull *p, uint32_t uidnext, struct err *err)
{
	char tail[128];
	struct buf set = BUF_INIT(SIZE_MAX);
	struct uidset cand = UIDSET_INIT, *hits = &p->search;
	struct criteria crit = {&cand, 0, tail};
	uint32_t *rej = NULL;
	size_t nrej = 0, pos = 0;
	int rc = -1;

	if (!p->pc->has_purge_after)
		return 0;
	if (uidnext > 1)
		uidset_add(&cand, 1, uidnext - 1);
	for (size_t k = 0; k < p->journaled.n; k++)
		uidset_add(&cand, p->journaled.r[k].lo, p->journaled.r[k].hi);
	uidset_format(&set, &cand);
	if (set.len > 8000) {
		/* A long tail of journaled UIDs waits for a later purge. */
		uidset_clear(&cand);
		if (uidnext > 1)
			uidset_add(&cand, 1, uidnext - 1);
		buf_reset(&set);
		uidset_format(&set, &cand);
	}
	if (cand.n == 0) {
		rc = 0;
		goto out;
	}
	snprintf(tail, sizeof(tail), "NOT KEYWORD %s", REJECTED_KEYWORD);
	if (p->pc->purge_after_days > 0) {
		/* RFC 3501 SEARCH BEFORE: date only, hence 24h accuracy. */
		time_t t = time(NULL) - (time_t)p->pc->purge_after_days * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(tail, sizeof(tail), "BEFORE %02d-%s-%04d NOT KEYWORD %s",
		    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		    REJECTED_KEYWORD);
	}
	if (search(p, &crit, hits, err) < 0 ||
	    pull_state_rejected_uids(p->st, p->uidvalidity, &rej, &nrej,
		err) < 0)
		goto out;
	/* Whatever the server answered: only candidates, never a rejected
	 * message (the keyword may be missing: no permanent keywords). */
	uidset_intersect(hits, &cand);
	uidset_remove(hits, rej, nrej);
	rc = 0;
	if (hits->n == 0)
		goto out;
	if (!imapc_capable(p->imap, "UIDPLUS")) {
		bool ok = false;
		if ((rc = only_ours_deleted(p, hits, &ok, err)) < 0)
			goto out;
		if (!ok) {
			plog_warnx("not purging: other messages are marked "
			    "\\Deleted and the server lacks UIDPLUS, so EXPUNGE "
			    "would remove them too");
			goto out;
		}
	}
	if (p->pc->purge_after_days > 0) {
		buf_reset(&set);
		uidset_format(&set, hits);
		plog_info("Removing %llu UID(s) %s",
		    (unsigned long long)uidset_count(hits), set.data);
	}
	while (pos < hits->n && rc == 0) {
		struct outcome o = {0};
		struct imapc_handlers h = {NULL, NULL, NULL, outcome_done, &o};
		size_t from = pos;
		struct imap_cmd *cmd;

		/* The EXPUNGE goes out with the STORE: the server runs them
		 * in order, and removes only what the STORE flagged. */
		imapc_submit(p->imap, store_cmd(hits, &pos, "\\Deleted"), &h);
		if (imapc_capable(p->imap, "UIDPLUS")) {
			/* The same UIDs as the STORE. */
			cmd = imap_cmd_new("UID EXPUNGE");
			imap_cmd_uidset_chunk(cmd, hits, &from, 8000);
		} else {
			cmd = imap_cmd_new("EXPUNGE");
		}
		imapc_submit(p->imap, cmd, &h);
		rc = imapc_sync(p->imap, timeout_of(p), err);
		if (rc == 0 && o.failed) {
			*err = o.err;
			rc = -1;
		}
	}
out:
	free(rej);
	uidset_free(&cand);
	buf_free(&set);
	return rc;
}

/* The main loop: search for UIDs >= from not journaled yet, deliver them in
 * batches, repeat while new mail arrived meanwhile. Returns the new UIDNEXT
 * candidate in *uidnext_r: every UID below it was journaled or is gone
 * (not found by a SEARCH); a UID that FETCH did not return bounds it. */
static int
pull_new(struct pull *p, uint32_t from, uint32_t *uidnext_r, struct err *err)
{
	uint32_t *known = NULL;
	size_t nknown = 0;
	uint64_t next = from;
	int rc = -1;

	if (pull_state_known(p->st, p->uidvalidity, from, &known, &nknown,
		err) < 0)
		return -1;
	for (size_t i = 0; i < nknown; i++)
		uidset_add(&p->journaled, known[i], known[i]);
	free(known);
	for (unsigned round = 0; round < 1000 && !p->stop; round++) {
		const struct imapc_mailbox *box = imapc_selected(p->imap);
		struct criteria crit = {NULL, (uint32_t)next, NULL};
		uint32_t cursor = (uint32_t)next, u, b[BATCH];
		uint64_t top = 0, first_unhandled = UINT64_MAX, n = 0;
		uint32_t exists;
		bool end = false;

		/* SELECT's UIDNEXT tells at once whether anything is new.
		 * After a delivery round, search again: servers often report
		 * mail that arrived meanwhile only at the next command. */
		if (round == 0 && p->fresh_select && box->uidnext != 0 &&
		    box->uidnext <= next)
			break;
		imapc_take_changes(p->imap);
		exists = box->exists;
		if (search(p, &crit, &p->search, err) < 0)
			goto out;
		/* "N:*" matches the highest UID even when it is below N, so
		 * an empty answer says the mailbox is empty. Dovecot reports
		 * mail that arrived during the SEARCH after its result: the
		 * mailbox must have held messages before and after. */
		if (box->exists < exists)
			exists = box->exists;
		if (p->search.n == 0 && exists > 0) {
			err_set(err, ERR_PROTO,
			    "%s: UID SEARCH UID %u:* found nothing although the "
			    "mailbox holds %u messages", imapc_name(p->imap),
			    crit.from, exists);
			goto out;
		}
		if (p->search.n > 0 &&
		    p->search.r[p->search.n - 1].hi >= next)
			top = p->search.r[p->search.n - 1].hi;
		while (!p->stop && !end) {
			size_t k = 0;
			while (k < BATCH && uidset_next(&p->search, cursor, &u)) {
				if (!uidset_has(&p->journaled, u) &&
				    !uidset_has(&p->skipped, u))
					b[k++] = u;
				if (u == UINT32_MAX) {
					end = true;
					break;
				}
				cursor = u + 1;
			}
			if (k == 0)
				break;
			n += k;
			/* Only now is there something worth compressing: a
			 * poll with nothing new skips the round trip. */
			if (!p->compress_asked &&
			    imap_compress(p->imap, &p->pc->imap, timeout_of(p),
				err) < 0)
				goto out;
			p->compress_asked = true;
			if (pull_batch(p, b, k, &first_unhandled, err) < 0)
				goto out;
			if (p->stop && !end &&
			    uidset_next(&p->search, cursor, &u) &&
			    u < first_unhandled)
				first_unhandled = u;
		}
		if (uidset_next(&p->skipped, (uint32_t)next, &u) &&
		    u < first_unhandled)
			first_unhandled = u;
		if (top >= next) {
			uint64_t cand = top + 1;
			/* Journaled UIDs above what the server still has
			 * were handled (and maybe purged): pass them too. */
			while (cand <= UINT32_MAX &&
			    uidset_run_end(&p->journaled, (uint32_t)cand, &u))
				cand = (uint64_t)u + 1;
			if (first_unhandled < cand)
				cand = first_unhandled;
			if (cand > UINT32_MAX)
				cand = UINT32_MAX; /* UID 4294967295 is the last */
			if (cand > next)
				next = cand;
		}
		/* Dovecot reports mail that arrived during the SEARCH right
		 * after its result: look once more then. */
		if (n == 0 && imapc_take_changes(p->imap) == 0)
			break;
	}
	rc = 0;
out:
	*uidnext_r = (uint32_t)next;
	return rc;
}

static int
open_state(struct pull *p, uint32_t *uidnext_r, struct err *err)
{
	const struct imapc_mailbox *box = imapc_selected(p->imap);
	char *name = NULL;
	uint32_t uv = 0, un = 0;
	int r = pull_state_get_mailbox(p->st, &name, &uv, &un, err);

	if (r < 0)
		return -1;
	p->uidvalidity = box->uidvalidity;
	if (r == 1 && uv != box->uidvalidity) {
		if (!p->o->no_delivery) {
			err_set(err, ERR_DB,
			    "UIDVALIDITY of %s changed from %u to %u: the server "
			    "renumbered its messages, so pullimap cannot tell "
			    "which ones were delivered. Check the mailbox, then "
			    "run 'pullimap --no-delivery %s' to accept its "
			    "current content as delivered",
			    p->pc->mailbox, uv, box->uidvalidity,
			    p->pc->section);
			free(name);
			return -1;
		}
		plog_warnx("UIDVALIDITY changed from %u to %u: starting over "
		    "(--no-delivery)", uv, box->uidvalidity);
		r = 0;
	}
	free(name);
	if (r == 0)
		un = 1;
	if (un == 0)
		un = 1;
	if (r == 1 && box->uidnext != 0 && box->uidnext < un) {
		/* UIDs never go down within a UIDVALIDITY: either the
		 * server is wrong now or the recorded value is too high (as
		 * earlier versions could record it). Look again from the
		 * last journaled UID: the journal keeps what was delivered
		 * from being delivered again, and new mail is not skipped. */
		uint32_t last = 0, from;
		if (pull_state_last_uid(p->st, box->uidvalidity, &last,
			err) < 0)
			return -1;
		from = last < box->uidnext ? last + 1 : box->uidnext;
		plog_warnx("the server's UIDNEXT %u is below the recorded %u: "
		    "looking for new messages from UID %u", box->uidnext, un,
		    from);
		un = from;
		r = 0;
	}
	if (r == 0 && pull_state_set_mailbox(p->st, p->pc->mailbox,
		box->uidvalidity, un, err) < 0)
		return -1;
	*uidnext_r = un;
	return 0;
}

/* ENABLE QRESYNC and SELECT in one round trip: the server runs commands
 * in the order received (RFC 3501 §5.5), and an ENABLE that fails leaves
 * a SELECT without QRESYNC, which is fine. QRESYNC makes SELECT report
 * HIGHESTMODSEQ and expunges as UIDs. The first failure is reported. */
static int
enable_select(struct pull *p, struct err *err)
{
	struct outcome en = {0}, sel = {0};
	struct imapc_handlers hen = {NULL, NULL, NULL, outcome_done, &en};
	struct imapc_handlers hsel = {NULL, NULL, NULL, outcome_done, &sel};
	const struct imapc_mailbox *box;
	struct imap_cmd *select = imap_cmd_new("SELECT"), *cmd;

	if (imap_cmd_mailbox(select, p->pc->mailbox, err) < 0) {
		imap_cmd_free(&select);
		return err_prefix(err, "mailbox \"%s\"", p->pc->mailbox);
	}
	if (imapc_capable(p->imap, "QRESYNC") &&
	    imapc_capable(p->imap, "ENABLE")) {
		cmd = imap_cmd_new("ENABLE");
		imap_cmd_atom(cmd, "QRESYNC");
		imapc_submit(p->imap, cmd, &hen);
	}
	imapc_submit_select(p->imap, select, p->pc->mailbox, &hsel);
	if (imapc_sync(p->imap, timeout_of(p), err) < 0)
		return -1;
	if (en.failed || sel.failed) {
		*err = en.failed ? en.err : sel.err;
		return -1;
	}
	box = imapc_selected(p->imap);
	if (box->uidvalidity == 0)
		return err_set(err, ERR_PROTO,
		    "%s: no UIDVALIDITY in the reply to SELECT %s",
		    imapc_name(p->imap), p->pc->mailbox);
	return 0;
}

/* Connect, SELECT, check the state against the mailbox. */
static int
session_open(struct pull *p, struct err *err)
{
	/* pullimap keeps its own trace (imapc.h, IMAPC_TRACE_PARSED). */
	struct imapc_opts eo = { .log_prefix = plog_prefix() };

	p->compress_asked = false;
	if (!(p->imap = imap_login(&p->pc->imap, NULL, &eo, p->o->timeout_ms,
	    err)))
		return -1;
	if (enable_select(p, err) < 0)
		return -1;
	plog_set_mailbox(p->pc->mailbox);
	imapc_set_log_prefix(p->imap, plog_prefix());
	p->fresh_select = true;
	return open_state(p, &p->uidnext, err);
}

static void
session_close(struct pull *p)
{
	imap_logout(&p->imap);
	plog_set_mailbox(NULL);
}

/* One poll on the open session: deliver what is new, \Seen, UIDNEXT, and
 * purge when asked. A temporary delivery failure sets p->stop. */
static int
poll_once(struct pull *p, bool purge_now, struct err *err)
{
	uint32_t newnext = p->uidnext;
	uint64_t t0 = now_ms();

	p->stop = false;
	p->ndelivered = p->nrejected = 0;
	p->bytes = 0;
	p->nmissing = 0;
	uidset_clear(&p->journaled);
	uidset_clear(&p->skipped);
	if (pull_new(p, p->uidnext, &newnext, err) < 0)
		return -1;
	if (p->dlv) {
		struct err qe;
		if (deliver_quit(p->dlv, &qe) < 0)
			plog_debug("QUIT: %s", qe.msg);
	}
	/* After a stop the connection was given up: the next session
	 * marks this poll's deliveries \Seen (they are journaled). */
	if (imapc_usable(p->imap) && mark_seen(p, err) < 0)
		return -1;
	/* SELECT's UIDNEXT is never taken as the new UIDNEXT: a server can
	 * announce one it does not keep. */
	p->fresh_select = false;
	if (newnext > p->uidnext) {
		if (pull_state_set_mailbox(p->st, p->pc->mailbox,
			p->uidvalidity, newnext, err) < 0)
			return -1;
		p->uidnext = newnext;
	}
	if (purge_now && !p->stop && purge(p, p->uidnext, err) < 0)
		return -1;
	if (p->ndelivered > 0 || p->nrejected > 0)
		plog_info("delivered %u message(s), %llu bytes, in %.1f s%s",
		    p->ndelivered, (unsigned long long)p->bytes,
		    (double)(now_ms() - t0) / 1000,
		    p->nrejected ? " (some rejected)" : "");
	return 0;
}

static int
pull_open(struct pull *p, const struct pull_conf *pc,
    const struct pull_run_opts *o, struct err *err)
{
	memset(p, 0, sizeof(*p));
	p->pc = pc;
	p->o = o;
	/* Lock before touching the server: a second instance must not
	 * deliver anything. */
	if (!(p->st = pull_state_open(pc->statefile, pc->mailbox, err)))
		return -1;
	if (!o->no_delivery) {
		struct deliver_opts d = {pc->deliver_method, pc->deliver_ehlo,
		    pc->deliver_rcpt, o->timeout_ms};
		if (!(p->dlv = deliver_new(&d, err)))
			return -1;
	}
	return 0;
}

static void
pull_close(struct pull *p)
{
	if (p->dlv)
		deliver_free(&p->dlv);
	session_close(p);
	pull_state_close(&p->st);
	batch_clear(p);
	uidset_free(&p->search);
	uidset_free(&p->journaled);
	uidset_free(&p->skipped);
}

/* Writes (or clears, failure NULL) the last error in one transaction. */
static int
record_error(struct pull_state *st, const struct err *failure,
    struct err *err)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (pull_state_begin(st, err) < 0)
		return -1;
	if (pull_state_set_meta(st, "last_error",
		failure ? failure->msg : NULL, err) < 0 ||
	    pull_state_set_meta(st, "last_error_at", failure ? now : NULL,
		err) < 0 ||
	    pull_state_commit(st, err) < 0) {
		pull_state_rollback(st);
		return -1;
	}
	return 0;
}

/* For --status: how the last run failed (cleared by a successful run), and
 * when it ended (the state file's mtime). A clean run after a clean run
 * writes nothing: a cron poll with nothing new costs no disk write. Failing
 * to record the outcome must not change it. */
static void
record_outcome(struct pull_state *st, const struct err *failure)
{
	char *prev = NULL;
	struct err e;
	bool write = failure != NULL ||
	    pull_state_get_meta(st, "last_error", &prev, &e) != 0;

	free(prev);
	if (write && record_error(st, failure, &e) < 0)
		plog_warnx("cannot record the outcome of the run: %s", e.msg);
	else if (pull_state_touch(st) < 0)
		plog_warnx("cannot record the end of the run: %s",
		    strerror(errno));
}

int
pull_run(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err)
{
	struct pull p;
	int rc = -1;

	if (pull_open(&p, pc, o, err) < 0 || session_open(&p, err) < 0 ||
	    poll_once(&p, true, err) < 0)
		goto out;
	if (p.stop && p.stop_err.kind != ERR_NONE && !imapc_usable(p.imap)) {
		/* The fetch was cut short: a short session marks what was
		 * delivered \Seen now rather than at the next run. */
		struct err e;
		session_close(&p);
		if (session_open(&p, &e) < 0 || mark_seen(&p, &e) < 0)
			plog_debug("marking \\Seen after the stop: %s", e.msg);
	}
	if (p.stop) {
		*err = p.stop_err;
		if (err->kind == ERR_NONE) /* interrupted by a signal */
			rc = 0;
		else
			err_prefix(err, "delivery stopped, will retry");
		goto out;
	}
	if (p.nrejected > 0) {
		err_set(err, ERR_REFUSED,
		    "%u message(s) rejected permanently by the MTA (flagged %s "
		    "on the server, left unseen)", p.nrejected, REJECTED_KEYWORD);
		goto out;
	}
	rc = 0;
out:
	if (p.st)
		record_outcome(p.st, rc < 0 ? err : NULL);
	pull_close(&p);
	return rc;
}

/* --idle: errors that no reconnection can cure. */
static bool
fatal(enum err_kind k)
{
	return k == ERR_CONFIG || k == ERR_AUTH || k == ERR_DB ||
	    k == ERR_USAGE || k == ERR_SYS || k == ERR_INTERNAL;
}

/* Sleep ms unless a signal asks for something sooner, whenever it comes:
 * the flags are tested with the signals blocked (sigwait.h). */
static void
nap(const struct pull_run_opts *o, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		uint64_t now = now_ms();
		bool done;

		sigwait_block();
		done = *o->stop || *o->wake || now >= end;
		if (!done) {
			sigwait_test_hook();
			sigwait_poll(NULL, 0, (int)(end - now));
		}
		sigwait_unblock();
		if (done)
			break;
	}
}

int
pull_idle(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err)
{
	struct pull p;
	unsigned backoff = 0;
	uint64_t last_purge = 0;
	bool warned_idle = false;
	/* Here, not in the loop: a connection that fails later (logout)
	 * still reports to it. */
	struct imap_idle idle;
	int rc = -1;

	if (pull_open(&p, pc, o, err) < 0)
		goto out;
	/* A SIGTERM while (re)connecting to a server that does not answer
	 * must not wait for the timeout. */
	conn_set_interrupt(o->stop);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	while (!*o->stop) {
		bool purge_now;
		int r = 0;

		if (!p.imap) {
			if (session_open(&p, err) < 0)
				goto failed;
			conn_set_keepalive(imapc_conn(p.imap));
		}
		/* Purge at start, then every 12 hours (as the reference). */
		purge_now = last_purge == 0 ||
		    now_ms() - last_purge >= 12ULL * 3600 * 1000;
		*o->wake = 0;
		if (poll_once(&p, purge_now, err) < 0)
			goto failed;
		if (purge_now && !p.stop)
			last_purge = now_ms();
		if (p.stop && p.stop_err.kind != ERR_NONE) {
			*err = p.stop_err;
			goto failed;
		}
		backoff = 0;
		if (!imapc_capable(p.imap, "IDLE")) {
			/* No IDLE (RFC 2177): poll at the interval instead. */
			if (!warned_idle)
				plog_warnx("the server does not support IDLE: "
				    "polling every %d s", o->idle_ms / 1000);
			warned_idle = true;
			nap(o, (unsigned)o->idle_ms);
			continue;
		}
		while (!*o->stop && !*o->wake) {
			if (imap_idle_start(&idle, p.imap, timeout_of(&p),
				err) < 0)
				goto failed;
			r = imap_idle_wait(&idle, o->idle_ms, o->wake, err);
			if (r < 0 || imap_idle_done(&idle, timeout_of(&p),
					 err) < 0)
				goto failed;
			if (r > 0)
				break;
			/* Timeout: IDLE again (servers log idle clients out
			 * after 30 minutes, RFC 2177 §3). */
		}
		continue;
failed:
		if (fatal(err->kind))
			goto out;
		session_close(&p);
		if (*o->stop)
			break;
		backoff = backoff ? (backoff * 2 > 300000 ? 300000 : backoff * 2)
				  : 1000;
		{
			/* +-20% jitter, so that many clients do not come back
			 * at once after a server restart. */
			unsigned j = backoff / 5;
			unsigned ms = backoff - j + (unsigned)(random() % (2 * j + 1));
			plog_warnx("%s; reconnecting in %.1f s", err->msg,
			    ms / 1000.0);
			nap(o, ms);
		}
	}
	rc = 0;
out:
	conn_set_interrupt(NULL);
	pull_close(&p);
	return rc;
}
