#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "imap_trace.h"
#include "imap_data.h"
#include "imapc.h"
#include "log.h"
#include "sigwait.h"
#include "uidlist.h"

#define TAG_SIZE 16
/* What one writer call may produce: bounds a step's work per command. */
#define CHUNK 16384

enum cmd_state {
	CMD_QUEUED,   /* nothing sent yet */
	CMD_WRITING,  /* partly sent */
	CMD_WAIT,     /* sent up to a synchronizing literal: waits for "+" */
	CMD_SENT,     /* wholly sent: waits for its tagged reply */
};

struct cmd {
	struct cmd *next;
	unsigned num;
	char tag[TAG_SIZE];
	struct imap_cmd *cmd;
	struct imapc_handlers h;
	enum cmd_state state;
	bool failed;
	struct err err;
	/* The kind of untagged data the command took last ("FETCH"): once
	 * it failed, more of it is its own and dropped, not an event (an
	 * unsolicited FETCH means another client changed something). */
	char took[16];
	/* SELECT/EXAMINE (imapc_submit_select): the mailbox it asks for;
	 * the state is reset when the server starts answering it. */
	char *select;
	bool select_started;
	bool read_only;
	/* Nothing after it goes out before its tagged reply (COMPRESS,
	 * STARTTLS: what follows is in another encoding). */
	bool barrier;
	/* Its literal source returned IMAP_SOURCE_AGAIN and the writer has
	 * produced nothing since: no POLLOUT for it (see has_output()). */
	bool src_blocked;
};

struct line {
	struct line *next;
	char *text; /* with CRLF */
};

struct imapc {
	struct conn *conn;
	char *name;
	struct imap_parser *parser;
	enum imap_lit_mode lit_mode;
	unsigned tag_seq;
	struct cmd *head, *tail;  /* in flight, in submission order */
	struct cmd *writing;      /* whose bytes are being produced */
	struct imap_cmd_writer w;
	char out[CHUNK];          /* produced, not yet queued on conn */
	size_t out_len, out_off;
	struct line *lines, *lines_tail;
	uint64_t lit_left;        /* of a streamed literal, still to skip */
	bool lit_open;            /* imap_parse_literal_done() pending */
	bool in_literal_handler;
	bool broken;
	bool bye;
	struct err fatal;
	imapc_event_fn *ev;
	void *ev_ctx;
	struct imap_caps caps;
	bool lit_mode_set;        /* by imapc_set_literal_mode() */
	bool greeted;             /* the server's greeting arrived */
	struct imapc_mailbox box;
	char *box_name;           /* box.name's storage */
	unsigned changes;         /* EXISTS/EXPUNGE/VANISHED seen */
	unsigned caps_gen;        /* capability lists received */
	char *log_prefix;         /* imapc_set_log_prefix() */
};

struct imapc *
imapc_new(struct conn *conn, const char *name)
{
	struct imapc *c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	c->name = xstrdup(name);
	c->parser = imap_parse_new(NULL);
	c->lit_mode = IMAP_LIT_SYNC;
	return c;
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
	q->num = ++c->tag_seq;
	snprintf(q->tag, sizeof(q->tag), "%u", q->num);
	q->cmd = cmd;
	q->barrier = strcmp(imap_cmd_verb(cmd), "COMPRESS") == 0 ||
	    strcmp(imap_cmd_verb(cmd), "STARTTLS") == 0;
	if (h)
		q->h = *h;
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
	if (log_debug_level > 0)
		log_at(LOG_DEBUG, c->log_prefix, "%s: C: %s", c->name,
		    secret && log_debug_level < 2 ? "[REDACTED]" : text);
	l->text = xasprintf("%s\r\n", text);
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
	free(q);
}

