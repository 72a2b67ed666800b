/* interimap --status (istatus.h): the database when no run holds it,
 * else the snapshot of the run that does. */
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "istatus.h"

#define NCOLS 7

static const char *const headers[NCOLS] = {
	"MAILBOX", "L.UIDNEXT", "L.HIGHESTMODSEQ", "R.UIDNEXT",
	"R.HIGHESTMODSEQ", "PAIRS", "",
};

static const char *
utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "@%" PRId64, t);
	return buf;
}

bool
istatus_match(const char *pat, const char *name, char delim)
{
	size_t n = strlen(name);
	bool *row = xcalloc(n + 1, sizeof(*row));
	bool ok;

	/* row[j]: the pattern so far matches the first j bytes of name. */
	row[0] = true;
	for (; *pat != '\0'; pat++) {
		bool prev = row[0], cur;

		if (*pat != '*' && *pat != '%')
			row[0] = false;
		for (size_t j = 1; j <= n; j++) {
			char c = name[j - 1];

			if (*pat == '*')
				cur = row[j] || row[j - 1];
			else if (*pat == '%')
				cur = row[j] || (row[j - 1] && c != delim);
			else
				cur = prev && c == *pat;
			prev = row[j];
			row[j] = cur;
		}
	}
	ok = row[n];
	free(row);
	return ok;
}

/* The name as the reference prints it: its hierarchy separators as the
 * local delimiter. Allocated; NUL-terminated. */
static char *
pretty(const struct db_summary *m, char delim)
{
	char *s = xmalloc(m->len + 1);

	for (size_t i = 0; i < m->len; i++)
		s[i] = m->name[i] == '\0' ? delim : m->name[i];
	s[m->len] = '\0';
	return s;
}

static char *
printable(const char *s)
{
	struct buf b = BUF_INIT(SIZE_MAX / 2);

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7F)
			buf_appendf(&b, "\\x%02X", c);
		else
			buf_append(&b, s, 1);
	}
	buf_append(&b, "", 0);
	return buf_steal(&b);
}

/* "N WORD" or "N WORDs", then rest, after ", " when b is longer than
 * its first from bytes. Nothing when n is 0. */
static void
count_part(struct buf *b, size_t from, uint64_t n, const char *word,
    const char *rest)
{
	if (n > 0)
		buf_appendf(b, "%s%" PRIu64 " %s%s%s", b->len > from ? ", " : "",
		    n, word, n == 1 ? "" : "s", rest);
}

static char *
note(const struct db_summary *m)
{
	static const char head[] = "interrupted copy: ";
	struct buf b = BUF_INIT(SIZE_MAX / 2);
	size_t from = sizeof(head) - 1;

	if (!m->synced)
		return xstrdup("never synced");
	/* The pairs the copy made, and the messages it recorded before
	 * their APPEND and has no pair of yet (arrived or not: the next
	 * run looks for them). */
	buf_appends(&b, head);
	count_part(&b, from, m->pending, "pair", " beyond UIDNEXT");
	count_part(&b, from, m->copying[DB_LOCAL], "message",
	    " being copied to local");
	count_part(&b, from, m->copying[DB_REMOTE], "message",
	    " being copied to remote");
	if (b.len == from) {
		buf_free(&b);
		return xstrdup("");
	}
	buf_appends(&b, " (the next run resumes it)");
	return buf_steal(&b);
}

void
istatus_print_mailboxes(FILE *out, const struct db_summary *v, size_t n,
    bool delim_known, char delim, const char *const *pat, size_t npat)
{
	char *(*cells)[NCOLS] = xcalloc(n + 1, sizeof(*cells));
	size_t w[NCOLS], rows = 0;
	char d = delim_known && delim != '\0' ? delim : '/';
	bool guessed = false;

	for (size_t c = 0; c < NCOLS; c++)
		w[c] = strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		const struct db_summary *m = &v[i];
		char *name = pretty(m, d), **r = cells[rows];
		bool keep = npat == 0;

		for (size_t p = 0; p < npat && !keep; p++)
			keep = istatus_match(pat[p], name, d);
		if (!keep) {
			free(name);
			continue;
		}
		if (memchr(m->name, '\0', m->len) != NULL && !delim_known)
			guessed = true;
		r[0] = printable(name);
		free(name);
		for (int k = 0; k < 2; k++) {
			r[1 + 2 * k] = m->synced ? xasprintf("%" PRIu32,
			    m->st[k].uidnext) : xstrdup("-");
			r[2 + 2 * k] = m->synced ? xasprintf("%" PRIu64,
			    m->st[k].highestmodseq) : xstrdup("-");
		}
		r[5] = xasprintf("%" PRIu64, m->pairs);
		r[6] = note(m);
		for (size_t c = 0; c < NCOLS; c++)
			if (strlen(r[c]) > w[c])
				w[c] = strlen(r[c]);
		rows++;
	}
	if (rows == 0) {
		fprintf(out, "%s\n", n == 0 ? "no mailbox in the database yet" :
		    "no mailbox of the database matches");
		free(cells);
		return;
	}
	for (size_t i = 0; i <= rows; i++) {
		const char *const *r = i == 0 ? headers :
		    (const char *const *)cells[i - 1];
		/* The name left, the numbers right, the note as it is. */
		fprintf(out, "%-*s", (int)w[0], r[0]);
		for (size_t c = 1; c < NCOLS - 1; c++)
			fprintf(out, "  %*s", (int)w[c], r[c]);
		if (*r[NCOLS - 1] != '\0')
			fprintf(out, "  %s", r[NCOLS - 1]);
		fputc('\n', out);
	}
	if (guessed)
		fprintf(out, "(hierarchy shown with \"/\": the local "
		    "delimiter is not known before a run of this interimap)\n");
	for (size_t i = 0; i < rows; i++)
		for (size_t c = 0; c < NCOLS; c++)
			free(cells[i][c]);
	free(cells);
}

