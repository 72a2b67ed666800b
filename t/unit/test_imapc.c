#include "util.h"

#include "enginepair.h"
#include "imapc.h"
#include "imapscript.h"
#include "test.h"

/* The engine against scripted servers (t/unit/imapscript.h): pipelining,
 * synchronizing literals, refusals, streamed literals, failures; every
 * script also played with each byte in a write of its own. */

#define TMO 5000
/* 300 kB through two scripted engines, split into small writes: slow in a
 * sanitizer build on a busy machine (seen: over 5 s). */
#define COPY_TMO 30000

/* What handlers saw, as text: "done 2 OK;fetch 1;event EXISTS;..." */
struct seen {
	char log[2048];
	struct imapc *other;  /* for the copy test */
	const char *claim;    /* the untagged name this handler takes */
	int fail_at;          /* fail on the Nth response taken (1-based) */
	int taken;
	uint64_t lit_ok;      /* literal bytes that matched the pattern */
	size_t lit_read_max;  /* read at most this much of a literal */
};

/* Appends a, then b. */
static void
note(struct seen *s, const char *a, const char *b)
{
	size_t n = strlen(s->log);
	snprintf(s->log + n, sizeof(s->log) - n, "%s%s", a, b);
}

static int
h_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct seen *s = ctx;
	if (!s->claim || !r->name || strcmp(r->name, s->claim) != 0)
		return 0;
	if (r->name && strcmp(r->name, "FETCH") == 0 && r->nargs > 0 &&
	    r->args[0].type == IMAP_ARG_LIST && r->args[0].count >= 2 &&
	    imap_arg_atom_is(&r->args[0].list[0], "FLAGS"))
		return 0; /* unsolicited flag change: not ours */
	note(s, r->name, ";");
	if (++s->taken == s->fail_at)
		return err_set(err, ERR_DB, "handler failed");
	return 1;
}

static struct imapc *lit_engine;

static int
h_literal(void *ctx, const struct imap_resp *p, const struct imap_arg *cont,
    size_t count, uint64_t size, struct err *err)
{
	struct seen *s = ctx;
	char buf[7000];
	uint64_t off = 0;
	(void)p;
	(void)cont;
	(void)count;
	(void)err;
	note(s, "literal", ";");
	while (off < size && off < s->lit_read_max) {
		ssize_t k = imapc_literal_read(lit_engine, buf, sizeof(buf), err);
		if (k <= 0)
			return -1;
		for (ssize_t i = 0; i < k; i++)
			if ((unsigned char)buf[i] ==
			    imapscript_pattern(5, (size_t)off + (size_t)i))
				s->lit_ok++;
		off += (uint64_t)k;
	}
	return 1;
}

static void
h_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct seen *s = ctx;
	note(s, "done ", tagged ? tagged->tag : "-");
	note(s, " ", err ? err->msg : "OK");
	note(s, ";", "");
}

static const struct imapc_handlers H = {h_untagged, h_literal, NULL, h_done,
    NULL};

static struct imapc_handlers
with(struct seen *s)
{
	struct imapc_handlers h = H;
	h.ctx = s;
	return h;
}

static struct seen events;

static void
on_event(void *ctx, const struct imap_resp *r)
{
	(void)ctx;
	note(&events, "event ", r->name ? r->name : r->status);
	note(&events, ";", "");
}

static struct imap_cmd *
cmd_raw(const char *verb, const char *raw)
{
	struct imap_cmd *c = imap_cmd_new(verb);
	if (raw)
		imap_cmd_raw(c, raw);
	return c;
}

