/* The copies under way (issue 10): how a copy an interrupted APPEND made
 * is told from the target's other messages (interimap/intent.c), when a
 * record is stale (a UIDVALIDITY changed, a later run of ours or of the
 * Perl program dealt with the message), and the table that keeps the
 * records (interimap/db_intent.c): created at its first write only, its
 * rows by mailbox, gone with their pairs, with --delete, forgotten on a
 * rollback. The whole recovery against Dovecot is
 * t/interimap/crash.sh's and sync.sh's. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "dbfix.h"
#include "imap_data.h"
#include "intent.h"
#include "test.h"

static char dir[] = "/tmp/test_intent.XXXXXX";

/* ---- Message-ID fields ---- */

static void
test_msgid(void)
{
	static const char folded[] = "Message-ID:\r\n <a@b>\r\n\r\n";
	static const char nul[] = "Message-ID: <a\0b>\r\n\r\n";
	char big[INTENT_MSGID_MAX + 16];
	char *s;

	test_begin("intent: Message-ID fields folded, trimmed; none; unusable");
	s = intent_msgid("Message-ID: <x@y>\r\n\r\n", 21);
	test_assert_str(s, "Message-ID: <x@y>");
	free(s);
	s = intent_msgid(folded, sizeof(folded) - 1);
	test_assert_str(s, "Message-ID: <a@b>");
	free(s);
	/* Two of them: both kept, in order. */
	s = intent_msgid("Message-Id: <1@a>\r\nMessage-Id: <2@a>\r\n\r\n", 40);
	test_assert_str(s, "Message-Id: <1@a> Message-Id: <2@a>");
	free(s);
	s = intent_msgid("\r\n", 2);
	test_assert_str(s, "");
	free(s);
	s = intent_msgid("", 0);
	test_assert_str(s, "");
	free(s);
	test_assert(intent_msgid(NULL, 0) == NULL);
	test_assert(intent_msgid(nul, sizeof(nul) - 1) == NULL);
	memset(big, 'x', sizeof(big));
	test_assert(intent_msgid(big, INTENT_MSGID_MAX + 1) == NULL);
	s = intent_msgid(big, INTENT_MSGID_MAX);
	test_assert(s && strlen(s) == INTENT_MSGID_MAX);
	free(s);
	test_end();
}

/* ---- matching ---- */

/* A record (source UID suid, the target's UIDNEXT 100 before), and what
 * the source says of the message now: its Message-ID fields (NULL:
 * unusable), or that it is gone. */
struct trec {
	struct db_intent x;
	const char *msgid;
	bool gone;
};

static struct db_intent
rec_x(uint32_t suid, uint64_t size, const char *date, const char *flags)
{
	struct db_intent x;

	memset(&x, 0, sizeof(x));
	x.target = DB_REMOTE;
	x.uidvalidity = 7;
	x.uidnext = 100;
	x.s_uidvalidity = 3;
	x.suid = suid;
	x.size = size;
	x.date = (char *)(uintptr_t)date;
	x.flags = (char *)(uintptr_t)flags;
	return x;
}

static struct trec
rec(uint32_t suid, uint64_t size, const char *date, const char *flags,
    const char *msgid)
{
	struct trec r = {rec_x(suid, size, date, flags), msgid, false};
	return r;
}

static struct trec
gone(uint32_t suid, uint64_t size, const char *date, const char *flags)
{
	struct trec r = {rec_x(suid, size, date, flags), NULL, true};
	return r;
}

static struct intent_msg
msg(uint32_t uid, uint64_t size, const char *date, const char *flags,
    const char *msgid)
{
	struct intent_msg m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.size = size;
	if (imap_date_parse(date, &m.when, NULL) < 0)
		abort();
	m.flags = flags;
	m.msgid = msgid;
	return m;
}

#define D1 "01-Jan-2020 10:00:00 +0000"
#define D1_ELSEWHERE "01-Jan-2020 11:00:00 +0100" /* the same instant */
#define D2 "01-Jan-2020 10:00:01 +0000"

/* Rows from recs[0..n) (by source UID), the source's messages given
 * (as recorded but those gone), every message of ms[0..nm) offered: the
 * matches in got[0..n). */
