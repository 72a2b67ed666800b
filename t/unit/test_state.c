#include "util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pull_state.h"
#include "state.h"
#include "test.h"

static char dir[] = "/tmp/test_state.XXXXXX";

static void
test_schema_and_journal(void)
{
	struct err err;
	char *path = xasprintf("%s/a.db", dir), *name = NULL;
	struct pull_state *s;
	uint32_t uv = 0, un = 0, *u = NULL;
	size_t n = 0;
	struct stat sb;
	struct pull_msg_info m = {5, 100, "<id@x>", "01-Jan-2020 00:00:00 +0000", "a@b"};

	test_begin("state: new database, 0600, journal and reopen");
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	test_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 0);
	test_assert(pull_state_set_mailbox(s, "INBOX", 7, 1, &err) == 0);
	test_assert(pull_state_delivered(s, 7, &m, "250 ok", &err) == 0);
	m.uid = 9;
	test_assert(pull_state_rejected(s, 7, &m, "550 no", &err) == 0);
	m.uid = 3;
	test_assert(pull_state_delivered(s, 6, &m, "250 ok", &err) == 0);
	test_assert(pull_state_known(s, 7, 1, &u, &n, &err) == 0);
	test_assert(n == 2 && u[0] == 5 && u[1] == 9);
	free(u);
	test_assert(pull_state_known(s, 7, 6, &u, &n, &err) == 0);
	test_assert(n == 1 && u[0] == 9);
	free(u);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0);
	test_assert(n == 1 && u[0] == 5);
	test_assert(pull_state_mark_seen(s, 7, u, n, &err) == 0);
	free(u);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 0);
	free(u);
	pull_state_close(&s);

	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 1);
	test_assert(uv == 7 && un == 1);
	test_assert_str(name, "INBOX");
	free(name);
	pull_state_close(&s);
	free(path);
	test_end();
}

static void
test_lock(void)
{
	struct err err;
	char *path = xasprintf("%s/b.db", dir);
	struct pull_state *s;
	int pfd[2], status = -1;
	pid_t pid;

	test_begin("state: a second process is refused while the first runs");
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	test_assert(pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		struct err e2;
		struct pull_state *s2 = pull_state_open(path, "INBOX", &e2);
		char c = s2 == NULL && e2.kind == ERR_LOCKED ? 'L' : 'X';
		if (write(pfd[1], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	{
		char c = 0;
		test_assert(read(pfd[0], &c, 1) == 1 && c == 'L');
	}
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pull_state_close(&s);
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	pull_state_close(&s);
	close(pfd[0]);
	close(pfd[1]);
	free(path);
	test_end();
}

static void
test_perl_import(void)
{
	struct err err;
	char *path = xasprintf("%s/p.db", dir), *name = NULL;
	char *kept = xasprintf("%s.perl-statefile", path);
	struct pull_state *s;
	uint32_t uv = 0, un = 0, *u = NULL;
	size_t n = 0;
	struct stat sb;

	test_begin("state: imports the Perl statefile, keeps it, once");
	test_write_file(path, "\0\0\0\7\0\0\0\x0b\0\0\0\x0c\0\0\0\x0e", 16);
	s = pull_state_open(path, "Box", &err);
	test_assert(s != NULL);
	test_assert(stat(kept, &sb) == 0 && sb.st_size == 16);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 1);
	test_assert(uv == 7 && un == 11);
	test_assert_str(name, "Box");
	free(name);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0);
	test_assert(n == 2 && u[0] == 12 && u[1] == 14);
	test_assert(pull_state_mark_seen(s, 7, u, n, &err) == 0);
	free(u);
	pull_state_close(&s);
	/* The kept file is not imported again over a state in use. */
	s = pull_state_open(path, "Box", &err);
	test_assert(s != NULL);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 0);
	free(u);
	pull_state_close(&s);
	test_end();

	test_begin("state: import resumes after a crash before the commit");
	test_assert(unlink(path) == 0);
	test_write_file(path, "", 0); /* what a crash right after creating it leaves */
	s = pull_state_open(path, "Box", &err);
	test_assert(s != NULL);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 1);
	test_assert(uv == 7 && un == 11);
	free(name);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 2);
	free(u);
	pull_state_close(&s);
	test_end();

	test_begin("state: Perl statefile refused when the kept name exists");
	test_assert(unlink(path) == 0);
	test_write_file(path, "\0\0\0\7\0\0\0\x0b", 8);
	s = pull_state_open(path, "Box", &err);
	test_assert(s == NULL && err.kind == ERR_DB);
	test_assert(strstr(err.msg, kept) != NULL);
	test_assert(stat(path, &sb) == 0 && sb.st_size == 8);
	test_end();

	test_begin("state: a corrupt file stays, named in the error");
	test_assert(unlink(kept) == 0);
	test_write_file(path, "\0\0\0\7\0\0\0\x0b\1", 9);
	s = pull_state_open(path, "Box", &err);
	test_assert(s == NULL && err.kind == ERR_DB);
	test_assert(strstr(err.msg, path) != NULL);
	test_assert(stat(path, &sb) == 0 && sb.st_size == 9);
	test_assert(stat(kept, &sb) < 0);
	/* Without a mailbox (--status) nothing is imported. */
	test_write_file(path, "\0\0\0\7\0\0\0\x0b", 8);
	s = pull_state_open(path, NULL, &err);
	test_assert(s == NULL && err.kind == ERR_DB);
	test_assert(stat(kept, &sb) < 0);
	test_end();
	free(kept);
	free(path);
}

