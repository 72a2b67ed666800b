/* interimap/db*.c: the reference's schema byte for byte, its locking, its
 * value encodings, the pre-0.5 upgrade, and every query's round trip.
 *
 * With arguments, this program is also the small tool that
 * t/interimap/db-compat.sh runs against databases the Perl interimap made
 * (t/tools/ programs link common/ only, not interimap/):
 *   test_db create FILE        db_open() + db_schema(), prints its line
 *   test_db upgrade FILE L R   db_schema() with delimiters L and R
 *                              ("NIL" for a flat namespace)
 *   test_db dump FILE          what db.h reads of FILE (see dump())
 *   test_db open FILE          db_open() alone: "opened" or "error ..."
 *   test_db hold FILE          db_open(), "held", then waits for EOF on
 *                              stdin before closing */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "db.h"
#include "db_int.h"
#include "dbfix.h"
#include "test.h"
#include "uidlist.h"

static char dir[] = "/tmp/test_db.XXXXXX";

/* What `sqlite3 FILE .schema` printed for a database the Perl interimap
 * 0.5.7 created (notes-interimap.md §3.1), without the ';'s. */
static const char *const ref_schema[] = {
	"CREATE TABLE mailboxes (idx        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, subscribed BOOLEAN NOT NULL)",
	"CREATE TABLE sqlite_sequence(name,seq)",
	"CREATE TABLE local (idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)",
	"CREATE TABLE remote (idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)",
	"CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), PRIMARY KEY (idx,lUID), UNIQUE      (idx,rUID))",
};

/* SQL on a database through a connection of its own; the first column of
 * each row, joined with '|'. "(error)" when the statement fails (the
 * database locked, say). */
static char *
raw_sql(const char *path, const char *q)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = xstrdup("");
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		free(out);
		return xstrdup("(error)");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		char *n = xasprintf("%s%s%s", out, *out ? "|" : "", v ? v : "");
		free(out);
		out = n;
	}
	if (rc != SQLITE_DONE) {
		free(out);
		out = xstrdup("(error)");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int
raw_exec(const char *path, const char *q)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc;
}

static bool
raw_is(const char *path, const char *q, const char *want)
{
	char *got = raw_sql(path, q);
	bool ok = strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "# %s: got \"%s\" want \"%s\"\n", q, got, want);
	free(got);
	return ok;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_schema(void)
{
	struct err err;
	char *path = xasprintf("%s/schema.db", dir), *msg = NULL, *want;
	struct db *db;
	struct stat sb;
	mode_t old = umask(022);

	test_begin("db: a new file is 0600, empty until the schema step");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	test_assert(!db_in_transaction(db));
	db_close(&db);
	umask(old);
	test_assert(raw_is(path, "SELECT count(*) FROM sqlite_master", "0"));
	test_assert(raw_is(path, "PRAGMA user_version", "0"));
	test_end();

	test_begin("db: the schema is the reference's, byte for byte");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, '/', '.', &msg, &err) == 0);
	want = xasprintf("Creating new schema in database file %s", path);
	test_assert_str(msg, want);
	free(want);
	free(msg);
	test_assert(!db_in_transaction(db));
	db_close(&db);
	{
		/* What .schema shows: the automatic indexes have no SQL. */
		char *got = raw_sql(path, "SELECT sql FROM sqlite_master "
					  "WHERE sql IS NOT NULL ORDER BY rowid");
		struct buf b = BUF_INIT(1 << 16);
		for (size_t i = 0; i < ARRAY_LEN(ref_schema); i++)
			buf_appendf(&b, "%s%s", i ? "|" : "", ref_schema[i]);
		test_assert_str(got, b.data);
		free(got);
		buf_free(&b);
	}
	test_assert(raw_is(path, "PRAGMA user_version", "1"));
	test_assert(raw_is(path, "PRAGMA journal_mode", "delete"));
	test_assert(raw_is(path, "PRAGMA page_size", "4096"));
	test_end();

	test_begin("db: the schema step runs once");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, '/', '/', &msg, &err) == 0);
	test_assert(msg == NULL);
	db_close(&db);
	test_assert(raw_is(path, "SELECT count(*) FROM sqlite_master WHERE "
				 "sql IS NOT NULL", "5"));
	/* A later version is accepted, as the reference does. */
	test_assert(raw_exec(path, "PRAGMA user_version = 7") == 0);
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, '/', '/', &msg, &err) == 0 && msg == NULL);
	db_close(&db);
	test_assert(raw_is(path, "PRAGMA user_version", "7"));
	test_end();
	free(path);
}

/* Child: db_open() on path; exits 0 when refused with ERR_LOCKED naming
 * the file, within a second. */
static int
child_open(const char *path)
{
	struct err err;
	double t0 = now_s();
	struct db *db = db_open(path, 0, &err);
	bool ok = db == NULL && err.kind == ERR_LOCKED &&
	    strstr(err.msg, path) != NULL && strchr(err.msg, '\n') == NULL &&
	    now_s() - t0 < 1.0;
	if (!ok)
		fprintf(stderr, "# child: %s\n", db ? "opened" : err.msg);
	db_close(&db);
	return ok ? 0 : 1;
}

static void
test_lock(void)
{
	struct err err, e2;
	char *path = xasprintf("%s/lock.db", dir), *msg = NULL;
	struct db *db, *db2;
	double t0;
	int status = -1;
	pid_t pid;

	test_begin("db: a second open fails at once with ERR_LOCKED");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	/* Before the schema step (nothing written yet) ... */
	t0 = now_s();
	db2 = db_open(path, 0, &e2);
	test_assert(db2 == NULL && e2.kind == ERR_LOCKED);
	test_assert(strstr(e2.msg, path) != NULL);
	test_assert(now_s() - t0 < 1.0);
	db_close(&db2);
	/* ... and after it, from another process. */
	test_assert(db_schema(db, '/', '/', &msg, &err) == 0);
	free(msg);
	pid = fork();
	if (pid == 0)
		_exit(child_open(path));
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* What the Perl interimap's first statement is (BEGIN IMMEDIATE),
	 * and a plain reader: both refused while we run. */
	test_assert(raw_is(path, "BEGIN IMMEDIATE", "(error)"));
	test_assert(raw_is(path, "SELECT count(*) FROM mailboxes", "(error)"));
	db_close(&db);
	test_assert(raw_is(path, "SELECT count(*) FROM mailboxes", "0"));
	test_end();

	test_begin("db: refused while a Perl-like holder has the lock");
	{
		sqlite3 *h = NULL;
		test_assert(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE,
				NULL) == SQLITE_OK);
		/* DBD::SQLite with AutoCommit off and immediate transactions,
		 * then the reference's PRAGMA. */
		test_assert(sqlite3_exec(h, "BEGIN IMMEDIATE; PRAGMA "
			"locking_mode = EXCLUSIVE; COMMIT; PRAGMA user_version",
			NULL, NULL, NULL) == SQLITE_OK);
		t0 = now_s();
		db2 = db_open(path, 0, &e2);
		test_assert(db2 == NULL && e2.kind == ERR_LOCKED);
		test_assert(now_s() - t0 < 1.0);
		db_close(&db2);
		sqlite3_close(h);
		db2 = db_open(path, 0, &e2);
		test_assert(db2 != NULL);
		db_close(&db2);
	}
	test_end();
	free(path);
}