static void
test_pipelined(bool split)
{
	static const char script[] =
	    "S: * OK [CAPABILITY IMAP4rev1] ready\n"
	    "C: 1 NOOP\n"
	    "C: 2 UID FETCH 1:2 (FLAGS)\n"
	    "C: 3 UID SEARCH ALL\n"
	    "S: * 1 FETCH (UID 1 FLAGS ())\n"
	    "S: * 3 EXISTS\n"
	    "S: 3 OK [HIGHESTMODSEQ 9] search ok, before its data\n"
	    "S: * 2 FETCH (FLAGS (\\Seen))\n"
	    "S: * 2 FETCH (UID 2 FLAGS (\\Seen))\n"
	    "S: 2 OK fetched\n"
	    "S: 1 OK noop\n"
	    "C: 4 LOGOUT\n"
	    "S: * BYE bye\n"
	    "S: 4 OK\n"
	    "close\n";
	struct seen a = {0}, b = {0}, c = {0}, d = {0};
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, split, TMO, &s);
	struct imapc_handlers ha = with(&a), hb = with(&b), hc = with(&c),
	    hd = with(&d);
	struct err err;

	test_begin(split ? "imapc: pipelined commands, split at every byte"
			 : "imapc: pipelined commands, replies out of order");
	memset(&events, 0, sizeof(events));
	imapc_set_events(e, on_event, NULL);
	b.claim = "FETCH";
	c.claim = "SEARCH";
	imapc_submit(e, cmd_raw("NOOP", NULL), &ha);
	imapc_submit(e, cmd_raw("UID FETCH", "1:2 (FLAGS)"), &hb);
	imapc_submit(e, cmd_raw("UID SEARCH", "ALL"), &hc);
	test_assert(imapc_in_flight(e) == 3);
	test_assert(imapc_sync(e, TMO, &err) == 0);
	test_assert_str(a.log, "done 1 OK;");
	test_assert_str(b.log, "FETCH;FETCH;done 2 OK;");
	test_assert_str(c.log, "done 3 OK;");
	test_assert_str(events.log, "event OK;event EXISTS;event FETCH;");
	test_assert(imapc_run(e, cmd_raw("LOGOUT", NULL), &hd, TMO, &err) == 0);
	test_assert_str(d.log, "done 4 OK;");
	test_assert(!imapc_usable(e));
	imapc_free(&e);
	engine_script_wait(s);
	test_end();
}

static void
test_sync_literal(bool split)
{
	static const char script[] =
	    "S: * OK ready\n"
	    "C: 1 APPEND INBOX {5}\n"
	    "S: + go ahead\n"
	    "C: hello\n"
	    "C: 2 NOOP\n"
	    "S: 1 OK [APPENDUID 1 7] appended\n"
	    "S: 2 OK\n"
	    "C: 3 APPEND INBOX {5}\n"
	    "S: 3 NO [TOOBIG] no room\n"
	    "C: 4 NOOP\n"
	    "S: 4 OK\n"
	    "eof\n";
	struct seen a = {0}, b = {0}, c = {0}, d = {0};
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, split, TMO, &s);
	struct imapc_handlers ha = with(&a), hb = with(&b), hc = with(&c),
	    hd = with(&d);
	struct imap_cmd *app;
	struct err err;

	test_begin(split ? "imapc: synchronizing literals, split"
			 : "imapc: a synchronizing literal waits for its \"+\", "
			   "a refusal ends its command");
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	test_assert(imap_cmd_literal(app, "hello", 5, false, &err) == 0);
	imapc_submit(e, app, &ha);
	/* Must not overtake the literal. */
	imapc_submit(e, cmd_raw("NOOP", NULL), &hb);
	test_assert(imapc_sync(e, TMO, &err) == 0);
	test_assert_str(a.log, "done 1 OK;");
	test_assert_str(b.log, "done 2 OK;");
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	test_assert(imap_cmd_literal(app, "never", 5, false, &err) == 0);
	imapc_submit(e, app, &hc);
	imapc_submit(e, cmd_raw("NOOP", NULL), &hd);
	test_assert(imapc_sync(e, TMO, &err) == 0);
	test_assert_str(c.log, "done 3 test: APPEND failed: NO [TOOBIG] no room;");
	test_assert_str(d.log, "done 4 OK;");
	test_assert(imapc_usable(e));
	imapc_free(&e);
	engine_script_wait(s);
	test_end();
}

