/* Unit tests for common/imap_data.c. Every response is parsed by the real
 * tokenizer, then offered to every view and code accessor: describe()
 * turns what they report into one line, so a table row says what the
 * response must look like through the views, and that no other view
 * claims it. Well-formed rows are mostly a real Dovecot 2.3 session
 * (t/lib/dovecot.sh tunnel), the rest RFC examples; malformed rows break
 * one thing each. Then the helpers: dates, envelopes, streamed BODY[],
 * sets added to across calls. */

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_data.h"
#include "imap_parse.h"
#include "test.h"
#include "uidlist.h"

#define BIN(s) s, sizeof(s) - 1

/* Parses in[0..len) (a CRLF is added when missing) whole; NULL and a
 * reason in why when the tokenizer does not return exactly one response. */
static struct imap_parser *
parse(const char *in, size_t len, const struct imap_parse_limits *lim,
    const struct imap_resp **r_r, char *why, size_t whysz)
{
	struct imap_parser *p = imap_parse_new(lim);
	struct buf b = BUF_INIT(SIZE_MAX);
	enum imap_parse_status st;
	size_t used;
	struct err e;

	buf_append(&b, in, len);
	if (len == 0 || in[len - 1] != '\n')
		buf_appends(&b, "\r\n");
	st = imap_parse_feed(p, b.data, b.len, &used, &e);
	if (st != IMAP_PARSE_DONE || used != b.len) {
		snprintf(why, whysz, "tokenizer: status %d used %zu/%zu %s",
		    (int)st, used, b.len, st == IMAP_PARSE_ERROR ? e.msg : "");
		imap_parse_free(&p);
	} else {
		*r_r = imap_parse_resp(p);
	}
	buf_free(&b);
	return p;
}

static void
add_atoms(struct buf *b, const struct imap_atoms *a)
{
	for (size_t i = 0; i < a->n; i++)
		buf_appendf(b, "%s%s", i ? "," : "", a->v[i].str);
}

static void
add_set(struct buf *b, struct uidset *s)
{
	if (s->n == 0)
		buf_appends(b, "-");
	else
		uidset_format(b, s);
}

static void
add_nstring(struct buf *b, const struct imap_arg *a)
{
	static const char *const t[] = {"NIL", "ATOM", "STR", "LIT", "STREAMED",
	    "LIST"};
	buf_appends(b, t[a->type]);
	if (a->type != IMAP_ARG_NIL)
		buf_appendf(b, ":%zu", a->len);
}

static void
add_fetch(struct buf *b, const struct imap_fetch *f)
{
	buf_appendf(b, "FETCH %u", (unsigned)f->seq);
	if (f->have & IMAP_FETCH_UID)
		buf_appendf(b, " uid=%u", (unsigned)f->uid);
	if (f->have & IMAP_FETCH_FLAGS) {
		buf_appends(b, " flags=");
		add_atoms(b, &f->flags);
	}
	if (f->have & IMAP_FETCH_MODSEQ)
		buf_appendf(b, " modseq=%llu", (unsigned long long)f->modseq);
	if (f->have & IMAP_FETCH_INTERNALDATE)
		buf_appendf(b, " date=%s", f->internaldate);
	if (f->have & IMAP_FETCH_SIZE)
		buf_appendf(b, " size=%llu", (unsigned long long)f->size);
	if (f->have & IMAP_FETCH_ENVELOPE)
		buf_appends(b, " env");
	if (f->have & IMAP_FETCH_BODY) {
		buf_appends(b, " body=");
		add_nstring(b, f->body);
	}
	if (f->have & IMAP_FETCH_BINARY) {
		buf_appends(b, " binary=");
		add_nstring(b, f->binary);
	}
}

/* Independent of the module's table on purpose. */
static const char *const attr_names[] = {
	"NOINFERIORS", "NOSELECT", "MARKED", "UNMARKED", "NONEXISTENT",
	"SUBSCRIBED", "REMOTE", "HASCHILDREN", "HASNOCHILDREN",
};

static void
add_list(struct buf *b, const struct imap_list *l)
{
	unsigned i, n = 0;

	buf_appends(b, l->lsub ? "LSUB" : "LIST");
	buf_appends(b, " attrs=");
	for (i = 0; i < ARRAY_LEN(attr_names); i++)
		if (l->attrs & (1u << i))
			buf_appendf(b, "%s%s", n++ ? "|" : "", attr_names[i]);
	if (l->attrs >> ARRAY_LEN(attr_names))
		buf_appends(b, "|?");
	buf_appends(b, " raw=");
	add_atoms(b, &l->raw);
	if (l->delim)
		buf_appendf(b, " delim=%c", l->delim);
	else
		buf_appends(b, " delim=NIL");
	buf_appendf(b, " mbox=\"%s\"", l->mailbox);
	if (strlen(l->mailbox) != l->mailbox_len)
		buf_appends(b, " BADLEN");
	if (l->childinfo_subscribed)
		buf_appends(b, " childinfo");
	if (l->oldname)
		buf_appendf(b, " oldname=\"%s\"", l->oldname);
	if (l->ext)
		buf_appendf(b, " ext=%zu", l->ext->count);
}

static void
add_status(struct buf *b, const struct imap_status *s)
{
	static const char *const names[] = {"messages", "recent", "uidnext",
	    "uidvalidity", "unseen", "highestmodseq", "deleted", "size"};
	const uint64_t v[] = {s->messages, s->recent, s->uidnext,
	    s->uidvalidity, s->unseen, s->highestmodseq, s->deleted, s->size};

	buf_appendf(b, "STATUS \"%s\"", s->mailbox);
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (s->have & (1u << i))
			buf_appendf(b, " %s=%llu", names[i],
			    (unsigned long long)v[i]);
}

static void
add_esearch(struct buf *b, const struct imap_esearch *e, struct uidset *all)
{
	buf_appends(b, "ESEARCH");
	if (e->tag)
		buf_appendf(b, " tag=%s", e->tag);
	if (e->uid)
		buf_appends(b, " uid");
	if (e->have & IMAP_ESEARCH_MIN)
		buf_appendf(b, " min=%u", (unsigned)e->min);
	if (e->have & IMAP_ESEARCH_MAX)
		buf_appendf(b, " max=%u", (unsigned)e->max);
	if (e->have & IMAP_ESEARCH_COUNT)
		buf_appendf(b, " count=%u", (unsigned)e->count);
	if (e->have & IMAP_ESEARCH_ALL) {
		buf_appends(b, " all=");
		add_set(b, all);
	}
	if (e->have & IMAP_ESEARCH_MODSEQ)
		buf_appendf(b, " modseq=%llu", (unsigned long long)e->modseq);
}

/* Each view and accessor in turn; "ERR msg" for a -1, " MANY(n)" added
 * when n of them claim the response, "NONE" when none does. A status
 * response's code shows as "CODE NAME", followed by what its accessor
 * says (or replaced by the accessor's "ERR msg"). */
static char *
describe(const struct imap_resp *r)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	struct uidset s1 = UIDSET_INIT, s2 = UIDSET_INIT;
	struct imap_fetch f;
	struct imap_list l;
	struct imap_status st;
	struct imap_esearch es;
	struct imap_atoms a;
	struct err e;
	uint64_t v;
	uint32_t u;
	bool flag;
	int claims = 0, ret;
	enum imap_code c = imap_code(r);
	enum imap_data_kind kind = imap_data_kind(r), seen = IMAP_DATA_OTHER;

	e.msg[0] = '\0';
	/* ret = call; the first claim describes itself with then. */
