/* interimap/istatus*.c: the status snapshot's text (written, read back,
 * refused when it does not read), its file (0600, replaced whole, never
 * through a symbolic link), the LIST patterns that filter --status, and
 * the table --status prints. */
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "istatus.h"
#include "test.h"

static struct db_summary
row(int64_t idx, const char *name, size_t len, bool synced, uint32_t lun,
    uint64_t lhm, uint32_t run, uint64_t rhm, uint64_t pairs,
    uint64_t pending)
{
	struct db_summary m;

	memset(&m, 0, sizeof(m));
	m.idx = idx;
	m.name = xmalloc(len + 1);
	memcpy(m.name, name, len);
	m.name[len] = '\0';
	m.len = len;
	m.synced = synced;
	if (synced) {
		m.st[0].uidvalidity = 1700000000;
		m.st[1].uidvalidity = 42;
	}
	m.st[0].uidnext = lun;
	m.st[0].highestmodseq = lhm;
	m.st[1].uidnext = run;
	m.st[1].highestmodseq = rhm;
	m.pairs = pairs;
	m.pending = pending;
	return m;
}

/* A snapshot with a bit of everything (freed with istatus_snap_free). */
static void
sample(struct istatus_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->pid = 4242;
	s->mode = ISTATUS_WATCH;
	s->secs = 60;
	s->started = 1714637703;
	s->updated = 1714637763;
	s->ended = 1714637800;
	s->result = ISTATUS_FAILED;
	s->error = xstrdup("remote: ERROR: 100% lost\n\tnext\xc3\xa9");
	s->last_error_at = 1714637800;
	s->last_error = xstrdup(s->error);
	s->delim_known = true;
	s->delim = '.';
	s->exact = true;
	s->nmbx = 4;
	s->mbx = xcalloc(s->nmbx, sizeof(*s->mbx));
	s->mbx[0] = row(1, "INBOX", 5, true, 12, 34, 8, 20, 11, 0);
	s->mbx[0].copying[DB_REMOTE] = 3;
	s->mbx[1] = row(7, "a\0b c%", 6, true, UINT32_MAX,
	    (UINT64_C(1) << 63) + 5, 1, 1, 0, 0);
	s->mbx[2] = row(3, " lead", 5, false, 0, 0, 0, 0, 0, 0);
	s->mbx[3] = row(9, "x", 1, true, 4, 7, 2, 5, 3, 2);
	s->mbx[3].copying[DB_LOCAL] = 1;
}

static bool
same_rows(const struct db_summary *a, const struct db_summary *b)
{
	return a->idx == b->idx && a->len == b->len &&
	    memcmp(a->name, b->name, a->len) == 0 && a->synced == b->synced &&
	    memcmp(a->st, b->st, sizeof(a->st)) == 0 && a->pairs == b->pairs &&
	    a->pending == b->pending &&
	    a->copying[DB_LOCAL] == b->copying[DB_LOCAL] &&
	    a->copying[DB_REMOTE] == b->copying[DB_REMOTE];
}

static void
check_same(const struct istatus_snap *a, const struct istatus_snap *b)
{
	test_assert(a->pid == b->pid);
	test_assert(a->mode == b->mode);
	test_assert(a->secs == b->secs);
	test_assert(a->started == b->started);
	test_assert(a->updated == b->updated);
	test_assert(a->ended == b->ended);
	test_assert(a->result == b->result);
	test_assert(a->signal == b->signal);
	test_assert_str(a->error, b->error);
	test_assert(a->last_error_at == b->last_error_at);
	test_assert_str(a->last_error, b->last_error);
	test_assert(a->delim_known == b->delim_known);
	test_assert(a->delim == b->delim);
	test_assert(a->exact == b->exact);
	test_assert(a->nmbx == b->nmbx);
	for (size_t i = 0; i < a->nmbx && i < b->nmbx; i++)
		test_assert(same_rows(&a->mbx[i], &b->mbx[i]));
}

