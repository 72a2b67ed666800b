#include "util.h"

#include <inttypes.h>
#include <stdlib.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "log.h"
#include "msync_int.h"

/* Messages gone on one side go on the other: the reference's
 * remove_message (L:867) and delete_mapping (I:782), and the VANISHED
 * half of sync_known_messages (I:1040). */

int
ms_unmap(struct ms *ms, uint32_t luid)
{
	struct err e;
	int k = db_map_delete(ms->db, ms->idx, luid, &e);

	if (k < 0)
		return ms_db_fail(ms, &e);
	if (k == 0)
		log_at(LOG_WARN, ilog_prefix("database", NULL), "Can't delete "
		    "(idx,lUID) = (%" PRId64 ",%" PRIu32 ")", ms->idx, luid);
	return 0;
}

/* \Deleted, then UID EXPUNGE; what the server reported VANISHED is
 * expunged ("Removed"), the rest failed ("Couldn't UID EXPUNGE", a
 * warning). */
int
ms_remove(struct ms *ms, struct uidset sets[2])
{
	static const char *const deleted[] = {"\\Deleted"};
	struct err e;

	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		size_t p1 = 0, p2 = 0;
		uidset_normalise(&sets[i]);
		while (p1 < sets[i].n) {
			struct imap_cmd *cmd;
			if (imap_verb_uid_store(&sets[i], &p1,
			    IMAP_VERB_NO_MODSEQ, IMAP_VERB_STORE_ADD, true,
			    deleted, 1, &cmd, &e) < 0)
				return ms_fail_err(ms, b->s->name,
				    b->s->mailbox, &e);
			ms_submit(b, cmd, NULL, NULL);
			ms_submit(b, imap_verb_uid_expunge(&sets[i], &p2),
			    NULL, NULL);
		}
	}
	if (ms_wait(ms) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct ms_box *b = &ms->b[i];
		struct uidset done = UIDSET_INIT, failed = UIDSET_INIT;
		char *t;
		if (ms_set_empty(&sets[i]))
			continue;
		ms_set_copy(&done, &sets[i]);
		uidset_intersect(&done, &b->vanished);
		ms_set_copy(&failed, &sets[i]);
		ms_set_minus(&failed, &done);
		/* Ours, not news to pass on. */
		ms_set_minus(&b->vanished, &done);
		ms_mods_remove(&b->mods, &done);
		if (!ms_set_empty(&done)) {
			t = ms_set_text(&done);
			log_at(LOG_INFO, ms_prefix(b), "Removed %" PRIu64
			    " UID(s) %s", uidset_count(&done), t);
			free(t);
		}
		if (!ms_set_empty(&failed)) {
			t = ms_set_text(&failed);
			log_at(LOG_WARN, ms_prefix(b), "Couldn't UID EXPUNGE %s",
			    t);
			free(t);
		}
		uidset_free(&done);
		uidset_free(&failed);
	}
	return 0;
}

int
ms_expunge_vanished(struct ms *ms, struct ms_pulled *lp,
    struct ms_pulled *rp)
{
	struct uidset rm[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset dunno[2] = {UIDSET_INIT, UIDSET_INIT};
	struct ms_pulled *p[2] = {lp, rp};
	struct err e;
	int rc = -1;

	for (int i = 0; i < 2; i++) {
		struct db_pair *pairs = NULL;
		uint32_t *mine;
		size_t n = 0;
		if (ms_set_empty(&p[i]->vanished))
			continue;
		/* By ranges: a VANISHED (EARLIER) set may be large. */
		if (db_map_find(ms->db, ms->idx, (enum db_side)i,
		    &p[i]->vanished, &pairs, &n, &e) < 0) {
			ms_db_fail(ms, &e);
			goto out;
		}
		mine = xcalloc(n ? n : 1, sizeof(*mine));
		for (size_t k = 0; k < n; k++) {
			uint32_t here = i == DB_LOCAL ? pairs[k].luid
						      : pairs[k].ruid;
			uint32_t there = i == DB_LOCAL ? pairs[k].ruid
						       : pairs[k].luid;
			mine[k] = here;
			/* Unless it vanished there too. */
			if (!uidset_has(&p[1 - i]->vanished, there))
				uidset_add(&rm[1 - i], there, there);
		}
		ms_set_copy(&dunno[i], &p[i]->vanished);
		uidset_remove(&dunno[i], mine, n);
		free(mine);
		free(pairs);
	}
	for (int i = 0; i < 2; i++) {
		char *t;
		if (ms_set_empty(&dunno[i]))
			continue;
		t = ms_set_text(&dunno[i]);
		log_at(LOG_WARN, ms_prefix_mbx(&ms->b[1 - i]), "No match for %"
		    PRIu64 " vanished %s UID(s) %s. Ignoring.",
		    uidset_count(&dunno[i]), i == DB_LOCAL ? "local" : "remote",
		    t);
		free(t);
	}
	if (ms_remove(ms, rm) < 0)
		goto out;
	/* The pairs go (committed with the next state commit): the local
	 * UIDs that vanished, then those just expunged locally. */
	for (int pass = 0; pass < 2; pass++) {
		struct uidset *s = pass == 0 ? &lp->vanished : &rm[DB_LOCAL];
		uidset_normalise(s);
		for (size_t r = 0; r < s->n; r++)
			for (uint64_t u = s->r[r].lo; u <= s->r[r].hi; u++)
				if (ms_unmap(ms, (uint32_t)u) < 0)
					goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		uidset_free(&rm[i]);
		uidset_free(&dunno[i]);
	}
	return rc;
}
