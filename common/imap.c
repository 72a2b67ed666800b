#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "imap.h"
#include "imap_conf.h"
#include "imap_data.h"
#include "log.h"
#include "sasl.h"
#include "sigwait.h"
#include "uidlist.h"

/* Tags are decimal numbers from 1 on. */
#define TAG_SIZE 16

struct imap_client {
	struct conn *conn;
	struct imap_parser *parser;
	char *name;
	unsigned tag_seq;
	struct imap_caps caps;
	unsigned caps_gen;   /* bumped whenever the list is replaced */
	bool bye;            /* server said BYE: connection is going away */
	bool broken;         /* I/O error or protocol desync: only close */
	uint64_t lit_left;   /* bytes of the streamed literal not read yet */
	struct imap_mailbox box;
	unsigned changes;
	char *bye_text;
	char *selected;      /* mailbox of the last successful SELECT, or NULL */
	const char *selecting; /* the mailbox imap_select() is asking for */
	bool redact_next;    /* trace the next command without its arguments */
	char idle_tag[TAG_SIZE]; /* tag of the IDLE in progress, "" if none */
	bool idle_ended;     /* the server ended the IDLE with a tagged reply */
	bool want_compress;  /* compress = YES: imap_compress() may start it */
	int timeout_ms;      /* the network timeout given to imap_connect() */
	/* A command sent ahead whose tagged reply the next imap_run() takes
	 * in passing: its tag ("" if none), its text (for the message), and
	 * its failure (kind ERR_NONE if it did not fail). */
	char ahead_tag[TAG_SIZE];
	char ahead_cmd[64];
	struct err ahead_err;
};

/* RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials; ASTRING-CHAR
 * adds resp-specials (']'). */
static bool
is_astring_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\", ch) == NULL;
}

char *
imap_quote(const char *s)
{
	const unsigned char *p;
	bool atom = *s != '\0', text = true;
	struct buf b = BUF_INIT(SIZE_MAX);

	for (p = (const unsigned char *)s; *p; p++) {
		if (!is_astring_char(*p))
			atom = false;
		if (*p == '\r' || *p == '\n' || *p >= 0x80)
			text = false;
	}
	/* NIL as an atom would read as the NIL token. */
	if (atom && !str_ieq(s, "NIL"))
		return xstrdup(s);
	if (text) {
		buf_append(&b, "\"", 1);
		for (p = (const unsigned char *)s; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, p, 1);
		}
		buf_append(&b, "\"", 1);
		return buf_steal(&b);
	}
	/* imap_run() turns this into a synchronizing literal without LITERAL+. */
	buf_appendf(&b, "{%zu+}\r\n", strlen(s));
	buf_appends(&b, s);
	return buf_steal(&b);
}

void
imap_abandon(struct imap_client *c)
{
	c->broken = true;
}

bool
imap_usable(const struct imap_client *c)
{
	return !c->broken && !c->bye;
}

bool
imap_capable(const struct imap_client *c, const char *cap)
{
	return imap_caps_has(&c->caps, cap);
}

static void
caps_set_args(struct imap_client *c, const struct imap_arg *args, size_t n)
{
	imap_caps_set(&c->caps, args, n);
	c->caps_gen++;
}

const char *
imap_name(const struct imap_client *c)
{
	return c->name;
}

const struct imap_mailbox *
imap_selected(const struct imap_client *c)
{
	return &c->box;
}

unsigned
imap_take_changes(struct imap_client *c)
{
	unsigned n = c->changes;
	c->changes = 0;
	return n;
}

/* s (len bytes) as an IMAP quoted string, at most 200 bytes of it. */
static void
trace_quoted(struct buf *b, const char *s, size_t len)
{
	size_t n = len < 200 ? len : 200, run = 0;

	buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		buf_append(b, s + run, i - run);
		buf_append(b, "\\", 1);
		run = i;
	}
	buf_append(b, s + run, n - run);
	buf_appends(b, n < len ? "\"..." : "\"");
}