static void
test_open_errors(void)
{
	struct err err;
	char *path = xasprintf("%s/watch.db", dir);
	char *junk = xasprintf("%s/junk.db", dir);
	struct db *db;
	struct stat sb;

	test_begin("db: watch mode never creates the file");
	db = db_open(path, DB_OPEN_NO_CREATE, &err);
	test_assert(db == NULL && err.kind == ERR_DB);
	test_assert(strstr(err.msg, path) != NULL);
	test_assert(stat(path, &sb) < 0 && errno == ENOENT);
	/* An existing one opens. */
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	db_close(&db);
	db = db_open(path, DB_OPEN_NO_CREATE, &err);
	test_assert(db != NULL);
	db_close(&db);
	test_end();

	test_begin("db: a file that is not a database, a missing directory");
	test_write_file(junk, "this is not an SQLite database, not at all..."
			      "..........................................", 88);
	db = db_open(junk, 0, &err);
	test_assert(db == NULL && err.kind == ERR_DB);
	test_assert(strstr(err.msg, junk) != NULL);
	free(junk);
	junk = xasprintf("%s/nodir/x.db", dir);
	db = db_open(junk, 0, &err);
	test_assert(db == NULL && err.kind == ERR_SYS);
	test_end();
	free(junk);
	free(path);
}