#define TRY(call, then)                                                        \
	do {                                                                   \
		uidset_clear(&s1);                                             \
		uidset_clear(&s2);                                             \
		ret = (call);                                                  \
		if (ret != 0 && claims++ == 0) {                               \
			if (ret < 0) {                                         \
				buf_reset(&b);                                 \
				buf_appendf(&b, "ERR %s", e.msg);              \
			} else {                                               \
				then;                                          \
			}                                                      \
		}                                                              \
	} while (0)

	TRY(imap_fetch_parse(r, &f, &e), add_fetch(&b, &f));
	if (ret != 0)
		seen = IMAP_DATA_FETCH;
	TRY(imap_list_parse(r, &l, &e), add_list(&b, &l));
	if (ret != 0)
		seen = IMAP_DATA_LIST;
	TRY(imap_status_parse(r, &st, &e), add_status(&b, &st));
	if (ret != 0)
		seen = IMAP_DATA_STATUS;
	TRY(imap_search_parse(r, &s1, &v, &e), {
		buf_appends(&b, "SEARCH ");
		add_set(&b, &s1);
		if (v)
			buf_appendf(&b, " modseq=%llu", (unsigned long long)v);
	});
	if (ret != 0)
		seen = IMAP_DATA_SEARCH;
	TRY(imap_esearch_parse(r, &es, &s1, &e), add_esearch(&b, &es, &s1));
	if (ret != 0)
		seen = IMAP_DATA_ESEARCH;
	TRY(imap_vanished_parse(r, &flag, &s1, &e), {
		buf_appends(&b, flag ? "VANISHED earlier " : "VANISHED ");
		add_set(&b, &s1);
	});
	if (ret != 0)
		seen = IMAP_DATA_VANISHED;
	TRY(imap_enabled_parse(r, &a, &e), {
		buf_appends(&b, "ENABLED ");
		add_atoms(&b, &a);
	});
	if (ret != 0)
		seen = IMAP_DATA_ENABLED;
	TRY(imap_capability_parse(r, &a, &e), {
		buf_appends(&b, "CAPABILITY ");
		add_atoms(&b, &a);
	});
	if (ret != 0)
		seen = IMAP_DATA_CAPABILITY;
	/* The code and its accessor (if any) are one claim together. */
	if (c != IMAP_CODE_NONE && claims++ == 0) {
		buf_appendf(&b, "CODE %s", c == IMAP_CODE_OTHER ? "OTHER" :
		    imap_code_name(c));
		claims--;
	}
	TRY(imap_code_number(r, &v, &e),
	    buf_appendf(&b, " %llu", (unsigned long long)v));
	TRY(imap_code_appenduid(r, &u, &s1, &e), {
		buf_appendf(&b, " %u ", (unsigned)u);
		add_set(&b, &s1);
	});
	TRY(imap_code_copyuid(r, &u, &s1, &s2, &e), {
		buf_appendf(&b, " %u ", (unsigned)u);
		add_set(&b, &s1);
		buf_appends(&b, " ");
		add_set(&b, &s2);
	});
	TRY(imap_code_modified(r, &s1, &e), {
		buf_appends(&b, " ");
		add_set(&b, &s1);
	});
	TRY(imap_code_atoms(r, &a, &e), {
		buf_appends(&b, " ");
		add_atoms(&b, &a);
	});
	TRY(imap_code_permanentflags(r, &a, &flag, &e), {
		buf_appends(&b, " ");
		add_atoms(&b, &a);
		if (flag)
			buf_appends(&b, " star");
	});
#undef TRY
	if (c != IMAP_CODE_NONE && claims == 0)
		claims = 1; /* a code without an accessor */
	/* imap_data_kind() names the view that claims the response. */
	if (kind == IMAP_DATA_FLAGS && claims == 0)
		buf_appends(&b, "FLAGS");
	else if (kind >= IMAP_DATA_EXISTS && claims == 0)
		buf_appendf(&b, "%s %u", kind == IMAP_DATA_EXISTS ? "EXISTS" :
		    kind == IMAP_DATA_RECENT ? "RECENT" : "EXPUNGE",
		    (unsigned)r->num);
	else if (kind != seen)
		buf_appendf(&b, " KIND(%d, seen %d)", (int)kind, (int)seen);
	if (claims > 1)
		buf_appendf(&b, " MANY(%d)", claims);
	if (b.len == 0)
		buf_appends(&b, "NONE");
	uidset_free(&s1);
	uidset_free(&s2);
	return buf_steal(&b);
}

struct tcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *want; /* describe(), or "ERR substring" */
};

