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
#include "imap.h"
#include "imap_conf.h"
#include "log.h"
#include "pull.h"
#include "pull_state.h"
#include "sigwait.h"
#include "uidlist.h"

/* Messages handled per FETCH command: bounds the metadata kept in memory and
 * the work drained after a failure. */
#define BATCH 256
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
};

struct pull {
	const struct pull_conf *pc;
	const struct pull_run_opts *o;
	struct pull_state *st;
	struct imap_client *imap;
	struct deliver *dlv;
	uint32_t uidvalidity;

	struct msg *batch;
	size_t nbatch;
	struct uidlist search;   /* result of the last SEARCH */
	unsigned ndelivered, nrejected;
	uint64_t bytes;
	uint32_t uidnext;        /* recorded UIDNEXT */
	bool fresh_select;       /* SELECT's UIDNEXT is still current */
	bool stop;               /* a temporary failure: deliver no more */
	struct err stop_err;
};

/* RFC 5321 §4.1.2 Dot-string: atoms of atext joined by dots. */
static bool
is_dot_string(const char *s)
{
	bool prev_dot = true;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
			continue;
		}
		prev_dot = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	return !prev_dot;
}

/* The envelope sender, as the reference builds it: the first From address;
 * the local part quoted when it is not a Dot-string; "" (<>) when there is
 * none or it cannot be expressed. */
static char *
envelope_sender(const struct imap_arg *env)
{
	const struct imap_arg *from, *addr;
	const char *local, *domain;
	struct buf b = BUF_INIT(4096);

	if (!env || env->type != IMAP_ARG_LIST || env->count < 3)
		return xstrdup("");
	from = &env->list[2];
	if (from->type != IMAP_ARG_LIST || from->count < 1)
		return xstrdup("");
	addr = &from->list[0];
	if (addr->type != IMAP_ARG_LIST || addr->count < 4)
		return xstrdup("");
	local = imap_arg_string(&addr->list[2]);
	domain = imap_arg_string(&addr->list[3]);
	if (!local || !domain || strlen(local) != addr->list[2].len)
		return xstrdup("");
	if (is_dot_string(local))
		return xasprintf("%s@%s", local, domain);
	for (const char *p = local; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return xstrdup("");
	buf_append(&b, "\"", 1);
	for (const char *p = local; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(&b, "\\", 1);
		buf_append(&b, p, 1);
	}
	buf_appendf(&b, "\"@%s", domain);
	return buf_steal(&b);
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

/* A search cannot find more messages than the mailbox holds (with room
 * for some that arrive meanwhile): the bound on what a server's ESEARCH
 * ranges may make us allocate. */
static size_t
search_max(struct pull *p)
{
	return (size_t)imap_selected(p->imap)->exists + 10000;
}

static int
search_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	if (!r->name)
		return 0;
	if (strcmp(r->name, "SEARCH") == 0) {
		for (size_t i = 0; i < r->nargs; i++) {
			uint32_t u;
			if (r->args[i].type != IMAP_ARG_ATOM ||
			    parse_u32_str(r->args[i].str, &u) < 0)
				return err_set(err, ERR_PROTO,
				    "bad SEARCH response from the server");
			uidlist_push(&p->search, u);
		}
	} else if (strcmp(r->name, "ESEARCH") == 0) {
		/* RFC 4731: (TAG "x") UID ALL set; ALL absent when empty. */
		for (size_t i = 0; i + 1 < r->nargs; i++) {
			if (imap_arg_atom_is(&r->args[i], "ALL")) {
				const char *s = imap_arg_string(&r->args[i + 1]);
				if (!s || uidlist_parse(&p->search, s,
					search_max(p)) < 0)
					return err_set(err, ERR_PROTO,
					    "bad ESEARCH response from the server");
			}
		}
	}
	return 0;
}

/* UID SEARCH with criteria; result sorted in p->search. */
static int
search(struct pull *p, const char *criteria, struct err *err)
{
	p->search.n = 0;
	if (imap_run(p->imap, search_cb, NULL, p, err, "UID SEARCH %s%s",
		imap_capable(p->imap, "ESEARCH") ? "RETURN (ALL) " : "",
		criteria) < 0)
		return -1;
	uidlist_sort(&p->search);
	return 0;
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
	if ((a = fetch_item(l, r->args[0].count, "RFC822.SIZE")))
		parse_u64_str(a->str, &m->size);
	if ((a = fetch_item(l, r->args[0].count, "INTERNALDATE")) &&
	    imap_arg_string(a)) {
		free(m->internaldate);
		m->internaldate = xstrdup(imap_arg_string(a));
	}
	if ((a = fetch_item(l, r->args[0].count, "ENVELOPE")) &&
	    a->type == IMAP_ARG_LIST) {
		free(m->sender);
		m->sender = envelope_sender(a);
		if (a->count > 9 && imap_arg_string(&a->list[9])) {
			free(m->message_id);
			m->message_id = xstrdup(imap_arg_string(&a->list[9]));
		}
	}
	m->meta = true;
	return 0;
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
	p->ndelivered++;
	p->bytes += m->size;
	return 0;
}

struct body_src {
	struct pull *p;
	const char *data; /* in-memory body, or NULL: stream from IMAP */
	size_t len, off;
};

static ssize_t
body_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct body_src *s = ctx;
	if (!s->data)
		return imap_literal_read(s->p->imap, buf, n, err);
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int
deliver_one(struct pull *p, struct msg *m, struct body_src *src,
    uint64_t size, struct err *err)
{
	struct deliver_result res;
	struct err derr;

	m->done = true;
	if (!p->stop && p->o->stop && *p->o->stop) {
		/* SIGTERM/SIGINT: what was delivered is journaled; stop
		 * before the next message. */
		p->stop = true;
		err_clear(&p->stop_err);
	}
	if (p->stop)
		return 0;
	log_info("UID %u from <%s> (%s)", m->uid, m->sender ? m->sender : "",
	    m->internaldate ? m->internaldate : "");
	memset(&res, 0, sizeof(res));
	if (deliver_message(p->dlv, m->sender ? m->sender : "", size,
		body_read, src, &res, &derr) == 0)
		return accepted(p, m, res.reply, err);
	if (res.source_failed) {
		/* The IMAP stream broke: the command fails with it. */
		*err = derr;
		return -1;
	}
	if (derr.kind == ERR_REFUSED) {
		struct pull_msg_info i = info_of(m);
		log_errorx("UID %u rejected by the MTA: %s", m->uid,
		    res.reply[0] ? res.reply : derr.msg);
		if (pull_state_rejected(p->st, p->uidvalidity, &i,
			res.reply[0] ? res.reply : derr.msg, err) < 0)
			return -1;
		p->nrejected++;
		return 0;
	}
	/* Temporary: deliver nothing more in this run; the IMAP command
	 * goes on (bodies are drained) so the connection stays usable. */
	p->stop = true;
	p->stop_err = derr;
	return 0;
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
	struct body_src src = {p, NULL, 0, 0};
	struct msg *m;

	if (!partial->name || strcmp(partial->name, "FETCH") != 0 || count < 1 ||
	    !imap_arg_atom_is(&cont[count - 1], "BODY[]"))
		return 0;
	if (!(m = msg_of_fetch(p, partial->num, cont, count - 1)))
		return 0;
	return deliver_one(p, m, &src, size, err);
}

static int
body_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	const struct imap_arg *l, *body;
	struct body_src src = {p, NULL, 0, 0};
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
	return deliver_one(p, m, &src, src.len, err);
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
		log_info("UID %u from <%s> (%s)", m->uid,
		    m->sender ? m->sender : "",
		    m->internaldate ? m->internaldate : "");
		m->done = true;
		if (accepted(p, m, "(not delivered: --no-delivery)", err) < 0) {
			pull_state_rollback(p->st);
			return -1;
		}
	}
	return pull_state_commit(p->st, err);
}

