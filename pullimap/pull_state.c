#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "plog.h"
#include "perl_state.h"
#include "pull_state.h"
#include "state.h"

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE mailbox ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  name TEXT NOT NULL,"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE delivered ("
	"  uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  message_id TEXT,"
	"  size INTEGER,"
	"  internaldate TEXT,"
	"  sender TEXT,"
	"  delivered_at INTEGER NOT NULL,"
	"  reply TEXT,"
	"  seen INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE TABLE rejected ("
	"  uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  message_id TEXT,"
	"  size INTEGER,"
	"  internaldate TEXT,"
	"  sender TEXT,"
	"  rejected_at INTEGER NOT NULL,"
	"  reply TEXT,"
	"  flagged INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;",
	/* 1 -> 2: every run looks for journaled messages not marked \Seen
	 * (or rejected ones not flagged) yet; these partial indexes hold
	 * just those, so a poll does not scan the whole journal. */
	"CREATE INDEX delivered_unseen ON delivered (uidvalidity, uid)"
	"  WHERE seen = 0;"
	"CREATE INDEX rejected_unflagged ON rejected (uidvalidity, uid)"
	"  WHERE flagged = 0;"
	/* The file's mtime tells when the last run ended now. */
	"DELETE FROM meta WHERE key = 'last_run_at';",
};

struct pull_state {
	struct state *st;
};

/* Where the Perl pullimap's statefile is kept once imported. */
static char *
kept_path(const char *path)
{
	return xasprintf("%s.perl-statefile", path);
}

static int
fsync_dir_of(const char *path, struct err *err)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd, rc = 0;
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = err_sys(err, ERR_SYS, "cannot sync directory %s",
		    slash ? dir : ".");
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* The Perl pullimap keeps its state at the same default path: move its
 * statefile aside (it is parsed first, so a corrupt file stays where it is
 * and nothing changes), the SQLite state is then created in its place and
 * import_perl() fills it. The rename is what makes this crash-safe: the
 * import is retried from the kept file until it is committed. */
static int
move_perl_state(const char *path, struct err *err)
{
	struct perl_state ps;
	struct stat sb;
	char *kept;
	int r = perl_state_detect(path, err);

	if (r <= 0)
		return r;
	if (perl_state_read(path, &ps, err) < 0)
		return err_prefix(err, "%s is not an SQLite database", path);
	perl_state_free(&ps);
	kept = kept_path(path);
	if (lstat(kept, &sb) == 0) {
		err_set(err, ERR_DB,
		    "%s looks like a statefile of the Perl pullimap, but %s "
		    "exists already: remove one of them", path, kept);
		free(kept);
		return -1;
	}
	if (rename(path, kept) < 0) {
		err_sys(err, ERR_SYS, "cannot rename %s to %s", path, kept);
		free(kept);
		return -1;
	}
	free(kept);
	return fsync_dir_of(path, err);
}

/* Fills a state without mailbox row from NAME.perl-statefile when it
 * exists, in one transaction: UIDVALIDITY and UIDNEXT, and the UIDs the
 * Perl pullimap delivered without marking them \Seen, journaled as
 * delivered and unseen so that the run marks them \Seen and skips them. */
static int
import_perl(struct pull_state *s, const char *path, const char *mailbox,
    struct err *err)
{
	static const char reply[] =
	    "(imported from the Perl pullimap statefile)";
	struct perl_state ps;
	struct stat sb;
	char *name = NULL, *kept;
	uint32_t uv, un;
	int r = pull_state_get_mailbox(s, &name, &uv, &un, err);

	free(name);
	if (r != 0)
		return r < 0 ? -1 : 0;
	kept = kept_path(path);
	if (stat(kept, &sb) < 0) {
		free(kept);
		return 0;
	}
	if (perl_state_read(kept, &ps, err) < 0) {
		free(kept);
		return -1;
	}
	if (state_begin(s->st, err) < 0)
		goto fail;
	if (pull_state_set_mailbox(s, mailbox, ps.uidvalidity, ps.uidnext,
		err) < 0)
		goto rollback;
	for (size_t i = 0; i < ps.npending; i++) {
		struct pull_msg_info m = {ps.pending[i], 0, NULL, NULL, NULL};
		if (pull_state_delivered(s, ps.uidvalidity, &m, reply,
			err) < 0)
			goto rollback;
	}
	if (state_commit(s->st, err) < 0)
		goto rollback;
	plog_info("imported the Perl pullimap statefile (UIDVALIDITY %u, "
		 "UIDNEXT %u, %zu pending UIDs); kept as %s",
	    ps.uidvalidity, ps.uidnext, ps.npending, kept);
	perl_state_free(&ps);
	free(kept);
	return 0;
rollback:
	state_rollback(s->st);
fail:
	err_prefix(err, "importing %s", kept);
	perl_state_free(&ps);
	free(kept);
	return -1;
}

