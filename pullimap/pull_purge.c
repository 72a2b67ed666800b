#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "pull_state.h"

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Without UIDPLUS, EXPUNGE removes every \Deleted message of the mailbox:
 * true when no message outside ours carries \Deleted (another client's
 * pending deletion is not ours to complete). A message flagged by another
 * client between this SEARCH and the EXPUNGE can still go with ours. */
static int
only_ours_deleted(struct pull *p, struct uidset *ours, bool *ok_r,
    struct err *err)
{
	struct uidset del = UIDSET_INIT;
	struct pull_criteria crit = {NULL, 0, "DELETED"};
	int rc = pull_search(p, &crit, &del, err);
	if (rc == 0)
		*ok_r = uidset_covers(ours, &del);
	uidset_free(&del);
	return rc;
}

/* Purge what pullimap knows it handled: the UIDs below the recorded
 * UIDNEXT (delivered, or gone, or accepted by --no-delivery or the Perl
 * statefile import) and the journaled ones above it (behind a message
 * left for later); never a rejected one, never one it skipped. The sets
 * stay ranges: whatever the server answers, nothing is sized by it. */
int
pull_purge(struct pull *p, uint32_t uidnext, struct err *err)
{
	char tail[128];
	struct buf set = BUF_INIT(SIZE_MAX);
	struct uidset cand = UIDSET_INIT, *hits = &p->search;
	struct pull_criteria crit = {&cand, 0, tail};
	uint32_t *rej = NULL;
	size_t nrej = 0, pos = 0;
	int rc = -1;

	if (!p->pc->has_purge_after)
		return 0;
	if (uidnext > 1)
		uidset_add(&cand, 1, uidnext - 1);
	for (size_t k = 0; k < p->journaled.n; k++)
		uidset_add(&cand, p->journaled.r[k].lo, p->journaled.r[k].hi);
	uidset_format(&set, &cand);
	if (set.len > 8000) {
		/* A long tail of journaled UIDs waits for a later purge. */
		uidset_clear(&cand);
		if (uidnext > 1)
			uidset_add(&cand, 1, uidnext - 1);
		buf_reset(&set);
		uidset_format(&set, &cand);
	}
	if (cand.n == 0) {
		rc = 0;
		goto out;
	}
	snprintf(tail, sizeof(tail), "NOT KEYWORD %s", PULL_REJECTED_KEYWORD);
	if (p->pc->purge_after_days > 0) {
		/* RFC 3501 SEARCH BEFORE: date only, hence 24h accuracy. */
		time_t t = time(NULL) - (time_t)p->pc->purge_after_days * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(tail, sizeof(tail), "BEFORE %02d-%s-%04d NOT KEYWORD %s",
		    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		    PULL_REJECTED_KEYWORD);
	}
	if (pull_search(p, &crit, hits, err) < 0 ||
	    pull_state_rejected_uids(p->st, p->uidvalidity, &rej, &nrej,
		err) < 0)
		goto out;
	/* Whatever the server answered: only candidates, never a rejected
	 * message (the keyword may be missing: no permanent keywords). */
	uidset_intersect(hits, &cand);
	uidset_remove(hits, rej, nrej);
	rc = 0;
	if (hits->n == 0)
		goto out;
	if (!imapc_capable(p->imap, "UIDPLUS")) {
		bool ok = false;
		if ((rc = only_ours_deleted(p, hits, &ok, err)) < 0)
			goto out;
		if (!ok) {
			plog_warnx("not purging: other messages are marked "
			    "\\Deleted and the server lacks UIDPLUS, so EXPUNGE "
			    "would remove them too");
			goto out;
		}
	}
	if (p->pc->purge_after_days > 0) {
		buf_reset(&set);
		uidset_format(&set, hits);
		plog_info("Removing %llu UID(s) %s",
		    (unsigned long long)uidset_count(hits), set.data);
	}
	while (pos < hits->n && rc == 0) {
		struct pull_outcome o = {0};
		struct imapc_handlers h = {NULL, NULL, NULL,
		    pull_outcome_done, &o};
		size_t from = pos;
		struct imap_cmd *cmd;

		/* The EXPUNGE goes out with the STORE: the server runs them
		 * in order, and removes only what the STORE flagged. */
		imapc_submit(p->imap, pull_store_cmd(hits, &pos, "\\Deleted"),
		    &h);
		if (imapc_capable(p->imap, "UIDPLUS")) {
			/* The same UIDs as the STORE. */
			cmd = imap_cmd_new("UID EXPUNGE");
			imap_cmd_uidset_chunk(cmd, hits, &from, 8000);
		} else {
			cmd = imap_cmd_new("EXPUNGE");
		}
		imapc_submit(p->imap, cmd, &h);
		rc = imapc_sync(p->imap, pull_timeout(p), err);
		if (rc == 0 && o.failed) {
			*err = o.err;
			rc = -1;
		}
	}
out:
	free(rej);
	uidset_free(&cand);
	buf_free(&set);
	return rc;
}