static void
test_streamed_literal(bool split)
{
	static const char script[] =
	    "S: * OK ready\n"
	    "C: 1 UID FETCH 7:8 (BODY.PEEK[])\n"
	    "S: * 1 FETCH (UID 7 BODY[] {200000}\n"
	    "S< 200000 5\n"
	    "S: )\n"
	    "S: * 9 FETCH (FLAGS (\\Seen))\n"
	    "S: * 2 FETCH (UID 8 BODY[] {100000}\n"
	    "S< 100000 5\n"
	    "S: )\n"
	    "S: 1 OK done\n"
	    "eof\n";
	struct seen a = {0};
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, split, TMO, &s);
	struct imapc_handlers ha = with(&a);
	struct err err;

	test_begin(split ? "imapc: streamed literals, split"
			 : "imapc: streamed literals read by the handler or "
			   "skipped, unsolicited FETCH between them");
	memset(&events, 0, sizeof(events));
	imapc_set_events(e, on_event, NULL);
	a.claim = "FETCH";
	a.lit_read_max = 200000; /* the second one: read 200000 of 100000 */
	lit_engine = e;
	test_assert(imapc_run(e, cmd_raw("UID FETCH", "7:8 (BODY.PEEK[])"),
	    &ha, TMO, &err) == 0);
	test_assert_str(a.log, "literal;FETCH;literal;FETCH;done 1 OK;");
	test_assert(a.lit_ok == 300000);
	test_assert_str(events.log, "event OK;event FETCH;");
	imapc_free(&e);
	engine_script_wait(s);
	test_end();

	test_begin(split ? "imapc: a literal left unread is skipped, split"
			 : "imapc: a literal left unread is skipped");
	s = NULL;
	e = engine_scripted(script, split, TMO, &s);
	memset(&a, 0, sizeof(a));
	a.claim = "FETCH";
	a.lit_read_max = 10000;
	lit_engine = e;
	ha = with(&a);
	test_assert(imapc_run(e, cmd_raw("UID FETCH", "7:8 (BODY.PEEK[])"),
	    &ha, TMO, &err) == 0);
	test_assert_str(a.log, "literal;FETCH;literal;FETCH;done 1 OK;");
	test_assert(a.lit_ok >= 20000 && a.lit_ok < 40000);
	imapc_free(&e);
	engine_script_wait(s);
	test_end();
}

