#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "imap_data.h"
#include "imapc.h"
#include "log.h"
#include "sigwait.h"
#include "uidlist.h"

#include "imapc_int.h"

struct imapc *
imapc_new(struct conn *conn, const char *name)
{
	struct imapc *c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	c->name = xstrdup(name);
	c->parser = imap_parse_new(NULL);
	c->lit_mode = IMAP_LIT_SYNC;
	imapc_trace_init(c);
	return c;
}

void
imapc_configure(struct imapc *c, const struct imapc_opts *o)
{
	if (o == NULL)
		return;
	imapc_set_log_prefix(c, o->log_prefix);
	c->trace = o->trace;
	c->ref_tags = o->ref_tags;
}

void
imapc_set_events(struct imapc *c, imapc_event_fn *fn, void *ctx)
{
	c->ev = fn;
	c->ev_ctx = ctx;
}

void
imapc_set_literal_mode(struct imapc *c, enum imap_lit_mode mode)
{
	c->lit_mode = mode;
	c->lit_mode_set = true;
}

bool
imapc_capable(const struct imapc *c, const char *cap)
{
	return imap_caps_has(&c->caps, cap);
}

unsigned
imapc_caps_gen(const struct imapc *c)
{
	return c->caps_gen;
}

void
imapc_caps_forget(struct imapc *c)
{
	imap_caps_free(&c->caps);
}

/* A CAPABILITY response or response code replaces the list; the literal
 * mode follows it unless the caller chose one. */
static void
caps_update(struct imapc *c, const struct imap_resp *r)
{
	struct imap_atoms a;
	struct err e;
	int k = imap_capability_parse(r, &a, &e);

	if (k == 0 && imap_code(r) == IMAP_CODE_CAPABILITY)
		k = imap_code_atoms(r, &a, &e);
	if (k <= 0)
		return;
	imap_caps_set(&c->caps, a.v, a.n);
	c->caps_gen++;
	if (!c->lit_mode_set)
		c->lit_mode = imapc_capable(c, "LITERAL+") ? IMAP_LIT_PLUS
		    : imapc_capable(c, "LITERAL-") ? IMAP_LIT_MINUS
						   : IMAP_LIT_SYNC;
}

unsigned
imapc_submit_select(struct imapc *c, struct imap_cmd *cmd,
    const char *mailbox, const struct imapc_handlers *h)
{
	unsigned num = imapc_submit(c, cmd, h);
	c->tail->select = xstrdup(mailbox);
	c->tail->read_only = strcmp(imap_cmd_verb(cmd), "EXAMINE") == 0;
	return num;
}

unsigned
imapc_submit(struct imapc *c, struct imap_cmd *cmd,
    const struct imapc_handlers *h)
{
	struct cmd *q = xcalloc(1, sizeof(*q));
	if (c->ref_tags) {
		q->num = c->tag_seq++;
		snprintf(q->tag, sizeof(q->tag), "%06u", q->num);
	} else {
		q->num = ++c->tag_seq;
		snprintf(q->tag, sizeof(q->tag), "%u", q->num);
	}
	q->cmd = cmd;
	/* After COMPRESS and STARTTLS the encoding changes; during IDLE
	 * and AUTHENTICATE the server reads only their continuation lines
	 * (imapc_send_line(), which still go out). */
	q->barrier = strcmp(imap_cmd_verb(cmd), "COMPRESS") == 0 ||
	    strcmp(imap_cmd_verb(cmd), "STARTTLS") == 0 ||
	    strcmp(imap_cmd_verb(cmd), "IDLE") == 0 ||
	    strcmp(imap_cmd_verb(cmd), "AUTHENTICATE") == 0;
	if (h)
		q->h = *h;
	if (c->submit_prefix)
		q->trace_prefix = xstrdup(c->submit_prefix);
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	return q->num;
}

void
imapc_send_line(struct imapc *c, const char *text, bool secret)
{
	struct line *l = xcalloc(1, sizeof(*l));
	imapc_trace_queued(c, text, secret);
	l->text = xasprintf("%s\r\n", text);
	l->secret = secret;
	if (c->lines_tail)
		c->lines_tail->next = l;
	else
		c->lines = l;
	c->lines_tail = l;
}

size_t
imapc_in_flight(const struct imapc *c)
{
	size_t n = 0;
	for (const struct cmd *q = c->head; q; q = q->next)
		n++;
	return n;
}

