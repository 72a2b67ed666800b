/* measure OUT [--] CMD...: runs CMD, writes "wall user sys maxrss_kb status" to
 * OUT: wall time from a monotonic clock, CPU and peak RSS from wait4() (CMD
 * and the children it waited for).
 *
 * MEASURE_REPEAT=N runs CMD N times and writes the median wall and CPU
 * times, the largest peak RSS and the first non-zero status: short runs
 * are noisy on a shared machine. MEASURE_TIMEOUT=S kills a run after S
 * seconds (status 124 then).
 *
 * measure --detach DIR CMD...: returns at once, leaving a child that runs
 * CMD (with our stdin and stdout) and writes its figures to DIR/PID when
 * it ends (the file is there, empty, from before we return). A tunnel
 * command for the bench: the program that starts it, and may wait for
 * it, pays for this process's start and exit only, not for a shell's;
 * CMD's figures are the server's, kept apart.
 *
 * In C rather than in Python because Linux counts the memory of the
 * process that forks into the child's peak RSS (ru_maxrss survives exec):
 * forked from an interpreter, every program would seem to need 10 MB. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
	double wall, user, sys;
	long maxrss;
	int status;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static bool detached;

static int
run_once(char **cmd, double limit, struct run *r)
{
	double t0 = now();
	struct rusage ru;
	int st = 0, killed = 0;
	pid_t pid = fork(), w;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	/* The tunnel's socket stays with CMD alone: its peer sees it close
	 * when CMD exits. */
	if (detached) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (fd > 1)
				close(fd);
		}
	}
	for (;;) {
		w = wait4(pid, &st, limit > 0 ? WNOHANG : 0, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (limit > 0 && now() - t0 > limit && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		if (limit > 0) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	r->wall = now() - t0;
	r->user = tv(ru.ru_utime);
	r->sys = tv(ru.ru_stime);
	r->maxrss = ru.ru_maxrss;
	r->status = killed ? 124 : WIFEXITED(st) ? WEXITSTATUS(st)
						 : 128 + WTERMSIG(st);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	const char *e;
	int n = 1, status = 0;
	double limit = 0, *wall, *user, *sys;
	long maxrss = 0;
	FILE *f;
	char out[4096];

	if (argc > 3 && strcmp(argv[1], "--detach") == 0) {
		pid_t pid;

		/* There (empty) before we return: who waits for the figures
		 * knows it has some to wait for. */
		snprintf(out, sizeof(out), "%s/%d", argv[2], (int)getpid());
		if (!(f = fopen(out, "w"))) {
			perror(out);
			return 2;
		}
		fclose(f);
		if ((pid = fork()) < 0) {
			perror("measure: fork");
			return 2;
		}
		if (pid > 0)
			_exit(0);
		detached = true;
		argv[2] = out;
		argv++;
		argc--;
	}
	if (argc > 2 && strcmp(argv[2], "--") == 0) {
		argv[2] = argv[1];
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: measure OUT [--] CMD...\n");
		return 2;
	}
	if ((e = getenv("MEASURE_REPEAT")) && atoi(e) > 0)
		n = atoi(e);
	if ((e = getenv("MEASURE_TIMEOUT")))
		limit = atof(e);
	wall = calloc((size_t)n, sizeof(double));
	user = calloc((size_t)n, sizeof(double));
	sys = calloc((size_t)n, sizeof(double));
	if (!wall || !user || !sys)
		return 2;
	for (int i = 0; i < n; i++) {
		struct run r;
		if (run_once(argv + 2, limit, &r) < 0) {
			perror("measure");
			return 2;
		}
		wall[i] = r.wall;
		user[i] = r.user;
		sys[i] = r.sys;
		if (r.maxrss > maxrss)
			maxrss = r.maxrss;
		if (status == 0)
			status = r.status;
	}
	if (!(f = fopen(argv[1], "w"))) {
		perror(argv[1]);
		return 2;
	}
	fprintf(f, "%.4f %.4f %.4f %ld %d\n", median(wall, n), median(user, n),
	    median(sys, n), maxrss, status);
	return fclose(f) == 0 ? 0 : 2;
}
