/* The run's status snapshot (istatus.h): kept in memory while the run
 * holds the database, written at the points the header names. */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ilog.h"
#include "istatus.h"
#include "log.h"

/* One per process: the hooks are one-liners in main.c. */
static struct {
	bool on;
	char *path;
	struct istatus_snap s;
	uint64_t written_ms;   /* now_ms() of the last write */
	bool warned;
} run;

static void
take_delim(const struct side *local)
{
	if (local != NULL && local->delim_known) {
		run.s.delim_known = true;
		run.s.delim = local->delim;
	}
}

static void
write_now(void)
{
	struct err err;

	run.s.updated = (int64_t)time(NULL);
	if (istatus_snap_write(run.path, &run.s, &err) < 0 && !run.warned) {
		log_at(LOG_WARN, ilog_prefix(NULL, NULL), "%s (interimap "
		    "--status cannot show this run)", err.msg);
		run.warned = true;
	}
	run.written_ms = now_ms();
}

static enum istatus_mode
mode_of(const struct icli *o)
{
	switch (o->command) {
	case ICLI_REPAIR:
		return ISTATUS_REPAIR;
	case ICLI_DELETE:
		return ISTATUS_DELETE;
	case ICLI_RENAME:
		return ISTATUS_RENAME;
	default:
		break;
	}
	return o->notify ? ISTATUS_NOTIFY : o->watch ? ISTATUS_WATCH :
	    ISTATUS_ONCE;
}

/* a's file was last written no later than b's. */
static bool
not_newer(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec < b->st_mtim.tv_sec ||
	    (a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec <= b->st_mtim.tv_nsec);
}

/* The previous snapshot's counts can stand for the database's: it was
 * exact when its run ended, and nobody wrote the database since. */
static bool
counts_reusable(const struct istatus_snap *prev, const char *db_path,
    const char *snap_path)
{
	struct stat d, s;

	return prev->exact && prev->result != ISTATUS_RUNNING &&
	    stat(db_path, &d) == 0 && stat(snap_path, &s) == 0 &&
	    not_newer(&d, &s);
}

/* Every mailbox of db into the run's snapshot. When prev is reusable (see
 * above), its rows are the database's as they stand (taken from it: no
 * query, no count), but for the mailboxes with records of a copy under
 * way (a snapshot of an earlier version has none), read again: few have
 * any. Else every row is read and its pairs counted. 0, or -1 with err. */
static int
load(struct db *db, struct istatus_snap *prev, bool reuse, struct err *err)
{
	struct db_summary *v;
	size_t n;

	if (!reuse)
		return db_summary_list(db, true, &run.s.mbx, &run.s.nmbx, err);
	v = run.s.mbx = prev->mbx;
	n = run.s.nmbx = prev->nmbx;
	prev->mbx = NULL;
	prev->nmbx = 0;
	for (size_t i = 0; i < n; i++) {
		struct db_summary m;
		bool copying;

		if (db_intent_has(db, v[i].idx, &copying, err) < 0)
			return -1;
		if (!copying) {
			v[i].copying[DB_LOCAL] = v[i].copying[DB_REMOTE] = 0;
			continue;
		}
		if (db_summary_get(db, v[i].idx, &m, err) < 0)
			return -1;
		v[i].pairs = m.pairs;
		v[i].pending = m.pending;
		v[i].copying[DB_LOCAL] = m.copying[DB_LOCAL];
		v[i].copying[DB_REMOTE] = m.copying[DB_REMOTE];
		free(m.name);
	}
	return 0;
}

void
istatus_begin(struct db *db, const struct icli *o)
{
	struct istatus_snap prev;
	struct err err;
	bool reuse = false;

	memset(&run, 0, sizeof(run));
	run.path = istatus_snap_path(db_path(db));
	/* What outlives a run: the last error, the delimiter until this
	 * run lists, the pair counts. A snapshot that does not read is
	 * replaced. */
	if (istatus_snap_read(run.path, &prev, &err) > 0) {
		run.s.last_error = prev.last_error;
		run.s.last_error_at = prev.last_error_at;
		prev.last_error = NULL;
		run.s.delim_known = prev.delim_known;
		run.s.delim = prev.delim;
		reuse = counts_reusable(&prev, db_path(db), run.path);
	}
	run.s.pid = (long)getpid();
	run.s.mode = mode_of(o);
	run.s.secs = o->watch ? o->watch_secs : 0;
	run.s.started = (int64_t)time(NULL);
	run.s.result = ISTATUS_RUNNING;
	/* A new database has no tables before the schema step: no
	 * mailboxes yet, they come as they are synced. (No --debug line:
	 * the reference's --debug output is matched line for line.) */
	if (load(db, &prev, reuse, &err) < 0) {
		db_summary_free(run.s.mbx, run.s.nmbx);
		run.s.mbx = NULL;
		run.s.nmbx = 0;
	} else {
		run.s.exact = true;
	}
	istatus_snap_free(&prev);
	run.on = true;
	write_now();
}

/* Bytewise order of the internal names, as db_summary_list(). */
static int
name_cmp(const struct db_summary *a, const struct db_summary *b)
{
	int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);

	return c != 0 ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* m (taken) in place of the row of its idx, or inserted in order. */
static void
put_row(struct db_summary *m)
{
	size_t i, n = run.s.nmbx;

	for (i = 0; i < n; i++)
		if (run.s.mbx[i].idx == m->idx) {
			free(run.s.mbx[i].name);
			memmove(&run.s.mbx[i], &run.s.mbx[i + 1],
			    (n - i - 1) * sizeof(*m));
			n--;
			break;
		}
	for (i = 0; i < n && name_cmp(&run.s.mbx[i], m) < 0; i++)
		;
	run.s.mbx = xrealloc(run.s.mbx, (n + 1) * sizeof(*m));
	memmove(&run.s.mbx[i + 1], &run.s.mbx[i], (n - i) * sizeof(*m));
	run.s.mbx[i] = *m;
	run.s.nmbx = n + 1;
}

void
istatus_synced(struct db *db, const struct side *local, int64_t idx)
{
	struct db_summary m;
	struct err err;

	if (!run.on)
		return;
	take_delim(local);
	/* Uncommitted rows would show what may yet be rolled back. The
	 * row stays as it was, and the snapshot no longer exact. */
	if (db_in_transaction(db) || db_summary_get(db, idx, &m, &err) <= 0) {
		run.s.exact = false;
		return;
	}
	put_row(&m);
	if (now_ms() - run.written_ms >= ISTATUS_WRITE_INTERVAL_MS)
		write_now();
}

void
istatus_round(const struct side *local)
{
	if (!run.on)
		return;
	take_delim(local);
	write_now();
}

void
istatus_end(const struct side *local, int rc, int sig, const struct ierr *ie)
{
	if (!run.on)
		return;
	take_delim(local);
	run.s.ended = (int64_t)time(NULL);
	if (sig != 0) {
		run.s.result = ISTATUS_STOPPED;
		run.s.signal = sig;
	} else if (rc == 0) {
		run.s.result = ISTATUS_OK;
	} else {
		const char *line = ie->bare ? ie->e.msg : log_last_error();

		if (*line == '\0')
			line = ie->e.msg;
		run.s.result = ISTATUS_FAILED;
		run.s.error = xstrdup(line);
		free(run.s.last_error);
		run.s.last_error = xstrdup(line);
		run.s.last_error_at = run.s.ended;
	}
	write_now();
	istatus_snap_free(&run.s);
	free(run.path);
	memset(&run, 0, sizeof(run));
}
