#include "util.h"

#include "backoff.h"
#include "conn.h"
#include "imap_idle.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "sigwait.h"

/* --idle: errors that no reconnection can cure. */
static bool
fatal(enum err_kind k)
{
	return k == ERR_CONFIG || k == ERR_AUTH || k == ERR_DB ||
	    k == ERR_USAGE || k == ERR_SYS || k == ERR_INTERNAL;
}

static void
nap(const struct pull_run_opts *o, unsigned ms)
{
	sigwait_nap(ms, o->stop, o->wake);
}

int
pull_idle(const struct pull_conf *pc, const struct pull_run_opts *o,
    struct err *err)
{
	struct pull p;
	struct backoff backoff = BACKOFF_INIT;
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
	while (!*o->stop) {
		bool purge_now;
		int r = 0;

		if (!p.imap) {
			if (pull_session_open(&p, err) < 0)
				goto failed;
			conn_set_keepalive(imapc_conn(p.imap));
		}
		/* Purge at start, then every 12 hours (as the reference). */
		purge_now = last_purge == 0 ||
		    now_ms() - last_purge >= 12ULL * 3600 * 1000;
		*o->wake = 0;
		if (pull_poll(&p, purge_now, err) < 0)
			goto failed;
		if (purge_now && !p.stop)
			last_purge = now_ms();
		if (p.stop && p.stop_err.kind != ERR_NONE) {
			*err = p.stop_err;
			goto failed;
		}
		backoff_reset(&backoff);
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
			if (imap_idle_start(&idle, p.imap, pull_timeout(&p),
				err) < 0)
				goto failed;
			r = imap_idle_wait(&idle, o->idle_ms, o->wake, err);
			if (r < 0 || imap_idle_done(&idle, pull_timeout(&p),
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
		pull_session_close(&p);
		if (*o->stop)
			break;
		{
			unsigned ms = backoff_next(&backoff);
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
