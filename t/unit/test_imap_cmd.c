#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "imap_cmd.h"
#include "test.h"
#include "render.h"

static void
check(struct imap_cmd **cmdp, const char *want)
{
	check_render(*cmdp, IMAP_LIT_SYNC, want);
	imap_cmd_free(cmdp);
}

/* A streamed literal's source: bytes from data (or 'x' when NULL), at most
 * step a call; fails with -1 at byte fail_at, ends at byte end, returns
 * IMAP_SOURCE_AGAIN on every other call when flaky. */
struct src {
	const char *data;
	uint64_t pos, end, fail_at;
	size_t step;
	bool flaky, tick;
	size_t calls, max_asked;
	int extra; /* returns this many bytes more than asked */
};

#define SRC(d, l) {(d), 0, (l), UINT64_MAX, SIZE_MAX, false, false, 0, 0, 0}

static ssize_t
src_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct src *s = ctx;
	s->calls++;
	if (n > s->max_asked)
		s->max_asked = n;
	if (s->flaky && (s->tick = !s->tick))
		return IMAP_SOURCE_AGAIN;
	if (s->pos >= s->fail_at)
		return err_set(err, ERR_TEMP, "other server: connection lost");
	if (n > s->step)
		n = s->step;
	if (n > s->end - s->pos)
		n = (size_t)(s->end - s->pos);
	if (s->data)
		memcpy(buf, s->data + s->pos, n);
	else
		memset(buf, 'x', n);
	s->pos += n;
	return (ssize_t)n + s->extra;
}

static void
test_pieces(void)
{
	struct imap_cmd *c;
	struct uidset u = UIDSET_INIT;
	struct err err = {0};

	test_begin("imap_cmd: atom, number, raw, lists, join, ranges, sets");
	c = imap_cmd_new("NOOP");
	test_assert_str(imap_cmd_verb(c), "NOOP");
	check(&c, "NOOP");
	test_assert(c == NULL);
	imap_cmd_free(&c); /* NULL is fine */

	c = imap_cmd_new("UID FETCH");
	uidset_add(&u, 7, 9);
	uidset_add(&u, 1, 3);
	uidset_add(&u, 5, 5);
	imap_cmd_uidset(c, &u);
	imap_cmd_list_open(c);
	imap_cmd_atom(c, "UID");
	imap_cmd_atom(c, "FLAGS");
	imap_cmd_atom(c, "MODSEQ");
	imap_cmd_list_close(c);
	imap_cmd_list_open(c);
	imap_cmd_atom(c, "CHANGEDSINCE");
	imap_cmd_number(c, 18446744073709551615u);
	imap_cmd_atom(c, "VANISHED");
	imap_cmd_list_close(c);
	check(&c, "UID FETCH 1:3,5,7:9 (UID FLAGS MODSEQ) "
	    "(CHANGEDSINCE 18446744073709551615 VANISHED)");

	/* nested and empty lists, a list first after the verb */
	c = imap_cmd_new("SELECT");
	imap_cmd_mailbox_wire(c, "INBOX");
	imap_cmd_list_open(c);
	imap_cmd_atom(c, "QRESYNC");
	imap_cmd_list_open(c);
	imap_cmd_number(c, 4294967295u);
	imap_cmd_number(c, 0);
	imap_cmd_uidset(c, &u);
	imap_cmd_list_close(c);
	imap_cmd_list_close(c);
	imap_cmd_list_open(c);
	imap_cmd_list_close(c);
	check(&c, "SELECT INBOX (QRESYNC (4294967295 0 1:3,5,7:9)) ()");

	c = imap_cmd_new("UID STORE");
	imap_cmd_range(c, 5, IMAP_CMD_STAR);
	imap_cmd_range(c, 5, 9);
	imap_cmd_range(c, 4294967295u, 4294967295u);
	imap_cmd_range(c, IMAP_CMD_STAR, IMAP_CMD_STAR);
	imap_cmd_range(c, IMAP_CMD_STAR, 3);
	imap_cmd_raw(c, "+FLAGS.SILENT");
	imap_cmd_list_open(c);
	test_assert(imap_cmd_flag(c, "\\Seen", &err) == 0);
	test_assert(imap_cmd_flag(c, "$Junk", &err) == 0);
	test_assert(imap_cmd_flag(c, "\\", &err) < 0);
	test_assert(err.kind == ERR_REFUSED);
	test_assert(imap_cmd_flag(c, "", &err) < 0);
	test_assert(imap_cmd_flag(c, "a b", &err) < 0);
	test_assert(imap_cmd_flag(c, "\\a]", &err) < 0);
	test_assert(imap_cmd_flag(c, "{3}", &err) < 0);
	test_assert(imap_cmd_flag(c, "caf\xc3\xa9", &err) < 0);
	imap_cmd_list_close(c);
	check(&c, "UID STORE 5:* 5:9 4294967295 * *:3 +FLAGS.SILENT "
	    "(\\Seen $Junk)");

	c = imap_cmd_new("FETCH");
	imap_cmd_number(c, 1);
	imap_cmd_raw(c, "BODY.PEEK[HEADER.FIELDS (DATE FROM)]");
	imap_cmd_join(c);
	imap_cmd_raw(c, "<0.100>");
	imap_cmd_join(c);
	imap_cmd_list_open(c); /* a joined list */
	imap_cmd_list_close(c);
	check(&c, "FETCH 1 BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>()");

	/* a long set in several commands */
	uidset_clear(&u);
	for (uint32_t i = 1; i <= 9; i += 2)
		uidset_add(&u, i, i);
	{
		size_t pos = 0, k;
		c = imap_cmd_new("UID EXPUNGE");
		k = imap_cmd_uidset_chunk(c, &u, &pos, 3);
		test_assert(k == 2 && pos == 2);
		check(&c, "UID EXPUNGE 1,3");
		c = imap_cmd_new("UID EXPUNGE");
		k = imap_cmd_uidset_chunk(c, &u, &pos, 1000);
		test_assert(k == 3 && pos == 5);
		check(&c, "UID EXPUNGE 5,7,9");
	}
	uidset_free(&u);
	test_end();
}