/* The connection is unusable: every command in flight fails with err. */
static int
fail_all(struct imapc *c, const struct err *err)
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
	return fail_all(c, err);
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
			return fail_all(c, err);
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
			char *t = imap_cmd_trace(q->cmd, log_debug_level > 1);
			log_at(LOG_DEBUG, c->log_prefix, "%s: C: %s %s", c->name,
			    q->tag, t);
			free(t);
			imap_cmd_writer_init(&c->w, q->cmd, c->lit_mode);
			c->out_len = (size_t)snprintf(c->out, sizeof(c->out), "%s ",
			    q->tag);
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
				return fail_all(c, err);
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

/* --- the selected mailbox ------------------------------------------- */

static void
box_reset(struct imapc *c, const char *name)
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
		box_reset(c, NULL);
	}
}

static void
box_update(struct imapc *c, const struct imap_resp *r)
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
		return fail_all(c, err);
	}
	if (q->select) {
		/* RFC 3501 §6.3.1: a failed SELECT leaves none selected. */
		if (!r->status || strcmp(r->status, "OK") != 0) {
			box_reset(c, NULL);
		} else {
			free(c->box_name);
			c->box_name = xstrdup(q->select);
			c->box.name = c->box_name;
			if (q->read_only)
				c->box.read_only = true;
		}
	} else if (r->status && strcmp(r->status, "OK") == 0 &&
	    (strcmp(imap_cmd_verb(q->cmd), "UNSELECT") == 0 ||
		strcmp(imap_cmd_verb(q->cmd), "CLOSE") == 0)) {
		box_reset(c, NULL);
	}
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
			return fail_all(c, err);
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
			return fail_all(c, &c->fatal);
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
			c->lit_open = false;
		}
		if (len == 0)
			return 0;
		st = imap_parse_feed(c->parser, data, len, &used, err);
		conn_consume(c->conn, used);
		switch (st) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_ERROR:
			err_prefix(err, "%s", c->name);
			return fail_all(c, err);
		case IMAP_PARSE_LITERAL:
			on_literal(c);
			break;
		case IMAP_PARSE_DONE: {
			const struct imap_resp *r = imap_parse_resp(c->parser);
			int rc = 0;
			if (log_debug_level > 0) {
				char *t = imap_trace_format(r);
				log_at(LOG_DEBUG, c->log_prefix, "%s: S: %s",
				    c->name, t);
				free(t);
			}
			caps_update(c, r);
			box_update(c, r);
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
		return fail_all(c, &c->fatal);
	}
	progress = produce(c, err);
	if (progress < 0)
		return -1;
	if ((r = conn_flush_nb(c->conn, err)) < 0)
		return fail_all(c, err);
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
			return fail_all(c, err);
		}
		if (r < 0)
			return fail_all(c, err);
		progress = 1;
		if (consume(c, err) < 0)
			return -1;
		/* A "+" may let a literal go out. */
		if (produce(c, err) < 0)
			return -1;
		if (conn_flush_nb(c->conn, err) < 0)
			return fail_all(c, err);
	}
	if (c->bye && !c->head) {
		*err = c->fatal;
		c->broken = true;
		return -1;
	}
	return progress;
}

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
			return fail_all(c, err);
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
		fail_all(c, &e);
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
	if (len > n)
		len = n;
	if (len > c->lit_left)
		len = (size_t)c->lit_left;
	memcpy(buf, data, len);
	conn_consume(c->conn, len);
	c->lit_left -= len;
	return (ssize_t)len;
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
		fail_all(c, &e);
	while (c->lines) {
		struct line *l = c->lines;
		c->lines = l->next;
		explicit_zero(l->text, strlen(l->text));
		free(l->text);
		free(l);
	}
	imap_caps_free(&c->caps);
	imap_parse_free(&c->parser);
	conn_free(&c->conn);
	free(c->box_name);
	free(c->log_prefix);
	free(c->name);
	free(c);
	*cp = NULL;
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
	if (len > n)
		len = n;
	if (len > c->lit_left)
		len = (size_t)c->lit_left;
	memcpy(buf, data, len);
	conn_consume(c->conn, len);
	c->lit_left -= len;
	return (ssize_t)len;
}
