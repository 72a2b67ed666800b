/* Configuration files: our libinih-based parser against Perl's Config::Tiny
 * 2.28 (the expected values below were produced by Config::Tiny itself and
 * are written down here: no perl at test time), the IMAP option
 * validation, pullimap's configuration, and pullimap.sample. */

#include "util.h"

#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "imap_conf.h"
#include "pull_conf.h"
#include "test.h"

static char tmpdir[64];

/* The value Config::Tiny gives for key in section (falling back to "_",
 * as pullimap does); want NULL: unset. err_line != 0: Tiny rejects the
 * text with a syntax error at that line. */
struct tiny_case {
	const char *name;
	const char *text;
	const char *section;
	const char *key;
	const char *want;
	int err_line;
};

static const struct tiny_case tiny_cases[] = {
	{ "space-semicolon-kept", "[s]\npassword = abc ;def\n",
	    "s", "password", "abc ;def", 0 },
	{ "semicolon-no-space", "[s]\npassword = abc;def\n",
	    "s", "password", "abc;def", 0 },
	{ "inline-comment", "[s]\npassword = abc ; def\n",
	    "s", "password", "abc", 0 },
	{ "trailing-semicolon", "[s]\npassword = abc ;\n",
	    "s", "password", "abc ;", 0 },
	{ "trailing-semicolon-space", "[s]\npassword = abc ; \n",
	    "s", "password", "abc ;", 0 },
	{ "trailing-semicolon-2spaces", "[s]\npassword = abc ;  \n",
	    "s", "password", "abc", 0 },
	{ "leftmost-comment", "[s]\npassword = a ;b ; c\n",
	    "s", "password", "a ;b", 0 },
	{ "tab-semicolon", "[s]\npassword = abc\t;def\n",
	    "s", "password", "abc\t;def", 0 },
	{ "tab-comment", "[s]\npassword = abc\t;\tdef\n",
	    "s", "password", "abc", 0 },
	{ "leading-semicolon", "[s]\npassword = ;abc\n",
	    "s", "password", ";abc", 0 },
	{ "leading-semicolon-nospace", "[s]\npassword=;abc\n",
	    "s", "password", ";abc", 0 },
	{ "hash-inside", "[s]\npassword = a#b\n",
	    "s", "password", "a#b", 0 },
	{ "space-hash", "[s]\npassword = a #b\n",
	    "s", "password", "a #b", 0 },
	{ "leading-hash", "[s]\npassword = #abc\n",
	    "s", "password", "#abc", 0 },
	{ "comment-lines", "# c\n; c\n   # c\n\t; c\n[s]\nk=v\n",
	    "s", "k", "v", 0 },
	{ "indented-key", "[s]\nhost = h\n  password = secret\n",
	    "s", "password", "secret", 0 },
	{ "indented-key-host", "[s]\nhost = h\n  password = secret\n",
	    "s", "host", "h", 0 },
	{ "indented-after-blank", "[s]\nhost = h\n\n\tpassword = secret\n",
	    "s", "password", "secret", 0 },
	{ "no-spaces", "[s]\nk=v\n",
	    "s", "k", "v", 0 },
	{ "duplicate-last-wins", "[s]\nk = 1\nk = 2\n",
	    "s", "k", "2", 0 },
	{ "section-merged", "[s]\nk = 1\n[t]\nx=1\n[s]\nj=2\n",
	    "s", "k", "1", 0 },
	{ "section-merged-2", "[s]\nk = 1\n[t]\nx=1\n[s]\nj=2\n",
	    "s", "j", "2", 0 },
	{ "section-separate", "[s]\nk = 1\n[t]\nx=1\n",
	    "t", "k", NULL, 0 },
	{ "default-section", "k = d\n[s]\nj=1\n",
	    "s", "k", "d", 0 },
	{ "default-overridden", "k = d\n[s]\nk=1\n",
	    "s", "k", "1", 0 },
	{ "default-underscore", "[_]\nk = d\n[s]\nj=1\n",
	    "s", "k", "d", 0 },
	{ "section-trimmed", "[ s ]\nk=v\n",
	    "s", "k", "v", 0 },
	{ "section-comment", "[s] ; c\nk=v\n",
	    "s", "k", "v", 0 },
	{ "section-indented", "  [s]  \nk=v\n",
	    "s", "k", "v", 0 },
	{ "section-with-space", "[a b]\nk=v\n",
	    "a b", "k", "v", 0 },
	{ "trailing-blanks", "[s]\nk = v  \t \n",
	    "s", "k", "v", 0 },
	{ "quotes-kept", "[s]\nk = \"a b\"\n",
	    "s", "k", "\"a b\"", 0 },
	{ "crlf", "[s]\r\nk = v\r\nj = w\r\n",
	    "s", "j", "w", 0 },
	{ "cr-only", "[s]\rk = v\rj = w\r",
	    "s", "j", "w", 0 },
	{ "cr-cr-lf", "[s]\r\r\nk = v\r\r\r\nj = w\n",
	    "s", "j", "w", 0 },
	{ "empty-value", "[s]\nk =\nj=   \n",
	    "s", "k", "", 0 },
	{ "blank-value", "[s]\nk =\nj=   \n",
	    "s", "j", "", 0 },
	{ "key-with-space", "[s]\nfoo bar = baz qux\n",
	    "s", "foo bar", "baz qux", 0 },
	{ "equals-in-value", "[s]\nk = a=b=c\n",
	    "s", "k", "a=b=c", 0 },
	{ "double-equals", "[s]\nk==v\n",
	    "s", "k", "=v", 0 },
	{ "indented-both", "[s]\n  k  =  v  \n",
	    "s", "k", "v", 0 },
	{ "tabs-around", "[s]\nk\t=\tv\n",
	    "s", "k", "v", 0 },
	{ "vt-comment", "[s]\nk = v\x0b"";\x0b""w\n",
	    "s", "k", "v", 0 },
	{ "comment-with-equals", "[s]\nk = a ; b = c\n",
	    "s", "k", "a", 0 },
	{ "url-colon", "[s]\nk = http://x:80/\n",
	    "s", "k", "http://x:80/", 0 },
	{ "utf8", "[s]\nk = \xc3""\xa4"" \xc3""\xb6""\n",
	    "s", "k", "\xc3""\xa4"" \xc3""\xb6""", 0 },
	{ "empty-later-dup", "[s]\nk = v\nk =\n",
	    "s", "k", "", 0 },
	{ "unset", "[s]\nk = v\n",
	    "s", "nope", NULL, 0 },
	{ "other-section-unset", "[s]\nk = v\n[t]\n",
	    "t", "k", NULL, 0 },
	{ "comment-only-lines", "[s]\n;\n#\nk=1\n",
	    "s", "k", "1", 0 },
	{ "indented-comment", "[s]\n ;k=v\n",
	    "s", "k", NULL, 0 },
	{ "colon-separator", "[s]\nk: v\n",
	    "s", "k", NULL, 2 },
	{ "section-hash-comment", "[t] #c\nk=v\n",
	    "t", "k", NULL, 1 },
	{ "no-equals", "[s]\nk=v\nnoequals\n",
	    "s", "k", NULL, 3 },
	{ "unterminated-section", "[s\nk=v\n",
	    "s", "k", NULL, 1 },
	{ "section-semicolon", "[s];c\nk=v\n",
	    "s", "k", NULL, 1 },
	{ "bom", "\xef""\xbb""\xbf""[s]\nk=v\n",
	    "s", "k", NULL, 1 },
	{ "missing-key", "[s]\n= v\n",
	    "s", "k", NULL, 2 },
	{ "comment-eats-equals", "[s]\nk ; x = v\n",
	    "s", "k", NULL, 2 },
	{ "error-line-crlf", "[s]\r\nk=v\r\n\r\nbad\r\n",
	    "s", "k", NULL, 4 },
};

