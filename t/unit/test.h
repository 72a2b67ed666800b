#ifndef T_UNIT_TEST_H
#define T_UNIT_TEST_H

/* Minimal test macros. Each test_begin()/test_end() pair prints one line,
 * "ok NAME" or "not ok NAME: first failure", which t/run counts. */

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int test_failures_total, test_cur_failed, test_count;
static const char *test_cur_name;
static char test_cur_reason[512];

static inline void
test_begin(const char *name)
{
	test_cur_name = name;
	test_cur_failed = 0;
	test_cur_reason[0] = '\0';
}

/* test_begin() for a case run twice, the server's bytes sent whole and
 * one by one (split): "PREFIX: WHAT", then " (split at every byte)". */
static inline void
test_begin_split(const char *prefix, const char *what, bool split)
{
	static char name[300];

	snprintf(name, sizeof(name), "%s: %s%s", prefix, what,
	    split ? " (split at every byte)" : "");
	test_begin(name);
}

#define test_assert(expr)                                                      \
	do {                                                                   \
		if (!(expr))                                                   \
			test_fail_at(__FILE__, __LINE__, #expr);               \
	} while (0)

#define test_assert_str(got, want)                                             \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) { \
			char m_[400];                                          \
			snprintf(m_, sizeof(m_), "got \"%.150s\" want \"%.150s\"", \
			    g_ ? g_ : "(null)", w_ ? w_ : "(null)");           \
			test_fail_at(__FILE__, __LINE__, m_);                  \
		}                                                              \
	} while (0)

/* Writes a file whole (mode 0600) or aborts: fixtures, not the code under
 * test. */
static inline void
test_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* Removes a fixture directory (mkdtemp()'s: no quote in its name) and all
 * below it; a failure is said on stderr. Returns 0 when done. */
static inline int
test_rm_rf(const char *dir)
{
	char cmd[512];
	int rc;

	if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >=
	    sizeof(cmd))
		abort();
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "# %s: status %d\n", cmd, rc);
	return rc;
}

/* Runs fn(arg) in a child, its stderr to /dev/null (the message of an
 * abort on a programming error is expected there): true when the child
 * died of SIGABRT. */
static inline bool
test_child_aborts(void (*fn)(const char *), const char *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		abort();
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static inline void
test_fail_at(const char *file, int line, const char *what)
{
	if (!test_cur_failed)
		snprintf(test_cur_reason, sizeof(test_cur_reason), "%s:%d: %s",
		    file, line, what);
	test_cur_failed = 1;
}

static inline void
test_end(void)
{
	test_count++;
	if (test_cur_failed) {
		test_failures_total++;
		printf("not ok %s: %s\n", test_cur_name, test_cur_reason);
	} else {
		printf("ok %s\n", test_cur_name);
	}
	fflush(stdout);
}

static inline int
test_exit(void)
{
	return test_failures_total ? 1 : 0;
}

#endif
