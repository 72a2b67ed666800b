#include "util.h"

#include <string.h>

#include "deliver.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "pull_state.h"

/* One message to the MTA, and its outcome journaled in the state. */

static struct pull_msg_info
info_of(const struct pull_msg *m)
{
	struct pull_msg_info i = {m->uid, m->size, m->message_id,
	    m->internaldate, m->sender};
	return i;
}

/* Record a message the MTA accepted: journal first (durably), then the
 * rest. A crash between the MTA's reply and the commit re-delivers this one
 * message next time; nothing is ever lost. */
static int
accepted(struct pull *p, struct pull_msg *m, const char *reply,
    struct err *err)
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

int
pull_deliver(struct pull *p, struct pull_msg *m, const char *body,
    uint64_t size, struct err *err)
{
	struct body_src src = {p, body, body ? (size_t)size : 0, 0, 0};
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
	rc = deliver_message(p->dlv, sender, size, body_read, &src, &res,
	    &derr);
	if (rc < 0 && derr.kind == ERR_REFUSED && res.sender_refused &&
	    *sender && src.consumed == 0) {
		/* Some MTAs refuse senders others accept (quoted local parts,
		 * address literals): the message matters more than its
		 * bounce address. */
		plog_warnx("UID %u: the MTA refused the sender <%s> (%s); "
		    "delivering it with the null sender <>", m->uid, sender,
		    res.reply[0] ? res.reply : derr.msg);
		memset(&res, 0, sizeof(res));
		rc = deliver_message(p->dlv, "", size, body_read, &src, &res,
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

int
pull_deliver_none(struct pull *p, struct err *err)
{
	if (pull_state_begin(p->st, err) < 0)
		return -1;
	for (size_t i = 0; i < p->nbatch; i++) {
		struct pull_msg *m = &p->batch[i];
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
