/* Unit tests for common/imap_verbs.c: every constructor rendered with
 * imap_cmd_render() and compared with the exact wire text (the grammar's
 * examples, the reference interimap's commands from
 * shared/notes-interimap.md, RFC examples), then each refusal (which must
 * leave no command behind) and each abort on a programming error. */

#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "imap_parse.h"
#include "imap_verbs.h"
#include "test.h"
#include "render.h"

/* Put in *cmd_r before a call that must refuse: it must come back NULL. */
static char poison;
#define POISON ((struct imap_cmd *)(void *)&poison)

/* Renders cmd in mode against want, then frees it. */
static void
check_mode(struct imap_cmd *cmd, enum imap_lit_mode mode, const char *want)
{
	check_render(cmd, mode, want);
	imap_cmd_free(&cmd);
}

static void
check(struct imap_cmd *cmd, const char *want)
{
	check_mode(cmd, IMAP_LIT_SYNC, want);
}

/* A constructor that returned rc and *cmd: success with text want. */
static void
check_ok(int rc, struct imap_cmd *cmd, const struct err *err,
    const char *want)
{
	test_assert(rc == 0);
	if (rc != 0)
		test_assert_str(err->msg, "(no error)");
	check(cmd, want);
}

/* A refusal: -1, no command, err of kind with msg. */
static void
check_refused(int rc, struct imap_cmd *cmd, const struct err *err,
    enum err_kind kind, const char *msg)
{
	test_assert(rc == -1);
	test_assert(cmd == NULL);
	test_assert(err->kind == kind);
	test_assert_str(err->msg, msg);
	if (cmd != NULL && cmd != POISON)
		imap_cmd_free(&cmd);
}

/* test_child_aborts() for a fn without argument. */
static void (*aborts_fn)(void);

static void
aborts_call(const char *unused)
{
	(void)unused;
	aborts_fn();
}

static bool
aborts(void (*fn)(void))
{
	aborts_fn = fn;
	return test_child_aborts(aborts_call, NULL);
}

/* A set from text ("1:3,5"). */
static void
set_of(struct uidset *s, const char *text)
{
	uidset_clear(s);
	if (uidset_parse(s, text) < 0)
		abort();
}

/* ---- any state ---- */

static void
test_simple(void)
{
	static const char *const qresync[] = {"QRESYNC"};
	static const char *const two[] = {"CONDSTORE", "UTF8=ACCEPT"};

	test_begin("imap_verbs: CAPABILITY NOOP LOGOUT IDLE UNSELECT ENABLE "
	    "NOTIFY NONE UID SEARCH");
	check(imap_verb_capability(), "CAPABILITY");
	check(imap_verb_noop(), "NOOP");
	check(imap_verb_logout(), "LOGOUT");
	check(imap_verb_idle(), "IDLE");
	check(imap_verb_unselect(), "UNSELECT");
	check(imap_verb_notify_none(), "NOTIFY NONE");
	check(imap_verb_enable(qresync, 1), "ENABLE QRESYNC");
	check(imap_verb_enable(two, 2), "ENABLE CONDSTORE UTF8=ACCEPT");
	check(imap_verb_uid_search(false, "UID 1:*"), "UID SEARCH UID 1:*");
	check(imap_verb_uid_search(true, "UID 1:*"),
	    "UID SEARCH RETURN (ALL) UID 1:*");
	check(imap_verb_uid_search(true, "MODSEQ 620162338 NOT DELETED"),
	    "UID SEARCH RETURN (ALL) MODSEQ 620162338 NOT DELETED");
	test_end();
}

/* Parses one response line; the parser must be freed by the caller. */
static struct imap_parser *
parse(const char *line, const struct imap_resp **r_r)
{
	struct imap_parser *p = imap_parse_new(&imap_parse_default_limits);
	struct err err;
	size_t used;
	if (imap_parse_feed(p, line, strlen(line), &used, &err) !=
	    IMAP_PARSE_DONE || used != strlen(line))
		abort();
	*r_r = imap_parse_resp(p);
	return p;
}

/* imap_verb_enabled_check() on line: "rc=N enabled=B", starting from
 * enabled. */
static char *
enabled(const char *line, const char *ext, bool enabled)
{
	const struct imap_resp *r;
	struct imap_parser *p = parse(line, &r);
	struct err err = {0};
	int rc = imap_verb_enabled_check(r, ext, &enabled, &err);
	char *s = xasprintf("rc=%d enabled=%d%s%s", rc, (int)enabled,
	    rc < 0 ? " " : "", rc < 0 ? err.msg : "");
	imap_parse_free(&p);
	return s;
}

#define CHECK_ENABLED(line, ext, from, want)                                   \
	do {                                                                   \
		char *s_ = enabled(line, ext, from);                           \
		test_assert_str(s_, want);                                     \
		free(s_);                                                      \
	} while (0)

static void
test_enabled(void)
{
	test_begin("imap_verbs: the ENABLED reply names the extension");
	CHECK_ENABLED("* ENABLED QRESYNC\r\n", "QRESYNC", false,
	    "rc=1 enabled=1");
	CHECK_ENABLED("* ENABLED CONDSTORE QRESYNC\r\n", "QRESYNC", false,
	    "rc=1 enabled=1");
	CHECK_ENABLED("* ENABLED qresync\r\n", "QRESYNC", false,
	    "rc=1 enabled=1");
	CHECK_ENABLED("* enabled QRESYNC\r\n", "qresync", false,
	    "rc=1 enabled=1");
	/* an ENABLED without it: false stays false, true stays true (a
	 * second ENABLED response does not undo the first) */
	CHECK_ENABLED("* ENABLED CONDSTORE\r\n", "QRESYNC", false,
	    "rc=1 enabled=0");
	CHECK_ENABLED("* ENABLED CONDSTORE\r\n", "QRESYNC", true,
	    "rc=1 enabled=1");
	CHECK_ENABLED("* ENABLED\r\n", "QRESYNC", false, "rc=1 enabled=0");
	CHECK_ENABLED("* ENABLED QRESYNCX\r\n", "QRESYNC", false,
	    "rc=1 enabled=0");
	/* not an ENABLED response: untouched */
	CHECK_ENABLED("* CAPABILITY QRESYNC\r\n", "QRESYNC", false,
	    "rc=0 enabled=0");
	CHECK_ENABLED("* OK [CAPABILITY QRESYNC] x\r\n", "QRESYNC", false,
	    "rc=0 enabled=0");
	CHECK_ENABLED("a1 OK ENABLE QRESYNC\r\n", "QRESYNC", false,
	    "rc=0 enabled=0");
	/* malformed */
	CHECK_ENABLED("* 3 ENABLED QRESYNC\r\n", "QRESYNC", false,
	    "rc=-1 enabled=0 ENABLED after a number");
	CHECK_ENABLED("* ENABLED (QRESYNC)\r\n", "QRESYNC", false,
	    "rc=-1 enabled=0 ENABLED: expected an atom, got a list of 1");
	test_end();
}