bool
imapc_usable(const struct imapc *c)
{
	return !c->broken && !c->bye;
}

int
imapc_fd(const struct imapc *c)
{
	return conn_fd(c->conn);
}

/* Whether produce() would queue bytes now: mirrors its order. Asking
 * POLLOUT when it would not (a source that has no data, a "+" still to
 * come, no greeting yet) would make every wait return at once. */
static bool
has_output(const struct imapc *c)
{
	const struct cmd *w = c->writing;

	if (c->out_off < c->out_len)
		return true;
	/* Before the greeting, or while c's literal handler runs (nothing
	 * steps c then), nothing is produced. */
	if (!c->greeted || c->in_literal_handler)
		return false;
	if (w && w->state == CMD_WRITING)
		return !w->src_blocked; /* lines wait behind it */
	if (c->lines)
		return true;
	if (w && w->state == CMD_WAIT)
		return false;
	for (const struct cmd *q = c->head; q; q = q->next) {
		if (q->state == CMD_WAIT)
			return false; /* nothing may overtake it */
		if (q->state == CMD_QUEUED || q->state == CMD_WRITING)
			return true;
	}
	return false;
}

short
imapc_events(const struct imapc *c)
{
	return conn_want(c->conn) | (has_output(c) ? POLLOUT : 0);
}

bool
imapc_ready(const struct imapc *c)
{
	return conn_has_buffered_input(c->conn);
}

/* Removes q from the queue, calls its done(), frees it. */
static void
finish(struct imapc *c, struct cmd *q, const struct imap_resp *tagged,
    const struct err *err)
{
	struct cmd **pp = &c->head, *prev = NULL;
	while (*pp && *pp != q) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp)
		*pp = q->next;
	if (c->tail == q)
		c->tail = prev;
	if (c->writing == q)
		c->writing = NULL;
	if (q->h.done)
		q->h.done(q->h.ctx, tagged, err);
	imap_cmd_free(&q->cmd);
	free(q->select);
	free(q->trace_prefix);
	free(q);
}

/* The connection is unusable: every command in flight fails with err. */
int
imapc_fail_all(struct imapc *c, const struct err *err)
{
	if (!c->broken) {
		c->broken = true;
		c->fatal = *err;
	}
	while (c->head)
		finish(c, c->head, NULL, c->head->failed ? &c->head->err
							  : &c->fatal);
	return -1;
}

static int
protocol_error(struct imapc *c, struct err *err, const char *what)
{
	err_set(err, ERR_PROTO, "%s: %s", c->name, what);
	return imapc_fail_all(c, err);
}

/* --- output --------------------------------------------------------- */

/* Moves produced bytes to conn; false when conn takes no more now. */
static int
push_out(struct imapc *c, struct err *err)
{
	while (c->out_off < c->out_len) {
		ssize_t k = conn_write_nb(c->conn, c->out + c->out_off,
		    c->out_len - c->out_off, err);
		if (k < 0)
			return -1;
		if (k == 0)
			return 0;
		c->out_off += (size_t)k;
	}
	c->out_off = c->out_len = 0;
	return 1;
}

static struct cmd *
next_to_write(struct imapc *c)
{
	for (struct cmd *q = c->head; q; q = q->next) {
		if (q->state == CMD_WAIT)
			return NULL; /* nothing may overtake it */
		if (q->state == CMD_QUEUED || q->state == CMD_WRITING)
			return q;
		if (q->barrier)
			return NULL; /* sent: the rest waits for its reply */
	}
	return NULL;
}

/* Produces and queues as much output as conn takes. Returns 1 when
 * something was queued, 0 when not, -1 on a fatal error. */
