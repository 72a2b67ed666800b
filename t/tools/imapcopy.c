/* imapcopy: copies every message of a mailbox on server A to a mailbox on
 * server B the way interimap will, as a proof of the engine (imapc.h) with
 * two connections in flight:
 *
 *   A: UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)   metadata first
 *   then per batch (at most -n messages, -s bytes), both at once:
 *   A: UID FETCH uids (BODY.PEEK[])
 *   B: APPEND mbox (flags) "date" {size+} ... (flags) "date" {size+} ...
 *      (MULTIAPPEND, RFC 3502: one command for the batch)
 *
 * B's literals are streamed from A's: each message's source returns
 * IMAP_SOURCE_AGAIN until A's FETCH offers that message; A's literal
 * handler then makes it B's current message and steps B (waiting on both)
 * until B's writer took all of its bytes. Nothing holds a message: the
 * bytes go through the engines' fixed buffers (messages up to the parser's
 * inline limit, 64 KiB, arrive whole in the FETCH response and are fed from
 * there). An APPEND cannot be cancelled once its literals started: on any
 * failure mid-batch the connection to B is dropped, and B's server
 * discards the half-received command.
 *
 * Usage: imapcopy [-d] [-n N] [-s BYTES] [-t SECONDS]
 *            HOST_A PORT_A USER_A PASS_A MAILBOX_A
 *            HOST_B PORT_B USER_B PASS_B MAILBOX_B
 * Plain IMAP over TCP with LOGIN (a test tool: the passwords are on the
 * command line). Prints per batch its APPENDUID, then the totals and the
 * peak RSS ("maxrss_kib N", from getrusage); one line on stderr and a
 * non-zero status on any failure. */

#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "buf.h"
#include "conn.h"
#include "err.h"
#include "imap_cmd.h"
#include "imap_data.h"
#include "imap_auth.h"
#include "imapc.h"
#include "log.h"
#include "uidlist.h"

struct copy;

struct msg {
	struct copy *cp;
	uint32_t seq, uid;
	uint64_t size;
	char **flags; /* without \Recent */
	size_t nflags;
	char *date;
};

struct side {
	const char *name, *host, *port, *user, *pass, *mailbox;
	struct imapc *c;
};

struct copy {
	struct side a, b;
	int timeout_ms;
	size_t batch_max;
	uint64_t batch_bytes;
	struct msg *msgs;
	size_t n, cap;
	uint32_t exists;
	/* The batch in flight: msgs[first..end). */
	size_t first, end, batch_no;
	size_t next;          /* the message A's FETCH is to deliver next */
	struct msg *cur;      /* the one B's writer may read now, or NULL */
	uint64_t cur_left;
	const char *cur_mem;  /* its bytes when A sent them inline */
	bool starved;         /* a source found none of A's bytes buffered */
	bool a_done, b_done;
	bool failed;          /* err holds the first failure */
	struct err err;
	uint64_t copied, bytes;
};

static void
fail(struct copy *cp, const struct err *e)
{
	if (!cp->failed) {
		cp->failed = true;
		cp->err = *e;
	}
}

/* --- connection ------------------------------------------------------ */

static int
side_open(struct side *s, int timeout_ms, struct err *err)
{
	struct imap_opts o;

	/* What interimap's configuration would say for a test server. */
	imap_opts_init(&o);
	o.type = IMAP_TYPE_IMAP;
	o.starttls = false;
	o.host = s->host;
	o.port = s->port;
	o.auth[0] = IMAP_AUTH_LOGIN;
	o.n_auth = 1;
	o.username = s->user;
	o.password = s->pass;
	o.compress = false;
	s->c = imap_login(&o, s->name, NULL, timeout_ms, err);
	return s->c ? 0 : -1;
}

/* --- metadata -------------------------------------------------------- */

static int
examine_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct copy *cp = ctx;
	(void)err;
	if (imap_data_kind(r) != IMAP_DATA_EXISTS)
		return 0;
	cp->exists = r->num;
	return 1;
}