static void
test_mailboxes(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "mbx.db", &path);
	int64_t inbox = 0, fb = 0, fbb = 0, fx = 0, fbx = 0, idx = 0;
	bool sub = false;
	uint64_t changed = 0;

	test_begin("db: mailboxes by BLOB name, NUL as the delimiter");
	test_assert(db != NULL);
	test_assert(db_mailbox_get(db, "INBOX", 5, &idx, &sub, &err) == 0);
	test_assert(db_mailbox_add(db, "INBOX", 5, true, &inbox, &err) == 0);
	test_assert(db_in_transaction(db));
	test_assert(db_mailbox_add(db, "foo\0bar", 7, false, &fb, &err) == 0);
	test_assert(db_mailbox_add(db, "foo\0bar\0baz", 11, true, &fbb,
			&err) == 0);
	test_assert(db_mailbox_add(db, "foo\0barx", 8, false, &fbx, &err) ==
	    0);
	test_assert(db_mailbox_add(db, "foox", 4, false, &fx, &err) == 0);
	test_assert(inbox == 1 && fb == 2 && fbb == 3 && fbx == 4 && fx == 5);
	test_assert(db_mailbox_add(db, "foox", 4, true, NULL, &err) < 0 &&
	    err.kind == ERR_DB && strstr(err.msg, "UNIQUE") != NULL);
	test_assert(db_mailbox_add(db, "", 0, true, NULL, &err) < 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(!db_in_transaction(db));
	test_assert(db_mailbox_get(db, "foo\0bar", 7, &idx, &sub, &err) == 1);
	test_assert(idx == fb && !sub);
	test_assert(db_mailbox_get(db, "foo", 3, &idx, &sub, &err) == 0);
	test_assert(db_mailbox_get(db, "foo/bar", 7, &idx, &sub, &err) == 0);
	test_assert(db_mailbox_get(db, "INBOX", 5, &idx, &sub, &err) == 1);
	test_assert(idx == inbox && sub);
	test_assert(db_mailbox_set_subscribed(db, inbox, false, &err) == 0);
	test_assert(db_mailbox_set_subscribed(db, fb, true, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_mailbox_get(db, "INBOX", 5, &idx, &sub, &err) == 1 &&
	    !sub);
	test_assert(db_mailbox_get(db, "foo\0bar", 7, &idx, &sub, &err) == 1 &&
	    sub);
	db_close(&db);
	test_assert(raw_is(path, "SELECT hex(mailbox) || ' ' || typeof(mailbox)"
				 " || ' ' || subscribed FROM mailboxes "
				 "WHERE idx = 3", "666F6F006261720062617A blob 1"));
	test_assert(raw_is(path, "SELECT DISTINCT typeof(mailbox) FROM "
				 "mailboxes", "blob"));
	test_end();

	test_begin("db: rename takes the children along, and only them");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	{
		char *msg = NULL;
		test_assert(db_schema(db, '/', '/', &msg, &err) == 0);
		free(msg);
	}
	test_assert(db_mailbox_rename(db, "foo\0bar", 7, "qux", 3, &changed,
			&err) == 0);
	test_assert(changed == 2);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_mailbox_get(db, "qux", 3, &idx, &sub, &err) == 1 &&
	    idx == fb);
	test_assert(db_mailbox_get(db, "qux\0baz", 7, &idx, &sub, &err) == 1 &&
	    idx == fbb && sub);
	test_assert(db_mailbox_get(db, "foo\0barx", 8, &idx, &sub, &err) ==
	    1 && idx == fbx);
	test_assert(db_mailbox_get(db, "foo\0bar", 7, &idx, &sub, &err) == 0);
	/* Children alone (the parent was never synced). */
	test_assert(db_mailbox_rename(db, "qux", 3, "a\0b", 3, &changed,
			&err) == 0);
	test_assert(changed == 2);
	test_assert(db_mailbox_rename(db, "a\0b", 3, "z", 1, NULL, &err) ==
	    0);
	test_assert(db_mailbox_get(db, "z\0baz", 5, &idx, &sub, &err) == 1 &&
	    idx == fbb);
	test_assert(db_mailbox_rename(db, "nothing", 7, "else", 4, &changed,
			&err) == 0 &&
	    changed == 0);
	/* Onto a taken name: the constraint says no, and a rollback
	 * undoes the whole transaction. */
	test_assert(db_mailbox_rename(db, "z", 1, "foox", 4, &changed,
			&err) < 0);
	db_rollback(db);
	test_assert(db_mailbox_get(db, "z", 1, &idx, &sub, &err) == 0);
	test_assert(db_mailbox_get(db, "qux", 3, &idx, &sub, &err) == 1);
	test_end();

	test_begin("db: delete removes the mailbox and its rows, not children");
	test_assert(db_state_add(db, fb, 5, 6, &err) == 0);
	test_assert(db_map_add(db, fb, 1, 2, &err) == 0);
	test_assert(db_state_add(db, fbb, 7, 8, &err) == 0);
	test_assert(db_map_add(db, fbb, 1, 2, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_mailbox_delete(db, fb, &err) == 0);
	test_assert(db_mailbox_delete(db, 999, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_mailbox_get(db, "qux", 3, &idx, &sub, &err) == 0);
	test_assert(db_mailbox_get(db, "qux\0baz", 7, &idx, &sub, &err) == 1);
	db_close(&db);
	test_assert(raw_is(path, "SELECT count(*) FROM mapping", "1"));
	test_assert(raw_is(path, "SELECT group_concat(idx) FROM local", "3"));
	test_assert(raw_is(path, "SELECT group_concat(idx) FROM remote", "3"));
	/* AUTOINCREMENT: a new mailbox never takes a deleted idx. */
	db = db_open(path, 0, &err);
	test_assert(db_mailbox_add(db, "new", 3, false, &idx, &err) == 0 &&
	    idx == 6);
	test_assert(db_commit(db, &err) == 0);
	db_close(&db);
	test_end();
	free(path);
}

static void
test_states(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "state.db", &path);
	struct db_state st[2];
	struct db_mbx *v = NULL;
	size_t n = 0;
	int64_t a = 0, b = 0;
	const uint64_t big = (UINT64_C(1) << 63) + 5;

	test_begin("db: per-side states; HIGHESTMODSEQ >= 2^63 stored signed");
	test_assert(db != NULL);
	test_assert(db_mailbox_add(db, "a", 1, true, &a, &err) == 0);
	test_assert(db_mailbox_add(db, "b\0c", 3, false, &b, &err) == 0);
	test_assert(db_state_get(db, a, st, &err) == 0);
	test_assert(db_state_add(db, a, 1000, UINT32_MAX, &err) == 0);
	test_assert(db_state_get(db, a, st, &err) == 1);
	test_assert(st[DB_LOCAL].uidvalidity == 1000 &&
	    st[DB_LOCAL].uidnext == 0 && st[DB_LOCAL].highestmodseq == 0);
	test_assert(st[DB_REMOTE].uidvalidity == UINT32_MAX &&
	    st[DB_REMOTE].uidnext == 0 && st[DB_REMOTE].highestmodseq == 0);
	test_assert(db_state_set(db, DB_LOCAL, a, 42, big, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, a, UINT32_MAX, UINT64_MAX,
			&err) == 0);
	test_assert(db_state_add(db, b, 3, 4, &err) == 0);
	test_assert(db_state_set_modseq(db, DB_REMOTE, b, 77, &err) == 0);
	test_assert(db_state_set_modseq(db, DB_LOCAL, b, 1, &err) == 0);
	test_assert(db_state_add(db, a, 1, 1, &err) < 0); /* PRIMARY KEY */
	test_assert(db_state_add(db, b + 1, 1, 1, &err) < 0); /* foreign key */
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_state_get(db, a, st, &err) == 1);
	test_assert(st[DB_LOCAL].uidnext == 42 &&
	    st[DB_LOCAL].highestmodseq == big);
	test_assert(st[DB_REMOTE].uidnext == UINT32_MAX &&
	    st[DB_REMOTE].highestmodseq == UINT64_MAX);
	test_assert(db_known_list(db, &v, &n, &err) == 0 && n == 2);
	if (n == 2) {
		test_assert(v[0].idx == a && v[0].len == 1 &&
		    memcmp(v[0].name, "a", 2) == 0 && v[0].subscribed);
		test_assert(v[0].st[DB_LOCAL].highestmodseq == big);
		test_assert(v[1].idx == b && v[1].len == 3 &&
		    memcmp(v[1].name, "b\0c", 4) == 0 && !v[1].subscribed);
		test_assert(v[1].st[DB_LOCAL].uidvalidity == 3 &&
		    v[1].st[DB_LOCAL].highestmodseq == 1 &&
		    v[1].st[DB_REMOTE].uidvalidity == 4 &&
		    v[1].st[DB_REMOTE].highestmodseq == 77 &&
		    v[1].st[DB_REMOTE].uidnext == 0);
	}
	db_mbx_free(v, n);
	db_close(&db);
	/* In the file, as the Perl program writes and reads it. */
	test_assert(raw_is(path, "SELECT HIGHESTMODSEQ FROM local WHERE idx = 1",
	    "-9223372036854775803"));
	test_assert(raw_is(path, "SELECT HIGHESTMODSEQ FROM remote WHERE idx = 1",
	    "-1"));
	test_assert(raw_is(path, "SELECT typeof(UIDNEXT) || typeof(UIDVALIDITY)"
				 " || typeof(HIGHESTMODSEQ) FROM remote "
				 "WHERE idx = 1", "integerintegerinteger"));
	test_end();

	test_begin("db: a corrupt value is an error, not a wrong UID");
	test_assert(raw_exec(path, "UPDATE local SET UIDNEXT = 4294967296 "
				   "WHERE idx = 1") == 0);
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_state_get(db, a, st, &err) < 0 && err.kind == ERR_DB);
	test_assert(db_known_list(db, &v, &n, &err) < 0 && v == NULL &&
	    n == 0);
	test_assert(db_state_get(db, b, st, &err) == 1);
	db_close(&db);
	test_end();
	free(path);
}

/* db_reads.c: within db_reads_begin()'s transaction, past DB_READS_BULK
 * lookups, the answers come from one read of the table: the same as one
 * by one, for names that are prefixes of others, a name stored as TEXT
 * (never found), an idx without state, a corrupt row. */