static const char sample_text[] =
    "interimap-status 1\n"
    "pid 4242\n"
    "mode watch 60\n"
    "started 1714637703\n"
    "updated 1714637763\n"
    "ended 1714637800\n"
    "result failed\n"
    "error remote: ERROR: 100%25 lost%0A%09next%C3%A9\n"
    "last-error 1714637800 remote: ERROR: 100%25 lost%0A%09next%C3%A9\n"
    "delimiter .\n"
    "exact\n"
    "mailbox 1 1700000000 12 34 42 8 20 11 0 INBOX\n"
    "copying 1 0 3\n"
    "mailbox 7 1700000000 4294967295 9223372036854775813 42 1 1 0 0 "
    "a%00b c%25\n"
    "mailbox 3 - - - - - - 0 0  lead\n"
    "mailbox 9 1700000000 4 7 42 2 5 3 2 x\n"
    "copying 9 1 0\n"
    "end\n";

static void
test_format(void)
{
	struct istatus_snap s, back;
	struct err err;
	size_t len;
	char *text;

	test_begin("format: the documented text, escapes included");
	sample(&s);
	text = istatus_snap_format(&s, &len);
	test_assert_str(text, sample_text);
	test_assert(len == strlen(sample_text));
	test_end();

	test_begin("parse: format's text reads back the same");
	test_assert(istatus_snap_parse(text, len, &back, &err) == 0);
	check_same(&s, &back);
	istatus_snap_free(&back);
	free(text);
	test_end();

	istatus_snap_free(&s);
	test_begin("format: the largest numbers, and zero");
	sample(&s);
	s.mbx[0].st[1].highestmodseq = UINT64_MAX;
	s.mbx[0].pairs = 0;
	s.mbx[0].pending = UINT64_MAX - 9;
	text = istatus_snap_format(&s, &len);
	test_assert(strstr(text, "\nmailbox 1 1700000000 12 34 42 8 "
				 "18446744073709551615 0 "
				 "18446744073709551606 INBOX\n") != NULL);
	test_assert(istatus_snap_parse(text, len, &back, &err) == 0);
	check_same(&s, &back);
	istatus_snap_free(&back);
	free(text);
	istatus_snap_free(&s);
	test_end();

	/* (never written: SQLite's rowids are positive; printf's text if
	 * one were not) */
	test_begin("format: a negative idx as printf's");
	sample(&s);
	s.mbx[3].idx = -5;
	s.mbx[2].idx = INT64_MIN;
	text = istatus_snap_format(&s, &len);
	test_assert(strstr(text, "\nmailbox -5 1700000000 4 7 42 2 5 3 2 x\n")
	    != NULL);
	test_assert(strstr(text, "\nmailbox -9223372036854775808 - - - - - - "
				 "0 0  lead\n") != NULL);
	free(text);
	istatus_snap_free(&s);
	test_end();

	test_begin("format and parse: the other modes and results");
	{
		static const struct {
			enum istatus_mode mode;
			unsigned secs;
			enum istatus_result result;
			int sig;
			bool delim_known;
			char delim;
		} v[] = {
			{ ISTATUS_ONCE, 0, ISTATUS_OK, 0, false, 0 },
			{ ISTATUS_REPAIR, 0, ISTATUS_RUNNING, 0, true, '\0' },
			{ ISTATUS_DELETE, 0, ISTATUS_STOPPED, 15, true, '%' },
			{ ISTATUS_RENAME, 0, ISTATUS_STOPPED, 2, true, ' ' },
			{ ISTATUS_NOTIFY, 900, ISTATUS_OK, 0, true, '/' },
		};
		for (size_t i = 0; i < ARRAY_LEN(v); i++) {
			memset(&s, 0, sizeof(s));
			s.pid = 1;
			s.mode = v[i].mode;
			s.secs = v[i].secs;
			s.started = 1;
			s.updated = 2;
			s.result = v[i].result;
			s.signal = v[i].sig;
			s.delim_known = v[i].delim_known;
			s.delim = v[i].delim;
			text = istatus_snap_format(&s, &len);
			test_assert(istatus_snap_parse(text, len, &back,
			    &err) == 0);
			check_same(&s, &back);
			istatus_snap_free(&back);
			free(text);
		}
	}
	test_end();
	istatus_snap_free(&s);
	test_assert(s.mbx == NULL && s.error == NULL);
}

