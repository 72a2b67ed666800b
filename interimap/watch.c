#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ilog.h"
#include "imap_data.h"
#include "imap_idle.h"
#include "imap_verbs.h"
#include "log.h"
#include "sigwait.h"
#include "watch.h"

/* Which mailbox of the working list a side's wire name is (INBOX in any
 * case), or -1. */
static ssize_t
find_wire(const struct watch *w, int k, const char *name, size_t len)
{
	bool inbox = len == 5 && strncasecmp(name, "INBOX", 5) == 0;

	for (size_t i = 0; i < w->nm; i++) {
		const char *m = w->mv[i].wire[k];
		if (m == NULL)
			continue;
		if (inbox ? strcmp(m, "INBOX") == 0
			  : strlen(m) == len && memcmp(m, name, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static void
mark(struct watch *w, ssize_t i, bool changed)
{
	if (i < 0)
		return;
	if (changed)
		w->changed[i] = true;
	else
		w->notified[i] = true;
	w->any = true;
}

/* A STATUS: what it says replaces what was known, item by item (a
 * notification may leave UIDVALIDITY out). */
static void
on_status(struct watch *w, int k, const struct imap_resp *r)
{
	struct imap_status st;
	struct mlist_status *ms;
	struct err err;
	ssize_t i;

	if (imap_status_parse(r, &st, &err) <= 0)
		return;
	if ((i = find_wire(w, k, st.mailbox, st.mailbox_len)) < 0)
		return;
	ms = &w->mv[i].st[k];
	if (!ms->have)
		ms->uidvalidity = ms->uidnext = 0, ms->highestmodseq = 0;
	if (st.have & IMAP_STATUS_UIDVALIDITY)
		ms->uidvalidity = st.uidvalidity;
	if (st.have & IMAP_STATUS_UIDNEXT)
		ms->uidnext = st.uidnext;
	if (st.have & IMAP_STATUS_HIGHESTMODSEQ)
		ms->highestmodseq = st.highestmodseq;
	ms->have = ms->uidvalidity != 0 && ms->uidnext != 0 &&
	    ms->highestmodseq != 0;
	mark(w, i, false);
}

static void
on_event(struct watch *w, int k, const struct imap_resp *r)
{
	const struct imapc_mailbox *sel;

	if (w->fail.e.kind != ERR_NONE || r->kind != IMAP_RESP_UNTAGGED)
		return;
	if (r->status) {
		enum imap_code c = imap_code(r);
		if (c == IMAP_CODE_NOTIFICATIONOVERFLOW ||
		    c == IMAP_CODE_BADEVENT)
			ierr_fail(&w->fail, w->s[k]->name, "[%s%s%s] %s",
			    r->code, r->code_raw && *r->code_raw ? " " : "",
			    r->code_raw ? r->code_raw : "",
			    r->text ? r->text : "");
		return;
	}
	switch (imap_data_kind(r)) {
	case IMAP_DATA_STATUS:
		on_status(w, k, r);
		break;
	case IMAP_DATA_LIST:
		w->relist = true;
		break;
	case IMAP_DATA_EXISTS:
	case IMAP_DATA_EXPUNGE:
	case IMAP_DATA_VANISHED:
	case IMAP_DATA_FETCH:
		sel = imapc_selected(w->s[k]->imap);
		if (sel->name != NULL)
			mark(w, find_wire(w, k, sel->name, strlen(sel->name)),
			    true);
		break;
	default:
		break;
	}
}

static void
on_local(void *ctx, const struct imap_resp *r)
{
	on_event(ctx, 0, r);
}

static void
on_remote(void *ctx, const struct imap_resp *r)
{
	on_event(ctx, 1, r);
}

void
watch_init(struct watch *w, struct side *s[2], volatile sig_atomic_t *stop,
    volatile sig_atomic_t *wake)
{
	memset(w, 0, sizeof(*w));
	w->s[0] = s[0];
	w->s[1] = s[1];
	w->stop = stop;
	w->wake = wake;
	imapc_set_events(s[0]->imap, on_local, w);
	imapc_set_events(s[1]->imap, on_remote, w);
}

void
watch_free(struct watch *w)
{
	for (int k = 0; k < 2; k++)
		if (w->s[k] && w->s[k]->imap)
			imapc_set_events(w->s[k]->imap, NULL, NULL);
	free(w->notified);
	free(w->changed);
	memset(w, 0, sizeof(*w));
}

void
watch_set_mailboxes(struct watch *w, struct mlist_mbx *mv, size_t nm)
{
	free(w->notified);
	free(w->changed);
	w->mv = mv;
	w->nm = nm;
	w->notified = xcalloc(nm + 1, sizeof(*w->notified));
	w->changed = xcalloc(nm + 1, sizeof(*w->changed));
	w->any = false;
	w->relist = false;
}

void
watch_clear(struct watch *w, size_t i)
{
	w->notified[i] = w->changed[i] = false;
	w->any = false;
	for (size_t j = 0; j < w->nm && !w->any; j++)
		w->any = w->notified[j] || w->changed[j];
}

/* The responses of a command the watch sent went through the events;
 * an event's error is the command's. */
static int
run(struct watch *w, int k, struct imap_cmd *cmd, const char *what,
    struct ierr *ie)
{
	int rc = side_run(w->s[k], cmd, NULL, ie);

	if (rc < 0)
		return -1;
	if (rc > 0)
		return ierr_fail(ie, w->s[k]->name, "%s: %s", what,
		    w->s[k]->refusal);
	if (w->fail.e.kind != ERR_NONE) {
		*ie = w->fail;
		return -1;
	}
	return 0;
}

int
watch_notify(struct watch *w, struct ierr *ie)
{
	const unsigned ev = IMAP_VERB_EV_MESSAGE_NEW |
	    IMAP_VERB_EV_MESSAGE_EXPUNGE | IMAP_VERB_EV_FLAG_CHANGE;
	const char **names = xcalloc(w->nm + 1, sizeof(*names));
	int rc = 0;

	for (int k = 0; k < 2 && rc == 0; k++) {
		struct imap_verb_notify_group g[3];
		size_t n = 0;
		struct imap_cmd *cmd;
		struct err err;

		if (!imapc_capable(w->s[k]->imap, "NOTIFY")) {
			rc = ierr_fail(ie, w->s[k]->name, "Server did not "
			    "advertise NOTIFY (RFC 5465) capability.");
			break;
		}
		memset(g, 0, sizeof(g));
		for (size_t i = 0; i < w->nm; i++)
			names[i] = w->mv[i].wire[k];
		/* The reference sends "MAILBOXES ()" for an empty list,
		 * which RFC 5465's grammar does not allow. */
		if (w->nm > 0) {
			g[n].filter = IMAP_VERB_NOTIFY_MAILBOXES;
			g[n].mailboxes = names;
			g[n].nmailboxes = w->nm;
			g[n++].events = ev;
		}
		g[n].filter = IMAP_VERB_NOTIFY_SELECTED;
		g[n++].events = ev;
		/* First with STATUS and without the personal group, so that
		 * the STATUS replies cover the working list only. */
		for (int pass = 0; pass < 2 && rc == 0; pass++) {
			if (pass == 1) {
				g[n].filter = IMAP_VERB_NOTIFY_PERSONAL;
				g[n++].events = IMAP_VERB_EV_MAILBOX_NAME |
				    IMAP_VERB_EV_SUBSCRIPTION_CHANGE;
			}
			if (imap_verb_notify_set(pass == 0, g, n, &cmd,
			    &err) < 0)
				rc = ierr_wrap(ie, w->s[k]->name, &err);
			else
				rc = run(w, k, cmd, "NOTIFY", ie);
		}
	}
	free(names);
	return rc;
}

int
watch_noop(struct watch *w, struct ierr *ie)
{
	for (int k = 0; k < 2; k++)
		if (run(w, k, imap_verb_noop(), "NOOP", ie) < 0)
			return -1;
	return 0;
}

int
watch_release(struct watch *w, struct ierr *ie)
{
	bool selected = false, unselect = true;

	for (int k = 0; k < 2; k++) {
		selected |= imapc_selected(w->s[k]->imap)->name != NULL;
		unselect &= imapc_capable(w->s[k]->imap, "UNSELECT");
	}
	if (!selected)
		return 0;
	if (!unselect)
		return watch_noop(w, ie);
	for (int k = 0; k < 2; k++) {
		if (run(w, k, imap_verb_unselect(), "UNSELECT", ie) < 0)
			return -1;
		/* No mailbox in the prefix any more, as the reference's. */
		imapc_set_log_prefix(w->s[k]->imap,
		    ilog_prefix(w->s[k]->name, NULL));
	}
	return 0;
}

/* Everything a side has to say now, through the events. */
static int
drain(struct watch *w, int k, struct ierr *ie)
{
	struct imapc *c = w->s[k]->imap;
	struct err err;
	int r;

	/* Bounded by what arrived: a step that reads nothing returns 0. */
	while ((r = imapc_step(c, &err)) > 0)
		;
	if (r < 0)
		return ierr_wrap(ie, w->s[k]->name, &err);
	if (w->fail.e.kind != ERR_NONE) {
		*ie = w->fail;
		return -1;
	}
	return 0;
}

int
watch_wait(struct watch *w, uint64_t ms, bool until_marked, struct ierr *ie)
{
	struct imapc *cs[2] = { w->s[0]->imap, w->s[1]->imap };
	uint64_t deadline = now_ms() + ms;

	for (;;) {
		uint64_t now;
		struct err err;
		int r = 0;

		for (int k = 0; k < 2; k++)
			if (drain(w, k, ie) < 0)
				return -1;
		if ((until_marked && (w->any || w->relist)) ||
		    (w->wake && *w->wake))
			return 1;
		now = now_ms();
		if (*w->stop || now >= deadline)
			return 0;
		/* The flags tested again with the signals blocked (sigwait.h):
		 * a signal from now on ends the wait at once. */
		sigwait_block();
		if (!*w->stop && !(w->wake && *w->wake)) {
			uint64_t left = deadline - now;
			sigwait_test_hook();
			r = imapc_wait(cs, 2, left > INT32_MAX ? INT32_MAX
			    : (int)left, &err);
		}
		sigwait_unblock();
		if (r < 0)
			return ierr_wrap(ie, NULL, &err);
	}
}

/* The mailbox watched with IDLE between rounds: INBOX, where new mail
 * lands, when both sides have it in the list; else -1. */
static ssize_t
idle_mailbox(const struct watch *w)
{
	for (size_t i = 0; i < w->nm; i++)
		if (w->mv[i].wire[0] && w->mv[i].wire[1] &&
		    strcmp(w->mv[i].wire[0], "INBOX") == 0)
			return (ssize_t)i;
	return -1;
}

bool
watch_can_idle(const struct watch *w)
{
	return idle_mailbox(w) >= 0 && imapc_capable(w->s[0]->imap, "IDLE") &&
	    imapc_capable(w->s[1]->imap, "IDLE");
}

/* EXAMINE's answers are its own: an EXISTS there is no news. */
static int
take_all(void *ctx, const struct imap_resp *r, struct err *err)
{
	(void)ctx;
	(void)r;
	(void)err;
	return 1;
}

/* Side k has mailbox i selected (EXAMINE when not). */
static int
examine(struct watch *w, int k, size_t i, struct ierr *ie)
{
	struct imapc *c = w->s[k]->imap;
	const char *name = w->mv[i].wire[k];
	const char *sel = imapc_selected(c)->name;
	struct imapc_handlers h = { take_all, NULL, NULL, NULL, NULL };
	struct imap_cmd *cmd;
	struct err err;

	if (sel != NULL && strcmp(sel, name) == 0)
		return 0;
	if (imap_verb_examine(name, NULL, &cmd, &err) < 0)
		return ierr_wrap(ie, w->s[k]->name, &err);
	imapc_submit_select(c, cmd, name, &h);
	if (imapc_sync(c, SIDE_TIMEOUT_MS, &err) < 0 ||
	    imapc_selected(c)->name == NULL) {
		if (err.kind == ERR_NONE)
			err_set(&err, ERR_TEMP, "EXAMINE %s failed", name);
		return ierr_wrap(ie, w->s[k]->name, &err);
	}
	imapc_set_log_prefix(c, ilog_prefix(w->s[k]->name, name));
	return 0;
}

int
watch_idle(struct watch *w, uint64_t ms, struct ierr *ie)
{
	ssize_t i = idle_mailbox(w);
	struct imap_idle idle[2];
	struct err err;
	int rc = 0, started = 0;

	memset(idle, 0, sizeof(idle));
	if (i < 0)
		return 0;
	for (int k = 0; k < 2; k++)
		if (examine(w, k, (size_t)i, ie) < 0)
			return -1;
	/* A change seen since the last sync of INBOX left its mark: the
	 * wait returns at once. */
	for (; started < 2; started++)
		if (imap_idle_start(&idle[started], w->s[started]->imap,
		    SIDE_TIMEOUT_MS, &err) < 0) {
			rc = ierr_wrap(ie, w->s[started]->name, &err);
			break;
		}
	if (rc == 0)
		rc = watch_wait(w, ms, true, ie);
	for (int k = 0; k < started; k++) {
		/* A stop request ends the run at once, an error with the
		 * connections: no DONE; the IDLE ends here, while its
		 * handlers' idle[k] exists. */
		if (*w->stop || rc < 0)
			imapc_cancel(w->s[k]->imap);
		else if (imap_idle_done(&idle[k], SIDE_TIMEOUT_MS, &err) < 0 &&
		    rc >= 0)
			rc = ierr_wrap(ie, w->s[k]->name, &err);
	}
	if (rc < 0)
		return -1;
	return w->any || w->relist ? 1 : 0;
}