/* Fetch and deliver the messages with the given sorted UIDs. */
static int
pull_batch(struct pull *p, const uint32_t *uids, size_t n, struct err *err)
{
	struct buf set = BUF_INIT(SIZE_MAX);
	int rc = -1;

	p->batch = xcalloc(n, sizeof(*p->batch));
	p->nbatch = n;
	for (size_t i = 0; i < n; i++)
		p->batch[i].uid = uids[i];
	uidlist_format(&set, uids, n, SIZE_MAX);

	/* Metadata first: the envelope sender is needed before the body
	 * can be streamed into MAIL FROM, whatever order the server sends
	 * the items in. */
	if (imap_run(p->imap, meta_cb, NULL, p, err,
		"UID FETCH %s (UID RFC822.SIZE INTERNALDATE ENVELOPE)",
		set.data) < 0)
		goto out;
	if (p->o->no_delivery) {
		rc = no_delivery(p, err);
		goto out;
	}
	rc = imap_run(p->imap, body_cb, body_lit_cb, p, err,
	    "UID FETCH %s (UID BODY.PEEK[])", set.data);
	if (rc == 0 && !p->stop)
		for (size_t i = 0; i < n; i++)
			if (!p->batch[i].done)
				log_warnx("UID %u vanished before it could be "
				    "fetched", p->batch[i].uid);
out:
	buf_free(&set);
	batch_clear(p);
	return rc;
}

