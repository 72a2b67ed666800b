#include "util.h"

#include <signal.h>

#include "conn.h"
#include "enginepair.h"
#include "imap_cmd.h"
#include "imap_idle.h"
#include "imapc.h"
#include "imapscript.h"
#include "sigwait.h"
#include "test.h"

/* IDLE (common/imap_idle.c) against scripted servers (imapscript.h):
 * start, news, DONE; refusals; the server ending the IDLE itself; BYE and
 * loss; the wake flag. Every script also played with each byte in a write
 * of its own. */

#define TMO 5000
/* A wait that must end long before this: the server or the flag ends
 * it. Returning at all within it is what counts; a wait that overran it
 * ended by its timeout, not by what the test sent. */
#define LONG_WAIT 20000
#define QUICK 10000

static void
finish(struct imapc **e, struct imapscript *s, int line)
{
	imapc_free(e);
	engine_script_wait_at(s, __FILE__, line);
}

static void
begin(const char *what, bool split)
{
	test_begin_split("imap_idle", what, split);
}

static const volatile sig_atomic_t no_wake;

/* Reads the greeting (and its capabilities) with a NOOP. */
static void
greet(struct imapc *e)
{
	struct err err;
	char msg[400];
	if (imapc_run(e, imap_cmd_new("NOOP"), NULL, TMO, &err) < 0) {
		snprintf(msg, sizeof(msg), "greeting: %.300s", err.msg);
		test_fail_at(__FILE__, __LINE__, msg);
	}
}

#define GREETING "S: * OK [CAPABILITY IMAP4rev1 IDLE] hi\n" \
	"C: 1 NOOP\n"                                        \
	"S: 1 OK\n"

static void
test_news(bool split)
{
	static const char *const news[] = {
	    "* 4 EXISTS", "* 1 EXPUNGE", "* VANISHED 3:4"};
	char script[512];

	for (size_t i = 0; i < ARRAY_LEN(news); i++) {
		struct imap_idle idle;
		struct imapscript *s;
		struct imapc *e;
		struct err err;
		char what[100];

		snprintf(what, sizeof(what), "\"+\", then \"%s\": wait returns "
		    "1, DONE, the tagged OK", news[i]);
		begin(what, split);
		snprintf(script, sizeof(script), GREETING
		    "C: 2 IDLE\n"
		    "S: + idling\n"
		    "S: %s\n"
		    "C: DONE\n"
		    "S: 2 OK idle done\n"
		    "eof\n", news[i]);
		e = engine_scripted(script, split, TMO, &s);
		greet(e);
		test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
		test_assert(idle.accepted && !idle.ended);
		test_assert(imap_idle_wait(&idle, LONG_WAIT, &no_wake, &err) ==
		    1);
		test_assert(imap_idle_done(&idle, TMO, &err) == 0);
		test_assert(idle.ended && !idle.lost);
		test_assert(imapc_usable(e) && imapc_in_flight(e) == 0);
		finish(&e, s, __LINE__);
		test_end();
	}
}

/* The news right behind the "+", in the same read: imap_idle_start()
 * must not swallow it (it used to reset the change count after the
 * "+", so the wait slept through a message that arrived as the IDLE
 * began). Whole only: one write puts both in one read. */