static void
test_failures(void)
{
	static const char fail_script[] =
	    "S: * OK ready\n"
	    "C: 1 UID FETCH 1:3 (UID)\n"
	    "S: * 1 FETCH (UID 1)\n"
	    "S: * 2 FETCH (UID 2)\n"
	    "S: 1 OK done\n"
	    "eof\n";
	static const char bye_script[] =
	    "S: * OK ready\n"
	    "C: 1 UID FETCH 7 (BODY.PEEK[])\n"
	    "C: 2 NOOP\n"
	    "S: * 1 FETCH (UID 7 BODY[] {200000}\n"
	    "S< 1000 5\n"
	    "close\n";
	static const char cont_script[] =
	    "S: * OK ready\n"
	    "C: 1 NOOP\n"
	    "S: + what?\n"
	    "eof\n";
	static const char tag_script[] =
	    "S: * OK ready\n"
	    "C: 1 NOOP\n"
	    "S: 7 OK not yours\n"
	    "eof\n";
	struct seen a = {0}, b = {0};
	struct imapscript *s;
	struct imapc *e;
	struct imapc_handlers ha, hb;
	struct err err;

	test_begin("imapc: a failed handler is not called again, its data is "
		   "no event; done gets its error");
	e = engine_scripted(fail_script, false, TMO, &s);
	memset(&events, 0, sizeof(events));
	imapc_set_events(e, on_event, NULL);
	a.claim = "FETCH";
	a.fail_at = 1;
	ha = with(&a);
	test_assert(imapc_run(e, cmd_raw("UID FETCH", "1:3 (UID)"), &ha, TMO,
	    &err) == -1);
	test_assert_str(err.msg, "handler failed");
	test_assert_str(a.log, "FETCH;done 1 handler failed;");
	/* Its second FETCH is neither offered again nor an event. */
	test_assert_str(events.log, "event OK;");
	test_assert(imapc_usable(e));
	imapc_free(&e);
	engine_script_wait(s);
	test_end();

	test_begin("imapc: connection lost in the middle of a literal");
	e = engine_scripted(bye_script, false, TMO, &s);
	memset(&a, 0, sizeof(a));
	a.claim = "FETCH";
	a.lit_read_max = 200000;
	lit_engine = e;
	ha = with(&a);
	hb = with(&b);
	imapc_submit(e, cmd_raw("UID FETCH", "7 (BODY.PEEK[])"), &ha);
	imapc_submit(e, cmd_raw("NOOP", NULL), &hb);
	test_assert(imapc_sync(e, TMO, &err) == -1);
	if (strstr(a.log, "literal;done - ") != a.log)
		fprintf(stderr, "a.log: %s\n", a.log);
	test_assert(strstr(a.log, "literal;done - ") == a.log);
	test_assert(strstr(b.log, "done - ") == b.log);
	test_assert(a.lit_ok == 1000);
	test_assert(!imapc_usable(e));
	imapc_free(&e);
	engine_script_wait(s);
	test_end();

	test_begin("imapc: a continuation nobody asked for is a protocol error");
	e = engine_scripted(cont_script, false, TMO, &s);
	memset(&a, 0, sizeof(a));
	ha = with(&a);
	test_assert(imapc_run(e, cmd_raw("NOOP", NULL), &ha, TMO, &err) == -1);
	test_assert(err.kind == ERR_PROTO);
	test_assert(strstr(err.msg, "continuation") != NULL);
	imapc_free(&e);
	engine_script_wait(s);
	test_end();

	test_begin("imapc: a tagged reply to no command is a protocol error");
	e = engine_scripted(tag_script, false, TMO, &s);
	memset(&a, 0, sizeof(a));
	ha = with(&a);
	test_assert(imapc_run(e, cmd_raw("NOOP", NULL), &ha, TMO, &err) == -1);
	test_assert(err.kind == ERR_PROTO);
	imapc_free(&e);
	engine_script_wait(s);
	test_end();
}

static void
test_capabilities(bool split)
{
	static const char head[] =
	    "S: * OK [CAPABILITY IMAP4rev1 LITERAL+] hi\n"
	    "C: 1 APPEND INBOX {5+}\n"
	    "C: hello\n"
	    "S: 1 OK done\n"
	    "C: 2 CAPABILITY\n"
	    "S: * CAPABILITY IMAP4rev1 LITERAL- IDLE\n"
	    "S: 2 OK done\n"
	    "C: 3 APPEND INBOX {5+}\n"
	    "C: hello\n"
	    "S: 3 OK done\n"
	    "C: 4 APPEND INBOX {5000}\n"
	    "S: + go\n"
	    "C: ";
	static const char tail[] = "\nS: 4 OK done\neof\n";
	char big[5000], script[sizeof(head) + sizeof(big) + sizeof(tail)];
	struct imapscript *s;
	struct imapc *e;
	struct imap_cmd *app;
	struct err err;

	test_begin(split ? "imapc: the literal mode follows the capabilities, "
			   "split"
			 : "imapc: the literal mode follows the capabilities "
			   "(LITERAL+, then LITERAL- and its 4096-byte rule)");
	memset(big, 'x', sizeof(big));
	snprintf(script, sizeof(script), "%s%.*s%s", head, (int)sizeof(big),
	    big, tail);
	e = engine_scripted(script, split, TMO, &s);
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	test_assert(imap_cmd_literal(app, "hello", 5, false, &err) == 0);
	test_assert(imapc_run(e, app, NULL, TMO, &err) == 0);
	test_assert(imapc_capable(e, "literal+") && !imapc_capable(e, "IDLE"));
	test_assert(imapc_run(e, cmd_raw("CAPABILITY", NULL), NULL, TMO,
	    &err) == 0);
	test_assert(!imapc_capable(e, "LITERAL+") && imapc_capable(e, "IDLE"));
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	test_assert(imap_cmd_literal(app, "hello", 5, false, &err) == 0);
	test_assert(imapc_run(e, app, NULL, TMO, &err) == 0);
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	test_assert(imap_cmd_literal(app, big, sizeof(big), false, &err) == 0);
	test_assert(imapc_run(e, app, NULL, TMO, &err) == 0);
	imapc_free(&e);
	engine_script_wait(s);
	test_end();
}

