#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spawn_cmd.h"

/* ASCII, as Perl's isSPACE and isWORDCHAR. */
#define BLANKS " \t\n\v\f\r"

static bool
is_space(char c)
{
	return c != '\0' && strchr(BLANKS, c) != NULL;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Perl's exec (doio.c), which the reference's tunnels and
 * password-command go through: the shell for a command that begins with
 * ". " or "exec ", sets a variable first (VAR=...), or holds one of its
 * metacharacters (but a final newline); otherwise the words between
 * blanks, exec'd directly. */
static bool
needs_shell(const char *s)
{
	const char *p;

	while (is_space(*s))
		s++;
	if ((s[0] == '.' && is_space(s[1])) ||
	    (strncmp(s, "exec", 4) == 0 && is_space(s[4])))
		return true;
	for (p = s; is_alnum(*p) || *p == '_'; p++)
		;
	if (*p == '=')
		return true;
	for (p = s; *p != '\0'; p++)
		if (strchr("$&*(){}[]'\";\\|?<>~`\n", *p) &&
		    !(*p == '\n' && p[1] == '\0'))
			return true;
	return false;
}

/* We have a controlling terminal and are in its foreground: a child in
 * a group of its own could not read it (spawn_cmd.h). */
static bool
tty_foreground(void)
{
	int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
	bool fg;

	if (fd < 0)
		return false;
	fg = tcgetpgrp(fd) == getpgrp();
	close(fd);
	return fg;
}

/* Starts argv with io as its stdout (and stdin for a socket). 0, or an
 * errno value: glibc's posix_spawn reports the child's failure to set up
 * or to exec. It clones without copying our page tables and waits only
 * for the exec: no copy-on-write faults for us afterwards (page faults
 * are a sixth of a no-change sync's CPU on a virtual machine). */
static int
start(pid_t *pid, char *const *argv, int io, const struct spawn_opts *o,
    bool own_group)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t mask, def;
	int e;

	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		return e;
	if ((e = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return e;
	}
	/* An ignored SIGPIPE, and the signals we block while checking our
	 * flags, would survive exec. */
	sigemptyset(&mask);
	if (o->block_sigint)
		sigaddset(&mask, SIGINT);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	/* io is at 3 or above (spawn_start()): dup2 never meets itself.
	 * Nothing of ours (the IMAP socket, the state database) leaks into
	 * the helper. */
	if ((e = posix_spawn_file_actions_adddup2(&fa, io, 1)) != 0 ||
	    (o->socket &&
		(e = posix_spawn_file_actions_adddup2(&fa, io, 0)) != 0) ||
	    (o->null_stderr && (e = posix_spawn_file_actions_addopen(&fa, 2,
		"/dev/null", O_WRONLY, 0)) != 0) ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&at, &mask)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&at, &def)) != 0 ||
	    (own_group && (e = posix_spawnattr_setpgroup(&at, 0)) != 0) ||
	    (e = posix_spawnattr_setflags(&at, (short)(POSIX_SPAWN_SETSIGMASK |
		POSIX_SPAWN_SETSIGDEF |
		(own_group ? POSIX_SPAWN_SETPGROUP : 0)))) != 0)
		goto out;
	e = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
out:
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return e;
}

/* The words of words between blanks, cut in place, NULL-terminated
 * (allocated); NULL when there is none. */
static char **
split_words(char *words)
{
	char **v = xcalloc(strlen(words) / 2 + 2, sizeof(*v));
	char *tok, *save = NULL;
	size_t n = 0;

	for (tok = strtok_r(words, BLANKS, &save); tok != NULL;
	    tok = strtok_r(NULL, BLANKS, &save))
		v[n++] = tok;
	if (n == 0) {
		free(v);
		return NULL;
	}
	return v;
}

