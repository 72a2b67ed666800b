/* interimap/ilog.c: the log-prefix format and the logfile. The render
 * expectations were produced by the reference's own formatter
 * (Net::IMAP::InterIMAP 0.5.7, _logger_prefix) on each input; ilog_render
 * also agreed with it on 300,000 random formats over the alphabet
 * "%?&\nmxa(" when this test was written. */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ilog.h"
#include "log.h"
#include "capture.h"
#include "test.h"

static const struct {
	const char *fmt, *name, *mailbox, *want;
} render_cases[] = {
	{ "%?n?%?m?%n(%m)&%n?: ?", "local", "INBOX", "local(INBOX): " },
	{ "%?n?%?m?%n(%m)&%n?: ?", "local", NULL, "local: " },
	{ "%?n?%?m?%n(%m)&%n?: ?", NULL, NULL, "" },
	{ "%?n?%?m?%n(%m)&%n?: ?", NULL, "INBOX", "" },
	{ "%?n?%?m?%n(%m)&%n?: ?", "database", NULL, "database: " },
	{ "[%?n?%n&-?%?m?/%m?] \\& %%", "local", "INBOX", "[local/INBOX] & %" },
	{ "[%?n?%n&-?%?m?/%m?] \\& %%", NULL, NULL, "[-] & %" },
	{ "%n", "local", NULL, "local" },
	{ "%m", NULL, "x", "x" },
	{ "%%n", "local", NULL, "%n" },
	{ "%%%n", "local", NULL, "%local" },
	{ "\\%n", "local", NULL, "\\local" },
	{ "\\\\%n", "local", NULL, "\\local" },
	{ "%x %?", "local", NULL, "%x %?" },
	{ "%?x?yes&no?", "local", NULL, "no" },
	{ "%?n?a\\?b&c\\&d?", "local", NULL, "a?b" },
	{ "%?n?a\\?b&c\\&d?", NULL, NULL, "c&d" },
	{ "%?n?a\\x?", "local", NULL, "%?n?a\\x?" },
	{ "%?n?a%&b?", "local", NULL, "a%&b" },
	{ "%?n?a%&b?", NULL, NULL, "" },
	{ "%?n?%?m?A&B?&%?m?C&D??", "local", "m", "A" },
	{ "%?n?%?m?A&B?&%?m?C&D??", "local", NULL, "B" },
	{ "%?n?%?m?A&B?&%?m?C&D??", NULL, "m", "C" },
	{ "%?n?%?m?A&B?&%?m?C&D??", NULL, NULL, "D" },
	{ "%?n?x", "local", NULL, "%?n?x" },
	{ "%?n?x&y", "local", NULL, "%?n?x&y" },
	{ "%?n??", "local", NULL, "" },
	{ "%?n?&?", NULL, NULL, "" },
	{ "%?n?a?b?", "local", NULL, "ab?" },
	{ "%?n?a&b&c?", "local", NULL, "%?n?a&b&c?" },
	{ "%?n?a&b&c?", NULL, NULL, "%?n?a&b&c?" },
	{ "%%?n?a?", "local", NULL, "%a" },
	{ "%?n?%%?m?b??", "local", "m", "%m?b??" },
	{ "%?n?%%?m?b??", "local", NULL, "%m?b??" },
	{ "%?n?%?", "local", NULL, "%?n?%?" },
	{ "%?1?a?", "local", NULL, "%?1?a?" },
	{ "%?N?a&b?", "local", NULL, "b" },
	{ "\\\\", NULL, NULL, "\\" },
	{ "\\", NULL, NULL, "\\" },
	{ "a\\b", NULL, NULL, "a\\b" },
	{ "%?n?\\\\&\\??", "local", NULL, "\\" },
	{ "%?n?\\\\&\\??", NULL, NULL, "?" },
	{ "%?n?%\\&x?", "local", NULL, "%\\" },
	{ "%?n?%\\&x?", NULL, NULL, "x" },
	{ "%?m?%?n?[%n]??%?m?%m?", "local", "I", "[local]I" },
	{ "%?n?%?m?x", "local", "m", "%?n?%?m?x" },
	{ "%?n?%?m?x?", "local", "m", "%?n?x" },
	{ "%?n?%?m?x??", "local", "m", "x" },
	{ "%?n?%?m?x??", NULL, "m", "" },
	{ "%?n?%n%?n?%n??", "ab", NULL, "abab" },
	{ "%?n?%?n?%?n?%?n?deep????", "a", NULL, "deep" },
	{ "%?n?%?n?%?n?%?n?deep????", NULL, NULL, "" },
	{ "?&%", "local", NULL, "?&%" },
	{ "%?m?(%m)?", "local", "a%nb", "(a%nb)" },
	{ "%n%m", "%m", "%n", "%m%n" },
	/* name or mailbox "" is the same as none */
	{ "%?n?%?m?%n(%m)&%n?: ?", "", "INBOX", "" },
	{ "%?m?[%m]&none?", "local", "", "none" },
};


