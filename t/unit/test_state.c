#include "util.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pull_state.h"
#include "test.h"

static char dir[] = "/tmp/test_state.XXXXXX";

static void
test_schema_and_journal(void)
{
	struct err err;
	char *path = xasprintf("%s/a.db", dir), *name = NULL;
	struct pull_state *s;
	uint32_t uv = 0, un = 0, *u = NULL;
	size_t n = 0;
	struct stat sb;
	struct pull_msg_info m = {5, 100, "<id@x>", "01-Jan-2020 00:00:00 +0000", "a@b"};

	test_begin("state: new database, 0600, journal and reopen");
	s = pull_state_open(path, &err);
	test_assert(s != NULL);
	test_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 0);
	test_assert(pull_state_set_mailbox(s, "INBOX", 7, 1, &err) == 0);
	test_assert(pull_state_delivered(s, 7, &m, "250 ok", &err) == 0);
	m.uid = 9;
	test_assert(pull_state_rejected(s, 7, &m, "550 no", &err) == 0);
	m.uid = 3;
	test_assert(pull_state_delivered(s, 6, &m, "250 ok", &err) == 0);
	test_assert(pull_state_known(s, 7, 1, &u, &n, &err) == 0);
	test_assert(n == 2 && u[0] == 5 && u[1] == 9);
	free(u);
	test_assert(pull_state_known(s, 7, 6, &u, &n, &err) == 0);
	test_assert(n == 1 && u[0] == 9);
	free(u);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0);
	test_assert(n == 1 && u[0] == 5);
	test_assert(pull_state_mark_seen(s, 7, u, n, &err) == 0);
	free(u);
	test_assert(pull_state_unseen(s, 7, &u, &n, &err) == 0 && n == 0);
	free(u);
	pull_state_close(&s);

	s = pull_state_open(path, &err);
	test_assert(s != NULL);
	test_assert(pull_state_get_mailbox(s, &name, &uv, &un, &err) == 1);
	test_assert(uv == 7 && un == 1);
	test_assert_str(name, "INBOX");
	free(name);
	pull_state_close(&s);
	free(path);
	test_end();
}

static void
test_lock(void)
{
	struct err err;
	char *path = xasprintf("%s/b.db", dir);
	struct pull_state *s;
	int pfd[2], status = -1;
	pid_t pid;

	test_begin("state: a second process is refused while the first runs");
	s = pull_state_open(path, &err);
	test_assert(s != NULL);
	test_assert(pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		struct err e2;
		struct pull_state *s2 = pull_state_open(path, &e2);
		char c = s2 == NULL && e2.kind == ERR_LOCKED ? 'L' : 'X';
		if (write(pfd[1], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	{
		char c = 0;
		test_assert(read(pfd[0], &c, 1) == 1 && c == 'L');
	}
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pull_state_close(&s);
	s = pull_state_open(path, &err);
	test_assert(s != NULL);
	pull_state_close(&s);
	close(pfd[0]);
	close(pfd[1]);
	free(path);
	test_end();
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_schema_and_journal();
	test_lock();
	{
		char *cmd = xasprintf("rm -rf %s", dir);
		if (system(cmd) != 0)
			perror("rm");
		free(cmd);
	}
	return test_exit();
}