static void
test_news_with_continuation(void)
{
	static const char script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\\r\\n* 5 EXISTS\n"
	    "C: DONE\n"
	    "S: 2 OK idle done\n"
	    "eof\n";
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, false, TMO, &s);
	struct err err;

	test_begin("imap_idle: news in the same packet as the \"+\" is "
		   "reported by the wait");
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	/* Would sleep its whole timeout if the EXISTS were forgotten. */
	test_assert(imap_idle_wait(&idle, 3000, &no_wake, &err) == 1);
	test_assert(imap_idle_done(&idle, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();
}

static void
test_old_news(bool split)
{
	static const char script[] =
	    "S: * OK [CAPABILITY IMAP4rev1 IDLE] hi\n"
	    "C: 1 NOOP\n"
	    "S: * 3 EXISTS\n"
	    "S: 1 OK\n"
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "C: DONE\n"
	    "S: 2 OK idle done\n"
	    "eof\n";
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, split, TMO, &s);
	struct err err;

	begin("changes reported before the IDLE are not news", split);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	test_assert(imap_idle_wait(&idle, 300, &no_wake, &err) == 0);
	test_assert(imap_idle_done(&idle, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();
}

static void
test_refused(bool split)
{
	static const char script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: 2 NO not now\n"
	    "C: 3 NOOP\n"
	    "S: 3 OK\n"
	    "eof\n";
	static const char at_once[] = GREETING
	    "C: 2 IDLE\n"
	    "S: 2 OK nothing to wait for\n"
	    "eof\n";
	static const char no_cap[] =
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 NOOP\n"
	    "S: 1 OK\n"
	    "eof\n";
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e;
	struct err err;

	begin("a NO to IDLE: start fails with ERR_REFUSED, the connection "
	      "goes on", split);
	e = engine_scripted(script, split, TMO, &s);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == -1);
	test_assert(err.kind == ERR_REFUSED);
	test_assert_str(err.msg, "test: IDLE refused: NO not now");
	test_assert(imapc_usable(e) && imapc_in_flight(e) == 0);
	test_assert(imapc_run(e, imap_cmd_new("NOOP"), NULL, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();

	begin("a tagged OK to IDLE without \"+\": start fails", split);
	e = engine_scripted(at_once, split, TMO, &s);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == -1);
	test_assert(err.kind == ERR_PROTO);
	test_assert_str(err.msg, "test: IDLE ended at once");
	finish(&e, s, __LINE__);
	test_end();

	begin("no IDLE capability: ERR_REFUSED, nothing sent", split);
	e = engine_scripted(no_cap, split, TMO, &s);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == -1);
	test_assert(err.kind == ERR_REFUSED);
	test_assert(strstr(err.msg, "does not support IDLE") != NULL);
	finish(&e, s, __LINE__);
	test_end();
}

static void
test_server_ends(bool split)
{
	static const char ok_script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "S: 2 OK IDLE terminated (timeout)\n"
	    /* No DONE: the IDLE is over. */
	    "C: 3 NOOP\n"
	    "S: 3 OK\n"
	    "eof\n";
	static const char no_script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "S: 2 NO [LIMIT] too many IDLEs\n"
	    "eof\n";
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e;
	struct err err;
	uint64_t t0;

	begin("the server ends the IDLE with OK: wait returns 0 at once, done "
	      "sends no DONE", split);
	e = engine_scripted(ok_script, split, TMO, &s);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	t0 = now_ms();
	test_assert(imap_idle_wait(&idle, LONG_WAIT, &no_wake, &err) == 0);
	test_assert(now_ms() - t0 < QUICK);
	test_assert(idle.ended && !idle.lost);
	test_assert(imap_idle_done(&idle, TMO, &err) == 0);
	test_assert(imapc_run(e, imap_cmd_new("NOOP"), NULL, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();

	begin("the server ends the IDLE with NO: wait returns 0, done reports "
	      "it", split);
	e = engine_scripted(no_script, split, TMO, &s);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	t0 = now_ms();
	test_assert(imap_idle_wait(&idle, LONG_WAIT, &no_wake, &err) == 0);
	test_assert(now_ms() - t0 < QUICK);
	err_clear(&err);
	test_assert(imap_idle_done(&idle, TMO, &err) == -1);
	test_assert(err.kind == ERR_PROTO);
	test_assert_str(err.msg,
	    "test: IDLE ended with NO too many IDLEs");
	finish(&e, s, __LINE__);
	test_end();
}

static void
test_bye(bool split)
{
	static const char close_script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "S: * BYE shutting down\n"
	    "close\n";
	static const char open_script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "S: * BYE shutting down\n"
	    "eof\n";
	static const char lost_script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "close\n";
	const char *scripts[] = {close_script, open_script, lost_script};
	const char *names[] = {
	    "BYE then close during the IDLE: wait fails with its text",
	    "BYE during the IDLE, the server keeping the connection: wait "
	    "fails with its text at once",
	    "the connection closed during the IDLE: wait fails"};

	for (size_t i = 0; i < ARRAY_LEN(scripts); i++) {
		struct imap_idle idle;
		struct imapscript *s;
		struct imapc *e;
		struct err err;
		uint64_t t0;

		begin(names[i], split);
		e = engine_scripted(scripts[i], split, TMO, &s);
		greet(e);
		test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
		t0 = now_ms();
		test_assert(imap_idle_wait(&idle, LONG_WAIT, &no_wake, &err) ==
		    -1);
		test_assert(now_ms() - t0 < QUICK);
		test_assert(err.kind == ERR_TEMP);
		test_assert_str(err.msg, i < 2
		    ? "test: server closed the connection: shutting down"
		    : "test: connection closed by the server");
		test_assert(!imapc_usable(e) && imapc_in_flight(e) == 0);
		test_assert(idle.ended && idle.lost);
		finish(&e, s, __LINE__);
		test_end();
	}
}

static void
test_wake(bool split)
{
	static const char script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "C: DONE\n"
	    "S: 2 OK idle done\n"
	    "eof\n";
	static volatile sig_atomic_t wake;
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e = engine_scripted(script, split, TMO, &s);
	struct err err;
	uint64_t t0;

	begin("the wake flag already set: wait returns 0 at once, done sends "
	      "DONE", split);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	wake = 1;
	t0 = now_ms();
	test_assert(imap_idle_wait(&idle, LONG_WAIT, &wake, &err) == 0);
	test_assert(now_ms() - t0 < QUICK);
	test_assert(imap_idle_done(&idle, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();
}

static volatile sig_atomic_t signalled;

static void
on_signal(int sig)
{
	(void)sig;
	signalled = 1;
}

/* Must be the first wait of the program: sigwait_test_hook() fires
 * once. */
static void
test_signal(void)
{
	static const char script[] = GREETING
	    "C: 2 IDLE\n"
	    "S: + idling\n"
	    "C: DONE\n"
	    "S: 2 OK idle done\n"
	    "eof\n";
	static const int sigs[] = {SIGUSR1, 0};
	struct imap_idle idle;
	struct imapscript *s;
	struct imapc *e;
	struct err err;
	char num[16];
	sigset_t usr1;
	uint64_t t0;

	test_begin("imap_idle: a signal between the flag's test and the "
		   "poll ends the wait at once");
	sigwait_install(sigs, on_signal);
	/* The signal goes to the process: the server's thread must not
	 * take it. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	e = engine_scripted(script, false, TMO, &s);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	greet(e);
	test_assert(imap_idle_start(&idle, e, TMO, &err) == 0);
	snprintf(num, sizeof(num), "%d", SIGUSR1);
	sigwait_set_test_env("TEST_IMAP_IDLE_WAIT_SIGNAL");
	setenv("TEST_IMAP_IDLE_WAIT_SIGNAL", num, 1);
	t0 = now_ms();
	test_assert(imap_idle_wait(&idle, LONG_WAIT, &signalled, &err) == 0);
	test_assert(now_ms() - t0 < QUICK);
	test_assert(signalled);
	unsetenv("TEST_IMAP_IDLE_WAIT_SIGNAL");
	test_assert(imap_idle_done(&idle, TMO, &err) == 0);
	finish(&e, s, __LINE__);
	test_end();
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_signal();
	test_news_with_continuation();
	for (int split = 0; split <= 1; split++) {
		test_news(split);
		test_old_news(split);
		test_refused(split);
		test_server_ends(split);
		test_bye(split);
		test_wake(split);
	}
	return test_exit();
}