static void
test_reads_memo(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "memo.db", &path);
	enum { N = 3 * DB_READS_BULK };
	char names[N + 4][8];
	size_t lens[N + 4], nn = 0;
	int64_t idx[N + 4], got_idx = 0, fresh = 0;
	bool sub[N + 4], got_sub = false;
	struct db_state st[2];
	int known[N + 4], bad = 0;

	test_begin("db: lookups in a read transaction, one table read");
	test_assert(db != NULL);
	for (int i = 0; i < N; i++) {
		snprintf(names[nn], sizeof(names[nn]), "m%02d", N - i);
		lens[nn++] = 3;
	}
	memcpy(names[nn], "x", 2), lens[nn++] = 1;
	memcpy(names[nn], "x\0y", 4), lens[nn++] = 3;
	memcpy(names[nn], "xy", 3), lens[nn++] = 2;
	memcpy(names[nn], "x\0", 3), lens[nn++] = 2; /* never added */
	for (size_t i = 0; i + 1 < nn; i++) {
		test_assert(db_mailbox_add(db, names[i], lens[i], i % 3 == 0,
				&idx[i], &err) == 0);
		if (i % 2 == 0)
			test_assert(db_state_add(db, idx[i], 10 + (uint32_t)i,
					20 + (uint32_t)i, &err) == 0);
	}
	idx[nn - 1] = 10000;
	test_assert(db_commit(db, &err) == 0);
	db_close(&db);
	test_assert(raw_exec(path, "INSERT INTO mailboxes (mailbox, "
				   "subscribed) VALUES ('txt', 1)") == 0);
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	/* Twice over, both kinds, against what a lookup alone says. */
	for (size_t i = 0; i < nn; i++)
		known[i] = db_mailbox_get(db, names[i], lens[i], &got_idx,
		    &sub[i], &err);
	db_reads_begin(db);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < nn; i++) {
			int k = db_mailbox_get(db, names[i], lens[i],
			    &got_idx, &got_sub, &err);
			if (k != known[i] || (k == 1 && (got_idx != idx[i] ||
			    got_sub != sub[i])))
				bad++;
			k = db_state_get(db, idx[i], st, &err);
			if (k != (i % 2 == 0 && i + 1 < nn) || (k == 1 &&
			    (st[DB_LOCAL].uidvalidity != 10 + i ||
			    st[DB_REMOTE].uidvalidity != 20 + i ||
			    st[DB_LOCAL].uidnext != 0)))
				bad++;
		}
	test_assert(bad == 0);
	test_assert(db_mailbox_get(db, "txt", 3, &got_idx, &got_sub,
			&err) == 0);
	test_assert(db_mailbox_get(db, "", 0, &got_idx, &got_sub, &err) < 0 &&
	    err.kind == ERR_INTERNAL);
	/* A write ends the reads, what was read is forgotten. */
	test_assert(db_mailbox_add(db, "new", 3, false, &fresh, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_mailbox_get(db, "new", 3, &got_idx, &got_sub,
			&err) == 1 && got_idx == fresh);
	db_reads_end(db);
	test_assert(known[nn - 1] == 0 && known[0] == 1);
	db_close(&db);
	test_end();

	test_begin("db: a corrupt row within a read transaction, as without");
	test_assert(raw_exec(path, "UPDATE local SET UIDNEXT = 4294967296 "
				   "WHERE idx = 3") == 0);
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	db_reads_begin(db);
	bad = 0;
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i + 1 < nn; i += 2) {
			int k = db_state_get(db, idx[i], st, &err);
			if (idx[i] == 3 ? k >= 0 || err.kind != ERR_DB : k != 1)
				bad++;
		}
	test_assert(bad == 0);
	db_reads_end(db);
	db_close(&db);
	test_end();
	free(path);
}

static bool
pairs_are(const struct db_pair *p, size_t n, const char *want)
{
	struct buf b = BUF_INIT(1 << 20);
	bool ok;
	buf_appends(&b, "");
	for (size_t i = 0; i < n; i++)
		buf_appendf(&b, "%s%u=%u", i ? " " : "", p[i].luid, p[i].ruid);
	ok = strcmp(b.data, want) == 0;
	if (!ok)
		fprintf(stderr, "# pairs: got \"%s\" want \"%s\"\n", b.data,
		    want);
	buf_free(&b);
	return ok;
}