static char *
mode_text(const struct istatus_snap *s)
{
	switch (s->mode) {
	case ISTATUS_REPAIR:
		return xstrdup("--repair");
	case ISTATUS_DELETE:
		return xstrdup("--delete");
	case ISTATUS_RENAME:
		return xstrdup("--rename");
	case ISTATUS_WATCH:
		return xasprintf("--watch=%u", s->secs);
	case ISTATUS_NOTIFY:
		return xasprintf("--notify, --watch=%u", s->secs);
	case ISTATUS_ONCE:
		break;
	}
	return xstrdup("one-shot");
}

static bool
alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* "pid N (its command line)", or "pid N" when /proc does not tell. */
static char *
holder_text(long pid)
{
	char path[64], cmd[160];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "re")) != NULL) {
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
	}
	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	if (n == 0)
		return xasprintf("pid %ld", pid);
	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '\0' || (unsigned char)cmd[i] < 0x20 ||
		    (unsigned char)cmd[i] >= 0x7F)
			cmd[i] = cmd[i] == '\0' ? ' ' : '?';
	cmd[n] = '\0';
	return xasprintf("pid %ld (%s%s)", pid, cmd,
	    n == sizeof(cmd) - 1 ? "..." : "");
}

/* What --status found, for the lines it prints. */
struct view {
	const struct icli *o;
	const char *path, *spath;
	long holder;                     /* db_lock_holder() */
	const struct istatus_snap *snap; /* NULL: none */
	const struct err *bad;           /* why it does not read, or NULL */
};

/* The snapshot's run is the one holding the database now: it says it
 * runs, its process lives, and it holds the lock (when that can be
 * told: a pid reused since a run was killed holds none). */
static bool
running(const struct view *v)
{
	const struct istatus_snap *s = v->snap;

	return s != NULL && s->result == ISTATUS_RUNNING && alive(s->pid) &&
	    v->holder != 0 && (v->holder < 0 || v->holder == s->pid);
}

/* "last run" and "last error", from the snapshot. db_newer: the
 * database was written after it. */
static void
print_runs(FILE *out, const struct view *v, bool db_newer)
{
	const struct istatus_snap *s = v->snap;
	char t1[64], t2[64], *mode;

	if (v->bad != NULL)
		fprintf(out, "status snapshot: %s\n", v->bad->msg);
	if (s == NULL) {
		fprintf(out, "last run: unknown (no status snapshot: the Perl "
		    "interimap, or an interimap without --status, ran "
		    "last)\n");
		return;
	}
	mode = mode_text(s);
	fprintf(out, "last run: pid %ld (%s), ", s->pid, mode);
	free(mode);
	utc(s->started, t1, sizeof(t1));
	utc(s->result == ISTATUS_RUNNING ? s->updated : s->ended, t2,
	    sizeof(t2));
	if (s->result == ISTATUS_RUNNING && running(v))
		fprintf(out, "started %s: running, as of %s\n", t1, t2);
	else if (s->result == ISTATUS_RUNNING)
		fprintf(out, "started %s: did not record its end (killed?), "
		    "last seen %s\n", t1, t2);
	else if (s->result == ISTATUS_OK)
		fprintf(out, "%s to %s: ok\n", t1, t2);
	else if (s->result == ISTATUS_STOPPED)
		fprintf(out, "%s to %s: stopped by %s\n", t1, t2,
		    s->signal == SIGTERM ? "SIGTERM" :
		    s->signal == SIGINT ? "SIGINT" : "a signal");
	else
		fprintf(out, "%s to %s: failed: %s\n", t1, t2,
		    s->error ? s->error : "(no error line)");
	if (db_newer)
		fprintf(out, "  (the database was written since, by another "
		    "program: the Perl interimap?)\n");
	if (s->last_error != NULL)
		fprintf(out, "last error: %s: %s\n",
		    utc(s->last_error_at, t1, sizeof(t1)), s->last_error);
	else
		fprintf(out, "last error: none\n");
}

/* The database is readable: its mailboxes as they are now. -1 with err
 * when the read fails (ERR_LOCKED: a run took it meanwhile), before
 * anything is printed. */