static int
meta_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE;
	struct copy *cp = ctx;
	struct imap_fetch f;
	struct msg *m;
	int k;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if ((k = imap_fetch_parse(r, &f, err)) <= 0)
		return k;
	if ((f.have & need) != need)
		return 0; /* an unsolicited FETCH (flags) */
	cp->msgs = xgrow(cp->msgs, &cp->cap, cp->n + 1, sizeof(*cp->msgs));
	m = &cp->msgs[cp->n++];
	memset(m, 0, sizeof(*m));
	m->cp = cp;
	m->seq = f.seq;
	m->uid = f.uid;
	m->size = f.size;
	m->date = xstrdup(f.internaldate);
	m->flags = xcalloc(f.flags.n ? f.flags.n : 1, sizeof(*m->flags));
	for (size_t i = 0; i < f.flags.n; i++)
		/* RFC 3501 §2.3.2: \Recent is the server's to set. */
		if (!str_ieq(f.flags.v[i].str, "\\Recent"))
			m->flags[m->nflags++] = xstrdup(f.flags.v[i].str);
	return 1;
}

static int
by_uid(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int
read_metadata(struct copy *cp, struct err *err)
{
	struct imapc_handlers h = {examine_untagged, NULL, NULL, NULL, cp};
	struct imap_cmd *cmd = imap_cmd_new("EXAMINE");

	if (imap_cmd_mailbox(cmd, cp->a.mailbox, err) < 0) {
		imap_cmd_free(&cmd);
		return err_prefix(err, "A: mailbox \"%s\"", cp->a.mailbox);
	}
	if (imapc_run(cp->a.c, cmd, &h, cp->timeout_ms, err) < 0)
		return -1;
	if (cp->exists == 0)
		return 0;
	h.untagged = meta_untagged;
	cmd = imap_cmd_new("UID FETCH");
	imap_cmd_range(cmd, 1, IMAP_CMD_STAR);
	imap_cmd_raw(cmd, "(UID RFC822.SIZE FLAGS INTERNALDATE)");
	if (imapc_run(cp->a.c, cmd, &h, cp->timeout_ms, err) < 0)
		return -1;
	qsort(cp->msgs, cp->n, sizeof(*cp->msgs), by_uid);
	return 0;
}

/* --- B's literal sources --------------------------------------------- */

static ssize_t
msg_source(void *ctx, char *buf, size_t n, struct err *err)
{
	struct msg *m = ctx;
	struct copy *cp = m->cp;
	ssize_t k;

	if (cp->cur != m)
		return IMAP_SOURCE_AGAIN; /* A has not offered it yet */
	if (n > cp->cur_left)
		n = (size_t)cp->cur_left;
	if (cp->cur_mem) {
		memcpy(buf, cp->cur_mem, n);
		cp->cur_mem += n;
		k = (ssize_t)n;
	} else {
		k = imapc_literal_read_nb(cp->a.c, buf, n, err);
		if (k == IMAP_SOURCE_AGAIN) {
			cp->starved = true;
			return k;
		}
		if (k == 0)
			return err_set(err, ERR_PROTO, "A: UID %" PRIu32 ": "
			    "literal ended early", m->uid);
		if (k < 0)
			return -1;
	}
	cp->cur_left -= (uint64_t)k;
	if (cp->cur_left == 0)
		cp->cur = NULL;
	return k;
}

/* --- A's FETCH: hand each message to B ------------------------------- */

/* The message A's FETCH response f is about: the next of the batch, in
 * the order the APPEND lists them. */
static struct msg *
expected(struct copy *cp, const struct imap_fetch *f, uint64_t size,
    struct err *err)
{
	struct msg *m;

	if (cp->next >= cp->end) {
		err_set(err, ERR_PROTO, "A: FETCH sent a message more than "
		    "asked for (seq %" PRIu32 ")", f->seq);
		return NULL;
	}
	m = &cp->msgs[cp->next];
	if ((f->have & IMAP_FETCH_UID) ? f->uid != m->uid : f->seq != m->seq) {
		err_set(err, ERR_PROTO, "A: FETCH sent %s %" PRIu32 " where UID "
		    "%" PRIu32 " was expected (the APPEND lists A's order)",
		    (f->have & IMAP_FETCH_UID) ? "UID" : "seq",
		    (f->have & IMAP_FETCH_UID) ? f->uid : f->seq, m->uid);
		return NULL;
	}
	if (size != m->size) {
		/* B was promised m->size bytes in the literal's header. */
		err_set(err, ERR_PROTO, "A: UID %" PRIu32 ": BODY[] is %" PRIu64
		    " bytes but RFC822.SIZE said %" PRIu64, m->uid, size,
		    m->size);
		return NULL;
	}
	return m;
}

/* Makes m B's current message and steps B until its writer took all of
 * m's bytes: from mem, or from A's literal (then A is waited on as well
 * whenever the source found nothing buffered). */
static int
feed(struct copy *cp, struct msg *m, const char *mem, struct err *err)
{
	cp->cur = m;
	cp->cur_left = m->size;
	cp->cur_mem = mem;
	while (cp->cur_left > 0) {
		struct imapc *ws[2] = {cp->b.c, cp->a.c};
		int r;

		cp->starved = false;
		r = imapc_step(cp->b.c, err);
		if (r < 0 || cp->failed) {
			if (cp->failed)
				*err = cp->err;
			return -1;
		}
		if (cp->cur_left == 0)
			break;
		if (cp->b_done)
			return err_set(err, ERR_PROTO, "B: APPEND ended before "
			    "UID %" PRIu32 " was sent", m->uid);
		if (r > 0)
			continue;
		r = imapc_wait(ws, cp->starved && !mem ? 2 : 1, cp->timeout_ms,
		    err);
		if (r < 0)
			return -1;
		if (r == 0)
			return err_set(err, ERR_TEMP, "timeout (%d s without "
			    "progress) copying UID %" PRIu32,
			    cp->timeout_ms / 1000, m->uid);
	}
	cp->cur = NULL;
	cp->next++;
	cp->copied++;
	cp->bytes += m->size;
	return 0;
}

static int
a_literal(void *ctx, const struct imap_resp *p, const struct imap_arg *cont,
    size_t count, uint64_t size, struct err *err)
{
	struct copy *cp = ctx;
	struct imap_fetch f;
	const char *item;
	struct msg *m;
	int k = imap_fetch_parse_partial(p, cont, count, &f, &item, err);

	if (k <= 0)
		return k;
	if (!str_ieq(item, "BODY[]"))
		return 0;
	if (!(m = expected(cp, &f, size, err)) || feed(cp, m, NULL, err) < 0) {
		fail(cp, err);
		return -1;
	}
	return 1;
}

static int
a_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct copy *cp = ctx;
	struct imap_fetch f;
	struct msg *m;
	int k;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if ((k = imap_fetch_parse(r, &f, err)) <= 0)
		return k;
	if (!(f.have & IMAP_FETCH_BODY))
		return 0; /* unsolicited: not the batch's */
	if (f.body->type == IMAP_ARG_LITERAL_STREAMED)
		return 1; /* a_literal fed it */
	if (f.body->type != IMAP_ARG_LITERAL && f.body->type != IMAP_ARG_STRING) {
		err_set(err, ERR_PROTO, "A: UID %" PRIu32 ": BODY[] is NIL",
		    f.uid);
		fail(cp, err);
		return -1;
	}
	if (!(m = expected(cp, &f, f.body->len, err)) ||
	    feed(cp, m, f.body->str, err) < 0) {
		fail(cp, err);
		return -1;
	}
	return 1;
}