/* Appends s (C string) as an astring, string or quoted string. */
static char *
one(int (*fn)(struct imap_cmd *, const char *, size_t, struct err *),
    const char *s, size_t len)
{
	struct imap_cmd *c = imap_cmd_new("X");
	struct err err = {0};
	char *r;
	if (fn(c, s, len, &err) < 0) {
		test_assert(err.kind == ERR_REFUSED);
		r = xasprintf("REFUSED %s", err.msg);
	} else {
		r = render(c, IMAP_LIT_PLUS);
	}
	imap_cmd_free(&c);
	return r;
}

#define ONE(fn, s) one(fn, s, sizeof(s) - 1)
#define CHECK_ONE(fn, s, want)                                                 \
	do {                                                                   \
		char *r_ = ONE(fn, s);                                         \
		test_assert_str(r_, want);                                     \
		free(r_);                                                      \
	} while (0)

static void
test_quoting(void)
{
	struct imap_cmd *c;
	struct err err = {0};

	test_begin("imap_cmd: atom, quoted or literal; NIL, \"\", 8-bit, CR/LF");
	CHECK_ONE(imap_cmd_astring, "abc", "X abc");
	CHECK_ONE(imap_cmd_astring, "a]b", "X a]b"); /* ASTRING-CHAR */
	CHECK_ONE(imap_cmd_astring, "NIL", "X \"NIL\"");
	CHECK_ONE(imap_cmd_astring, "nIl", "X \"nIl\"");
	CHECK_ONE(imap_cmd_astring, "NILS", "X NILS");
	CHECK_ONE(imap_cmd_astring, "", "X \"\"");
	CHECK_ONE(imap_cmd_astring, "a b", "X \"a b\"");
	CHECK_ONE(imap_cmd_astring, "a\"b", "X \"a\\\"b\"");
	CHECK_ONE(imap_cmd_astring, "a\\b", "X \"a\\\\b\"");
	CHECK_ONE(imap_cmd_astring, "{5}", "X \"{5}\"");
	CHECK_ONE(imap_cmd_astring, "{5+}\r\nabcde",
	    "X {11+}\r\n{5+}\r\nabcde");
	CHECK_ONE(imap_cmd_astring, "caf\xc3\xa9", "X {5+}\r\ncaf\xc3\xa9");
	CHECK_ONE(imap_cmd_astring, "a\rb", "X {3+}\r\na\rb");
	CHECK_ONE(imap_cmd_astring, "a\nb", "X {3+}\r\na\nb");
	CHECK_ONE(imap_cmd_astring, "a\tb", "X {3+}\r\na\tb");
	CHECK_ONE(imap_cmd_astring, "a\x7f", "X {2+}\r\na\x7f");
	CHECK_ONE(imap_cmd_astring, "a\0b",
	    "REFUSED X: cannot send a string holding a NUL byte");
	CHECK_ONE(imap_cmd_string, "abc", "X \"abc\"");
	CHECK_ONE(imap_cmd_string, "", "X \"\"");
	CHECK_ONE(imap_cmd_string, "NIL", "X \"NIL\"");
	CHECK_ONE(imap_cmd_string, "\xff", "X {1+}\r\n\xff");
	CHECK_ONE(imap_cmd_string, "\0", "REFUSED X: cannot send a string "
	    "holding a NUL byte");
	CHECK_ONE(imap_cmd_quoted, "01-Jan-2020 10:00:00 +0000",
	    "X \"01-Jan-2020 10:00:00 +0000\"");
	CHECK_ONE(imap_cmd_quoted, "x", "X \"x\"");
	CHECK_ONE(imap_cmd_quoted, "a\r\n", "REFUSED X: cannot send 3 bytes "
	    "with NUL, CR, LF, control or 8-bit characters as a quoted string");
	CHECK_ONE(imap_cmd_quoted, "\xc3\xa9", "REFUSED X: cannot send 2 bytes "
	    "with NUL, CR, LF, control or 8-bit characters as a quoted string");

	/* every byte alone: the form follows RFC 3501's character classes */
	for (int ch = 1; ch < 256; ch++) {
		char s = (char)ch, want[32], *got;
		if (ch > 0x20 && ch < 0x7f && !strchr("(){%*\"\\", ch))
			snprintf(want, sizeof(want), "X %c", ch);
		else if (ch == '"' || ch == '\\')
			snprintf(want, sizeof(want), "X \"\\%c\"", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			snprintf(want, sizeof(want), "X \"%c\"", ch);
		else
			snprintf(want, sizeof(want), "X {1+}\r\n%c", ch);
		got = one(imap_cmd_astring, &s, 1);
		test_assert_str(got, want);
		free(got);
	}

	/* a refused piece leaves the command as it was */
	c = imap_cmd_new("SEARCH");
	test_assert(imap_cmd_astring(c, "a\0b", 3, &err) < 0);
	test_assert(imap_cmd_string(c, "\0", 1, &err) < 0);
	test_assert(imap_cmd_quoted(c, "\n", 1, &err) < 0);
	test_assert(imap_cmd_literal(c, "a\0", 2, false, &err) < 0);
	test_assert(imap_cmd_literal_borrow(c, "\0", 1, false, &err) < 0);
	imap_cmd_atom(c, "ALL");
	test_assert(imap_cmd_nsegs(c) == 1);
	check(&c, "SEARCH ALL");

	/* wire-form mailboxes: INBOX in any case is INBOX; others are
	 * astrings, 8-bit bytes included (a literal) */
	c = imap_cmd_new("LIST");
	imap_cmd_mailbox_wire(c, "inbox");
	imap_cmd_mailbox_wire(c, "InBoX");
	imap_cmd_mailbox_wire(c, "INBOX.sub");
	imap_cmd_mailbox_wire(c, "inbox.sub");
	imap_cmd_mailbox_wire(c, "");
	imap_cmd_mailbox_wire(c, "nil");
	imap_cmd_mailbox_wire(c, "Sent Items");
	imap_cmd_mailbox_wire(c, "Entw&APw-rfe");
	imap_cmd_mailbox_wire(c, "50%");
	imap_cmd_mailbox_wire(c, "caf\xc3\xa9");
	check(&c, "LIST INBOX INBOX INBOX.sub inbox.sub \"\" \"nil\" "
	    "\"Sent Items\" Entw&APw-rfe \"50%\" {5}\r\n" WAIT "caf\xc3\xa9");
	test_end();
}

/* One name through imap_cmd_mailbox() or imap_cmd_list_mailbox(): the
 * argument as rendered (after "X "), or "REFUSED kind msg". */
static char *
one_mailbox(int (*fn)(struct imap_cmd *, const char *, struct err *),
    const char *name)
{
	struct imap_cmd *c = imap_cmd_new("X");
	struct err err = {0};
	char *r, *out;
	if (fn(c, name, &err) < 0) {
		/* a refused name leaves the command as it was */
		test_assert(imap_cmd_nsegs(c) == 1);
		r = xasprintf("REFUSED %d %s", (int)err.kind, err.msg);
	} else {
		out = render(c, IMAP_LIT_PLUS);
		test_assert(strncmp(out, "X ", 2) == 0);
		r = xstrdup(out + 2);
		free(out);
	}
	imap_cmd_free(&c);
	return r;
}

static void
test_mailbox(void)
{
	/* name, as a mailbox, as a LIST pattern (NULL: same as a mailbox).
	 * The 8-bit wire forms were checked with iconv -t UTF-7-IMAP. */
	static const struct {
		const char *name, *mailbox, *pattern;
	} t[] = {
		{"INBOX", "INBOX", NULL},
		{"inbox", "INBOX", NULL},
		{"InBoX", "INBOX", NULL},
		{"INBOX.sub", "INBOX.sub", NULL},
		{"inbox.sub", "inbox.sub", NULL},
		{"", "\"\"", NULL},
		{"nil", "\"nil\"", NULL},
		{"NIL", "\"NIL\"", NULL},
		{"Sent Items", "\"Sent Items\"", NULL},
		{"a]b", "a]b", NULL},
		{"a\"b\\", "\"a\\\"b\\\\\"", NULL},
		/* ASCII wire form is kept as it is */
		{"Entw&APw-rfe", "Entw&APw-rfe", NULL},
		{"&-", "&-", NULL},
		{"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter/mail/&U,BTFw-/&ZeVnLIqe-", NULL},
		/* UTF-8 is encoded */
		{"Entw\xc3\xbcrfe", "Entw&APw-rfe", NULL},
		{"\xe5\x8f\xb0\xe5\x8c\x97", "&U,BTFw-", NULL},
		{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		    "~peter/mail/&U,BTFw-/&ZeVnLIqe-", NULL},
		{"Caf\xc3\xa9 & Bar", "\"Caf&AOk- &- Bar\"", NULL},
		/* ... and every "&" in a UTF-8 name is text */
		{"Entw&APw-rfe/Gr\xc3\xb6\xc3\x9f" "e",
		    "Entw&-APw-rfe/Gr&APYA3w-e", NULL},
		/* ASCII that cannot be wire form is encoded */
		{"&", "&-", NULL},
		{"R&D", "R&-D", NULL},
		{"a&b-c", "a&-b-c", NULL},
		{"a\tb", "a&AAk-b", NULL},
		{"\x7f", "&AH8-", NULL},
		/* wildcards: quoted in a mailbox, atoms in a pattern */
		{"*", "\"*\"", "*"},
		{"%", "\"%\"", "%"},
		{"50%", "\"50%\"", "50%"},
		{"foo/*", "\"foo/*\"", "foo/*"},
		{"Entw\xc3\xbcrfe/%", "\"Entw&APw-rfe/%\"", "Entw&APw-rfe/%"},
		{"a]*", "\"a]*\"", "a]*"},
		{"a b*", "\"a b*\"", NULL},
		{"(*", "\"(*\"", NULL},
		{"{*}", "\"{*}\"", NULL},
	};
	static const char *const bad[] = {"caf\xc3", "\xff", "\xc0\x80",
	    "a\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3\xa9\xc3"};
	char *got, want[256];

	test_begin("imap_cmd: mailbox names and LIST patterns in modified "
	    "UTF-7; refusals");
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		got = one_mailbox(imap_cmd_mailbox, t[i].name);
		test_assert_str(got, t[i].mailbox);
		free(got);
		got = one_mailbox(imap_cmd_list_mailbox, t[i].name);
		test_assert_str(got, t[i].pattern ? t[i].pattern :
		    t[i].mailbox);
		free(got);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(want, sizeof(want), "REFUSED %d X: mailbox name \"%s\": "
		    "invalid UTF-8 at offset ", (int)ERR_CONFIG, bad[i]);
		got = one_mailbox(imap_cmd_mailbox, bad[i]);
		test_assert(strncmp(got, want, strlen(want)) == 0);
		free(got);
		got = one_mailbox(imap_cmd_list_mailbox, bad[i]);
		test_assert(strncmp(got, want, strlen(want)) == 0);
		free(got);
	}
	test_end();
}