/* ---- SELECT, EXAMINE ---- */

static void
test_select(void)
{
	struct uidset known = UIDSET_INIT, seqs = UIDSET_INIT,
	    uids = UIDSET_INIT, empty = UIDSET_INIT;
	struct imap_verb_select o;
	struct imap_cmd *c;
	struct err err = {0};
	int rc;

	test_begin("imap_verbs: SELECT and EXAMINE, CONDSTORE, QRESYNC");
	rc = imap_verb_select("INBOX", NULL, &c, &err);
	check_ok(rc, c, &err, "SELECT INBOX");
	rc = imap_verb_select("inbox", NULL, &c, &err);
	check_ok(rc, c, &err, "SELECT INBOX");
	rc = imap_verb_examine("foo/bar", NULL, &c, &err);
	check_ok(rc, c, &err, "EXAMINE foo/bar");
	rc = imap_verb_select("Entw\xc3\xbcrfe", NULL, &c, &err);
	check_ok(rc, c, &err, "SELECT Entw&APw-rfe");
	rc = imap_verb_select("sp ace", NULL, &c, &err);
	check_ok(rc, c, &err, "SELECT \"sp ace\"");

	memset(&o, 0, sizeof(o));
	rc = imap_verb_select("INBOX", &o, &c, &err); /* all empty */
	check_ok(rc, c, &err, "SELECT INBOX");
	o.condstore = true;
	rc = imap_verb_select("INBOX", &o, &c, &err);
	check_ok(rc, c, &err, "SELECT INBOX (CONDSTORE)");
	rc = imap_verb_examine("INBOX", &o, &c, &err);
	check_ok(rc, c, &err, "EXAMINE INBOX (CONDSTORE)");

	/* RFC 7162 §3.2.5 */
	memset(&o, 0, sizeof(o));
	o.uidvalidity = 1796077541;
	o.modseq = 20010715194045007ull;
	rc = imap_verb_select("INBOX", &o, &c, &err);
	check_ok(rc, c, &err,
	    "SELECT INBOX (QRESYNC (1796077541 20010715194045007))");
	o.known_uids = &empty; /* empty: left out */
	rc = imap_verb_select("INBOX", &o, &c, &err);
	check_ok(rc, c, &err,
	    "SELECT INBOX (QRESYNC (1796077541 20010715194045007))");
	set_of(&known, "41,43:211,214:541");
	o.known_uids = &known;
	rc = imap_verb_examine("INBOX", &o, &c, &err);
	check_ok(rc, c, &err, "EXAMINE INBOX (QRESYNC (1796077541 "
	    "20010715194045007 41,43:211,214:541))");
	/* the reference interimap's: 1:UIDNEXT-1 (SEQS UIDS) */
	set_of(&known, "1:7");
	set_of(&seqs, "1:7");
	set_of(&uids, "1:7");
	o.uidvalidity = 1;
	o.modseq = 9;
	o.match_seqs = &seqs;
	o.match_uids = &uids;
	rc = imap_verb_select("foo/bar", &o, &c, &err);
	check_ok(rc, c, &err, "SELECT foo/bar (QRESYNC (1 9 1:7 (1:7 1:7)))");
	/* seq-match-data without known-uids; CONDSTORE too; the largest
	 * numbers */
	set_of(&seqs, "1:9");
	set_of(&uids, "2,10:11,15:16,19:20,22,25");
	o.known_uids = NULL;
	o.condstore = true;
	o.modseq = IMAP_VERB_MODSEQ_MAX;
	o.uidvalidity = 4294967295u;
	rc = imap_verb_select("INBOX", &o, &c, &err);
	check_ok(rc, c, &err, "SELECT INBOX (CONDSTORE QRESYNC (4294967295 "
	    "9223372036854775807 (1:9 2,10:11,15:16,19:20,22,25)))");

	/* refusals */
	memset(&o, 0, sizeof(o));
	o.uidvalidity = 7;
	o.modseq = 0;
	c = POISON; /* must come back NULL */
	rc = imap_verb_select("INBOX", &o, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "SELECT: QRESYNC mod-sequence "
	    "0 out of range 1..9223372036854775807 (RFC 7162)");
	o.modseq = IMAP_VERB_MODSEQ_MAX + 1;
	rc = imap_verb_examine("INBOX", &o, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "EXAMINE: QRESYNC "
	    "mod-sequence 9223372036854775808 out of range "
	    "1..9223372036854775807 (RFC 7162)");
	o.modseq = 1;
	c = POISON;
	rc = imap_verb_select("caf\xc3", &o, &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "SELECT: mailbox name "
	    "\"caf\xc3\": invalid UTF-8 at offset 3: truncated sequence");

	uidset_free(&known);
	uidset_free(&seqs);
	uidset_free(&uids);
	test_end();
}

static void
select_match_half(void)
{
	struct uidset s = UIDSET_INIT;
	struct imap_verb_select o = {0};
	struct imap_cmd *c;
	struct err err;
	uidset_add(&s, 1, 3);
	o.uidvalidity = 1;
	o.modseq = 1;
	o.match_seqs = &s;
	(void)imap_verb_select("INBOX", &o, &c, &err);
}