static void
run(const struct trec *recs, size_t n, const struct intent_msg *ms,
    size_t nm, uint32_t *got)
{
	struct intent_row rows[8];

	for (size_t i = 0; i < n; i++)
		intent_row_init(&rows[i], &recs[i].x);
	for (size_t i = 0; i < n; i++) {
		struct intent_msg src;
		struct intent_row *r;
		if (recs[i].gone)
			continue;
		memset(&src, 0, sizeof(src));
		src.uid = recs[i].x.suid;
		src.size = recs[i].x.size;
		/* (a record's date that is none: any instant) */
		imap_date_parse(recs[i].x.date, &src.when, NULL);
		src.msgid = recs[i].msgid;
		r = intent_row_find(rows, n, recs[i].x.suid);
		if (!r)
			abort();
		intent_row_source(r, &src);
	}
	for (size_t j = 0; j < nm; j++)
		intent_offer(rows, n, &ms[j]);
	for (size_t i = 0; i < n; i++) {
		got[i] = intent_match(&rows[i]);
		intent_row_free(&rows[i]);
	}
}

/* A case of matching: the records (the first of source UID 0 ends them),
 * the target's messages offered (the first of UID 0 ends them), and the
 * match wanted for each record (0: none). */
struct mcase {
	const char *what;
	struct trec r[3];
	struct intent_msg m[5];
	uint32_t want[3];
};

/* Each of cases[0..n) run; a case whose matches are not the wanted ones
 * fails the test, named. */
static void
match_cases(const struct mcase *cases, size_t n)
{
	for (const struct mcase *c = cases; c < cases + n; c++) {
		uint32_t got[3] = {0};
		size_t nr = 0, nm = 0;
		char why[200];

		while (nr < 3 && c->r[nr].x.suid != 0)
			nr++;
		while (nm < 5 && c->m[nm].uid != 0)
			nm++;
		run(c->r, nr, c->m, nm, got);
		if (memcmp(got, c->want, nr * sizeof(got[0])) == 0)
			continue;
		snprintf(why, sizeof(why), "%s: got %u %u %u, want %u %u %u",
		    c->what, got[0], got[1], got[2], c->want[0], c->want[1],
		    c->want[2]);
		test_fail_at(__FILE__, __LINE__, why);
	}
}

#define NCASES(c) (sizeof(c) / sizeof((c)[0]))