static void
a_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct copy *cp = ctx;
	struct err e;
	(void)tagged;
	cp->a_done = true;
	if (err) {
		fail(cp, err);
	} else if (cp->next < cp->end) {
		err_set(&e, ERR_PROTO, "A: FETCH ended without UID %" PRIu32
		    " (expunged meanwhile?)", cp->msgs[cp->next].uid);
		fail(cp, &e);
	}
}

static void
b_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct copy *cp = ctx;
	struct uidset uids = UIDSET_INIT;
	uint32_t uidvalidity = 0;
	struct buf b;
	struct err e;
	int k;

	cp->b_done = true;
	if (err) {
		fail(cp, err);
		return;
	}
	buf_init(&b, 1 << 20);
	k = imap_code_appenduid(tagged, &uidvalidity, &uids, &e);
	if (k < 0) {
		fail(cp, &e);
	} else if (k == 0) {
		printf("batch %zu: %zu messages, no APPENDUID\n", cp->batch_no,
		    cp->end - cp->first);
	} else if (uidset_count(&uids) != cp->end - cp->first) {
		err_set(&e, ERR_PROTO, "B: APPENDUID lists %" PRIu64 " UIDs for "
		    "%zu messages", uidset_count(&uids), cp->end - cp->first);
		fail(cp, &e);
	} else {
		uidset_format(&b, &uids);
		printf("batch %zu: %zu messages, APPENDUID %" PRIu32 " %s\n",
		    cp->batch_no, cp->end - cp->first, uidvalidity, b.data);
	}
	buf_free(&b);
	uidset_free(&uids);
}

