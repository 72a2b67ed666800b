#include "util.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "conn.h"
#include "imapc.h"
#include "imapc_int.h"
#include "sigwait.h"

/* Waiting: over several engines (imapc_wait), and the blocking wrappers
 * for code that runs one command at a time (imapc_run and friends), with
 * the budget and interruption of conn.h; and the reads of a streamed
 * literal from inside its handler. */

int
imapc_wait(struct imapc *const *cs, size_t n, int timeout_ms, struct err *err)
{
	struct pollfd pfd[16];
	int r;

	if (n > ARRAY_LEN(pfd))
		return err_set(err, ERR_INTERNAL, "imapc_wait: %zu connections",
		    n);
	for (size_t i = 0; i < n; i++) {
		if (imapc_ready(cs[i]))
			return 1;
		pfd[i].fd = imapc_fd(cs[i]);
		pfd[i].events = imapc_events(cs[i]);
		pfd[i].revents = 0;
	}
	r = sigwait_poll(pfd, (nfds_t)n, timeout_ms);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r < 0)
		return err_sys(err, ERR_SYS, "ppoll");
	return r > 0;
}

struct run_state {
	const struct imapc_handlers *user;
	bool done;
	int rc;
	struct err err;
};

static int
run_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct run_state *s = ctx;
	return s->user && s->user->untagged
	    ? s->user->untagged(s->user->ctx, r, err) : 0;
}

static int
run_literal(void *ctx, const struct imap_resp *p, const struct imap_arg *a,
    size_t n, uint64_t size, struct err *err)
{
	struct run_state *s = ctx;
	return s->user && s->user->literal
	    ? s->user->literal(s->user->ctx, p, a, n, size, err) : 0;
}

static int
run_continuation(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct run_state *s = ctx;
	return s->user->continuation(s->user->ctx, r, err);
}

static void
run_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct run_state *s = ctx;
	s->done = true;
	s->rc = err ? -1 : 0;
	if (err)
		s->err = *err;
	if (s->user && s->user->done)
		s->user->done(s->user->ctx, tagged, err);
}

/* One wait of the blocking wrappers: at most timeout_ms (< 0: none) and
 * what the connection's budget has left (conn.h), cut short by a stop
 * request while the connection is interruptible. 0 when c may progress
 * or a signal came, -1 with err when the time is up. */
static int
drive_wait(struct imapc *c, int timeout_ms, struct err *err)
{
	int t = timeout_ms, r = 0;
	uint64_t t0;
	bool stop;

	if (conn_budget_clamp(c->conn, &t, err) < 0)
		return -1;
	t0 = now_ms();
	sigwait_block();
	stop = conn_interrupted(c->conn);
	if (!stop)
		r = imapc_wait(&c, 1, t, err);
	sigwait_unblock();
	conn_budget_spend(c->conn, now_ms() - t0);
	if (stop)
		return err_set(err, ERR_TEMP, "%s: interrupted", c->name);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (t >= 0 && now_ms() - t0 >= (uint64_t)t) {
		if (conn_budget_clamp(c->conn, &t, err) < 0)
			return -1;
		return err_set(err, ERR_TEMP, "%s: timeout (%g s without an "
		    "answer)", c->name, timeout_ms / 1000.0);
	}
	return 0; /* a signal: the caller looks at its flags */
}

/* Steps, waiting on c alone, until *done (done NULL: until nothing is in
 * flight). 0, or -1 with err when the connection failed first (with done,
 * a command that completed in the failure still counts as done). */
static int
drive(struct imapc *c, const bool *done, int timeout_ms, struct err *err)
{
	while (done ? !*done : c->head != NULL) {
		int r = imapc_step(c, err);
		if (r < 0)
			return done && *done ? 0 : -1;
		if (r > 0)
			continue;
		if (drive_wait(c, timeout_ms, err) < 0)
			return imapc_fail_all(c, err);
	}
	return 0;
}

int
imapc_run(struct imapc *c, struct imap_cmd *cmd,
    const struct imapc_handlers *h, int timeout_ms, struct err *err)
{
	struct run_state s = {h, false, 0, {0}};
	struct imapc_handlers w = {run_untagged, run_literal,
	    h && h->continuation ? run_continuation : NULL, run_done, &s};

	int rc = 0;

	imapc_submit(c, cmd, &w);
	/* The command and its whole response (conn.h): a server that
	 * trickles must not hold us, nor a lock, forever. */
	conn_budget_start(c->conn);
	if (drive(c, &s.done, timeout_ms, err) < 0 && !s.done) {
		/* Never leave it in flight: its done() points at s. */
		struct err e = *err;
		imapc_fail_all(c, &e);
		rc = -1;
	}
	conn_budget_stop(c->conn);
	if (rc == 0 && s.rc < 0)
		*err = s.err;
	return rc < 0 ? rc : s.rc;
}

