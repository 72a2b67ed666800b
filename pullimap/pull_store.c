#include "util.h"

#include <stdlib.h>

#include "imap_cmd.h"
#include "imapc.h"
#include "plog.h"
#include "pull_p.h"
#include "pull_state.h"

struct imap_cmd *
pull_store_cmd(struct uidset *set, size_t *pos, const char *flag)
{
	struct imap_cmd *cmd = imap_cmd_new("UID STORE");
	struct err e;

	imap_cmd_uidset_chunk(cmd, set, pos, 8000);
	imap_cmd_raw(cmd, "+FLAGS.SILENT");
	imap_cmd_list_open(cmd);
	if (imap_cmd_flag(cmd, flag, &e) < 0)
		abort(); /* our own flags: \Seen, \Deleted, the keyword */
	imap_cmd_list_close(cmd);
	return cmd;
}

/* Submits the STOREs of a flag on UIDs, in commands of bounded length,
 * without waiting: their first failure goes to o (which must live until
 * they are done: imapc_sync()). */
static void
store_submit(struct pull *p, const uint32_t *u, size_t n, const char *flag,
    struct pull_outcome *o)
{
	struct imapc_handlers h = {NULL, NULL, NULL, pull_outcome_done, o};
	struct uidset set = UIDSET_INIT;
	size_t pos = 0;

	pull_uidset_of(&set, u, n);
	while (pos < set.n)
		imapc_submit(p->imap, pull_store_cmd(&set, &pos, flag), &h);
	uidset_free(&set);
}

int
pull_store_seen(struct pull *p, struct err *err)
{
	uint32_t *u = NULL, *f = NULL;
	size_t n = 0, nf = 0;
	struct pull_outcome seen = {0}, flagged = {0};
	bool keywords = imapc_selected(p->imap)->permanent_keywords;
	int rc = -1;

	/* Everything journaled but not yet \Seen, including messages
	 * delivered by a run that died before it could say so; and the
	 * rejected ones not flagged yet. Their STOREs go out together, and
	 * each is recorded once the server said OK. */
	if (pull_state_unseen(p->st, p->uidvalidity, &u, &n, err) < 0 ||
	    pull_state_unflagged(p->st, p->uidvalidity, &f, &nf, err) < 0)
		goto out;
	store_submit(p, u, n, "\\Seen", &seen);
	if (nf > 0 && keywords)
		store_submit(p, f, nf, PULL_REJECTED_KEYWORD, &flagged);
	if (imapc_sync(p->imap, pull_timeout(p), err) < 0)
		goto out;
	if (seen.failed) {
		*err = seen.err;
		goto out;
	}
	if (pull_state_mark_seen(p->st, p->uidvalidity, u, n, err) < 0)
		goto out;
	if (nf > 0 && !keywords)
		plog_warnx("cannot flag rejected messages with %s: the mailbox "
		    "does not accept keywords", PULL_REJECTED_KEYWORD);
	if (flagged.failed) {
		*err = flagged.err;
		goto out;
	}
	if (nf > 0 && pull_state_mark_flagged(p->st, p->uidvalidity, f, nf,
			  err) < 0)
		goto out;
	rc = 0;
out:
	free(u);
	free(f);
	return rc;
}
