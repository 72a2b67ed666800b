#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "perl_state.h"
#include "pull_state.h"
#include "status.h"

/* Enough for a glance; the database has the rest. */
#define MAX_REJECTED 10

static const char *
utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
	return buf;
}

/* meta values are Unix times written by pull_run(). */
static const char *
utc_str(const char *s, char *buf, size_t len)
{
	char *end;
	long long t;
	errno = 0;
	t = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return s;
	return utc(t, buf, len);
}

static int
perl_status(const struct pull_conf *pc, FILE *out, struct err *err)
{
	struct perl_state ps;
	if (perl_state_read(pc->statefile, &ps, err) < 0)
		return -1;
	fprintf(out, "statefile: %s (the Perl pullimap's; the next run "
		     "imports it)\n", pc->statefile);
	fprintf(out, "mailbox: %s\n", pc->mailbox);
	fprintf(out, "UIDVALIDITY: %" PRIu32 "\n", ps.uidvalidity);
	fprintf(out, "UIDNEXT: %" PRIu32 "\n", ps.uidnext);
	fprintf(out, "pending: %zu (delivered, not yet \\Seen)\n",
	    ps.npending);
	perl_state_free(&ps);
	return 0;
}

static int
print_meta(struct pull_state *s, time_t last_run, FILE *out,
    struct err *err)
{
	char *msg = NULL, *at = NULL, b1[64], b2[64];
	int r;

	fprintf(out, "last run: %s\n", utc(last_run, b1, sizeof(b1)));
	if ((r = pull_state_get_meta(s, "last_error", &msg, err)) > 0 &&
	    (r = pull_state_get_meta(s, "last_error_at", &at, err)) >= 0)
		fprintf(out, "last error: %s%s%s\n",
		    at ? utc_str(at, b2, sizeof(b2)) : "", at ? ": " : "", msg);
	else if (r == 0)
		fprintf(out, "last error: none\n");
	free(msg);
	free(at);
	return r < 0 ? -1 : 0;
}

/* The lines of a state opened read-only. */
static int
print_state(const struct pull_conf *pc, struct pull_state *s, time_t last_run,
    FILE *out, struct err *err)
{
	struct pull_state_summary sum;
	struct pull_state_rejection *rej = NULL;
	size_t nrej = 0;
	char *name = NULL, tbuf[64];
	uint32_t uv = 0, un = 0;
	int r, rc = -1;

	if ((r = pull_state_get_mailbox(s, &name, &uv, &un, err)) < 0 ||
	    pull_state_summary(s, &sum, err) < 0) {
		free(name);
		return -1;
	}
	fprintf(out, "statefile: %s\n", pc->statefile);
	fprintf(out, "mailbox: %s\n", r > 0 ? name : pc->mailbox);
	if (r > 0) {
		fprintf(out, "UIDVALIDITY: %" PRIu32 "\n", uv);
		fprintf(out, "UIDNEXT: %" PRIu32 "\n", un);
	} else {
		fprintf(out, "UIDVALIDITY: unknown (the mailbox was never "
			     "selected)\n");
	}
	fprintf(out, "delivered: %" PRIu64 " messages, %" PRIu64 " bytes\n",
	    sum.ndelivered, sum.bytes);
	if (sum.has_last)
		fprintf(out, "last delivery: %s, UID %" PRIu32 ", %s\n",
		    utc(sum.last_at, tbuf, sizeof(tbuf)), sum.last_uid,
		    sum.last_reply ? sum.last_reply : "(no reply recorded)");
	fprintf(out, "rejected: %" PRIu64 " messages\n", sum.nrejected);
	if (sum.nrejected > 0) {
		if (pull_state_rejections(s, MAX_REJECTED, &rej, &nrej,
			err) < 0)
			goto out;
		for (size_t i = 0; i < nrej; i++)
			fprintf(out, "  UID %" PRIu32 ", %s: %s\n", rej[i].uid,
			    utc(rej[i].at, tbuf, sizeof(tbuf)),
			    rej[i].reply ? rej[i].reply : "(no reply)");
		if (sum.nrejected > nrej)
			fprintf(out, "  ... and %" PRIu64 " more\n",
			    sum.nrejected - nrej);
		pull_state_rejections_free(rej, nrej);
	}
	fprintf(out, "pending: %" PRIu64 " (delivered, not yet \\Seen)\n",
	    sum.npending);
	if (print_meta(s, last_run, out, err) < 0)
		goto out;
	rc = 0;
out:
	pull_state_summary_free(&sum);
	free(name);
	return rc;
}

/* A writer that starts while we read can change the file under a reader
 * that found no WAL (see state_unchanged()): read again, a few times. */
#define READ_ATTEMPTS 3

int
pull_status(const struct pull_conf *pc, FILE *out, struct err *err)
{
	struct stat sb;
	int r;

	/* Do not create it: a status must not change anything. */
	if (stat(pc->statefile, &sb) < 0) {
		if (errno != ENOENT)
			return err_sys(err, ERR_SYS, "cannot stat %s",
			    pc->statefile);
		fprintf(out, "no state yet for %s (never run)\n", pc->section);
		return 0;
	}
	if ((r = perl_state_detect(pc->statefile, err)) != 0)
		return r < 0 ? -1 : perl_status(pc, out, err);
	for (int attempt = 1;; attempt++) {
		struct pull_state *s;
		char *text = NULL;
		size_t len = 0;
		FILE *mem;
		bool same;

		/* Read-only and lock-free: beside a running pullimap. */
		r = pull_state_open_readonly(pc->statefile, &s, err);
		if (r <= 0) {
			if (r == 0)
				fprintf(out, "no state yet for %s (never "
					     "run)\n", pc->section);
			return r;
		}
		/* Printed once the read is known to be consistent. */
		if (!(mem = open_memstream(&text, &len))) {
			pull_state_close(&s);
			return err_sys(err, ERR_SYS, "open_memstream");
		}
		r = print_state(pc, s, sb.st_mtime, mem, err);
		same = pull_state_unchanged(s);
		pull_state_close(&s);
		if (fclose(mem) != 0 && r == 0)
			r = err_sys(err, ERR_SYS, "open_memstream");
		if (same && r == 0)
			fwrite(text, 1, len, out);
		free(text);
		if (same)
			return r;
		if (attempt == READ_ATTEMPTS)
			return err_set(err, ERR_TEMP, "%s: changed while it "
			    "was read, %d times: try again", pc->statefile,
			    READ_ATTEMPTS);
		if (stat(pc->statefile, &sb) < 0)
			return err_sys(err, ERR_SYS, "cannot stat %s",
			    pc->statefile);
	}
}