static const struct tcase cases[] = {
	/* ---- FETCH, from Dovecot ---- */
	{"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent $Forwarded) MODSEQ (3) "
	 "INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" RFC822.SIZE 120 ENVELOPE "
	 "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"hi\" ((\"Fred Foobar\" NIL "
	 "\"foobar\" \"Blurdybloop.COM\")) ((\"Fred Foobar\" NIL \"foobar\" "
	 "\"Blurdybloop.COM\")) ((\"Fred Foobar\" NIL \"foobar\" "
	 "\"Blurdybloop.COM\")) NIL NIL NIL NIL \"<a@b>\") BODY[] {10}\r\n"
	 "Subject: x)", 0,
	 "FETCH 1 uid=1 flags=\\Seen,\\Recent,$Forwarded modseq=3 "
	 "date=17-Jul-1996 09:44:25 +0000 size=120 env body=LIT:10"},
	{"* 2 FETCH (UID 2 MODSEQ (6))", 0, "FETCH 2 uid=2 modseq=6"},
	{"* 1 FETCH (BINARY[] {3}\r\nabc BODY[HEADER.FIELDS (SUBJECT)] {2}\r\n"
	 "xy)", 0, "FETCH 1 binary=LIT:3"},
	{BIN("* 1 FETCH (BINARY[] ~{3}\r\na\0c)"), "FETCH 1 binary=LIT:3"},
	/* any order, unknown items skipped, case-insensitive names */
	{"* 7 fetch (X-GM-LABELS (\\Inbox \"a b\") body[] NIL Uid 9 "
	 "X-FOO {2}\r\nab flags ())", 0, "FETCH 7 uid=9 flags= body=NIL"},
	{"* 1 FETCH (BODY[] \"\")", 0, "FETCH 1 body=STR:0"},
	{"* 1 FETCH (UID 4294967295 RFC822.SIZE 18446744073709551615 "
	 "MODSEQ (9223372036854775807))", 0,
	 "FETCH 1 uid=4294967295 modseq=9223372036854775807 "
	 "size=18446744073709551615"},
	{"* 4294967295 FETCH (UID 1)", 0, "FETCH 4294967295 uid=1"},
	{"* 1 FETCH (ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL))", 0,
	 "FETCH 1 env"},
	{"* 1 FETCH (INTERNALDATE \" 1-jan-2000 00:00:00 -1200\")", 0,
	 "FETCH 1 date= 1-jan-2000 00:00:00 -1200"},
	/* malformed FETCH */
	{"* 0 FETCH (UID 1)", 0, "ERR sequence number"},
	{"* FETCH (UID 1)", 0, "ERR sequence number"},
	{"* 1 FETCH UID 1", 0, "ERR one list of items"},
	{"* 1 FETCH (UID 1) (FLAGS ())", 0, "ERR one list of items"},
	{"* 1 FETCH ()", 0, "ERR no items"},
	{"* 1 FETCH (UID 1 FLAGS)", 0, "ERR an item without a value"},
	{"* 1 FETCH (UID 0)", 0,
	 "ERR FETCH 1: UID: expected a non-zero 32-bit number, got '0'"},
	{"* 1 FETCH (UID 4294967296)", 0, "ERR UID: expected a non-zero"},
	{"* 1 FETCH (UID \"5\")", 0, "ERR got \"5\""},
	{"* 1 FETCH (UID -1)", 0, "ERR UID: expected"},
	{"* 1 FETCH (UID 1a)", 0, "ERR UID: expected"},
	/* a long value is cut short in the message */
	{"* 1 FETCH (UID 1234567890123456789012345678901234567890"
	 "1234567890123456789012345678901234567890)", 0,
	 "ERR UID: expected a non-zero 32-bit number, got "
	 "'12345678901234567890123456789012345678901234567890123...'"},
	{"* 1 FETCH (UID NIL)", 0, "ERR got NIL"},
	{"* 1 FETCH (UID (1))", 0, "ERR got a list of 1"},
	{"* 1 FETCH (UID 5 UID 5)", 0, "ERR FETCH 1: UID given twice"},
	{"* 1 FETCH (BODY[] NIL body[] NIL)", 0, "ERR BODY[] given twice"},
	{"* 1 FETCH (\"UID\" 5)", 0, "ERR expected an item name"},
	{"* 1 FETCH ((UID) 5)", 0, "ERR expected an item name"},
	{"* 1 FETCH (FLAGS \\Seen)", 0, "ERR FLAGS: expected a list"},
	{"* 1 FETCH (FLAGS (\\Seen \"x\"))", 0, "ERR expected an atom"},
	{"* 1 FETCH (FLAGS (\\Seen (\\Draft)))", 0, "ERR expected an atom"},
	{"* 1 FETCH (MODSEQ 5)", 0, "ERR MODSEQ: malformed value '5'"},
	{"* 1 FETCH (MODSEQ (0))", 0, "ERR MODSEQ: expected a mod-sequence"},
	{"* 1 FETCH (MODSEQ (9223372036854775808))", 0, "ERR MODSEQ: expected"},
	{"* 1 FETCH (MODSEQ (18446744073709551616))", 0, "ERR MODSEQ: expected"},
	{"* 1 FETCH (MODSEQ (1 2))", 0, "ERR MODSEQ: malformed"},
	{"* 1 FETCH (MODSEQ ())", 0, "ERR MODSEQ: malformed"},
	{"* 1 FETCH (MODSEQ ((1)))", 0, "ERR MODSEQ: expected"},
	{"* 1 FETCH (RFC822.SIZE 18446744073709551616)", 0,
	 "ERR RFC822.SIZE: expected a 64-bit number"},
	{"* 1 FETCH (RFC822.SIZE NIL)", 0, "ERR RFC822.SIZE"},
	{"* 1 FETCH (INTERNALDATE NIL)", 0, "ERR INTERNALDATE: malformed"},
	{"* 1 FETCH (INTERNALDATE 17-Jul-1996)", 0, "ERR INTERNALDATE"},
	{"* 1 FETCH (INTERNALDATE \"1-Jul-1996 09:44:25 +0000\")", 0,
	 "ERR INTERNALDATE"},
	{"* 1 FETCH (INTERNALDATE {26}\r\n17-Jul-1996 09:44:25 +0000)", 0,
	 "ERR INTERNALDATE"},
	{"* 1 FETCH (INTERNALDATE \"17-Jul-1996 09:44:25 +0000\\\"\")", 0,
	 "ERR INTERNALDATE"},
	{"* 1 FETCH (ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL))", 0,
	 "ERR ENVELOPE: malformed value a list of 9"},
	{"* 1 FETCH (ENVELOPE (NIL \"x\" ((NIL NIL \"a\")) NIL NIL NIL NIL NIL "
	 "NIL NIL))", 0, "ERR ENVELOPE"},
	{"* 1 FETCH (ENVELOPE (NIL \"x\" \"a@b\" NIL NIL NIL NIL NIL NIL NIL))",
	 0, "ERR ENVELOPE"},
	{"* 1 FETCH (ENVELOPE (NIL (\"x\") NIL NIL NIL NIL NIL NIL NIL NIL))", 0,
	 "ERR ENVELOPE"},
	{"* 1 FETCH (ENVELOPE (NIL x NIL NIL NIL NIL NIL NIL NIL NIL))", 0,
	 "ERR ENVELOPE"},
	{"* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL a b)) NIL NIL NIL NIL NIL NIL "
	 "NIL))", 0, "ERR ENVELOPE"},
	{"* 1 FETCH (ENVELOPE NIL)", 0, "ERR ENVELOPE"},
	{"* 1 FETCH (BODY[] abc)", 0, "ERR BODY[]: malformed value 'abc'"},
	{"* 1 FETCH (BODY[] (a))", 0, "ERR BODY[]: malformed"},
	{"* 1 FETCH (BINARY[] 5)", 0, "ERR BINARY[]: malformed"},
	/* ---- LIST, LSUB: Dovecot, RFC 5258, RFC 5465 ---- */
	{"* LIST (\\NonExistent \\HasChildren) \"/\" foo", 0,
	 "LIST attrs=NOSELECT|NONEXISTENT|HASCHILDREN raw=\\NonExistent,\\HasChildren "
	 "delim=/ mbox=\"foo\""},
	{"* LIST (\\Subscribed \\HasNoChildren) \"/\" foo/sub", 0,
	 "LIST attrs=SUBSCRIBED|HASNOCHILDREN raw=\\Subscribed,\\HasNoChildren "
	 "delim=/ mbox=\"foo/sub\""},
	{"* LIST (\\HasNoChildren) \"/\" \"foo bar\"", 0,
	 "LIST attrs=HASNOCHILDREN raw=\\HasNoChildren delim=/ "
	 "mbox=\"foo bar\""},
	{"* LIST (\\NonExistent) \"/\" foo (CHILDINFO (\"SUBSCRIBED\"))", 0,
	 "LIST attrs=NOSELECT|NONEXISTENT raw=\\NonExistent delim=/ mbox=\"foo\" "
	 "childinfo ext=2"},
	{"* LIST (\\Noselect) \"/\" \"\"", 0,
	 "LIST attrs=NOSELECT raw=\\Noselect delim=/ mbox=\"\""},
	{"* LSUB () \"/\" foo/sub", 0,
	 "LSUB attrs= raw= delim=/ mbox=\"foo/sub\""},
	{"* LIST (\\noinferiors \\MARKED \\Unmarked \\Remote \\X-Foo) NIL INBOX",
	 0, "LIST attrs=NOINFERIORS|MARKED|UNMARKED|REMOTE raw=\\noinferiors,"
	 "\\MARKED,\\Unmarked,\\Remote,\\X-Foo delim=NIL mbox=\"INBOX\""},
	{"* LIST () \"\\\\\" {5}\r\na b\"c", 0,
	 "LIST attrs= raw= delim=\\ mbox=\"a b\"c\""},
	{"* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))", 0,
	 "LIST attrs= raw= delim=/ mbox=\"NewMailbox\" oldname=\"OldMailbox\" "
	 "ext=2"},
	{"* LIST () \"/\" a (X-FOO (1 (2)) \"CHILDINFO\" (\"SUBSCRIBED\" FOO) "
	 "X-BAR NIL)", 0,
	 "LIST attrs= raw= delim=/ mbox=\"a\" childinfo ext=6"},
	{"* LIST () \"/\" a ()", 0, "LIST attrs= raw= delim=/ mbox=\"a\" ext=0"},
	/* malformed LIST */
	{"* LIST () \"//\" INBOX", 0, "ERR LIST: delimiter \"//\""},
	{"* LIST () \"\" INBOX", 0, "ERR LIST: delimiter"},
	{"* LIST () / INBOX", 0, "ERR LIST: delimiter '/'"},
	{"* LIST () \"\xC3\" INBOX", 0, "ERR LIST: delimiter \"\\xC3\""},
	{"* LIST () \"\\\\x\" INBOX", 0, "ERR LIST: delimiter \"\\x\""},
	{"* LIST (Noselect) \"/\" INBOX", 0, "ERR LIST: attribute 'Noselect'"},
	{"* LIST (\\) \"/\" INBOX", 0, "ERR LIST: attribute"},
	{"* LIST (\"\\\\Noselect\") \"/\" INBOX", 0, "ERR expected an atom"},
	{"* LIST \\Noselect \"/\" INBOX", 0, "ERR LIST: expected a list"},
	{"* LIST () \"/\"", 0, "ERR LIST: expected (attributes)"},
	{"* LIST () \"/\" a (CHILDINFO (\"SUBSCRIBED\")) b", 0,
	 "ERR LIST: expected (attributes)"},
	{"* 3 LIST () \"/\" a", 0, "ERR LIST: expected"},
	{"* LIST () \"/\" (foo)", 0, "ERR expected a mailbox name"},
	{"* LIST () \"/\" NIL", 0, "ERR expected a mailbox name, got NIL"},
	{BIN("* LIST () \"/\" {3}\r\na\0b"), "ERR got \"a\\x00b\""},
	{"* LIST () \"/\" a b", 0, "ERR LIST: malformed extended data 'b'"},
	{"* LIST () \"/\" a (CHILDINFO)", 0, "ERR malformed extended data"},
	{"* LIST () \"/\" a ((X) 1)", 0, "ERR expected an extended item name"},
	{"* LIST () \"/\" a (CHILDINFO ())", 0, "ERR malformed CHILDINFO"},
	{"* LIST () \"/\" a (CHILDINFO \"SUBSCRIBED\")", 0,
	 "ERR malformed CHILDINFO"},
	{"* LIST () \"/\" a (CHILDINFO ((\"SUBSCRIBED\")))", 0,
	 "ERR malformed CHILDINFO"},
	{"* LIST () \"/\" a (CHILDINFO (\"SUBSCRIBED\") CHILDINFO (\"X\"))", 0,
	 "ERR malformed CHILDINFO"},
	{"* LIST () \"/\" a (OLDNAME (\"b\" \"c\"))", 0, "ERR malformed OLDNAME"},
	{"* LIST () \"/\" a (OLDNAME \"b\")", 0, "ERR malformed OLDNAME"},
	{"* LIST () \"/\" a (OLDNAME (b) OLDNAME (c))", 0,
	 "ERR malformed OLDNAME"},
	{"* LIST () \"/\" a (OLDNAME (NIL))", 0, "ERR expected a mailbox name"},
	/* ---- STATUS (LIST-STATUS sends the same) ---- */
	{"* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1796087053 UNSEEN 2 "
	 "HIGHESTMODSEQ 5)", 0,
	 "STATUS \"INBOX\" messages=3 uidnext=4 uidvalidity=1796087053 "
	 "unseen=2 highestmodseq=5"},
	{"* STATUS \"foo bar\" (MESSAGES 0 RECENT 0 UIDNEXT 1 UNSEEN 0 "
	 "HIGHESTMODSEQ 0 DELETED 0 SIZE 123456789012)", 0,
	 "STATUS \"foo bar\" messages=0 recent=0 uidnext=1 unseen=0 "
	 "highestmodseq=0 deleted=0 size=123456789012"},
	{"* STATUS {3}\r\na b ()", 0, "STATUS \"a b\""},
	{"* STATUS x (X-FOO (1 2) messages 2 X-BAR NIL)", 0,
	 "STATUS \"x\" messages=2"},
	{"* STATUS x (HIGHESTMODSEQ 9223372036854775807 UIDVALIDITY 4294967295)",
	 0, "STATUS \"x\" uidvalidity=4294967295 "
	 "highestmodseq=9223372036854775807"},
	/* malformed STATUS */
	{"* STATUS x (UIDNEXT 0)", 0,
	 "ERR STATUS UIDNEXT: expected a non-zero 32-bit number, got '0'"},
	{"* STATUS x (UIDVALIDITY 4294967296)", 0, "ERR STATUS UIDVALIDITY"},
	{"* STATUS x (MESSAGES 4294967296)", 0,
	 "ERR STATUS MESSAGES: expected a 32-bit number"},
	{"* STATUS x (HIGHESTMODSEQ 9223372036854775808)", 0,
	 "ERR STATUS HIGHESTMODSEQ: expected a mod-sequence (0..2^63-1)"},
	{"* STATUS x (MESSAGES 1 MESSAGES 1)", 0,
	 "ERR STATUS MESSAGES given twice"},
	{"* STATUS x (MESSAGES)", 0, "ERR STATUS: expected mailbox"},
	{"* STATUS x MESSAGES 1", 0, "ERR STATUS: expected mailbox"},
	{"* STATUS (MESSAGES 1)", 0, "ERR STATUS: expected mailbox"},
	{"* STATUS NIL (MESSAGES 1)", 0, "ERR expected a mailbox name"},
	{"* STATUS x (\"MESSAGES\" 1)", 0, "ERR STATUS: expected an item name"},
	{"* STATUS x (MESSAGES \"1\")", 0, "ERR STATUS MESSAGES"},
	/* ---- SEARCH ---- */
	{"* SEARCH 1 2 3 (MODSEQ 5)", 0, "SEARCH 1:3 modseq=5"},
	{"* SEARCH", 0, "SEARCH -"},
	{"* SEARCH 9 4294967295 1 3 2", 0, "SEARCH 1:3,9,4294967295"},
	{"* SEARCH 0", 0, "ERR SEARCH: expected a non-zero 32-bit number"},
	{"* SEARCH 4294967296", 0, "ERR SEARCH: expected"},
	{"* SEARCH 1:3", 0, "ERR SEARCH: expected"},
	{"* SEARCH (MODSEQ 5)", 0, "ERR SEARCH: expected"},
	{"* SEARCH 1 (MODSEQ 0)", 0, "ERR SEARCH MODSEQ: expected a mod-seq"},
	{"* SEARCH 1 (MODSEQ)", 0, "ERR SEARCH: expected (MODSEQ n)"},
	{"* SEARCH 1 (X 5)", 0, "ERR SEARCH: expected (MODSEQ n)"},
	{"* SEARCH 1 (MODSEQ 5) 2", 0, "ERR SEARCH: expected"},
	{"* 1 SEARCH 1", 0, "ERR SEARCH after a number"},
	{"* 1 ESEARCH COUNT 1", 0, "ERR ESEARCH after a number"},
	{"* 1 ENABLED QRESYNC", 0, "ERR ENABLED after a number"},
	{"* 1 CAPABILITY IMAP4rev1", 0, "ERR CAPABILITY: expected"},
	{"* 1 VANISHED 1", 0, "ERR VANISHED: expected"},
	{"* 1 STATUS x ()", 0, "ERR STATUS: expected"},
	/* ---- ESEARCH ---- */
	{"* ESEARCH (TAG \"a9\") UID MIN 1 MAX 3 ALL 1:3 COUNT 3", 0,
	 "ESEARCH tag=a9 uid min=1 max=3 count=3 all=1:3"},
	{"* ESEARCH (TAG \"a\") UID", 0, "ESEARCH tag=a uid"},
	{"* ESEARCH", 0, "ESEARCH"},
	{"* ESEARCH COUNT 0", 0, "ESEARCH count=0"},
	{"* ESEARCH (tag {3}\r\nx y) all 12:10,3,1:2 modseq 9", 0,
	 "ESEARCH tag=x y all=1:3,10:12 modseq=9"},
	{"* ESEARCH UID X-FOO (1 2) ADDTO (0 1:3) COUNT 1", 0,
	 "ESEARCH uid count=1"},
	{"* ESEARCH UID ALL 1:*", 0, "ERR ESEARCH ALL: expected a set of UIDs"},
	{"* ESEARCH ALL 1,,2", 0, "ERR ESEARCH ALL"},
	{"* ESEARCH ALL 0:3", 0, "ERR ESEARCH ALL"},
	{"* ESEARCH ALL (1)", 0, "ERR ESEARCH ALL"},
	{"* ESEARCH MIN 0", 0, "ERR ESEARCH MIN: expected a non-zero"},
	{"* ESEARCH MAX 4294967296", 0, "ERR ESEARCH MAX"},
	{"* ESEARCH COUNT 4294967296", 0, "ERR ESEARCH COUNT"},
	{"* ESEARCH MODSEQ 0", 0, "ERR ESEARCH MODSEQ"},
	{"* ESEARCH (TAG a) UID", 0, "ERR ESEARCH: expected (TAG \"tag\")"},
	{"* ESEARCH (TAG \"a\" \"b\") UID", 0, "ERR ESEARCH: expected (TAG"},
	{"* ESEARCH (X \"a\") UID", 0, "ERR ESEARCH: expected (TAG"},
	{"* ESEARCH UID COUNT", 0, "ERR without a value"},
	{"* ESEARCH UID UID COUNT 1", 0, "ERR without a value"},
	{"* ESEARCH COUNT 1 COUNT 2", 0, "ERR ESEARCH COUNT given twice"},
	{"* ESEARCH \"COUNT\" 1", 0, "ERR expected a return item name"},
	{"* ESEARCH UID (TAG \"a\") COUNT 1", 0,
	 "ERR ESEARCH: a return item without a value"},
	/* ---- VANISHED ---- */
	{"* VANISHED 2", 0, "VANISHED 2"},
	{"* VANISHED (EARLIER) 2", 0, "VANISHED earlier 2"},
	{"* VANISHED (earlier) 1:3,5,300:299,4", 0, "VANISHED earlier 1:5,299:300"},
	{"* VANISHED 1:4294967295", 0, "VANISHED 1:4294967295"},
	{"* VANISHED (EARLIER) 1:*", 0, "ERR VANISHED: expected a set of UIDs"},
	{"* VANISHED 1:4294967296", 0, "ERR VANISHED"},
	{"* VANISHED 0", 0, "ERR VANISHED"},
	{"* VANISHED 1,", 0, "ERR VANISHED"},
	{"* VANISHED", 0, "ERR VANISHED: expected [(EARLIER)] uid-set"},
	{"* VANISHED (EARLIER)", 0, "ERR VANISHED: expected a set"},
	{"* VANISHED (LATER) 1", 0, "ERR VANISHED: expected [(EARLIER)]"},
	{"* VANISHED (EARLIER X) 1", 0, "ERR VANISHED: expected [(EARLIER)]"},
	{"* VANISHED 1 2", 0, "ERR VANISHED: expected [(EARLIER)]"},
	{"* VANISHED \"1\"", 0, "ERR VANISHED"},
	/* ---- ENABLED, CAPABILITY ---- */
	{"* ENABLED QRESYNC", 0, "ENABLED QRESYNC"},
	{"* ENABLED CONDSTORE UTF8=ACCEPT", 0, "ENABLED CONDSTORE,UTF8=ACCEPT"},
	{"* ENABLED", 0, "ENABLED "},
	{"* ENABLED (QRESYNC)", 0, "ERR ENABLED: expected an atom"},
	{"* ENABLED \"QRESYNC\"", 0, "ERR ENABLED: expected an atom"},
	{"* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN", 0,
	 "CAPABILITY IMAP4rev1,SASL-IR,LITERAL+,AUTH=PLAIN"},
	{"* CAPABILITY", 0, "ERR CAPABILITY: expected a list"},
	{"* CAPABILITY IMAP4rev1 \"x\"", 0, "ERR CAPABILITY: expected an atom"},
	/* ---- response codes: Dovecot ---- */
	{"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	 "$Forwarded \\*)] Flags permitted.", 0,
	 "CODE PERMANENTFLAGS \\Answered,\\Flagged,\\Deleted,\\Seen,\\Draft,"
	 "$Forwarded,\\* star"},
	{"* OK [PERMANENTFLAGS ()] Read-only mailbox.", 0,
	 "CODE PERMANENTFLAGS "},
	{"* OK [UNSEEN 2] First unseen.", 0, "CODE UNSEEN 2"},
	{"* OK [UIDVALIDITY 1796087053] UIDs valid", 0,
	 "CODE UIDVALIDITY 1796087053"},
	{"* OK [UIDNEXT 4] Predicted next UID", 0, "CODE UIDNEXT 4"},
	{"* OK [HIGHESTMODSEQ 5] Highest", 0, "CODE HIGHESTMODSEQ 5"},
	{"a16 OK [HIGHESTMODSEQ 7] Expunge completed.", 0,
	 "CODE HIGHESTMODSEQ 7"},
	{"a7 OK [READ-WRITE] Select completed (0.002 + 0.000 + 0.001 secs).", 0,
	 "CODE READ-WRITE"},
	{"a20 OK [READ-ONLY] Examine completed.", 0, "CODE READ-ONLY"},
	{"* OK [CLOSED] Previous mailbox closed.", 0, "CODE CLOSED"},
	{"a4 OK [APPENDUID 1796087053 1] Append completed.", 0,
	 "CODE APPENDUID 1796087053 1"},
	{"a11 OK [COPYUID 1796087051 1:3 1:3] Copy completed.", 0,
	 "CODE COPYUID 1796087051 1:3 1:3"},
	{"a12 OK [MODIFIED 1:2] Conditional store failed.", 0,
	 "CODE MODIFIED 1:2"},
	{"* PREAUTH [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ NOTIFY "
	 "COMPRESS=DEFLATE] Logged in as testuser", 0,
	 "CODE CAPABILITY IMAP4rev1,SASL-IR,LITERAL+,NOTIFY,COMPRESS=DEFLATE"},
	/* RFC 4315, 7162, 4978, 5465 and 3501 examples */
	{"A003 OK [APPENDUID 38505 3955] APPEND completed", 0,
	 "CODE APPENDUID 38505 3955"},
	{"A003 OK [APPENDUID 38505 3955:3957] MULTIAPPEND completed", 0,
	 "CODE APPENDUID 38505 3955:3957"},
	{"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done", 0,
	 "CODE COPYUID 38505 304,319:320 3956:3958"},
	{"A004 NO [UIDNOTSTICKY] Non-persistent UIDs", 0, "CODE UIDNOTSTICKY"},
	{"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support "
	 "modsequences", 0, "CODE NOMODSEQ"},
	{"* OK [HIGHESTMODSEQ 9223372036854775807] max", 0,
	 "CODE HIGHESTMODSEQ 9223372036854775807"},
	{"d105 OK [MODIFIED 7,9] Conditional STORE failed", 0,
	 "CODE MODIFIED 7,9"},
	{"tag NO [COMPRESSIONACTIVE] DEFLATE active via TLS", 0,
	 "CODE COMPRESSIONACTIVE"},
	{"* OK [NOTIFICATIONOVERFLOW] ...A6 NOTIFY NONE", 0,
	 "CODE NOTIFICATIONOVERFLOW"},
	{"A7 NO [BADEVENT (MessageNew MessageExpunge FlagChange)] Unsupported",
	 0, "CODE BADEVENT MessageNew,MessageExpunge,FlagChange"},
	{"* OK [ALERT] System shutdown in 10 minutes", 0, "CODE ALERT"},
	{"A2 NO [TRYCREATE] Mailbox doesn't exist", 0, "CODE TRYCREATE"},
	{"* BAD [PARSE] bad header", 0, "CODE PARSE"},
	{"* OK [X-FOO 1 2] whatever", 0, "CODE OTHER"},
	{"* OK [uidnext 4] lower case", 0, "CODE UIDNEXT 4"},
	/* malformed codes */
	{"* OK [UIDNEXT 0] x", 0,
	 "ERR UIDNEXT: expected a non-zero 32-bit number, got '0'"},
	{"* OK [UIDNEXT] x", 0, "ERR [UIDNEXT]: expected 1 argument, got 0"},
	{"* OK [UIDNEXT 4 5] x", 0, "ERR [UIDNEXT]: expected 1 argument, got 2"},
	{"* OK [UIDNEXT (4)] x", 0, "ERR UIDNEXT: expected"},
	{"* OK [UIDVALIDITY 4294967296] x", 0, "ERR UIDVALIDITY: expected"},
	{"* OK [UNSEEN 0] x", 0, "ERR UNSEEN: expected"},
	{"* OK [HIGHESTMODSEQ 0] x", 0,
	 "ERR HIGHESTMODSEQ: expected a mod-sequence (1..2^63-1)"},
	{"* OK [HIGHESTMODSEQ 9223372036854775808] x", 0,
	 "ERR HIGHESTMODSEQ: expected"},
	{"a OK [APPENDUID 0 1] x", 0, "ERR APPENDUID: expected a non-zero"},
	{"a OK [APPENDUID 1 0] x", 0, "ERR APPENDUID: expected an ascending"},
	{"a OK [APPENDUID 1 3:1] x", 0, "ERR APPENDUID: expected an ascending"},
	{"a OK [APPENDUID 1 *] x", 0, "ERR APPENDUID"},
	{"a OK [APPENDUID 1] x", 0, "ERR [APPENDUID]: expected 2 arguments"},
	{"a OK [APPENDUID 1 2 3] x", 0, "ERR [APPENDUID]: expected 2"},
	{"a OK [COPYUID 1 1:3 4:5] x", 0,
	 "ERR COPYUID: 3 source UIDs but 2 destination UIDs"},
	{"a OK [COPYUID 1 3,1 4:5] x", 0,
	 "ERR COPYUID source: expected an ascending set"},
	{"a OK [COPYUID 1 1,1 4:5] x", 0, "ERR COPYUID source"},
	{"a OK [COPYUID 1 1:2 5,4] x", 0, "ERR COPYUID destination"},
	{"a OK [COPYUID 1 1:2 4:5:6] x", 0, "ERR COPYUID destination"},
	{"a OK [COPYUID 1 1:2] x", 0, "ERR [COPYUID]: expected 3 arguments"},
	{"a OK [COPYUID 0 1 2] x", 0, "ERR COPYUID: expected a non-zero"},
	{"a OK [MODIFIED 0] x", 0, "ERR MODIFIED: expected a set"},
	{"a OK [MODIFIED] x", 0, "ERR [MODIFIED]: expected 1 argument"},
	{"a OK [CAPABILITY] x", 0, "ERR [CAPABILITY]: no capabilities"},
	{"a OK [CAPABILITY IMAP4rev1 (X)] x", 0,
	 "ERR [CAPABILITY]: expected an atom"},
	{"a NO [BADEVENT ()] x", 0, "ERR [BADEVENT]: no events"},
	{"a NO [BADEVENT MessageNew] x", 0, "ERR [BADEVENT]: expected a list"},
	{"a NO [BADEVENT (\"MessageNew\")] x", 0,
	 "ERR [BADEVENT]: expected an atom"},
	{"* OK [PERMANENTFLAGS \\Seen] x", 0,
	 "ERR [PERMANENTFLAGS]: expected a list"},
	{"* OK [PERMANENTFLAGS (\\Seen \"x\")] x", 0,
	 "ERR [PERMANENTFLAGS]: expected an atom"},
	{"* OK [PERMANENTFLAGS (\\Seen) (\\Draft)] x", 0,
	 "ERR [PERMANENTFLAGS]: expected 1 argument"},
	/* ---- no view ---- */
	{"* 3 EXISTS", 0, "EXISTS 3"},
	{"* 0 EXISTS", 0, "EXISTS 0"},
	{"* 2 recent", 0, "RECENT 2"},
	{"* 3 EXPUNGE", 0, "EXPUNGE 3"},
	{"* 0 EXPUNGE", 0, "NONE"},
	{"* EXISTS", 0, "NONE"},
	{"* RECENT 3", 0, "NONE"},
	{"* FLAGS (\\Answered \\Flagged)", 0, "FLAGS"},
	{"* OK Still here", 0, "NONE"},
	{"a1 OK Capability completed (0.001 + 0.000 secs).", 0, "NONE"},
	{"* BYE Logging out", 0, "NONE"},
	{"+ go ahead", 0, "NONE"},
	{"* NAMESPACE ((\"\" \"/\")) NIL NIL", 0, "NONE"},
	/* the names of data responses are not status codes, nor vice versa */
	{"* OK [FETCH 1] x", 0, "CODE OTHER"},
	{"* UIDNEXT 4", 0, "NONE"},
};

