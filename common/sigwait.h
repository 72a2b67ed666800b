#ifndef COMMON_SIGWAIT_H
#define COMMON_SIGWAIT_H

/* Waits that signals cut short without a race.
 *
 * A handler sets a flag (volatile sig_atomic_t) and the main loop tests
 * it before waiting. A signal landing between the test and poll() would
 * be handled at once, and the wait would then sleep on for its whole
 * timeout (29 minutes for IDLE). So: block the signals, test the flags,
 * and wait with ppoll(), which unblocks them atomically for the wait only:
 * a signal that came after the block is pending and ends the wait at once.
 *
 *	sigwait_block();
 *	if (!*flag)
 *		r = sigwait_poll(&pfd, 1, ms);
 *	sigwait_unblock();
 *
 * Outside these windows the signals stay unblocked, so a handler still
 * runs at once anywhere else (and interrupts other waits with EINTR).
 *
 * Masks are per thread: each thread blocks and waits on its own. */

#include <poll.h>
#include <signal.h>
#include <stdbool.h>

/* Installs handler, without SA_RESTART, for each signal of sigs (a list
 * ending with 0), and adds them to the signals to block: a program with
 * two handlers calls it once per handler. */
void sigwait_install(const int *sigs, void (*handler)(int));

/* Block / restore the installed signals (no-ops when none are). Not
 * nestable. sigwait_unblock() runs the handlers of those that came
 * meanwhile. */
void sigwait_block(void);
void sigwait_unblock(void);

/* poll() on nfds descriptors (0: just sleep) for at most timeout_ms
 * (< 0: no limit), with the installed signals unblocked during the wait
 * only. Call it between sigwait_block() and sigwait_unblock(), after
 * testing the flags. Returns poll's result: -1 with errno EINTR when a
 * signal was handled. */
int sigwait_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);

/* Called with before true right before each blocking wait (every
 * sigwait_poll(), and the other waits on a server: conn.c's), false
 * right after it: a program running threads one at a time (interimap's
 * lanes, lanes.h) lets another run meanwhile. errno is kept. One hook per
 * process, set while no other thread runs; NULL: none. */
typedef void sigwait_hook_fn(void *ctx, bool before);
void sigwait_set_hook(sigwait_hook_fn *fn, void *ctx);
void sigwait_hook(bool before);

/* Sleeps ms milliseconds, or less when *stop or *wake (each may be NULL)
 * is set meanwhile, whenever the signal setting it comes. */
void sigwait_nap(unsigned ms, const volatile sig_atomic_t *stop,
    const volatile sig_atomic_t *wake);

/* Test hook, called right before sigwait_poll() by the waits of a
 * long-running program (IDLE, the sleeps between polls and before
 * reconnecting): when the environment variable named by
 * sigwait_set_test_env() (the program's, e.g. PULLIMAP_TEST_WAIT_SIGNAL)
 * holds a signal number, the first call sends that signal to the process,
 * after the flags were tested: the signal lands inside the window
 * described above, every time (t/pullimap/signals.sh). Later calls, and
 * every call without a variable set, do nothing. The name must live as
 * long as the process. */
void sigwait_set_test_env(const char *name);
void sigwait_test_hook(void);

#endif
