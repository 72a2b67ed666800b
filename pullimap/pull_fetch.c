#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"

/* One batch: the metadata of its messages, then their bodies, each handed
 * to pull_deliver() as it arrives; what FETCH did not return is looked
 * for again. */

/* UIDs that a SEARCH named but FETCH did not return, per poll: a few are a
 * race with another client or a message the server cannot render; many
 * mean a server naming UIDs it does not have. */
#define MAX_MISSING 1000

static struct pull_msg *
batch_find(struct pull *p, uint32_t uid, uint32_t seq)
{
	for (size_t i = 0; i < p->nbatch; i++)
		if (uid ? p->batch[i].uid == uid : p->batch[i].seq == seq)
			return &p->batch[i];
	return NULL;
}

void
pull_fetch_clear(struct pull *p)
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

static int
meta_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	const struct imap_arg *l, *a;
	struct pull_msg *m;
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

static struct pull_msg *
msg_of_fetch(struct pull *p, uint32_t seq, const struct imap_arg *l, size_t n)
{
	uint32_t uid = fetch_uid(l, n);
	struct pull_msg *m = uid ? batch_find(p, uid, 0) :
	    batch_find(p, 0, seq);
	return m && !m->done ? m : NULL;
}

static int
body_lit_cb(void *ctx, const struct imap_resp *partial,
    const struct imap_arg *cont, size_t count, uint64_t size, struct err *err)
{
	struct pull *p = ctx;
	struct pull_msg *m;

	if (!partial->name || strcmp(partial->name, "FETCH") != 0 || count < 1 ||
	    !imap_arg_atom_is(&cont[count - 1], "BODY[]"))
		return 0;
	if (!(m = msg_of_fetch(p, partial->num, cont, count - 1)))
		return 0;
	return pull_deliver(p, m, NULL, size, err) < 0 ? -1 : 1;
}

static int
body_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	const struct imap_arg *l, *body;
	struct pull_msg *m;
	const char *data;
	size_t len;

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
	data = body->type == IMAP_ARG_NIL ? "" : body->str;
	len = body->type == IMAP_ARG_NIL ? 0 : body->len;
	return pull_deliver(p, m, data, len, err) < 0 ? -1 : 1;
}

/* UIDs of the batch that a SEARCH named but FETCH did not return: those a
 * fresh SEARCH still finds are left for the next poll (p->skipped), the
 * others are gone. Never proof of anything past MAX_MISSING per poll. */
static int
confirm_missing(struct pull *p, const uint32_t *u, size_t n, struct err *err)
{
	struct uidset still = UIDSET_INIT, want = UIDSET_INIT;
	struct pull_criteria crit = {&want, 0, NULL};
	int rc;

	p->nmissing += (unsigned)n;
	if (p->nmissing > MAX_MISSING)
		return err_set(err, ERR_PROTO,
		    "%s: more than %d UIDs named by UID SEARCH were not returned "
		    "by UID FETCH: the server is inconsistent; giving up this "
		    "poll", imapc_name(p->imap), MAX_MISSING);
	pull_uidset_of(&want, u, n);
	rc = pull_search(p, &crit, &still, err);
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

int
pull_fetch_batch(struct pull *p, const uint32_t *uids, size_t n,
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
	pull_uidset_of(&set, uids, n);

	/* Metadata first: the envelope sender is needed before the body
	 * can be streamed into MAIL FROM, whatever order the server sends
	 * the items in. */
	cmd = imap_cmd_new("UID FETCH");
	imap_cmd_uidset(cmd, &set);
	imap_cmd_raw(cmd, "(UID RFC822.SIZE INTERNALDATE ENVELOPE)");
	if (pull_exec(p, cmd, meta_cb, NULL, err) < 0)
		goto out;
	if (p->o->no_delivery) {
		if (pull_deliver_none(p, err) < 0)
			goto out;
	} else {
		/* Only messages whose metadata came: no MAIL FROM guessed. */
		for (size_t i = 0; i < n; i++)
			if (p->batch[i].meta)
				uidlist_push(&body, uids[i]);
		if (body.n > 0) {
			pull_uidset_of(&set, body.v, body.n);
			cmd = imap_cmd_new("UID FETCH");
			imap_cmd_uidset(cmd, &set);
			imap_cmd_raw(cmd, "(UID BODY.PEEK[])");
			if (pull_exec(p, cmd, body_cb, body_lit_cb, err) < 0 &&
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
	pull_fetch_clear(p);
	return rc;
}