static void
test_table(void)
{
	char name[200], why[400];
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		const struct tcase *t = &cases[i];
		size_t len = t->len ? t->len : strlen(t->in);
		const struct imap_resp *r = NULL;
		struct imap_parser *p;
		char *got;
		size_t nl = strcspn(t->in, "\r\n");

		snprintf(name, sizeof(name), "imap_data: %.*s",
		    (int)(nl < 70 ? nl : 70), t->in);
		for (char *q = name; *q; q++)
			if ((unsigned char)*q < ' ' || (unsigned char)*q > '~')
				*q = '?';
		test_begin(name);
		why[0] = '\0';
		p = parse(t->in, len, NULL, &r, why, sizeof(why));
		if (p == NULL) {
			test_fail_at(__FILE__, __LINE__, why);
			test_end();
			continue;
		}
		got = describe(r);
		if (strncmp(t->want, "ERR ", 4) == 0) {
			if (strncmp(got, "ERR ", 4) != 0 ||
			    strstr(got, t->want + 4) == NULL)
				test_assert_str(got, t->want);
			if (strstr(got, "MANY"))
				test_assert_str(got, t->want);
		} else {
			test_assert_str(got, t->want);
		}
		free(got);
		imap_parse_free(&p);
		test_end();
	}
}

struct dcase {
	const char *in;
	int ret;
	long long t;
	int zone;
};