static void
select_match_sizes(void)
{
	struct uidset s = UIDSET_INIT, u = UIDSET_INIT;
	struct imap_verb_select o = {0};
	struct imap_cmd *c;
	struct err err;
	uidset_add(&s, 1, 3);
	uidset_add(&u, 1, 4);
	o.uidvalidity = 1;
	o.modseq = 1;
	o.match_seqs = &s;
	o.match_uids = &u;
	(void)imap_verb_select("INBOX", &o, &c, &err);
}

static void
select_no_uidvalidity(void)
{
	struct imap_verb_select o = {0};
	struct imap_cmd *c;
	struct err err;
	o.modseq = 5;
	(void)imap_verb_select("INBOX", &o, &c, &err);
}

static void
select_match_ok(void)
{
	struct uidset s = UIDSET_INIT, u = UIDSET_INIT;
	struct imap_verb_select o = {0};
	struct imap_cmd *c;
	struct err err;
	uidset_add(&s, 1, 3);
	uidset_add(&u, 7, 9);
	o.uidvalidity = 1;
	o.modseq = 1;
	o.match_seqs = &s;
	o.match_uids = &u;
	if (imap_verb_select("INBOX", &o, &c, &err) == 0)
		imap_cmd_free(&c);
	uidset_free(&s);
	uidset_free(&u);
}

/* ---- mailboxes ---- */

static void
test_mailboxes(void)
{
	struct imap_cmd *c;
	struct err err = {0};
	int rc;

	test_begin("imap_verbs: CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE "
	    "STATUS, modified UTF-7 names");
	rc = imap_verb_create("foo/bar", &c, &err);
	check_ok(rc, c, &err, "CREATE foo/bar");
	rc = imap_verb_create("Entw\xc3\xbcrfe", &c, &err);
	check_ok(rc, c, &err, "CREATE Entw&APw-rfe");
	rc = imap_verb_create("Entw&APw-rfe", &c, &err);
	check_ok(rc, c, &err, "CREATE Entw&APw-rfe");
	rc = imap_verb_create("&", &c, &err);
	check_ok(rc, c, &err, "CREATE &-");
	rc = imap_verb_create("\xe5\x8f\xb0\xe5\x8c\x97", &c, &err);
	check_ok(rc, c, &err, "CREATE &U,BTFw-");
	rc = imap_verb_delete("sp ace", &c, &err);
	check_ok(rc, c, &err, "DELETE \"sp ace\"");
	rc = imap_verb_delete("INBOX", &c, &err);
	check_ok(rc, c, &err, "DELETE INBOX");
	rc = imap_verb_rename("Entw\xc3\xbcrfe", "\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", &c, &err);
	check_ok(rc, c, &err, "RENAME Entw&APw-rfe &U,BTFw-/&ZeVnLIqe-");
	rc = imap_verb_rename("a", "NIL", &c, &err);
	check_ok(rc, c, &err, "RENAME a \"NIL\"");
	rc = imap_verb_subscribe("Caf\xc3\xa9 & Bar", &c, &err);
	check_ok(rc, c, &err, "SUBSCRIBE \"Caf&AOk- &- Bar\"");
	rc = imap_verb_unsubscribe("50%", &c, &err);
	check_ok(rc, c, &err, "UNSUBSCRIBE \"50%\"");

	rc = imap_verb_status("INBOX", IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_HIGHESTMODSEQ, &c, &err);
	check_ok(rc, c, &err, "STATUS INBOX (UIDVALIDITY UIDNEXT "
	    "HIGHESTMODSEQ)");
	rc = imap_verb_status("R&D", IMAP_STATUS_SIZE | IMAP_STATUS_DELETED |
	    IMAP_STATUS_UNSEEN | IMAP_STATUS_RECENT | IMAP_STATUS_MESSAGES |
	    IMAP_STATUS_HIGHESTMODSEQ | IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_UIDVALIDITY, &c, &err);
	check_ok(rc, c, &err, "STATUS R&-D (UIDVALIDITY UIDNEXT HIGHESTMODSEQ "
	    "MESSAGES RECENT UNSEEN DELETED SIZE)");
	rc = imap_verb_status("x", IMAP_STATUS_MESSAGES, &c, &err);
	check_ok(rc, c, &err, "STATUS x (MESSAGES)");

	/* refusals: no command left, the name and the verb in the error */
	c = POISON;
	rc = imap_verb_create("\xff", &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "CREATE: mailbox name "
	    "\"\xff\": invalid UTF-8 at offset 0: lead byte beyond U+10FFFF");
	c = POISON;
	rc = imap_verb_delete("a\xc0\x80", &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "DELETE: mailbox name "
	    "\"a\xc0\x80\": invalid UTF-8 at offset 1: overlong encoding");
	c = POISON;
	rc = imap_verb_rename("ok", "bad\xed\xa0\x80", &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "RENAME: mailbox name "
	    "\"bad\xed\xa0\x80\": invalid UTF-8 at offset 3: UTF-16 "
	    "surrogate");
	c = POISON;
	rc = imap_verb_subscribe("\x80", &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_CONFIG);
	c = POISON;
	rc = imap_verb_unsubscribe("\x80", &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_CONFIG);
	c = POISON;
	rc = imap_verb_status("\x80", IMAP_STATUS_MESSAGES, &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_CONFIG);
	test_end();
}

static void
status_none(void)
{
	struct imap_cmd *c;
	struct err err;
	(void)imap_verb_status("INBOX", 0, &c, &err);
}

static void
status_unknown(void)
{
	struct imap_cmd *c;
	struct err err;
	(void)imap_verb_status("INBOX", 1u << 20, &c, &err);
}

/* ---- LIST ---- */

