#include "util.h"

#include <poll.h>

#include "conn.h"
#include "enginepair.h"
#include "imapc.h"
#include "test.h"

/* The engine's side of two-connection streaming (imapc.h): the
 * non-blocking literal read, commands whose literal source has nothing
 * yet (no POLLOUT, no busy loop), and a FETCH literal on A streamed into
 * an APPEND on B through it. The server is the test itself, writing to
 * its end of a socketpair between steps, so that "nothing buffered now"
 * happens exactly where the test wants it (a scripted server in a thread
 * could not promise that). */

#define TMO 5000
/* Above the parser's inline limit (64 KiB): streamed to the handler. */
#define BIG 70000

struct peer {
	int fd;          /* the server's end */
	struct imapc *e; /* the engine on the other */
};

static void
peer_open(struct peer *p)
{
	p->e = engine_pair(TMO, true, &p->fd);
}

static void
peer_close(struct peer *p)
{
	imapc_free(&p->e);
	close(p->fd);
}

static void
say_n(struct peer *p, const char *s, size_t n)
{
	if (write(p->fd, s, n) != (ssize_t)n)
		abort();
}

static void
say(struct peer *p, const char *s)
{
	say_n(p, s, strlen(s));
}

static char
pattern(size_t i)
{
	return (char)('a' + (i * 7 + i / 251) % 26);
}

/* n bytes of the pattern from offset off. */
static void
say_pattern(struct peer *p, size_t off, size_t n)
{
	static char buf[BIG];
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(off + i);
	say_n(p, buf, n);
}

/* What the client sent since the last call (NUL-terminated, at most
 * size - 1 bytes). */
static const char *
heard(struct peer *p, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;
	while (n + 1 < size && (k = read(p->fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return buf;
}

/* Steps until a step makes no progress; the last step's result. */
static int
settle(struct imapc *e, struct err *err)
{
	int r, i = 0;
	while ((r = imapc_step(e, err)) > 0 && ++i < 1000)
		;
	return r;
}

/* True when nothing makes e ready within 50 ms: no POLLOUT asked while
 * there is nothing to send, so a program's wait sleeps. */
static bool
sleeps(struct imapc *e)
{
	struct err err;
	return !(imapc_events(e) & POLLOUT) && imapc_wait(&e, 1, 50, &err) == 0;
}

struct done {
	bool called;
	bool ok;
	struct err err;
};

static void
on_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct done *d = ctx;
	d->called = true;
	d->ok = tagged && !err;
	if (err)
		d->err = *err;
}

/* --- imapc_literal_read_nb ------------------------------------------ */

struct nb {
	struct done d; /* first: on_done() gets the same ctx */
	struct peer *p;
	size_t before, after; /* bytes read before / after the AGAIN */
	bool again, end, pattern_ok;
};

static int
nb_literal(void *ctx, const struct imap_resp *r, const struct imap_arg *cont,
    size_t count, uint64_t size, struct err *err)
{
	struct nb *s = ctx;
	char buf[4096];
	ssize_t k;
	size_t *n = &s->before;
	(void)r;
	(void)cont;
	(void)count;
	s->pattern_ok = size == BIG;
	for (int i = 0; i < 1000; i++) {
		k = imapc_literal_read_nb(s->p->e, buf, sizeof(buf), err);
		if (k == IMAP_SOURCE_AGAIN) {
			if (s->again)
				return -1; /* the rest was all there */
			s->again = true;
			/* The server sends the rest now. */
			say_pattern(s->p, s->before, BIG - s->before);
			say(s->p, ")\r\n1 OK done\r\n");
			n = &s->after;
			continue;
		}
		if (k <= 0) {
			s->end = k == 0;
			break;
		}
		for (ssize_t j = 0; j < k; j++)
			if (buf[j] != pattern(s->before + s->after + (size_t)j))
				s->pattern_ok = false;
		*n += (size_t)k;
	}
	return 1;
}

static void
test_literal_read_nb(void)
{
	struct peer p;
	struct nb s = {0};
	struct imapc_handlers h = {NULL, nb_literal, NULL, on_done, &s};
	struct imap_cmd *cmd;
	char buf[256];
	struct err err;

	test_begin("imapc: literal_read_nb: the buffered bytes, AGAIN when "
		   "none, the rest once it came, 0 at the end");
	peer_open(&p);
	s.p = &p;
	say(&p, "* OK hi\r\n");
	/* Outside a literal handler: the caller's bug. */
	test_assert(imapc_literal_read_nb(p.e, buf, sizeof(buf), &err) == -1);
	test_assert(err.kind == ERR_INTERNAL);
	cmd = imap_cmd_new("UID FETCH");
	imap_cmd_raw(cmd, "3 (BODY.PEEK[])");
	imapc_submit(p.e, cmd, &h);
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)),
	    "1 UID FETCH 3 (BODY.PEEK[])\r\n");
	snprintf(buf, sizeof(buf), "* 1 FETCH (UID 3 BODY[] {%d}\r\n", BIG);
	say(&p, buf);
	say_pattern(&p, 0, 1000);
	test_assert(settle(p.e, &err) == 0);
	test_assert(s.d.ok);
	test_assert(s.again && s.end && s.pattern_ok);
	test_assert(s.before == 1000 && s.after == BIG - 1000);
	test_assert(imapc_in_flight(p.e) == 0 && imapc_usable(p.e));
	peer_close(&p);
	test_end();
}

