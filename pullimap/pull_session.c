#include "util.h"

#include <stdlib.h>

#include "imap_auth.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "pull_state.h"

/* A session: connect, SELECT, and the state checked against the mailbox
 * (UIDVALIDITY, UIDNEXT) before anything is fetched. */

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
	struct pull_outcome en = {0}, sel = {0};
	struct imapc_handlers hen = {NULL, NULL, NULL, pull_outcome_done, &en};
	struct imapc_handlers hsel = {NULL, NULL, NULL, pull_outcome_done,
	    &sel};
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
	if (imapc_sync(p->imap, pull_timeout(p), err) < 0)
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

int
pull_session_open(struct pull *p, struct err *err)
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

void
pull_session_close(struct pull *p)
{
	imap_logout(&p->imap);
	plog_set_mailbox(NULL);
}