static int
list(struct imap_cmd **c, struct err *err, const char *ref,
    const char *const *sel, size_t nsel, const char *const *pat, size_t npat,
    unsigned ret, unsigned status)
{
	struct imap_verb_list l;
	memset(&l, 0, sizeof(l));
	l.select_opts = sel;
	l.nselect = nsel;
	l.reference = ref;
	l.patterns = pat;
	l.npatterns = npat;
	l.ret = ret;
	l.status = status;
	return imap_verb_list(&l, c, err);
}

static void
test_list(void)
{
	static const char *const star[] = {"*"}, *const empty[] = {""},
	    *const three[] = {"INBOX", "nonexist", "su*"},
	    *const sub[] = {"SUBSCRIBED"},
	    *const rec[] = {"SUBSCRIBED", "RECURSIVEMATCH"},
	    *const remote[] = {"REMOTE"},
	    *const utf8[] = {"Entw\xc3\xbcrfe/%", "inbox", "a b", "NIL"},
	    *const bad_sel[] = {"SUBSCRIBED", "a(b"},
	    *const rec_only[] = {"RECURSIVEMATCH"},
	    *const rec_remote[] = {"REMOTE", "recursivematch"},
	    *const bad_pat[] = {"ok", "caf\xc3"};
	const unsigned st = IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_HIGHESTMODSEQ;
	struct imap_cmd *c;
	struct err err = {0};
	int rc;

	test_begin("imap_verbs: LIST, LIST-EXTENDED, LIST-STATUS, patterns");
	/* the reference interimap's (notes-interimap.md §4.3, appendix) */
	rc = list(&c, &err, "", NULL, 0, star, 1, IMAP_VERB_LIST_SUBSCRIBED,
	    st);
	check_ok(rc, c, &err, "LIST \"\" * RETURN (SUBSCRIBED STATUS "
	    "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ))");
	rc = list(&c, &err, NULL, NULL, 0, empty, 1, 0, 0);
	check_ok(rc, c, &err, "LIST \"\" \"\"");
	rc = list(&c, &err, "", sub, 1, star, 1, IMAP_VERB_LIST_SUBSCRIBED,
	    st);
	check_ok(rc, c, &err, "LIST (SUBSCRIBED) \"\" * RETURN (SUBSCRIBED "
	    "STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ))");
	rc = list(&c, &err, "", NULL, 0, three, 3, IMAP_VERB_LIST_SUBSCRIBED,
	    0);
	check_ok(rc, c, &err, "LIST \"\" (INBOX nonexist su*) RETURN "
	    "(SUBSCRIBED)");
	rc = list(&c, &err, "", NULL, 0, three, 3, 0, 0); /* --delete */
	check_ok(rc, c, &err, "LIST \"\" (INBOX nonexist su*)");
	/* RFC 5258 §5 example 10: RECURSIVEMATCH with a base option */
	rc = list(&c, &err, "perso/", rec, 2, star, 1,
	    IMAP_VERB_LIST_CHILDREN, 0);
	check_ok(rc, c, &err, "LIST (SUBSCRIBED RECURSIVEMATCH) perso/ * "
	    "RETURN (CHILDREN)");
	rc = list(&c, &err, "", remote, 1, star, 1, IMAP_VERB_LIST_CHILDREN |
	    IMAP_VERB_LIST_SUBSCRIBED, IMAP_STATUS_MESSAGES);
	check_ok(rc, c, &err, "LIST (REMOTE) \"\" * RETURN (SUBSCRIBED "
	    "CHILDREN STATUS (MESSAGES))");
	rc = list(&c, &err, "Entw\xc3\xbcrfe/", NULL, 0, utf8, 4, 0, 0);
	check_ok(rc, c, &err, "LIST Entw&APw-rfe/ (Entw&APw-rfe/% INBOX "
	    "\"a b\" \"NIL\")");
	rc = list(&c, &err, "x", NULL, 0, utf8, 1, 0, IMAP_STATUS_SIZE);
	check_ok(rc, c, &err, "LIST x Entw&APw-rfe/% RETURN (STATUS (SIZE))");

	/* refusals */
	c = POISON;
	rc = list(&c, &err, "", bad_sel, 2, star, 1, 0, 0);
	check_refused(rc, c, &err, ERR_CONFIG, "LIST: bad selection option "
	    "\"a(b\"");
	c = POISON;
	rc = list(&c, &err, "", rec_only, 1, star, 1, 0, 0);
	check_refused(rc, c, &err, ERR_CONFIG, "LIST: RECURSIVEMATCH needs "
	    "another selection option, such as SUBSCRIBED (RFC 5258 §3.1)");
	c = POISON;
	rc = list(&c, &err, "", rec_remote, 2, star, 1, 0, 0);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_CONFIG);
	c = POISON;
	rc = list(&c, &err, "", NULL, 0, bad_pat, 2, 0, 0);
	check_refused(rc, c, &err, ERR_CONFIG, "LIST: mailbox name "
	    "\"caf\xc3\": invalid UTF-8 at offset 3: truncated sequence");
	c = POISON;
	rc = list(&c, &err, "\xc3", NULL, 0, star, 1, 0, 0);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_CONFIG);
	test_end();
}

static void
list_no_pattern(void)
{
	struct imap_cmd *c;
	struct err err;
	(void)list(&c, &err, "", NULL, 0, NULL, 0, 0, 0);
}

static void
list_bad_return(void)
{
	static const char *const star[] = {"*"};
	struct imap_cmd *c;
	struct err err;
	(void)list(&c, &err, "", NULL, 0, star, 1, 1u << 7, 0);
}

static void
list_bad_status(void)
{
	static const char *const star[] = {"*"};
	struct imap_cmd *c;
	struct err err;
	(void)list(&c, &err, "", NULL, 0, star, 1, 0, 1u << 20);
}

/* ---- NOTIFY ---- */

#define EV_NEF                                                                 \
	(IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE |             \
	    IMAP_VERB_EV_FLAG_CHANGE)