/* Protocol trace of a response's args (see imap_trace_format()). */
static void
trace_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n && b->len < 2000; i++) {
		if (i)
			buf_append(b, " ", 1);
		switch (a[i].type) {
		case IMAP_ARG_NIL:
			buf_appends(b, "NIL");
			break;
		case IMAP_ARG_ATOM:
			buf_appends(b, a[i].str);
			break;
		case IMAP_ARG_STRING:
			trace_quoted(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LITERAL:
			buf_appendf(b, "{%zu}", a[i].len);
			trace_quoted(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LITERAL_STREAMED:
			/* Message bodies never reach the log. */
			buf_appendf(b, "{%zu}[...]", a[i].len);
			break;
		case IMAP_ARG_LIST:
			buf_append(b, "(", 1);
			trace_args(b, a[i].list, a[i].count);
			buf_append(b, ")", 1);
			break;
		}
	}
}

char *
imap_trace_format(const struct imap_resp *r)
{
	struct buf b = BUF_INIT(4096);
	if (r->kind == IMAP_RESP_CONTINUE) {
		buf_appendf(&b, "+ %s", r->text);
	} else {
		buf_appends(&b, r->kind == IMAP_RESP_TAGGED ? r->tag : "*");
		if (r->status) {
			buf_appendf(&b, " %s", r->status);
			if (r->code)
				buf_appendf(&b, " [%s%s%s]", r->code,
				    r->code_raw && *r->code_raw ? " " : "",
				    r->code_raw ? r->code_raw : "");
			if (*r->text)
				buf_appendf(&b, " %s", r->text);
		} else {
			if (r->has_num)
				buf_appendf(&b, " %u", r->num);
			if (r->name)
				buf_appendf(&b, " %s", r->name);
			if (r->nargs) {
				buf_append(&b, " ", 1);
				trace_args(&b, r->args, r->nargs);
			}
		}
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

static void
trace_resp(const struct imap_resp *r)
{
	char *t;

	if (log_debug_level <= 0)
		return;
	t = imap_trace_format(r);
	log_trace("S", t, strlen(t));
	free(t);
}

static uint32_t
code_u32(const struct imap_resp *r)
{
	uint32_t v = 0;
	if (r->code_nargs >= 1 && r->code_args[0].type == IMAP_ARG_ATOM)
		parse_u32_str(r->code_args[0].str, &v);
	return v;
}

/* Response codes and untagged data the client keeps track of itself. */
static void
bookkeeping(struct imap_client *c, const struct imap_resp *r)
{
	if (r->status && r->code) {
		if (strcmp(r->code, "CAPABILITY") == 0) {
			caps_set_args(c, r->code_args, r->code_nargs);
		} else if (strcmp(r->code, "UIDVALIDITY") == 0) {
			c->box.uidvalidity = code_u32(r);
		} else if (strcmp(r->code, "UIDNEXT") == 0) {
			c->box.uidnext = code_u32(r);
		} else if (strcmp(r->code, "HIGHESTMODSEQ") == 0) {
			if (r->code_nargs >= 1)
				parse_u64_str(r->code_args[0].str,
				    &c->box.highestmodseq);
		} else if (strcmp(r->code, "READ-ONLY") == 0) {
			c->box.read_only = true;
		} else if (strcmp(r->code, "PERMANENTFLAGS") == 0) {
			if (r->code_nargs >= 1 &&
			    r->code_args[0].type == IMAP_ARG_LIST)
				for (size_t i = 0; i < r->code_args[0].count; i++)
					if (imap_arg_atom_is(&r->code_args[0].list[i], "\\*"))
						c->box.permanent_keywords = true;
		}
	}
	if (r->kind != IMAP_RESP_UNTAGGED)
		return;
	if (r->status && strcmp(r->status, "BYE") == 0) {
		c->bye = true;
		free(c->bye_text);
		c->bye_text = xstrdup(r->text);
	} else if (r->name && strcmp(r->name, "CAPABILITY") == 0) {
		caps_set_args(c, r->args, r->nargs);
	} else if (r->name && r->has_num && strcmp(r->name, "EXISTS") == 0) {
		if (r->num != c->box.exists)
			c->changes++;
		c->box.exists = r->num;
	} else if (r->name && r->has_num && strcmp(r->name, "EXPUNGE") == 0) {
		if (c->box.exists > 0)
			c->box.exists--;
		c->changes++;
	} else if (r->name && strcmp(r->name, "VANISHED") == 0) {
		/* RFC 7162 §3.6: without (EARLIER), each UID was a message
		 * of the mailbox, as with EXPUNGE. */
		if (r->nargs == 1 && imap_arg_string(&r->args[0])) {
			struct uidset gone = UIDSET_INIT;
			if (uidset_parse(&gone, imap_arg_string(&r->args[0])) == 0) {
				uint64_t n = uidset_count(&gone);
				c->box.exists = n < c->box.exists
				    ? c->box.exists - (uint32_t)n : 0;
			}
			uidset_free(&gone);
		}
		c->changes++;
	}
}

static int
conn_lost(struct imap_client *c, struct err *err)
{
	c->broken = true;
	if (c->bye)
		return err_set(err, ERR_TEMP, "%s: server closed the connection: %s",
		    c->name, c->bye_text ? c->bye_text : "BYE");
	return err_set(err, ERR_TEMP, "%s: connection closed by the server",
	    c->name);
}

ssize_t
imap_literal_read(struct imap_client *c, char *out, size_t n, struct err *err)
{
	const char *data;
	size_t len;
	int r;

	if (c->lit_left == 0)
		return 0;
	data = conn_peek(c->conn, &len);
	if (len == 0) {
		r = conn_fill(c->conn, err);
		if (r < 0) {
			c->broken = true;
			return -1;
		}
		if (r == 0)
			return conn_lost(c, err);
		data = conn_peek(c->conn, &len);
	}
	if (len > n)
		len = n;
	if (len > c->lit_left)
		len = (size_t)c->lit_left;
	memcpy(out, data, len);
	conn_consume(c->conn, len);
	c->lit_left -= len;
	return (ssize_t)len;
}

static int
literal_skip(struct imap_client *c, struct err *err)
{
	while (c->lit_left > 0) {
		size_t len;
		const char *data = conn_peek(c->conn, &len);
		(void)data;
		if (len == 0) {
			int r = conn_fill(c->conn, err);
			if (r < 0) {
				c->broken = true;
				return -1;
			}
			if (r == 0)
				return conn_lost(c, err);
			continue;
		}
		if (len > c->lit_left)
			len = (size_t)c->lit_left;
		conn_consume(c->conn, len);
		c->lit_left -= len;
	}
	return 0;
}

/* Reads the next complete response. Streamed literals go to lit_fn (unless
 * *lit_failed, in which case they are skipped); a lit_fn failure sets
 * *lit_failed and fills lit_err. */
static const struct imap_resp *
read_resp(struct imap_client *c, imap_literal_fn *lit_fn, void *ctx,
    bool *lit_failed, struct err *lit_err, struct err *err)
{
	for (;;) {
		size_t len, used;
		const char *data = conn_peek(c->conn, &len);
		enum imap_parse_status st;

		if (len == 0) {
			int r = conn_fill(c->conn, err);
			if (r < 0) {
				c->broken = true;
				return NULL;
			}
			if (r == 0) {
				conn_lost(c, err);
				return NULL;
			}
			continue;
		}
		st = imap_parse_feed(c->parser, data, len, &used, err);
		conn_consume(c->conn, used);
		switch (st) {
		case IMAP_PARSE_MORE:
			continue;
		case IMAP_PARSE_ERROR:
			c->broken = true;
			err_prefix(err, "%s", c->name);
			return NULL;
		case IMAP_PARSE_DONE: {
			const struct imap_resp *r = imap_parse_resp(c->parser);
			trace_resp(r);
			bookkeeping(c, r);
			return r;
		}
		case IMAP_PARSE_LITERAL: {
			size_t count;
			const struct imap_arg *cont =
			    imap_parse_literal_container(c->parser, &count);
			c->lit_left = imap_parse_literal_size(c->parser);
			if (lit_fn && !*lit_failed &&
			    lit_fn(ctx, imap_parse_partial(c->parser), cont,
				count, c->lit_left, lit_err) < 0)
				*lit_failed = true;
			if (c->broken) {
				/* The handler's read failed, or it abandoned the
				 * connection: the stream is gone. */
				if (*lit_failed)
					*err = *lit_err;
				else
					err_set(err, ERR_TEMP,
					    "%s: connection abandoned", c->name);
				return NULL;
			}
			if (literal_skip(c, err) < 0)
				return NULL;
			imap_parse_literal_done(c->parser);
			continue;
		}
		}
	}
}

/* Command texts may hold a password. */
static void
wipe_free(char *text)
{
	explicit_zero(text, strlen(text));
	free(text);
}

/* What a command was, for messages: its verb ("UID FETCH", "SELECT"), never
 * its arguments (a UID set can be long, LOGIN's are secret), but for the
 * few whose arguments are ours and short (ENABLE QRESYNC, COMPRESS
 * DEFLATE), and the mailbox: the one SELECT asks for, else the selected
 * one. */
static void
describe(const struct imap_client *c, const char *text, char *out, size_t n)
{
	size_t len = strcspn(text, " ");
	const char *box = c->selected;

	if (strncmp(text, "UID ", 4) == 0)
		len = 4 + strcspn(text + 4, " ");
	if (strncmp(text, "ENABLE ", 7) == 0 ||
	    strncmp(text, "COMPRESS ", 9) == 0)
		len = strcspn(text, "\r\n{");
	if (len > 60)
		len = 60;
	if ((strncmp(text, "SELECT ", 7) == 0 ||
	    strncmp(text, "EXAMINE ", 8) == 0) && c->selecting != NULL)
		snprintf(out, n, "%.*s \"%s\"", (int)len, text, c->selecting);
	else if (box != NULL)
		snprintf(out, n, "%.*s in mailbox \"%s\"", (int)len, text, box);
	else
		snprintf(out, n, "%.*s", (int)len, text);
}

/* err for a tagged NO/BAD (or a missing status) to the command described
 * by what: the command, then the server's words, on one line. */
static int
refused(const struct imap_client *c, const char *what,
    const struct imap_resp *r, struct err *err)
{
	return err_set(err, ERR_REFUSED, "%s: %s failed: %s %s%s%s%s", c->name,
	    what, r->status ? r->status : "?", r->code ? "[" : "",
	    r->code ? r->code : "", r->code ? "] " : "", r->text);
}

/* Sends "TAG text\r\n" under a new tag, written to tag (queued only, when
 * hold: the next command takes it along). Literals in text (as made by
 * imap_quote) become synchronizing ones without LITERAL+: then we wait for
 * the server's continuation before sending their data. */
static int
send_command(struct imap_client *c, const char *text, bool hold,
    char tag[TAG_SIZE], struct err *err)
{
	bool litplus = imap_capable(c, "LITERAL+");
	const char *p = text;
	bool redact = c->redact_next && log_debug_level < 2;

	snprintf(tag, TAG_SIZE, "%u", ++c->tag_seq);
	c->redact_next = false;
	if (log_debug_level > 0) {
		if (redact) {
			const char *sp = strchr(text, ' ');
			char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
			size_t n = sp2 ? (size_t)(sp2 - text) : strlen(text);
			if (strncmp(text, "LOGIN", 5) == 0)
				n = 5;
			char *t = xasprintf("%s %.*s [REDACTED]", tag, (int)n, text);
			log_trace("C", t, strlen(t));
			free(t);
		} else {
			const char *lit = strstr(text, "+}\r\n");
			char *t = xasprintf("%s %.*s%s", tag,
			    lit ? (int)(lit - text + 2) : (int)strlen(text), text,
			    lit ? " [...]" : "");
			log_trace("C", t, strlen(t));
			free(t);
		}
	}
	if (conn_writes(c->conn, tag, err) < 0 ||
	    conn_write(c->conn, " ", 1, err) < 0)
		goto fail;
	for (;;) {
		const char *open = strchr(p, '{');
		const char *q;
		uint64_t n = 0;

		/* Only "{N+}\r\n" produced by imap_quote() is a literal. */
		while (open) {
			q = open + 1;
			if (parse_u64(&q, &n) == 0 && strncmp(q, "+}\r\n", 4) == 0)
				break;
			open = strchr(open + 1, '{');
		}
		if (!open)
			break;
		q += 4;
		if (litplus) {
			if (conn_write(c->conn, p, (size_t)(q - p), err) < 0)
				goto fail;
		} else {
			bool dummy = false;
			struct err dummy_err;
			const struct imap_resp *r;
			if (conn_write(c->conn, p, (size_t)(open - p), err) < 0)
				goto fail;
			char *hdr = xasprintf("{%llu}\r\n", (unsigned long long)n);
			int w = conn_writes(c->conn, hdr, err);
			free(hdr);
			if (w < 0 || conn_flush(c->conn, err) < 0)
				goto fail;
			/* RFC 3501 §7.5: wait for "+" (or a tagged refusal). */
			do {
				r = read_resp(c, NULL, NULL, &dummy, &dummy_err, err);
				if (!r)
					return -1;
			} while (r->kind == IMAP_RESP_UNTAGGED);
			if (r->kind == IMAP_RESP_TAGGED) {
				char what[160];

				describe(c, text, what, sizeof(what));
				return refused(c, what, r, err);
			}
		}
		if (conn_write(c->conn, q, (size_t)n, err) < 0)
			goto fail;
		p = q + n;
	}
	if (conn_writes(c->conn, p, err) < 0 ||
	    conn_write(c->conn, "\r\n", 2, err) < 0 ||
	    (!hold && conn_flush(c->conn, err) < 0))
		goto fail;
	return 0;
fail:
	c->broken = true;
	return -1;
}

static int
vrun(struct imap_client *c, imap_untagged_fn *fn, imap_literal_fn *lit_fn,
    void *ctx, struct err *err, const char *fmt, va_list ap)
{
	char tag[TAG_SIZE], *text, what[160];
	bool failed = false, lit_failed = false;
	struct err cb_err, lit_err;
	int rc;

	if (c->broken)
		return err_set(err, ERR_TEMP, "%s: connection unusable", c->name);
	if (vasprintf(&text, fmt, ap) < 0)
		return err_set(err, ERR_SYS, "out of memory");
	describe(c, text, what, sizeof(what));
	rc = send_command(c, text, false, tag, err);
	wipe_free(text);
	if (rc < 0)
		return -1;
	for (;;) {
		const struct imap_resp *r =
		    read_resp(c, lit_fn, ctx, &lit_failed, &lit_err, err);
		if (!r)
			return -1;
		if (r->kind == IMAP_RESP_TAGGED && c->ahead_tag[0] &&
		    strcmp(r->tag, c->ahead_tag) == 0) {
			c->ahead_tag[0] = '\0';
			if (!r->status || strcmp(r->status, "OK") != 0)
				refused(c, c->ahead_cmd, r, &c->ahead_err);
			continue;
		}
		if (r->kind == IMAP_RESP_TAGGED) {
			if (strcmp(r->tag, tag) != 0 || c->ahead_tag[0]) {
				c->broken = true;
				return err_set(err, ERR_PROTO,
				    "%s: unexpected tagged response %s",
				    c->name, r->tag);
			}
			if (lit_failed) {
				*err = lit_err;
				return -1;
			}
			if (failed) {
				*err = cb_err;
				return -1;
			}
			if (r->status && strcmp(r->status, "OK") == 0)
				return 0;
			return refused(c, what, r, err);
		}
		if (r->kind == IMAP_RESP_CONTINUE) {
			/* Nothing of ours waits for one here. */
			c->broken = true;
			return err_set(err, ERR_PROTO,
			    "%s: unexpected continuation request", c->name);
		}
		if (fn && !failed && !lit_failed && fn(ctx, r, &cb_err) < 0) {
			failed = true;
			/* No literal handler of this command runs after its
			 * untagged handler failed: the rest is drained. */
			lit_failed = true;
			lit_err = cb_err;
		}
		if (c->broken) {
			/* A handler abandoned the connection (imap_abandon). */
			*err = failed ? cb_err : lit_failed ? lit_err : *err;
			if (!failed && !lit_failed)
				err_set(err, ERR_TEMP, "%s: connection abandoned",
				    c->name);
			return -1;
		}
	}
}

int
imap_run(struct imap_client *c, imap_untagged_fn *fn, imap_literal_fn *lit_fn,
    void *ctx, struct err *err, const char *fmt, ...)
{
	va_list ap;
	int r;
	/* The command and its whole response (conn.h): a server that
	 * trickles must not hold us, nor our state lock, forever. */
	if (c->conn)
		conn_budget_start(c->conn);
	va_start(ap, fmt);
	r = vrun(c, fn, lit_fn, ctx, err, fmt, ap);
	va_end(ap);
	if (c->conn)
		conn_budget_stop(c->conn);
	return r;
}

static int
capability(struct imap_client *c, struct err *err)
{
	return imap_run(c, NULL, NULL, NULL, err, "CAPABILITY");
}

/* How long password-command may run: enough for a helper that refreshes
 * an OAuth token over the network, bounded so that a hung helper does
 * not hang every run. A shorter network timeout bounds it too: whoever
 * wants quick failures from the server wants them from its helper. */
#define PASSWORD_COMMAND_TIMEOUT_MS 60000

/* The name after AUTHENTICATE (and in the AUTH= capability). */
static const char *
mech_name(enum imap_auth m)
{
	switch (m) {
	case IMAP_AUTH_PLAIN:
		return "PLAIN";
	case IMAP_AUTH_XOAUTH2:
		return "XOAUTH2";
	case IMAP_AUTH_OAUTHBEARER:
		return "OAUTHBEARER";
	case IMAP_AUTH_LOGIN:
		break;
	}
	return "LOGIN";
}

/* AUTHENTICATE MECH with the initial response cred (base64): inline when
 * the server offers SASL-IR (RFC 4959 §3), else after the first "+"
 * (RFC 3501 §6.2.2). Any later "+" is a challenge none of our mechanisms
 * expects but the failure report of RFC 7628 §3.2.2 (base64 JSON): it must
 * be answered before the server sends its tagged NO, with %x01 for
 * OAUTHBEARER (§3.2.3), an empty line for XOAUTH2 (Google's protocol), and
 * "*" (cancel, RFC 3501 §6.2.2) otherwise. */
static int
auth_plain_continue(struct imap_client *c, enum imap_auth mech,
    const char *cred, struct err *err)
{
	const char *name = mech_name(mech);
	bool sent = imap_capable(c, "SASL-IR"), lf = false;
	char tag[TAG_SIZE], status[128] = "";
	struct err le;
	const struct imap_resp *r;
	char *text;
	int rc;

	text = sent ? xasprintf("AUTHENTICATE %s %s", name, cred) :
	    xasprintf("AUTHENTICATE %s", name);
	c->redact_next = true;
	rc = send_command(c, text, false, tag, err);
	wipe_free(text);
	if (rc < 0)
		return -1;
	for (;;) {
		const char *answer;

		r = read_resp(c, NULL, NULL, &lf, &le, err);
		if (!r)
			return -1;
		if (r->kind == IMAP_RESP_TAGGED)
			break;
		if (r->kind != IMAP_RESP_CONTINUE)
			continue;
		if (!sent) {
			answer = cred;
			sent = true;
			if (log_debug_level > 1)
				log_trace("C", cred, strlen(cred));
			else
				log_trace("C", "[REDACTED]", 10);
		} else {
			size_t n;
			unsigned char *json = r->text ?
			    sasl_base64_decode(r->text, &n) : NULL;

			if (json != NULL)
				sasl_json_status((const char *)json, status,
				    sizeof(status));
			free(json);
			answer = mech == IMAP_AUTH_OAUTHBEARER ? "AQ==" :
			    mech == IMAP_AUTH_XOAUTH2 ? "" : "*";
			log_trace("C", answer, strlen(answer));
		}
		if (conn_writes(c->conn, answer, err) < 0 ||
		    conn_write(c->conn, "\r\n", 2, err) < 0 ||
		    conn_flush(c->conn, err) < 0) {
			c->broken = true;
			return -1;
		}
	}
	if (strcmp(r->tag, tag) != 0) {
		c->broken = true;
		return err_set(err, ERR_PROTO, "%s: unexpected tagged response %s",
		    c->name, r->tag);
	}
	if (r->status && strcmp(r->status, "OK") == 0)
		return 0;
	return err_set(err, ERR_AUTH,
	    "%s: authentication failed: %s %s%s%s%s%s%s%s", c->name,
	    r->status ? r->status : "?", r->code ? "[" : "",
	    r->code ? r->code : "", r->code ? "] " : "", r->text,
	    status[0] ? " (status " : "", status, status[0] ? ")" : "");
}

static int
authenticate(struct imap_client *c, const struct imap_opts *o, struct err *err)
{
	enum imap_auth mech = IMAP_AUTH_MAX;
	char *secret = NULL;
	int rc = -1;

	/* The first configured mechanism the server offers; LOGIN is the
	 * LOGIN command, always there unless LOGINDISABLED. */
	for (size_t i = 0; i < o->n_auth && mech == IMAP_AUTH_MAX; i++) {
		char cap[32];

		snprintf(cap, sizeof(cap), "AUTH=%s", mech_name(o->auth[i]));
		if (o->auth[i] == IMAP_AUTH_LOGIN || imap_capable(c, cap))
			mech = o->auth[i];
	}
	if (mech == IMAP_AUTH_MAX) {
		err_set(err, ERR_AUTH,
		    "%s: no authentication mechanism in common with the server",
		    c->name);
		goto out;
	}
	if (imap_capable(c, "LOGINDISABLED")) {
		err_set(err, ERR_AUTH, "%s: logins are disabled by the server%s",
		    c->name, conn_is_tls(c->conn) ? "" :
		    " (it wants TLS: use type = imaps or STARTTLS = YES)");
		goto out;
	}
	if (!o->username || (!o->password && !o->password_command)) {
		err_set(err, ERR_CONFIG, "%s: the server wants a login: set %s",
		    c->name, !o->username ? "username" :
		    "password or password-command");
		goto out;
	}
	/* Run at every connect, not at load time: a helper may refresh a
	 * short-lived OAuth token between runs. */
	if (o->password_command) {
		int ms = PASSWORD_COMMAND_TIMEOUT_MS;
		if (c->timeout_ms > 0 && c->timeout_ms < ms)
			ms = c->timeout_ms;
		if (sasl_password_command(o->password_command, ms, &secret,
			err) < 0)
			goto out;
	} else {
		secret = xstrdup(o->password);
	}
	if (mech == IMAP_AUTH_LOGIN) {
		char *u = imap_quote(o->username), *p = imap_quote(secret);
		c->redact_next = true;
		rc = imap_run(c, NULL, NULL, NULL, err, "LOGIN %s %s", u, p);
		wipe_free(p);
		free(u);
		if (rc < 0 && err->kind == ERR_REFUSED) {
			err->kind = ERR_AUTH;
			err_prefix(err, "authentication failed");
		}
	} else {
		char *cred;
		bool tunnel = o->type == IMAP_TYPE_TUNNEL;

		if (mech == IMAP_AUTH_PLAIN)
			cred = sasl_plain(o->username, secret);
		else if (mech == IMAP_AUTH_XOAUTH2)
			cred = sasl_xoauth2(o->username, secret);
		else
			cred = sasl_oauthbearer(o->username,
			    tunnel ? NULL : o->host, tunnel ? NULL : o->port,
			    secret);
		conn_budget_start(c->conn);
		rc = auth_plain_continue(c, mech, cred, err);
		conn_budget_stop(c->conn);
		wipe_free(cred);
	}
out:
	if (secret != NULL)
		wipe_free(secret);
	return rc;
}

/* The handshake is an exchange like a command (conn.h's budget). */
static int
start_tls(struct imap_client *c, const struct imap_opts *o, struct err *err)
{
	int r;
	conn_budget_start(c->conn);
	r = conn_start_tls(c->conn, o->host, &o->tls, err);
	conn_budget_stop(c->conn);
	return r;
}

struct imap_client *
imap_connect(const struct imap_opts *o, int timeout_ms, struct err *err)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	const struct imap_resp *r;
	bool lf = false, preauth;
	struct err le;

	c->parser = imap_parse_new(NULL);
	c->timeout_ms = timeout_ms;
	switch (o->type) {
	case IMAP_TYPE_TUNNEL:
		c->name = xstrdup("tunnel");
		c->conn = conn_spawn(o->command, o->null_stderr, timeout_ms, err);
		if (c->conn)
			conn_set_interruptible(c->conn, true);
		break;
	case IMAP_TYPE_IMAP:
	case IMAP_TYPE_IMAPS:
		c->name = xasprintf("%s:%s", o->host, o->port);
		c->conn = o->proxy.type != PROXY_NONE ?
		    conn_connect_proxy(&o->proxy, o->host, o->port,
		    timeout_ms, err) :
		    conn_connect_tcp(o->host, o->port, timeout_ms, err);
		/* Until logged in, nothing is lost when a stop request
		 * drops the connection (conn_set_interrupt()). */
		if (c->conn)
			conn_set_interruptible(c->conn, true);
		if (c->conn && o->type == IMAP_TYPE_IMAPS &&
		    start_tls(c, o, err) < 0)
			goto fail;
		break;
	}
	if (!c->conn)
		goto fail;

	conn_budget_start(c->conn);
	r = read_resp(c, NULL, NULL, &lf, &le, err);
	conn_budget_stop(c->conn);
	if (!r)
		goto fail;
	if (r->kind != IMAP_RESP_UNTAGGED || !r->status ||
	    (strcmp(r->status, "OK") != 0 && strcmp(r->status, "PREAUTH") != 0)) {
		if (r->status && strcmp(r->status, "BYE") == 0)
			err_set(err, ERR_TEMP, "%s: server refused the connection: %s",
			    c->name, r->text);
		else
			err_set(err, ERR_PROTO, "%s: not an IMAP greeting", c->name);
		goto fail;
	}
	preauth = strcmp(r->status, "PREAUTH") == 0;
	if (o->type == IMAP_TYPE_IMAP && o->starttls) {
		if (preauth) {
			/* RFC 2595 §5.1: a PREAUTH greeting leaves no chance to
			 * upgrade; on plaintext that smells of a MITM. */
			err_set(err, ERR_REFUSED,
			    "%s: PREAUTH greeting on a plaintext connection; "
			    "refusing (set STARTTLS = NO to allow it)", c->name);
			goto fail;
		}
		if (c->caps.n == 0 && capability(c, err) < 0)
			goto fail;
		if (!imap_capable(c, "STARTTLS")) {
			err_set(err, ERR_REFUSED,
			    "%s: server does not advertise STARTTLS "
			    "(set STARTTLS = NO to connect without TLS)", c->name);
			goto fail;
		}
		if (imap_run(c, NULL, NULL, NULL, err, "STARTTLS") < 0 ||
		    start_tls(c, o, err) < 0)
			goto fail;
		/* Capabilities sent before TLS may have been forged. */
		imap_caps_free(&c->caps);
	}
	if (c->caps.n == 0 && capability(c, err) < 0)
		goto fail;
	if (!imap_capable(c, "IMAP4rev1")) {
		err_set(err, ERR_PROTO, "%s: server lacks IMAP4rev1 capability",
		    c->name);
		goto fail;
	}
	if (!preauth) {
		unsigned gen = c->caps_gen;
		if (authenticate(c, o, err) < 0)
			goto fail;
		/* Post-login capabilities differ (RFC 3501 §6.2.3); the
		 * login's OK often carries them already. */
		if (c->caps_gen == gen && capability(c, err) < 0)
			goto fail;
	}
	c->want_compress = o->compress;
	conn_set_interruptible(c->conn, false);
	return c;
fail:
	if (!err->msg[0])
		err_set(err, ERR_TEMP, "%s: connection failed", c->name);
	c->broken = true;
	imap_close(&c);
	return NULL;
}

int
imap_compress(struct imap_client *c, struct err *err)
{
	struct err ce;
	int rc;

	/* COMPRESS is a command-auth (RFC 4978 §5): valid once logged in,
	 * with or without a selected mailbox; only the post-login
	 * capabilities count. Asked once per connection. */
	if (!c->want_compress || conn_is_deflate(c->conn) ||
	    !imap_capable(c, "COMPRESS=DEFLATE"))
		return 0;
	c->want_compress = false;
	rc = imap_run(c, NULL, NULL, NULL, &ce, "COMPRESS DEFLATE");
	if (rc == 0) {
		/* RFC 4978 §3: both sides compress from right after the
		 * tagged OK; the server may already have. */
		if (conn_start_deflate(c->conn, err) == 0)
			return 0;
		c->broken = true;
		return -1;
	}
	if (c->broken) {
		*err = ce;
		return -1;
	}
	/* Compression is an optimisation: a refusal is no reason to give
	 * up the session. [COMPRESSIONACTIVE] (RFC 4978 §3) says the link
	 * is compressed already (e.g. by TLS). */
	if (strstr(ce.msg, "[COMPRESSIONACTIVE]") == NULL)
		log_warnx("%s; going on uncompressed", ce.msg);
	return 0;
}

int
imap_enable(struct imap_client *c, const char *ext, struct err *err)
{
	if (!imap_capable(c, ext) || !imap_capable(c, "ENABLE"))
		return 0;
	return imap_run(c, NULL, NULL, NULL, err, "ENABLE %s", ext);
}

int
imap_enable_select(struct imap_client *c, const char *ext,
    const char *mailbox, bool read_only, struct err *err)
{
	bool ahead = imap_capable(c, ext) && imap_capable(c, "ENABLE") &&
	    !c->broken;
	int rc;

	/* A synchronizing literal in the SELECT would wait for a "+" that
	 * could come after ENABLE's reply: one at a time then. */
	if (ahead && !imap_capable(c, "LITERAL+")) {
		char *q = imap_quote(mailbox);
		ahead = strchr(q, '{') == NULL;
		free(q);
	}
	if (!ahead)
		return imap_enable(c, ext, err) < 0 ? -1 :
		    imap_select(c, mailbox, read_only, err);
	snprintf(c->ahead_cmd, sizeof(c->ahead_cmd), "ENABLE %s", ext);
	err_clear(&c->ahead_err);
	if (send_command(c, c->ahead_cmd, true, c->ahead_tag, err) < 0) {
		c->ahead_tag[0] = '\0';
		return -1;
	}
	rc = imap_select(c, mailbox, read_only, err);
	c->ahead_tag[0] = '\0'; /* unanswered only when rc < 0 */
	if (c->ahead_err.kind != ERR_NONE) {
		/* The first failure is the one to report. */
		*err = c->ahead_err;
		return -1;
	}
	return rc;
}

int
imap_select(struct imap_client *c, const char *mailbox, bool read_only,
    struct err *err)
{
	char *q = imap_quote(mailbox);
	int rc;
	memset(&c->box, 0, sizeof(c->box));
	/* RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected. */
	free(c->selected);
	c->selected = NULL;
	c->selecting = mailbox;
	rc = imap_run(c, NULL, NULL, NULL, err, "%s %s",
	    read_only ? "EXAMINE" : "SELECT", q);
	c->selecting = NULL;
	free(q);
	c->changes = 0;
	if (rc == 0)
		c->selected = xstrdup(mailbox);
	if (rc == 0 && c->box.uidvalidity == 0)
		return err_set(err, ERR_PROTO,
		    "%s: no UIDVALIDITY in the reply to SELECT %s", c->name,
		    mailbox);
	return rc;
}

void
imap_close(struct imap_client **cp)
{
	struct imap_client *c = *cp;
	if (!c)
		return;
	if (c->conn && !c->broken && !c->bye) {
		struct err e;
		conn_set_timeout(c->conn, 5000);
		imap_run(c, NULL, NULL, NULL, &e, "LOGOUT");
	}
	if (c->conn && log_debug_level > 0 && conn_is_deflate(c->conn)) {
		unsigned long long ri, wi, ro, wo;
		conn_deflate_stats(c->conn, &ri, &wi, &ro, &wo);
		log_debug("COMPRESS: read %llu bytes (wire %llu, %.1fx), "
		    "wrote %llu bytes (wire %llu)", ri, wi,
		    wi ? (double)ri / (double)wi : 0.0, ro, wo);
	}
	conn_free(&c->conn);
	imap_parse_free(&c->parser);
	imap_caps_free(&c->caps);
	free(c->bye_text);
	free(c->selected);
	free(c->name);
	free(c);
	*cp = NULL;
}

static int
idle_start(struct imap_client *c, struct err *err)
{
	const struct imap_resp *r;
	bool lf = false;
	struct err le;

	if (c->broken)
		return err_set(err, ERR_TEMP, "%s: connection unusable", c->name);
	if (!imap_capable(c, "IDLE"))
		return err_set(err, ERR_REFUSED,
		    "%s: the server does not support IDLE (RFC 2177)", c->name);
	c->idle_ended = false;
	if (send_command(c, "IDLE", false, c->idle_tag, err) < 0)
		return -1;
	for (;;) {
		if (!(r = read_resp(c, NULL, NULL, &lf, &le, err)))
			return -1;
		if (r->kind == IMAP_RESP_CONTINUE)
			return 0;
		if (r->kind == IMAP_RESP_TAGGED) {
			c->idle_tag[0] = '\0';
			return err_set(err, ERR_REFUSED, "%s: IDLE refused: %s %s",
			    c->name, r->status ? r->status : "?", r->text);
		}
	}
}

int
imap_idle_start(struct imap_client *c, struct err *err)
{
	int r;
	conn_budget_start(c->conn);
	r = idle_start(c, err);
	conn_budget_stop(c->conn);
	return r;
}

int
imap_idle_wait(struct imap_client *c, int timeout_ms,
    const volatile sig_atomic_t *wake, struct err *err)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int pr;

	c->changes = 0;
	for (;;) {
		struct pollfd pfd = {conn_fd(c->conn), POLLIN, 0};
		uint64_t now;

		if (*wake || c->idle_ended)
			return 0;
		if (conn_readable(c->conn)) {
			bool lf = false;
			struct err le;
			const struct imap_resp *r;

			conn_budget_start(c->conn);
			r = read_resp(c, NULL, NULL, &lf, &le, err);
			conn_budget_stop(c->conn);
			if (!r)
				return -1;
			if (c->bye)
				return conn_lost(c, err);
			if (r->kind == IMAP_RESP_TAGGED) {
				/* Some servers end a long IDLE themselves. */
				c->idle_ended = true;
				c->idle_tag[0] = '\0';
				return 0;
			}
			if (c->changes)
				return 1;
			continue;
		}
		now = now_ms();
		if (now >= deadline)
			return 0;
		/* *wake tested again with the signals blocked: one that came
		 * since the test above is pending and ends the wait at once
		 * (EINTR), see sigwait.h. */
		sigwait_block();
		pr = 0;
		if (!*wake) {
			sigwait_test_hook();
			pr = sigwait_poll(&pfd, 1, (int)(deadline - now));
		}
		sigwait_unblock();
		if (pr < 0 && errno != EINTR)
			return err_sys(err, ERR_TEMP, "%s: poll", c->name);
	}
}

static int
idle_done(struct imap_client *c, struct err *err)
{
	const struct imap_resp *r;
	bool lf = false;
	struct err le;

	if (c->idle_ended || !c->idle_tag[0]) {
		c->idle_ended = false;
		return 0;
	}
	log_trace("C", "DONE", 4);
	if (conn_writes(c->conn, "DONE\r\n", err) < 0 ||
	    conn_flush(c->conn, err) < 0) {
		c->broken = true;
		return -1;
	}
	for (;;) {
		if (!(r = read_resp(c, NULL, NULL, &lf, &le, err)))
			return -1;
		if (r->kind != IMAP_RESP_TAGGED)
			continue;
		c->idle_tag[0] = '\0';
		if (r->status && strcmp(r->status, "OK") == 0)
			return 0;
		return err_set(err, ERR_PROTO, "%s: IDLE ended with %s %s",
		    c->name, r->status ? r->status : "?", r->text);
	}
}

int
imap_idle_done(struct imap_client *c, struct err *err)
{
	int r;
	conn_budget_start(c->conn);
	r = idle_done(c, err);
	conn_budget_stop(c->conn);
	return r;
}

void
imap_keepalive(struct imap_client *c)
{
	conn_set_keepalive(c->conn);
}
