#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

/* Perl's exec uses the shell when it sees a metacharacter; anything
 * outside this conservative set of word characters counts as one. */
static bool
needs_shell(const char *s)
{
	for (; *s != '\0'; s++) {
		char ch = *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr(" \t-_./,:@+", ch))
			continue;
		return true;
	}
	return false;
}

static void ATTR_NORETURN
child(int io, int ep, char *const *argv, const struct spawn_opts *o,
    bool own_group)
{
	sigset_t set;
	int e;

	if (own_group)
		setpgid(0, 0);
	/* dup2(fd, fd) would keep FD_CLOEXEC: move both out of 0..2 first. */
	if (io < 3)
		io = fcntl(io, F_DUPFD_CLOEXEC, 3);
	if (ep < 3)
		ep = fcntl(ep, F_DUPFD_CLOEXEC, 3);
	if (io < 0 || ep < 0 || dup2(io, 1) < 0 ||
	    (o->socket && dup2(io, 0) < 0))
		goto fail;
	if (o->null_stderr) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 2) < 0)
			goto fail;
	}
	/* Nothing of ours (the IMAP socket, the state database) leaks into
	 * the helper, but the error pipe, kept at 3 until exec closes it. */
	if (ep != 3 && dup3(ep, 3, O_CLOEXEC) < 0)
		goto fail;
	ep = 3;
	closefrom(4);
	/* An ignored SIGPIPE, and the signals we block while checking our
	 * flags, would survive exec. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&set);
	if (o->block_sigint)
		sigaddset(&set, SIGINT);
	sigprocmask(SIG_SETMASK, &set, NULL);
	execvp(argv[0], argv);
fail:
	e = errno;
	if (ep >= 0)
		(void)!write(ep, &e, sizeof(e));
	_exit(127);
}

/* We have a controlling terminal and are in its foreground: a child in
 * a group of its own could not read it (spawn.h). */
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

int
spawn_start(struct spawn *s, const char *command, const struct spawn_opts *o,
    int *fd_r, struct err *err)
{
	char **argv, *words = xstrdup(command), *tok, *save = NULL;
	size_t n = 0;
	int io[2] = {-1, -1}, ep[2] = {-1, -1}, e = 0, rc = -1;
	ssize_t r;
	pid_t pid;
	static char sh[] = "/bin/sh", dash_c[] = "-c";

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	*fd_r = -1;
	argv = xcalloc(strlen(command) / 2 + 4, sizeof(*argv));
	if (o->always_shell || needs_shell(command)) {
		argv[n++] = sh;
		argv[n++] = dash_c;
		argv[n++] = words;
	} else {
		for (tok = strtok_r(words, " \t", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t", &save))
			argv[n++] = tok;
	}
	if (n == 0) {
		err_set(err, ERR_CONFIG, "empty %s", o->what);
		goto out;
	}
	if ((o->socket ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		io) : pipe2(io, O_CLOEXEC)) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		err_sys(err, ERR_SYS, "%s `%s`: socketpair/pipe", o->what,
		    command);
		goto out;
	}
	s->own_group = !tty_foreground();
	pid = fork();
	if (pid < 0) {
		err_sys(err, ERR_SYS, "%s `%s`: fork", o->what, command);
		goto out;
	}
	if (pid == 0)
		child(io[1], ep[1], argv, o, s->own_group);
	/* Also here, so that a kill right away reaches the group whichever
	 * of us runs first (EACCES once the child has exec'd: then it did
	 * it itself). */
	if (s->own_group)
		setpgid(pid, pid);
	s->pid = pid;
	close(io[1]);
	close(ep[1]);
	io[1] = ep[1] = -1;
	/* The error pipe closes at a successful exec; a failed one sends
	 * errno, so a missing program is reported right here. */
	do
		r = read(ep[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(e)) {
		spawn_wait(s, -1);
		s->pid = -1;
		errno = e;
		err_sys(err, e == ENOENT || e == EACCES || e == ENOEXEC ||
		    e == ENOTDIR ? ERR_CONFIG : ERR_SYS,
		    "%s `%s`: cannot execute %s", o->what, command, argv[0]);
		goto out;
	}
	if (fcntl(io[0], F_SETFL, fcntl(io[0], F_GETFL) | O_NONBLOCK) < 0)
		log_debug("fcntl O_NONBLOCK: %s", strerror(errno));
	*fd_r = io[0];
	io[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (io[i] >= 0)
			close(io[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	free(words);
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
