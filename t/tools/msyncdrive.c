/* msyncdrive: runs interimap/msync.h on mailboxes of two servers, as
 * interimap's main will, for t/interimap/msync.sh: opens (creating) the
 * database and its schema, connects both sides through tunnels
 * (preauthenticated IMAP on a command's stdin/stdout), ENABLE QRESYNC,
 * then for each MAILBOX: adds its row when the database does not know it
 * ("database: Created mailbox MBX"), optionally learns its LIST-STATUS
 * values (-s, for the dirty detection), and calls msync_mailbox().
 *
 * Usage: msyncdrive [-q] [-d] [-s] [-m] [-n N] [-b BYTES] [-t SECONDS]
 *            -l LOCAL_TUNNEL -r REMOTE_TUNNEL DATABASE MAILBOX...
 * MAILBOX is the name with "/" as the hierarchy delimiter on both sides
 * (the test servers'), used as is on the wire. -m prints the peak RSS
 * ("maxrss_kib N") on stdout at the end. Log lines go to stderr as
 * interimap writes them. Exit status: 0; 1 when a mailbox's sync failed
 * (its error logged, as the reference exits 1); another sysexits status
 * for a failure to set up (one line on stderr). */

#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "db.h"
#include "err.h"
#include "ilog.h"
#include "imap_auth.h"
#include "imap_data.h"
#include "imap_verbs.h"
#include "imapc.h"
#include "log.h"
#include "msync.h"

struct status_ctx {
	struct msync_side *s;
};

static int
status_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct status_ctx *sc = ctx;
	struct imap_status st;
	int k = imap_status_parse(r, &st, err);

	if (k <= 0)
		return k == 0 && imap_data_kind(r) == IMAP_DATA_LIST ? 1 : k;
	sc->s->have_status = (st.have & IMAP_STATUS_UIDNEXT) &&
	    (st.have & IMAP_STATUS_HIGHESTMODSEQ) &&
	    (st.have & IMAP_STATUS_UIDVALIDITY);
	sc->s->uidvalidity = st.uidvalidity;
	sc->s->uidnext = st.uidnext;
	sc->s->highestmodseq = st.highestmodseq;
	return 1;
}

/* LIST "" MBX RETURN (STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)), as
 * interimap's mailbox list does (RFC 5819). */
static int
list_status(struct msync_side *s, int timeout_ms, struct err *err)
{
	const char *pat[1] = {s->mailbox};
	struct imap_verb_list l = {NULL, 0, NULL, pat, 1, 0,
	    IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_HIGHESTMODSEQ};
	struct status_ctx sc = {s};
	struct imapc_handlers h = {status_untagged, NULL, NULL, NULL, &sc};
	struct imap_cmd *cmd;

	s->have_status = false;
	if (imap_verb_list(&l, &cmd, err) < 0)
		return -1;
	return imapc_run(s->c, cmd, &h, timeout_ms, err);
}

static int
enabled_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	return imap_verb_enabled_check(r, "QRESYNC", ctx, err);
}

static struct imapc *
connect_side(const char *name, const char *tunnel, int timeout_ms,
    struct err *err)
{
	static const char *const qresync[] = {"QRESYNC"};
	struct imap_opts o;
	struct imapc *c;
	bool enabled = false;
	struct imapc_handlers h = {enabled_untagged, NULL, NULL, NULL,
	    &enabled};

	imap_opts_init(&o);
	o.type = IMAP_TYPE_TUNNEL;
	o.command = tunnel;
	o.compress = false;
	if (!(c = imap_login(&o, name, NULL, timeout_ms, err)))
		return NULL;
	if (imapc_run(c, imap_verb_enable(qresync, 1), &h, timeout_ms,
	    err) < 0 || (!enabled && err_set(err, ERR_PROTO, "%s: Couldn't "
	    "ENABLE QRESYNC", name) < 0)) {
		imapc_free(&c);
		return NULL;
	}
	return c;
}