/* Texts that must be refused, and a word of the reason. */
static const struct {
	const char *name, *text, *why;
} bad[] = {
	{ "empty", "", "not a status snapshot" },
	{ "another file", "SQLite format 3\n", "not a status snapshot" },
	{ "version 0", "interimap-status 0\nend\n", "bad version" },
	{ "a later version", "interimap-status 2\nend\n", "later" },
	{ "cut short", "interimap-status 1\npid 1\nmode once\nstarted 1\n",
	    "incomplete" },
	{ "end without newline", "interimap-status 1\npid 1\nmode once\n"
	    "started 1\nupdated 1\nresult ok\nend", "incomplete" },
	{ "text after end", "interimap-status 1\npid 1\nmode once\n"
	    "started 1\nupdated 1\nresult ok\nend\npid 2\n", "after" },
	{ "no pid", "interimap-status 1\nmode once\nstarted 1\nupdated 1\n"
	    "result ok\nend\n", "missing" },
	{ "no result", "interimap-status 1\npid 1\nmode once\nstarted 1\n"
	    "updated 1\nend\n", "missing" },
	{ "pid 0", "interimap-status 1\npid 0\nend\n", "line 2" },
	{ "pid not a number", "interimap-status 1\npid x1\nend\n", "line 2" },
	{ "unknown mode", "interimap-status 1\npid 1\nmode sometimes\nend\n",
	    "line 3" },
	{ "watch without seconds", "interimap-status 1\npid 1\nmode watch\n"
	    "end\n", "line 3" },
	{ "once with seconds", "interimap-status 1\npid 1\nmode once 5\n"
	    "end\n", "line 3" },
	{ "stopped without signal", "interimap-status 1\nresult stopped\n"
	    "end\n", "line 2" },
	{ "negative time", "interimap-status 1\nstarted -5\nend\n", "line 2" },
	{ "UIDNEXT above 2^32", "interimap-status 1\nmailbox 1 1 4294967296 "
	    "1 1 1 1 0 0 a\nend\n", "line 2" },
	{ "one side without state", "interimap-status 1\nmailbox 1 - - - 1 "
	    "1 1 0 0 a\nend\n", "line 2" },
	{ "no name", "interimap-status 1\nmailbox 1 1 1 1 1 1 1 0 0\nend\n",
	    "line 2" },
	{ "empty name", "interimap-status 1\nmailbox 1 1 1 1 1 1 1 0 0 \n"
	    "end\n", "line 2" },
	{ "bad escape", "interimap-status 1\nmailbox 1 1 1 1 1 1 1 0 0 a%G0\n"
	    "end\n", "line 2" },
	{ "escape cut short", "interimap-status 1\nerror x%4\nend\n",
	    "line 2" },
	{ "NUL in an error", "interimap-status 1\nerror x%00y\nend\n",
	    "line 2" },
	{ "two-byte delimiter", "interimap-status 1\ndelimiter //\nend\n",
	    "line 2" },
	{ "NUL delimiter", "interimap-status 1\ndelimiter %00\nend\n",
	    "line 2" },
	{ "exact with a value", "interimap-status 1\nexact yes\nend\n",
	    "line 2" },
	{ "copying before any mailbox", "interimap-status 1\ncopying 1 0 3\n"
	    "end\n", "line 2" },
	{ "copying of another mailbox than the one before", "interimap-status "
	    "1\nmailbox 1 1 1 1 1 1 1 0 0 a\ncopying 2 0 3\nend\n", "line 3" },
	{ "copying without its counts", "interimap-status 1\nmailbox 1 1 1 1 "
	    "1 1 1 0 0 a\ncopying 1 3\nend\n", "line 3" },
	{ "copying with more", "interimap-status 1\nmailbox 1 1 1 1 1 1 1 0 0 "
	    "a\ncopying 1 0 3 4\nend\n", "line 3" },
};