/* --- sources that have nothing yet: no busy loop --------------------- */

struct src {
	const char *data;
	size_t len, off;
	bool ready;
	int calls;
};

static ssize_t
src_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct src *s = ctx;
	(void)err;
	s->calls++;
	if (!s->ready)
		return IMAP_SOURCE_AGAIN;
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static struct imap_cmd *
append_stream(const char *mbox, struct src *s)
{
	struct imap_cmd *cmd = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(cmd, mbox);
	imap_cmd_literal_stream(cmd, s->len, false, src_read, s);
	return cmd;
}

static void
test_blocked_source(void)
{
	struct peer p;
	struct src s = {"0123456789", 10, 0, false, 0};
	struct done d1 = {0}, d2 = {0};
	struct imapc_handlers h1 = {NULL, NULL, NULL, on_done, &d1};
	struct imapc_handlers h2 = {NULL, NULL, NULL, on_done, &d2};
	char buf[256];
	struct err err;
	int calls;

	test_begin("imapc: a command blocked on its literal source asks no "
		   "POLLOUT; each step retries the source; nothing overtakes");
	peer_open(&p);
	say(&p, "* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
	imapc_submit(p.e, append_stream("INBOX", &s), &h1);
	imapc_submit(p.e, imap_cmd_new("NOOP"), &h2);
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)), "1 APPEND INBOX {10+}\r\n");
	test_assert(sleeps(p.e));
	calls = s.calls;
	test_assert(calls >= 1);
	test_assert(imapc_step(p.e, &err) == 0);
	test_assert(s.calls == calls + 1);
	test_assert(sleeps(p.e));
	s.ready = true;
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)), "0123456789\r\n2 NOOP\r\n");
	say(&p, "1 OK [APPENDUID 1 5] done\r\n2 OK\r\n");
	test_assert(settle(p.e, &err) == 0);
	test_assert(d1.ok && d2.ok && imapc_in_flight(p.e) == 0);
	test_assert(sleeps(p.e));
	peer_close(&p);
	test_end();
}