static void
test_date(void)
{
	static const struct dcase d[] = {
		{"01-Jan-1970 00:00:00 +0000", 0, 0, 0},
		/* RFC 3501 §6.3.11's example */
		{"17-Jul-1996 02:44:25 -0700", 0, 837596665, -420},
		{"17-Jul-1996 09:44:25 +0000", 0, 837596665, 0},
		{" 1-Mar-2000 00:00:00 +0130", 0, 951868800 - 5400, 90},
		{"29-Feb-2000 23:59:59 +0000", 0, 951868799, 0},
		{"31-dec-1969 23:59:59 +0000", 0, -1, 0},
		{"31-DEC-9999 23:59:60 -2359", 0, 253402300800LL + 86340, -1439},
		{"01-Jan-0000 00:00:00 +0000", 0, -62167219200LL, 0},
		{"19-Jan-2038 03:14:08 +0000", 0, 2147483648LL, 0},
		{"29-Feb-2001 00:00:00 +0000", -1, 0, 0},
		{"29-Feb-1900 00:00:00 +0000", -1, 0, 0},
		{"31-Apr-2000 00:00:00 +0000", -1, 0, 0},
		{"00-Jan-2000 00:00:00 +0000", -1, 0, 0},
		{"32-Jan-2000 00:00:00 +0000", -1, 0, 0},
		{" 0-Jan-2000 00:00:00 +0000", -1, 0, 0},
		{"1-Jan-2000 00:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 00:00:00 +0000 ", -1, 0, 0},
		{"01-Jam-2000 00:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 24:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 00:60:00 +0000", -1, 0, 0},
		{"01-Jan-2000 00:00:61 +0000", -1, 0, 0},
		{"01-Jan-2000 00:00:00 +2400", -1, 0, 0},
		{"01-Jan-2000 00:00:00 +0060", -1, 0, 0},
		{"01-Jan-2000 00:00:00 0000+", -1, 0, 0},
		{"01-Jan-2000 00:00:00  0000", -1, 0, 0},
		{"01/Jan/2000 00:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000T00:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 00.00.00 +0000", -1, 0, 0},
		{"01-Jan-20x0 00:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 0a:00:00 +0000", -1, 0, 0},
		{"01-Jan-2000 00:00:00 +00a0", -1, 0, 0},
		{"", -1, 0, 0},
	};
	char name[80];

	for (size_t i = 0; i < ARRAY_LEN(d); i++) {
		time_t t = 12345;
		int zone = 12345;
		int ret = imap_date_parse(d[i].in, &t, &zone);

		snprintf(name, sizeof(name), "imap_data: date \"%s\"", d[i].in);
		test_begin(name);
		test_assert(ret == d[i].ret);
		if (ret == 0 && d[i].ret == 0) {
			test_assert((long long)t == d[i].t);
			test_assert(zone == d[i].zone);
		}
		test_end();
	}
	test_begin("imap_data: date with NULL out-parameters");
	test_assert(imap_date_parse("17-Jul-1996 02:44:25 -0700", NULL,
	    NULL) == 0);
	test_end();
}