static int
show_database(FILE *out, const struct view *v, struct db *db, bool tables,
    const struct stat *dbst, struct err *err)
{
	struct db_summary *mv = NULL;
	size_t n = 0;
	struct stat ss;
	bool newer = false;
	char *who;

	if (tables && db_summary_list(db, true, &mv, &n, err) < 0)
		return -1;
	if (v->holder > 0) {
		/* The Perl interimap lets readers in until its first
		 * write. */
		who = holder_text(v->holder);
		fprintf(out, "as it is now (%s holds it: what it has "
		    "committed so far)\n", who);
		free(who);
	} else {
		fprintf(out, "as it is now%s\n", v->holder == 0 ?
		    " (no run holds it)" : "");
	}
	if (tables)
		istatus_print_mailboxes(out, mv, n,
		    v->snap && v->snap->delim_known,
		    v->snap ? v->snap->delim : '\0', v->o->mailboxes,
		    v->o->n_mailboxes);
	else
		fprintf(out, "empty: no run got as far as the mailbox "
		    "lists\n");
	db_summary_free(mv, n);
	/* A run of ours writes its snapshot after its last commit. */
	if (v->snap != NULL && v->snap->result != ISTATUS_RUNNING &&
	    stat(v->spath, &ss) == 0)
		newer = dbst->st_mtim.tv_sec > ss.st_mtim.tv_sec ||
		    (dbst->st_mtim.tv_sec == ss.st_mtim.tv_sec &&
		    dbst->st_mtim.tv_nsec > ss.st_mtim.tv_nsec);
	print_runs(out, v, newer);
	return 0;
}

/* The database cannot be read now (why): what the snapshot says. */
static void
show_snapshot(FILE *out, const struct view *v, const struct err *why)
{
	const struct istatus_snap *s = v->snap;
	char t1[64], t2[64], *who;

	if (running(v)) {
		who = mode_text(s);
		fprintf(out, "held by interimap pid %ld (%s) since %s; as of "
		    "%s (its status snapshot)\n", s->pid, who,
		    utc(s->started, t1, sizeof(t1)),
		    utc(s->updated, t2, sizeof(t2)));
		free(who);
	} else {
		if (why->kind != ERR_LOCKED)
			who = xasprintf("not readable now (%s)", why->msg);
		else if (v->holder > 0) {
			char *h = holder_text(v->holder);

			who = xasprintf("held by %s", h);
			free(h);
		} else
			who = xstrdup("held by another process");
		if (s != NULL)
			fprintf(out, "%s; as of %s (the status snapshot of an "
			    "earlier run)\n", who,
			    utc(s->updated, t2, sizeof(t2)));
		else
			fprintf(out, "%s; nothing more to show (no status "
			    "snapshot)\n", who);
		free(who);
	}
	if (s != NULL)
		istatus_print_mailboxes(out, s->mbx, s->nmbx, s->delim_known,
		    s->delim, v->o->mailboxes, v->o->n_mailboxes);
	print_runs(out, v, false);
}

int
istatus_show(const struct icli *o, const struct iconf *ic, FILE *out,
    struct err *err)
{
	struct istatus_snap snap;
	struct stat sb;
	struct err serr, why;
	struct db *db = NULL;
	struct view v;
	char *spath;
	int have, r, rc = 0;

	if (stat(ic->database, &sb) < 0) {
		if (errno != ENOENT)
			return err_sys(err, ERR_SYS, "cannot stat %s",
			    ic->database);
		fprintf(out, "no database yet: %s (interimap has not run with "
		    "this configuration)\n", ic->database);
		return 0;
	}
	memset(&v, 0, sizeof(v));
	v.o = o;
	v.path = ic->database;
	v.spath = spath = istatus_snap_path(v.path);
	have = istatus_snap_read(v.spath, &snap, &serr);
	v.snap = have > 0 ? &snap : NULL;
	v.bad = have < 0 ? &serr : NULL;
	/* Before SQLite opens the file (see db_lock_holder()). */
	v.holder = db_lock_holder(v.path);
	fprintf(out, "database: %s\n", v.path);
	err_clear(&why);
	if ((r = db_open_peek(v.path, &db, &why)) >= 0) {
		rc = show_database(out, &v, db, r > 0, &sb, &why);
		db_close(&db);
	}
	if (r >= 0 && rc == 0) {
		/* shown */
	} else if (why.kind == ERR_LOCKED || why.kind == ERR_TEMP) {
		show_snapshot(out, &v, &why);
		rc = 0;
	} else {
		*err = why;
		rc = -1;
	}
	istatus_snap_free(&snap);
	free(spath);
	return rc;
}

int
istatus_main(const struct icli *o, const struct iconf *ic)
{
	struct err err;

	/* Piped into head(1): end quietly, as cat(1) does. */
	signal(SIGPIPE, SIG_DFL);
	err_clear(&err);
	if (istatus_show(o, ic, stdout, &err) == 0 && fflush(stdout) == 0)
		return 0;
	if (err.kind == ERR_NONE)
		err_sys(&err, ERR_SYS, "standard output");
	fprintf(stderr, "interimap: %s\n", err.msg);
	return err_exitcode(err.kind);
}