static void
test_match(void)
{
	test_begin("intent: a batch's copies found among foreign messages");
	{
		const struct mcase c[] = {
			/* A foreign delivery between the copies (another
			 * Message-ID), one below the UIDNEXT that looks the
			 * same (an older message: not a candidate), the date
			 * in another zone. */
			{"three copies",
			    {rec(10, 500, D1, "\\Seen", "Message-ID: <a@x>"),
				rec(11, 600, D1, "", "Message-ID: <b@x>"),
				rec(12, 700, D2, "$Work", "Message-ID: <c@x>")},
			    {msg(99, 500, D1, "\\Seen", "Message-ID: <a@x>"),
				msg(100, 500, D1_ELSEWHERE, "",
				    "Message-ID: <a@x>"),
				msg(101, 600, D1, "", "Message-ID: <zzz@x>"),
				msg(102, 600, D1, "", "Message-ID: <b@x>"),
				msg(103, 700, D2, "$Work", "Message-ID: <c@x>")},
			    {100, 102, 103}},
			/* (the APPEND cut off) */
			{"what did not arrive is no match",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>"),
				rec(11, 600, D1, "", "Message-ID: <b@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>")},
			    {100, 0}},
		};
		match_cases(c, NCASES(c));
	}
	test_end();

	test_begin("intent: size, date, Message-ID must all be the same");
	{
		const struct mcase c[] = {
			{"one differs",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>")},
			    {msg(100, 501, D1, "", "Message-ID: <a@x>"),
				msg(101, 500, D2, "", "Message-ID: <a@x>"),
				msg(102, 500, D1, "", "Message-ID: <A@x>"),
				msg(103, 500, D1, "", ""),
				msg(104, 500, D1, "", NULL)},
			    {0}},
		};
		match_cases(c, NCASES(c));
	}
	test_end();

	test_begin("intent: ambiguous (two candidates, or a candidate of two "
	    "rows): no pair");
	{
		const struct mcase c[] = {
			{"a foreign delivery that looks the same as the copy",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>"),
				msg(101, 500, D1, "\\Recent",
				    "Message-ID: <a@x>")},
			    {0}},
			{"the same message twice in the batch, both copied",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>"),
				rec(11, 500, D1, "", "Message-ID: <a@x>"),
				rec(12, 600, D1, "", "Message-ID: <b@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>"),
				msg(101, 500, D1, "", "Message-ID: <a@x>"),
				msg(102, 600, D1, "", "Message-ID: <b@x>")},
			    {0, 0, 102}},
			{"... and only one copy arrived: it is either's",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>"),
				rec(11, 500, D1, "", "Message-ID: <a@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>")},
			    {0, 0}},
			{"a message offered twice (a server repeating itself)",
			    {rec(10, 500, D1, "", "Message-ID: <a@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>"),
				msg(100, 500, D1, "", "Message-ID: <a@x>")},
			    {0}},
		};
		match_cases(c, NCASES(c));
	}
	test_end();

	test_begin("intent: without Message-ID, the flags the APPEND set");
	{
		const struct mcase c[] = {
			/* 100: a foreign delivery (no flags); 102: flags
			 * changed since, a copy more, not a wrong pair. */
			{"the flags",
			    {rec(10, 500, D1, "$Work \\Seen", ""),
				rec(11, 600, D1, "\\Flagged", ""),
				rec(12, 700, D1, "", "")},
			    {msg(100, 500, D1, "", ""),
				msg(101, 500, D1, "$work \\SEEN", ""),
				msg(102, 600, D1, "\\Flagged \\Seen", ""),
				msg(103, 700, D1, "", "")},
			    {101, 0, 103}},
			{"a Message-ID on one side only: no",
			    {rec(10, 500, D1, "", ""),
				rec(11, 600, D1, "", "Message-ID: <b@x>")},
			    {msg(100, 500, D1, "", "Message-ID: <a@x>"),
				msg(101, 600, D1, "", "")},
			    {0, 0}},
		};
		match_cases(c, NCASES(c));
	}
	test_end();

	test_begin("intent: a message gone from the source, or unusable, "
	    "matches nothing");
	{
		const struct mcase c[] = {
			/* Its copy is a new message (the reference's way),
			 * not paired to be expunged in turn. */
			{"expunged since",
			    {gone(10, 500, D1, ""),
				rec(11, 600, D1, "", "Message-ID: <b@x>")},
			    {msg(100, 500, D1, "", ""),
				msg(101, 600, D1, "", "Message-ID: <b@x>")},
			    {0, 101}},
			{"no usable Message-ID, no date",
			    {rec(10, 500, D1, "", NULL),
				rec(11, 600, "yesterday", "",
				    "Message-ID: <b@x>")},
			    {msg(100, 500, D1, "", ""),
				msg(101, 600, D1, "", "Message-ID: <b@x>")},
			    {0, 0}},
		};
		match_cases(c, NCASES(c));
	}
	{
		/* The source's message is not what was recorded (no
		 * server would do that to a UID). */
		struct intent_row row;
		struct db_intent x = rec_x(10, 500, D1, "");
		struct intent_msg src = msg(10, 501, D1, NULL, "");
		struct intent_msg m = msg(100, 500, D1, "", "");
		intent_row_init(&row, &x);
		intent_row_source(&row, &src);
		intent_offer(&row, 1, &m);
		test_assert(!row.seen && intent_match(&row) == 0);
		intent_row_free(&row);
	}
	test_end();
}

/* ---- stale records ---- */