static void
test_tiny_table(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(tiny_cases); i++) {
		const struct tiny_case *t = &tiny_cases[i];
		char name[128], prefix[64];
		struct err err = { 0 };
		struct conf *c;

		snprintf(name, sizeof(name), "tiny %s", t->name);
		test_begin(name);
		c = conf_load_string("t.ini", t->text, &err);
		if (t->err_line != 0) {
			test_assert(c == NULL);
			test_assert(err.kind == ERR_CONFIG);
			snprintf(prefix, sizeof(prefix),
			    "t.ini:%d: syntax error", t->err_line);
			test_assert_str(strncmp(err.msg, prefix,
			    strlen(prefix)) == 0 ? prefix : err.msg, prefix);
		} else {
			const struct conf_entry *e;

			test_assert(c != NULL);
			if (c == NULL) {
				test_assert_str(err.msg, "");
			} else {
				e = conf_get(c, t->section, t->key);
				test_assert_str(e ? e->value : NULL, t->want);
			}
		}
		conf_free(&c);
		test_end();
	}
}

/* Our parser errors where Tiny accepts odd input that pullimap would refuse
 * anyway (see the comment at the top of conf.c). */
static void
test_residual_differences(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		/* Tiny: key ":k" */
		{ "[s]\n:k = v\n", "r.ini:2: syntax error: ':' in a key" },
		/* Tiny: key "a:b" */
		{ "[s]\na:b = v\n", "r.ini:2: syntax error: ':' in a key" },
		/* Tiny: section "a]b" */
		{ "[a]b]\nk = v\n", "r.ini:1: syntax error: ']' in a section" },
		/* Tiny: key "[x]" */
		{ "[s]\n[x] = y\n", "r.ini:2: syntax error: a section header" },
		/* Tiny: key " " */
		{ "[s]\n  = v\n", "r.ini:2: syntax error: missing key" },
		/* Tiny: section " " */
		{ "[ ]\nk = v\n", "r.ini:1: syntax error: empty section name" },
		/* Tiny: key "\xEF\xBB\xBFk" */
		{ "\xEF\xBB\xBFk = v\n", "r.ini:1: syntax error: UTF-8 byte" },
	};
	size_t i;

	test_begin("residual differences are errors");
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct err err = { 0 };
		struct conf *c = conf_load_string("r.ini", cases[i].text, &err);

		test_assert(c == NULL);
		test_assert_str(strncmp(err.msg, cases[i].msg,
		    strlen(cases[i].msg)) == 0 ? cases[i].msg : err.msg,
		    cases[i].msg);
		conf_free(&c);
	}
	test_end();
}

static char *
long_text(const char *before, char ch, size_t n, const char *after)
{
	size_t a = strlen(before), b = strlen(after);
	char *s = xmalloc(a + n + b + 1);

	memcpy(s, before, a);
	memset(s + a, ch, n);
	memcpy(s + a + n, after, b + 1);
	return s;
}

static void
test_long_values(void)
{
	static const size_t sizes[] = { 198, 199, 200, 500, 5000, 100000 };
	struct err err = { 0 };
	struct conf *c;
	size_t i;
	char *text, *want;

	test_begin("long values are read whole");
	for (i = 0; i < ARRAY_LEN(sizes); i++) {
		text = long_text("[s]\npassword = ", 'x', sizes[i],
		    "\nhost = h\n");
		want = long_text("", 'x', sizes[i], "");
		c = conf_load_string("l.ini", text, &err);
		test_assert(c != NULL);
		if (c != NULL) {
			const struct conf_entry *e = conf_get(c, "s",
			    "password");

			test_assert(e != NULL && strcmp(e->value, want) == 0);
			test_assert_str(conf_get(c, "s", "host")->value, "h");
			test_assert(conf_get(c, "s", "password")->line == 2);
			test_assert(conf_get(c, "s", "host")->line == 3);
		}
		conf_free(&c);
		free(text);
		free(want);
	}
	test_end();

	/* libinih's default 200-byte buffer would split this line and
	 * inject a key "TAIL". */
	test_begin("no key injection from a long line");
	text = long_text("[s]\nk = ", 'y', 300, "TAIL=injected\n");
	c = conf_load_string("l.ini", text, &err);
	test_assert(c != NULL);
	if (c != NULL) {
		test_assert(conf_get(c, "s", "TAIL") == NULL);
		test_assert(strlen(conf_get(c, "s", "k")->value) == 313);
	}
	conf_free(&c);
	free(text);
	test_end();

	/* libinih cuts section names at 49 bytes: we must not. */
	test_begin("long section names and keys");
	{
		char *sec = long_text("", 'S', 70, "");
		char *key = long_text("", 'K', 300, "");
		char *t = xasprintf("[%s]\n%s = v\n[%.49s]\nk = w\n", sec,
		    key, sec);

		c = conf_load_string("l.ini", t, &err);
		test_assert(c != NULL);
		if (c != NULL) {
			const struct conf_entry *e = conf_get(c, sec, key);

			test_assert(e != NULL && strcmp(e->value, "v") == 0);
			test_assert(conf_get(c, sec, "k") == NULL);
			test_assert(conf_has_section(c, sec));
		}
		conf_free(&c);
		free(t);
		free(key);
		free(sec);
	}
	test_end();

	test_begin("a line over 1 MiB is an error");
	text = long_text("[s]\nk = ", 'z', 1024 * 1024 + 10, "\n");
	c = conf_load_string("l.ini", text, &err);
	test_assert(c == NULL);
	test_assert_str(err.msg, "l.ini:2: syntax error: line too long");
	conf_free(&c);
	free(text);
	test_end();
}

