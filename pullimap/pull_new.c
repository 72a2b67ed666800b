#include "util.h"

#include <stdlib.h>

#include "imap_auth.h"
#include "imapc.h"
#include "pull_p.h"
#include "pull_state.h"

/* Messages handled per FETCH command: bounds the metadata kept in memory and
 * the work drained after a failure. */
#define BATCH 256

int
pull_new(struct pull *p, uint32_t from, uint32_t *uidnext_r, struct err *err)
{
	uint32_t *known = NULL;
	size_t nknown = 0;
	uint64_t next = from;
	int rc = -1;

	if (pull_state_known(p->st, p->uidvalidity, from, &known, &nknown,
		err) < 0)
		return -1;
	for (size_t i = 0; i < nknown; i++)
		uidset_add(&p->journaled, known[i], known[i]);
	free(known);
	for (unsigned round = 0; round < 1000 && !p->stop; round++) {
		const struct imapc_mailbox *box = imapc_selected(p->imap);
		struct pull_criteria crit = {NULL, (uint32_t)next, NULL};
		uint32_t cursor = (uint32_t)next, u, b[BATCH];
		uint64_t top = 0, first_unhandled = UINT64_MAX, n = 0;
		uint32_t exists;
		bool end = false;

		/* SELECT's UIDNEXT tells at once whether anything is new.
		 * After a delivery round, search again: servers often report
		 * mail that arrived meanwhile only at the next command. */
		if (round == 0 && p->fresh_select && box->uidnext != 0 &&
		    box->uidnext <= next)
			break;
		imapc_take_changes(p->imap);
		exists = box->exists;
		if (pull_search(p, &crit, &p->search, err) < 0)
			goto out;
		/* "N:*" matches the highest UID even when it is below N, so
		 * an empty answer says the mailbox is empty. Dovecot reports
		 * mail that arrived during the SEARCH after its result: the
		 * mailbox must have held messages before and after. */
		if (box->exists < exists)
			exists = box->exists;
		if (p->search.n == 0 && exists > 0) {
			err_set(err, ERR_PROTO,
			    "%s: UID SEARCH UID %u:* found nothing although the "
			    "mailbox holds %u messages", imapc_name(p->imap),
			    crit.from, exists);
			goto out;
		}
		if (p->search.n > 0 &&
		    p->search.r[p->search.n - 1].hi >= next)
			top = p->search.r[p->search.n - 1].hi;
		while (!p->stop && !end) {
			size_t k = 0;
			while (k < BATCH && uidset_next(&p->search, cursor, &u)) {
				if (!uidset_has(&p->journaled, u) &&
				    !uidset_has(&p->skipped, u))
					b[k++] = u;
				if (u == UINT32_MAX) {
					end = true;
					break;
				}
				cursor = u + 1;
			}
			if (k == 0)
				break;
			n += k;
			/* Only now is there something worth compressing: a
			 * poll with nothing new skips the round trip. */
			if (!p->compress_asked &&
			    imap_compress(p->imap, &p->pc->imap,
				pull_timeout(p), err) < 0)
				goto out;
			p->compress_asked = true;
			if (pull_fetch_batch(p, b, k, &first_unhandled,
				err) < 0)
				goto out;
			if (p->stop && !end &&
			    uidset_next(&p->search, cursor, &u) &&
			    u < first_unhandled)
				first_unhandled = u;
		}
		if (uidset_next(&p->skipped, (uint32_t)next, &u) &&
		    u < first_unhandled)
			first_unhandled = u;
		if (top >= next) {
			uint64_t cand = top + 1;
			/* Journaled UIDs above what the server still has
			 * were handled (and maybe purged): pass them too. */
			while (cand <= UINT32_MAX &&
			    uidset_run_end(&p->journaled, (uint32_t)cand, &u))
				cand = (uint64_t)u + 1;
			if (first_unhandled < cand)
				cand = first_unhandled;
			if (cand > UINT32_MAX)
				cand = UINT32_MAX; /* UID 4294967295 is the last */
			if (cand > next)
				next = cand;
		}
		/* Dovecot reports mail that arrived during the SEARCH right
		 * after its result: look once more then. */
		if (n == 0 && imapc_take_changes(p->imap) == 0)
			break;
	}
	rc = 0;
out:
	*uidnext_r = (uint32_t)next;
	return rc;
}