static int
produce(struct imapc *c, struct err *err)
{
	int progress = 0;

	/* Nothing before the greeting: it tells how to send literals. */
	if (!c->greeted)
		return 0;

	for (;;) {
		struct cmd *q;
		int r = push_out(c, err);
		if (r < 0)
			return imapc_fail_all(c, err);
		if (r == 0)
			return progress;
		/* Answers to continuations go first: the server waits. */
		if (c->lines && (!c->writing || c->writing->state != CMD_WRITING)) {
			struct line *l = c->lines;
			size_t n = strlen(l->text);
			c->lines = l->next;
			if (!c->lines)
				c->lines_tail = NULL;
			if (n > sizeof(c->out))
				n = sizeof(c->out); /* a line is short */
			memcpy(c->out, l->text, n);
			c->out_len = n;
			imapc_trace_sent(c, c->out, n, l->secret);
			explicit_zero(l->text, strlen(l->text));
			free(l->text);
			free(l);
			progress = 1;
			continue;
		}
		if (!(q = c->writing) || q->state == CMD_SENT) {
			if (!(q = next_to_write(c)))
				return progress;
			c->writing = q;
		}
		if (q->state == CMD_WAIT)
			return progress;
		if (q->state == CMD_QUEUED) {
			imapc_trace_command(c, q);
			imap_cmd_writer_init(&c->w, q->cmd, c->lit_mode);
			c->out_len = (size_t)snprintf(c->out, sizeof(c->out), "%s ",
			    q->tag);
			imapc_trace_sent(c, c->out, c->out_len, false);
			q->state = CMD_WRITING;
			progress = 1;
			continue;
		}
		{
			size_t len = 0;
			enum imap_cmd_wr st = imap_cmd_writer_next(&c->w, c->out,
			    sizeof(c->out) - 2, &len, err);
			c->out_len = len;
			/* Retried by every step; until then no POLLOUT. */
			q->src_blocked = st == IMAP_CMD_WR_BLOCKED && len == 0;
			switch (st) {
			case IMAP_CMD_WR_ERROR:
				err_prefix(err, "%s", c->name);
				return imapc_fail_all(c, err);
			case IMAP_CMD_WR_MORE:
				break;
			case IMAP_CMD_WR_BLOCKED:
				if (len == 0)
					return progress;
				break;
			case IMAP_CMD_WR_WAIT:
				q->state = CMD_WAIT;
				break;
			case IMAP_CMD_WR_DONE:
				memcpy(c->out + len, "\r\n", 2);
				c->out_len += 2;
				q->state = CMD_SENT;
				break;
			}
			imapc_trace_sent(c, c->out, c->out_len, false);
			if (len > 0 || st == IMAP_CMD_WR_DONE)
				progress = 1;
		}
	}
}

/* --- input ---------------------------------------------------------- */

static struct cmd *
oldest_talking(struct imapc *c)
{
	for (struct cmd *q = c->head; q; q = q->next)
		if (q->state == CMD_SENT || q->state == CMD_WAIT)
			return q;
	return NULL;
}

/* "NAME: VERB [in mailbox "BOX"] failed: NO [CODE] text": the command by
 * its verb only, never its arguments (a UID set can be long, LOGIN's are
 * secret), but the mailbox it selects or works in. */
static int
refusal(struct imapc *c, const struct cmd *q, const struct imap_resp *r,
    struct err *err)
{
	char what[300];
	const char *verb = imap_cmd_verb(q->cmd);
	char *full = NULL;

	/* ENABLE's and COMPRESS's arguments are ours and short: they say
	 * what was refused. */
	if (strcmp(verb, "ENABLE") == 0 || strcmp(verb, "COMPRESS") == 0)
		verb = full = imap_cmd_trace(q->cmd, false);
	if (q->select)
		snprintf(what, sizeof(what), "%s \"%s\"", verb, q->select);
	else if (c->box.name)
		snprintf(what, sizeof(what), "%s in mailbox \"%s\"", verb,
		    c->box.name);
	else
		snprintf(what, sizeof(what), "%.200s", verb);
	free(full);
	return err_set(err, ERR_REFUSED, "%s: %s failed: %s %s%s%s%s", c->name,
	    what, r->status ? r->status : "?", r->code ? "[" : "",
	    r->code ? r->code : "", r->code ? "] " : "", r->text);
}