/* STORE flags on sorted UIDs, in commands of bounded length. */
static int
store(struct pull *p, const uint32_t *u, size_t n, const char *flags,
    struct err *err)
{
	size_t i = 0;
	while (i < n) {
		struct buf set = BUF_INIT(SIZE_MAX);
		size_t k = uidlist_format(&set, u + i, n - i, 8000);
		int rc = imap_run(p->imap, NULL, NULL, NULL, err,
		    "UID STORE %s +FLAGS.SILENT (%s)", set.data, flags);
		buf_free(&set);
		if (rc < 0)
			return -1;
		i += k;
	}
	return 0;
}

static int
mark_seen(struct pull *p, struct err *err)
{
	uint32_t *u = NULL;
	size_t n = 0;
	int rc = -1;

	/* Everything journaled but not yet \Seen, including messages
	 * delivered by a run that died before it could say so. */
	if (pull_state_unseen(p->st, p->uidvalidity, &u, &n, err) < 0)
		return -1;
	if (store(p, u, n, "\\Seen", err) == 0 &&
	    pull_state_mark_seen(p->st, p->uidvalidity, u, n, err) == 0)
		rc = 0;
	free(u);
	if (rc < 0)
		return -1;

	if (pull_state_unflagged(p->st, p->uidvalidity, &u, &n, err) < 0)
		return -1;
	rc = 0;
	if (n > 0) {
		if (!imap_selected(p->imap)->permanent_keywords) {
			log_warnx("cannot flag rejected messages with %s: the "
			    "mailbox does not accept keywords", REJECTED_KEYWORD);
			rc = pull_state_mark_flagged(p->st, p->uidvalidity, u,
			    n, err);
		} else if ((rc = store(p, u, n, REJECTED_KEYWORD, err)) == 0) {
			rc = pull_state_mark_flagged(p->st, p->uidvalidity, u,
			    n, err);
		}
	}
	free(u);
	return rc;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int
purge(struct pull *p, uint32_t uidnext, struct err *err)
{
	char crit[160];
	struct buf set = BUF_INIT(SIZE_MAX);
	int rc = 0;
	size_t i = 0;

	if (!p->pc->has_purge_after || uidnext <= 1)
		return 0;
	if (p->pc->purge_after_days == 0) {
		snprintf(crit, sizeof(crit), "UID 1:%u NOT KEYWORD %s",
		    uidnext - 1, REJECTED_KEYWORD);
	} else {
		/* RFC 3501 SEARCH BEFORE: date only, hence 24h accuracy. */
		time_t t = time(NULL) - (time_t)p->pc->purge_after_days * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(crit, sizeof(crit),
		    "UID 1:%u BEFORE %02d-%s-%04d NOT KEYWORD %s", uidnext - 1,
		    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		    REJECTED_KEYWORD);
	}
	if (search(p, crit, err) < 0)
		return -1;
	/* Everything below UIDNEXT was delivered (or vanished); rejected
	 * messages are kept for the user. */
	if (p->search.n == 0)
		return 0;
	if (p->pc->purge_after_days > 0) {
		uidlist_format(&set, p->search.v, p->search.n, SIZE_MAX);
		log_info("Removing %zu UID(s) %s", p->search.n, set.data);
		buf_reset(&set);
	}
	while (i < p->search.n && rc == 0) {
		size_t k = uidlist_format(&set, p->search.v + i, p->search.n - i, 8000);
		rc = imap_run(p->imap, NULL, NULL, NULL, err,
		    "UID STORE %s +FLAGS.SILENT (\\Deleted)", set.data);
		if (rc == 0)
			rc = imap_capable(p->imap, "UIDPLUS")
			    ? imap_run(p->imap, NULL, NULL, NULL, err,
				  "UID EXPUNGE %s", set.data)
			    : imap_run(p->imap, NULL, NULL, NULL, err, "EXPUNGE");
		buf_reset(&set);
		i += k;
	}
	buf_free(&set);
	return rc;
}

/* The main loop: search for UIDs >= from not journaled yet, deliver them in
 * batches, repeat while new mail arrived meanwhile. Returns the new UIDNEXT
 * candidate in *uidnext_r: every UID below it has been handled. */
static int
pull_new(struct pull *p, uint32_t from, uint32_t *uidnext_r, struct err *err)
{
	uint32_t *known = NULL, next = from;
	size_t nknown = 0;
	int rc = -1;

	if (pull_state_known(p->st, p->uidvalidity, from, &known, &nknown,
		err) < 0)
		return -1;
	for (unsigned round = 0; round < 1000 && !p->stop; round++) {
		char crit[64];
		struct uidlist todo = UIDLIST_INIT;

		/* SELECT's UIDNEXT tells at once whether anything is new.
		 * After a delivery round, search again: servers often report
		 * mail that arrived meanwhile only at the next command. */
		if (round == 0 && p->fresh_select &&
		    imap_selected(p->imap)->uidnext != 0 &&
		    imap_selected(p->imap)->uidnext <= next)
			break;
		imap_take_changes(p->imap);
		snprintf(crit, sizeof(crit), "UID %u:*", next);
		if (search(p, crit, err) < 0)
			goto out;
		for (size_t i = 0; i < p->search.n; i++) {
			uint32_t u = p->search.v[i];
			/* "N:*" also matches the highest UID when it is < N. */
			if (u >= next && !uidlist_has(known, nknown, u))
				uidlist_push(&todo, u);
		}
		if (todo.n == 0) {
			free(todo.v);
			/* Dovecot reports mail that arrived during the SEARCH
			 * right after its result: look once more then. */
			if (imap_take_changes(p->imap) > 0)
				continue;
			break;
		}
		/* Only now is there something worth compressing: a poll
		 * with nothing new skips the round trip. */
		if (imap_compress(p->imap, err) < 0) {
			free(todo.v);
			goto out;
		}
		for (size_t i = 0; i < todo.n && !p->stop; i += BATCH) {
			size_t k = todo.n - i < BATCH ? todo.n - i : BATCH;
			if (pull_batch(p, todo.v + i, k, err) < 0) {
				free(todo.v);
				goto out;
			}
			if (!p->stop)
				next = todo.v[i + k - 1] + 1;
		}
		if (p->stop) {
			/* The first UID of todo not journaled bounds UIDNEXT. */
			uint32_t *j = NULL;
			size_t nj = 0;
			if (pull_state_known(p->st, p->uidvalidity, next, &j,
				&nj, err) < 0) {
				free(todo.v);
				goto out;
			}
			for (size_t i = 0; i < todo.n; i++) {
				if (todo.v[i] < next)
					continue;
				if (!uidlist_has(j, nj, todo.v[i]))
					break;
				next = todo.v[i] + 1;
			}
			free(j);
		}
		free(todo.v);
	}
	rc = 0;
out:
	free(known);
	*uidnext_r = next;
	return rc;
}

static int
open_state(struct pull *p, uint32_t *uidnext_r, struct err *err)
{
	const struct imap_mailbox *box = imap_selected(p->imap);
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
		log_warnx("UIDVALIDITY changed from %u to %u: starting over "
		    "(--no-delivery)", uv, box->uidvalidity);
		r = 0;
	}
	free(name);
	if (r == 0) {
		un = 1;
		if (pull_state_set_mailbox(p->st, p->pc->mailbox,
			box->uidvalidity, un, err) < 0)
			return -1;
	}
	*uidnext_r = un;
	return 0;
}