static void
test_mapping(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "map.db", &path);
	int64_t a = 0, b = 0;
	uint32_t u = 0;
	uint64_t cnt = 0;
	struct db_pair *p = NULL;
	size_t n = 0;
	struct uidset set = UIDSET_INIT;

	test_begin("db: mapping: add, look up both ways, find by set");
	test_assert(db != NULL);
	test_assert(db_mailbox_add(db, "a", 1, true, &a, &err) == 0);
	test_assert(db_mailbox_add(db, "b", 1, true, &b, &err) == 0);
	test_assert(db_state_add(db, a, 1, 2, &err) == 0);
	test_assert(db_state_add(db, b, 1, 2, &err) == 0);
	for (uint32_t i = 1; i <= 10; i++)
		test_assert(db_map_add(db, a, i, 100 + i, &err) == 0);
	test_assert(db_map_add(db, a, UINT32_MAX, 1, &err) == 0);
	test_assert(db_map_add(db, b, 1, 101, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_map_get(db, a, DB_LOCAL, 3, &u, &err) == 1 && u == 103);
	test_assert(db_map_get(db, a, DB_REMOTE, 103, &u, &err) == 1 &&
	    u == 3);
	test_assert(db_map_get(db, a, DB_LOCAL, UINT32_MAX, &u, &err) == 1 &&
	    u == 1);
	test_assert(db_map_get(db, a, DB_REMOTE, 1, &u, &err) == 1 &&
	    u == UINT32_MAX);
	test_assert(db_map_get(db, a, DB_LOCAL, 11, &u, &err) == 0);
	test_assert(db_map_get(db, b, DB_REMOTE, 102, &u, &err) == 0);
	test_assert(db_map_count(db, a, &cnt, &err) == 0 && cnt == 11);
	test_assert(db_map_count(db, 99, &cnt, &err) == 0 && cnt == 0);
	uidset_add(&set, 9, 20);
	uidset_add(&set, 1, 2);
	uidset_add(&set, 5, 5);
	test_assert(db_map_find(db, a, DB_LOCAL, &set, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "1=101 2=102 5=105 9=109 10=110"));
	free(p);
	uidset_clear(&set);
	uidset_add(&set, 1, 104);
	test_assert(db_map_find(db, a, DB_REMOTE, &set, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "4294967295=1 1=101 2=102 3=103 4=104"));
	free(p);
	uidset_clear(&set);
	test_assert(db_map_find(db, a, DB_REMOTE, &set, &p, &n, &err) == 0 &&
	    p == NULL && n == 0);
	test_end();

	test_begin("db: mapping: constraints hold");
	test_assert(db_map_add(db, a, 3, 999, &err) < 0); /* lUID taken */
	test_assert(db_map_add(db, a, 999, 103, &err) < 0); /* rUID taken */
	test_assert(db_map_add(db, a, 0, 5000, &err) < 0); /* CHECK */
	test_assert(db_map_add(db, a, 5000, 0, &err) < 0);
	test_assert(db_map_add(db, 99, 1, 1, &err) < 0 &&
	    strstr(err.msg, "FOREIGN KEY") != NULL);
	test_assert(db_map_add(db, b, 3, 103, &err) == 0); /* per mailbox */
	test_assert(db_commit(db, &err) == 0);
	test_end();

	test_begin("db: mapping: delete one, delete by set of either side");
	test_assert(db_map_delete(db, a, 3, &err) == 1);
	test_assert(db_map_delete(db, a, 3, &err) == 0);
	uidset_add(&set, 5, 7);
	uidset_add(&set, 9, 9);
	test_assert(db_map_delete_set(db, a, DB_LOCAL, &set, &cnt, &err) == 0 &&
	    cnt == 4);
	uidset_clear(&set);
	uidset_add(&set, 1, 102);
	test_assert(db_map_delete_set(db, a, DB_REMOTE, &set, &cnt, &err) ==
		0 &&
	    cnt == 3);
	test_assert(db_in_transaction(db));
	test_assert(db_map_pairs(db, a, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "4=104 8=108 10=110"));
	free(p);
	/* Nothing is durable before the commit. */
	db_rollback(db);
	test_assert(db_map_count(db, a, &cnt, &err) == 0 && cnt == 11);
	uidset_clear(&set);
	uidset_add(&set, 1, 2);
	test_assert(db_map_delete_set(db, a, DB_LOCAL, &set, NULL, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_map_pairs(db, a, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "3=103 4=104 5=105 6=106 7=107 8=108 "
				    "9=109 10=110 4294967295=1"));
	free(p);
	test_assert(db_map_pairs(db, b, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "1=101 3=103"));
	free(p);
	/* db_close() rolls back what was not committed. */
	test_assert(db_map_delete(db, b, 1, &err) == 1);
	db_close(&db);
	test_assert(raw_is(path, "SELECT count(*) FROM mapping WHERE idx = 2",
	    "2"));
	test_end();
	uidset_free(&set);
	free(path);
}

static void
test_pending(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "pending.db", &path);
	int64_t a = 0, b = 0, c = 0, *ix = NULL;
	struct db_pair *p = NULL;
	size_t n = 0;

	test_begin("db: interrupted copies: the mailboxes and their pairs");
	test_assert(db != NULL);
	test_assert(db_mailbox_add(db, "a", 1, true, &a, &err) == 0);
	test_assert(db_mailbox_add(db, "b\0x", 3, true, &b, &err) == 0);
	test_assert(db_mailbox_add(db, "c", 1, true, &c, &err) == 0);
	test_assert(db_state_add(db, a, 1, 2, &err) == 0);
	test_assert(db_state_add(db, b, 1, 2, &err) == 0);
	test_assert(db_state_add(db, c, 1, 2, &err) == 0);
	test_assert(db_state_set(db, DB_LOCAL, a, 10, 5, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, a, 20, 5, &err) == 0);
	test_assert(db_state_set(db, DB_LOCAL, b, 10, 5, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, b, 20, 5, &err) == 0);
	test_assert(db_state_set(db, DB_LOCAL, c, 10, 5, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, c, 20, 5, &err) == 0);
	/* a: all below both UIDNEXTs. b: one past each. c: one past local. */
	test_assert(db_map_add(db, a, 9, 19, &err) == 0);
	test_assert(db_map_add(db, b, 1, 1, &err) == 0);
	test_assert(db_map_add(db, b, 10, 3, &err) == 0);
	test_assert(db_map_add(db, b, 4, 20, &err) == 0);
	test_assert(db_map_add(db, b, 11, 21, &err) == 0);
	test_assert(db_map_add(db, c, 12, 2, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_pending_idx(db, &ix, &n, &err) == 0 && n == 2);
	if (n == 2)
		test_assert(ix[0] == b && ix[1] == c);
	free(ix);
	test_assert(db_map_pending(db, b, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "4=20 10=3 11=21"));
	free(p);
	test_assert(db_map_pending(db, a, &p, &n, &err) == 0 && n == 0);
	free(p);
	/* Once UIDNEXT moves past them, nothing is pending. */
	test_assert(db_state_set(db, DB_LOCAL, b, 12, 5, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, b, 22, 5, &err) == 0);
	test_assert(db_state_set(db, DB_LOCAL, c, 13, 5, &err) == 0);
	test_assert(db_pending_idx(db, &ix, &n, &err) == 0 && n == 0 &&
	    ix == NULL);
	free(ix);
	db_close(&db);
	test_end();
	free(path);
}

/* The reference's sample() (notes §4.6), string for string: rows come
 * highest first, runs are prepended to the text. */
static void
ref_sample(const uint32_t *desc, size_t nrows, uint64_t count, char **seqs,
    char **uids)
{
	char *u = NULL;
	uint32_t min = 0, max = 0;
	uint64_t n = 0;

	if (nrows > 1024)
		nrows = 1024;
	for (size_t i = 0; i < nrows; i++) {
		uint32_t k = desc[i];
		if (i == 0) {
			min = max = k;
		} else if ((uint64_t)k + 1 == min) {
			min--;
		} else {
			char *r = min == max ? xasprintf("%u", min) :
					       xasprintf("%u:%u", min, max);
			char *t = xasprintf("%s%s%s", r, u ? "," : "",
			    u ? u : "");
			n += (uint64_t)max - min + 1;
			free(r);
			free(u);
			u = t;
			min = max = k;
			if (strlen(u) > 256)
				break;
		}
	}
	if (!u || strlen(u) <= 256) {
		char *r = min == max ? xasprintf("%u", min) :
				       xasprintf("%u:%u", min, max);
		char *t = xasprintf("%s%s%s", r, u ? "," : "", u ? u : "");
		n += (uint64_t)max - min + 1;
		free(r);
		free(u);
		u = t;
	}
	*seqs = xasprintf("%" PRIu64 ":%" PRIu64, count - n + 1, count);
	*uids = u;
}

static int
cmp_desc(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Fills mailbox idx with the pairs (l[i], r[i]) and compares both sides'
 * samples with the reference's. */
static bool
sample_case(struct db *db, int64_t idx, uint32_t *l, uint32_t *r, size_t n)
{
	struct err err;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		if (db_map_add(db, idx, l[i], r[i], &err) < 0)
			return false;
	if (db_commit(db, &err) < 0)
		return false;
	for (int side = 0; side < 2; side++) {
		uint32_t *u = side == DB_LOCAL ? l : r, lo = 0, hi = 0;
		struct uidset set = UIDSET_INIT;
		struct buf b = BUF_INIT(1 << 16);
		char *seqs, *uids, *got;

		qsort(u, n, sizeof(*u), cmp_desc);
		ref_sample(u, n, n, &seqs, &uids);
		if (db_map_sample(db, idx, (enum db_side)side, &lo, &hi, &set,
			&err) != 1) {
			ok = false;
		} else {
			buf_appends(&b, "");
			uidset_format(&b, &set);
			got = xasprintf("%u:%u", lo, hi);
			if (strcmp(got, seqs) != 0 || strcmp(b.data, uids) != 0) {
				fprintf(stderr, "# sample %d: got (%s %s) want "
				    "(%s %s)\n", side, got, b.data, seqs, uids);
				ok = false;
			}
			free(got);
		}
		free(seqs);
		free(uids);
		buf_free(&b);
		uidset_free(&set);
	}
	return ok;
}

static void
test_sample(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "sample.db", &path);
	uint32_t *l = xcalloc(5000, sizeof(*l)), *r = xcalloc(5000, sizeof(*r));
	uint32_t x = 12345, uid = 0, lo, hi;
	struct uidset set = UIDSET_INIT;
	int64_t idx = 0;
	size_t n;

	test_begin("db: SELECT's QRESYNC sample is the reference's");
	test_assert(db != NULL);
	/* No pair: no sample. */
	test_assert(db_mailbox_add(db, "empty", 5, false, &idx, &err) == 0);
	test_assert(db_map_sample(db, idx, DB_LOCAL, &lo, &hi, &set, &err) ==
	    0);
	/* 7 pairs: (1:7 1:7), as observed. */
	test_assert(db_mailbox_add(db, "seven", 5, false, &idx, &err) == 0);
	for (n = 0; n < 7; n++)
		l[n] = r[n] = (uint32_t)n + 1;
	test_assert(sample_case(db, idx, l, r, n));
	test_assert(db_map_sample(db, idx, DB_REMOTE, &lo, &hi, &set, &err) ==
		1 &&
	    lo == 1 && hi == 7 && set.n == 1 && set.r[0].lo == 1 &&
	    set.r[0].hi == 7);
	uidset_free(&set);
	/* One pair. */
	test_assert(db_mailbox_add(db, "one", 3, false, &idx, &err) == 0);
	l[0] = 5;
	r[0] = UINT32_MAX;
	test_assert(sample_case(db, idx, l, r, 1));
	/* 2000 contiguous: the 1024 highest. */
	test_assert(db_mailbox_add(db, "contiguous", 10, false, &idx, &err) ==
	    0);
	for (n = 0; n < 2000; n++) {
		l[n] = (uint32_t)n + 1;
		r[n] = (uint32_t)n + 5001;
	}
	test_assert(sample_case(db, idx, l, r, n));
	/* Every other UID: the text limit comes first; big UIDs on the
	 * remote side (wider runs). */
	test_assert(db_mailbox_add(db, "sparse", 6, false, &idx, &err) == 0);
	for (n = 0; n < 3000; n++) {
		l[n] = 2 * ((uint32_t)n + 1);
		r[n] = UINT32_MAX - 3 * (uint32_t)n;
	}
	test_assert(sample_case(db, idx, l, r, n));
	/* Runs of random lengths and gaps, several seeds. */
	for (int seed = 0; seed < 20; seed++) {
		char name[16];
		snprintf(name, sizeof(name), "rand%d", seed);
		test_assert(db_mailbox_add(db, name, strlen(name), false,
				&idx, &err) == 0);
		uid = 0;
		for (n = 0; n < 5000; n++) {
			x = x * 1103515245 + 12345;
			/* mostly consecutive, sometimes a gap */
			uid += (x >> 16) % (seed % 4 == 0 ? 3 : 9) == 0 ?
			    1 + (x >> 8) % 500 : 1;
			l[n] = uid;
			r[n] = (uint32_t)(5000 - n) * 7 + (x >> 20) % 7;
		}
		/* r must be unique: 7 apart at least */
		test_assert(sample_case(db, idx, l, r, 200 + (size_t)seed *
			    240));
	}
	test_end();
	db_close(&db);
	free(l);
	free(r);
	free(path);
}

static void
test_transactions(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "tx.db", &path);
	int64_t a = 0;

	test_begin("db: writes open a transaction; commit makes them durable");
	test_assert(db != NULL);
	test_assert(!db_in_transaction(db));
	test_assert(db_commit(db, &err) == 0); /* none open: nothing */
	test_assert(db_begin(db, &err) == 0 && db_in_transaction(db));
	test_assert(db_begin(db, &err) == 0 && db_in_transaction(db));
	test_assert(db_mailbox_add(db, "a", 1, false, &a, &err) == 0);
	db_rollback(db);
	test_assert(!db_in_transaction(db));
	test_assert(db_mailbox_get(db, "a", 1, &a, &(bool){false}, &err) == 0);
	test_assert(db_mailbox_add(db, "a", 1, false, &a, &err) == 0);
	test_assert(db_in_transaction(db));
	test_assert(db_commit(db, &err) == 0 && !db_in_transaction(db));
	/* Reads alone open nothing. */
	test_assert(db_mailbox_get(db, "a", 1, &a, &(bool){false}, &err) == 1);
	test_assert(!db_in_transaction(db));
	{
		char *msg = NULL;
		test_assert(db_mailbox_add(db, "b", 1, false, NULL, &err) == 0);
		/* The schema step wants no open transaction. */
		test_assert(db_schema(db, '/', '/', &msg, &err) < 0 &&
		    err.kind == ERR_INTERNAL && msg == NULL);
		test_assert(db_commit(db, &err) == 0);
	}
	db_close(&db);
	test_assert(raw_is(path, "SELECT group_concat(hex(mailbox)) FROM "
				 "mailboxes", "61,62"));
	test_end();
	free(path);
}

