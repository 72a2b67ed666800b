/* interimap/cli.c: the command line as the reference's Getopt::Long
 * configuration reads it. The expectations were checked against Perl
 * (Getopt::Long 2.52 with the reference's configuration) and
 * /usr/bin/interimap 0.5.7; the few deliberate differences are marked
 * "ours". */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "test.h"

#define MAXARGS 10

/* rc -1: parsed; then the fields. watch 0: no --watch. mailboxes: the
 * MAILBOX arguments joined with '|'. */
struct ok_case {
	const char *name;
	const char *args[MAXARGS];
	const char *config;
	bool quiet;
	int debug;
	unsigned watch;
	bool notify;
	enum icli_command command;
	unsigned targets;
	const char *mailboxes;
};

static const struct ok_case ok_cases[] = {
	{ "nothing", { NULL }, NULL, false, 0, 0, false, ICLI_SYNC,
	    ICLI_TARGET_ALL, "" },
	{ "watch alone", { "--watch", NULL }, NULL, false, 0, 60, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch next word", { "--watch", "5", NULL }, NULL, false, 0, 5,
	    false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch=5", { "--watch=5", NULL }, NULL, false, 0, 5, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch +5", { "--watch", "+5", NULL }, NULL, false, 0, 5, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch 05", { "--watch", "05", NULL }, NULL, false, 0, 5, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch then a non-number", { "--watch", "5x", NULL }, NULL, false,
	    0, 60, false, ICLI_SYNC, ICLI_TARGET_ALL, "5x" },
	{ "watch then an option", { "--watch", "-q", NULL }, NULL, true, 0,
	    60, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch then --", { "--watch", "--", "x", NULL }, NULL, false, 0,
	    60, false, ICLI_SYNC, ICLI_TARGET_ALL, "x" },
	{ "watch= empty", { "--watch=", NULL }, NULL, false, 0, 60, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch=0 is the default", { "--watch=0", NULL }, NULL, false, 0,
	    60, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch=-0", { "--watch=-0", NULL }, NULL, false, 0, 60, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch max", { "--watch=2147483647", NULL }, NULL, false, 0,
	    2147483647u, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "watch: the last one wins", { "--watch=4", "--watch", NULL }, NULL,
	    false, 0, 60, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "notify implies watch 900", { "--notify", NULL }, NULL, false, 0,
	    900, true, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "notify with watch=3", { "--notify", "--watch=3", NULL }, NULL,
	    false, 0, 3, true, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "config: the last one wins", { "--config", "a", "--config=b", NULL },
	    "b", false, 0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "config takes an option-like word", { "--config", "--debug", NULL },
	    "--debug", false, 0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "config takes --", { "--config", "--", "x", NULL }, "--", false, 0,
	    0, false, ICLI_SYNC, ICLI_TARGET_ALL, "x" },
	{ "config= empty", { "--config=", NULL }, "", false, 0, 0, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "debug counts", { "--debug", "--debug", NULL }, NULL, false, 2, 0,
	    false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "-q and --q and --quiet", { "-q", "--q", "--quiet", "-qq", NULL },
	    NULL, true, 0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "options stop at the first argument", { "INBOX", "--debug", NULL },
	    NULL, false, 0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL,
	    "INBOX|--debug" },
	{ "-- ends options", { "-q", "--", "--debug", "-q", NULL }, NULL, true,
	    0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL, "--debug|-q" },
	{ "- is an argument", { "-", "--debug", NULL }, NULL, false, 0, 0,
	    false, ICLI_SYNC, ICLI_TARGET_ALL, "-|--debug" },
	{ "+q is an argument", { "+q", NULL }, NULL, false, 0, 0, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "+q" },
	{ "inbox in any case", { "inBoX", "INBOXes", "Inbox", NULL }, NULL,
	    false, 0, 0, false, ICLI_SYNC, ICLI_TARGET_ALL,
	    "INBOX|INBOXes|INBOX" },
	{ "bundle rest as a long option", { "-q-debug", NULL }, NULL, true, 1,
	    0, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "bundle rest takes the next word", { "-q-watch", "7", NULL }, NULL,
	    true, 0, 7, false, ICLI_SYNC, ICLI_TARGET_ALL, "" },
	{ "-q- is -q --", { "-q-", "--debug", NULL }, NULL, true, 0, 0, false,
	    ICLI_SYNC, ICLI_TARGET_ALL, "--debug" },
	{ "repair", { "--repair", "a", NULL }, NULL, false, 0, 0, false,
	    ICLI_REPAIR, ICLI_TARGET_ALL, "a" },
	{ "repair twice", { "--repair", "--repair", NULL }, NULL, false, 0, 0,
	    false, ICLI_REPAIR, ICLI_TARGET_ALL, "" },
	{ "delete", { "--delete", "a", "b/c", NULL }, NULL, false, 0, 0,
	    false, ICLI_DELETE, ICLI_TARGET_ALL, "a|b/c" },
	{ "rename", { "--rename", "a", "b", NULL }, NULL, false, 0, 0, false,
	    ICLI_RENAME, ICLI_TARGET_ALL, "a|b" },
	{ "targets repeated and comma-separated",
	    { "--target", "local", "--target=database,", "--delete", "x",
	    NULL }, NULL, false, 0, 0, false, ICLI_DELETE,
	    ICLI_TARGET_LOCAL | ICLI_TARGET_DATABASE, "x" },
	{ "target remote", { "--target=remote", "--rename", "x", "y", NULL },
	    NULL, false, 0, 0, false, ICLI_RENAME, ICLI_TARGET_REMOTE, "x|y" },
	{ "control bytes in a name", { "a\x01" "b", NULL }, NULL, false, 0, 0,
	    false, ICLI_SYNC, ICLI_TARGET_ALL, "a\x01" "b" },
	/* ours: --status, a command */
	{ "status (ours)", { "--status", NULL }, NULL, false, 0, 0, false,
	    ICLI_STATUS, ICLI_TARGET_ALL, "" },
	{ "status with patterns (ours)", { "-q", "--status", "inbox", "a/%",
	    NULL }, NULL, true, 0, 0, false, ICLI_STATUS, ICLI_TARGET_ALL,
	    "INBOX|a/%" },
	{ "status with config and debug (ours)", { "--status",
	    "--config=x", "--debug", NULL }, "x", false, 1, 0, false,
	    ICLI_STATUS, ICLI_TARGET_ALL, "" },
};