/* The core of interimap: A's FETCH literal streamed into an APPEND on B,
 * both engines in flight. */
struct copy {
	struct imapc *a, *b;
	uint64_t size;
	int rc;
	struct err err;
};

static ssize_t
read_from_a(void *ctx, char *buf, size_t n, struct err *err)
{
	struct copy *cp = ctx;
	return imapc_literal_read(cp->a, buf, n, err);
}

static int
copy_literal(void *ctx, const struct imap_resp *p, const struct imap_arg *cont,
    size_t count, uint64_t size, struct err *err)
{
	struct copy *cp = ctx;
	struct imap_cmd *app = imap_cmd_new("APPEND");
	(void)p;
	(void)cont;
	(void)count;
	imap_cmd_mailbox_wire(app, "INBOX");
	imap_cmd_literal_stream(app, size, false, read_from_a, cp);
	cp->size = size;
	cp->rc = imapc_run(cp->b, app, NULL, COPY_TMO, err);
	return cp->rc < 0 ? -1 : 1;
}

static void
test_copy(bool split)
{
	/* Split (a byte a write, each waited for): still a literal too
	 * large to keep inline (64 KiB) and several CHUNKs, but not 300,000
	 * round trips: those took over 30 s on a loaded machine. */
	const unsigned size = split ? 70000 : 300000;
	char script_a[256], script_b[256];
	struct imapscript *sa, *sb;
	struct copy cp = {0};
	struct imapc_handlers h = {NULL, copy_literal, NULL, NULL, &cp};
	struct err err;

	test_begin(split ? "imapc: FETCH streamed into APPEND, split"
			 : "imapc: FETCH literal on A streamed into APPEND on B");
	snprintf(script_a, sizeof(script_a),
	    "S: * OK A\n"
	    "C: 1 UID FETCH 3 (BODY.PEEK[])\n"
	    "S: * 1 FETCH (UID 3 BODY[] {%u}\n"
	    "S< %u 5\n"
	    "S: )\n"
	    "S: 1 OK fetched\n"
	    "eof\n", size, size);
	snprintf(script_b, sizeof(script_b),
	    "S: * OK B\n"
	    "C: 1 APPEND INBOX {%u+}\n"
	    "C< %u 5\n"
	    "C: \n"
	    "S: 1 OK [APPENDUID 9 1] appended\n"
	    "eof\n", size, size);
	cp.a = engine_scripted(script_a, split, COPY_TMO, &sa);
	cp.b = engine_scripted(script_b, split, COPY_TMO, &sb);
	imapc_set_literal_mode(cp.b, IMAP_LIT_PLUS);
	test_assert(imapc_run(cp.a, cmd_raw("UID FETCH", "3 (BODY.PEEK[])"), &h,
	    COPY_TMO, &err) == 0);
	test_assert(cp.rc == 0 && cp.size == size);
	imapc_free(&cp.a);
	imapc_free(&cp.b);
	engine_script_wait(sa);
	engine_script_wait(sb);
	test_end();
}

int
main(void)
{
	for (int split = 0; split <= 1; split++) {
		test_pipelined(split);
		test_sync_literal(split);
		test_streamed_literal(split);
		test_copy(split);
		test_capabilities(split);
	}
	test_failures();
	return test_exit();
}