/* SQL on the closed database, result of the first column of each row
 * joined with '|'. */
static char *
raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = xstrdup("");
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		char *n = xasprintf("%s%s%s", out, *out ? "|" : "", v ? v : "");
		free(out);
		out = n;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static void
test_unseen_index(void)
{
	struct err err;
	char *path = xasprintf("%s/idx.db", dir), *v;
	struct pull_state *s;
	uint32_t *u = NULL;
	size_t n = 0;
	struct pull_msg_info m = {1, 100, "<id@x>", "01-Jan-2020 00:00:00 +0000", "a@b"};

	test_begin("state: partial indexes for unseen/unflagged, migrated from version 1");
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	for (m.uid = 1; m.uid <= 50; m.uid++)
		test_assert(pull_state_delivered(s, 7, &m, "250 ok", &err) == 0);
	pull_state_close(&s);
	v = raw_sql(path, "PRAGMA user_version");
	test_assert_str(v, "2");
	free(v);
	/* A version 1 database gets them on open, keeping its rows. */
	free(raw_sql(path, "DROP INDEX delivered_unseen"));
	free(raw_sql(path, "DROP INDEX rejected_unflagged"));
	free(raw_sql(path, "PRAGMA user_version = 1"));
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 50);
	u[0] = 3;
	test_assert(pull_state_mark_seen(s, 7, u, 1, &err) == 0);
	free(u);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 49);
	free(u);
	pull_state_close(&s);
	v = raw_sql(path, "SELECT name FROM sqlite_master WHERE type = 'index'"
	    " AND name LIKE '%un%' ORDER BY 1");
	test_assert_str(v, "delivered_unseen|rejected_unflagged");
	free(v);
	v = raw_sql(path, "PRAGMA user_version");
	test_assert_str(v, "2");
	free(v);
	free(path);
	test_end();
}

/* A COMMIT that fails (here a deferred foreign key violation, as a full
 * disk would) must not leave its transaction open: the next "durable"
 * autocommit write would silently run inside it, and be lost with it. */