static void
test_envelope(void)
{
	/* RFC 3501 §7.4.2's example, with a group added to CC. */
	static const char in[] =
	    "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
	    "RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	    "\"IMAP4rev1 WG mtg summary and minutes\" "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	    "((NIL NIL \"imap\" \"cac.washington.edu\")) "
	    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\") "
	    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\") "
	    "(NIL NIL \"team\" NIL) (NIL NIL \"x\" \"y\") (NIL NIL NIL NIL)) "
	    "NIL NIL {20}\r\n<B27397-0100000@cac>) UID 3)";
	const struct imap_resp *r;
	struct imap_fetch f;
	struct imap_address a;
	struct err e;
	char why[400];
	size_t len = 99;
	const char *s;
	struct imap_parser *p = parse(BIN(in), NULL, &r, why, sizeof(why));

	test_begin("imap_data: ENVELOPE fields and addresses");
	if (p == NULL) {
		test_fail_at(__FILE__, __LINE__, why);
		test_end();
		return;
	}
	test_assert(imap_fetch_parse(r, &f, &e) == 1);
	test_assert(f.seq == 12 && f.uid == 3 && f.size == 4286);
	test_assert(f.have == (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	    IMAP_FETCH_SIZE | IMAP_FETCH_ENVELOPE | IMAP_FETCH_UID));
	test_assert(imap_atoms_has(&f.flags, "\\SEEN"));
	test_assert(imap_atoms_has(&f.flags, "\\seen"));
	test_assert(!imap_atoms_has(&f.flags, "\\Seen2"));
	test_assert(!imap_atoms_has(&f.flags, "\\Se"));
	test_assert_str(imap_envelope_string(f.envelope, IMAP_ENV_DATE, NULL),
	    "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
	test_assert_str(imap_envelope_string(f.envelope, IMAP_ENV_SUBJECT,
	    &len), "IMAP4rev1 WG mtg summary and minutes");
	test_assert(len == 36);
	test_assert(imap_envelope_string(f.envelope, IMAP_ENV_IN_REPLY_TO,
	    NULL) == NULL);
	s = imap_envelope_string(f.envelope, IMAP_ENV_MESSAGE_ID, &len);
	test_assert_str(s, "<B27397-0100000@cac>");
	test_assert(len == 20);
	/* an address field is not a string */
	test_assert(imap_envelope_string(f.envelope, IMAP_ENV_FROM, NULL) ==
	    NULL);
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_FROM, 0, &a) ==
	    1);
	test_assert_str(a.name, "Terry Gray");
	test_assert(a.adl == NULL);
	test_assert_str(a.mailbox, "gray");
	test_assert_str(a.host, "cac.washington.edu");
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_FROM, 1, &a) ==
	    0);
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_TO, 0, &a) == 1);
	test_assert(a.name == NULL);
	test_assert_str(a.mailbox, "imap");
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_CC, 1, &a) == 1);
	test_assert_str(a.name, "John Klensin");
	test_assert_str(a.host, "MIT.EDU");
	/* group start and end */
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_CC, 2, &a) == 1);
	test_assert_str(a.mailbox, "team");
	test_assert(a.host == NULL);
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_CC, 4, &a) == 1);
	test_assert(a.mailbox == NULL && a.host == NULL && a.name == NULL);
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_CC, 5, &a) == 0);
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_BCC, 0, &a) ==
	    0);
	/* a string field is not an address */
	test_assert(imap_envelope_address(f.envelope, IMAP_ENV_SUBJECT, 0,
	    &a) == 0);
	test_assert(imap_envelope_address(f.envelope, (enum imap_env_field)10,
	    0, &a) == 0);
	test_assert(imap_envelope_string(f.envelope, (enum imap_env_field)10,
	    NULL) == NULL);
	/* not an envelope at all */
	test_assert(imap_envelope_string(NULL, IMAP_ENV_DATE, NULL) == NULL);
	test_assert(imap_envelope_address(&r->args[0], IMAP_ENV_FROM, 0, &a) ==
	    0);
	test_assert(imap_envelope_string(&r->args[0].list[1], IMAP_ENV_DATE,
	    NULL) == NULL);
	/* the other item lookup */
	test_assert(imap_fetch_item(r, "rfc822.size") != NULL &&
	    strcmp(imap_fetch_item(r, "rfc822.size")->str, "4286") == 0);
	test_assert(imap_fetch_item(r, "BODY[]") == NULL);
	test_end();
	imap_parse_free(&p);
}