static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = xcalloc(1, 65536);

	if (f != NULL) {
		size_t n = fread(s, 1, 65535, f);

		s[n] = '\0';
		fclose(f);
	}
	return s;
}

/* The fd open on path, or -1. */
static int
fd_of(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char link[4096], p[300];
	int fd = -1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, path) == 0)
			fd = atoi(de->d_name);
	}
	closedir(d);
	return fd;
}

/* "Mon DD HH:MM:SS.U " at s: returns what follows, or NULL. */
static const char *
skip_timestamp(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *m = strstr(months, (char[4]){ s[0], s[1], s[2], 0 });
	int i;

	if (strlen(s) < 17 || m == NULL || (m - months) % 3 != 0 ||
	    s[3] != ' ' || (s[4] != ' ' && (s[4] < '1' || s[4] > '3')) ||
	    s[5] < '0' || s[5] > '9' || s[6] != ' ' || s[9] != ':' ||
	    s[12] != ':' || s[15] != '.')
		return NULL;
	for (i = 16; s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == 16 || i > 22 || s[i] != ' ')
		return NULL;
	return s + i + 1;
}

static void
test_render(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(render_cases); i++) {
		char name[160], *r;

		snprintf(name, sizeof(name), "render: %s [%s|%s]",
		    render_cases[i].fmt,
		    render_cases[i].name ? render_cases[i].name : "-",
		    render_cases[i].mailbox ? render_cases[i].mailbox : "-");
		test_begin(name);
		r = ilog_render(render_cases[i].fmt, render_cases[i].name,
		    render_cases[i].mailbox);
		test_assert_str(r, render_cases[i].want);
		free(r);
		test_end();
	}

	test_begin("render: deep nesting, bounded recursion, same result");
	{
		static const int depths[] = { ILOG_MAX_DEPTH - 1,
			ILOG_MAX_DEPTH, ILOG_MAX_DEPTH + 9, 600 };
		size_t j;

		for (j = 0; j < ARRAY_LEN(depths); j++) {
			int k, d = depths[j];
			char *fmt = xcalloc(1, (size_t)d * 5 + 2), *r;

			for (k = 0; k < d; k++)
				strcat(fmt, "%?n?");
			strcat(fmt, "x");
			for (k = 0; k < d; k++)
				strcat(fmt, "?");
			r = ilog_render(fmt, "a", NULL);
			test_assert_str(r, "x");
			free(r);
			r = ilog_render(fmt, NULL, NULL);
			test_assert_str(r, "");
			free(r);
			free(fmt);
		}
	}
	test_end();
}

static void
test_prefix(void)
{
	const char *p;

	test_begin("prefix: the process's format, remembered per name/mailbox");
	ilog_set_format(NULL);
	test_assert_str(ilog_prefix("local", "INBOX"), "local(INBOX): ");
	test_assert_str(ilog_prefix("local", "INBOX"), "local(INBOX): ");
	test_assert_str(ilog_prefix("remote", NULL), "remote: ");
	test_assert_str(ilog_prefix("remote", ""), "remote: ");
	test_assert_str(ilog_prefix(NULL, NULL), "");
	ilog_set_format("<%n>");
	p = ilog_prefix("remote", NULL);
	test_assert_str(p, "<remote>");
	ilog_set_format("");
	test_assert_str(ilog_prefix("local", "INBOX"), "");
	test_end();

	test_begin("prefix: log lines get it as is, no \": \" added");
	ilog_set_format(NULL);
	capture_begin();
	log_at(LOG_NOTICE, ilog_prefix("database", NULL), "Created mailbox %s",
	    "INBOX");
	log_at(LOG_WARN, ilog_prefix("local", "a/b"), "w");
	log_at(LOG_ERROR, ilog_prefix(NULL, "x"), "e");
	test_assert_str(capture_end(), "database: Created mailbox INBOX\n"
	    "local(a/b): WARNING: w\nERROR: e\n");
	test_end();
}

