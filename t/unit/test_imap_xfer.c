#include "util.h"


#include "conn.h"
#include "enginepair.h"
#include "imap_xfer.h"
#include "imapc.h"
#include "test.h"

/* Two batches of a copy in flight (imap_xfer_start() with after): the
 * second APPEND goes before the first one's OK, its FETCH after the
 * first FETCH's end, its last byte only once released; when the first
 * fails, the second is given up without that byte. The servers are the
 * test itself, writing to its ends of two socketpairs between steps, so
 * that "the client has not sent it yet" is a fact, not a timeout. */

#define TMO 5000

struct peer {
	int fd;          /* the server's end */
	struct imapc *e; /* the engine on the other */
};

static void
peer_open(struct peer *p, const char *greeting)
{
	p->e = engine_pair(TMO, true, &p->fd);
	if (write(p->fd, greeting, strlen(greeting)) !=
	    (ssize_t)strlen(greeting))
		abort();
}

static void
peer_close(struct peer *p)
{
	imapc_free(&p->e);
	close(p->fd);
}

static void
say(struct peer *p, const char *s)
{
	if (write(p->fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
}

/* What the client sent since the last call. */
static const char *
heard(struct peer *p)
{
	static char buf[1024];
	size_t n = 0;
	ssize_t k;

	while (n + 1 < sizeof(buf) &&
	    (k = read(p->fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return buf;
}

/* Steps until a step makes no progress (bounded). */
static void
settle(struct imapc *e)
{
	struct err err;
	for (int i = 0; i < 1000 && imapc_step(e, &err) > 0; i++)
		;
}

static void
settle2(struct peer *a, struct peer *b)
{
	for (int i = 0; i < 3; i++) {
		settle(a->e);
		settle(b->e);
	}
}

static const struct imap_xfer_msg m1 = {1, 5, NULL, 0, NULL};
static const struct imap_xfer_msg m2 = {2, 6, NULL, 0, NULL};

/* The two batches started, the first one's body sent by the source:
 * the second APPEND follows the first at once. */
static void
two_started(struct peer *a, struct peer *b, struct imap_xfer_batch **b1,
    struct imap_xfer_batch **b2, struct imap_xfer *x)
{
	struct err err;

	peer_open(a, "* OK A\r\n");
	peer_open(b, "* OK [CAPABILITY IMAP4rev1 LITERAL+ MULTIAPPEND] B\r\n");
	*x = (struct imap_xfer){a->e, b->e, "INBOX", TMO, NULL, NULL, NULL,
	    NULL};
	*b1 = imap_xfer_start(x, &m1, 1, NULL, &err);
	*b2 = imap_xfer_start(x, &m2, 1, *b1, &err);
	test_assert(*b1 != NULL && *b2 != NULL);
	settle2(a, b);
	test_assert_str(heard(b), "1 APPEND INBOX () {5+}\r\n");
	/* One FETCH at a time: a server may interleave two. */
	test_assert_str(heard(a), "1 UID FETCH 1 (BODY.PEEK[])\r\n");
	say(a, "* 1 FETCH (UID 1 BODY[] {5}\r\nhello)\r\n1 OK done\r\n");
	settle2(a, b);
	/* The second APPEND goes before the first one's OK. */
	test_assert_str(heard(b), "hello\r\n2 APPEND INBOX () {6+}\r\n");
	test_assert_str(heard(a), "");
}

/* two_started, then the first batch recorded (OK [APPENDUID 9 41], its
 * UIDVALIDITY in *uv, its UIDs in *u1) and the second one's body sent by
 * the source: all but its last byte has gone to b. */
static void
second_held(struct peer *a, struct peer *b, struct imap_xfer_batch **b1,
    struct imap_xfer_batch **b2, struct imap_xfer *x, uint32_t *uv,
    struct uidset *u1)
{
	struct err err;

	two_started(a, b, b1, b2, x);
	say(b, "1 OK [APPENDUID 9 41] done\r\n");
	test_assert(imap_xfer_finish(b1, uv, u1, &err) == 0);
	/* The first FETCH ended: the second one goes. */
	settle2(a, b);
	test_assert_str(heard(a), "2 UID FETCH 2 (BODY.PEEK[])\r\n");
	say(a, "* 2 FETCH (UID 2 BODY[] {6}\r\nworld!)\r\n2 OK done\r\n");
	settle2(a, b);
	test_assert_str(heard(b), "world");
}

static void
test_pipelined(void)
{
	struct peer a, b;
	struct imap_xfer x;
	struct imap_xfer_batch *b1, *b2;
	struct uidset u1 = UIDSET_INIT, u2 = UIDSET_INIT;
	uint32_t uv = 0;
	struct err err;

	test_begin("imap_xfer: two batches in flight, the second one's last "
		   "byte held until released");
	second_held(&a, &b, &b1, &b2, &x, &uv, &u1);
	test_assert(b1 == NULL && uv == 9 && uidset_has(&u1, 41));
	imap_xfer_go(b2);
	settle2(&a, &b);
	test_assert_str(heard(&b), "!\r\n");
	say(&b, "2 OK [APPENDUID 9 42] done\r\n");
	test_assert(imap_xfer_finish(&b2, &uv, &u2, &err) == 0);
	test_assert(uv == 9 && uidset_has(&u2, 42));
	uidset_free(&u1);
	uidset_free(&u2);
	peer_close(&a);
	peer_close(&b);
	test_end();
}

static void
test_not_recorded(void)
{
	struct peer a, b;
	struct imap_xfer x;
	struct imap_xfer_batch *b1, *b2;
	struct uidset u1 = UIDSET_INIT;
	uint32_t uv = 0;

	test_begin("imap_xfer: the first batch not recorded, the second given "
		   "up without its last byte");
	second_held(&a, &b, &b1, &b2, &x, &uv, &u1);
	/* Say the program could not record the first batch: the second
	 * goes, never completed on the wire. */
	imap_xfer_abort(&b2);
	test_assert(b2 == NULL);
	test_assert_str(heard(&b), "");
	test_assert(!imapc_usable(b.e));
	test_assert(imapc_usable(a.e));
	uidset_free(&u1);
	peer_close(&a);
	peer_close(&b);
	test_end();
}

static void
test_first_refused(void)
{
	struct peer a, b;
	struct imap_xfer x;
	struct imap_xfer_batch *b1, *b2;
	struct uidset u1 = UIDSET_INIT;
	uint32_t uv = 0;
	struct err err;

	test_begin("imap_xfer: the first batch refused, the second given up "
		   "without its last byte");
	two_started(&a, &b, &b1, &b2, &x);
	say(&b, "1 NO [OVERQUOTA] full\r\n");
	test_assert(imap_xfer_finish(&b1, &uv, &u1, &err) == -1);
	test_assert(err.kind == ERR_REFUSED && strstr(err.msg, "OVERQUOTA"));
	imap_xfer_abort(&b2);
	test_assert(b2 == NULL);
	/* The second FETCH never went, nor the rest of the APPEND. */
	settle2(&a, &b);
	test_assert_str(heard(&a), "");
	test_assert_str(heard(&b), "");
	test_assert(!imapc_usable(b.e));
	uidset_free(&u1);
	peer_close(&a);
	peer_close(&b);
	test_end();
}

int
main(void)
{
	test_pipelined();
	test_not_recorded();
	test_first_refused();
	return test_exit();
}
