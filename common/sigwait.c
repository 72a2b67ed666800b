#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sigwait.h"

static sigset_t watched;
static bool watched_init;
/* Each thread's mask before its sigwait_block(). */
static _Thread_local sigset_t saved;
static sigwait_hook_fn *hook_fn;
static void *hook_ctx;

void
sigwait_install(const int *sigs, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	/* Static storage starts as an empty set on Linux, but not by
	 * contract. */
	if (!watched_init) {
		sigemptyset(&watched);
		watched_init = true;
	}
	for (; *sigs != 0; sigs++) {
		sigaction(*sigs, &sa, NULL);
		sigaddset(&watched, *sigs);
	}
}

void
sigwait_block(void)
{
	pthread_sigmask(SIG_BLOCK, &watched, &saved);
}

void
sigwait_unblock(void)
{
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	errno = e;
}

static const char *test_env;

void
sigwait_set_test_env(const char *name)
{
	test_env = name;
}

void
sigwait_test_hook(void)
{
	static bool done;
	const char *v;
	uint32_t sig;

	if (done || test_env == NULL)
		return;
	done = true;
	v = getenv(test_env);
	if (v != NULL && parse_u32_str(v, &sig) == 0 && sig > 0 && sig < 65)
		kill(getpid(), (int)sig);
}

void
sigwait_set_hook(sigwait_hook_fn *fn, void *ctx)
{
	hook_fn = fn;
	hook_ctx = ctx;
}

void
sigwait_hook(bool before)
{
	int e = errno;

	if (hook_fn != NULL)
		hook_fn(hook_ctx, before);
	errno = e;
}

int
sigwait_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;
	int r;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	/* saved: the mask before sigwait_block(), the watched signals
	 * unblocked (unless the caller had blocked them itself). */
	sigwait_hook(true);
	r = ppoll(fds, nfds, tsp, &saved);
	sigwait_hook(false);
	return r;
}

void
sigwait_nap(unsigned ms, const volatile sig_atomic_t *stop,
    const volatile sig_atomic_t *wake)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		uint64_t now = now_ms();
		bool done;

		sigwait_block();
		done = (stop && *stop) || (wake && *wake) || now >= end;
		if (!done) {
			sigwait_test_hook();
			sigwait_poll(NULL, 0, (int)(end - now));
		}
		sigwait_unblock();
		if (done)
			return;
	}
}