struct pull_state *
pull_state_open(const char *path, const char *mailbox, struct err *err)
{
	struct state *st;
	struct pull_state *s;

	if (mailbox) {
		if (move_perl_state(path, err) < 0)
			return NULL;
	} else {
		int r = perl_state_detect(path, err);
		if (r > 0)
			err_set(err, ERR_DB, "%s is not an SQLite database "
			    "(a statefile of the Perl pullimap? a run imports "
			    "it)", path);
		if (r != 0)
			return NULL;
	}
	st = state_open(path, "pullimap", migrations, ARRAY_LEN(migrations),
	    err);
	if (!st)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->st = st;
	if (mailbox && import_perl(s, path, mailbox, err) < 0)
		pull_state_close(&s);
	return s;
}

int
pull_state_open_readonly(const char *path, struct pull_state **s_r,
    struct err *err)
{
	int version = 0;
	struct state *st = state_open_readonly(path, "pullimap",
	    ARRAY_LEN(migrations),
	    &version, err);

	*s_r = NULL;
	if (!st)
		return -1;
	/* Version 0: the migration to 1 commits with its user_version. */
	if (version == 0) {
		state_close(&st);
		return 0;
	}
	*s_r = xcalloc(1, sizeof(**s_r));
	(*s_r)->st = st;
	return 1;
}

bool
pull_state_unchanged(const struct pull_state *s)
{
	return state_unchanged(s->st);
}

void
pull_state_close(struct pull_state **sp)
{
	if (!*sp)
		return;
	state_close(&(*sp)->st);
	free(*sp);
	*sp = NULL;
}

bool
pull_state_idle(const struct pull_state *s)
{
	return state_idle(s->st);
}

static int
step_done(struct pull_state *s, sqlite3_stmt *st, struct err *err,
    const char *what)
{
	return state_step_done(s->st, st, what, err);
}

int
pull_state_get_mailbox(struct pull_state *s, char **name_r,
    uint32_t *uidvalidity_r, uint32_t *uidnext_r, struct err *err)
{
	static const char sql[] =
	    "SELECT name, uidvalidity, uidnext FROM mailbox WHERE id = 1";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	struct state_col c[3];
	int r;
	if (!st)
		return -1;
	r = state_row(s->st, st, c, ARRAY_LEN(c), "reading the mailbox state",
	    err);
	if (r <= 0)
		return r;
	*name_r = c[0].text ? c[0].text : xstrdup("");
	*uidvalidity_r = (uint32_t)c[1].i;
	*uidnext_r = (uint32_t)c[2].i;
	return 1;
}

int
pull_state_set_mailbox(struct pull_state *s, const char *name,
    uint32_t uidvalidity, uint32_t uidnext, struct err *err)
{
	static const char sql[] =
	    "INSERT INTO mailbox (id, name, uidvalidity, uidnext, updated_at)"
	    " VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET"
	    " name = ?1, uidvalidity = ?2, uidnext = ?3, updated_at = ?4";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uidnext);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	return step_done(s, st, err, "writing the mailbox state");
}

static int
collect(struct pull_state *s, sqlite3_stmt *st, uint32_t **uids_r,
    size_t *n_r, struct err *err)
{
	uint32_t *u = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		u = xgrow(u, &cap, n + 1, sizeof(*u));
		u[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		state_err(s->st, err, "reading the journal");
	sqlite3_reset(st); /* see state_stmt() */
	if (rc != SQLITE_DONE) {
		free(u);
		return -1;
	}
	*uids_r = u;
	*n_r = n;
	return 0;
}

int
pull_state_known(struct pull_state *s, uint32_t uidvalidity, uint32_t from,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	static const char sql[] =
	    "SELECT uid FROM delivered WHERE uidvalidity = ?1 AND uid >= ?2"
	    " UNION SELECT uid FROM rejected WHERE uidvalidity = ?1"
	    " AND uid >= ?2 ORDER BY 1";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, uidvalidity);
	sqlite3_bind_int64(st, 2, from);
	return collect(s, st, uids_r, n_r, err);
}

