#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "pull_state.h"

/* The run: the parts of a pull (pull_p.h) put together, one poll, and
 * its outcome recorded for --status. */

/* Waits this long without a byte from the server (and the exchange's
 * budget, conn.h). */
int
pull_timeout(const struct pull *p)
{
	return p->o->timeout_ms > 0 ? p->o->timeout_ms : -1;
}

int
pull_exec(struct pull *p, struct imap_cmd *cmd,
    int (*untagged)(void *, const struct imap_resp *, struct err *),
    int (*literal)(void *, const struct imap_resp *, const struct imap_arg *,
	size_t, uint64_t, struct err *),
    struct err *err)
{
	struct imapc_handlers h = {untagged, literal, NULL, NULL, p};
	return imapc_run(p->imap, cmd, &h, pull_timeout(p), err);
}

void
pull_outcome_done(void *ctx, const struct imap_resp *tagged,
    const struct err *err)
{
	struct pull_outcome *o = ctx;
	(void)tagged;
	if (err && !o->failed) {
		o->failed = true;
		o->err = *err;
	}
}

void
pull_uidset_of(struct uidset *s, const uint32_t *u, size_t n)
{
	uidset_clear(s);
	for (size_t i = 0; i < n; i++)
		uidset_add(s, u[i], u[i]);
}

int
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

void
pull_close(struct pull *p)
{
	if (p->dlv)
		deliver_free(&p->dlv);
	pull_session_close(p);
	pull_state_close(&p->st);
	pull_fetch_clear(p);
	uidset_free(&p->search);
	uidset_free(&p->journaled);
	uidset_free(&p->skipped);
}

int
pull_poll(struct pull *p, bool purge_now, struct err *err)
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
	if (imapc_usable(p->imap) && pull_store_seen(p, err) < 0)
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
	if (purge_now && !p->stop && pull_purge(p, p->uidnext, err) < 0)
		return -1;
	if (p->ndelivered > 0 || p->nrejected > 0)
		plog_info("delivered %u message(s), %llu bytes, in %.1f s%s",
		    p->ndelivered, (unsigned long long)p->bytes,
		    (double)(now_ms() - t0) / 1000,
		    p->nrejected ? " (some rejected)" : "");
	return 0;
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

	if (pull_open(&p, pc, o, err) < 0 || pull_session_open(&p, err) < 0 ||
	    pull_poll(&p, true, err) < 0)
		goto out;
	if (p.stop && p.stop_err.kind != ERR_NONE && !imapc_usable(p.imap)) {
		/* The fetch was cut short: a short session marks what was
		 * delivered \Seen now rather than at the next run. */
		struct err e;
		pull_session_close(&p);
		if (pull_session_open(&p, &e) < 0 ||
		    pull_store_seen(&p, &e) < 0)
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
		    "on the server, left unseen)", p.nrejected,
		    PULL_REJECTED_KEYWORD);
		goto out;
	}
	rc = 0;
out:
	if (p.st)
		record_outcome(p.st, rc < 0 ? err : NULL);
	pull_close(&p);
	return rc;
}