/* rc >= 0: what was printed. usage: the short usage ends err. */
struct exit_case {
	const char *name;
	const char *args[MAXARGS];
	int rc;
	const char *out;  /* substring of stdout, or NULL: nothing */
	const char *err;  /* substring of stderr */
	bool usage;
};

static const struct exit_case exit_cases[] = {
	{ "help", { "--help", NULL }, 0, NULL, "--rename SOURCE DEST", false },
	{ "-h", { "-h", NULL }, 0, NULL, "Usage: interimap [OPTIONS] "
	    "[MAILBOX ...]\n", false },
	{ "help names --status (ours)", { "--help", NULL }, 0, NULL,
	    "interimap [OPTIONS] --status [MAILBOX ...]\n", false },
	{ "--h", { "--h", NULL }, 0, NULL, "--delete MAILBOX ...", false },
	{ "-qh", { "-qh", NULL }, 0, NULL, "--repair [MAILBOX ...]", false },
	{ "help before the command checks",
	    { "--repair", "--delete", "--watch", "--help", NULL }, 0, NULL,
	    "See interimap(1)", false },
	{ "help after a mailbox is a mailbox", { "x", "--help", NULL }, -1,
	    NULL, NULL, false },
	{ "version", { "--version", NULL }, 0, "interimap version ", "",
	    false },
	{ "version after an unknown option", { "--bogus", "--version", NULL },
	    0, "interimap version ", "unknown option --bogus", false },
	{ "version stops parsing", { "--version", "--bogus", NULL }, 0,
	    "interimap version ", "", false },
	{ "version after a bad watch", { "--watch=abc", "--version", NULL },
	    0, "interimap version ", "--watch=abc", false },
	{ "unknown option", { "--wat=3", NULL }, 1, NULL,
	    "unknown option --wat\n", true },
	{ "no abbreviation", { "--rep", NULL }, 1, NULL,
	    "unknown option --rep\n", true },
	{ "case-sensitive", { "--Quiet", NULL }, 1, NULL,
	    "unknown option --Quiet", true },
	{ "-d", { "-d", NULL }, 1, NULL, "unknown option -d", true },
	{ "-Q", { "-Q", NULL }, 1, NULL, "unknown option -Q", true },
	{ "-V", { "-V", NULL }, 1, NULL, "unknown option -V", true },
	{ "---x", { "---x", NULL }, 1, NULL, "unknown option ---x", true },
	{ "--=foo", { "--=foo", NULL }, 1, NULL, "unknown option --=foo",
	    true },
	{ "bad letter in a bundle", { "-qx", NULL }, 1, NULL,
	    "unknown option -x", true },
	{ "digit in a bundle", { "-q5", NULL }, 1, NULL, "unknown option -5",
	    true },
	{ "bundle rest as a bad long option", { "-q-x", NULL }, 1, NULL,
	    "unknown option --x", true },
	{ "every bad letter", { "-qab", NULL }, 1, NULL,
	    "unknown option -a\ninterimap: unknown option -b\n", true },
	{ "quiet takes no value", { "--quiet=1", NULL }, 1, NULL,
	    "option --quiet takes no value", true },
	{ "debug takes no value", { "--debug=2", NULL }, 1, NULL,
	    "option --debug takes no value", true },
	{ "q takes no value", { "--q=1", NULL }, 1, NULL,
	    "option --q takes no value", true },
	{ "config needs a value", { "-q", "--config", NULL }, 1, NULL,
	    "option --config needs a value", true },
	{ "target needs a value", { "--target", NULL }, 1, NULL,
	    "option --target needs a value", true },
	{ "watch=abc", { "--watch=abc", NULL }, 1, NULL,
	    "--watch=abc: expected a number of seconds", true },
	{ "watch=5x", { "--watch=5x", NULL }, 1, NULL, "--watch=5x", true },
	{ "watch= 5", { "--watch= 5", NULL }, 1, NULL, "--watch= 5", true },
	{ "watch=+", { "--watch=+", NULL }, 1, NULL, "--watch=+", true },
	/* ours: the reference takes negative and huge values */
	{ "watch=-5 (ours)", { "--watch=-5", NULL }, 1, NULL,
	    "out of range", true },
	{ "watch -5 (ours)", { "--watch", "-5", NULL }, 1, NULL,
	    "out of range", true },
	{ "watch too large (ours)", { "--watch=2147483648", NULL }, 1, NULL,
	    "out of range", true },
	{ "watch far too large (ours)", { "--watch=99999999999999999999",
	    NULL }, 1, NULL, "out of range", true },
	{ "errors and help", { "--help", "--bogus", NULL }, 1, NULL,
	    "unknown option --bogus", true },
	{ "two commands", { "--repair", "--delete", "x", NULL }, 1, NULL,
	    "exclude each other", true },
	{ "status and repair (ours)", { "--status", "--repair", NULL }, 1,
	    NULL, "--repair, --delete, --rename and --status exclude each "
	    "other", true },
	{ "status and rename (ours)", { "--rename", "--status", "a", "b",
	    NULL }, 1, NULL, "exclude each other", true },
	{ "status and watch (ours)", { "--status", "--watch=5", NULL }, 1,
	    NULL, "--status can't be used with --watch or --notify", true },
	{ "status and notify (ours)", { "--notify", "--status", NULL }, 1,
	    NULL, "--status can't be used with --watch or --notify", true },
	{ "status and target (ours)", { "--status", "--target=local", NULL },
	    1, NULL, "--target only goes with --delete or --rename", true },
	{ "status takes no value (ours)", { "--status=x", NULL }, 1, NULL,
	    "option --status takes no value", true },
	{ "status: a non-ASCII pattern (ours)", { "--status", "\xff", NULL },
	    64, NULL, "invalid mailbox name", false },
	{ "delete without mailbox", { "--delete", NULL }, 1, NULL,
	    "--delete needs at least one MAILBOX", true },
	{ "rename with one", { "--rename", "a", NULL }, 1, NULL,
	    "--rename needs two mailboxes", true },
	{ "rename with three", { "--rename", "a", "b", "c", NULL }, 1, NULL,
	    "--rename needs two mailboxes", true },
	{ "repair and watch", { "--repair", "--watch", NULL }, 1, NULL,
	    "--repair can't be used with --watch or --notify", true },
	{ "delete and notify", { "--delete", "x", "--notify", NULL }, -1,
	    NULL, NULL, false },
	{ "delete and notify (before)", { "--notify", "--delete", "x", NULL },
	    1, NULL, "--delete can't be used with --watch or --notify", true },
	{ "rename and watch=0", { "--watch=0", "--rename", "a", "b", NULL }, 1,
	    NULL, "--rename can't be used", true },
	{ "target without command", { "--target=local", NULL }, 1, NULL,
	    "--target only goes with --delete or --rename", true },
	{ "target with repair", { "--target=local", "--repair", NULL }, 1,
	    NULL, "--target only goes with", true },
	{ "empty target with no command", { "--target=", NULL }, 1, NULL,
	    "--target only goes with", true },
	{ "invalid target", { "--target=foo", "--delete", "x", NULL }, 64,
	    NULL, "invalid --target value \"foo\"", false },
	{ "target with an inner empty field",
	    { "--target=local,,remote", "--delete", "x", NULL }, 64, NULL,
	    "invalid --target value \"\"", false },
	{ "target with a leading comma", { "--target=,local", "--delete", "x",
	    NULL }, 64, NULL, "invalid --target value \"\"", false },
	{ "target takes the next word", { "--target", "--delete", "--delete",
	    "x", NULL }, 64, NULL, "invalid --target value \"--delete\"",
	    false },
	/* ours: the reference goes on with no target at all */
	{ "empty target list (ours)", { "--target=", "--delete", "x", NULL },
	    64, NULL, "--target: empty list", false },
	{ "only commas (ours)", { "--target=,,", "--delete", "x", NULL }, 64,
	    NULL, "--target: empty list", false },
	{ "non-ASCII mailbox", { "caf\xc3\xa9", NULL }, 64, NULL,
	    "invalid mailbox name \"caf\\xC3\\xA9\"", false },
	{ "non-ASCII second mailbox", { "--delete", "INBOX", "\xff", NULL },
	    64, NULL, "invalid mailbox name \"\\xFF\"", false },
	{ "empty mailbox", { "", NULL }, 64, NULL, "invalid mailbox name \"\"",
	    false },
	{ "mailbox checked before targets", { "--target=foo", "--delete",
	    "\x80", NULL }, 64, NULL, "invalid mailbox name", false },
};

