/* interimap/iconf.c and interimap/mbfilter.c: the configuration file of
 * interimap as the reference reads it (lookup, sections, the key table,
 * defaults, the database path), and the mailbox selection keys. The
 * list-mailbox expectations were produced by running the reference's own
 * tokenizer (/usr/bin/interimap 0.5.7) on each input. */
#include "util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iconf.h"
#include "ilog.h"
#include "mbfilter.h"
#include "test.h"

static char tmpdir[64];

static char *
path_of(const char *rel)
{
	return xasprintf("%s/%s", tmpdir, rel);
}

static void
write_text(const char *rel, const char *text)
{
	char *p = path_of(rel);

	test_write_file(p, text, strlen(text));
	free(p);
}

static bool
is_dir_0700(const char *rel)
{
	char *p = path_of(rel);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700;

	free(p);
	return ok;
}

static bool
exists(const char *rel)
{
	char *p = path_of(rel);
	struct stat st;
	bool ok = stat(p, &st) == 0;

	free(p);
	return ok;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* A fresh $HOME (tmpdir/home) with neither XDG variable set. */
static void
fresh_home(void)
{
	char *home = path_of("home");

	nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(home, 0755);
	setenv("HOME", home, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_DATA_HOME");
	free(home);
}

/* Writes TEXT as ~/.config/interimap/config (directories made) and loads
 * it. */
static int
load_text(const char *text, struct iconf *ic, struct err *err)
{
	fresh_home();
	{
		char *d1 = path_of("home/.config");
		char *d2 = path_of("home/.config/interimap");
		char *d3 = path_of("home/.local");
		char *d4 = path_of("home/.local/share");

		mkdir(d1, 0755);
		mkdir(d2, 0700);
		mkdir(d3, 0755);
		mkdir(d4, 0755);
		free(d1);
		free(d2);
		free(d3);
		free(d4);
	}
	write_text("home/.config/interimap/config", text);
	return iconf_load(NULL, ic, err);
}

#define TUNNELS "type = tunnel\ncommand = false\n"

/* text fails to load with a message that contains want (after the
 * file's path when at_line is set: "PATH:LINE: ..."). */
struct bad_case {
	const char *name;
	const char *text;
	const char *want;
};

static const struct bad_case bad_cases[] = {
	{ "no [local]", TUNNELS "[remote]\n", "config: no such section: local" },
	{ "no [remote]", TUNNELS "[local]\n", "config: no such section: remote" },
	{ "no sections", TUNNELS, "no such section: local" },
	{ "unknown key, default section", "bogus = 1\n" TUNNELS
	    "[local]\n[remote]\n", "config:1: unknown option bogus" },
	{ "unknown key in [local]", TUNNELS "[local]\nbogus = 1\n[remote]\n",
	    "config:4: unknown option bogus" },
	{ "unknown key in [remote]", TUNNELS "[local]\n[remote]\nhost = h\n"
	    "Compress = yes\n", "config:6: unknown option Compress" },
	{ "pullimap's keys are unknown", TUNNELS "[local]\n[remote]\n"
	    "mailbox = INBOX\n", "config:5: unknown option mailbox" },
	{ "bad compress", TUNNELS "compress = maybe\n[local]\n[remote]\n",
	    "config:3: invalid value for compress: maybe" },
	{ "bad type in a side", "command = false\n[local]\ntype = tunnel\n"
	    "[remote]\ntype = pop3\n", "config:5: invalid value for type" },
	{ "tunnel without a command", "type = tunnel\n[local]\ncommand = x\n"
	    "[remote]\n", "type = tunnel needs a command" },
	{ "relative logfile", TUNNELS "logfile = log\n[local]\n[remote]\n",
	    "config:3: invalid value for logfile: log (expected an absolute" },
	{ "logfile /", TUNNELS "logfile = /\n[local]\n[remote]\n",
	    "invalid value for logfile" },
	{ "relative logfile in [local] (checked, not read)",
	    TUNNELS "[local]\nlogfile = log\n[remote]\n",
	    "config:4: invalid value for logfile" },
	{ "empty database", TUNNELS "database =\n[local]\n[remote]\n",
	    "config:3: invalid value for database: \"\" (must not be empty)" },
	{ "control byte in log-prefix", TUNNELS "log-prefix = a\x01\n"
	    "[local]\n[remote]\n", "invalid value for log-prefix" },
	{ "non-ASCII list-reference", TUNNELS "[local]\n[remote]\n"
	    "list-reference = caf\xc3\xa9\n", "config:5: invalid value for "
	    "list-reference" },
	{ "bad list-mailbox", TUNNELS "list-mailbox = a\"b\"\n[local]\n"
	    "[remote]\n", "config:3: invalid value for list-mailbox: a\"b\" "
	    "(no mailbox pattern at byte 2" },
	{ "empty quoted list-mailbox", TUNNELS "list-mailbox = \"\"\n[local]\n"
	    "[remote]\n", "invalid value for list-mailbox" },
	{ "empty list-mailbox", TUNNELS "list-mailbox =\n[local]\n[remote]\n",
	    "invalid value for list-mailbox: \"\" (must not be empty)" },
	{ "non-ASCII list-mailbox", TUNNELS "list-mailbox = \xc3\xa9\n"
	    "[local]\n[remote]\n", "invalid value for list-mailbox" },
	{ "bad list-mailbox in [remote] (checked, not read)",
	    TUNNELS "[local]\n[remote]\nlist-mailbox = (\n",
	    "config:5: invalid value for list-mailbox" },
	{ "bad list-select-opts", TUNNELS "list-select-opts = (SUBSCRIBED)\n"
	    "[local]\n[remote]\n", "config:3: invalid value for "
	    "list-select-opts: (SUBSCRIBED) (byte 1 (0x28)" },
	{ "bad ignore-mailbox", TUNNELS "ignore-mailbox = ^(virtual\n"
	    "[local]\n[remote]\n", "config:3: invalid value for "
	    "ignore-mailbox: ^(virtual (PCRE2: missing closing parenthesis "
	    "at offset 9)" },
	{ "bad ignore-mailbox in [local]", TUNNELS "[local]\n"
	    "ignore-mailbox = *\n[remote]\n", "config:4: invalid value for "
	    "ignore-mailbox: * (PCRE2: quantifier does not follow a "
	    "repeatable item at offset 0)" },
	{ "the default section is checked first",
	    TUNNELS "a = 1\n[remote]\nb = 2\n", "config:3: unknown option a" },
};

static void
test_bad_cases(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char name[160];
		struct iconf ic;
		struct err err;

		snprintf(name, sizeof(name), "refused: %s", c->name);
		test_begin(name);
		err_clear(&err);
		test_assert(load_text(c->text, &ic, &err) == -1);
		test_assert(err.kind == ERR_CONFIG);
		if (strstr(err.msg, c->want) == NULL)
			test_assert_str(err.msg, c->want);
		/* Freed and zeroed on failure. */
		test_assert(ic.conf == NULL && ic.database == NULL);
		test_end();
	}
}

static void
test_lookup(void)
{
	struct iconf ic;
	struct err err;
	char *want, *xdg;

	test_begin("lookup: missing ~/.config is an error, nothing made");
	fresh_home();
	test_assert(iconf_load(NULL, &ic, &err) == -1);
	test_assert(err.kind == ERR_CONFIG);
	test_assert(strstr(err.msg, "no such directory: ") != NULL);
	test_assert(strstr(err.msg, "home/.config") != NULL);
	test_assert(!exists("home/.config"));
	test_end();

	test_begin("lookup: interimap/ made 0700 though the file is missing");
	fresh_home();
	{
		char *d = path_of("home/.config");

		mkdir(d, 0755);
		free(d);
	}
	test_assert(iconf_load(NULL, &ic, &err) == -1);
	test_assert(err.kind == ERR_CONFIG);
	want = path_of("home/.config/interimap/config");
	test_assert(strstr(err.msg, want) == err.msg);
	free(want);
	test_assert(is_dir_0700("home/.config/interimap"));
	test_end();

	test_begin("lookup: $XDG_CONFIG_HOME and a relative --config");
	fresh_home();
	xdg = path_of("xdgc");
	mkdir(xdg, 0755);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	{
		char *d = path_of("xdgd");

		mkdir(d, 0755);
		setenv("XDG_DATA_HOME", d, 1);
		free(d);
	}
	{
		char *d = path_of("xdgc/interimap");

		mkdir(d, 0700);
		free(d);
	}
	write_text("xdgc/interimap/other", TUNNELS "[local]\n[remote]\n");
	test_assert(iconf_load("other", &ic, &err) == 0);
	want = path_of("xdgc/interimap/other");
	test_assert_str(ic.config_path, want);
	free(want);
	want = path_of("xdgd/interimap/localhost.db");
	test_assert_str(ic.database, want);
	free(want);
	test_assert(is_dir_0700("xdgd/interimap"));
	iconf_free(&ic);
	test_assert(ic.conf == NULL);
	free(xdg);
	test_end();

	test_begin("lookup: an absolute --config makes no directory");
	fresh_home();
	write_text("abs.conf", "database = /nowhere/x.db\n" TUNNELS
	    "[local]\n[remote]\n");
	want = path_of("abs.conf");
	test_assert(iconf_load(want, &ic, &err) == 0);
	test_assert_str(ic.config_path, want);
	test_assert_str(ic.database, "/nowhere/x.db");
	test_assert(!exists("home/.config") && !exists("home/.local"));
	iconf_free(&ic);
	free(want);
	test_end();

	test_begin("lookup: missing ~/.local/share is an error");
	fresh_home();
	write_text("abs.conf", TUNNELS "[local]\n[remote]\n");
	want = path_of("abs.conf");
	test_assert(iconf_load(want, &ic, &err) == -1);
	test_assert(strstr(err.msg, "no such directory: ") != NULL);
	test_assert(strstr(err.msg, "home/.local/share") != NULL);
	free(want);
	test_end();

	test_begin("lookup: empty or control-character names are refused");
	fresh_home();
	test_assert(iconf_load("", &ic, &err) == -1);
	test_assert(err.kind == ERR_CONFIG);
	test_assert(iconf_load("a\tb", &ic, &err) == -1);
	test_assert(err.kind == ERR_CONFIG);
	test_assert(!exists("home/.config"));
	test_end();
}

static void
test_values(void)
{
	struct iconf ic;
	struct err err;
	char *want;

	test_begin("defaults: both sides, compress, database, prefix");
	test_assert(load_text(TUNNELS "[local]\n[remote]\n", &ic, &err) == 0);
	test_assert_str(ic.side[ICONF_LOCAL].name, "local");
	test_assert_str(ic.side[ICONF_REMOTE].name, "remote");
	test_assert(ic.side[ICONF_LOCAL].imap.type == IMAP_TYPE_TUNNEL);
	test_assert(ic.side[ICONF_REMOTE].imap.type == IMAP_TYPE_TUNNEL);
	test_assert_str(ic.side[ICONF_REMOTE].imap.command, "false");
	test_assert(!ic.side[ICONF_LOCAL].imap.compress);
	test_assert(ic.side[ICONF_REMOTE].imap.compress);
	test_assert_str(ic.side[ICONF_LOCAL].list_reference, "");
	want = path_of("home/.local/share/interimap/localhost.db");
	test_assert_str(ic.database, want);
	free(want);
	test_assert(is_dir_0700("home/.local/share/interimap"));
	/* The directory only: the database module creates the file. */
	test_assert(!exists("home/.local/share/interimap/localhost.db"));
	test_assert(ic.logfile == NULL);
	test_assert_str(ic.log_prefix, ILOG_DEFAULT_FORMAT);
	test_assert(ic.filter.n_patterns == 0);
	test_assert(ic.filter.select_opts == NULL);
	test_assert(ic.filter.ignore == NULL);
	iconf_free(&ic);
	test_end();

	test_begin("defaults: imaps, ports, hosts; database from remote host");
	test_assert(load_text("[local]\nhost = l.example\n[remote]\n"
	    "host = imap.example.net\ntype = imap\n", &ic, &err) == 0);
	test_assert(ic.side[ICONF_LOCAL].imap.type == IMAP_TYPE_IMAPS);
	test_assert_str(ic.side[ICONF_LOCAL].imap.port, "993");
	test_assert_str(ic.side[ICONF_REMOTE].imap.port, "143");
	test_assert(ic.side[ICONF_REMOTE].imap.starttls);
	want = path_of("home/.local/share/interimap/imap.example.net.db");
	test_assert_str(ic.database, want);
	free(want);
	iconf_free(&ic);
	test_end();

	test_begin("default section overridden per side");
	test_assert(load_text("type = imap\nhost = both\nSTARTTLS = no\n"
	    "compress = yes\n[local]\ntype = tunnel\ncommand = false\n"
	    "[remote]\nhost = r\ncompress = NO\n", &ic, &err) == 0);
	test_assert(ic.side[ICONF_LOCAL].imap.type == IMAP_TYPE_TUNNEL);
	test_assert(ic.side[ICONF_REMOTE].imap.type == IMAP_TYPE_IMAP);
	test_assert_str(ic.side[ICONF_REMOTE].imap.host, "r");
	test_assert(!ic.side[ICONF_REMOTE].imap.starttls);
	/* compress set in the default section: the local side too */
	test_assert(ic.side[ICONF_LOCAL].imap.compress);
	test_assert(!ic.side[ICONF_REMOTE].imap.compress);
	want = path_of("home/.local/share/interimap/r.db");
	test_assert_str(ic.database, want);
	free(want);
	iconf_free(&ic);
	test_end();

	test_begin("compress = yes in [local]");
	test_assert(load_text(TUNNELS "[local]\ncompress = yes\n[remote]\n",
	    &ic, &err) == 0);
	test_assert(ic.side[ICONF_LOCAL].imap.compress);
	iconf_free(&ic);
	test_end();

	test_begin("interimap keys: read from the default section only");
	test_assert(load_text(TUNNELS "database = my.db\nlogfile = /tmp/x.log\n"
	    "log-prefix = [%n]\nlist-reference = all/\n"
	    "list-mailbox = INBOX \"sp ace\" \"foo\\0*\"\n"
	    "list-select-opts = subscribed\nignore-mailbox = ^Junk(?:\\x00|$)\n"
	    "[local]\ndatabase = other.db\nlogfile = /var/other.log\n"
	    "log-prefix = x\nlist-mailbox = other\nlist-select-opts = x\n"
	    "ignore-mailbox = x\n[remote]\nlist-reference = perso/\n",
	    &ic, &err) == 0);
	want = path_of("home/.local/share/interimap/my.db");
	test_assert_str(ic.database, want);
	free(want);
	test_assert_str(ic.logfile, "/tmp/x.log");
	test_assert_str(ic.log_prefix, "[%n]");
	test_assert_str(ic.side[ICONF_LOCAL].list_reference, "all/");
	test_assert_str(ic.side[ICONF_REMOTE].list_reference, "perso/");
	test_assert(ic.filter.n_patterns == 3);
	if (ic.filter.n_patterns == 3) {
		test_assert_str(ic.filter.patterns[0].name, "INBOX");
		test_assert(ic.filter.patterns[1].len == 6 &&
		    memcmp(ic.filter.patterns[1].name, "sp ace", 6) == 0);
		test_assert(ic.filter.patterns[2].len == 5 &&
		    memcmp(ic.filter.patterns[2].name, "foo\0*", 5) == 0);
	}
	test_assert_str(ic.filter.select_opts, "SUBSCRIBED");
	test_assert(mbfilter_ignored(&ic.filter, "Junk", 4, &err) == 1);
	test_assert(mbfilter_ignored(&ic.filter, "Junk\0x", 6, &err) == 1);
	test_assert(mbfilter_ignored(&ic.filter, "JunkFood", 8, &err) == 0);
	test_assert(mbfilter_ignored(&ic.filter, "x", 1, &err) == 0);
	iconf_free(&ic);
	test_end();

	test_begin("empty values: log-prefix, list-reference, select-opts");
	test_assert(load_text(TUNNELS "log-prefix =\nlist-reference =\n"
	    "list-select-opts =\n[local]\n[remote]\n", &ic, &err) == 0);
	test_assert_str(ic.log_prefix, "");
	test_assert_str(ic.side[ICONF_REMOTE].list_reference, "");
	test_assert(ic.filter.select_opts == NULL);
	iconf_free(&ic);
	test_end();

	test_begin("other sections are ignored");
	test_assert(load_text(TUNNELS "[local]\n[remote]\n[other]\nbogus = 1\n",
	    &ic, &err) == 0);
	iconf_free(&ic);
	test_end();

	test_begin("every key of the table is known");
	{
		static const char *const keys[] = { "database", "logfile",
			"log-prefix", "list-reference", "list-mailbox",
			"list-select-opts", "ignore-mailbox", "type", "host",
			"port", "proxy", "command", "STARTTLS", "auth",
			"username", "password", "null-stderr", "compress",
			"SSL_verify", "SSL_CAfile", "SSL_fingerprint" };
		size_t i;

		for (i = 0; i < ARRAY_LEN(keys); i++)
			test_assert(iconf_is_key(keys[i]));
		test_assert(!iconf_is_key("statefile"));
		test_assert(!iconf_is_key("Database"));
		test_assert(!iconf_is_key("starttls"));
	}
	test_end();
}

/* list-mailbox: input, then each pattern in hex separated by spaces, or
 * NULL when the reference refuses it. */
static const struct {
	const char *in, *want;
} list_cases[] = {
	{ "*", "2a" },
	{ "INBOX", "494e424f58" },
	{ "a b", "61 62" },
	{ "a   b\tc", "61 62 63" },
	{ "  a", "61" },
	{ "a \"b c\" \"d\\0e\\x41\\v\"", "61 622063 6400654176" },
	{ "\"foo\\x00*\"", "666f6f002a" },
	{ "\"foo\\0*\"", "666f6f002a" },
	{ "\"\\\"\\\\\\a\\b\\t\\n\\f\\r\"", "225c0708090a0c0d" },
	{ "\"\\x7e\\x7E\\xff\"", "7e7eff" },
	{ "\"\\0\"", "00" },
	{ "\"()[]{}\"", "28295b5d7b7d" },
	{ "]*%", "5d2a25" },
	{ "\"sp ace\" %", "737020616365 25" },
	{ "a ~ !", "61 7e 21" },
	{ "a\x0b" "b\x0c" "c", "61 62 63" },
	{ "\"\\x4\"", NULL },
	{ "\"\\x4g\"", NULL },
	{ "\"\\q\"", NULL },
	{ "\"\"", NULL },
	{ "\"a\"\"b\"", NULL },
	{ "a\"b\"", NULL },
	{ "\"a\"b", NULL },
	{ "c\\x00d", NULL },
	{ "(a)", NULL },
	{ "a)", NULL },
	{ "{3}", NULL },
	{ "\"a", NULL },
	{ "a\"", NULL },
	{ "\"tab\tin\"", NULL },
	{ "a \x01", NULL },
};

static void
test_list_mailbox(void)
{
	size_t i, j, k;

	for (i = 0; i < ARRAY_LEN(list_cases); i++) {
		struct mbfilter f;
		struct err err;
		char name[128], got[256];
		int rc;

		snprintf(name, sizeof(name), "list-mailbox: case %zu", i + 1);
		test_begin(name);
		memset(&f, 0, sizeof(f));
		rc = mbfilter_set_list(&f, list_cases[i].in, &err);
		if (list_cases[i].want == NULL) {
			test_assert(rc == -1);
			test_assert(err.kind == ERR_CONFIG);
			test_assert(f.n_patterns == 0 && f.patterns == NULL);
		} else {
			test_assert(rc == 0);
			got[0] = '\0';
			for (j = 0; j < f.n_patterns; j++) {
				if (j > 0)
					strcat(got, " ");
				for (k = 0; k < f.patterns[j].len; k++)
					snprintf(got + strlen(got), 3, "%02x",
					    (unsigned char)f.patterns[j].name[k]);
				/* NUL-terminated past len */
				test_assert(f.patterns[j].name[k] == '\0');
			}
			test_assert_str(got, list_cases[i].want);
		}
		mbfilter_free(&f);
		test_end();
	}

	test_begin("list-mailbox: the error says where reading stopped");
	{
		struct mbfilter f;
		struct err err;

		memset(&f, 0, sizeof(f));
		test_assert(mbfilter_set_list(&f, "a \"b\" (c", &err) == -1);
		test_assert(strstr(err.msg, "at byte 7") != NULL);
		mbfilter_free(&f);
	}
	test_end();
}

static void
test_select_and_ignore(void)
{
	struct mbfilter f;
	struct err err;

	test_begin("list-select-opts: upper-cased, charset checked");
	memset(&f, 0, sizeof(f));
	test_assert(mbfilter_set_select_opts(&f, "subscribed Remote", &err) == 0);
	test_assert_str(f.select_opts, "SUBSCRIBED REMOTE");
	test_assert(mbfilter_set_select_opts(&f, "", &err) == 0);
	test_assert(f.select_opts == NULL);
	test_assert(mbfilter_set_select_opts(&f, "a\"b", &err) == -1);
	test_assert(strstr(err.msg, "byte 2 (0x22)") != NULL);
	test_assert(mbfilter_set_select_opts(&f, "a%", &err) == -1);
	test_assert(mbfilter_set_select_opts(&f, "a{", &err) == -1);
	test_assert(mbfilter_set_select_opts(&f, "a]", &err) == -1);
	test_assert(mbfilter_set_select_opts(&f, "a\\", &err) == -1);
	test_assert(mbfilter_set_select_opts(&f, "~!#$&'+[^|", &err) == 0);
	test_assert_str(f.select_opts, "~!#$&'+[^|");
	mbfilter_free(&f);
	test_end();

	test_begin("ignore-mailbox: subjects with NUL bytes, unanchored");
	memset(&f, 0, sizeof(f));
	test_assert(mbfilter_ignored(&f, "x", 1, &err) == 0);
	test_assert(mbfilter_set_ignore(&f, "^virtual(?:\\x00|$)", &err) == 0);
	test_assert(mbfilter_ignored(&f, "virtual", 7, &err) == 1);
	test_assert(mbfilter_ignored(&f, "virtual\0a", 9, &err) == 1);
	test_assert(mbfilter_ignored(&f, "virtualx", 8, &err) == 0);
	test_assert(mbfilter_ignored(&f, "a\0virtual", 9, &err) == 0);
	/* Replaced by a second call; the subject's length is used. */
	test_assert(mbfilter_set_ignore(&f, "b$", &err) == 0);
	test_assert(mbfilter_ignored(&f, "a\0b", 3, &err) == 1);
	test_assert(mbfilter_ignored(&f, "a\0bc", 3, &err) == 1);
	test_assert(mbfilter_ignored(&f, "a\0bc", 4, &err) == 0);
	test_assert(mbfilter_set_ignore(&f, "Junk", &err) == 0);
	test_assert(mbfilter_ignored(&f, "a\0Junk\0b", 8, &err) == 1);
	mbfilter_free(&f);
	test_assert(f.ignore == NULL);
	test_end();

	test_begin("ignore-mailbox: PCRE2's message and offset");
	memset(&f, 0, sizeof(f));
	test_assert(mbfilter_set_ignore(&f, "a[", &err) == -1);
	test_assert_str(err.msg, "PCRE2: missing terminating ] for "
	    "character class at offset 2");
	test_assert(err.kind == ERR_CONFIG);
	test_assert(f.ignore == NULL);
	mbfilter_free(&f);
	test_end();
}

/* The sample shipped with the sources loads (t/run runs the tests from
 * the top of the tree). */
static void
test_sample(void)
{
	char cwd[4096], *path;
	struct iconf ic;
	struct err err;

	test_begin("interimap.sample loads");
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		abort();
	path = xasprintf("%s/interimap.sample", cwd);
	fresh_home();
	{
		char *d3 = path_of("home/.local"), *d4 = path_of("home/.local/share");

		mkdir(d3, 0755);
		mkdir(d4, 0755);
		free(d3);
		free(d4);
	}
	err_clear(&err);
	test_assert(iconf_load(path, &ic, &err) == 0);
	test_assert_str(err.msg, "");
	if (ic.conf != NULL) {
		test_assert(ic.side[ICONF_LOCAL].imap.type == IMAP_TYPE_TUNNEL);
		test_assert(ic.side[ICONF_LOCAL].imap.null_stderr);
		test_assert(!ic.side[ICONF_LOCAL].imap.compress);
		test_assert(ic.side[ICONF_REMOTE].imap.compress);
		test_assert_str(ic.side[ICONF_REMOTE].imap.host,
		    "imap.example.net");
		test_assert(strstr(ic.database, "/interimap/imap.example.net.db")
		    != NULL);
		test_assert_str(ic.filter.select_opts, "SUBSCRIBED");
		test_assert(mbfilter_ignored(&ic.filter, "virtual\0x", 9,
		    &err) == 1);
	}
	iconf_free(&ic);
	free(path);
	test_end();
}

int
main(void)
{
	char *d;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_iconf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_lookup();
	test_values();
	test_bad_cases();
	test_list_mailbox();
	test_select_and_ignore();
	test_sample();
	d = xstrdup(tmpdir);
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
	return test_exit();
}