static void
raw_crlf(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	imap_cmd_raw(c, arg);
}

static void
atom_bad(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	imap_cmd_atom(c, arg);
}

static void
verb_bad(const char *arg)
{
	(void)imap_cmd_new(arg);
}

static void
close_unopened(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	(void)arg;
	imap_cmd_list_open(c);
	imap_cmd_list_close(c);
	imap_cmd_list_close(c);
}

static void
write_open_list(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	struct imap_cmd_writer w;
	(void)arg;
	imap_cmd_list_open(c);
	imap_cmd_writer_init(&w, c, IMAP_LIT_PLUS);
}

static void
empty_set(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	struct uidset u = UIDSET_INIT;
	(void)arg;
	imap_cmd_uidset(c, &u);
}

static void
zero_cap(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	struct imap_cmd_writer w;
	struct err err;
	char b[1];
	size_t n;
	(void)arg;
	imap_cmd_writer_init(&w, c, IMAP_LIT_PLUS);
	(void)imap_cmd_writer_next(&w, b, 0, &n, &err);
}

static void
ok_raw(const char *arg)
{
	struct imap_cmd *c = imap_cmd_new("X");
	imap_cmd_raw(c, arg);
	imap_cmd_free(&c);
}

static void
test_refusals(void)
{
	static const char *const bad_raw[] = {"", "a\rb", "a\nb", "\r\n",
	    "{5}", "{5+}", "~{5}", "a\tb", "\x7f", "caf\xc3\xa9"};
	static const char *const bad_atom[] = {"", "a b", "a(", ")", "a{",
	    "%", "*", "\"", "\\Seen", "a]", "\x01", "\x7f", "\xc3\xa9",
	    "a\r", "a\n"};
	static const char *const bad_verb[] = {"", " ", "UID  FETCH",
	    " NOOP", "NOOP ", "A\tB", "(X)", "X\r\n"};

	test_begin("imap_cmd: refusals of raw text, atoms, verbs; aborts");
	for (size_t i = 0; i < ARRAY_LEN(bad_raw); i++)
		test_assert(!imap_cmd_raw_ok(bad_raw[i]));
	for (size_t i = 0; i < ARRAY_LEN(bad_atom); i++)
		test_assert(!imap_cmd_atom_ok(bad_atom[i]));
	for (size_t i = 0; i < ARRAY_LEN(bad_verb); i++)
		test_assert(!imap_cmd_verb_ok(bad_verb[i]));
	test_assert(imap_cmd_raw_ok("(UID FLAGS BODY.PEEK[])"));
	test_assert(imap_cmd_raw_ok("RETURN (ALL) \"x\" }"));
	test_assert(imap_cmd_atom_ok("BODY.PEEK[HEADER"));
	test_assert(imap_cmd_atom_ok("$Forwarded"));
	test_assert(imap_cmd_atom_ok("}+~"));
	test_assert(imap_cmd_verb_ok("UID FETCH"));
	test_assert(imap_cmd_verb_ok("X-ID"));

	/* the aborting pieces do abort, and only on bad input */
	test_assert(test_child_aborts(raw_crlf, "a\r\nb"));
	test_assert(test_child_aborts(raw_crlf, "{5+}"));
	test_assert(test_child_aborts(raw_crlf, ""));
	test_assert(!test_child_aborts(ok_raw, "(FLAGS)"));
	test_assert(test_child_aborts(atom_bad, "a b"));
	test_assert(test_child_aborts(atom_bad, "\\Seen"));
	test_assert(test_child_aborts(verb_bad, "UID  FETCH"));
	test_assert(test_child_aborts(verb_bad, "LOGIN\r\n"));
	test_assert(test_child_aborts(close_unopened, NULL));
	test_assert(test_child_aborts(write_open_list, NULL));
	test_assert(test_child_aborts(empty_set, NULL));
	test_assert(test_child_aborts(zero_cap, NULL));
	test_end();
}