static void
test_no_spin(void)
{
	struct peer p;
	struct done d1 = {0}, d2 = {0};
	struct imapc_handlers h1 = {NULL, NULL, NULL, on_done, &d1};
	struct imapc_handlers h2 = {NULL, NULL, NULL, on_done, &d2};
	struct imap_cmd *cmd;
	char buf[256];
	struct err err;

	test_begin("imapc: no POLLOUT before the greeting, nor behind a "
		   "synchronizing literal waiting for its \"+\"");
	peer_open(&p);
	cmd = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(cmd, "INBOX");
	test_assert(imap_cmd_literal(cmd, "hello", 5, false, &err) == 0);
	imapc_submit(p.e, cmd, &h1);
	imapc_submit(p.e, imap_cmd_new("NOOP"), &h2);
	test_assert(settle(p.e, &err) == 0);
	test_assert(sleeps(p.e));
	test_assert_str(heard(&p, buf, sizeof(buf)), "");
	say(&p, "* OK hi\r\n");
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)), "1 APPEND INBOX {5}\r\n");
	test_assert(sleeps(p.e));
	say(&p, "+ go\r\n");
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)), "hello\r\n2 NOOP\r\n");
	say(&p, "1 OK done\r\n2 OK\r\n");
	test_assert(settle(p.e, &err) == 0);
	test_assert(d1.ok && d2.ok);
	peer_close(&p);
	test_end();
}