static int
on_tagged(struct imapc *c, const struct imap_resp *r, struct err *err)
{
	struct cmd *q;
	struct err e;

	for (q = c->head; q; q = q->next)
		if (strcmp(q->tag, r->tag) == 0)
			break;
	if (!q || q->state == CMD_QUEUED)
		return protocol_error(c, err, "tagged reply to no command");
	if (q->state == CMD_WRITING) {
		/* The rest of its bytes would read as a new command. Dovecot
		 * refuses an APPEND to a missing mailbox so, at its first
		 * non-synchronizing literal: keep the server's words. */
		if (!r->status || strcmp(r->status, "OK") == 0)
			return protocol_error(c, err,
			    "tagged reply to a command not sent yet");
		refusal(c, q, r, err);
		return imapc_fail_all(c, err);
	}
	imapc_box_tagged(c, q, r);
	/* Refused instead of "+": its literal never goes out. */
	if (q->state == CMD_WAIT)
		imap_trace_wire_literal_dropped(&c->tr_out);
	if (q->failed) {
		finish(c, q, r, &q->err);
		return 0;
	}
	if (r->status && strcmp(r->status, "OK") == 0) {
		/* RFC 4978 §3: the server compresses from right after its
		 * OK; so do we, and the barrier kept the rest unsent. */
		if (strcmp(imap_cmd_verb(q->cmd), "COMPRESS") == 0 &&
		    conn_start_deflate(c->conn, err) < 0) {
			err_prefix(err, "%s", c->name);
			return imapc_fail_all(c, err);
		}
		finish(c, q, r, NULL);
		return 0;
	}
	/* A refusal instead of "+": the literal is not sent. */
	refusal(c, q, r, &e);
	finish(c, q, r, &e);
	return 0;
}

static int
on_continuation(struct imapc *c, const struct imap_resp *r, struct err *err)
{
	struct cmd *q = oldest_talking(c);

	for (struct cmd *w = c->head; w; w = w->next)
		if (w->state == CMD_WAIT) {
			w->state = CMD_WRITING;
			return 0;
		}
	if (q && q->h.continuation && !q->failed &&
	    q->h.continuation(q->h.ctx, r, &q->err) < 0)
		q->failed = true;
	else if (!q || !q->h.continuation)
		return protocol_error(c, err,
		    "continuation request nobody asked for");
	return 0;
}

static void
on_untagged(struct imapc *c, const struct imap_resp *r)
{
	c->greeted = true;
	if (r->status && strcmp(r->status, "BYE") == 0) {
		c->bye = true;
		err_set(&c->fatal, ERR_TEMP, "%s: server closed the connection: "
		    "%s", c->name, r->text);
	}
	for (struct cmd *q = c->head; q; q = q->next) {
		int k;
		if (q->failed && q->took[0] && r->name &&
		    strcmp(q->took, r->name) == 0)
			return;
		if (q->failed || !q->h.untagged || q->state == CMD_QUEUED)
			continue;
		k = q->h.untagged(q->h.ctx, r, &q->err);
		if (k < 0)
			q->failed = true;
		if (k != 0) {
			if (r->name)
				snprintf(q->took, sizeof(q->took), "%s", r->name);
			return;
		}
	}
	if (c->ev)
		c->ev(c->ev_ctx, r);
}

/* A streamed literal starts: offered to the commands; what nobody reads
 * is skipped as it arrives. */
static void
on_literal(struct imapc *c)
{
	size_t count;
	const struct imap_arg *cont = imap_parse_literal_container(c->parser,
	    &count);
	const struct imap_resp *partial = imap_parse_partial(c->parser);

	c->lit_left = imap_parse_literal_size(c->parser);
	c->lit_open = true;
	for (struct cmd *q = c->head; q; q = q->next) {
		int k;
		/* More of what a failed command took is its own: skipped
		 * unread, as on_untagged() drops the rest of it. */
		if (q->failed && q->took[0] && partial->name &&
		    strcmp(q->took, partial->name) == 0)
			return;
		if (q->failed || !q->h.literal || q->state == CMD_QUEUED)
			continue;
		c->in_literal_handler = true;
		k = q->h.literal(q->h.ctx, partial, cont, count, c->lit_left,
		    &q->err);
		c->in_literal_handler = false;
		if (k < 0)
			q->failed = true;
		if (k != 0) {
			/* The rest of that response is the command's too. */
			if (partial->name)
				snprintf(q->took, sizeof(q->took), "%s",
				    partial->name);
			return;
		}
	}
}