/* A fake of lanes.c's hook: "me" owns the transaction or not. */
struct fake_owner {
	int me, owner, acquired, released;
};

static void
fake_acquire(void *ctx)
{
	struct fake_owner *f = ctx;
	f->acquired++;
	f->owner = f->me;
}

static bool
fake_owned(void *ctx)
{
	struct fake_owner *f = ctx;
	return f->owner == f->me;
}

static void
fake_release(void *ctx)
{
	struct fake_owner *f = ctx;
	f->released++;
	f->owner = -1;
}

static void
test_txn_hook(void)
{
	struct err err;
	char *path;
	struct db *db = dbfix_new(dir, "hook.db", &path);
	struct fake_owner f = { 1, -1, 0, 0 };
	const struct db_txn_hook h = { fake_acquire, fake_owned, fake_release,
	    &f };
	int64_t a = 0;

	test_begin("db: with a transaction hook, only its owner ends it");
	test_assert(db != NULL);
	db_set_txn_hook(db, &h);
	test_assert(db_mailbox_add(db, "a", 1, false, &a, &err) == 0);
	test_assert(f.acquired == 1 && f.owner == 1 && db_in_transaction(db));
	/* Another thread's turn: its commit and rollback leave it open. */
	f.me = 2;
	test_assert(db_commit(db, &err) == 0 && db_in_transaction(db));
	db_rollback(db);
	test_assert(db_in_transaction(db) && f.released == 0);
	/* The owner's commit ends it and hands it back. */
	f.me = 1;
	test_assert(db_commit(db, &err) == 0 && !db_in_transaction(db));
	test_assert(f.released == 1 && f.owner == -1);
	/* A rollback by the owner too. */
	test_assert(db_mailbox_add(db, "b", 1, false, &a, &err) == 0);
	db_rollback(db);
	test_assert(!db_in_transaction(db) && f.released == 2);
	db_set_txn_hook(db, NULL);
	db_close(&db);
	test_assert(raw_is(path, "SELECT group_concat(hex(mailbox)) FROM "
				 "mailboxes", "61"));
	test_end();
	free(path);
}