static void
test_notify(void)
{
	static const char *const boxes[] = {"INBOX", "foo/bar", "sp ace",
	    "Entw\xc3\xbcrfe"};
	static const char *const bad[] = {"INBOX", "\xe0\x80"};
	struct imap_verb_notify_group g[4];
	struct imap_cmd *c;
	struct err err = {0};
	int rc;

	test_begin("imap_verbs: NOTIFY SET, event groups and events");
	/* the reference interimap's --notify (notes-interimap.md §4.14) */
	memset(g, 0, sizeof(g));
	g[0].filter = IMAP_VERB_NOTIFY_MAILBOXES;
	g[0].mailboxes = boxes;
	g[0].nmailboxes = 4;
	g[0].events = EV_NEF;
	g[1].filter = IMAP_VERB_NOTIFY_SELECTED;
	g[1].events = EV_NEF;
	rc = imap_verb_notify_set(true, g, 2, &c, &err);
	check_ok(rc, c, &err, "NOTIFY SET STATUS (MAILBOXES (INBOX foo/bar "
	    "\"sp ace\" Entw&APw-rfe) (MessageNew MessageExpunge FlagChange)) "
	    "(SELECTED (MessageNew MessageExpunge FlagChange))");
	g[0].nmailboxes = 1;
	g[2].filter = IMAP_VERB_NOTIFY_PERSONAL;
	g[2].events = IMAP_VERB_EV_MAILBOX_NAME |
	    IMAP_VERB_EV_SUBSCRIPTION_CHANGE;
	rc = imap_verb_notify_set(false, g, 3, &c, &err);
	check_ok(rc, c, &err, "NOTIFY SET (MAILBOXES (INBOX) (MessageNew "
	    "MessageExpunge FlagChange)) (SELECTED (MessageNew MessageExpunge "
	    "FlagChange)) (PERSONAL (MailboxName SubscriptionChange))");

	/* RFC 5465 §3.1 (with erratum 1804), MessageExpunge added to the
	 * subtree group as §5 wants */
	memset(g, 0, sizeof(g));
	g[0].filter = IMAP_VERB_NOTIFY_SELECTED;
	g[0].events = IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE;
	g[0].fetch_att = "(UID BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)])";
	g[1].filter = IMAP_VERB_NOTIFY_SUBTREE;
	g[1].mailboxes = boxes + 1;
	g[1].nmailboxes = 1;
	g[1].events = IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE;
	rc = imap_verb_notify_set(true, g, 2, &c, &err);
	check_ok(rc, c, &err, "NOTIFY SET STATUS (SELECTED (MessageNew (UID "
	    "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]) MessageExpunge)) "
	    "(SUBTREE (foo/bar) (MessageNew MessageExpunge))");

	/* every filter, every event, NONE */
	memset(g, 0, sizeof(g));
	g[0].filter = IMAP_VERB_NOTIFY_SELECTED_DELAYED;
	g[0].events = IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE |
	    IMAP_VERB_EV_FLAG_CHANGE | IMAP_VERB_EV_ANNOTATION_CHANGE;
	g[1].filter = IMAP_VERB_NOTIFY_INBOXES;
	g[1].events = 0;
	g[2].filter = IMAP_VERB_NOTIFY_SUBSCRIBED;
	g[2].events = 0xff;
	rc = imap_verb_notify_set(false, g, 3, &c, &err);
	check_ok(rc, c, &err, "NOTIFY SET (SELECTED-DELAYED (MessageNew "
	    "MessageExpunge FlagChange AnnotationChange)) (INBOXES NONE) "
	    "(SUBSCRIBED (MessageNew MessageExpunge FlagChange "
	    "AnnotationChange MailboxName SubscriptionChange "
	    "MailboxMetadataChange ServerMetadataChange))");
	g[0].events = 0;
	rc = imap_verb_notify_set(false, g, 1, &c, &err);
	check_ok(rc, c, &err, "NOTIFY SET (SELECTED-DELAYED NONE)");

	/* a name that is not UTF-8 */
	memset(g, 0, sizeof(g));
	g[0].filter = IMAP_VERB_NOTIFY_MAILBOXES;
	g[0].mailboxes = bad;
	g[0].nmailboxes = 2;
	g[0].events = EV_NEF;
	c = POISON;
	rc = imap_verb_notify_set(true, g, 1, &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "NOTIFY: mailbox name "
	    "\"\xe0\x80\": invalid UTF-8 at offset 0: truncated sequence");
	test_end();
}

/* One group with these fields, through imap_verb_notify_set(). */
static void
notify_one(enum imap_verb_notify_filter f, unsigned events,
    const char *fetch_att, size_t nmailboxes)
{
	static const char *const boxes[] = {"a", "b"};
	struct imap_verb_notify_group g = {0};
	struct imap_cmd *c;
	struct err err;
	g.filter = f;
	g.events = events;
	g.fetch_att = fetch_att;
	g.mailboxes = boxes;
	g.nmailboxes = nmailboxes;
	if (imap_verb_notify_set(false, &g, 1, &c, &err) == 0)
		imap_cmd_free(&c);
}

static void
notify_new_alone(void)
{
	notify_one(IMAP_VERB_NOTIFY_PERSONAL, IMAP_VERB_EV_MESSAGE_NEW, NULL,
	    0);
}

static void
notify_expunge_alone(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED, IMAP_VERB_EV_MESSAGE_EXPUNGE,
	    NULL, 0);
}

static void
notify_flags_alone(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED, IMAP_VERB_EV_FLAG_CHANGE, NULL,
	    0);
}

static void
notify_annotation_alone(void)
{
	notify_one(IMAP_VERB_NOTIFY_PERSONAL, IMAP_VERB_EV_ANNOTATION_CHANGE |
	    IMAP_VERB_EV_MAILBOX_NAME, NULL, 0);
}

static void
notify_selected_mailbox_event(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED_DELAYED,
	    IMAP_VERB_EV_MAILBOX_NAME, NULL, 0);
}

static void
notify_fetch_elsewhere(void)
{
	notify_one(IMAP_VERB_NOTIFY_MAILBOXES, EV_NEF, "(UID)", 1);
}

static void
notify_fetch_not_list(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED, EV_NEF, "UID", 0);
}

static void
notify_fetch_no_new(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED, 0, "(UID)", 0);
}

