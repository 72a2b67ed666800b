#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "imap_auth.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "imapscript.h"
#include "test.h"

/* imap_login() (common/imap_auth.c) against scripted servers: greetings,
 * LOGIN, AUTHENTICATE PLAIN / XOAUTH2 / OAUTHBEARER with and without
 * SASL-IR, their failure reports, capabilities after login, COMPRESS
 * refused, LOGOUT.
 *
 * imap_login() makes its own connection, so the server is reached the
 * way a user's tunnel is: type = tunnel, the command being this very
 * program run as "--serve SCRIPT SPLIT RESULT", which plays the script
 * (imapscript.h) on its stdin/stdout and writes the outcome to RESULT.
 * No other program is needed. Every script is also played with each
 * byte in a write of its own. STARTTLS and imaps need TLS on the other
 * end: the end-to-end tests (t/pullimap) cover them against Dovecot. */

#define TMO 5000

static char self[4096], dir[256];

/* The server side, in the tunnel command's process. */
static int
serve(const char *script_path, const char *split, const char *result_path)
{
	struct imapscript s = {0};
	FILE *f = fopen(script_path, "r"), *out;
	static char script[65536];
	size_t n;

	/* A client that hangs up early is reported, not fatal. */
	signal(SIGPIPE, SIG_IGN);
	if (!f)
		return 1;
	n = fread(script, 1, sizeof(script) - 1, f);
	fclose(f);
	script[n] = '\0';
	s.fd = 0; /* stdin and stdout are one socket */
	s.split = strcmp(split, "1") == 0;
	s.script = script;
	imapscript_run(&s);
	out = fopen(result_path, "w");
	if (!out)
		return 1;
	fputs(s.rc == 0 ? "ok" : s.msg, out);
	fclose(out);
	return 0;
}

struct tunnel {
	char command[8192];
	char script[300], result[300];
};

/* Sets o up to reach a server playing script. */
static void
tunnel_start(struct tunnel *t, struct imap_opts *o, const char *script,
    bool split)
{
	static unsigned seq;
	FILE *f;

	seq++;
	snprintf(t->script, sizeof(t->script), "%s/script%u", dir, seq);
	snprintf(t->result, sizeof(t->result), "%s/result%u", dir, seq);
	f = fopen(t->script, "w");
	if (!f || fputs(script, f) < 0 || fclose(f) != 0)
		abort();
	snprintf(t->command, sizeof(t->command), "%s --serve %s %d %s", self,
	    t->script, split ? 1 : 0, t->result);
	o->type = IMAP_TYPE_TUNNEL;
	o->command = t->command;
	o->port = NULL;
}

/* After the engine was freed (which waits for the tunnel to exit): did
 * the server's script run as written? */