static void
test_failed_commit(void)
{
	static const char *const mig[] = {
	    "CREATE TABLE p (id INTEGER PRIMARY KEY);"
	    "CREATE TABLE c (pid INTEGER REFERENCES p (id)"
	    "  DEFERRABLE INITIALLY DEFERRED);"
	    "CREATE TABLE j (x INTEGER);",
	};
	struct err err;
	char *path = xasprintf("%s/fk.db", dir), *v;
	struct state *s;

	test_begin("state: a failed COMMIT leaves no transaction open");
	s = state_open(path, "test", mig, ARRAY_LEN(mig), &err);
	test_assert(s != NULL);
	test_assert(state_begin(s, &err) == 0);
	test_assert(state_exec(s, "INSERT INTO c VALUES (42)", &err) == 0);
	test_assert(state_commit(s, &err) < 0 && err.kind == ERR_DB);
	test_assert(strstr(err.msg, "FOREIGN KEY") != NULL);
	test_assert(!state_in_transaction(s));
	/* An autocommit write: durable on return, whatever came before. */
	test_assert(state_exec(s, "INSERT INTO j VALUES (1)", &err) == 0);
	state_close(&s);
	v = raw_sql(path, "SELECT count(*) FROM j");
	test_assert_str(v, "1");
	free(v);
	v = raw_sql(path, "SELECT count(*) FROM c");
	test_assert_str(v, "0");
	free(v);
	/* A failed BEGIN or statement does not leave one either. */
	s = state_open(path, "test", mig, ARRAY_LEN(mig), &err);
	test_assert(s != NULL);
	test_assert(state_begin(s, &err) == 0);
	test_assert(state_begin(s, &err) < 0);
	test_assert(state_in_transaction(s));
	state_rollback(s);
	test_assert(!state_in_transaction(s));
	test_assert(state_exec(s, "INSERT INTO j VALUES (2)", &err) == 0);
	state_close(&s);
	v = raw_sql(path, "SELECT count(*) FROM j");
	test_assert_str(v, "2");
	free(v);
	free(path);
	test_end();
}

/* Every read leaves its statement reset: one left at a row keeps a read
 * transaction, which pins the WAL snapshot, so that the WAL grows without
 * bound in a long run (t/pullimap/idle-wal.sh shows that end to end). */
static void
test_reads_reset(void)
{
	struct err err;
	char *path = xasprintf("%s/r.db", dir), *name = NULL, *v = NULL;
	struct pull_state *s;
	struct pull_state_summary sum;
	struct pull_state_rejection *rej = NULL;
	uint32_t uv, un, *u = NULL;
	size_t n = 0;
	struct pull_msg_info m = {5, 100, "<id@x>", NULL, NULL};

	test_begin("state: no read is left in progress");
	s = pull_state_open(path, "INBOX", &err);
	test_assert(s != NULL);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_set_mailbox(s, "INBOX", 7, 1, &err) == 0);
	test_assert(pull_state_delivered(s, 7, &m, "250 ok", &err) == 0);
	m.uid = 6;
	test_assert(pull_state_delivered(s, 7, &m, "250 ok", &err) == 0);
	test_assert(pull_state_rejected(s, 7, &m, "550 no", &err) == 0);
	test_assert(pull_state_set_meta(s, "k", "v", &err) == 0);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 1);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_get_meta(s, "k", &v, &err) == 1);
	test_assert_str(v, "v");
	test_assert(pull_state_idle(s));
	test_assert(pull_state_get_meta(s, "nothing", &v, &err) == 0);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_summary(s, &sum, &err) == 0);
	test_assert(sum.ndelivered == 2 && sum.nrejected == 1 && sum.has_last);
	test_assert(sum.last_uid == 6 && sum.npending == 2);
	test_assert_str(sum.last_reply, "250 ok");
	pull_state_summary_free(&sum);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_rejections(s, 1, &rej, &n, &err) == 0 && n == 1);
	pull_state_rejections_free(rej, n);
	test_assert(pull_state_idle(s));
	test_assert(pull_state_known(s, 7, 1, &u, &n, &err) == 0 && n == 2);
	free(u);
	test_assert(pull_state_idle(s));
	pull_state_close(&s);
	free(name);
	free(v);
	free(path);
	test_end();
}

static bool
exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* The read-only view (--status): beside a writer, and alone, where it
 * must create nothing; a writer may start while it is open. */
