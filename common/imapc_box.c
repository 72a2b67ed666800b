#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "imap_data.h"
#include "imapc.h"
#include "imapc_int.h"
#include "uidlist.h"

/* The engine's record of the selected mailbox (imapc.h, struct
 * imapc_mailbox), from the responses as they are dispatched. */

void
imapc_box_reset(struct imapc *c, const char *name)
{
	free(c->box_name);
	c->box_name = name ? xstrdup(name) : NULL;
	memset(&c->box, 0, sizeof(c->box));
	c->box.name = c->box_name;
	c->changes = 0;
}

/* Responses once every command before a SELECT is done belong to the
 * mailbox it selects (RFC 3501 §5.5: the server answers in order; RFC
 * 7162's [CLOSED] marks the same point). */
static void
box_select_starts(struct imapc *c)
{
	struct cmd *q = c->head;

	if (q && q->select && !q->select_started &&
	    (q->state == CMD_SENT || q->state == CMD_WAIT)) {
		q->select_started = true;
		imapc_box_reset(c, NULL);
	}
}

void
imapc_box_update(struct imapc *c, const struct imap_resp *r)
{
	uint64_t v;
	struct imap_atoms a;
	struct err e;
	bool star;

	box_select_starts(c);
	if (r->status) {
		switch (imap_code(r)) {
		case IMAP_CODE_UIDVALIDITY:
			if (imap_code_number(r, &v, &e) == 1)
				c->box.uidvalidity = (uint32_t)v;
			break;
		case IMAP_CODE_UIDNEXT:
			if (imap_code_number(r, &v, &e) == 1)
				c->box.uidnext = (uint32_t)v;
			break;
		case IMAP_CODE_HIGHESTMODSEQ:
			if (imap_code_number(r, &v, &e) == 1)
				c->box.highestmodseq = v;
			break;
		case IMAP_CODE_NOMODSEQ:
			c->box.nomodseq = true;
			c->box.highestmodseq = 0;
			break;
		case IMAP_CODE_READ_ONLY:
			c->box.read_only = true;
			break;
		case IMAP_CODE_PERMANENTFLAGS:
			if (imap_code_permanentflags(r, &a, &star, &e) == 1)
				c->box.permanent_keywords = star;
			break;
		default:
			break;
		}
		return;
	}
	if (r->kind != IMAP_RESP_UNTAGGED)
		return;
	switch (imap_data_kind(r)) {
	case IMAP_DATA_EXISTS:
		if (r->num != c->box.exists)
			c->changes++;
		c->box.exists = r->num;
		break;
	case IMAP_DATA_EXPUNGE:
		if (c->box.exists > 0)
			c->box.exists--;
		c->changes++;
		break;
	case IMAP_DATA_VANISHED: {
		/* RFC 7162 §3.6: without (EARLIER) each UID was a message of
		 * the mailbox, as with EXPUNGE. */
		struct uidset gone = UIDSET_INIT;
		bool earlier = false;
		if (imap_vanished_parse(r, &earlier, &gone, &e) == 1 &&
		    !earlier) {
			uint64_t n = uidset_count(&gone);
			c->box.exists = n < c->box.exists
			    ? c->box.exists - (uint32_t)n : 0;
			c->changes++;
		}
		uidset_free(&gone);
		break;
	}
	default:
		break;
	}
}

const struct imapc_mailbox *
imapc_selected(const struct imapc *c)
{
	return &c->box;
}

unsigned
imapc_take_changes(struct imapc *c)
{
	unsigned n = c->changes;
	c->changes = 0;
	return n;
}

void
imapc_box_tagged(struct imapc *c, const struct cmd *q,
    const struct imap_resp *r)
{
	bool ok = r->status && strcmp(r->status, "OK") == 0;

	if (q->select) {
		/* RFC 3501 §6.3.1: a failed SELECT leaves none selected. */
		if (!ok) {
			imapc_box_reset(c, NULL);
		} else {
			free(c->box_name);
			c->box_name = xstrdup(q->select);
			c->box.name = c->box_name;
			if (q->read_only)
				c->box.read_only = true;
		}
	} else if (ok && (strcmp(imap_cmd_verb(q->cmd), "UNSELECT") == 0 ||
			     strcmp(imap_cmd_verb(q->cmd), "CLOSE") == 0)) {
		imapc_box_reset(c, NULL);
	}
}