/* Connect, SELECT, check the state against the mailbox. */
static int
session_open(struct pull *p, struct err *err)
{
	if (!(p->imap = imap_connect(&p->pc->imap, p->o->timeout_ms, err)))
		return -1;
	/* QRESYNC makes SELECT report HIGHESTMODSEQ and expunges as UIDs. */
	if (imap_enable_select(p->imap, "QRESYNC", p->pc->mailbox, false,
		err) < 0)
		return -1;
	log_set_mailbox(p->pc->mailbox);
	p->fresh_select = true;
	return open_state(p, &p->uidnext, err);
}

static void
session_close(struct pull *p)
{
	imap_close(&p->imap);
	log_set_mailbox(NULL);
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
	if (pull_new(p, p->uidnext, &newnext, err) < 0)
		return -1;
	if (p->dlv) {
		struct err qe;
		if (deliver_quit(p->dlv, &qe) < 0)
			log_debug("QUIT: %s", qe.msg);
	}
	if (mark_seen(p, err) < 0)
		return -1;
	if (!p->stop && p->fresh_select) {
		uint32_t server_next = imap_selected(p->imap)->uidnext;
		/* UIDs only grow: whatever the last SEARCH did not find
		 * below the UIDNEXT reported at SELECT time is gone. */
		if (server_next > newnext)
			newnext = server_next;
	}
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
		log_info("delivered %u message(s), %llu bytes, in %.1f s%s",
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
	uidlist_free(&p->search);
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
		log_warnx("cannot record the outcome of the run: %s", e.msg);
	else if (pull_state_touch(st) < 0)
		log_warnx("cannot record the end of the run: %s",
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
			imap_keepalive(p.imap);
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
		if (!imap_capable(p.imap, "IDLE")) {
			/* No IDLE (RFC 2177): poll at the interval instead. */
			if (!warned_idle)
				log_warnx("the server does not support IDLE: "
				    "polling every %d s", o->idle_ms / 1000);
			warned_idle = true;
			nap(o, (unsigned)o->idle_ms);
			continue;
		}
		while (!*o->stop && !*o->wake) {
			if (imap_idle_start(p.imap, err) < 0)
				goto failed;
			r = imap_idle_wait(p.imap, o->idle_ms, o->wake, err);
			if (r < 0 || imap_idle_done(p.imap, err) < 0)
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
			log_warnx("%s; reconnecting in %.1f s", err->msg,
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
