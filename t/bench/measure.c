/* measure OUT [--] CMD...: runs CMD, writes "wall user sys maxrss_kb status" to
 * OUT: wall time from a monotonic clock, CPU and peak RSS from wait4() (CMD
 * and the children it waited for), then "self": the CPU time of CMD's own
 * process alone (user and system, from /proc/PID/schedstat read while it
 * is a zombie; -1 where the kernel does not keep it).
 *
 * "self" is what compares two programs whose helpers differ in who waits
 * for them: a tunnel command that a program reaps counts in its wait4()
 * figures, one it leaves to init does not.
 *
 * MEASURE_REPEAT=N runs CMD N times and writes the median wall and CPU
 * times, the largest peak RSS and the first non-zero status: short runs
 * are noisy on a shared machine. MEASURE_TIMEOUT=S kills a run after S
 * seconds (status 124 then).
 *
 * In C rather than in Python because Linux counts the memory of the
 * process that forks into the child's peak RSS (ru_maxrss survives exec):
 * forked from an interpreter, every program would seem to need 10 MB. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
	double wall, user, sys, self;
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

/* The on-CPU time of the zombie pid in seconds (the first field of
 * schedstat, nanoseconds), or -1. */
static double
self_cpu(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fscanf(f, "%llu", &ns);
	fclose(f);
	return n == 1 ? (double)ns / 1e9 : -1;
}

static int
run_once(char **cmd, double limit, struct run *r)
{
	double t0 = now();
	struct rusage ru;
	siginfo_t si;
	int st = 0, killed = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	for (;;) {
		/* Left a zombie (WNOWAIT) to read its own CPU time. */
		int w;

		si.si_pid = 0;
		w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT |
		    (limit > 0 ? WNOHANG : 0));
		if (w == 0 && si.si_pid == pid)
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
	r->self = self_cpu(pid);
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
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
	double limit = 0, *wall, *user, *sys, *self;
	long maxrss = 0;
	FILE *f;

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
	self = calloc((size_t)n, sizeof(double));
	if (!wall || !user || !sys || !self)
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
		self[i] = r.self;
		if (r.maxrss > maxrss)
			maxrss = r.maxrss;
		if (status == 0)
			status = r.status;
	}
	if (!(f = fopen(argv[1], "w"))) {
		perror(argv[1]);
		return 2;
	}
	fprintf(f, "%.4f %.4f %.4f %ld %d %.4f\n", median(wall, n),
	    median(user, n), median(sys, n), maxrss, status, median(self, n));
	return fclose(f) == 0 ? 0 : 2;
}