/* Consumes buffered input: the rest of a literal, then responses. */
static int
consume(struct imapc *c, struct err *err)
{
	for (;;) {
		size_t len, used;
		const char *data = conn_peek(c->conn, &len);
		enum imap_parse_status st;

		if (c->broken) {
			/* A literal handler's read lost the connection. */
			*err = c->fatal;
			return imapc_fail_all(c, &c->fatal);
		}
		if (c->lit_left > 0) {
			size_t k = len < c->lit_left ? len : (size_t)c->lit_left;
			if (k == 0)
				return 0;
			conn_consume(c->conn, k);
			c->lit_left -= k;
			continue;
		}
		if (c->lit_open) {
			imap_parse_literal_done(c->parser);
			imap_trace_wire_literal_read(&c->tr_in);
			c->lit_open = false;
		}
		if (len == 0)
			return 0;
		st = imap_parse_feed(c->parser, data, len, &used, err);
		if (st != IMAP_PARSE_ERROR)
			imapc_trace_received(c, data, used);
		conn_consume(c->conn, used);
		switch (st) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_ERROR:
			err_prefix(err, "%s", c->name);
			return imapc_fail_all(c, err);
		case IMAP_PARSE_LITERAL:
			on_literal(c);
			break;
		case IMAP_PARSE_DONE: {
			const struct imap_resp *r = imap_parse_resp(c->parser);
			int rc = 0;
			imapc_trace_response(c, r);
			caps_update(c, r);
			imapc_box_update(c, r);
			if (r->kind == IMAP_RESP_TAGGED)
				rc = on_tagged(c, r, err);
			else if (r->kind == IMAP_RESP_CONTINUE)
				rc = on_continuation(c, r, err);
			else
				on_untagged(c, r);
			if (rc < 0)
				return -1;
			break;
		}
		}
	}
}

int
imapc_step(struct imapc *c, struct err *err)
{
	int progress, r;

	if (c->broken) {
		*err = c->fatal;
		return imapc_fail_all(c, &c->fatal);
	}
	progress = produce(c, err);
	if (progress < 0)
		return -1;
	if ((r = conn_flush_nb(c->conn, err)) < 0)
		return imapc_fail_all(c, err);
	for (;;) {
		r = conn_fill_nb(c->conn, err);
		if (r == 0)
			break;
		if (r == CONN_EOF) {
			if (c->bye)
				*err = c->fatal;
			else
				err_set(err, ERR_TEMP, "%s: connection closed "
				    "by the server", c->name);
			return imapc_fail_all(c, err);
		}
		if (r < 0)
			return imapc_fail_all(c, err);
		progress = 1;
		if (consume(c, err) < 0)
			return -1;
		/* A "+" may let a literal go out. */
		if (produce(c, err) < 0)
			return -1;
		if (conn_flush_nb(c->conn, err) < 0)
			return imapc_fail_all(c, err);
	}
	if (c->bye && !c->head) {
		*err = c->fatal;
		c->broken = true;
		return -1;
	}
	return progress;
}

void
imapc_abandon(struct imapc *c)
{
	if (c->broken)
		return;
	c->broken = true;
	err_set(&c->fatal, ERR_TEMP, "%s: connection abandoned", c->name);
}

struct conn *
imapc_conn(const struct imapc *c)
{
	return c->conn;
}

const char *
imapc_name(const struct imapc *c)
{
	return c->name;
}

void
imapc_set_log_prefix(struct imapc *c, const char *prefix)
{
	free(c->log_prefix);
	c->log_prefix = prefix ? xstrdup(prefix) : NULL;
}

void
imapc_set_submit_prefix(struct imapc *c, const char *prefix)
{
	free(c->submit_prefix);
	c->submit_prefix = prefix ? xstrdup(prefix) : NULL;
}

const char *
imapc_log_prefix(const struct imapc *c)
{
	return c->log_prefix;
}

void
imapc_free(struct imapc **cp)
{
	struct imapc *c = *cp;
	struct err e;
	if (!c)
		return;
	err_set(&e, ERR_TEMP, "%s: connection closed", c->name);
	if (c->head)
		imapc_fail_all(c, &e);
	while (c->lines) {
		struct line *l = c->lines;
		c->lines = l->next;
		explicit_zero(l->text, strlen(l->text));
		free(l->text);
		free(l);
	}
	imap_caps_free(&c->caps);
	imap_parse_free(&c->parser);
	imapc_trace_free(c);
	conn_free(&c->conn);
	free(c->box_name);
	free(c->log_prefix);
	free(c->submit_prefix);
	free(c->out_prefix);
	free(c->name);
	free(c);
	*cp = NULL;
}