static void
test_parse(void)
{
	struct istatus_snap s;
	struct err err;
	char name[160];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(name, sizeof(name), "parse refuses: %s", bad[i].name);
		test_begin(name);
		memset(&err, 0, sizeof(err));
		test_assert(istatus_snap_parse(bad[i].text,
		    strlen(bad[i].text), &s, &err) == -1);
		test_assert(err.kind == ERR_DB);
		if (strstr(err.msg, bad[i].why) == NULL)
			test_assert_str(err.msg, bad[i].why);
		test_assert(s.mbx == NULL && s.error == NULL &&
		    s.last_error == NULL);
		test_end();
	}

	test_begin("parse refuses a NUL byte in the text");
	{
		static const char t[] = "interimap-status 1\npid 1\0\nend\n";

		test_assert(istatus_snap_parse(t, sizeof(t) - 1, &s, &err) ==
		    -1);
	}
	test_end();

	test_begin("parse skips keys it does not know");
	{
		static const char t[] = "interimap-status 1\npid 7\n"
		    "future-key some value\nmode notify 900\nstarted 1\n"
		    "updated 2\nresult running\nmailbox-v2 whatever\nend\n";

		test_assert(istatus_snap_parse(t, strlen(t), &s, &err) == 0);
		test_assert(s.pid == 7 && s.mode == ISTATUS_NOTIFY &&
		    s.secs == 900 && s.result == ISTATUS_RUNNING &&
		    s.nmbx == 0 && s.ended == 0 && s.last_error == NULL &&
		    !s.delim_known);
		istatus_snap_free(&s);
	}
	test_end();

	test_begin("parse: delimiter NIL is a flat namespace");
	{
		static const char t[] = "interimap-status 1\npid 7\nmode once\n"
		    "started 1\nupdated 2\nresult ok\ndelimiter NIL\nend\n";

		test_assert(istatus_snap_parse(t, strlen(t), &s, &err) == 0);
		test_assert(s.delim_known && s.delim == '\0');
		istatus_snap_free(&s);
	}
	test_end();
}