/* The database's name of a mailbox: "/" becomes NUL, INBOX upper case. */
static char *
internal_name(const char *mbx, size_t *len_r)
{
	char *s = xstrdup(str_ieq(mbx, "INBOX") ? "INBOX" : mbx);
	for (char *p = s; *p; p++)
		if (*p == '/')
			*p = '\0';
	*len_r = strlen(mbx);
	return s;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: msyncdrive [-q] [-d] [-s] [-m] [-n N] [-b BYTES] "
		   "[-t SECONDS] -l LOCAL_TUNNEL -r REMOTE_TUNNEL DATABASE "
		   "MAILBOX...\n");
}

int
main(int argc, char **argv)
{
	struct msync_opts mo = {60000, 0, 0, NULL, NULL};
	const char *ltun = NULL, *rtun = NULL;
	struct imapc *lc = NULL, *rc = NULL;
	bool use_status = false, show_rss = false;
	struct db *db = NULL;
	struct err err = {0};
	char *msg = NULL;
	int opt, status = 0;
	uint64_t v;

	signal(SIGPIPE, SIG_IGN);
	ilog_set_format(NULL);
	while ((opt = getopt(argc, argv, "qdsmn:b:t:l:r:h")) != -1) {
		switch (opt) {
		case 'q':
			log_quiet = true;
			break;
		case 'd':
			log_debug_level++;
			break;
		case 's':
			use_status = true;
			break;
		case 'm':
			show_rss = true;
			break;
		case 'n':
		case 'b':
		case 't':
			if (parse_u64_str(optarg, &v) < 0 || v == 0 ||
			    v > UINT32_MAX) {
				usage(stderr);
				return 64;
			}
			if (opt == 'n')
				mo.batch_max = (unsigned)v;
			else if (opt == 'b')
				mo.batch_bytes = v;
			else
				mo.timeout_ms = v > 86400 ? 86400000
							  : (int)v * 1000;
			break;
		case 'l':
			ltun = optarg;
			break;
		case 'r':
			rtun = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (!ltun || !rtun || argc - optind < 2) {
		usage(stderr);
		return 64;
	}
	if (!(db = db_open(argv[optind], 0, &err)) ||
	    db_schema(db, '/', '/', &msg, &err) < 0)
		goto setup_failed;
	if (msg)
		log_at(LOG_NOTICE, NULL, "%s", msg);
	free(msg);
	msg = NULL;
	if (!(lc = connect_side("local", ltun, mo.timeout_ms, &err)) ||
	    !(rc = connect_side("remote", rtun, mo.timeout_ms, &err)))
		goto setup_failed;

	for (int i = optind + 1; i < argc && status == 0; i++) {
		const char *mbx = argv[i];
		struct msync_side l = {lc, "local", mbx, DB_LOCAL, false, 0, 0, 0};
		struct msync_side r = {rc, "remote", mbx, DB_REMOTE, false, 0, 0,
		    0};
		size_t len;
		char *iname = internal_name(mbx, &len);
		int64_t idx;
		bool sub;
		int k = db_mailbox_get(db, iname, len, &idx, &sub, &err);

		if (k == 0 && (db_mailbox_add(db, iname, len, false, &idx,
		    &err) < 0 || db_commit(db, &err) < 0))
			k = -1;
		else if (k == 0)
			log_at(LOG_NOTICE, ilog_prefix("database", NULL),
			    "Created mailbox %s", mbx);
		free(iname);
		if (k < 0)
			goto setup_failed;
		if (use_status && (list_status(&l, mo.timeout_ms, &err) < 0 ||
		    list_status(&r, mo.timeout_ms, &err) < 0))
			goto setup_failed;
		if (msync_check(db, idx, &l, &r, NULL, &err) < 0 ||
		    msync_mailbox(db, idx, mbx, &l, &r, &mo, &err) < 0)
			status = 1; /* logged */
	}
	if (show_rss) {
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			printf("maxrss_kib %ld\n", ru.ru_maxrss);
	}
	imapc_free(&lc);
	imapc_free(&rc);
	db_close(&db);
	return status;

setup_failed:
	fprintf(stderr, "msyncdrive: %s\n", err.msg);
	free(msg);
	imapc_free(&lc);
	imapc_free(&rc);
	db_close(&db);
	return err_exitcode(err.kind);
}