/* --- one batch ------------------------------------------------------- */

static int
submit_batch(struct copy *cp, struct err *err)
{
	struct imapc_handlers ha = {a_untagged, a_literal, NULL, a_done, cp};
	struct imapc_handlers hb = {NULL, NULL, NULL, b_done, cp};
	struct uidset set = UIDSET_INIT;
	struct imap_cmd *app = imap_cmd_new("APPEND"), *fetch;

	if (imap_cmd_mailbox(app, cp->b.mailbox, err) < 0) {
		imap_cmd_free(&app);
		return err_prefix(err, "B: mailbox \"%s\"", cp->b.mailbox);
	}
	for (size_t i = cp->first; i < cp->end; i++) {
		struct msg *m = &cp->msgs[i];
		imap_cmd_list_open(app);
		for (size_t j = 0; j < m->nflags; j++)
			if (imap_cmd_flag(app, m->flags[j], err) < 0) {
				imap_cmd_free(&app);
				return err_prefix(err, "UID %" PRIu32, m->uid);
			}
		imap_cmd_list_close(app);
		if (imap_cmd_quoted(app, m->date, strlen(m->date), err) < 0) {
			imap_cmd_free(&app);
			return err_prefix(err, "UID %" PRIu32, m->uid);
		}
		imap_cmd_literal_stream(app, m->size, false, msg_source, m);
		uidset_add(&set, m->uid, m->uid);
	}
	fetch = imap_cmd_new("UID FETCH");
	imap_cmd_uidset(fetch, &set);
	imap_cmd_raw(fetch, "(BODY.PEEK[])");
	uidset_free(&set);
	cp->a_done = cp->b_done = false;
	cp->next = cp->first;
	cp->cur = NULL;
	imapc_submit(cp->b.c, app, &hb);
	imapc_submit(cp->a.c, fetch, &ha);
	return 0;
}

static int
run_batch(struct copy *cp, struct err *err)
{
	if (submit_batch(cp, err) < 0)
		return -1;
	while (!cp->failed && (!cp->a_done || !cp->b_done)) {
		struct imapc *ws[2];
		size_t n = 0;
		int ra = 0, rb = 0, r;

		if (!cp->a_done && (ra = imapc_step(cp->a.c, err)) < 0)
			fail(cp, err);
		if (!cp->failed && !cp->b_done &&
		    (rb = imapc_step(cp->b.c, err)) < 0)
			fail(cp, err);
		if (cp->failed || ra > 0 || rb > 0)
			continue;
		if (!cp->a_done)
			ws[n++] = cp->a.c;
		if (!cp->b_done)
			ws[n++] = cp->b.c;
		if (n == 0)
			break;
		r = imapc_wait(ws, n, cp->timeout_ms, err);
		if (r < 0)
			fail(cp, err);
		else if (r == 0) {
			err_set(err, ERR_TEMP, "timeout (%d s without progress)",
			    cp->timeout_ms / 1000);
			fail(cp, err);
		}
	}
	if (!cp->failed)
		return 0;
	*err = cp->err;
	if (!cp->b_done) {
		/* Its literals may have started: it cannot be cancelled. */
		imapc_free(&cp->b.c);
		err_prefix(err, "connection to B dropped, its APPEND being "
		    "unfinished");
	}
	return -1;
}

