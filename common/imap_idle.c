#include "util.h"

#include <errno.h>
#include <string.h>

#include "imap_cmd.h"
#include "imap_idle.h"
#include "imapc.h"
#include "sigwait.h"

static int
idle_continue(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct imap_idle *idle = ctx;
	(void)r;
	(void)err;
	idle->accepted = true;
	idle->answered = true;
	return 0;
}

static void
idle_done_cb(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct imap_idle *idle = ctx;

	idle->ended = true;
	idle->answered = true;
	if (!err)
		return;
	if (!tagged)
		idle->lost = true, idle->err = *err;
	else if (!idle->accepted)
		err_set(&idle->err, ERR_REFUSED, "%s: IDLE refused: %s %s",
		    imapc_name(idle->c), tagged->status ? tagged->status : "?",
		    tagged->text);
	else
		err_set(&idle->err, ERR_PROTO, "%s: IDLE ended with %s %s",
		    imapc_name(idle->c), tagged->status ? tagged->status : "?",
		    tagged->text);
}

int
imap_idle_start(struct imap_idle *idle, struct imapc *c, int timeout_ms,
    struct err *err)
{
	struct imapc_handlers h = {NULL, NULL, idle_continue, idle_done_cb,
	    idle};

	memset(idle, 0, sizeof(*idle));
	idle->c = c;
	if (!imapc_capable(c, "IDLE"))
		return err_set(err, ERR_REFUSED,
		    "%s: the server does not support IDLE (RFC 2177)",
		    imapc_name(c));
	/* Changes reported so far were the caller's to see; from here on
	 * they are news. Not after the "+": what follows it in the same
	 * read (an EXISTS the server sends as the IDLE begins) would be
	 * lost, and the wait would sleep through a new message. */
	imapc_take_changes(c);
	imapc_submit(c, imap_cmd_new("IDLE"), &h);
	/* Until the "+", or the tagged reply that refuses it (which ends
	 * the run too: nothing is left in flight). */
	if (imapc_run_until(c, &idle->answered, timeout_ms, err) < 0 &&
	    !idle->ended)
		return -1;
	/* Accepted and ended in the same read: imap_idle_wait() returns
	 * at once and imap_idle_done() says how it ended. */
	if (idle->ended && !idle->accepted) {
		if (idle->err.kind == ERR_NONE)
			err_set(&idle->err, ERR_PROTO, "%s: IDLE ended at once",
			    imapc_name(c));
		*err = idle->err;
		return -1;
	}
	return 0;
}

int
imap_idle_wait(struct imap_idle *idle, int timeout_ms,
    const volatile sig_atomic_t *wake, struct err *err)
{
	struct imapc *c = idle->c;
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		uint64_t now;
		int r;

		if (*wake)
			return 0;
		r = imapc_step(c, err);
		if (r < 0)
			return -1;
		if (!imapc_usable(c)) {
			/* BYE: the server is going away. The IDLE gets its
			 * done() now, while idle is sure to exist. */
			struct err e;
			*err = *imapc_failure(c);
			imapc_abandon(c);
			imapc_step(c, &e);
			return -1;
		}
		if (imapc_take_changes(c) > 0)
			return 1;
		/* Some servers end a long IDLE themselves. */
		if (idle->ended) {
			if (!idle->lost)
				return 0;
			*err = idle->err;
			return -1;
		}
		if (r > 0)
			continue;
		now = now_ms();
		if (now >= deadline)
			return 0;
		/* *wake tested again with the signals blocked: one that came
		 * since the test above is pending and ends the wait at once
		 * (EINTR), see sigwait.h. */
		sigwait_block();
		r = 0;
		if (!*wake) {
			sigwait_test_hook();
			r = imapc_wait(&c, 1, (int)(deadline - now), err);
		}
		sigwait_unblock();
		if (r < 0)
			return -1;
	}
}

int
imap_idle_done(struct imap_idle *idle, int timeout_ms, struct err *err)
{
	/* Unless the server ended it (then with OK, NO or BAD: said
	 * below), or the connection. */
	if (!idle->ended) {
		imapc_send_line(idle->c, "DONE", false);
		if (imapc_run_until(idle->c, &idle->ended, timeout_ms, err) < 0
		    && !idle->ended)
			return -1;
	}
	if (idle->err.kind != ERR_NONE) {
		*err = idle->err;
		return -1;
	}
	return 0;
}
