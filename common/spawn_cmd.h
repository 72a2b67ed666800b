#ifndef COMMON_SPAWN_CMD_H
#define COMMON_SPAWN_CMD_H

/* Helper commands: tunnels (`command = ...`, the IMAP stream on the
 * command's stdin/stdout) and password-command (a secret on its stdout).
 * One implementation of start, wait with a deadline, and kill, so that no
 * helper can hold us longer than the caller allows.
 *
 * The child gets a process group of its own, so that a kill reaches
 * whatever it started too (`sh -c 'a | b'`, a `sleep` behind a shell),
 * except when we have a controlling terminal and are in its foreground:
 * then the child stays in our group, because a process in a background
 * group that reads the terminal is stopped (SIGTTIN), and helpers do
 * prompt there (ssh's host key question on /dev/tty, a passphrase). A
 * kill then reaches the child alone. Under cron or systemd there is no
 * terminal. */

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

struct spawn {
	pid_t pid;       /* -1 when nothing runs */
	bool own_group;  /* pid leads a process group of its own */
	bool reaped;
	int status;      /* wait status, valid once reaped (0 when lost) */
};

struct spawn_opts {
	/* What the messages call the command: "tunnel command",
	 * "password-command". */
	const char *what;
	/* Run through /bin/sh -c always; otherwise as Perl's exec does:
	 * the shell for a command with one of Perl's metacharacters, one
	 * that sets a variable first or begins with ". " or "exec ", else
	 * the words between blanks exec'd directly, a file the kernel
	 * cannot execute (no #!) handed to the shell. */
	bool always_shell;
	/* true: stdin and stdout are one end of a socketpair (a tunnel);
	 * false: stdout is a pipe, stdin is inherited. */
	bool socket;
	bool null_stderr;  /* stderr to /dev/null (else inherited) */
	/* SIGINT blocked in the child: a ^C aimed at us must not kill a
	 * tunnel before we could log out. */
	bool block_sigint;
};

/* Starts command. On success returns 0 with s filled and *fd_r our end
 * (non-blocking, close-on-exec; the caller closes it): the socket, or
 * the read end of the stdout pipe. A program that cannot be executed is
 * reported here: ERR_CONFIG when it is missing or not executable, ERR_SYS
 * otherwise (also for pipe/fork failures); s->pid is -1 then. The child
 * starts with the default SIGPIPE, an empty signal mask (but SIGINT when
 * asked) and no file descriptor of ours beyond 0..2. */
int spawn_start(struct spawn *s, const char *command,
    const struct spawn_opts *o, int *fd_r, struct err *err);

/* Waits up to timeout_ms (< 0: without limit, 0: just check) for the
 * child to exit. Returns true once it is reaped (s->status set). */
bool spawn_wait(struct spawn *s, int timeout_ms);

/* Ends the child: SIGTERM to its process group (or to it alone, see
 * above), SIGKILL to the same after grace_ms if it has not exited, then
 * reaps it. NULL-safe for an s that runs nothing. */
void spawn_kill(struct spawn *s, int grace_ms);

/* Like spawn_kill(), but lets the child exit on its own first (within
 * wait_ms): what a closed tunnel normally does at EOF. */
void spawn_end(struct spawn *s, int wait_ms, int grace_ms);

#endif
