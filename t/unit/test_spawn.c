/* Helper commands (common/spawn_cmd.c): output through the pipe, exec
 * failures reported at start, waiting with a deadline, and kills that
 * reach the whole process group. Run without a controlling terminal (as
 * under t/run), so every child gets a group of its own. */

#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn_cmd.h"
#include "test.h"

/* Reads fd to EOF (non-blocking: waits with short sleeps, 5 s at most). */
static size_t
read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	uint64_t end = now_ms() + 5000;
	while (len + 1 < size && now_ms() < end) {
		ssize_t r = read(fd, buf + len, size - 1 - len);
		if (r == 0)
			break;
		if (r > 0)
			len += (size_t)r;
		else if (errno == EAGAIN)
			usleep(5000);
		else
			break;
	}
	buf[len] = '\0';
	return len;
}

/* Runs command (the pipe options o), its output into buf: 0, -1 when it
 * did not start, -2 when it did not exit within 5 s (s as it ends). */
static int
output_of(const char *command, const struct spawn_opts *o, struct spawn *s,
    char *buf, size_t size)
{
	struct err err = {0};
	int fd;

	buf[0] = '\0';
	if (spawn_start(s, command, o, &fd, &err) < 0)
		return -1;
	read_all(fd, buf, size);
	close(fd);
	return spawn_wait(s, 5000) ? 0 : -2;
}

static bool
group_gone(pid_t pgid)
{
	return kill(-pgid, 0) < 0 && errno == ESRCH;
}

int
main(void)
{
	static const struct spawn_opts pipe_sh = {"test command", true, false,
	    false, false};
	static const struct spawn_opts pipe_exec = {"test command", false,
	    false, true, false};
	struct spawn s;
	struct err err = {0};
	char buf[256];
	uint64_t t0;
	int fd;

	test_begin("spawn: output through the pipe, exit status");
	test_assert(spawn_start(&s, "echo hello; exit 3", &pipe_sh, &fd,
	    &err) == 0);
	if (fd >= 0) {
		read_all(fd, buf, sizeof(buf));
		test_assert_str(buf, "hello\n");
		close(fd);
	}
	test_assert(spawn_wait(&s, 5000));
	test_assert(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 3);
	test_assert(s.own_group);
	test_end();

	test_begin("spawn: a missing program is a configuration error");
	test_assert(spawn_start(&s, "/nonexistent/spawn-test", &pipe_exec, &fd,
	    &err) < 0);
	test_assert(err.kind == ERR_CONFIG);
	test_assert(strstr(err.msg, "test command `/nonexistent/spawn-test`: "
	    "cannot execute") == err.msg);
	test_assert(s.pid == -1 && fd == -1);
	test_end();

	/* Perl's exec rules (doio.c), which the reference's commands go
	 * through: the shell only for its metacharacters, "VAR=" first,
	 * ". " or "exec " first. A shell would take "#c" for a comment. */
	test_begin("spawn: words exec'd directly as Perl's exec does");
	test_assert(output_of("/bin/echo a=b #c %d ! ^e\n", &pipe_exec, &s,
	    buf, sizeof(buf)) == 0);
	test_assert_str(buf, "a=b #c %d ! ^e\n");
	test_end();

	test_begin("spawn: the shell for Perl's metacharacters and VAR=");
	{
		static const char *const cmds[] = {
		    "X_Y1=z /usr/bin/printenv X_Y1 #c", "exec /bin/echo z #c",
		    "/bin/echo z;#c", "/bin/echo z #c $HOME_NOT_SET",
		    "/bin/echo 'z' #c"};
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			test_assert(output_of(cmds[i], &pipe_exec, &s, buf,
			    sizeof(buf)) == 0);
			test_assert_str(buf, "z\n");
		}
	}
	test_end();

	test_begin("spawn: a script without #! goes to the shell");
	{
		char dir[] = "/tmp/test_spawn.XXXXXX", path[64], cmd[80];
		FILE *f;
		test_assert(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/noshebang", dir);
		test_assert((f = fopen(path, "w")) != NULL);
		if (f) {
			fputs("echo \"from sh: $1\"\n", f);
			fclose(f);
		}
		test_assert(chmod(path, 0755) == 0);
		snprintf(cmd, sizeof(cmd), "%s arg", path);
		test_assert(output_of(cmd, &pipe_exec, &s, buf,
		    sizeof(buf)) == 0);
		test_assert_str(buf, "from sh: arg\n");
		test_assert(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0);
		unlink(path);
		rmdir(dir);
	}
	test_end();

	test_begin("spawn: stdin and stdout are the socket, stderr /dev/null");
	{
		static const struct spawn_opts sock = {"test tunnel", false,
		    true, true, true};
		test_assert(spawn_start(&s, "/bin/sh -c 'read l; echo got $l; "
		    "echo err >&2'", &sock, &fd, &err) == 0);
		if (fd >= 0) {
			test_assert(write(fd, "x\n", 2) == 2);
			read_all(fd, buf, sizeof(buf));
			test_assert_str(buf, "got x\n");
			close(fd);
		}
		test_assert(spawn_wait(&s, 5000));
	}
	test_end();

	test_begin("spawn: a command of blanks only is a configuration error");
	test_assert(spawn_start(&s, " \t ", &pipe_exec, &fd, &err) < 0);
	test_assert(err.kind == ERR_CONFIG);
	test_assert_str(err.msg, "empty test command");
	test_assert(s.pid == -1 && fd == -1);
	test_end();

	test_begin("spawn: wait with a deadline, kill the whole group");
	/* The shell stays (`; :`), its sleep is a grandchild. */
	test_assert(spawn_start(&s, "sleep 30; :", &pipe_sh, &fd, &err) == 0);
	t0 = now_ms();
	test_assert(!spawn_wait(&s, 200));
	test_assert(now_ms() - t0 >= 190 && now_ms() - t0 < 2000);
	test_assert(!spawn_wait(&s, 0));
	spawn_kill(&s, 1000);
	test_assert(s.reaped);
	test_assert(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGTERM);
	/* Group IDs are pids: the sleep, killed too, is reaped by init. */
	t0 = now_ms();
	while (!group_gone(s.pid) && now_ms() - t0 < 3000)
		usleep(10000);
	test_assert(group_gone(s.pid));
	if (fd >= 0)
		close(fd);
	test_end();

	test_begin("spawn: SIGKILL after the grace for a child ignoring SIGTERM");
	test_assert(spawn_start(&s, "trap '' TERM; echo ready; sleep 30; :",
	    &pipe_sh, &fd, &err) == 0);
	if (fd >= 0) {
		/* Once it said "ready", its trap is in place. */
		read_all(fd, buf, 7);
		test_assert_str(buf, "ready\n");
	}
	t0 = now_ms();
	spawn_kill(&s, 300);
	test_assert(now_ms() - t0 >= 290 && now_ms() - t0 < 3000);
	test_assert(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL);
	if (fd >= 0)
		close(fd);
	test_end();

	test_begin("spawn: spawn_end lets a child that exits go");
	test_assert(spawn_start(&s, "exit 0", &pipe_sh, &fd, &err) == 0);
	spawn_end(&s, 5000, 1000);
	test_assert(s.reaped && WIFEXITED(s.status) &&
	    WEXITSTATUS(s.status) == 0);
	if (fd >= 0)
		close(fd);
	test_end();
	return test_exit();
}