static void
test_valid(void)
{
	/* The database: local UIDVALIDITY 3, UIDNEXT 10; remote 7, 100. */
	const struct db_state st[2] = {{3, 10, 50}, {7, 100, 60}};
	const uint32_t cur[2] = {3, 7}, unknown[2] = {0, 0};
	struct db_intent x = rec_x(10, 500, D1, "");

	test_begin("intent: a record of the last run is valid");
	test_assert(intent_valid(&x, st, cur, false));
	test_assert(intent_valid(&x, st, unknown, false));
	x.suid = 25;
	test_assert(intent_valid(&x, st, cur, false));
	test_end();

	test_begin("intent: stale after a UIDVALIDITY change");
	x = rec_x(10, 500, D1, "");
	{
		/* The server's target, or source, recreated. */
		const uint32_t t[2] = {3, 8}, s[2] = {4, 7};
		test_assert(!intent_valid(&x, st, t, false));
		test_assert(!intent_valid(&x, st, s, false));
	}
	{
		/* The database's (the mailbox forgotten and synced anew). */
		const struct db_state st2[2] = {{3, 10, 50}, {9, 100, 60}};
		const struct db_state st3[2] = {{5, 10, 50}, {7, 100, 60}};
		test_assert(!intent_valid(&x, st2, unknown, false));
		test_assert(!intent_valid(&x, st3, unknown, false));
	}
	test_end();

	test_begin("intent: stale once a later sync (the Perl program's) "
	    "dealt with the message");
	x = rec_x(10, 500, D1, "");
	/* It copied it: a pair. */
	test_assert(!intent_valid(&x, st, cur, true));
	{
		/* It completed the sync: the source's UIDNEXT passed it
		 * (the message paired, or expunged since). */
		const struct db_state st2[2] = {{3, 11, 50}, {7, 130, 60}};
		test_assert(!intent_valid(&x, st2, cur, false));
	}
	/* The other direction: a copy to the local, recorded when its
	 * UIDNEXT was 9 (it is 10 now). */
	x.target = DB_LOCAL;
	x.uidvalidity = 3;
	x.s_uidvalidity = 7;
	x.uidnext = 9;
	x.suid = 99;
	test_assert(!intent_valid(&x, st, cur, false));
	x.suid = 100;
	test_assert(intent_valid(&x, st, cur, false));
	test_end();

	test_begin("intent: a --repair's copy (of a message below the "
	    "source's UIDNEXT) is valid until the target's UIDNEXT passes "
	    "the recorded one");
	x = rec_x(4, 500, D1, "");
	test_assert(intent_valid(&x, st, cur, false));
	x.uidnext = 120;    /* (the target's UIDNEXT as the run saw it) */
	test_assert(intent_valid(&x, st, cur, false));
	test_assert(!intent_valid(&x, st, cur, true));
	{
		/* A later sync saw the copies, or other messages, come. */
		const struct db_state st2[2] = {{3, 10, 50}, {7, 121, 60}};
		test_assert(!intent_valid(&x, st2, cur, false));
		x.uidnext = 100;
		test_assert(!intent_valid(&x, st2, cur, false));
	}
	test_end();
}

/* ---- the table ---- */

/* Whether the file holds the table (a second connection would wait for
 * the lock: asked through db's own, read-only). */
static int
tables(const char *name)
{
	char *cmd = xasprintf("sqlite3 %s/%s \"SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'c_append_intent'\" 2>/dev/null", dir,
	    name);
	FILE *f = popen(cmd, "r");
	int n = -1;

	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	free(cmd);
	return n;
}

