#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "ilog.h"
#include "log.h"
#include "mcmd.h"

static const unsigned side_target[2] = { ICLI_TARGET_LOCAL,
	ICLI_TARGET_REMOTE };

/* A command-line name's internal form: the local delimiter is the
 * hierarchy's (no list-reference to strip: the user writes none). */
static void
internal(const struct side *local, const char *arg, char **name_r,
    size_t *len_r)
{
	mlist_unname("", local->delim, arg, strlen(arg), name_r, len_r);
}

int
mcmd_delete(const struct mlist *ml, struct side *s[2], struct db *db,
    const char *const *names, size_t n, unsigned targets, struct ierr *ie)
{
	struct err err;

	/* RFC 3501 §6.3.4: deleting INBOX is an error. */
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], "INBOX") == 0)
			return ierr_fail(ie, NULL, "INBOX can't be deleted");

	for (size_t i = 0; i < n; i++) {
		char *name, *pretty;
		size_t len;
		int64_t idx = 0;
		bool sub;
		int known;

		internal(s[0], names[i], &name, &len);
		if ((known = db_mailbox_get(db, name, len, &idx, &sub,
		    &err)) < 0) {
			free(name);
			return ierr_wrap(ie, NULL, &err);
		}
		for (int k = 0; k < 2; k++) {
			char *w;
			int rc = 0;
			if (!(targets & side_target[k]))
				continue;
			w = mlist_wire(s[k]->conf->list_reference, s[k]->delim,
			    name, len);
			if (w && mlist_exists(mlist_find(ml, k, w)))
				rc = side_delete(s[k], w, ie);
			free(w);
			if (rc < 0) {
				free(name);
				return -1;
			}
		}
		if (known > 0 && (targets & ICLI_TARGET_DATABASE)) {
			if (db_mailbox_delete(db, idx, &err) < 0 ||
			    db_commit(db, &err) < 0) {
				free(name);
				return ierr_wrap(ie, NULL, &err);
			}
			pretty = mlist_pretty(s[0], name, len);
			log_at(LOG_NOTICE, ilog_prefix("database", NULL),
			    "Removed mailbox %s", pretty);
			free(pretty);
		}
		free(name);
	}
	return 0;
}

int
mcmd_rename(const struct mlist *ml, struct side *s[2], struct db *db,
    const char *from_arg, const char *to_arg, unsigned targets,
    struct ierr *ie)
{
	char *from, *to, *w[2][2] = { { NULL, NULL }, { NULL, NULL } };
	char *pto = NULL, *pfrom = NULL;
	size_t flen, tlen;
	int64_t idx;
	bool sub;
	uint64_t changed = 0;
	struct err err;
	int rc = -1, known;

	internal(s[0], from_arg, &from, &flen);
	internal(s[0], to_arg, &to, &tlen);
	pfrom = mlist_pretty(s[0], from, flen);
	pto = mlist_pretty(s[0], to, tlen);
	for (int k = 0; k < 2; k++) {
		w[k][0] = mlist_wire(s[k]->conf->list_reference, s[k]->delim,
		    from, flen);
		w[k][1] = mlist_wire(s[k]->conf->list_reference, s[k]->delim,
		    to, tlen);
	}

	/* Nothing is renamed when one target already has the new name
	 * (the server would refuse it there, after others did it). */
	for (int k = 0; k < 2; k++) {
		if (!(targets & side_target[k]) ||
		    !mlist_exists(mlist_find(ml, k, w[k][1])))
			continue;
		ierr_fail(ie, s[k]->name, "Mailbox %s exists. Run `interimap "
		    "--target=%s --delete %s` to delete.", w[k][1], s[k]->name,
		    pto);
		goto out;
	}
	if (targets & ICLI_TARGET_DATABASE) {
		if ((known = db_mailbox_get(db, to, tlen, &idx, &sub,
		    &err)) < 0) {
			ierr_wrap(ie, NULL, &err);
			goto out;
		}
		if (known > 0) {
			ierr_fail(ie, "database", "Mailbox %s exists. Run "
			    "`interimap --target=database --delete %s` to "
			    "delete.", pto, pto);
			goto out;
		}
	}
	for (int k = 0; k < 2; k++) {
		/* Listed at all, \NonExistent included: a parent with
		 * children can be renamed (RFC 3501 §6.3.5 moves them). */
		if ((targets & side_target[k]) && w[k][0] &&
		    mlist_find(ml, k, w[k][0]) &&
		    side_rename(s[k], w[k][0], w[k][1], ie) < 0)
			goto out;
	}
	if (targets & ICLI_TARGET_DATABASE) {
		if (db_mailbox_rename(db, from, flen, to, tlen, &changed,
		    &err) < 0 || db_commit(db, &err) < 0) {
			ierr_wrap(ie, NULL, &err);
			goto out;
		}
		if (changed > 0)
			log_at(LOG_NOTICE, ilog_prefix("database", NULL),
			    "Renamed mailbox %s to %s", pfrom, pto);
	}
	rc = 0;
out:
	for (int k = 0; k < 2; k++) {
		free(w[k][0]);
		free(w[k][1]);
	}
	free(pfrom);
	free(pto);
	free(from);
	free(to);
	return rc;
}
