#include "util.h"


#include "capture.h"
#include "conn.h"
#include "enginepair.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "imapscript.h"
#include "log.h"
#include "test.h"

/* The engine's --debug trace against scripted servers (imapscript.h): the
 * WIRE shape (interimap's, the reference's) with --debug once and twice:
 * the reference's tags, a hidden login (AUTHENTICATE with its SASL
 * exchange, LOGIN refused), literals each way left out, a refused
 * synchronizing literal; and the PARSED shape (pullimap's) unchanged.
 * Every script also played with each byte in a write of its own. */

#define TMO 5000

static const char script[] =
    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
    "C: %s AUTHENTICATE PLAIN\n"
    "S: + \n"
    "C: AGZvbwBiYXI=\n"
    "S: * CAPABILITY IMAP4rev1 X\n"
    "S: %s OK [CAPABILITY IMAP4rev1] done\n"
    "C: %s LOGIN foo bar\n"
    "S: %s NO [AUTHENTICATIONFAILED] no\n"
    "C: %s APPEND INBOX {5}\n"
    "S: + go ahead\n"
    "C: hello\n"
    "S: %s OK appended\n"
    "C: %s APPEND INBOX {5}\n"
    "S: %s NO [TOOBIG] no room\n"
    "C: %s UID FETCH 1 (BODY.PEEK[])\n"
    "S: * 1 FETCH (UID 1 BODY[] {5}\\r\\nworld)\n"
    "S: %s OK done\n"
    "eof\n";

static int
sasl_answer(void *ctx, const struct imap_resp *r, struct err *err)
{
	(void)r;
	(void)err;
	imapc_send_line(ctx, "AGZvbwBiYXI=", true);
	return 0;
}

static struct imap_cmd *
append(void)
{
	struct imap_cmd *c = imap_cmd_new("APPEND");
	struct err err;
	imap_cmd_mailbox_wire(c, "INBOX");
	if (imap_cmd_literal(c, "hello", 5, false, &err) < 0)
		abort();
	return c;
}

/* Plays the script with the engine configured as eo, at --debug level;
 * returns what went to stderr. */
static const char *
play(const struct imapc_opts *eo, int level, bool split)
{
	static char buf[sizeof(capture_buf)];
	const char *t = eo->ref_tags ? "000000" : "1";
	const char *t1 = eo->ref_tags ? "000001" : "2";
	const char *t2 = eo->ref_tags ? "000002" : "3";
	const char *t3 = eo->ref_tags ? "000003" : "4";
	const char *t4 = eo->ref_tags ? "000004" : "5";
	struct imapc_handlers auth = { NULL, NULL, sasl_answer, NULL, NULL };
	struct imapscript *s;
	struct imapc *e;
	struct imap_cmd *cmd;
	struct err err;

	snprintf(buf, sizeof(buf), script, t, t, t1, t1, t2, t2, t3, t3, t4,
	    t4);
	e = engine_scripted(buf, split, TMO, &s);
	imapc_configure(e, eo);
	auth.ctx = e;
	log_debug_level = level;
	capture_begin();
	cmd = imap_cmd_new("AUTHENTICATE");
	imap_cmd_atom(cmd, "PLAIN");
	test_assert(imapc_run(e, cmd, &auth, TMO, &err) == 0);
	cmd = imap_cmd_new("LOGIN");
	imap_cmd_set_secret(cmd);
	imap_cmd_atom(cmd, "foo");
	imap_cmd_atom(cmd, "bar");
	test_assert(imapc_run(e, cmd, NULL, TMO, &err) < 0);
	test_assert(imapc_run(e, append(), NULL, TMO, &err) == 0);
	test_assert(imapc_run(e, append(), NULL, TMO, &err) < 0);
	cmd = imap_cmd_new("UID FETCH");
	imap_cmd_raw(cmd, "1 (BODY.PEEK[])");
	test_assert(imapc_run(e, cmd, NULL, TMO, &err) == 0);
	imapc_free(&e);
	memcpy(buf, capture_end(), sizeof(buf));
	log_debug_level = 0;
	engine_script_wait(s);
	return buf;
}