static void
test_table(void)
{
	struct db_intent v[3] = {
		rec_x(10, 500, D1, "\\Seen"),
		rec_x(11, 600, D1, ""),
		rec_x(12, 700, D2, ""),
	}, *got = NULL;
	uint32_t del[2] = {10, 11};
	struct err err;
	int64_t idx, idx2;
	struct db *db;
	size_t n = 0;
	bool has = true;

	test_begin("intent table: none until the first record");
	db = dbfix_new(dir, "t.db", NULL);
	test_assert(db != NULL);
	if (!db) {
		test_end();
		return;
	}
	test_assert(db_mailbox_add(db, "INBOX", 5, true, &idx, &err) == 0);
	test_assert(db_mailbox_add(db, "a", 1, true, &idx2, &err) == 0);
	test_assert(db_state_add(db, idx, 3, 7, &err) == 0);
	test_assert(db_state_add(db, idx2, 3, 7, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && !has);
	test_assert(db_intent_get(db, idx, &got, &n, &err) == 0 && n == 0);
	/* Deleting from a table that is not there. */
	test_assert(db_intent_delete(db, idx, DB_REMOTE, del, 2, &err) == 0);
	test_assert(db_intent_clear(db, idx, &err) == 0);
	test_assert(!db_in_transaction(db));
	db_close(&db);
	test_assert(tables("t.db") == 0);
	test_end();

	test_begin("intent table: records kept, read back, gone with their "
	    "pairs");
	db = dbfix_new(dir, "t.db", NULL);
	test_assert(db_intent_add(db, idx, v, 3, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && has);
	test_assert(db_intent_has(db, idx2, &has, &err) == 0 && !has);
	db_close(&db);
	test_assert(tables("t.db") == 1);
	/* A new run reads what the last one left. */
	db = dbfix_new(dir, "t.db", NULL);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && has);
	test_assert(db_intent_get(db, idx, &got, &n, &err) == 0 && n == 3);
	if (n == 3) {
		test_assert(got[0].target == DB_REMOTE &&
		    got[0].uidvalidity == 7 && got[0].uidnext == 100 &&
		    got[0].s_uidvalidity == 3 && got[0].suid == 10 &&
		    got[0].size == 500);
		test_assert_str(got[0].date, D1);
		test_assert_str(got[0].flags, "\\Seen");
		test_assert_str(got[1].flags, "");
		test_assert(got[2].suid == 12);
	}
	db_intents_free(got, n);
	/* The batch's pairs in, its records out, in one transaction. */
	test_assert(db_map_add(db, idx, 1, 10, &err) == 0);
	test_assert(db_intent_delete(db, idx, DB_REMOTE, del, 2, &err) == 0);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && has);
	/* (another target's rows are not these) */
	test_assert(db_intent_delete(db, idx, DB_LOCAL, &v[2].suid, 1,
	    &err) == 0);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && has);
	test_assert(db_intent_delete(db, idx, DB_REMOTE, &v[2].suid, 1,
	    &err) == 0);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && !has);
	test_assert(db_commit(db, &err) == 0);
	test_end();

	test_begin("intent table: a record replaces its like; a rollback is "
	    "not believed");
	test_assert(db_intent_add(db, idx, v, 1, &err) == 0);
	v[0].size = 501;
	test_assert(db_intent_add(db, idx, v, 1, &err) == 0);
	test_assert(db_intent_get(db, idx, &got, &n, &err) == 0 && n == 1 &&
	    got[0].size == 501);
	db_intents_free(got, n);
	db_rollback(db);
	test_assert(db_intent_has(db, idx, &has, &err) == 0 && !has);
	test_assert(db_intent_add(db, idx2, v, 2, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_intent_has(db, idx2, &has, &err) == 0 && has);
	test_end();

	test_begin("intent table: --delete takes the mailbox's records");
	test_assert(db_mailbox_delete(db, idx2, &err) == 0);
	test_assert(db_intent_has(db, idx2, &has, &err) == 0 && !has);
	test_assert(db_commit(db, &err) == 0);
	db_close(&db);
	db = dbfix_new(dir, "t.db", NULL);
	test_assert(db_intent_has(db, idx2, &has, &err) == 0 && !has);
	db_close(&db);
	test_end();

	test_begin("intent table: a mailbox the Perl program deleted");
	{
		/* Its DELETEs, foreign keys on: our rows do not stop them. */
		char *cmd;
		db = dbfix_new(dir, "t.db", NULL);
		test_assert(db_intent_add(db, idx, v, 1, &err) == 0);
		test_assert(db_commit(db, &err) == 0);
		db_close(&db);
		cmd = xasprintf("sqlite3 %s/t.db \"PRAGMA foreign_keys = ON; "
		    "BEGIN; DELETE FROM mapping WHERE idx = %lld; DELETE FROM "
		    "local WHERE idx = %lld; DELETE FROM remote WHERE idx = "
		    "%lld; DELETE FROM mailboxes WHERE idx = %lld; COMMIT;\"",
		    dir, (long long)idx, (long long)idx, (long long)idx,
		    (long long)idx);
		test_assert(system(cmd) == 0);
		free(cmd);
		db = dbfix_new(dir, "t.db", NULL);
		test_assert(db_state_get(db, idx, (struct db_state[2]){{0}},
		    &err) == 0);
		/* Left to the reader to judge (intent_valid()). */
		test_assert(db_intent_has(db, idx, &has, &err) == 0 && has);
		db_close(&db);
	}
	test_end();
}

