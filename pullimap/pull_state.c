#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
};

struct pull_state {
	struct state *st;
};

/* The Perl pullimap keeps 32-bit big-endian integers in its statefile, at
 * the same default path: say so rather than "file is not a database". */
static int
check_foreign(const char *path, struct err *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* created later */
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n <= 0 || (n == (ssize_t)sizeof(head) &&
			  memcmp(head, magic, sizeof(magic)) == 0))
		return 0;
	return err_set(err, ERR_DB,
	    "%s is not an SQLite database: if it is the statefile of the Perl "
	    "pullimap, move it away (this version cannot import it yet), then "
	    "run once with --no-delivery to record the mailbox as delivered",
	    path);
}

struct pull_state *
pull_state_open(const char *path, struct err *err)
{
	struct state *st;
	struct pull_state *s;
	if (check_foreign(path, err) < 0)
		return NULL;
	st = state_open(path, migrations, ARRAY_LEN(migrations), err);
	if (!st)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->st = st;
	return s;
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

static int
step_done(struct pull_state *s, sqlite3_stmt *st, struct err *err,
    const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return state_err(s->st, err, what);
	return 0;
}

int
pull_state_get_mailbox(struct pull_state *s, char **name_r,
    uint32_t *uidvalidity_r, uint32_t *uidnext_r, struct err *err)
{
	static const char sql[] =
	    "SELECT name, uidvalidity, uidnext FROM mailbox WHERE id = 1";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	int rc;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return state_err(s->st, err, "reading the mailbox state");
	*name_r = xstrdup((const char *)sqlite3_column_text(st, 0));
	*uidvalidity_r = (uint32_t)sqlite3_column_int64(st, 1);
	*uidnext_r = (uint32_t)sqlite3_column_int64(st, 2);
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
	if (rc != SQLITE_DONE) {
		free(u);
		return state_err(s->st, err, "reading the journal");
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

int
pull_state_unseen(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	static const char sql[] = "SELECT uid FROM delivered"
				  " WHERE uidvalidity = ? AND seen = 0 ORDER BY 1";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, uidvalidity);
	return collect(s, st, uids_r, n_r, err);
}

int
pull_state_unflagged(struct pull_state *s, uint32_t uidvalidity,
    uint32_t **uids_r, size_t *n_r, struct err *err)
{
	static const char sql[] = "SELECT uid FROM rejected"
				  " WHERE uidvalidity = ? AND flagged = 0 ORDER BY 1";
	sqlite3_stmt *st = state_stmt(s->st, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, uidvalidity);
	return collect(s, st, uids_r, n_r, err);
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