static int
count_args(const char *const *args)
{
	int n = 0;

	while (n < MAXARGS && args[n] != NULL)
		n++;
	return n;
}

/* Runs icli_parse on "interimap ARGS" (argv: room for MAXARGS + 2,
 * freed with free_argv() once o is no longer used); out_r/err_r: what it
 * printed (allocated). */
static int
run(const char *const *args, char **argv, struct icli *o, char **out_r,
    char **err_r)
{
	size_t olen, elen;
	FILE *out = open_memstream(out_r, &olen);
	FILE *err = open_memstream(err_r, &elen);
	int i, n = count_args(args), rc;

	if (out == NULL || err == NULL)
		abort();
	argv[0] = xstrdup("interimap");
	for (i = 0; i < n; i++)
		argv[i + 1] = xstrdup(args[i]);
	argv[n + 1] = NULL;
	rc = icli_parse(o, n + 1, argv, out, err);
	fclose(out);
	fclose(err);
	return rc;
}

static void
free_argv(char **argv)
{
	for (; *argv != NULL; argv++)
		free(*argv);
}

static char *
join(const struct icli *o)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < o->n_mailboxes; i++)
		len += strlen(o->mailboxes[i]) + 1;
	s = xcalloc(1, len);
	for (i = 0; i < o->n_mailboxes; i++) {
		if (i > 0)
			strcat(s, "|");
		strcat(s, o->mailboxes[i]);
	}
	return s;
}