static void
notify_mailboxes_missing(void)
{
	notify_one(IMAP_VERB_NOTIFY_MAILBOXES, EV_NEF, NULL, 0);
}

static void
notify_mailboxes_extra(void)
{
	notify_one(IMAP_VERB_NOTIFY_PERSONAL, EV_NEF, NULL, 2);
}

static void
notify_unknown_event(void)
{
	notify_one(IMAP_VERB_NOTIFY_PERSONAL, 1u << 8, NULL, 0);
}

static void
notify_ok(void)
{
	notify_one(IMAP_VERB_NOTIFY_SELECTED, EV_NEF, "(UID FLAGS)", 0);
	notify_one(IMAP_VERB_NOTIFY_SUBTREE, 0, NULL, 2);
}

static void
notify_two_selected(void)
{
	struct imap_verb_notify_group g[2] = {{0}, {0}};
	struct imap_cmd *c;
	struct err err;
	g[0].filter = IMAP_VERB_NOTIFY_SELECTED;
	g[1].filter = IMAP_VERB_NOTIFY_SELECTED_DELAYED;
	(void)imap_verb_notify_set(false, g, 2, &c, &err);
}

static void
notify_no_group(void)
{
	struct imap_cmd *c;
	struct err err;
	(void)imap_verb_notify_set(false, NULL, 0, &c, &err);
}

/* ---- APPEND ---- */

/* A streamed literal: the bytes of s, at most 2 a call. */
struct src {
	const char *s;
	size_t pos;
};

static ssize_t
src_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct src *s = ctx;
	size_t left = strlen(s->s) - s->pos;
	(void)err;
	if (n > 2)
		n = 2;
	if (n > left)
		n = left;
	memcpy(buf, s->s + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static void
test_append(void)
{
	static const char *const seen[] = {"\\Seen"},
	    *const recent[] = {"\\Recent"},
	    *const mixed[] = {"\\RECENT", "$Label", "\\recent", "\\Answered"},
	    *const bad_flag[] = {"\\Seen", "a b"},
	    *const star[] = {"\\*"};
	struct imap_verb_append_msg m[3];
	struct src src = {"Subject: s\r\n\r\nx\r\n", 0};
	struct imap_cmd *c;
	struct err err = {0};
	int rc;

	test_begin("imap_verbs: APPEND, MULTIAPPEND, flags, dates, literals");
	memset(m, 0, sizeof(m));
	m[0].data = "hello";
	m[0].size = 5;
	rc = imap_verb_append("INBOX", m, 1, &c, &err);
	check_ok(rc, c, &err, "APPEND INBOX {5}\r\n" WAIT "hello");

	/* the reference interimap's (notes-interimap.md appendix) */
	m[0].flags = seen;
	m[0].nflags = 1;
	m[0].internaldate = "01-Jan-2024 10:00:00 +0000";
	m[1].flags = recent; /* \Recent dropped: "()" */
	m[1].nflags = 1;
	m[1].internaldate = "30-Nov-2026 09:15:42 -0130";
	m[1].data = "bye";
	m[1].size = 3;
	rc = imap_verb_append("inbox", m, 2, &c, &err);
	test_assert(rc == 0);
	check_mode(c, IMAP_LIT_PLUS, "APPEND INBOX (\\Seen) \"01-Jan-2024 "
	    "10:00:00 +0000\" {5+}\r\nhello () \"30-Nov-2026 09:15:42 -0130\" "
	    "{3+}\r\nbye");
	rc = imap_verb_append("inbox", m, 2, &c, &err);
	check_ok(rc, c, &err, "APPEND INBOX (\\Seen) \"01-Jan-2024 10:00:00 "
	    "+0000\" {5}\r\n" WAIT "hello () \"30-Nov-2026 09:15:42 -0130\" "
	    "{3}\r\n" WAIT "bye");

	/* a streamed message between two in memory; literal8; a day with a
	 * leading space; an empty list of flags; \Recent in any case */
	memset(m, 0, sizeof(m));
	m[0].flags = mixed;
	m[0].nflags = 4;
	m[0].data = "a\0b";
	m[0].size = 3;
	m[0].literal8 = true;
	m[1].internaldate = " 1-Feb-2020 00:00:00 +1400";
	m[1].size = strlen(src.s);
	m[1].src = src_read;
	m[1].src_ctx = &src;
	m[2].flags = seen;
	m[2].nflags = 0;
	m[2].data = "";
	m[2].size = 0;
	rc = imap_verb_append("Entw\xc3\xbcrfe", m, 3, &c, &err);
	test_assert(rc == 0);
	{
		static const char want[] = "APPEND Entw&APw-rfe ($Label "
		    "\\Answered) ~{3+}\r\na\0b \" 1-Feb-2020 00:00:00 +1400\" "
		    "{17+}\r\nSubject: s\r\n\r\nx\r\n () {0+}\r\n";
		struct buf b = BUF_INIT(SIZE_MAX);
		test_assert(imap_cmd_render(c, IMAP_LIT_PLUS, NULL, &b,
		    &err) == 0);
		test_assert(b.len == sizeof(want) - 1 &&
		    memcmp(b.data, want, b.len) == 0);
		test_assert(src.pos == 17);
		buf_free(&b);
		imap_cmd_free(&c);
	}

	/* refusals */
	memset(m, 0, sizeof(m));
	m[0].data = "x";
	m[0].size = 1;
	m[1].data = "y";
	m[1].size = 1;
	m[1].internaldate = "2024-01-01 10:00:00 +0000";
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "APPEND: bad INTERNALDATE "
	    "\"2024-01-01 10:00:00 +0000\" (RFC 3501 date-time: \"dd-Mon-yyyy "
	    "hh:mm:ss +zzzz\")");
	m[1].internaldate = "31-Feb-2024 10:00:00 +0000";
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_REFUSED);
	m[1].internaldate = "01-Jan-2024 10:00:00 +0000\"";
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_REFUSED);
	m[1].internaldate = NULL;
	m[1].flags = bad_flag;
	m[1].nflags = 2;
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "APPEND: bad flag \"a b\"");
	m[1].flags = star;
	m[1].nflags = 1;
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "APPEND: bad flag \"\\*\"");
	m[1].flags = NULL;
	m[1].data = "a\0b";
	m[1].size = 3;
	c = POISON;
	rc = imap_verb_append("INBOX", m, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "APPEND: a literal holding a "
	    "NUL byte needs BINARY");
	c = POISON;
	rc = imap_verb_append("\xc3(", m, 1, &c, &err);
	check_refused(rc, c, &err, ERR_CONFIG, "APPEND: mailbox name "
	    "\"\xc3(\": invalid UTF-8 at offset 0: truncated sequence");
	test_end();
}