static struct imap_cmd *
append_of(size_t n, bool literal8)
{
	struct imap_cmd *c = imap_cmd_new("APPEND");
	struct err err = {0};
	char *msg = xmalloc(n + 1);
	memset(msg, 'm', n);
	imap_cmd_mailbox_wire(c, "INBOX");
	if (imap_cmd_literal(c, msg, n, literal8, &err) < 0)
		abort();
	free(msg);
	return c;
}

/* "APPEND INBOX " + head + n times 'm' */
static char *
append_want(const char *head, size_t n)
{
	char *s = xmalloc(strlen("APPEND INBOX ") + strlen(head) + n + 1);
	char *p = stpcpy(stpcpy(s, "APPEND INBOX "), head);
	memset(p, 'm', n);
	p[n] = '\0';
	return s;
}

static void
check_append(size_t n, bool literal8, enum imap_lit_mode mode,
    const char *head)
{
	struct imap_cmd *c = append_of(n, literal8);
	char *want = append_want(head, n);
	check_render(c, mode, want);
	free(want);
	imap_cmd_free(&c);
}

static void
test_modes(void)
{
	struct imap_cmd *c;
	struct err err = {0};

	test_begin("imap_cmd: literal headers for SYNC, LITERAL+, LITERAL-");
	check_append(3, false, IMAP_LIT_SYNC, "{3}\r\n" WAIT);
	check_append(3, false, IMAP_LIT_PLUS, "{3+}\r\n");
	check_append(3, false, IMAP_LIT_MINUS, "{3+}\r\n");
	check_append(0, false, IMAP_LIT_SYNC, "{0}\r\n" WAIT);
	check_append(0, false, IMAP_LIT_MINUS, "{0+}\r\n");
	check_append(4096, false, IMAP_LIT_MINUS, "{4096+}\r\n");
	check_append(4097, false, IMAP_LIT_MINUS, "{4097}\r\n" WAIT);
	check_append(4097, false, IMAP_LIT_PLUS, "{4097+}\r\n");
	check_append(4096, true, IMAP_LIT_MINUS, "~{4096+}\r\n");
	check_append(4097, true, IMAP_LIT_MINUS, "~{4097}\r\n" WAIT);
	check_append(2, true, IMAP_LIT_SYNC, "~{2}\r\n" WAIT);
	check_append(2, true, IMAP_LIT_PLUS, "~{2+}\r\n");

	/* a literal8 may hold NUL; a borrowed literal is read at send time */
	c = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(c, "INBOX");
	{
		char data[] = "a\0b";
		test_assert(imap_cmd_literal_borrow(c, data, 3, true, &err) == 0);
		data[2] = 'c';
		{
			struct buf b = BUF_INIT(SIZE_MAX);
			test_assert(imap_cmd_render(c, IMAP_LIT_PLUS, NULL, &b,
			    &err) == 0);
			test_assert(b.len == 23 &&
			    memcmp(b.data, "APPEND INBOX ~{3+}\r\na\0c", 23) == 0);
			buf_free(&b);
		}
	}
	imap_cmd_free(&c);

	/* rendering is bounded by the caller's buffer */
	c = append_of(100, false);
	{
		struct buf b = BUF_INIT(50);
		test_assert(imap_cmd_render(c, IMAP_LIT_PLUS, NULL, &b,
		    &err) < 0);
		test_assert_str(err.msg, "APPEND: command longer than 50 "
		    "bytes");
		buf_free(&b);
	}
	imap_cmd_free(&c);
	test_end();
}