/* The wire trace after the login, at either level: literals left out. */
#define WIRE_AFTER_LOGIN                                                       \
	"remote: C: 000002 APPEND INBOX {5}\n"                                 \
	"remote: S: + go ahead\n"                                              \
	"remote: C: [...]\n"                                                   \
	"remote: S: 000002 OK appended\n"                                      \
	"remote: C: 000003 APPEND INBOX {5}\n"                                 \
	"remote: S: 000003 NO [TOOBIG] no room\n"                              \
	"remote: C: 000004 UID FETCH 1 (BODY.PEEK[])\n"                        \
	"remote: S: * 1 FETCH (UID 1 BODY[] {5}\n"                             \
	"remote: S: [...])\n"                                                  \
	"remote: S: 000004 OK done\n"

static void
test_wire(bool split)
{
	struct imapc_opts eo = { "remote: ", IMAPC_TRACE_WIRE, true };

	log_set_prefix_sep("");
	test_begin(split ? "wire, --debug: split at every byte" :
	    "wire, --debug: the reference's tags, the login hidden, "
	    "literals left out");
	test_assert_str(play(&eo, 1, split),
	    "remote: S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
	    "remote: C: xxx AUTHENTICATE PLAIN [REDACTED]\n"
	    "remote: S: xxx OK [CAPABILITY IMAP4rev1] done\n"
	    /* refused: the reference has died by then, saying why */
	    "remote: C: xxx LOGIN [REDACTED]\n"
	    WIRE_AFTER_LOGIN);
	test_end();

	test_begin(split ? "wire, --debug --debug: split at every byte" :
	    "wire, --debug --debug: the login as it went");
	test_assert_str(play(&eo, 2, split),
	    "remote: S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
	    "remote: C: 000000 AUTHENTICATE PLAIN\n"
	    "remote: S: + \n"
	    "remote: C: AGZvbwBiYXI=\n"
	    "remote: S: * CAPABILITY IMAP4rev1 X\n"
	    "remote: S: 000000 OK [CAPABILITY IMAP4rev1] done\n"
	    "remote: C: 000001 LOGIN foo bar\n"
	    "remote: S: 000001 NO [AUTHENTICATIONFAILED] no\n"
	    WIRE_AFTER_LOGIN);
	test_end();
	log_set_prefix_sep(NULL);
}

/* pullimap's shape, as it was. */
static void
test_parsed(void)
{
	struct imapc_opts eo = { "sect", IMAPC_TRACE_PARSED, false };

	test_begin("parsed, --debug: pullimap's trace unchanged");
	test_assert_str(play(&eo, 1, false),
	    "sect: test: S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
	    "sect: test: C: 1 AUTHENTICATE PLAIN\n"
	    "sect: test: S: + \n"
	    "sect: test: C: [REDACTED]\n"
	    "sect: test: S: * CAPABILITY IMAP4rev1 X\n"
	    "sect: test: S: 1 OK [CAPABILITY IMAP4rev1] done\n"
	    "sect: test: C: 2 LOGIN [REDACTED]\n"
	    "sect: test: S: 2 NO [AUTHENTICATIONFAILED] no\n"
	    "sect: test: C: 3 APPEND INBOX {5}[...]\n"
	    "sect: test: S: + go ahead\n"
	    "sect: test: S: 3 OK appended\n"
	    "sect: test: C: 4 APPEND INBOX {5}[...]\n"
	    "sect: test: S: 4 NO [TOOBIG] no room\n"
	    "sect: test: C: 5 UID FETCH 1 (BODY.PEEK[])\n"
	    "sect: test: S: * 1 FETCH (UID 1 BODY[] {5}\"world\")\n"
	    "sect: test: S: 5 OK done\n");
	test_end();
}

int
main(void)
{
	test_wire(false);
	test_wire(true);
	test_parsed();
	return test_exit();
}