static void
test_timestamp(void)
{
	struct timeval tv;
	char buf[64];

	test_begin("timestamp: %b %e %H:%M:%S.usec, usec not padded");
	setenv("TZ", "UTC", 1);
	tzset();
	tv.tv_sec = 1700000000; /* Tue Nov 14 22:13:20 UTC 2023 */
	tv.tv_usec = 500000;
	test_assert(ilog_timestamp(buf, sizeof(buf), &tv) == 22);
	test_assert_str(buf, "Nov 14 22:13:20.500000");
	tv.tv_usec = 42;
	ilog_timestamp(buf, sizeof(buf), &tv);
	test_assert_str(buf, "Nov 14 22:13:20.42");
	tv.tv_sec = 1709600645; /* Tue Mar  5 01:04:05 UTC 2024 */
	tv.tv_usec = 0;
	ilog_timestamp(buf, sizeof(buf), &tv);
	test_assert_str(buf, "Mar  5 01:04:05.0");
	test_assert(ilog_timestamp(buf, 10, &tv) == 0);
	setenv("TZ", "Europe/Stockholm", 1);
	tzset();
	ilog_timestamp(buf, sizeof(buf), &tv);
	/* local time, if the zone is known here */
	test_assert(strcmp(buf, "Mar  5 02:04:05.0") == 0 ||
	    strcmp(buf, "Mar  5 01:04:05.0") == 0);
	unsetenv("TZ");
	tzset();
	test_end();
}

static void
test_logfile(void)
{
	char dir[] = "/tmp/test_ilog_f.XXXXXX", *path, *s;
	const char *rest;
	struct err err;
	int fd;

	if (mkdtemp(dir) == NULL)
		abort();
	path = xasprintf("%s/log", dir);
	test_write_file(path, "old line\n", 9);
	ilog_set_format(NULL);

	test_begin("logfile: appended, timestamped; debug lines only there");
	test_assert(ilog_open_file(path, &err) == 0);
	fd = fd_of(path);
	test_assert(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	test_assert(fd >= 0 && (fcntl(fd, F_GETFL) & O_APPEND) != 0);
	log_debug_level = 1;
	log_quiet = false;
	capture_begin();
	log_at(LOG_INFO, ilog_prefix("local", "INBOX"), "Added %d UID(s)", 2);
	log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), ">>> interimap");
	log_trace_at(ilog_prefix("remote", NULL), "C", "000001 NOOP\r\n", 13);
	log_at(LOG_WARN, ilog_prefix("remote", NULL), "careful");
	test_assert_str(capture_end(), "local(INBOX): Added 2 UID(s)\n"
	    "remote: WARNING: careful\n");
	s = slurp(path);
	test_assert(strncmp(s, "old line\n", 9) == 0);
	rest = skip_timestamp(s + 9);
	test_assert(rest != NULL);
	if (rest != NULL) {
		test_assert(strncmp(rest, "local(INBOX): Added 2 UID(s)\n",
		    29) == 0);
		rest = skip_timestamp(rest + 29);
		test_assert(rest != NULL);
	}
	if (rest != NULL) {
		test_assert(strncmp(rest, ">>> interimap\n", 14) == 0);
		rest = skip_timestamp(rest + 14);
		test_assert(rest != NULL);
	}
	if (rest != NULL) {
		test_assert(strncmp(rest, "remote: C: 000001 NOOP\n", 23) == 0);
		rest = skip_timestamp(rest + 23);
		test_assert(rest != NULL);
	}
	if (rest != NULL)
		test_assert_str(rest, "remote: WARNING: careful\n");
	free(s);
	test_end();

	test_begin("logfile: --quiet and no --debug filter both");
	log_debug_level = 0;
	log_quiet = true;
	test_write_file(path, "", 0);
	capture_begin();
	log_at(LOG_INFO, NULL, "quiet");
	log_at(LOG_DEBUG, NULL, "debug");
	log_at(LOG_ERROR, ilog_prefix("local", NULL), "bad");
	test_assert_str(capture_end(), "local: ERROR: bad\n");
	s = slurp(path);
	rest = skip_timestamp(s);
	test_assert(rest != NULL);
	if (rest != NULL)
		test_assert_str(rest, "local: ERROR: bad\n");
	free(s);
	log_quiet = false;
	test_end();

	test_begin("logfile: closed, back to stderr only");
	ilog_close_file();
	test_assert(fd_of(path) == -1);
	log_debug_level = 1;
	capture_begin();
	log_at(LOG_DEBUG, NULL, "dbg");
	test_assert_str(capture_end(), "dbg\n");
	log_debug_level = 0;
	s = slurp(path);
	test_assert(strstr(s, "dbg") == NULL);
	free(s);
	test_end();

	test_begin("logfile: can't open");
	s = xasprintf("%s/no/such/dir/log", dir);
	test_assert(ilog_open_file(s, &err) == -1);
	test_assert(err.kind == ERR_SYS);
	test_assert(strstr(err.msg, "can't open logfile ") == err.msg);
	test_assert(strstr(err.msg, "No such file or directory") != NULL);
	free(s);
	test_end();

	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	test_render();
	test_prefix();
	test_timestamp();
	test_logfile();
	return test_exit();
}