/* Drives a writer with a buffer of cap bytes to the end; returns what it
 * sent (WAIT at each stop, BLOCKED at each source stall) or "ERROR: msg". */
static char *
drive(const struct imap_cmd *cmd, enum imap_lit_mode mode, size_t cap)
{
	struct imap_cmd_writer w;
	struct buf b = BUF_INIT(SIZE_MAX);
	struct err err = {0};
	char *chunk = xmalloc(cap);
	enum imap_cmd_wr st;
	unsigned calls = 0;

	imap_cmd_writer_init(&w, cmd, mode);
	do {
		size_t n = 12345;
		if (++calls > 100000) { /* a writer making no progress */
			free(chunk);
			buf_free(&b);
			return xstrdup("LOOPING");
		}
		st = imap_cmd_writer_next(&w, chunk, cap, &n, &err);
		test_assert(n <= cap);
		if (st == IMAP_CMD_WR_ERROR) {
			char *r = xasprintf("ERROR: %s", err.msg);
			test_assert(n == 0);
			/* and stays failed */
			test_assert(imap_cmd_writer_next(&w, chunk, cap, &n,
			    &err) == IMAP_CMD_WR_ERROR);
			free(chunk);
			buf_free(&b);
			return r;
		}
		if (st != IMAP_CMD_WR_DONE)
			test_assert(n > 0 || st == IMAP_CMD_WR_BLOCKED);
		buf_append(&b, chunk, n);
		if (st == IMAP_CMD_WR_WAIT)
			buf_appends(&b, WAIT);
		if (st == IMAP_CMD_WR_BLOCKED)
			buf_appends(&b, "<BLOCKED>");
	} while (st != IMAP_CMD_WR_DONE);
	/* DONE stays DONE, with nothing more */
	{
		size_t n = 1;
		test_assert(imap_cmd_writer_next(&w, chunk, cap, &n, &err) ==
		    IMAP_CMD_WR_DONE && n == 0);
	}
	free(chunk);
	buf_append(&b, "", 1);
	return b.data;
}