/* UIDs of one UIDVALIDITY selected by a single-parameter query. */
static int
uids_of(struct pull_state *s, const char *sql, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, uidvalidity);
	return collect(s, st, uids_r, n_r, err);
}

int
pull_state_unseen(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	/* Without statistics the planner would pick the primary key, i.e.
	 * every row of the mailbox. */
	static const char sql[] = "SELECT uid FROM delivered"
				  " INDEXED BY delivered_unseen"
				  " WHERE uidvalidity = ? AND seen = 0 ORDER BY 1";
	return uids_of(s, sql, uidvalidity, uids_r, n_r, err);
}

int
pull_state_unflagged(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	static const char sql[] = "SELECT uid FROM rejected"
				  " INDEXED BY rejected_unflagged"
				  " WHERE uidvalidity = ? AND flagged = 0 ORDER BY 1";
	return uids_of(s, sql, uidvalidity, uids_r, n_r, err);
}

int
pull_state_last_uid(struct pull_state *s, uint32_t uidvalidity,
    uint32_t *uid_r, struct err *err)
{
	static const char sql[] = "SELECT max(uid) FROM"
	    " (SELECT max(uid) AS uid FROM delivered WHERE uidvalidity = ?1"
	    " UNION ALL SELECT max(uid) FROM rejected WHERE uidvalidity = ?1)";
	uint32_t *u = NULL;
	size_t n = 0;
	if (uids_of(s, sql, uidvalidity, &u, &n, err) < 0)
		return -1;
	*uid_r = n > 0 ? u[0] : 0;
	free(u);
	return 0;
}

int
pull_state_rejected_uids(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	static const char sql[] = "SELECT uid FROM rejected"
				  " WHERE uidvalidity = ? ORDER BY 1";
	return uids_of(s, sql, uidvalidity, uids_r, n_r, err);
}

static int
journal(struct pull_state *s, const char *sql, uint32_t uidvalidity,
    const struct pull_msg_info *m, const char *reply, struct err *err)
{
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, uidvalidity);
	sqlite3_bind_int64(st, 2, m->uid);
	sqlite3_bind_text(st, 3, m->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->size);
	sqlite3_bind_text(st, 5, m->internaldate, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 8, reply, -1, SQLITE_STATIC);
	/* Autocommit: one durable transaction per message (WAL +
	 * synchronous=FULL syncs the log before returning). */
	return step_done(s, st, err, "journaling a message");
}

int
pull_state_delivered(struct pull_state *s, uint32_t uidvalidity,
    const struct pull_msg_info *m, const char *reply, struct err *err)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO delivered (uidvalidity, uid, message_id,"
	    " size, internaldate, sender, delivered_at, reply)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	return journal(s, sql, uidvalidity, m, reply, err);
}

int
pull_state_rejected(struct pull_state *s, uint32_t uidvalidity,
    const struct pull_msg_info *m, const char *reply, struct err *err)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO rejected (uidvalidity, uid, message_id,"
	    " size, internaldate, sender, rejected_at, reply)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	return journal(s, sql, uidvalidity, m, reply, err);
}

int
pull_state_begin(struct pull_state *s, struct err *err)
{
	return state_begin(s->st, err);
}

int
pull_state_commit(struct pull_state *s, struct err *err)
{
	return state_commit(s->st, err);
}

void
pull_state_rollback(struct pull_state *s)
{
	state_rollback(s->st);
}

static int
mark(struct pull_state *s, const char *sql, uint32_t uidvalidity,
    const uint32_t *uids, size_t n, struct err *err)
{
	if (n == 0)
		return 0;
	if (state_begin(s->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = state_stmt(s->st, sql, err);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, uidvalidity);
		sqlite3_bind_int64(st, 2, uids[i]);
		if (step_done(s, st, err, "updating the journal") < 0)
			goto fail;
	}
	return state_commit(s->st, err);
fail:
	state_rollback(s->st);
	return -1;
}

int
pull_state_mark_seen(struct pull_state *s, uint32_t uidvalidity,
    const uint32_t *uids, size_t n, struct err *err)
{
	static const char sql[] = "UPDATE delivered SET seen = 1"
				  " WHERE uidvalidity = ? AND uid = ?";
	return mark(s, sql, uidvalidity, uids, n, err);
}