int
spawn_start(struct spawn *s, const char *command, const struct spawn_opts *o,
    int *fd_r, struct err *err)
{
	/* argv: the words exec'd directly, NULL for the shell. (A copy of
	 * the line for the shell: the words are cut out of another.) */
	char **argv = NULL, *words = xstrdup(command), *line = xstrdup(command);
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	char *sh_argv[] = {sh, dash_c, line, NULL};
	int io[2] = {-1, -1}, e, rc = -1;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	*fd_r = -1;
	if (!o->always_shell && !needs_shell(command) &&
	    (argv = split_words(words)) == NULL) {
		err_set(err, ERR_CONFIG, "empty %s", o->what);
		goto out;
	}
	if ((o->socket ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		io) : pipe2(io, O_CLOEXEC)) < 0) {
		err_sys(err, ERR_SYS, "%s `%s`: socketpair/pipe", o->what,
		    command);
		goto out;
	}
	/* Only when our 0..2 were closed: the child's end must not be one
	 * of the descriptors it is moved to. */
	if (io[1] < 3) {
		int fd = fcntl(io[1], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			err_sys(err, ERR_SYS, "%s `%s`: fcntl", o->what,
			    command);
			goto out;
		}
		close(io[1]);
		io[1] = fd;
	}
	s->own_group = !tty_foreground();
	e = start(&pid, argv ? argv : sh_argv, io[1], o, s->own_group);
	/* Perl's exec too hands a file the kernel cannot execute (a script
	 * without #!) to the shell. */
	if (e == ENOEXEC && argv != NULL)
		e = start(&pid, sh_argv, io[1], o, s->own_group);
	if (e != 0) {
		errno = e;
		err_sys(err, e == ENOENT || e == EACCES || e == ENOEXEC ||
		    e == ENOTDIR ? ERR_CONFIG : ERR_SYS,
		    "%s `%s`: cannot execute %s", o->what, command,
		    argv ? argv[0] : sh_argv[0]);
		goto out;
	}
	s->pid = pid;
	if (fcntl(io[0], F_SETFL, fcntl(io[0], F_GETFL) | O_NONBLOCK) < 0)
		log_debug("fcntl O_NONBLOCK: %s", strerror(errno));
	*fd_r = io[0];
	io[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++)
		if (io[i] >= 0)
			close(io[i]);
	free(words);
	free(line);
	free(argv);
	return rc;
}

bool
spawn_wait(struct spawn *s, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	long step_ms = 1;

	if (s->pid <= 0 || s->reaped)
		return true;
	for (;;) {
		pid_t r = waitpid(s->pid, &s->status,
		    timeout_ms < 0 ? 0 : WNOHANG);
		uint64_t now;
		struct timespec ts;

		if (r == s->pid) {
			s->reaped = true;
			return true;
		}
		if (r < 0 && errno != EINTR) {
			/* Reaped elsewhere (SIGCHLD ignored?): no status. */
			s->reaped = true;
			s->status = 0;
			return true;
		}
		if (r < 0)
			continue;
		now = now_ms();
		if (now >= end)
			return false;
		/* No portable way to wait for a child with a timeout: poll,
		 * quickly at first (most exit at once), then every 20 ms. */
		if ((uint64_t)step_ms > end - now)
			step_ms = (long)(end - now);
		ts.tv_sec = 0;
		ts.tv_nsec = step_ms * 1000000L;
		nanosleep(&ts, NULL);
		if (step_ms < 20)
			step_ms *= 2;
	}
}

static void
signal_child(const struct spawn *s, int sig)
{
	/* After the leader exited, the group lives on as long as one of its
	 * members does, and its ID cannot be reused meanwhile. */
	if (s->own_group)
		kill(-s->pid, sig);
	else if (!s->reaped)
		kill(s->pid, sig);
}

void
spawn_kill(struct spawn *s, int grace_ms)
{
	if (s == NULL || s->pid <= 0)
		return;
	signal_child(s, SIGTERM);
	/* A stopped child (SIGTTIN, ^Z) would not act on SIGTERM. */
	signal_child(s, SIGCONT);
	spawn_wait(s, grace_ms);
	/* Even when the leader is gone: what it started may not be. */
	signal_child(s, SIGKILL);
	spawn_wait(s, -1);
}

void
spawn_end(struct spawn *s, int wait_ms, int grace_ms)
{
	if (s == NULL || s->pid <= 0)
		return;
	if (!spawn_wait(s, wait_ms))
		spawn_kill(s, grace_ms);
}