/* drive()'s output checked against want. */
static void
check_drive(const struct imap_cmd *cmd, enum imap_lit_mode mode, size_t cap,
    const char *want)
{
	char *got = drive(cmd, mode, cap);

	test_assert_str(got, want);
	free(got);
}

static void
test_stream(void)
{
	struct imap_cmd *c;
	struct src s1 = SRC("hello", 5), s2 = SRC("world!", 6);
	char *got;
	size_t caps[] = {1, 2, 3, 7, 4096};

	test_begin("imap_cmd: streamed literals, 1 byte at a time, any cap");
	for (size_t i = 0; i < ARRAY_LEN(caps); i++) {
		for (int m = 0; m < 3; m++) {
			static const char *const want[] = {
			    "APPEND INBOX {5}\r\n" WAIT "hello {6}\r\n" WAIT
			    "world! x",
			    "APPEND INBOX {5+}\r\nhello {6+}\r\nworld! x",
			    "APPEND INBOX {5+}\r\nhello {6+}\r\nworld! x"};
			s1.pos = s2.pos = 0;
			s1.step = s2.step = 1;
			s1.max_asked = s2.max_asked = 0;
			c = imap_cmd_new("APPEND");
			imap_cmd_mailbox_wire(c, "INBOX");
			imap_cmd_literal_stream(c, 5, false, src_read, &s1);
			imap_cmd_literal_stream(c, 6, false, src_read, &s2);
			imap_cmd_atom(c, "x");
			got = drive(c, (enum imap_lit_mode)m, caps[i]);
			test_assert_str(got, want[m]);
			test_assert(s1.max_asked <= caps[i]);
			test_assert(s2.max_asked <= caps[i]);
			free(got);
			imap_cmd_free(&c);
		}
	}

	/* a non-blocking source that has nothing every other call */
	c = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(c, "INBOX");
	s1.pos = 0;
	s1.step = 2;
	s1.flaky = true;
	s1.tick = false;
	imap_cmd_literal_stream(c, 5, false, src_read, &s1);
	check_drive(c, IMAP_LIT_PLUS, 64,
	    "APPEND INBOX {5+}\r\n<BLOCKED>he<BLOCKED>ll"
	    "<BLOCKED>o");
	imap_cmd_free(&c);
	test_end();
}

static void
test_stream_errors(void)
{
	struct imap_cmd *c;
	struct src s = SRC("0123456789", 10);
	char *got;

	test_begin("imap_cmd: a source that fails, ends early or overfills");
	c = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(c, "INBOX");
	imap_cmd_literal_stream(c, 10, false, src_read, &s);

	s.fail_at = 4;
	s.step = 3;
	check_drive(c, IMAP_LIT_PLUS, 100,
	    "ERROR: APPEND: literal source after 6 of 10 "
	    "bytes: other server: connection lost");

	s.pos = 0;
	s.fail_at = UINT64_MAX;
	s.end = 0;
	check_drive(c, IMAP_LIT_PLUS, 100,
	    "ERROR: APPEND: literal source ended after 0 of "
	    "10 bytes");

	s.pos = 0;
	s.end = 7;
	check_drive(c, IMAP_LIT_SYNC, 100,
	    "ERROR: APPEND: literal source ended after 7 of "
	    "10 bytes");
	{
		/* the kind: a short literal is a temporary failure */
		struct imap_cmd_writer w;
		struct err err = {0};
		char b[100];
		size_t n;
		s.pos = 0;
		imap_cmd_writer_init(&w, c, IMAP_LIT_PLUS);
		while (imap_cmd_writer_next(&w, b, sizeof(b), &n, &err) ==
		    IMAP_CMD_WR_MORE)
			;
		test_assert(err.kind == ERR_TEMP);
	}

	s.pos = 0;
	s.end = 10;
	s.step = SIZE_MAX;
	s.extra = 1;
	check_drive(c, IMAP_LIT_PLUS, 100,
	    "ERROR: APPEND: literal source returned 11 bytes "
	    "for 10");

	/* rendering reports the same errors */
	s.pos = 0;
	s.extra = 0;
	s.end = 2;
	got = render(c, IMAP_LIT_PLUS);
	test_assert_str(got, "ERROR: APPEND: literal source ended after 2 of "
	    "10 bytes");
	free(got);
	imap_cmd_free(&c);
	test_end();
}