static void
test_fetch_item(void)
{
	static const char in[] = "* 1 FETCH (BINARY[] {3}\r\nabc "
	    "BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: hi\r\n\r\n UID 4)";
	const struct imap_resp *r;
	const struct imap_arg *a;
	char why[400];
	struct imap_parser *p = parse(BIN(in), NULL, &r, why, sizeof(why));

	test_begin("imap_data: any FETCH item by name");
	if (p == NULL) {
		test_fail_at(__FILE__, __LINE__, why);
		test_end();
		return;
	}
	a = imap_fetch_item(r, "body[header.fields (subject)]");
	test_assert(a != NULL && a->type == IMAP_ARG_LITERAL && a->len == 15);
	a = imap_fetch_item(r, "UID");
	test_assert(a != NULL && a->type == IMAP_ARG_ATOM);
	/* a value is not a name */
	test_assert(imap_fetch_item(r, "4") == NULL);
	test_assert(imap_fetch_item(r, "BODY[HEADER.FIELDS]") == NULL);
	imap_parse_free(&p);
	p = parse(BIN("* 1 EXPUNGE"), NULL, &r, why, sizeof(why));
	test_assert(p != NULL && imap_fetch_item(r, "UID") == NULL);
	imap_parse_free(&p);
	test_end();
}

/* Feeds in to a parser whose inline literals stop at 4 bytes. At each
 * streamed literal, records what imap_fetch_parse_partial() says in out;
 * then skips the literal and, at the end, records describe(). */
static void
stream(const char *in, size_t len, struct buf *out)
{
	struct imap_parse_limits lim = imap_parse_default_limits;
	struct imap_parser *p;
	size_t pos = 0;
	struct err e;

	lim.max_inline_literal = 4;
	p = imap_parse_new(&lim);
	while (pos < len) {
		size_t used, count;
		const struct imap_arg *cont;
		struct imap_fetch f;
		const char *item = NULL;
		int ret;
		char *d;

		switch (imap_parse_feed(p, in + pos, len - pos, &used, &e)) {
		case IMAP_PARSE_LITERAL:
			pos += used;
			cont = imap_parse_literal_container(p, &count);
			ret = imap_fetch_parse_partial(imap_parse_partial(p),
			    cont, count, &f, &item, &e);
			buf_appendf(out, "[partial %d", ret);
			if (ret > 0) {
				buf_appendf(out, " %s ", item);
				add_fetch(out, &f);
			} else if (ret < 0) {
				buf_appendf(out, " %s", e.msg);
			}
			buf_appendf(out, "] ");
			pos += (size_t)imap_parse_literal_size(p);
			imap_parse_literal_done(p);
			break;
		case IMAP_PARSE_DONE:
			pos += used;
			d = describe(imap_parse_resp(p));
			buf_appends(out, d);
			free(d);
			break;
		case IMAP_PARSE_MORE:
			buf_appends(out, "INCOMPLETE");
			pos = len;
			break;
		case IMAP_PARSE_ERROR:
			buf_appendf(out, "TOKENIZER %s", e.msg);
			pos = len;
			break;
		}
	}
	imap_parse_free(&p);
}

static void
test_streamed(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen(in) */
		const char *want;
	} s[] = {
		/* the literal stays inline: 4 bytes */
		{"* 3 FETCH (UID 7 BODY[] {4}\r\nabcd)\r\n", 0,
		 "FETCH 3 uid=7 body=LIT:4"},
		{"* 3 FETCH (UID 7 FLAGS (\\Seen) BODY[] {10}\r\n0123456789)\r\n", 0,
		 "[partial 1 BODY[] FETCH 3 uid=7 flags=\\Seen] "
		 "FETCH 3 uid=7 flags=\\Seen body=STREAMED:10"},
		/* items after the literal only at the end */
		{"* 3 FETCH (BODY[] {5}\r\n01234 UID 8)\r\n", 0,
		 "[partial 1 BODY[] FETCH 3] FETCH 3 uid=8 body=STREAMED:5"},
		{BIN("* 3 FETCH (BINARY[] ~{5}\r\n0\0\0\0004)\r\n"),
		 "[partial 1 BINARY[] FETCH 3] FETCH 3 binary=STREAMED:5"},
		{"* 3 FETCH (UID 7 BODY[1] {5}\r\n01234)\r\n", 0,
		 "[partial 1 BODY[1] FETCH 3 uid=7] FETCH 3 uid=7"},
		/* nested in an envelope: not an item's value; and a string
		 * streamed away cannot be an envelope field */
		{"* 3 FETCH (ENVELOPE (NIL {5}\r\n01234 NIL NIL NIL NIL NIL NIL "
		 "NIL NIL))\r\n", 0,
		 "[partial 0] ERR FETCH 3: ENVELOPE: malformed value a list of 10"},
		/* not a FETCH; nor can a mailbox name be streamed away */
		{"* LIST () \"/\" {5}\r\n01234\r\n", 0,
		 "[partial 0] ERR LIST: expected a mailbox name, got a streamed "
		 "literal of 5 bytes"},
		/* in the place of a name */
		{"* 3 FETCH (UID 7 {5}\r\n01234 8)\r\n", 0,
		 "[partial 0] ERR expected an item name"},
		/* the name before it is a literal */
		{"* 3 FETCH (UID 7 {2}\r\nab {5}\r\n01234)\r\n", 0,
		 "[partial -1 FETCH 3: a literal where an item name belongs] "
		 "ERR FETCH 3: expected an item name"},
		/* the items before are malformed */
		{"* 3 FETCH (UID 0 BODY[] {5}\r\n01234)\r\n", 0,
		 "[partial -1 FETCH 3: UID: expected a non-zero 32-bit number, "
		 "got '0'] ERR FETCH 3: UID"},
		{"* 3 FETCH (UID 7 UID 7 BODY[] {5}\r\n01234)\r\n", 0,
		 "[partial -1 FETCH 3: UID given twice] ERR FETCH 3: UID given"},
		{"* 0 FETCH (BODY[] {5}\r\n01234)\r\n", 0,
		 "[partial -1 FETCH without a message sequence number] ERR FETCH "
		 "without"},
		/* two literals, both streamed */
		{"* 3 FETCH (BODY[] {5}\r\n01234 BINARY[] {6}\r\n012345 UID 9)\r\n", 0,
		 "[partial 1 BODY[] FETCH 3] [partial 1 BINARY[] FETCH 3 "
		 "body=STREAMED:5] FETCH 3 uid=9 body=STREAMED:5 binary=STREAMED:6"},
	};
	char name[120];

	for (size_t i = 0; i < ARRAY_LEN(s); i++) {
		struct buf out = BUF_INIT(SIZE_MAX);
		size_t len = s[i].len ? s[i].len : strlen(s[i].in);
		snprintf(name, sizeof(name), "imap_data: streamed literal: %.60s",
		    s[i].in);
		for (char *c = name; *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = ' ';
		test_begin(name);
		stream(s[i].in, len, &out);
		buf_appends(&out, "");
		if (strstr(s[i].want, "ERR ") == NULL)
			test_assert_str(out.data, s[i].want);
		else if (strncmp(out.data, s[i].want,
		    (size_t)(strstr(s[i].want, "ERR ") - s[i].want) + 4) ||
		    !strstr(out.data, strstr(s[i].want, "ERR ") + 4))
			test_assert_str(out.data, s[i].want);
		buf_free(&out);
		test_end();
	}
}