static void
test_early_refusal(void)
{
	struct peer p;
	struct src s = {"0123456789", 10, 0, false, 0};
	struct done d = {0};
	struct imapc_handlers h = {NULL, NULL, NULL, on_done, &d};
	char buf[256];
	struct err err;

	test_begin("imapc: a refusal before the command was all sent keeps "
		   "the server's words; the connection ends");
	peer_open(&p);
	say(&p, "* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
	imapc_submit(p.e, append_stream("Nope", &s), &h);
	test_assert(settle(p.e, &err) == 0);
	test_assert_str(heard(&p, buf, sizeof(buf)), "1 APPEND Nope {10+}\r\n");
	say(&p, "1 NO [TRYCREATE] no such mailbox\r\n");
	test_assert(settle(p.e, &err) == -1);
	test_assert(d.called && !d.ok);
	test_assert(d.err.kind == ERR_REFUSED);
	test_assert_str(d.err.msg,
	    "test: APPEND failed: NO [TRYCREATE] no such mailbox");
	test_assert(!imapc_usable(p.e));
	peer_close(&p);
	test_end();
}

/* --- A's literal into B's APPEND ------------------------------------- */

struct copy {
	struct done d; /* first: on_done() gets the same ctx (A's FETCH) */
	struct peer *a, *b;
	uint64_t left;  /* of the literal being copied */
	bool active;    /* B's source may read A's literal */
	bool starved;   /* it found nothing buffered */
	int agains, waits;
	size_t sent_a;  /* literal bytes the A server sent */
};

static ssize_t
copy_source(void *ctx, char *buf, size_t n, struct err *err)
{
	struct copy *cp = ctx;
	ssize_t k;

	if (!cp->active)
		return IMAP_SOURCE_AGAIN;
	k = imapc_literal_read_nb(cp->a->e, buf, n, err);
	if (k == IMAP_SOURCE_AGAIN) {
		cp->starved = true;
		cp->agains++;
	} else if (k > 0) {
		cp->left -= (uint64_t)k;
	}
	return k;
}

static int
copy_literal(void *ctx, const struct imap_resp *r, const struct imap_arg *cont,
    size_t count, uint64_t size, struct err *err)
{
	struct copy *cp = ctx;
	(void)r;
	(void)cont;
	(void)count;
	cp->active = true;
	cp->left = size;
	/* As imapcopy does: step B until its writer took the literal; wait
	 * on A as well when the source found nothing. Here the "wait" is
	 * the A server sending its next 10000 bytes. */
	for (int i = 0; cp->left > 0 && i < 1000; i++) {
		int k;
		cp->starved = false;
		k = imapc_step(cp->b->e, err);
		if (k < 0)
			return -1;
		if (k > 0 || cp->left == 0)
			continue;
		if (!cp->starved)
			return err_set(err, ERR_INTERNAL, "B stuck");
		cp->waits++;
		{
			struct imapc *ws[2] = {cp->b->e, cp->a->e};
			size_t n = BIG - cp->sent_a < 10000 ? BIG - cp->sent_a
							    : 10000;
			/* Nothing ready before A's server speaks. */
			if (imapc_wait(ws, 2, 0, err) != 0)
				return err_set(err, ERR_INTERNAL,
				    "ready with nothing to do");
			say_pattern(cp->a, cp->sent_a, n);
			cp->sent_a += n;
			if (cp->sent_a == BIG)
				say(cp->a, ")\r\n1 OK fetched\r\n");
			if (imapc_wait(ws, 2, TMO, err) != 1)
				return err_set(err, ERR_INTERNAL, "not woken");
		}
	}
	cp->active = false;
	return cp->left == 0 ? 1 : -1;
}

static void
test_copy_nb(void)
{
	struct peer a, b;
	struct copy cp = {{0}, &a, &b, 0, false, false, 0, 0, 0};
	struct done db = {0};
	struct imapc_handlers ha = {NULL, copy_literal, NULL, on_done, &cp};
	struct imapc_handlers hb = {NULL, NULL, NULL, on_done, &db};
	struct imap_cmd *app, *fetch;
	static char got[BIG + 256];
	char want[64];
	struct err err;
	bool same = true;

	test_begin("imapc: A's literal streamed into B's APPEND with "
		   "literal_read_nb, B sleeping while A has nothing");
	peer_open(&a);
	peer_open(&b);
	say(&a, "* OK A\r\n");
	say(&b, "* OK [CAPABILITY IMAP4rev1 LITERAL+] B\r\n");
	app = imap_cmd_new("APPEND");
	imap_cmd_mailbox_wire(app, "INBOX");
	imap_cmd_literal_stream(app, BIG, false, copy_source, &cp);
	imapc_submit(b.e, app, &hb);
	fetch = imap_cmd_new("UID FETCH");
	imap_cmd_raw(fetch, "3 (BODY.PEEK[])");
	imapc_submit(a.e, fetch, &ha);
	test_assert(settle(b.e, &err) == 0);
	test_assert(settle(a.e, &err) == 0);
	test_assert(sleeps(b.e));
	snprintf(want, sizeof(want), "1 APPEND INBOX {%d+}\r\n", BIG);
	test_assert_str(heard(&b, got, sizeof(got)), want);
	test_assert_str(heard(&a, got, sizeof(got)),
	    "1 UID FETCH 3 (BODY.PEEK[])\r\n");
	snprintf(want, sizeof(want), "* 1 FETCH (UID 3 BODY[] {%d}\r\n", BIG);
	say(&a, want);
	say_pattern(&a, 0, 5000);
	cp.sent_a = 5000;
	test_assert(settle(a.e, &err) == 0);
	test_assert(cp.d.ok);
	test_assert(cp.left == 0 && cp.waits >= 6 && cp.agains >= cp.waits);
	/* B got the literal; its CRLF ends the APPEND. */
	test_assert(settle(b.e, &err) == 0);
	{
		size_t n = 0;
		ssize_t k;
		while (n < sizeof(got) &&
		    (k = read(b.fd, got + n, sizeof(got) - n)) > 0)
			n += (size_t)k;
		test_assert(n == BIG + 2);
		for (size_t i = 0; i < BIG && i < n; i++)
			if (got[i] != pattern(i))
				same = false;
		test_assert(same);
		test_assert(n < 2 || memcmp(got + n - 2, "\r\n", 2) == 0);
	}
	say(&b, "1 OK [APPENDUID 9 1] appended\r\n");
	test_assert(settle(b.e, &err) == 0);
	test_assert(db.ok);
	peer_close(&a);
	peer_close(&b);
	test_end();
}

int
main(void)
{
	test_literal_read_nb();
	test_blocked_source();
	test_no_spin();
	test_early_refusal();
	test_copy_nb();
	return test_exit();
}