static void
test_multiappend(void)
{
	struct imap_cmd *c;
	struct err err = {0};
	struct src s = SRC("Subject: two\r\n\r\nbody\r\n", 22);
	const char *m1 = "Subject: one\r\n\r\nhi\r\n";
	static const enum imap_cmd_seg_kind kinds[] = {IMAP_CMD_SEG_TEXT,
	    IMAP_CMD_SEG_LITERAL, IMAP_CMD_SEG_TEXT, IMAP_CMD_SEG_LITERAL,
	    IMAP_CMD_SEG_TEXT};

	test_begin("imap_cmd: MULTIAPPEND with two literals; segments");
	c = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(c, "Archive/2020");
	imap_cmd_list_open(c);
	test_assert(imap_cmd_flag(c, "\\Seen", &err) == 0);
	imap_cmd_list_close(c);
	test_assert(imap_cmd_quoted(c, "01-Jan-2020 10:00:00 +0000", 26,
	    &err) == 0);
	test_assert(imap_cmd_literal(c, m1, strlen(m1), false, &err) == 0);
	imap_cmd_list_open(c);
	test_assert(imap_cmd_flag(c, "\\Flagged", &err) == 0);
	test_assert(imap_cmd_flag(c, "work", &err) == 0);
	imap_cmd_list_close(c);
	test_assert(imap_cmd_quoted(c, "02-Jan-2020 11:00:00 +0100", 26,
	    &err) == 0);
	imap_cmd_literal_stream(c, 22, false, src_read, &s);
	imap_cmd_raw(c, "(\\Draft)");
	test_assert(imap_cmd_string(c, "", 0, &err) == 0);

	test_assert(imap_cmd_nsegs(c) == ARRAY_LEN(kinds));
	for (size_t i = 0; i < imap_cmd_nsegs(c); i++) {
		const struct imap_cmd_seg *g = imap_cmd_seg(c, i);
		test_assert(g->kind == kinds[i]);
		if (g->kind == IMAP_CMD_SEG_TEXT)
			test_assert(memchr(g->text, '\r', g->len) == NULL &&
			    memchr(g->text, '\n', g->len) == NULL &&
			    memchr(g->text, '\0', g->len) == NULL);
	}
	test_assert(imap_cmd_seg(c, 1)->size == 20 &&
	    imap_cmd_seg(c, 1)->data != NULL);
	test_assert(imap_cmd_seg(c, 3)->size == 22 &&
	    imap_cmd_seg(c, 3)->data == NULL &&
	    imap_cmd_seg(c, 3)->src == src_read &&
	    imap_cmd_seg(c, 3)->src_ctx == &s);
	test_assert(imap_cmd_seg(c, 4)->len == 12 &&
	    memcmp(imap_cmd_seg(c, 4)->text, " (\\Draft) \"\"", 12) == 0);

	{
		char *t = imap_cmd_trace(c, false);
		test_assert_str(t, "APPEND Archive/2020 (\\Seen) "
		    "\"01-Jan-2020 10:00:00 +0000\" {20}[...] (\\Flagged work) "
		    "\"02-Jan-2020 11:00:00 +0100\" {22}[...] (\\Draft) \"\"");
		free(t);
	}
	check_render(c, IMAP_LIT_SYNC,
	    "APPEND Archive/2020 (\\Seen) \"01-Jan-2020 10:00:00 +0000\" "
	    "{20}\r\n" WAIT "Subject: one\r\n\r\nhi\r\n (\\Flagged work) "
	    "\"02-Jan-2020 11:00:00 +0100\" {22}\r\n" WAIT
	    "Subject: two\r\n\r\nbody\r\n (\\Draft) \"\"");
	s.pos = 0;
	check_render(c, IMAP_LIT_MINUS,
	    "APPEND Archive/2020 (\\Seen) \"01-Jan-2020 10:00:00 +0000\" "
	    "{20+}\r\nSubject: one\r\n\r\nhi\r\n (\\Flagged work) "
	    "\"02-Jan-2020 11:00:00 +0100\" {22+}\r\n"
	    "Subject: two\r\n\r\nbody\r\n (\\Draft) \"\"");
	imap_cmd_free(&c);
	test_end();
}