/* The records a run would act on (db_intent_get_valid()), and what
 * --status counts of them (db_summary_*()). */
static void
test_valid_table(void)
{
	static const uint32_t unknown[2] = {0, 0};
	/* The database as test_valid()'s: local 3/10, remote 7/100. */
	struct db_intent v[5] = {
		rec_x(10, 500, D1, ""),  /* a new message: valid */
		rec_x(11, 600, D1, ""),  /* paired since: stale */
		rec_x(4, 700, D2, ""),   /* --repair's: valid */
		rec_x(100, 800, D1, ""), /* to the local: valid */
		rec_x(99, 900, D1, ""),  /* to the local, synced since */
	}, *got = NULL;
	struct db_summary m, *sv = NULL;
	struct db_state st[2];
	struct err err;
	int64_t idx, idx2;
	size_t n = 0;
	struct db *db;

	test_begin("intent table: the valid records, counted for --status");
	db = dbfix_new(dir, "v.db", NULL);
	test_assert(db != NULL);
	if (!db) {
		test_end();
		return;
	}
	for (int i = 3; i < 5; i++) {
		v[i].target = DB_LOCAL;
		v[i].uidvalidity = 3;
		v[i].s_uidvalidity = 7;
		v[i].uidnext = 9;
	}
	v[3].uidnext = 10;
	test_assert(db_mailbox_add(db, "INBOX", 5, true, &idx, &err) == 0);
	test_assert(db_mailbox_add(db, "new", 3, true, &idx2, &err) == 0);
	test_assert(db_state_add(db, idx, 3, 7, &err) == 0);
	test_assert(db_state_set(db, DB_LOCAL, idx, 10, 50, &err) == 0);
	test_assert(db_state_set(db, DB_REMOTE, idx, 100, 60, &err) == 0);
	test_assert(db_map_add(db, idx, 11, 42, &err) == 0);
	test_assert(db_intent_add(db, idx, v, 5, &err) == 0);
	/* A mailbox without states: its records count for nothing. */
	test_assert(db_intent_add(db, idx2, v, 1, &err) == 0);
	test_assert(db_commit(db, &err) == 0);
	test_assert(db_state_get(db, idx, st, &err) == 1);
	test_assert(db_intent_get_valid(db, idx, st, unknown, &got, &n,
	    &err) == 0 && n == 3);
	if (n == 3)
		test_assert(got[0].suid == 100 && got[1].suid == 4 &&
		    got[2].suid == 10 && got[0].target == DB_LOCAL);
	db_intents_free(got, n);
	{
		/* The remote recreated: none. */
		const uint32_t cur[2] = {3, 8};
		test_assert(db_intent_get_valid(db, idx, st, cur, &got, &n,
		    &err) == 0 && n == 0 && got == NULL);
	}
	test_assert(db_summary_get(db, idx, &m, &err) == 1);
	test_assert(m.copying[DB_LOCAL] == 1 && m.copying[DB_REMOTE] == 2 &&
	    m.pairs == 1);
	free(m.name);
	test_assert(db_summary_list(db, true, &sv, &n, &err) == 0 && n == 2);
	if (n == 2)
		test_assert(sv[0].idx == idx && sv[0].copying[DB_LOCAL] == 1 &&
		    sv[0].copying[DB_REMOTE] == 2 && sv[1].idx == idx2 &&
		    sv[1].copying[DB_LOCAL] == 0 &&
		    sv[1].copying[DB_REMOTE] == 0);
	db_summary_free(sv, n);
	/* The states only: no count. */
	test_assert(db_summary_list(db, false, &sv, &n, &err) == 0 && n == 2);
	if (n == 2)
		test_assert(sv[0].copying[DB_REMOTE] == 0);
	db_summary_free(sv, n);
	db_close(&db);
	test_end();
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_msgid();
	test_match();
	test_valid();
	test_table();
	test_valid_table();
	test_rm_rf(dir);
	return test_exit();
}