/* interimap < 0.5's database, by hand: names as TEXT with the real
 * delimiter, everything else as now; user_version 0. */
static char *
pre05(const char *name, const char *mailboxes_extra)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *q = xasprintf(
	    "CREATE TABLE mailboxes (idx INTEGER NOT NULL PRIMARY KEY "
	    "AUTOINCREMENT, mailbox TEXT NOT NULL CHECK (mailbox != '') "
	    "UNIQUE, subscribed BOOLEAN NOT NULL);"
	    "%s;%s;%s;"
	    "INSERT INTO mailboxes (mailbox, subscribed) VALUES ('INBOX', 1), "
	    "('a/b', 0), ('a/b/c', 1), ('x.y', 1)%s;"
	    "INSERT INTO local VALUES (1, 11, 5, 100), (2, 12, 2, 7);"
	    "INSERT INTO remote VALUES (1, 21, 6, -3), (2, 22, 3, 8);"
	    "INSERT INTO mapping VALUES (1, 1, 2), (1, 4, 5), (2, 1, 1);",
	    ref_schema[2], ref_schema[3], ref_schema[4], mailboxes_extra);
	unlink(path);
	if (raw_exec(path, q) < 0)
		fprintf(stderr, "# pre05 %s: cannot make it\n", name);
	free(q);
	return path;
}

static void
test_upgrade(void)
{
	struct err err;
	char *path = pre05("old.db", ""), *msg = NULL;
	struct db *db;
	struct db_mbx *v = NULL;
	struct db_pair *p = NULL;
	size_t n = 0;
	int64_t idx = 0;
	bool sub = false;
	const char *names = "SELECT group_concat(idx || ':' || hex(mailbox) "
			    "|| ':' || typeof(mailbox) || ':' || subscribed, ' ') "
			    "FROM mailboxes";

	test_begin("db: pre-0.5 upgrade refused when the delimiters differ");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, '/', '.', &msg, &err) < 0);
	test_assert_str(msg, "Upgrading database version from 0");
	test_assert_str(err.msg, "Local and remote hierachy delimiters differ "
				 "(local \"/\", remote \".\"), refusing to "
				 "update table `mailboxes`.");
	test_assert(err.kind == ERR_DB);
	test_assert(!db_in_transaction(db));
	free(msg);
	test_assert(db_schema(db, '\\', '"', &msg, &err) < 0);
	test_assert(strstr(err.msg, "(local \"\\\\\", remote \"\\\"\")") !=
	    NULL);
	free(msg);
	db_close(&db);
	test_assert(raw_is(path, "PRAGMA user_version", "0"));
	test_assert(raw_is(path, names, "1:494E424F58:text:1 2:612F62:text:0 "
					"3:612F622F63:text:1 4:782E79:text:1"));
	test_end();

	test_begin("db: pre-0.5 upgrade: delimiter to NUL, as BLOBs");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, '/', '/', &msg, &err) == 0);
	test_assert_str(msg, "Upgrading database version from 0");
	free(msg);
	test_assert(db_mailbox_get(db, "a\0b\0c", 5, &idx, &sub, &err) == 1 &&
	    idx == 3 && sub);
	test_assert(db_mailbox_get(db, "x.y", 3, &idx, &sub, &err) == 1 &&
	    idx == 4);
	test_assert(db_known_list(db, &v, &n, &err) == 0 && n == 2);
	if (n == 2)
		test_assert(v[1].len == 3 && memcmp(v[1].name, "a\0b", 3) == 0 &&
		    v[0].st[DB_REMOTE].highestmodseq == UINT64_MAX - 2);
	db_mbx_free(v, n);
	test_assert(db_map_pairs(db, 1, &p, &n, &err) == 0);
	test_assert(pairs_are(p, n, "1=2 4=5"));
	free(p);
	/* Foreign keys are on now. */
	test_assert(db_map_add(db, 9, 1, 1, &err) < 0);
	/* A new mailbox continues the old idx sequence. */
	test_assert(db_mailbox_add(db, "new", 3, false, &idx, &err) == 0 &&
	    idx == 5);
	db_rollback(db);
	db_close(&db);
	test_assert(raw_is(path, "PRAGMA user_version", "1"));
	test_assert(raw_is(path, names, "1:494E424F58:blob:1 2:610062:blob:0 "
					"3:6100620063:blob:1 4:782E79:blob:1"));
	/* The rename leaves SQLite's quoted name, as in the reference's. */
	test_assert(raw_is(path, "SELECT sql FROM sqlite_master WHERE name = "
				 "'mailboxes'",
	    "CREATE TABLE \"mailboxes\" (idx        INTEGER NOT NULL PRIMARY "
	    "KEY AUTOINCREMENT, mailbox    BLOB COLLATE BINARY NOT NULL CHECK "
	    "(mailbox != '') UNIQUE, subscribed BOOLEAN NOT NULL)"));
	test_assert(raw_is(path, "SELECT count(*) FROM sqlite_master WHERE "
				 "name LIKE '%tmp%'", "0"));
	test_assert(raw_is(path, "SELECT group_concat(name || '=' || seq) FROM "
				 "sqlite_sequence", "mailboxes=4"));
	test_end();
	free(path);

	test_begin("db: pre-0.5 upgrade: flat namespaces keep the names");
	path = pre05("flat.db", "");
	db = db_open(path, 0, &err);
	test_assert(db != NULL);
	test_assert(db_schema(db, DB_DELIM_NIL, DB_DELIM_NIL, &msg, &err) ==
	    0);
	free(msg);
	test_assert(db_mailbox_get(db, "a/b/c", 5, &idx, &sub, &err) == 1 &&
	    idx == 3);
	db_close(&db);
	test_assert(raw_is(path, names, "1:494E424F58:blob:1 2:612F62:blob:0 "
					"3:612F622F63:blob:1 4:782E79:blob:1"));
	free(path);
	/* One side flat: the local delimiter decides (the reference's
	 * test: both known and different). */
	path = pre05("half.db", "");
	db = db_open(path, 0, &err);
	test_assert(db_schema(db, '.', DB_DELIM_NIL, &msg, &err) == 0);
	free(msg);
	db_close(&db);
	test_assert(raw_is(path, names, "1:494E424F58:blob:1 2:612F62:blob:0 "
					"3:612F622F63:blob:1 4:780079:blob:1"));
	test_end();
	free(path);

	test_begin("db: pre-0.5 upgrade refused on broken foreign keys");
	path = pre05("broken.db", "");
	test_assert(raw_exec(path, "INSERT INTO mapping VALUES (42, 1, 1)") ==
	    0);
	db = db_open(path, 0, &err);
	test_assert(db_schema(db, '/', '/', &msg, &err) < 0);
	test_assert_str(msg, "Upgrading database version from 0");
	test_assert_str(err.msg, "Broken referential integrity! Refusing to "
				 "commit changes.");
	free(msg);
	db_close(&db);
	test_assert(raw_is(path, "PRAGMA user_version", "0"));
	test_assert(raw_is(path, names, "1:494E424F58:text:1 2:612F62:text:0 "
					"3:612F622F63:text:1 4:782E79:text:1"));
	test_end();
	free(path);
}