static void
test_structure(void)
{
	static const char text[] =
	    "d1 = default\n"
	    "d2 = default\n"
	    "[b]\n"
	    "k = 1\n"
	    "d2 = b\n"
	    "[empty]\n"
	    "[a]\n"
	    "x = 1\n"
	    "[ b ]\n"
	    "k = 2\n";
	struct err err = { 0 };
	struct conf *c = conf_load_string("s.ini", text, &err);
	const struct conf_entry **list;
	const char *const *names;
	size_t n;

	test_begin("sections in file order, empty ones included");
	test_assert(c != NULL);
	if (c == NULL) {
		test_end();
		return;
	}
	n = conf_sections(c, &names);
	test_assert(n == 3);
	if (n == 3) {
		test_assert_str(names[0], "b");
		test_assert_str(names[1], "empty");
		test_assert_str(names[2], "a");
	}
	test_assert(conf_has_section(c, "empty"));
	test_assert(conf_has_section(c, "b"));
	test_assert(!conf_has_section(c, "nope"));
	test_assert(!conf_has_section(c, " b "));
	test_assert_str(conf_path(c), "s.ini");
	test_end();

	test_begin("conf_entries: own keys and inherited defaults");
	n = conf_entries(c, "b", &list);
	test_assert(n == 3);
	if (n == 3) {
		/* file order: d1 (line 1), d2 = b (line 5), k = 2 (line 10) */
		test_assert_str(list[0]->key, "d1");
		test_assert_str(list[0]->section, "_");
		test_assert_str(list[1]->key, "d2");
		test_assert_str(list[1]->value, "b");
		test_assert_str(list[1]->section, "b");
		test_assert_str(list[2]->key, "k");
		test_assert_str(list[2]->value, "2");
		test_assert(list[2]->line == 10);
		test_assert_str(conf_where(c, list[2]), "s.ini:10");
	}
	free(list);
	n = conf_entries(c, "empty", &list);
	test_assert(n == 2);
	free(list);
	n = conf_entries(c, "_", &list);
	test_assert(n == 2);
	free(list);
	test_assert_str(conf_get(c, "empty", "d2")->value, "default");
	test_assert_str(conf_get(c, "_", "d1")->value, "default");
	test_assert(conf_get(c, "_", "k") == NULL);
	conf_free(&c);
	test_assert(c == NULL);
	conf_free(&c);
	test_end();
}

static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* The value of key in section of the file at path, as conf_load() read
 * it (allocated), or NULL. */
static char *
loaded_value(const char *path, const char *section, const char *key)
{
	struct err err = { 0 };
	struct conf *c = conf_load(path, &err);
	const struct conf_entry *e = c ? conf_get(c, section, key) : NULL;
	char *v = e ? xstrdup(e->value) : NULL;

	conf_free(&c);
	return v;
}