static void
test_secret(void)
{
	struct imap_cmd *c;
	struct err err = {0};
	char *t;

	test_begin("imap_cmd: trace with literals and redacted secrets");
	c = imap_cmd_new("LOGIN");
	test_assert(imap_cmd_astring(c, "joe", 3, &err) == 0);
	imap_cmd_set_secret(c);
	test_assert(imap_cmd_astring(c, "p\xc3\xa4ss word", 10, &err) == 0);
	t = imap_cmd_trace(c, false);
	test_assert_str(t, "LOGIN joe [REDACTED]");
	free(t);
	t = imap_cmd_trace(c, true);
	test_assert_str(t, "LOGIN joe {10}[...]");
	free(t);
	check(&c, "LOGIN joe {10}\r\n" WAIT "p\xc3\xa4ss word");

	c = imap_cmd_new("LOGIN");
	imap_cmd_set_secret(c);
	test_assert(imap_cmd_astring(c, "joe", 3, &err) == 0);
	imap_cmd_set_secret(c); /* the first call counts */
	test_assert(imap_cmd_astring(c, "pass word", 9, &err) == 0);
	t = imap_cmd_trace(c, false);
	test_assert_str(t, "LOGIN [REDACTED]");
	free(t);
	t = imap_cmd_trace(c, true);
	test_assert_str(t, "LOGIN joe \"pass word\"");
	free(t);
	imap_cmd_free(&c);

	/* the secret part starts after a literal */
	c = imap_cmd_new("AUTHENTICATE");
	imap_cmd_atom(c, "PLAIN");
	test_assert(imap_cmd_literal(c, "x", 1, true, &err) == 0);
	imap_cmd_set_secret(c);
	imap_cmd_atom(c, "AGpvZQBwYXNz");
	t = imap_cmd_trace(c, false);
	test_assert_str(t, "AUTHENTICATE PLAIN ~{1}[...] [REDACTED]");
	free(t);
	imap_cmd_free(&c);

	/* nothing after the mark: nothing to redact */
	c = imap_cmd_new("AUTHENTICATE");
	imap_cmd_atom(c, "EXTERNAL");
	imap_cmd_set_secret(c);
	t = imap_cmd_trace(c, false);
	test_assert_str(t, "AUTHENTICATE EXTERNAL");
	free(t);
	imap_cmd_free(&c);
	test_end();
}

static void
test_huge(void)
{
	struct imap_cmd *c;
	struct imap_cmd_writer w;
	struct err err = {0};
	struct src s = SRC(NULL, 5368709120u);
	static char chunk[65536];
	size_t n;
	enum imap_cmd_wr st;
	const char *head = "APPEND INBOX {5368709120+}\r\n";

	test_begin("imap_cmd: a 5 GB streamed literal through a 64 KiB buffer");
	c = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(c, "INBOX");
	imap_cmd_literal_stream(c, 5368709120u, false, src_read, &s);
	{
		char *t = imap_cmd_trace(c, false);
		test_assert_str(t, "APPEND INBOX {5368709120}[...]");
		free(t);
	}

	imap_cmd_writer_init(&w, c, IMAP_LIT_PLUS);
	st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, &err);
	test_assert(st == IMAP_CMD_WR_MORE);
	test_assert(n == sizeof(chunk));
	test_assert(memcmp(chunk, head, strlen(head)) == 0);
	test_assert(chunk[strlen(head)] == 'x' && chunk[n - 1] == 'x');
	test_assert(s.calls == 1 && s.max_asked == sizeof(chunk) - strlen(head));
	for (int i = 0; i < 3; i++) {
		st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, &err);
		test_assert(st == IMAP_CMD_WR_MORE && n == sizeof(chunk));
	}
	test_assert(s.calls == 4 && s.max_asked <= sizeof(chunk));
	test_assert(s.pos == 4 * sizeof(chunk) - strlen(head));

	/* a short read comes back as a short chunk: one source call a call */
	s.pos = s.calls = s.max_asked = 0;
	s.step = 1000;
	imap_cmd_writer_init(&w, c, IMAP_LIT_PLUS);
	st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, &err);
	test_assert(st == IMAP_CMD_WR_MORE && n == strlen(head) + 1000);
	st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, &err);
	test_assert(st == IMAP_CMD_WR_MORE && n == 1000 && s.calls == 2);

	/* synchronizing: the header alone, and no byte asked before "+" */
	s.pos = s.calls = s.max_asked = 0;
	imap_cmd_writer_init(&w, c, IMAP_LIT_MINUS);
	st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, &err);
	test_assert(st == IMAP_CMD_WR_WAIT);
	test_assert(n == strlen(head) - 1 &&
	    memcmp(chunk, "APPEND INBOX {5368709120}\r\n", n) == 0);
	test_assert(s.calls == 0);
	st = imap_cmd_writer_next(&w, chunk, 100, &n, &err);
	test_assert(st == IMAP_CMD_WR_MORE && n == 100 && s.calls == 1 &&
	    s.max_asked == 100);
	imap_cmd_free(&c);
	test_end();
}

int
main(void)
{
	test_pieces();
	test_quoting();
	test_mailbox();
	test_refusals();
	test_modes();
	test_stream();
	test_stream_errors();
	test_multiappend();
	test_secret();
	test_huge();
	return test_exit();
}