int
pull_state_mark_flagged(struct pull_state *s, uint32_t uidvalidity,
    const uint32_t *uids, size_t n, struct err *err)
{
	static const char sql[] = "UPDATE rejected SET flagged = 1"
				  " WHERE uidvalidity = ? AND uid = ?";
	return mark(s, sql, uidvalidity, uids, n, err);
}

int
pull_state_set_meta(struct pull_state *s, const char *key, const char *value,
    struct err *err)
{
	static const char ins[] =
	    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)";
	static const char del[] = "DELETE FROM meta WHERE key = ?";
	sqlite3_stmt *st = state_stmt(s->st, value ? ins : del, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return step_done(s, st, err, "writing meta data");
}

int
pull_state_touch(struct pull_state *s)
{
	return state_touch(s->st);
}

int
pull_state_get_meta(struct pull_state *s, const char *key, char **value_r,
    struct err *err)
{
	static const char sql[] = "SELECT value FROM meta WHERE key = ?";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	struct state_col c;
	int r;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	r = state_row(s->st, st, &c, 1, "reading meta data", err);
	if (r <= 0)
		return r;
	if (c.null)
		return 0;
	/* A value stored as a number has no text copy: make one. */
	*value_r = c.text ? c.text : xasprintf("%lld", (long long)c.i);
	return 1;
}

static char *
column_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

int
pull_state_summary(struct pull_state *s, struct pull_state_summary *sum,
    struct err *err)
{
	static const char counts[] =
	    "SELECT (SELECT count(*) FROM delivered),"
	    " (SELECT coalesce(sum(size), 0) FROM delivered),"
	    " (SELECT count(*) FROM delivered WHERE seen = 0),"
	    " (SELECT count(*) FROM rejected)";
	static const char last[] =
	    "SELECT uid, delivered_at, reply FROM delivered"
	    " ORDER BY delivered_at DESC, uid DESC LIMIT 1";
	sqlite3_stmt *st;
	struct state_col c[4];
	int r;

	memset(sum, 0, sizeof(*sum));
	if (!(st = state_stmt(s->st, counts, err)))
		return -1;
	/* An aggregate always gives one row. */
	if ((r = state_row(s->st, st, c, 4, "counting the journal", err)) <= 0)
		return r < 0 ? -1 : err_set(err, ERR_DB, "%s: counting the "
		    "journal: no result", state_path(s->st));
	sum->ndelivered = (uint64_t)c[0].i;
	sum->bytes = (uint64_t)c[1].i;
	sum->npending = (uint64_t)c[2].i;
	sum->nrejected = (uint64_t)c[3].i;
	state_cols_free(c, 4);
	if (!(st = state_stmt(s->st, last, err)))
		return -1;
	if ((r = state_row(s->st, st, c, 3, "reading the journal", err)) <= 0)
		return r;
	sum->has_last = true;
	sum->last_uid = (uint32_t)c[0].i;
	sum->last_at = c[1].i;
	sum->last_reply = c[2].text;
	return 0;
}

void
pull_state_summary_free(struct pull_state_summary *sum)
{
	free(sum->last_reply);
	memset(sum, 0, sizeof(*sum));
}

int
pull_state_rejections(struct pull_state *s, size_t max,
    struct pull_state_rejection **r_r, size_t *n_r, struct err *err)
{
	static const char sql[] =
	    "SELECT uid, rejected_at, reply FROM rejected"
	    " ORDER BY rejected_at DESC, uid DESC LIMIT ?";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	struct pull_state_rejection *r = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*r_r = NULL;
	*n_r = 0;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = xgrow(r, &cap, n + 1, sizeof(*r));
		r[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		r[n].at = (int64_t)sqlite3_column_int64(st, 1);
		r[n].reply = column_strdup(st, 2);
		n++;
	}
	if (rc != SQLITE_DONE)
		state_err(s->st, err, "reading the rejected messages");
	sqlite3_reset(st); /* see state_stmt() */
	if (rc != SQLITE_DONE) {
		pull_state_rejections_free(r, n);
		return -1;
	}
	*r_r = r;
	*n_r = n;
	return 0;
}

void
pull_state_rejections_free(struct pull_state_rejection *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].reply);
	free(r);
}