static void
test_readonly(void)
{
	struct err err;
	char *path = xasprintf("%s/ro.db", dir), *name = NULL;
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
	struct pull_state *w, *r, *w2;
	struct pull_state_summary sum;
	struct pull_msg_info m = {5, 100, "<id@x>", NULL, NULL};
	uint32_t uv, un;
	struct stat sb0, sb;

	test_begin("state: read-only open beside a writer, and alone");
	test_assert(pull_state_open_readonly(path, &r, &err) < 0);
	test_assert(!exists(path));
	w = pull_state_open(path, "INBOX", &err);
	test_assert(w != NULL);
	test_assert(pull_state_set_mailbox(w, "INBOX", 7, 1, &err) == 0);
	test_assert(pull_state_delivered(w, 7, &m, "250 ok", &err) == 0);
	/* Beside the writer: what it committed, and it goes on writing. */
	test_assert(pull_state_open_readonly(path, &r, &err) == 1);
	test_assert(pull_state_get_mailbox(r, &name, &uv, &un, &err) == 1);
	test_assert(uv == 7);
	free(name);
	test_assert(pull_state_summary(r, &sum, &err) == 0 &&
	    sum.ndelivered == 1);
	pull_state_summary_free(&sum);
	m.uid = 6;
	test_assert(pull_state_delivered(w, 7, &m, "250 ok", &err) == 0);
	test_assert(pull_state_summary(r, &sum, &err) == 0 &&
	    sum.ndelivered == 2);
	pull_state_summary_free(&sum);
	test_assert(pull_state_unchanged(r));
	pull_state_close(&r);
	pull_state_close(&w);
	test_assert(!exists(wal) && !exists(shm));

	/* Alone: nothing created, nothing changed; a writer may start (the
	 * reader holds no lock it would fail on) and its changes to the
	 * file are noticed. */
	test_assert(stat(path, &sb0) == 0);
	test_assert(pull_state_open_readonly(path, &r, &err) == 1);
	test_assert(pull_state_summary(r, &sum, &err) == 0 &&
	    sum.ndelivered == 2);
	pull_state_summary_free(&sum);
	test_assert(!exists(wal) && !exists(shm));
	test_assert(pull_state_unchanged(r));
	w2 = pull_state_open(path, "INBOX", &err);
	test_assert(w2 != NULL);
	pull_state_close(&w2); /* its checkpoint writes nothing: unchanged */
	test_assert(pull_state_unchanged(r));
	w2 = pull_state_open(path, "INBOX", &err);
	test_assert(w2 != NULL);
	m.uid = 7;
	test_assert(pull_state_delivered(w2, 7, &m, "250 ok", &err) == 0);
	pull_state_close(&w2); /* checkpointed into the file */
	test_assert(!pull_state_unchanged(r));
	pull_state_close(&r);
	test_assert(stat(path, &sb) == 0);
	test_assert(sb.st_mtim.tv_sec != sb0.st_mtim.tv_sec ||
	    sb.st_mtim.tv_nsec != sb0.st_mtim.tv_nsec);
	test_end();

	test_begin("state: read-only open of an empty file, a newer schema");
	test_assert(unlink(path) == 0);
	test_write_file(path, "", 0);
	test_assert(pull_state_open_readonly(path, &r, &err) == 0 && !r);
	test_assert(stat(path, &sb) == 0 && sb.st_size == 0);
	test_assert(!exists(wal) && !exists(shm));
	test_assert(unlink(path) == 0);
	w = pull_state_open(path, "INBOX", &err);
	test_assert(w != NULL);
	pull_state_close(&w);
	free(raw_sql(path, "PRAGMA user_version = 3"));
	test_assert(pull_state_open_readonly(path, &r, &err) < 0);
	test_assert(err.kind == ERR_DB && strstr(err.msg, "newer") != NULL);
	{
		char junk[200];
		memset(junk, 'x', sizeof(junk));
		test_write_file(path, junk, sizeof(junk));
	}
	test_assert(pull_state_open_readonly(path, &r, &err) < 0);
	test_assert(err.kind == ERR_DB && strstr(err.msg, path) != NULL);
	test_end();
	free(path);
	free(wal);
	free(shm);
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_schema_and_journal();
	test_lock();
	test_perl_import();
	test_unseen_index();
	test_failed_commit();
	test_reads_reset();
	test_readonly();
	test_rm_rf(dir);
	return test_exit();
}