static void
test_files(void)
{
	struct err err = { 0 };
	struct conf *c;
	char *path, *want;

	test_begin("conf_load: CRLF file");
	path = write_file("crlf.ini",
	    "; comment\r\n[acct]\r\nhost = imap.example.org\r\n"
	    "password = p ;w#d\r\n");
	c = conf_load(path, &err);
	test_assert(c != NULL);
	if (c != NULL) {
		test_assert_str(conf_get(c, "acct", "host")->value,
		    "imap.example.org");
		test_assert_str(conf_get(c, "acct", "password")->value,
		    "p ;w#d");
		test_assert_str(conf_path(c), path);
	}
	conf_free(&c);
	free(path);
	test_end();

	test_begin("conf_load: error names the file and line");
	path = write_file("bad.ini", "[s]\nhost = h\n\nhost: h\n");
	c = conf_load(path, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	want = xasprintf("%s:4: syntax error: expected \"KEY = VALUE\" "
	    "(':' is not a separator, use '=')", path);
	test_assert_str(err.msg, want);
	free(want);
	free(path);
	test_end();

	test_begin("conf_load: missing file");
	path = xasprintf("%s/nope.ini", tmpdir);
	c = conf_load(path, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	want = xasprintf("%s: No such file or directory", path);
	test_assert_str(err.msg, want);
	free(want);
	free(path);
	test_end();

	test_begin("conf_load: a file of 185 kB, its last line read");
	{
		struct buf b = BUF_INIT(1 << 20);
		char *v;
		for (int i = 0; i < 5000; i++)
			buf_appendf(&b, "; comment line %04d of some length..\n", i);
		buf_appendf(&b, "[s]\nlast = yes\n");
		test_assert(b.len > 150000);
		path = write_file("big.ini", b.data);
		buf_free(&b);
		v = loaded_value(path, "s", "last");
		test_assert(v != NULL);
		if (v != NULL)
			test_assert_str(v, "yes");
		free(v);
		free(path);
	}
	test_end();

	test_begin("conf_load: a pipe (no size to go by)");
	{
		int fds[2];
		char *p2, *v;
		test_assert(pipe(fds) == 0);
		/* Within the pipe's buffer: written before the read. */
		test_assert(write(fds[1], "[s]\nk = v\n", 10) == 10);
		close(fds[1]);
		p2 = xasprintf("/dev/fd/%d", fds[0]);
		v = loaded_value(p2, "s", "k");
		test_assert(v != NULL);
		if (v != NULL)
			test_assert_str(v, "v");
		free(v);
		free(p2);
		close(fds[0]);
	}
	test_end();

	test_begin("conf_load: a directory");
	c = conf_load(tmpdir, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	test_assert(strstr(err.msg, "Is a directory") != NULL);
	test_end();
}

static void
check_path(char *got, const char *want)
{
	test_assert_str(got, want);
	free(got);
}

static void
test_paths(void)
{
	test_begin("conf_default_path");
	setenv("HOME", "/home/u", 1);
	unsetenv("XDG_CONFIG_HOME");
	check_path(conf_default_path("pullimap", NULL),
	    "/home/u/.config/pullimap/config");
	check_path(conf_default_path("pullimap", "work"),
	    "/home/u/.config/pullimap/work");
	check_path(conf_default_path("pullimap", "sub/x.ini"),
	    "/home/u/.config/pullimap/sub/x.ini");
	check_path(conf_default_path("pullimap", "/etc/p.ini"), "/etc/p.ini");
	setenv("XDG_CONFIG_HOME", "/xdg/conf", 1);
	check_path(conf_default_path("pullimap", NULL),
	    "/xdg/conf/pullimap/config");
	check_path(conf_default_path("interimap", "x"),
	    "/xdg/conf/interimap/x");
	check_path(conf_default_path("pullimap", "/abs"), "/abs");
	/* XDG spec: empty or relative means unset. */
	setenv("XDG_CONFIG_HOME", "", 1);
	check_path(conf_default_path("pullimap", NULL),
	    "/home/u/.config/pullimap/config");
	setenv("XDG_CONFIG_HOME", "rel", 1);
	check_path(conf_default_path("pullimap", NULL),
	    "/home/u/.config/pullimap/config");
	unsetenv("XDG_CONFIG_HOME");
	check_path(conf_xdg_path("XDG_DATA_HOME", ".local/share", "pullimap",
	    "s"), "/home/u/.local/share/pullimap/s");
	test_end();
}

/* pull_conf_load() on text written to TMP/NAME; the config is given by
 * absolute path. */
static int
pull_load(const char *text, const char *section, struct pull_conf *pc,
    struct err *err, char **path_r)
{
	char *path = write_file("p.ini", text);
	int rc = pull_conf_load(path, section, pc, err);

	if (path_r != NULL)
		*path_r = path;
	else
		free(path);
	return rc;
}

/* Expects pull_conf_load to fail with kind and "P.INI" + rest. */
static void
expect_pull_error(const char *text, const char *section, enum err_kind kind,
    const char *rest)
{
	struct pull_conf pc;
	struct err err = { 0 };
	char *path, *want;

	test_assert(pull_load(text, section, &pc, &err, &path) < 0);
	test_assert(err.kind == kind);
	want = xasprintf("%s%s", path, rest);
	test_assert_str(err.msg, want);
	test_assert(pc.conf == NULL && pc.statefile == NULL);
	free(want);
	free(path);
}

static void
test_pull_defaults(void)
{
	struct passwd *pw;
	struct pull_conf pc;
	struct err err = { 0 };
	char *want;

	test_begin("pull_conf: defaults");
	setenv("XDG_DATA_HOME", tmpdir, 1);
	/* deliver-rcpt defaults to the euid's name, if it has one. */
	pw = getpwuid(geteuid());
	test_assert(pull_load(pw != NULL ? "[acct]\n" :
	    "[acct]\ndeliver-rcpt = nobody\n", "acct", &pc, &err, NULL) == 0);
	test_assert_str(err.msg, "");
	test_assert(pc.imap.type == IMAP_TYPE_IMAPS);
	test_assert_str(pc.imap.host, "localhost");
	test_assert_str(pc.imap.port, "993");
	test_assert(pc.imap.command == NULL);
	test_assert(pc.imap.starttls);
	test_assert(pc.imap.n_auth == 2 && pc.imap.auth[0] == IMAP_AUTH_PLAIN &&
	    pc.imap.auth[1] == IMAP_AUTH_LOGIN);
	test_assert(pc.imap.username == NULL && pc.imap.password == NULL);
	test_assert(!pc.imap.null_stderr);
	test_assert(pc.imap.compress);
	test_assert(pc.imap.tls.verify);
	test_assert(pc.imap.tls.cafile == NULL && pc.imap.tls.capath == NULL);
	test_assert(pc.imap.tls.hostname == NULL);
	test_assert(pc.imap.tls.fingerprints == NULL);
	test_assert(pc.imap.tls.protocols == NULL);
	test_assert_str(pc.mailbox, "INBOX");
	test_assert_str(pc.deliver_method, "smtp:[127.0.0.1]:25");
	test_assert_str(pc.deliver_ehlo, "localhost.localdomain");
	test_assert_str(pc.deliver_rcpt, pw != NULL ? pw->pw_name : "nobody");
	test_assert(!pc.has_purge_after);
	test_assert_str(pc.section, "acct");
	want = xasprintf("%s/pullimap/acct", tmpdir);
	test_assert_str(pc.statefile, want);
	free(want);
	want = xasprintf("%s/pullimap", tmpdir);
	{
		struct stat st;

		test_assert(stat(want, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_mode & 0777) == 0700);
	}
	free(want);
	pull_conf_free(&pc);
	pull_conf_free(&pc);
	test_end();

	test_begin("pull_conf: every key");
	test_assert(pull_load(
	    "; defaults for every account\n"
	    "type = imap\n"
	    "host = mail.example.net\n"
	    "[acct]\n"
	    "port = 1143\n"
	    "STARTTLS = no\n"
	    "auth = login plain LOGIN\n"
	    "username = jdoe\n"
	    "password = s3cr ;t#x\n"
	    "null-stderr = Yes\n"
	    "compress = NO\n"
	    "SSL_verify = nO\n"
	    "SSL_CAfile = /etc/ssl/ca.pem\n"
	    "SSL_CApath = /etc/ssl/certs\n"
	    "SSL_hostname =\n"
	    "SSL_protocol_min = TLSv1.2\n"
	    "SSL_protocol_max = TLSv1.3\n"
	    "SSL_protocols = !SSLv2 !SSLv3 TLSv1.2 TLSv1.3\n"
	    "SSL_cipherlist = HIGH:!aNULL\n"
	    "SSL_ciphersuites =\n"
	    "SSL_fingerprint = sha256$0aF9 ab12\n"
	    "statefile = /var/lib/p/state.db\n"
	    "mailbox = Lists/debian\n"
	    "deliver-method = lmtp:/run/dovecot/lmtp\n"
	    "deliver-ehlo = client.example.net\n"
	    "deliver-rcpt = jdoe@example.net\n"
	    "purge-after = 0\n", "acct", &pc, &err, NULL) == 0);
	test_assert_str(err.msg, "");
	test_assert(pc.imap.type == IMAP_TYPE_IMAP);
	test_assert_str(pc.imap.host, "mail.example.net");
	test_assert_str(pc.imap.port, "1143");
	test_assert(!pc.imap.starttls);
	test_assert(pc.imap.n_auth == 2 && pc.imap.auth[0] == IMAP_AUTH_LOGIN &&
	    pc.imap.auth[1] == IMAP_AUTH_PLAIN);
	test_assert_str(pc.imap.username, "jdoe");
	test_assert_str(pc.imap.password, "s3cr ;t#x");
	test_assert(pc.imap.null_stderr);
	test_assert(!pc.imap.compress);
	test_assert(!pc.imap.tls.verify);
	test_assert_str(pc.imap.tls.cafile, "/etc/ssl/ca.pem");
	test_assert_str(pc.imap.tls.capath, "/etc/ssl/certs");
	test_assert_str(pc.imap.tls.hostname, "");
	test_assert_str(pc.imap.tls.protocol_min, "TLSv1.2");
	test_assert_str(pc.imap.tls.protocol_max, "TLSv1.3");
	test_assert_str(pc.imap.tls.protocols, "!SSLv2 !SSLv3 TLSv1.2 TLSv1.3");
	test_assert_str(pc.imap.tls.cipherlist, "HIGH:!aNULL");
	test_assert_str(pc.imap.tls.ciphersuites, "");
	test_assert_str(pc.imap.tls.fingerprints, "sha256$0aF9 ab12");
	test_assert_str(pc.statefile, "/var/lib/p/state.db");
	test_assert_str(pc.mailbox, "Lists/debian");
	test_assert_str(pc.deliver_method, "lmtp:/run/dovecot/lmtp");
	test_assert_str(pc.deliver_ehlo, "client.example.net");
	test_assert_str(pc.deliver_rcpt, "jdoe@example.net");
	test_assert(pc.has_purge_after && pc.purge_after_days == 0);
	pull_conf_free(&pc);
	test_end();

	test_begin("pull_conf: port defaults follow type");
	test_assert(pull_load("[a]\ntype = imap\n", "a", &pc, &err, NULL) == 0);
	test_assert_str(pc.imap.port, "143");
	pull_conf_free(&pc);
	test_assert(pull_load("[a]\ntype = tunnel\ncommand = "
	    "/usr/lib/dovecot/imap\n", "a", &pc, &err, NULL) == 0);
	test_assert(pc.imap.type == IMAP_TYPE_TUNNEL);
	test_assert(pc.imap.port == NULL);
	test_assert_str(pc.imap.command, "/usr/lib/dovecot/imap");
	pull_conf_free(&pc);
	test_end();
}

static void
test_pull_errors(void)
{
	test_begin("pull_conf: unknown option with file:line");
	expect_pull_error("[a]\nhost = h\nbogus = 1\n", "a", ERR_CONFIG,
	    ":3: unknown option bogus");
	/* in the default section: reported for every account */
	expect_pull_error("bogus = 1\n[a]\n", "a", ERR_CONFIG,
	    ":1: unknown option bogus");
	/* keys are case-sensitive, as in the reference */
	expect_pull_error("[a]\nstarttls = YES\n", "a", ERR_CONFIG,
	    ":2: unknown option starttls");
	/* interimap-only keys */
	expect_pull_error("[a]\nlist-mailbox = x\n", "a", ERR_CONFIG,
	    ":2: unknown option list-mailbox");
	test_end();

	test_begin("pull_conf: bad type");
	expect_pull_error("[a]\ntype = IMAPS\n", "a", ERR_CONFIG,
	    ":2: invalid value for type: IMAPS (expected imap, imaps or "
	    "tunnel)");
	expect_pull_error("type = pop3\n[a]\n", "a", ERR_CONFIG,
	    ":1: invalid value for type: pop3 (expected imap, imaps or "
	    "tunnel)");
	test_end();

	test_begin("pull_conf: tunnel without command");
	expect_pull_error("[a]\nhost = h\ntype = tunnel\n", "a", ERR_CONFIG,
	    ":3: type = tunnel needs a command");
	test_end();

	test_begin("pull_conf: section _ refused");
	{
		struct pull_conf pc;
		struct err err = { 0 };

		test_assert(pull_load("k = v\n[a]\n", "_", &pc, &err,
		    NULL) < 0);
		test_assert(err.kind == ERR_USAGE);
		test_assert(pull_load("[a]\n", "", &pc, &err, NULL) < 0);
		test_assert(err.kind == ERR_USAGE);
		test_assert(pull_conf_load("/nonexistent", NULL, &pc,
		    &err) < 0);
		test_assert(err.kind == ERR_USAGE);
	}
	test_end();

	test_begin("pull_conf: missing section");
	expect_pull_error("[a]\n[b]\n", "c", ERR_CONFIG,
	    ": no such section: c");
	expect_pull_error("k = v\n", "a", ERR_CONFIG, ": no such section: a");
	test_end();

	test_begin("pull_conf: syntax error stops the load");
	expect_pull_error("[a]\nhost: h\n", "a", ERR_CONFIG,
	    ":2: syntax error: expected \"KEY = VALUE\" (':' is not a "
	    "separator, use '=')");
	test_end();

	test_begin("pull_conf: booleans");
	expect_pull_error("[a]\nSTARTTLS = true\n", "a", ERR_CONFIG,
	    ":2: invalid value for STARTTLS: true (expected YES or NO)");
	expect_pull_error("[a]\ncompress = 1\n", "a", ERR_CONFIG,
	    ":2: invalid value for compress: 1 (expected YES or NO)");
	expect_pull_error("[a]\nSSL_verify =\n", "a", ERR_CONFIG,
	    ":2: invalid value for SSL_verify: \"\" (expected YES or NO)");
	expect_pull_error("[a]\nnull-stderr = YES ;x\n", "a", ERR_CONFIG,
	    ":2: invalid value for null-stderr: YES ;x (expected YES or NO)");
	test_end();

	test_begin("pull_conf: username/password ASCII, not echoed");
	expect_pull_error("[a]\npassword = p\xC3\xA4ss\n", "a", ERR_CONFIG,
	    ":2: invalid value for password (must be ASCII)");
	expect_pull_error("[a]\nusername =\n", "a", ERR_CONFIG,
	    ":2: invalid value for username (must not be empty)");
	test_end();

	test_begin("pull_conf: port");
	expect_pull_error("[a]\nport = imaps\n", "a", ERR_CONFIG,
	    ":2: invalid value for port: imaps (expected a port number "
	    "1-65535)");
	expect_pull_error("[a]\nport = 0\n", "a", ERR_CONFIG,
	    ":2: invalid value for port: 0 (expected a port number 1-65535)");
	expect_pull_error("[a]\nport = 65536\n", "a", ERR_CONFIG,
	    ":2: invalid value for port: 65536 (expected a port number "
	    "1-65535)");
	expect_pull_error("[a]\nport = +993\n", "a", ERR_CONFIG,
	    ":2: invalid value for port: +993 (expected a port number "
	    "1-65535)");
	test_end();

	test_begin("pull_conf: auth");
	expect_pull_error("[a]\nauth = CRAM-MD5 PLAIN\n", "a", ERR_CONFIG,
	    ":2: invalid value for auth: CRAM-MD5 PLAIN (supported "
	    "mechanisms: PLAIN LOGIN XOAUTH2 OAUTHBEARER)");
	expect_pull_error("[a]\nauth = PLAIN  LOGIN\n", "a", ERR_CONFIG,
	    ":2: invalid value for auth: PLAIN  LOGIN (expected mechanisms "
	    "separated by single spaces)");
	expect_pull_error("[a]\nauth =\n", "a", ERR_CONFIG,
	    ":2: invalid value for auth: \"\" (expected mechanisms "
	    "separated by single spaces)");
	test_end();

	test_begin("pull_conf: password-command");
	{
		struct pull_conf pc;
		struct err err = { 0 };
		char *path, *want;

		/* Both sources of the secret, even one inherited from "_". */
		test_assert(pull_load("password = x\n[a]\n"
		    "password-command = echo x\n", "a", &pc, &err, &path) < 0);
		test_assert(err.kind == ERR_CONFIG);
		want = xasprintf("%s:1: password and password-command (%s:3) "
		    "are mutually exclusive", path, path);
		test_assert_str(err.msg, want);
		free(want);
		free(path);

		test_assert(pull_load("[a]\npassword-command = pass show "
		    "'mail/a b' | head -n 1\nauth = oauthbearer XOAUTH2 plain\n",
		    "a", &pc, &err, NULL) == 0);
		test_assert_str(pc.imap.password_command,
		    "pass show 'mail/a b' | head -n 1");
		test_assert(pc.imap.password == NULL);
		test_assert(pc.imap.n_auth == 3 &&
		    pc.imap.auth[0] == IMAP_AUTH_OAUTHBEARER &&
		    pc.imap.auth[1] == IMAP_AUTH_XOAUTH2 &&
		    pc.imap.auth[2] == IMAP_AUTH_PLAIN);
		pull_conf_free(&pc);
	}
	expect_pull_error("[a]\npassword-command =\n", "a", ERR_CONFIG,
	    ":2: invalid value for password-command: \"\" (must not be "
	    "empty)");
	test_end();

	test_begin("pull_conf: SSL syntax");
	expect_pull_error("[a]\nSSL_fingerprint = sha256$\n", "a", ERR_CONFIG,
	    ":2: invalid value for SSL_fingerprint: sha256$ (expected "
	    "[ALGO$]HEX digests separated by single spaces)");
	expect_pull_error("[a]\nSSL_fingerprint = xyz\n", "a", ERR_CONFIG,
	    ":2: invalid value for SSL_fingerprint: xyz (expected "
	    "[ALGO$]HEX digests separated by single spaces)");
	expect_pull_error("[a]\nSSL_protocols = TLSv1.4\n", "a", ERR_CONFIG,
	    ":2: invalid value for SSL_protocols: TLSv1.4 (expected "
	    "[!]PROTOCOL names (SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3) "
	    "separated by single spaces)");
	expect_pull_error("[a]\nSSL_cipherlist =\n", "a", ERR_CONFIG,
	    ":2: invalid value for SSL_cipherlist: \"\" (must not be empty)");
	expect_pull_error("[a]\nhost = a\tb\n", "a", ERR_CONFIG,
	    ":2: invalid value for host: a\tb (control character)");
	test_end();

	test_begin("pull_conf: pullimap keys");
	expect_pull_error("[a]\nmailbox = Bo\xC3\xAEte\n", "a", ERR_CONFIG,
	    ":2: invalid value for mailbox: Bo\xC3\xAEte (must be ASCII)");
	expect_pull_error("[a]\nmailbox =\n", "a", ERR_CONFIG,
	    ":2: invalid value for mailbox: \"\" (must not be empty)");
	expect_pull_error("[a]\ndeliver-ehlo =\n", "a", ERR_CONFIG,
	    ":2: invalid value for deliver-ehlo: \"\" (must not be empty)");
	expect_pull_error("[a]\nstatefile =\n", "a", ERR_CONFIG,
	    ":2: invalid value for statefile: \"\" (must not be empty)");
	expect_pull_error("[a]\ndeliver-rcpt =\n", "a", ERR_CONFIG,
	    ":2: invalid value for deliver-rcpt: \"\" (must not be empty)");
	test_end();

	test_begin("pull_conf: deliver-method");
	{
		struct pull_conf pc;
		struct err err = { 0 };
		char *path, *want;
		static const char *const bad[] = {
			"smtp:127.0.0.1:25", "smtp:[localhost]:25",
			"esmtp:[127.0.0.1]:25", "lmtp:[::1]:", "smtp:",
		};
		static const char *const good[] = {
			"smtp:[127.0.0.1]:25", "lmtp:[::1]:24",
			"lmtp:/run/dovecot/lmtp", "smtp:/var/run/smtp.sock",
		};
		size_t i;

		for (i = 0; i < ARRAY_LEN(bad); i++) {
			char *text = xasprintf("[a]\ndeliver-method = %s\n",
			    bad[i]);

			test_assert(pull_load(text, "a", &pc, &err, &path) < 0);
			test_assert(err.kind == ERR_CONFIG);
			want = xasprintf("%s:2: deliver-method", path);
			test_assert(strncmp(err.msg, want, strlen(want)) == 0);
			free(want);
			free(path);
			free(text);
		}
		for (i = 0; i < ARRAY_LEN(good); i++) {
			char *text = xasprintf("[a]\ndeliver-method = %s\n",
			    good[i]);

			test_assert(pull_load(text, "a", &pc, &err, NULL) == 0);
			test_assert_str(pc.deliver_method, good[i]);
			pull_conf_free(&pc);
			free(text);
		}
	}
	test_end();
}

/* proxy = PROTOCOL://[USER:PASSWORD@]PROXYHOST[:PROXYPORT] */
static void
expect_proxy(const char *text, enum proxy_type type, const char *host,
    const char *port, const char *user, const char *pass)
{
	struct pull_conf pc;
	struct err err = { 0 };

	if (pull_load(text, "a", &pc, &err, NULL) < 0) {
		test_assert_str(err.msg, "");
		return;
	}
	test_assert(pc.imap.proxy.type == type);
	test_assert_str(pc.imap.proxy.host, host);
	test_assert_str(pc.imap.proxy.port, port);
	test_assert_str(pc.imap.proxy.username, user);
	test_assert_str(pc.imap.proxy.password, pass);
	pull_conf_free(&pc);
}

static void
test_pull_proxy(void)
{
	struct pull_conf pc;
	struct err err = { 0 };

	test_begin("pull_conf: proxy URLs");
	expect_proxy("[a]\n", PROXY_NONE, "", "", "", "");
	expect_proxy("[a]\nproxy = socks5h://localhost:9050\n",
	    PROXY_SOCKS5H, "localhost", "9050", "", "");
	/* default port 1080 */
	expect_proxy("[a]\nproxy = socks5://10.0.0.1\n", PROXY_SOCKS5,
	    "10.0.0.1", "1080", "", "");
	/* brackets kept for IPv6 literals; the last '@' ends the password,
	 * the first ':' the user name (the reference's greedy regex) */
	expect_proxy("[a]\nproxy = socks5h://u:p:a@ss@[::1]:1\n",
	    PROXY_SOCKS5H, "[::1]", "1", "u", "p:a@ss");
	/* inherited from the default section */
	expect_proxy("proxy = socks5://proxy.example-1.org:65535\n[a]\n",
	    PROXY_SOCKS5, "proxy.example-1.org", "65535", "", "");
	/* ignored by a tunnel, like the reference */
	expect_proxy("[a]\ntype = tunnel\ncommand = x\nproxy = what?\n",
	    PROXY_NONE, "", "", "", "");
	test_end();

	test_begin("pull_conf: bad proxy URLs");
	expect_pull_error("[a]\nproxy = http://h:3128\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: http://h:3128 (unsupported "
	    "protocol, expected socks5 or socks5h)");
	expect_pull_error("[a]\nproxy = localhost:1080\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: localhost:1080 (expected "
	    "socks5://[USER:PASSWORD@]HOST[:PORT] or socks5h://...)");
	expect_pull_error("[a]\nproxy = SOCKS5://h\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: SOCKS5://h (unsupported "
	    "protocol, expected socks5 or socks5h)");
	expect_pull_error("[a]\nproxy = socks5://h:0\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: socks5://h:0 (expected a port "
	    "number 1-65535 after the host)");
	expect_pull_error("[a]\nproxy = socks5://h:socks\n", "a",
	    ERR_CONFIG, ":2: invalid value for proxy: socks5://h:socks "
	    "(expected a port number 1-65535 after the host)");
	expect_pull_error("[a]\nproxy = socks5://h/\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: socks5://h/ (expected a host "
	    "name or an IP address, then an optional :PORT)");
	expect_pull_error("[a]\nproxy = socks5://\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: socks5:// (expected a host "
	    "name or an IP address, then an optional :PORT)");
	expect_pull_error("[a]\nproxy = socks5://[::1\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: socks5://[::1 (expected an IPv6 "
	    "address in [brackets])");
	expect_pull_error("[a]\nproxy = socks5://[::1]x\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: socks5://[::1]x (unexpected "
	    "text after the host)");
	expect_pull_error("[a]\nproxy =\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy: \"\" (must not be empty)");
	/* credentials: never echoed */
	expect_pull_error("[a]\nproxy = socks5://user@h\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy (expected USER:PASSWORD before "
	    "'@')");
	expect_pull_error("[a]\nproxy = socks5://:secret@h\n", "a",
	    ERR_CONFIG, ":2: invalid value for proxy (the user name must "
	    "have 1 to 255 bytes)");
	expect_pull_error("[a]\nproxy = socks5://u:@h\n", "a", ERR_CONFIG,
	    ":2: invalid value for proxy (the password must have 1 to 255 "
	    "bytes)");
	expect_pull_error("[a]\nproxy = socks5://u:secret@\n", "a",
	    ERR_CONFIG, ":2: invalid value for proxy (expected a host name "
	    "or an IP address, then an optional :PORT)");
	expect_pull_error("[a]\nproxy = socks5://u:secret@h:99999\n", "a",
	    ERR_CONFIG, ":2: invalid value for proxy (expected a port "
	    "number 1-65535 after the host)");
	test_end();

	test_begin("pull_conf: proxy password of 256 bytes refused");
	{
		char text[600], pw[257];

		memset(pw, 'p', 256);
		pw[256] = '\0';
		snprintf(text, sizeof(text), "[a]\nproxy = socks5://u:%s@h\n",
		    pw);
		test_assert(pull_load(text, "a", &pc, &err, NULL) < 0);
		test_assert(strstr(err.msg, "password must have 1 to 255") !=
		    NULL);
		test_assert(strstr(err.msg, "ppp") == NULL);
		pw[255] = '\0';
		snprintf(text, sizeof(text), "[a]\nproxy = socks5://u:%s@h\n",
		    pw);
		test_assert(pull_load(text, "a", &pc, &err, NULL) == 0);
		test_assert(strlen(pc.imap.proxy.password) == 255);
		pull_conf_free(&pc);
	}
	test_end();
}

static void
test_pull_purge(void)
{
	static const struct {
		const char *value;
		int ok;
		bool set;
		uint32_t days;
	} cases[] = {
		{ "", 1, false, 0 },  /* the reference: empty = no purge */
		{ "0", 1, true, 0 },
		{ "7", 1, true, 7 },
		{ "365", 1, true, 365 },
		{ "007", 1, true, 7 },
		{ "-1", 0, false, 0 },
		{ "1.5", 0, false, 0 },
		{ "x", 0, false, 0 },
		{ "7 days", 0, false, 0 },
		{ "99999999999", 0, false, 0 },
	};
	size_t i;

	test_begin("pull_conf: purge-after");
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct pull_conf pc;
		struct err err = { 0 };
		char *text = xasprintf("[a]\npurge-after = %s\n",
		    cases[i].value);
		int rc = pull_load(text, "a", &pc, &err, NULL);

		test_assert((rc == 0) == (cases[i].ok == 1));
		if (rc == 0) {
			test_assert(pc.has_purge_after == cases[i].set);
			test_assert(pc.purge_after_days == cases[i].days);
		} else {
			test_assert(err.kind == ERR_CONFIG);
			test_assert(strstr(err.msg, ":2: invalid value for "
			    "purge-after: ") != NULL);
		}
		pull_conf_free(&pc);
		free(text);
	}
	test_end();
}

static void
test_pull_paths(void)
{
	struct pull_conf pc;
	struct err err = { 0 };
	char *dir, *want, *path;

	test_begin("pull_conf: statefile with XDG_DATA_HOME");
	dir = xasprintf("%s/xdgdata", tmpdir);
	setenv("XDG_DATA_HOME", dir, 1);
	test_assert(pull_load("[a]\n[b]\nstatefile = b.state\n"
	    "[c]\nstatefile = /abs/c.state\n", "a", &pc, &err, NULL) == 0);
	want = xasprintf("%s/pullimap/a", dir);
	test_assert_str(pc.statefile, want);
	free(want);
	pull_conf_free(&pc);
	test_assert(pull_load("[a]\n[b]\nstatefile = b.state\n"
	    "[c]\nstatefile = /abs/c.state\n", "b", &pc, &err, NULL) == 0);
	want = xasprintf("%s/pullimap/b.state", dir);
	test_assert_str(pc.statefile, want);
	free(want);
	pull_conf_free(&pc);
	test_assert(pull_load("[a]\n[b]\nstatefile = b.state\n"
	    "[c]\nstatefile = /abs/c.state\n", "c", &pc, &err, NULL) == 0);
	test_assert_str(pc.statefile, "/abs/c.state");
	pull_conf_free(&pc);
	free(dir);
	test_end();

	test_begin("pull_conf: statefile without XDG_DATA_HOME");
	dir = xasprintf("%s/home", tmpdir);
	setenv("HOME", dir, 1);
	unsetenv("XDG_DATA_HOME");
	test_assert(pull_load("[a]\n", "a", &pc, &err, NULL) == 0);
	want = xasprintf("%s/.local/share/pullimap/a", dir);
	test_assert_str(pc.statefile, want);
	free(want);
	want = xasprintf("%s/.local/share/pullimap", dir);
	test_assert(access(want, F_OK) == 0);
	free(want);
	pull_conf_free(&pc);
	test_end();

	test_begin("pull_conf: config path with XDG_CONFIG_HOME");
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	want = xasprintf("%s/pullimap", tmpdir);
	mkdir(want, 0700);
	free(want);
	path = write_file("pullimap/config", "[dflt]\nhost = d\n");
	free(path);
	path = write_file("pullimap/other", "[oth]\nhost = o\n");
	free(path);
	test_assert(pull_conf_load(NULL, "dflt", &pc, &err) == 0);
	test_assert_str(pc.imap.host, "d");
	want = xasprintf("%s/pullimap/config", tmpdir);
	test_assert_str(pc.config_path, want);
	free(want);
	pull_conf_free(&pc);
	test_assert(pull_conf_load("other", "oth", &pc, &err) == 0);
	test_assert_str(pc.imap.host, "o");
	pull_conf_free(&pc);
	unsetenv("XDG_CONFIG_HOME");
	/* now under $HOME/.config */
	test_assert(pull_conf_load(NULL, "dflt", &pc, &err) < 0);
	want = xasprintf("%s/.config/pullimap/config: No such file or "
	    "directory", dir);
	test_assert_str(err.msg, want);
	free(want);
	free(dir);
	test_end();
}

/* pullimap.sample is installed as documentation: it must load. Run from
 * the top of the source tree (t/run does). */
static void
test_sample(void)
{
	struct err err = { 0 };
	struct conf *c;
	const char *const *names;
	size_t i, n;

	test_begin("pullimap.sample parses");
	c = conf_load("pullimap.sample", &err);
	test_assert(c != NULL);
	if (c == NULL) {
		test_assert_str(err.msg, "");
		test_end();
		return;
	}
	n = conf_sections(c, &names);
	test_assert(n >= 2);
	for (i = 0; i < n; i++) {
		struct pull_conf pc;
		char *abs = realpath("pullimap.sample", NULL);

		if (pull_conf_load(abs, names[i], &pc, &err) < 0)
			test_assert_str(err.msg, "");
		pull_conf_free(&pc);
		free(abs);
	}
	conf_free(&c);
	test_end();
}

/* Many sections: loading and looking every section up must stay linear
 * (it was quadratic: 100,000 sections took more than 30 s). Counted, not
 * timed: a few comparisons per line, whatever the number of sections. */
static void
test_many_sections(void)
{
	enum { N = 20000 };
	struct buf b = BUF_INIT(SIZE_MAX);
	struct err err = { 0 };
	const struct conf_entry **list;
	const char *const *names;
	struct conf *c;
	unsigned long before;
	size_t i, n;

	test_begin("20,000 sections: linear number of comparisons");
	buf_appends(&b, "password = x\nlocal = y\n");
	for (i = 0; i < N; i++)
		buf_appendf(&b, "[s%zu]\nmailbox = m%zu\nuser = u\n", i, i);
	/* A repeated section is merged into the first one. */
	buf_appends(&b, "[s0]\nmailbox = again\n");
	before = conf_compares;
	c = conf_load_string("many.ini", b.data, &err);
	test_assert(c != NULL);
	if (c != NULL) {
		n = conf_sections(c, &names);
		test_assert(n == N);
		/* What pull_conf_load() does: every section's password,
		 * then one section's entries. */
		for (i = 0; i < n; i++)
			test_assert(conf_get(c, names[i], "password") != NULL);
		test_assert_str(conf_get(c, "s0", "mailbox")->value, "again");
		test_assert_str(conf_get(c, "s19999", "mailbox")->value,
		    "m19999");
		test_assert_str(conf_get(c, "s5", "local")->value, "y");
		test_assert(conf_get(c, "s5", "nope") == NULL);
		test_assert(conf_get(c, "nope", "mailbox") == NULL);
		n = conf_entries(c, "s7", &list);
		test_assert(n == 4);
		free(list);
		test_assert(conf_compares - before < 20UL * N);
		conf_free(&c);
	}
	buf_free(&b);
	test_end();
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_DATA_HOME");

	test_tiny_table();
	test_residual_differences();
	test_long_values();
	test_structure();
	test_files();
	test_paths();
	test_pull_defaults();
	test_pull_errors();
	test_pull_proxy();
	test_pull_purge();
	test_pull_paths();
	test_sample();
	test_many_sections();

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_exit();
}