/* Sets are the caller's: each call adds to them. */
static void
test_sets_accumulate(void)
{
	struct uidset s = UIDSET_INIT, d = UIDSET_INIT;
	struct buf b = BUF_INIT(SIZE_MAX);
	const struct imap_resp *r;
	struct imap_parser *p;
	struct err e;
	char why[400];
	uint64_t m;
	uint32_t uv;
	bool earlier = true;

	test_begin("imap_data: views add to the caller's sets");
	p = parse(BIN("* SEARCH 5 6"), NULL, &r, why, sizeof(why));
	test_assert(p && imap_search_parse(r, &s, &m, &e) == 1 && m == 0);
	imap_parse_free(&p);
	p = parse(BIN("* VANISHED 1:2"), NULL, &r, why, sizeof(why));
	test_assert(p && imap_vanished_parse(r, &earlier, &s, &e) == 1);
	test_assert(!earlier);
	imap_parse_free(&p);
	uidset_format(&b, &s);
	test_assert_str(b.data, "1:2,5:6");
	/* the counts compare this response's UIDs, not the sets' */
	p = parse(BIN("a OK [COPYUID 9 10:11 20:21] done"), NULL, &r, why,
	    sizeof(why));
	test_assert(p && imap_code_copyuid(r, &uv, &s, &d, &e) == 1);
	test_assert(uv == 9);
	imap_parse_free(&p);
	buf_reset(&b);
	uidset_format(&b, &s);
	test_assert_str(b.data, "1:2,5:6,10:11");
	buf_reset(&b);
	uidset_format(&b, &d);
	test_assert_str(b.data, "20:21");
	/* 0 for another kind leaves the set alone */
	p = parse(BIN("* OK [UIDNEXT 4] x"), NULL, &r, why, sizeof(why));
	test_assert(p && imap_code_copyuid(r, &uv, &s, &d, &e) == 0);
	test_assert(imap_code_appenduid(r, &uv, &s, &e) == 0);
	test_assert(imap_code_modified(r, &s, &e) == 0);
	test_assert(imap_vanished_parse(r, &earlier, &s, &e) == 0);
	test_assert(uidset_count(&s) == 6 && uidset_count(&d) == 2);
	test_assert(imap_code(r) == IMAP_CODE_UIDNEXT);
	test_assert_str(imap_code_name(IMAP_CODE_READ_ONLY), "READ-ONLY");
	test_assert_str(imap_code_name((enum imap_code)1000), "");
	imap_parse_free(&p);
	uidset_free(&s);
	uidset_free(&d);
	buf_free(&b);
	test_end();
}

static void
test_parse_ascending(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *want;
	} c[] = {
		{"1", 0, "1"},
		{"1:3,5,7:9", 0, "1:3,5,7:9"},
		{"1:3,4", 0, "1:4"},
		{"304,319:320", 0, "304,319:320"},
		{"1:4294967295", 0, "1:4294967295"},
		{"3:1", -1, NULL},
		{"1:3,3", -1, NULL},
		{"1:3,2:5", -1, NULL},
		{"5,4", -1, NULL},
		{"2,2", -1, NULL},
		{"0", -1, NULL},
		{"0:3", -1, NULL},
		{"1:*", -1, NULL},
		{"*", -1, NULL},
		{"", -1, NULL},
		{"1,", -1, NULL},
		{",1", -1, NULL},
		{"1::2", -1, NULL},
		{"4294967296", -1, NULL},
		{"1 2", -1, NULL},
	};
	char name[80];

	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		struct uidset s = UIDSET_INIT;
		struct buf b = BUF_INIT(SIZE_MAX);
		int ret = uidset_parse_ascending(&s, c[i].in);

		snprintf(name, sizeof(name), "uidset_parse_ascending \"%s\"",
		    c[i].in);
		test_begin(name);
		test_assert(ret == c[i].ret);
		if (ret == 0 && c[i].want) {
			uidset_format(&b, &s);
			test_assert_str(b.data, c[i].want);
		}
		buf_free(&b);
		uidset_free(&s);
		test_end();
	}
}

/* RFC 4315's example: 304 -> 3956, 319 -> 3957, 320 -> 3958. */
static void
test_copyuid_pairs(void)
{
	static const uint32_t src[] = {304, 319, 320, 1, 305, 4294967295u};
	static const uint32_t want[] = {3956, 3957, 3958, 0, 0, 0};
	struct uidset s = UIDSET_INIT, d = UIDSET_INIT;
	const struct imap_resp *r;
	struct imap_parser *p;
	struct err e;
	char why[400];
	uint32_t uv, u;
	uint64_t rank;

	test_begin("imap_data: COPYUID pairs by rank");
	p = parse(BIN("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done"),
	    NULL, &r, why, sizeof(why));
	test_assert(p && imap_code_copyuid(r, &uv, &s, &d, &e) == 1);
	for (size_t i = 0; i < ARRAY_LEN(src); i++) {
		u = 0;
		if (uidset_rank(&s, src[i], &rank) == 1)
			test_assert(uidset_nth(&d, rank, &u) == 1);
		test_assert(u == want[i]);
	}
	test_assert(uidset_nth(&d, 3, &u) == 0);
	imap_parse_free(&p);
	uidset_free(&s);
	uidset_free(&d);
	/* ranks over huge ranges are arithmetic, not enumeration */
	uidset_add(&s, 4294967290u, 4294967295u);
	uidset_add(&s, 1, 4000000000u);
	test_assert(uidset_rank(&s, 4294967295u, &rank) == 1 &&
	    rank == 4000000000u + 5);
	test_assert(uidset_nth(&s, rank, &u) == 1 && u == 4294967295u);
	test_assert(uidset_nth(&s, rank + 1, &u) == 0);
	test_assert(uidset_rank(&s, 4000000001u, &rank) == 0);
	test_assert(uidset_rank(&s, 1, &rank) == 1 && rank == 0);
	uidset_free(&s);
	test_assert(uidset_rank(&s, 1, &rank) == 0);
	test_assert(uidset_nth(&s, 0, &u) == 0);
	test_end();
}

int
main(void)
{
	test_table();
	test_date();
	test_envelope();
	test_fetch_item();
	test_streamed();
	test_sets_accumulate();
	test_parse_ascending();
	test_copyuid_pairs();
	return test_exit();
}
