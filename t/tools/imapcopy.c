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
 * Each batch is one imap_xfer_run() (common/imap_xfer.h, which interimap's
 * message sync uses too): B's literals are streamed from A's FETCH, each
 * message's bytes going through the engines' fixed buffers, never held
 * whole. An APPEND cannot be cancelled once its literals started: on a
 * failure mid-batch the connection to B is dropped, and B's server
 * discards the half-received command. MAILBOX_B is sent as given (wire
 * form).
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
#include "imap_xfer.h"
#include "imapc.h"
#include "log.h"
#include "uidlist.h"

struct copy;

struct msg {
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
	uint64_t copied, bytes;
};

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

/* --- one batch: common/imap_xfer.h --------------------------------- */

static int
run_batch(struct copy *cp, struct err *err)
{
	struct imap_xfer x = {cp->a.c, cp->b.c, cp->b.mailbox, cp->timeout_ms,
	    NULL, NULL, NULL, NULL};
	struct imap_xfer_msg *v = xcalloc(cp->end - cp->first, sizeof(*v));
	struct uidset uids = UIDSET_INIT;
	uint32_t uidvalidity;
	struct buf b;
	int rc;

	for (size_t i = cp->first; i < cp->end; i++) {
		struct msg *m = &cp->msgs[i];
		struct imap_xfer_msg *xm = &v[i - cp->first];
		xm->uid = m->uid;
		xm->size = m->size;
		xm->flags = (const char *const *)m->flags;
		xm->nflags = m->nflags;
		xm->internaldate = m->date;
	}
	rc = imap_xfer_run(&x, v, cp->end - cp->first, &uidvalidity, &uids,
	    err);
	free(v);
	if (rc < 0) {
		/* An APPEND cut short cannot be cancelled: B is gone. */
		if (!imapc_usable(cp->b.c))
			err_prefix(err, "connection to B dropped, its APPEND "
			    "being unfinished");
		uidset_free(&uids);
		return -1;
	}
	if (uidvalidity == 0) {
		printf("batch %zu: %zu messages, no APPENDUID\n", cp->batch_no,
		    cp->end - cp->first);
	} else {
		buf_init(&b, 1 << 20);
		uidset_format(&b, &uids);
		printf("batch %zu: %zu messages, APPENDUID %" PRIu32 " %s\n",
		    cp->batch_no, cp->end - cp->first, uidvalidity, b.data);
		buf_free(&b);
	}
	for (size_t i = cp->first; i < cp->end; i++) {
		cp->copied++;
		cp->bytes += cp->msgs[i].size;
	}
	uidset_free(&uids);
	return 0;
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