/* --- main ------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fprintf(f, "usage: imapcopy [-d] [-n N] [-s BYTES] [-t SECONDS] "
		   "HOST_A PORT_A USER_A PASS_A MAILBOX_A "
		   "HOST_B PORT_B USER_B PASS_B MAILBOX_B\n");
}

static void
side_args(struct side *s, const char *name, char **argv)
{
	s->name = name;
	s->host = argv[0];
	s->port = argv[1];
	s->user = argv[2];
	s->pass = argv[3];
	s->mailbox = argv[4];
}

static int
copy_all(struct copy *cp, struct err *err)
{
	uint64_t t0 = now_ms();

	if (side_open(&cp->a, cp->timeout_ms, err) < 0 ||
	    side_open(&cp->b, cp->timeout_ms, err) < 0 ||
	    read_metadata(cp, err) < 0)
		return -1;
	if (!imapc_capable(cp->b.c, "MULTIAPPEND"))
		cp->batch_max = 1;
	printf("A: %zu messages in %s\n", cp->n, cp->a.mailbox);
	for (cp->first = 0; cp->first < cp->n; cp->first = cp->end) {
		uint64_t bytes = 0;
		cp->end = cp->first;
		while (cp->end < cp->n && cp->end - cp->first < cp->batch_max &&
		    (cp->end == cp->first ||
		    bytes + cp->msgs[cp->end].size <= cp->batch_bytes))
			bytes += cp->msgs[cp->end++].size;
		cp->batch_no++;
		if (run_batch(cp, err) < 0)
			return -1;
	}
	printf("copied %" PRIu64 " messages, %" PRIu64 " bytes in %.2f s\n",
	    cp->copied, cp->bytes, (double)(now_ms() - t0) / 1000.0);
	/* Polite, and a check that both connections are still in order. */
	if (imapc_run(cp->b.c, imap_cmd_new("LOGOUT"), NULL, cp->timeout_ms,
	    err) < 0 || imapc_run(cp->a.c, imap_cmd_new("LOGOUT"), NULL,
	    cp->timeout_ms, err) < 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct copy cp = {0};
	struct rusage ru;
	struct err err = {0};
	int opt, rc;
	uint32_t v;

	signal(SIGPIPE, SIG_IGN);
	cp.batch_max = 100;
	cp.batch_bytes = 32u << 20;
	cp.timeout_ms = 60000;
	while ((opt = getopt(argc, argv, "dn:s:t:h")) != -1) {
		switch (opt) {
		case 'd':
			log_debug_level++;
			break;
		case 'n':
		case 's':
		case 't':
			if (parse_u32_str(optarg, &v) < 0 || v == 0) {
				usage(stderr);
				return 64;
			}
			if (opt == 'n')
				cp.batch_max = v;
			else if (opt == 's')
				cp.batch_bytes = v;
			else
				cp.timeout_ms = v > 86400 ? 86400000 : (int)v * 1000;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (argc - optind != 10) {
		usage(stderr);
		return 64;
	}
	side_args(&cp.a, "A", argv + optind);
	side_args(&cp.b, "B", argv + optind + 5);
	rc = copy_all(&cp, &err);
	fflush(stdout);
	if (rc < 0)
		fprintf(stderr, "imapcopy: %s\n", err.msg);
	imapc_free(&cp.a.c);
	imapc_free(&cp.b.c);
	for (size_t i = 0; i < cp.n; i++) {
		for (size_t j = 0; j < cp.msgs[i].nflags; j++)
			free(cp.msgs[i].flags[j]);
		free(cp.msgs[i].flags);
		free(cp.msgs[i].date);
	}
	free(cp.msgs);
	if (rc == 0 && getrusage(RUSAGE_SELF, &ru) == 0)
		printf("maxrss_kib %ld\n", ru.ru_maxrss);
	return rc < 0 ? err_exitcode(err.kind) : 0;
}