static void
append_none(void)
{
	struct imap_cmd *c;
	struct err err;
	(void)imap_verb_append("INBOX", NULL, 0, &c, &err);
}

static void
append_no_data(void)
{
	struct imap_verb_append_msg m = {0};
	struct imap_cmd *c;
	struct err err;
	m.size = 3;
	(void)imap_verb_append("INBOX", &m, 1, &c, &err);
}

/* ---- UID FETCH, UID STORE, UID EXPUNGE ---- */

static void
test_uid_commands(void)
{
	static const char *const del[] = {"\\Deleted"},
	    *const two[] = {"\\Seen", "$Label"},
	    *const recent[] = {"\\Recent", "\\Flagged", "\\recent"},
	    *const bad[] = {"\\Seen", "x]"};
	struct uidset s = UIDSET_INIT;
	struct imap_cmd *c;
	struct err err = {0};
	size_t pos;
	int rc;

	test_begin("imap_verbs: UID FETCH, UID STORE, UID EXPUNGE with "
	    "modifiers");
	/* the reference interimap's (notes-interimap.md §4.7, §4.8) */
	uidset_add(&s, 1, 4294967295u);
	rc = imap_verb_uid_fetch(&s, NULL, "(MODSEQ FLAGS INTERNALDATE "
	    "BODY.PEEK[])", IMAP_VERB_NO_MODSEQ, false, &c, &err);
	check_ok(rc, c, &err, "UID FETCH 1:4294967295 (MODSEQ FLAGS "
	    "INTERNALDATE BODY.PEEK[])");
	set_of(&s, "5,1:3");
	rc = imap_verb_uid_fetch(&s, NULL, "(MODSEQ FLAGS)", 1, false, &c,
	    &err);
	check_ok(rc, c, &err, "UID FETCH 1:3,5 (MODSEQ FLAGS) "
	    "(CHANGEDSINCE 1)");
	rc = imap_verb_uid_fetch(&s, NULL, "FLAGS", IMAP_VERB_MODSEQ_MAX,
	    true, &c, &err);
	check_ok(rc, c, &err, "UID FETCH 1:3,5 FLAGS (CHANGEDSINCE "
	    "9223372036854775807 VANISHED)");

	set_of(&s, "3,1:2");
	rc = imap_verb_uid_store(&s, NULL, IMAP_VERB_NO_MODSEQ,
	    IMAP_VERB_STORE_ADD, true, del, 1, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 +FLAGS.SILENT (\\Deleted)");
	rc = imap_verb_uid_store(&s, NULL, 12, IMAP_VERB_STORE_SET, true, two,
	    2, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 (UNCHANGEDSINCE 12) FLAGS.SILENT "
	    "(\\Seen $Label)");
	rc = imap_verb_uid_store(&s, NULL, 0, IMAP_VERB_STORE_REMOVE, false,
	    two, 1, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS "
	    "(\\Seen)");
	rc = imap_verb_uid_store(&s, NULL, IMAP_VERB_MODSEQ_MAX,
	    IMAP_VERB_STORE_SET, false, NULL, 0, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 (UNCHANGEDSINCE "
	    "9223372036854775807) FLAGS ()");
	rc = imap_verb_uid_store(&s, NULL, IMAP_VERB_NO_MODSEQ,
	    IMAP_VERB_STORE_ADD, false, recent, 3, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 +FLAGS (\\Flagged)");
	rc = imap_verb_uid_store(&s, NULL, IMAP_VERB_NO_MODSEQ,
	    IMAP_VERB_STORE_REMOVE, true, recent, 1, &c, &err);
	check_ok(rc, c, &err, "UID STORE 1:3 -FLAGS.SILENT ()");

	check(imap_verb_uid_expunge(&s, NULL), "UID EXPUNGE 1:3");
	set_of(&s, "7,9,4294967295");
	check(imap_verb_uid_expunge(&s, NULL), "UID EXPUNGE 7,9,4294967295");

	/* refusals, which leave *pos alone */
	pos = 0;
	c = POISON;
	rc = imap_verb_uid_fetch(&s, &pos, "FLAGS", 0, false, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "UID FETCH: CHANGEDSINCE 0 "
	    "out of range 1..9223372036854775807 (RFC 7162)");
	test_assert(pos == 0);
	c = POISON;
	rc = imap_verb_uid_fetch(&s, &pos, "FLAGS",
	    IMAP_VERB_MODSEQ_MAX + 1, true, &c, &err);
	test_assert(rc == -1 && c == NULL && err.kind == ERR_REFUSED);
	test_assert(pos == 0);
	c = POISON;
	rc = imap_verb_uid_store(&s, &pos, IMAP_VERB_MODSEQ_MAX + 1,
	    IMAP_VERB_STORE_SET, true, two, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "UID STORE: UNCHANGEDSINCE "
	    "9223372036854775808 out of range 0..9223372036854775807 "
	    "(RFC 7162)");
	test_assert(pos == 0);
	c = POISON;
	rc = imap_verb_uid_store(&s, &pos, IMAP_VERB_NO_MODSEQ,
	    IMAP_VERB_STORE_ADD, true, bad, 2, &c, &err);
	check_refused(rc, c, &err, ERR_REFUSED, "UID STORE: bad flag \"x]\"");
	test_assert(pos == 0);
	uidset_free(&s);
	test_end();
}

/* Sends s in chunks through fn; checks each and that together they are
 * s. Returns how many commands it took. */
static size_t
chunks(struct uidset *s, const char *verb,
    struct imap_cmd *(*fn)(struct uidset *, size_t *))
{
	struct uidset got = UIDSET_INIT;
	size_t pos = 0, n = 0, vlen = strlen(verb);

	while (pos < s->n) {
		size_t before = pos;
		struct imap_cmd *c = fn(s, &pos);
		char *t = render(c, IMAP_LIT_SYNC);
		const char *set = t + vlen + 1, *end;
		char *one;

		test_assert(pos > before);
		test_assert(strncmp(t, verb, vlen) == 0 && t[vlen] == ' ');
		end = strchr(set, ' ');
		if (end == NULL)
			end = set + strlen(set);
		/* at most one range past the limit */
		test_assert((size_t)(end - set) < IMAP_VERB_SET_MAX + 22);
		one = xstrndup(set, (size_t)(end - set));
		test_assert(uidset_parse(&got, one) == 0);
		free(one);
		free(t);
		imap_cmd_free(&c);
		if (++n > 1000)
			break;
	}
	test_assert(uidset_covers(&got, s) && uidset_covers(s, &got));
	uidset_free(&got);
	return n;
}

static struct imap_cmd *
fetch_chunk(struct uidset *s, size_t *pos)
{
	struct imap_cmd *c;
	struct err err;
	if (imap_verb_uid_fetch(s, pos, "(MODSEQ FLAGS)", 7, true, &c,
	    &err) < 0)
		abort();
	return c;
}

static struct imap_cmd *
store_chunk(struct uidset *s, size_t *pos)
{
	static const char *const del[] = {"\\Deleted"};
	struct imap_cmd *c;
	struct err err;
	if (imap_verb_uid_store(s, pos, IMAP_VERB_NO_MODSEQ,
	    IMAP_VERB_STORE_ADD, true, del, 1, &c, &err) < 0)
		abort();
	return c;
}

static void
test_chunks(void)
{
	struct uidset s = UIDSET_INIT;
	size_t pos = 0;
	struct imap_cmd *c;

	test_begin("imap_verbs: long UID sets in several commands");
	/* 3000 scattered UIDs, about 5 bytes each with the comma */
	for (uint32_t u = 3000000; u > 3000000 - 6000; u -= 2)
		uidset_add(&s, u, u);
	test_assert(chunks(&s, "UID EXPUNGE", imap_verb_uid_expunge) == 6);
	test_assert(chunks(&s, "UID FETCH", fetch_chunk) == 6);
	test_assert(chunks(&s, "UID STORE", store_chunk) == 6);
	/* a short set: one command, the same as without pos */
	set_of(&s, "1:9,20");
	test_assert(chunks(&s, "UID EXPUNGE", imap_verb_uid_expunge) == 1);
	c = imap_verb_uid_expunge(&s, &pos);
	check(c, "UID EXPUNGE 1:9,20");
	test_assert(pos == 2);
	uidset_free(&s);
	test_end();
}

static void
fetch_vanished_alone(void)
{
	struct uidset s = UIDSET_INIT;
	struct imap_cmd *c;
	struct err err;
	uidset_add(&s, 1, 2);
	(void)imap_verb_uid_fetch(&s, NULL, "FLAGS", IMAP_VERB_NO_MODSEQ,
	    true, &c, &err);
}

static void
expunge_empty(void)
{
	struct uidset s = UIDSET_INIT;
	(void)imap_verb_uid_expunge(&s, NULL);
}

static void
expunge_past_end(void)
{
	struct uidset s = UIDSET_INIT;
	size_t pos = 1;
	uidset_add(&s, 1, 2);
	(void)imap_verb_uid_expunge(&s, &pos);
}

static void
store_bad_op(void)
{
	struct uidset s = UIDSET_INIT;
	struct imap_cmd *c;
	struct err err;
	uidset_add(&s, 1, 2);
	(void)imap_verb_uid_store(&s, NULL, IMAP_VERB_NO_MODSEQ,
	    (enum imap_verb_store_op)3, false, NULL, 0, &c, &err);
}

static void
enable_none(void)
{
	(void)imap_verb_enable(NULL, 0);
}

static void
enable_not_atom(void)
{
	static const char *const bad[] = {"QRESYNC CONDSTORE"};
	(void)imap_verb_enable(bad, 1);
}

static void
search_bad_criteria(void)
{
	(void)imap_verb_uid_search(true, "HEADER Subject {3}");
}

static void
test_aborts(void)
{
	static void (*const bugs[])(void) = {select_match_half,
	    select_match_sizes, select_no_uidvalidity, status_none,
	    status_unknown, list_no_pattern, list_bad_return, list_bad_status,
	    notify_new_alone, notify_expunge_alone, notify_flags_alone,
	    notify_annotation_alone, notify_selected_mailbox_event,
	    notify_fetch_elsewhere, notify_fetch_not_list, notify_fetch_no_new,
	    notify_mailboxes_missing, notify_mailboxes_extra,
	    notify_unknown_event, notify_two_selected, notify_no_group,
	    append_none, append_no_data, fetch_vanished_alone, expunge_empty,
	    expunge_past_end, store_bad_op, enable_none, enable_not_atom,
	    search_bad_criteria};

	test_begin("imap_verbs: programming errors abort, and only those");
	for (size_t i = 0; i < ARRAY_LEN(bugs); i++) {
		bool a = aborts(bugs[i]);
		if (!a) {
			char m[64];
			snprintf(m, sizeof(m), "bug %zu did not abort", i);
			test_fail_at(__FILE__, __LINE__, m);
		}
	}
	test_assert(!aborts(select_match_ok));
	test_assert(!aborts(notify_ok));
	test_end();
}

int
main(void)
{
	test_simple();
	test_enabled();
	test_select();
	test_mailboxes();
	test_list();
	test_notify();
	test_append();
	test_uid_commands();
	test_chunks();
	test_aborts();
	return test_exit();
}