static void
check_ok(const struct ok_case *c)
{
	char name[160], *out, *err, *argv[MAXARGS + 2], *mb;
	struct icli o;
	int rc;

	snprintf(name, sizeof(name), "parse: %s", c->name);
	test_begin(name);
	rc = run(c->args, argv, &o, &out, &err);
	test_assert(rc == -1);
	test_assert_str(err, "");
	test_assert_str(out, "");
	if (rc == -1) {
		test_assert_str(o.config, c->config);
		test_assert(o.quiet == c->quiet);
		test_assert(o.debug == c->debug);
		test_assert(o.watch == (c->watch != 0));
		test_assert(o.watch_secs == c->watch);
		test_assert(o.notify == c->notify);
		test_assert(o.command == c->command);
		test_assert(o.targets == c->targets);
		mb = join(&o);
		test_assert_str(mb, c->mailboxes);
		free(mb);
		icli_free(&o);
	}
	free_argv(argv);
	free(out);
	free(err);
	test_end();
}

static const char short_usage[] =
    "Usage: interimap [OPTIONS] [COMMAND] [MAILBOX ...]\n"
    "Run 'interimap --help' or see interimap(1) for more.\n";

static void
check_exit(const struct exit_case *c)
{
	char name[160], *out, *err, *argv[MAXARGS + 2];
	struct icli o;
	int rc;

	snprintf(name, sizeof(name), "exit: %s", c->name);
	test_begin(name);
	rc = run(c->args, argv, &o, &out, &err);
	if (rc < 0) {
		test_assert(c->rc == -1);
		icli_free(&o);
	} else {
		size_t elen = strlen(err), ulen = strlen(short_usage);

		test_assert(rc == c->rc);
		if (c->out == NULL)
			test_assert_str(out, "");
		else
			test_assert(strstr(out, c->out) == out);
		if (c->err != NULL)
			test_assert(strstr(err, c->err) != NULL);
		test_assert((elen >= ulen &&
		    strcmp(err + elen - ulen, short_usage) == 0) == c->usage);
		/* Usage errors: one line per problem, then the usage. */
		if (c->usage)
			test_assert(strncmp(err, "interimap: ", 11) == 0);
		/* Nothing is printed twice, and out only for --version. */
		if (c->rc == 0 && c->out != NULL)
			test_assert(strchr(out, '\n') == out + strlen(out) - 1);
	}
	free_argv(argv);
	free(out);
	free(err);
	test_end();
}

int
main(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(ok_cases); i++)
		check_ok(&ok_cases[i]);
	for (i = 0; i < ARRAY_LEN(exit_cases); i++)
		check_exit(&exit_cases[i]);

	test_begin("long usage names every option");
	{
		char *s;
		size_t len;
		FILE *f = open_memstream(&s, &len);
		static const char *const opts[] = { "--config=FILE",
			"--watch[=SECONDS]", "--notify", "-q|--quiet",
			"--debug", "--target=local,remote,database",
			"-h|--help", "--version", "--repair", "--delete",
			"--rename", "--status" };

		if (f == NULL)
			abort();
		icli_usage(f);
		fclose(f);
		for (i = 0; i < ARRAY_LEN(opts); i++)
			test_assert(strstr(s, opts[i]) != NULL);
		free(s);
	}
	test_end();
	return test_exit();
}