static void
tunnel_finish(struct tunnel *t, int line)
{
	char buf[600] = "", msg[420];
	FILE *f = fopen(t->result, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (strcmp(buf, "ok") != 0) {
		snprintf(msg, sizeof(msg), "server: %.400s",
		    f ? buf : "no result (the tunnel did not finish)");
		test_fail_at(__FILE__, line, msg);
		fprintf(stderr, "%s\n", msg);
	}
	unlink(t->script);
	unlink(t->result);
}

static void
begin(const char *what, bool split)
{
	test_begin_split("imap_auth", what, split);
}

static void
opts(struct imap_opts *o)
{
	imap_opts_init(o);
	o->username = "user";
	o->password = "secret";
	o->compress = false;
}

/* A login that must succeed: logs out and checks the script. */
struct ok_case {
	const char *name;
	const char *script;
	enum imap_auth auth[IMAP_AUTH_MAX];
	size_t n_auth;          /* 0: the defaults (PLAIN LOGIN) */
	const char *username, *password, *password_command;
	const char *cap_after;  /* a capability the session must have */
	const char *not_after;  /* one it must not have (pre-login) */
};

static const struct ok_case ok_cases[] = {
	{"PREAUTH greeting with capabilities: nothing to send",
	    "S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] ready\n"
	    "C: 1 LOGOUT\n"
	    "S: * BYE bye\n"
	    "S: 1 OK\n"
	    "eof\n",
	    {0}, 0, NULL, NULL, NULL, "IDLE", NULL},
	{"PREAUTH greeting without capabilities: CAPABILITY first",
	    "S: * PREAUTH ready\n"
	    "C: 1 CAPABILITY\n"
	    "S: * CAPABILITY IMAP4rev1 IDLE\n"
	    "S: 1 OK\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {0}, 0, NULL, NULL, NULL, "IDLE", NULL},
	{"LOGIN with an 8-bit password: a synchronizing literal",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user {5}\n"
	    "S: + go ahead\n"
	    "C: p\\xc3\\xa4ss\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {IMAP_AUTH_LOGIN}, 1, NULL, "p\xc3\xa4ss", NULL, "IDLE", NULL},
	{"LOGIN with LITERAL+: a non-synchronizing literal; quoted strings",
	    "S: * OK [CAPABILITY IMAP4rev1 LITERAL+] hi\n"
	    "C: 1 LOGIN \"john doe\" {7+}\n"
	    "C: \"p\\xc3\\xa4ss\\\\\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {IMAP_AUTH_LOGIN}, 1, "john doe", "\"p\xc3\xa4ss\\", NULL, "IDLE",
	    NULL},
	{"LOGIN with quotes and a backslash: a quoted string",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user \"a\\\\\"b\\\\\\\\c d\"\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {IMAP_AUTH_LOGIN}, 1, NULL, "a\"b\\c d", NULL, "IDLE", NULL},
	{"AUTHENTICATE PLAIN with SASL-IR: inline, capabilities from the OK",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\n"
	    "C: 1 AUTHENTICATE PLAIN AHVzZXIAc2VjcmV0\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {0}, 0, NULL, NULL, NULL, "IDLE", "SASL-IR"},
	{"AUTHENTICATE PLAIN without SASL-IR: after \"+\", then CAPABILITY "
	 "when the OK has none",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\n"
	    "C: 1 AUTHENTICATE PLAIN\n"
	    "S: + \n"
	    "C: AHVzZXIAc2VjcmV0\n"
	    "S: 1 OK logged in\n"
	    "C: 2 CAPABILITY\n"
	    "S: * CAPABILITY IMAP4rev1 IDLE\n"
	    "S: 2 OK\n"
	    "C: 3 LOGOUT\n"
	    "S: 3 OK\n"
	    "eof\n",
	    {0}, 0, NULL, NULL, NULL, "IDLE", "AUTH=PLAIN"},
	{"AUTHENTICATE after a bare \"+\" (no space)",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\n"
	    "C: 1 AUTHENTICATE PLAIN\n"
	    "S: +\n"
	    "C: AHVzZXIAc2VjcmV0\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {0}, 0, NULL, NULL, NULL, "IDLE", NULL},
	{"the first configured mechanism the server offers: OAUTHBEARER "
	 "before PLAIN, no host in a tunnel",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER] hi\n"
	    "C: 1 AUTHENTICATE OAUTHBEARER\n"
	    "S: + \n"
	    "C: bixhPXVzZXIsAWF1dGg9QmVhcmVyIHRvawEB\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] ok\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {IMAP_AUTH_XOAUTH2, IMAP_AUTH_OAUTHBEARER, IMAP_AUTH_PLAIN}, 3,
	    NULL, "tok", NULL, "IDLE", NULL},
	{"password-command: its first line is the secret",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user fromcmd\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\n"
	    "C: 2 LOGOUT\n"
	    "S: 2 OK\n"
	    "eof\n",
	    {IMAP_AUTH_LOGIN}, 1, NULL, NULL, "printf 'fromcmd\\nsecond\\n'",
	    "IDLE", NULL},
};

static void
test_ok(const struct ok_case *k, bool split)
{
	struct imap_opts o;
	struct tunnel t;
	struct imapc *c;
	struct err err;

	begin(k->name, split);
	opts(&o);
	if (k->n_auth) {
		memcpy(o.auth, k->auth, sizeof(o.auth));
		o.n_auth = k->n_auth;
	}
	if (k->username)
		o.username = k->username;
	if (k->password)
		o.password = k->password;
	if (k->password_command) {
		o.password = NULL;
		o.password_command = k->password_command;
	}
	tunnel_start(&t, &o, k->script, split);
	c = imap_login(&o, NULL, NULL, TMO, &err);
	if (!c) {
		char msg[420];
		snprintf(msg, sizeof(msg), "login: %.400s", err.msg);
		test_fail_at(__FILE__, __LINE__, msg);

	} else {
		test_assert(imapc_usable(c));
		test_assert_str(imapc_name(c), "tunnel");
		if (k->cap_after)
			test_assert(imapc_capable(c, k->cap_after));
		if (k->not_after)
			test_assert(!imapc_capable(c, k->not_after));
		imap_logout(&c);
	}
	tunnel_finish(&t, __LINE__);
	test_end();
}

/* A login that must fail: the error's kind and text. */
struct fail_case {
	const char *name;
	const char *script;
	enum imap_auth auth[IMAP_AUTH_MAX];
	size_t n_auth;
	const char *password; /* NULL: "secret"; "" for none */
	enum err_kind kind;
	const char *msg;      /* the whole message, or a prefix ending "*" */
	/* The client hangs up in the middle of the server's line: split,
	 * the script cannot finish it. */
	bool whole_only;
};

static const struct fail_case fail_cases[] = {
	{"BYE greeting",
	    "S: * BYE too many connections\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_TEMP,
	    "tunnel: server refused the connection: too many connections",
	    false},
	{"a greeting that is no IMAP status: not an IMAP server",
	    "S: * HELLO there\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_PROTO, "tunnel: not an IMAP greeting", false},
	{"an SSH banner: not an IMAP server",
	    "S: SSH-2.0-OpenSSH_9.2p1 Debian-2\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_PROTO, "tunnel: *", true},
	{"no IMAP4rev1",
	    "S: * OK [CAPABILITY IMAP2] hi\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_PROTO,
	    "tunnel: server lacks IMAP4rev1 capability", false},
	{"LOGINDISABLED: nothing sent",
	    "S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_AUTH,
	    "tunnel: logins are disabled by the server (it wants TLS: use "
	    "type = imaps or STARTTLS = YES)", false},
	{"no mechanism in common: nothing sent",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=GSSAPI] hi\n"
	    "eof\n",
	    {IMAP_AUTH_PLAIN, IMAP_AUTH_XOAUTH2}, 2, NULL, ERR_AUTH,
	    "tunnel: no authentication mechanism in common with the server",
	    false},
	{"no password: nothing sent",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "eof\n",
	    {0}, 0, "", ERR_CONFIG,
	    "tunnel: the server wants a login: set password or "
	    "password-command", false},
	{"LOGIN refused",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user secret\n"
	    "S: 1 NO [AUTHENTICATIONFAILED] Authentication failed.\n"
	    "eof\n",
	    {IMAP_AUTH_LOGIN}, 1, NULL, ERR_AUTH,
	    "authentication failed: tunnel: LOGIN failed: NO "
	    "[AUTHENTICATIONFAILED] Authentication failed.", false},
	{"AUTHENTICATE PLAIN refused",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\n"
	    "C: 1 AUTHENTICATE PLAIN AHVzZXIAc2VjcmV0\n"
	    "S: 1 NO [AUTHENTICATIONFAILED] Authentication failed.\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_AUTH,
	    "tunnel: authentication failed: NO [AUTHENTICATIONFAILED] "
	    "Authentication failed.", false},
	{"XOAUTH2's error challenge answered with an empty line, its "
	 "status in the message",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] hi\n"
	    "C: 1 AUTHENTICATE XOAUTH2 dXNlcj11c2VyAWF1dGg9QmVhcmVyIHRvawEB\n"
	    "S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUi"
	    "OiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\n"
	    "C: \n"
	    "S: 1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\n"
	    "eof\n",
	    {IMAP_AUTH_XOAUTH2}, 1, "tok", ERR_AUTH,
	    "tunnel: authentication failed: NO [AUTHENTICATIONFAILED] "
	    "Invalid credentials (Failure) (status 400)", false},
	{"OAUTHBEARER's error challenge answered with %x01, its status in "
	 "the message",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER SASL-IR] hi\n"
	    "C: 1 AUTHENTICATE OAUTHBEARER "
	    "bixhPXVzZXIsAWF1dGg9QmVhcmVyIHRvawEB\n"
	    "S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxl"
	    "X3Njb3BlIn0=\n"
	    "C: AQ==\n"
	    "S: 1 NO [AUTHENTICATIONFAILED] failed\n"
	    "eof\n",
	    {IMAP_AUTH_OAUTHBEARER}, 1, "tok", ERR_AUTH,
	    "tunnel: authentication failed: NO [AUTHENTICATIONFAILED] failed "
	    "(status invalid_token)", false},
	{"PLAIN with a second challenge: cancelled with \"*\"",
	    "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\n"
	    "C: 1 AUTHENTICATE PLAIN\n"
	    "S: + \n"
	    "C: AHVzZXIAc2VjcmV0\n"
	    "S: + bW9yZT8=\n"
	    "C: *\n"
	    "S: 1 BAD cancelled\n"
	    "eof\n",
	    {0}, 0, NULL, ERR_AUTH,
	    "tunnel: authentication failed: BAD cancelled", false},
	{"the connection lost during the login",
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user secret\n"
	    "close\n",
	    {IMAP_AUTH_LOGIN}, 1, NULL, ERR_TEMP,
	    "tunnel: connection closed by the server*", false},
};

static void
test_fail(const struct fail_case *k, bool split)
{
	struct imap_opts o;
	struct tunnel t;
	struct imapc *c;
	struct err err;
	size_t n = strlen(k->msg);

	if (split && k->whole_only)
		return;
	begin(k->name, split);
	opts(&o);
	if (k->n_auth) {
		memcpy(o.auth, k->auth, sizeof(o.auth));
		o.n_auth = k->n_auth;
	}
	if (k->password)
		o.password = k->password[0] ? k->password : NULL;
	tunnel_start(&t, &o, k->script, split);
	c = imap_login(&o, NULL, NULL, TMO, &err);
	test_assert(c == NULL);
	imap_logout(&c);
	test_assert(err.kind == k->kind);
	if (n > 0 && k->msg[n - 1] == '*') {
		if (strncmp(err.msg, k->msg, n - 1) != 0)
			test_assert_str(err.msg, k->msg);
	} else {
		test_assert_str(err.msg, k->msg);
	}
	tunnel_finish(&t, __LINE__);
	test_end();
}

static void
test_compress_refused(bool split)
{
	static const char script[] =
	    "S: * OK [CAPABILITY IMAP4rev1] hi\n"
	    "C: 1 LOGIN user secret\n"
	    "S: 1 OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] logged in\n"
	    "C: 2 COMPRESS DEFLATE\n"
	    "S: 2 NO [COMPRESSIONACTIVE] already\n"
	    "C: 3 NOOP\n"
	    "S: 3 OK\n"
	    "C: 4 LOGOUT\n"
	    "S: 4 OK\n"
	    "eof\n";
	struct imap_opts o;
	struct tunnel t;
	struct imapc *c;
	struct err err;

	begin("COMPRESS refused after login: the session goes on "
	      "uncompressed; a second call sends nothing", split);
	opts(&o);
	o.auth[0] = IMAP_AUTH_LOGIN;
	o.n_auth = 1;
	o.compress = true;
	tunnel_start(&t, &o, script, split);
	c = imap_login(&o, NULL, NULL, TMO, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(imap_compress(c, &o, TMO, &err) == 0);
		test_assert(imapc_usable(c));
		test_assert(!conn_is_deflate(imapc_conn(c)));
		test_assert(imapc_run(c, imap_cmd_new("NOOP"), NULL, TMO,
		    &err) == 0);
		imap_logout(&c);
	}
	tunnel_finish(&t, __LINE__);
	test_end();
}

int
main(int argc, char **argv)
{
	ssize_t n;

	if (argc == 5 && strcmp(argv[1], "--serve") == 0)
		return serve(argv[2], argv[3], argv[4]);
	signal(SIGPIPE, SIG_IGN);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 77;
	self[n] = '\0';
	snprintf(dir, sizeof(dir), "%s/test_imap_auth.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		abort();
	for (int split = 0; split <= 1; split++) {
		for (size_t i = 0; i < ARRAY_LEN(ok_cases); i++)
			test_ok(&ok_cases[i], split);
		for (size_t i = 0; i < ARRAY_LEN(fail_cases); i++)
			test_fail(&fail_cases[i], split);
		test_compress_refused(split);
	}
	rmdir(dir);
	return test_exit();
}