/* ---- Tool mode (t/interimap/db-compat.sh) ----------------------------- */

static char
delim_arg(const char *s)
{
	return strcmp(s, "NIL") == 0 ? DB_DELIM_NIL : s[0];
}

static void
hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02X", (unsigned char)p[i]);
}

/* One line per mailbox with state, per pair, per pending pair, and each
 * side's sample; "lookup IDX ok" when the BLOB lookup by the name read
 * finds the same idx (how a file written by the Perl program is read). */
static int
dump(struct db *db, struct err *err)
{
	struct db_mbx *v = NULL;
	size_t n = 0;

	if (db_known_list(db, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t idx = 0;
		bool sub = false;
		printf("mailbox %" PRId64 " ", v[i].idx);
		hex(v[i].name, v[i].len);
		printf(" %d", v[i].subscribed);
		for (int s = 0; s < 2; s++)
			printf(" %u %u %" PRIu64, v[i].st[s].uidvalidity,
			    v[i].st[s].uidnext, v[i].st[s].highestmodseq);
		printf("\n");
		if (db_mailbox_get(db, v[i].name, v[i].len, &idx, &sub, err) ==
			1 &&
		    idx == v[i].idx && sub == v[i].subscribed)
			printf("lookup %" PRId64 " ok\n", idx);
	}
	for (size_t i = 0; i < n; i++) {
		struct db_pair *p = NULL;
		size_t np = 0;
		if (db_map_pairs(db, v[i].idx, &p, &np, err) < 0)
			goto fail;
		for (size_t j = 0; j < np; j++)
			printf("pair %" PRId64 " %u %u\n", v[i].idx, p[j].luid,
			    p[j].ruid);
		free(p);
		for (int s = 0; s < 2; s++) {
			struct uidset set = UIDSET_INIT;
			struct buf b = BUF_INIT(1 << 16);
			uint32_t lo, hi;
			int rc = db_map_sample(db, v[i].idx, (enum db_side)s,
			    &lo, &hi, &set, err);
			if (rc < 0)
				goto fail;
			if (rc == 1) {
				buf_appends(&b, "");
				uidset_format(&b, &set);
				printf("sample %" PRId64 " %s %u:%u %s\n",
				    v[i].idx, s ? "remote" : "local", lo, hi,
				    b.data);
			}
			buf_free(&b);
			uidset_free(&set);
		}
	}
	db_mbx_free(v, n);
	{
		int64_t *ix;

		if (db_pending_idx(db, &ix, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			printf("pending %" PRId64 "\n", ix[i]);
		free(ix);
	}
	return 0;
fail:
	db_mbx_free(v, n);
	return -1;
}

static int
tool(int argc, char **argv)
{
	struct err err;
	struct db *db;
	char *msg = NULL;
	const char *cmd = argv[1], *path = argc > 2 ? argv[2] : NULL;
	int rc = 0;

	if (!path || (strcmp(cmd, "upgrade") == 0 && argc != 5)) {
		fprintf(stderr, "usage: test_db create|dump|open|hold FILE | "
				"upgrade FILE LDELIM RDELIM\n");
		return 2;
	}
	db = db_open(path, strcmp(cmd, "create") == 0 ? 0 : DB_OPEN_NO_CREATE,
	    &err);
	if (!db) {
		printf("error %s: %s\n", err.kind == ERR_LOCKED ? "locked" :
		    "other", err.msg);
		return 1;
	}
	if (strcmp(cmd, "open") == 0) {
		printf("opened\n");
	} else if (strcmp(cmd, "hold") == 0) {
		char c;
		/* As a run that has written (the journal mode changes then). */
		if (db_begin(db, &err) < 0 || db_commit(db, &err) < 0) {
			printf("error: %s\n", err.msg);
			rc = -1;
		} else {
			printf("held\n");
			fflush(stdout);
			while (read(0, &c, 1) > 0)
				;
		}
	} else if (strcmp(cmd, "create") == 0 || strcmp(cmd, "dump") == 0 ||
		   strcmp(cmd, "upgrade") == 0) {
		char l = '/', r = '/';
		if (argc == 5) {
			l = delim_arg(argv[3]);
			r = delim_arg(argv[4]);
		}
		rc = db_schema(db, l, r, &msg, &err);
		if (msg)
			printf("%s\n", msg);
		free(msg);
		if (rc == 0 && strcmp(cmd, "dump") == 0)
			rc = dump(db, &err);
		if (rc < 0)
			printf("error: %s\n", err.msg);
	} else {
		fprintf(stderr, "test_db: unknown command %s\n", cmd);
		rc = -1;
	}
	db_close(&db);
	return rc < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		return tool(argc, argv);
	if (!mkdtemp(dir))
		return 1;
	test_schema();
	test_lock();
	test_open_errors();
	test_mailboxes();
	test_states();
	test_reads_memo();
	test_mapping();
	test_pending();
	test_sample();
	test_transactions();
	test_txn_hook();
	test_upgrade();
	test_rm_rf(dir);
	return test_exit();
}