static void
test_file(void)
{
	char dir[] = "/tmp/test_istatus.XXXXXX", *path, *tmp, *victim;
	struct istatus_snap s, back;
	struct stat sb;
	struct err err;

	if (mkdtemp(dir) == NULL)
		abort();
	path = xasprintf("%s/x.db.status", dir);
	tmp = xasprintf("%s.tmp", path);
	victim = xasprintf("%s/victim", dir);

	test_begin("snap_path: DB.status");
	{
		char *p = istatus_snap_path("/a/b.db");

		test_assert_str(p, "/a/b.db.status");
		free(p);
	}
	test_end();

	test_begin("read: no file is 0");
	test_assert(istatus_snap_read(path, &s, &err) == 0);
	test_assert(s.nmbx == 0 && s.pid == 0);
	test_end();

	test_begin("write then read: the same, mode 0600, no temporary left");
	sample(&s);
	umask(022);
	test_assert(istatus_snap_write(path, &s, &err) == 0);
	test_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	test_assert(access(tmp, F_OK) < 0);
	test_assert(istatus_snap_read(path, &back, &err) == 1);
	check_same(&s, &back);
	istatus_snap_free(&back);
	test_end();

	test_begin("write: a symbolic link at the temporary name is replaced, "
	    "not followed");
	test_write_file(victim, "keep\n", 5);
	test_assert(symlink(victim, tmp) == 0);
	test_assert(istatus_snap_write(path, &s, &err) == 0);
	{
		char buf[16] = "";
		FILE *f = fopen(victim, "r");

		test_assert(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
		test_assert_str(buf, "keep\n");
		if (f != NULL)
			fclose(f);
	}
	test_assert(lstat(tmp, &sb) < 0);
	test_end();

	test_begin("read: a cut file names the file and the reason");
	test_write_file(path, sample_text, strlen(sample_text) - 4);
	test_assert(istatus_snap_read(path, &back, &err) == -1);
	test_assert(strstr(err.msg, path) == err.msg);
	test_assert(strstr(err.msg, "incomplete") != NULL);
	test_end();

	test_begin("read: not a regular file");
	test_assert(istatus_snap_read(dir, &back, &err) == -1);
	test_end();

	istatus_snap_free(&s);
	unlink(path);
	unlink(victim);
	unlink(tmp);
	rmdir(dir);
	free(path);
	free(tmp);
	free(victim);
}

static const struct {
	const char *pat, *name;
	char delim;
	bool want;
} matches[] = {
	{ "*", "a/b/c", '/', true },
	{ "%", "INBOX", '/', true },
	{ "%", "a/b", '/', false },
	{ "INBOX", "INBOX", '/', true },
	{ "INBOX", "INBOX/x", '/', false },
	{ "INBOX*", "INBOX/x", '/', true },
	{ "a/%", "a/b", '/', true },
	{ "a/%", "a/b/c", '/', false },
	{ "a/*", "a/b/c", '/', true },
	{ "a/*", "a", '/', false },
	{ "a.%", "a.b", '.', true },
	{ "a.%", "a.b.c", '.', false },
	{ "a%c", "abbbc", '/', true },
	{ "a%c", "ab/c", '/', false },
	{ "*c", "abc", '/', true },
	{ "*%*", "", '/', true },
	{ "x", "", '/', false },
	{ "", "", '/', true },
	{ "**a**", "bab", '/', true },
};

static void
test_match(void)
{
	char name[160];

	for (size_t i = 0; i < ARRAY_LEN(matches); i++) {
		snprintf(name, sizeof(name), "match: \"%s\" %s \"%s\"",
		    matches[i].pat, matches[i].want ? "matches" : "misses",
		    matches[i].name);
		test_begin(name);
		test_assert(istatus_match(matches[i].pat, matches[i].name,
		    matches[i].delim) == matches[i].want);
		test_end();
	}
}

/* What istatus_print_mailboxes() prints for the sample. */
static char *
printed(bool delim_known, char delim, const char *const *pat, size_t npat)
{
	struct istatus_snap s;
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort();
	sample(&s);
	istatus_print_mailboxes(f, s.mbx, s.nmbx, delim_known, delim, pat,
	    npat);
	fclose(f);
	istatus_snap_free(&s);
	return text;
}

static void
test_print(void)
{
	char *t;

	test_begin("print: aligned, the local delimiter, the notes");
	t = printed(true, '.', NULL, 0);
	test_assert_str(t,
	    "MAILBOX   L.UIDNEXT      L.HIGHESTMODSEQ  R.UIDNEXT  "
	    "R.HIGHESTMODSEQ  PAIRS\n"
	    "INBOX            12                   34          8  "
	    "             20     11  interrupted copy: 3 messages being "
	    "copied to remote (the next run resumes it)\n"
	    "a.b c%   4294967295  9223372036854775813          1  "
	    "              1      0\n"
	    " lead             -                    -          -  "
	    "              -      0  never synced\n"
	    "x                 4                    7          2  "
	    "              5      3  interrupted copy: 2 pairs beyond "
	    "UIDNEXT, 1 message being copied to local (the next run resumes "
	    "it)\n");
	free(t);
	test_end();

	test_begin("print: the delimiter unknown: '/', and a line says so");
	t = printed(false, '\0', NULL, 0);
	test_assert(strstr(t, "\na/b c%  ") != NULL);
	test_assert(strstr(t, "the local delimiter is not known") != NULL);
	free(t);
	test_end();

	test_begin("print: patterns filter, with the local delimiter");
	{
		static const char *const p[] = { "a.%", "IN*" };

		t = printed(true, '.', p, 2);
		test_assert(strstr(t, "\nINBOX ") != NULL);
		test_assert(strstr(t, "\na.b c% ") != NULL);
		test_assert(strstr(t, "lead") == NULL);
		test_assert(strstr(t, "\nx ") == NULL);
		free(t);
	}
	test_end();

	test_begin("print: no match, no mailbox");
	{
		static const char *const p[] = { "nothing" };

		t = printed(true, '.', p, 1);
		test_assert_str(t, "no mailbox of the database matches\n");
		free(t);
		char *text = NULL;
		size_t len;
		FILE *f = open_memstream(&text, &len);

		if (f == NULL)
			abort();
		istatus_print_mailboxes(f, NULL, 0, false, '\0', NULL, 0);
		fclose(f);
		test_assert_str(text, "no mailbox in the database yet\n");
		free(text);
	}
	test_end();

	test_begin("print: control bytes in a name as \\xHH");
	{
		struct db_summary m = row(1, "a\x1b[2J", 5, true, 1, 1, 1, 1,
		    0, 0);
		char *text = NULL;
		size_t len;
		FILE *f = open_memstream(&text, &len);

		if (f == NULL)
			abort();
		istatus_print_mailboxes(f, &m, 1, true, '/', NULL, 0);
		fclose(f);
		test_assert(strstr(text, "\na\\x1B[2J ") != NULL);
		free(text);
		free(m.name);
	}
	test_end();
}

int
main(void)
{
	test_format();
	test_parse();
	test_file();
	test_match();
	test_print();
	return test_exit();
}