int
imapc_sync(struct imapc *c, int timeout_ms, struct err *err)
{
	int rc;
	conn_budget_start(c->conn);
	rc = drive(c, NULL, timeout_ms, err);
	conn_budget_stop(c->conn);
	return rc;
}

int
imapc_drive(struct imapc *const *cs, size_t n, const bool *done,
    int timeout_ms, struct err *err)
{
	if (n > 16)
		return err_set(err, ERR_INTERNAL, "imapc_drive: %zu connections",
		    n);
	for (;;) {
		struct imapc *ws[16];
		size_t nw = 0;
		bool progress = false, stop = false;
		uint64_t t0;
		int r = 0;

		for (size_t i = 0; i < n; i++) {
			if (done ? *done : cs[i]->head == NULL)
				continue;
			if ((r = imapc_step(cs[i], err)) < 0)
				return done && *done ? 0 : -1;
			progress = progress || r > 0;
		}
		for (size_t i = 0; i < n; i++)
			if (done || cs[i]->head != NULL)
				ws[nw++] = cs[i];
		if (done ? *done : nw == 0)
			return 0;
		if (progress)
			continue;
		t0 = now_ms();
		sigwait_block();
		for (size_t i = 0; i < nw && !stop; i++)
			if (conn_interrupted(ws[i]->conn)) {
				err_set(err, ERR_TEMP, "%s: interrupted",
				    ws[i]->name);
				stop = true;
			}
		if (!stop)
			r = imapc_wait(ws, nw, timeout_ms, err);
		sigwait_unblock();
		if (stop || r < 0)
			return -1;
		if (r == 0 && timeout_ms >= 0 &&
		    now_ms() - t0 >= (uint64_t)timeout_ms)
			return err_set(err, ERR_TEMP, "%s: timeout (%g s without "
			    "an answer)", ws[0]->name, timeout_ms / 1000.0);
	}
}

void
imapc_cancel(struct imapc *c)
{
	imapc_abandon(c);
	if (c->head)
		imapc_fail_all(c, &c->fatal);
}

int
imapc_run_until(struct imapc *c, const bool *flag, int timeout_ms,
    struct err *err)
{
	int rc;
	conn_budget_start(c->conn);
	rc = drive(c, flag, timeout_ms, err);
	conn_budget_stop(c->conn);
	return rc;
}

const struct err *
imapc_failure(const struct imapc *c)
{
	return &c->fatal;
}

/* Moves what is buffered of the literal (data, len > 0) to buf. */
static ssize_t
lit_take(struct imapc *c, const char *data, size_t len, char *buf, size_t n)
{
	if (len > n)
		len = n;
	if (len > c->lit_left)
		len = (size_t)c->lit_left;
	memcpy(buf, data, len);
	conn_consume(c->conn, len);
	c->lit_left -= len;
	return (ssize_t)len;
}

ssize_t
imapc_literal_read(struct imapc *c, char *buf, size_t n, struct err *err)
{
	const char *data;
	size_t len;

	if (c->lit_left == 0)
		return 0;
	data = conn_peek(c->conn, &len);
	if (len == 0) {
		int r = conn_fill(c->conn, err);
		if (r <= 0) {
			if (r == 0)
				err_set(err, ERR_TEMP, "%s: connection closed "
				    "by the server", c->name);
			c->broken = true;
			c->fatal = *err;
			return -1;
		}
		data = conn_peek(c->conn, &len);
	}
	return lit_take(c, data, len, buf, n);
}

/* For a literal source on another engine: never waits, so that the
 * program can go on driving both connections (imapc.h). */
ssize_t
imapc_literal_read_nb(struct imapc *c, char *buf, size_t n, struct err *err)
{
	const char *data;
	size_t len;

	if (!c->in_literal_handler)
		return err_set(err, ERR_INTERNAL, "%s: literal read outside a "
		    "literal handler", c->name);
	if (c->broken) {
		*err = c->fatal;
		return -1;
	}
	if (c->lit_left == 0)
		return 0;
	data = conn_peek(c->conn, &len);
	if (len == 0) {
		int r = conn_fill_nb(c->conn, err);
		if (r == 0) {
			/* Output the conn already holds would keep the
			 * caller's poll ready for POLLOUT while nothing
			 * steps c: send what goes. */
			if (!conn_want_out(c->conn) ||
			    conn_flush_nb(c->conn, err) >= 0)
				return IMAP_SOURCE_AGAIN;
			r = -1;
		}
		if (r < 0) {
			if (r == CONN_EOF)
				err_set(err, ERR_TEMP, "%s: connection closed "
				    "by the server", c->name);
			c->broken = true;
			c->fatal = *err;
			return -1;
		}
		data = conn_peek(c->conn, &len);
	}
	return lit_take(c, data, len, buf, n);
}
