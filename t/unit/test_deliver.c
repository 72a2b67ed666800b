/* Delivery layer: method parsing, reply parsing, and deliveries over LMTP
 * (native) and SMTP (libcurl) into t/lib/sink.py and a private Dovecot.
 * Loopback only; every wait is bounded; children die with us
 * (PR_SET_PDEATHSIG) and are killed at exit. Set KEEP_TMP=1 to keep the
 * temporary directory (sink transcripts, messages). */

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver_p.h"
#include "log.h"
#include "test.h"

#define TIMEOUT_MS 10000

static char tmpdir[64];
static pid_t children[64];
static size_t nchildren;
static pid_t test_pid;

/* ---- processes and files ---- */

static void
cleanup(void)
{
	size_t i;

	if (getpid() != test_pid)
		return;
	for (i = 0; i < nchildren; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	}
	if (tmpdir[0] && getenv("KEEP_TMP") == NULL)
		test_rm_rf(tmpdir);
}

struct args {
	char *v[40];
	size_t n;
};

static void
arg(struct args *a, const char *s)
{
	if (a->n < ARRAY_LEN(a->v) - 1)
		a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void
args_free(struct args *a)
{
	while (a->n > 0)
		free(a->v[--a->n]);
}

static pid_t
spawn(struct args *a, const char *out)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		int fd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != test_pid)
			_exit(127);
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(a->v[0], a->v);
		_exit(127);
	}
	args_free(a);
	if (nchildren < ARRAY_LEN(children))
		children[nchildren++] = pid;
	return pid;
}

/* Stops a child: SIGTERM, then SIGKILL after ms. */
static void
stop(pid_t pid, int ms)
{
	size_t i;
	int waited = 0;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (waited >= ms) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		usleep(20000);
		waited += 20;
	}
	for (i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		p = xgrow(p, &cap, len + 65536 + 1, 1);
		n = fread(p + len, 1, 65536, f);
		len += n;
	} while (n > 0);
	fclose(f);
	p[len] = '\0';
	if (len_r)
		*len_r = len;
	return p;
}

static int
count_lines(const char *path, const char *prefix)
{
	char *s = slurp(path, NULL), *p;
	int n = 0;
	size_t k = strlen(prefix);

	for (p = s; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, prefix, k) == 0)
			n++;
	}
	free(s);
	return n;
}

static bool
wait_for_line(const char *path, const char *prefix, int ms)
{
	int waited;

	for (waited = 0; waited <= ms; waited += 20) {
		if (count_lines(path, prefix) > 0)
			return true;
		usleep(20000);
	}
	return false;
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- the sink ---- */

enum transport { TCP4, TCP6, UNIXSOCK };

struct sink {
	pid_t pid;
	char dir[128], log[160], method[256];
};

/* Extra sink arguments follow, NULL-terminated. Returns 0 when listening. */
static int
sink_start(struct sink *s, const char *name, const char *proto,
    enum transport tr, ...)
{
	char portfile[160], sock[160], script[512], out[160], *port;
	struct args av = { .n = 0 };
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	int waited;
	va_list ap;
	const char *a;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/%s", tmpdir, name);
	snprintf(s->log, sizeof(s->log), "%s/transcript", s->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
	snprintf(sock, sizeof(sock), "%s/sock", s->dir);
	snprintf(out, sizeof(out), "%s/stdout", s->dir);
	snprintf(script, sizeof(script), "%s/t/lib/sink.py", top);
	if (mkdir(s->dir, 0755) < 0)
		return -1;
	/* $PYTHON, else the system's (a pyenv shim costs a second). */
	arg(&av, getenv("PYTHON") ? getenv("PYTHON") :
	    access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" :
	    "python3");
	arg(&av, script);
	arg(&av, "--dir");
	arg(&av, s->dir);
	arg(&av, "--log");
	arg(&av, s->log);
	arg(&av, "--lifetime");
	arg(&av, "120");
	if (strcmp(proto, "lmtp") == 0)
		arg(&av, "--lmtp");
	if (tr == UNIXSOCK) {
		arg(&av, "--unix");
		arg(&av, sock);
	} else {
		arg(&av, "--host");
		arg(&av, tr == TCP6 ? "::1" : "127.0.0.1");
	}
	arg(&av, "--port-file");
	arg(&av, portfile);
	va_start(ap, tr);
	while ((a = va_arg(ap, const char *)) != NULL)
		arg(&av, a);
	va_end(ap);
	s->pid = spawn(&av, out);
	for (waited = 0; !exists(portfile); waited += 20) {
		if (waited > 10000 || waitpid(s->pid, NULL, WNOHANG) != 0)
			return -1;
		usleep(20000);
	}
	port = slurp(portfile, NULL);
	if (port == NULL)
		return -1;
	port[strcspn(port, "\n")] = '\0';
	if (tr == UNIXSOCK)
		snprintf(s->method, sizeof(s->method), "%s:%s", proto, sock);
	else
		snprintf(s->method, sizeof(s->method), "%s:[%s]:%s", proto,
		    tr == TCP6 ? "::1" : "127.0.0.1", port);
	free(port);
	return 0;
}

static void
sink_stop(struct sink *s)
{
	stop(s->pid, 2000);
	s->pid = 0;
}

/* The message of transaction txn, or NULL. */
static char *
sink_msg(const struct sink *s, int txn, const char *ext, size_t *len_r)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/%03d.%s", s->dir, txn, ext);
	return slurp(path, len_r);
}

static bool
sink_msg_is(const struct sink *s, int txn, const char *want, size_t wantlen)
{
	size_t len;
	char *got = sink_msg(s, txn, "eml", &len);
	bool ok = got && len == wantlen && memcmp(got, want, len) == 0;

	free(got);
	return ok;
}

/* ---- body sources ---- */

struct mem_src {
	const char *p;
	size_t len, off, chunk, fail_at;
	bool fail;
};

static ssize_t
mem_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct mem_src *m = ctx;
	size_t k = m->len - m->off;

	if (m->fail && m->off >= m->fail_at)
		return err_set(err, ERR_TEMP, "imap: source failed");
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	if (m->fail && m->off + k > m->fail_at)
		k = m->fail_at - m->off;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

static struct deliver *
new_deliver(const char *method, int timeout_ms)
{
	struct deliver_opts o = { .method = method, .ehlo = "client.test",
		.rcpt = "alice@example.org", .timeout_ms = timeout_ms };
	struct err err = { 0 };
	struct deliver *d = deliver_new(&o, &err);

	if (d == NULL)
		fprintf(stderr, "deliver_new: %s\n", err.msg);
	return d;
}

static int
send_mem(struct deliver *d, const char *sender, const char *body,
    size_t len, size_t chunk, struct deliver_result *res, struct err *err)
{
	struct mem_src m = { .p = body, .len = len, .chunk = chunk };

	return deliver_message(d, sender, len, mem_read, &m, res, err);
}

/* Deterministic generated body: 100-byte CRLF lines, every fifth one
 * starting with a dot. */
struct gen_src {
	uint64_t total, off;
	long rss_start, rss_max;
};

static char
gen_byte(uint64_t i)
{
	uint64_t line = i / 100, col = i % 100;

	if (col == 98)
		return '\r';
	if (col == 99)
		return '\n';
	if (col == 0 && line % 5 == 0)
		return '.';
	return (char)('a' + (line * 7 + col) % 26);
}

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static ssize_t
gen_read(void *ctx, char *buf, size_t n, struct err *err)
{
	struct gen_src *g = ctx;
	size_t i;

	(void)err;
	/* Measure from the first body byte: loading libcurl and opening
	 * the connection are not the body's doing. */
	if (g->off == 0)
		g->rss_start = g->rss_max = rss_kb();
	if (n > g->total - g->off)
		n = (size_t)(g->total - g->off);
	for (i = 0; i < n; i++)
		buf[i] = gen_byte(g->off + i);
	if (g->off / (1 << 20) != (g->off + n) / (1 << 20)) {
		long r = rss_kb();
		if (r > g->rss_max)
			g->rss_max = r;
	}
	g->off += n;
	return (ssize_t)n;
}

/* ---- unit tests without a server ---- */

static void
test_parse_method(void)
{
	static const struct {
		const char *m;
		enum deliver_proto proto;
		const char *host, *port, *path;
	} good[] = {
		{ "smtp:[127.0.0.1]:25", DELIVER_SMTP, "127.0.0.1", "25", NULL },
		{ "lmtp:[::1]:24", DELIVER_LMTP, "::1", "24", NULL },
		{ "lmtp:[2001:db8::1]:2424", DELIVER_LMTP, "2001:db8::1",
		    "2424", NULL },
		{ "smtp:[::ffff:127.0.0.1]:65535", DELIVER_SMTP,
		    "::ffff:127.0.0.1", "65535", NULL },
		{ "lmtp:/run/dovecot/lmtp", DELIVER_LMTP, NULL, NULL,
		    "/run/dovecot/lmtp" },
		{ "smtp:/var/spool/postfix/public/smtp", DELIVER_SMTP, NULL,
		    NULL, "/var/spool/postfix/public/smtp" },
	};
	static const char *const bad[] = { "", "smtp", "smtp:", "lmtp:[]:24",
		"smtp:127.0.0.1:25", "smtp:[localhost]:25", "smtp:[127.0.0.1]",
		"smtp:[127.0.0.1]:", "smtp:[127.0.0.1]:0",
		"smtp:[127.0.0.1]:65536", "smtp:[127.0.0.1]:25x",
		"smtp:[127.0.0.1]:+25", "smtp:[::1]:-1", "smtp:[1.2.3]:25",
		"imap:[127.0.0.1]:143", "SMTP:[127.0.0.1]:25",
		"smtp:[127.0.0.1]:25 ", "lmtp:relative/path", "smtp:[::1]24",
		"smtp:[::1%lo]:24", "lmtp:[127.0.0.1]:99999999999" };
	struct deliver_target t;
	struct err err = { 0 };
	char longpath[300];
	size_t i;

	test_begin("deliver_parse_method");
	for (i = 0; i < ARRAY_LEN(good); i++) {
		if (deliver_parse_method(good[i].m, &t, &err) < 0) {
			test_fail_at(__FILE__, __LINE__, good[i].m);
			continue;
		}
		test_assert(t.proto == good[i].proto);
		test_assert_str(t.host, good[i].host);
		test_assert_str(t.port, good[i].port);
		test_assert_str(t.path, good[i].path);
		deliver_target_clear(&t);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		err.kind = ERR_NONE;
		if (deliver_parse_method(bad[i], &t, &err) == 0) {
			test_fail_at(__FILE__, __LINE__, bad[i]);
			deliver_target_clear(&t);
			continue;
		}
		test_assert(err.kind == ERR_CONFIG);
		test_assert(strstr(err.msg, bad[i]) != NULL);
		test_assert(t.host == NULL && t.port == NULL && t.path == NULL);
	}
	snprintf(longpath, sizeof(longpath), "lmtp:/%0200d", 0);
	test_assert(deliver_parse_method(longpath, &t, &err) < 0);
	test_end();
}

static void
test_reply_parse(void)
{
	struct deliver_reply r;
	struct deliver_result res = { 0 };

	test_begin("deliver_reply_add");
	deliver_reply_reset(&r);
	test_assert(deliver_reply_add(&r, "250-vm\r\n", 8) == 0);
	test_assert(deliver_reply_add(&r, "250-PIPELINING\r\n", 16) == 0);
	test_assert(deliver_reply_add(&r, "251 x\r\n", 7) == -1);
	test_assert(deliver_reply_add(&r, "250 SIZE\r\n", 10) == 1);
	test_assert(r.code == 250 && r.done);
	test_assert_str(r.text, "250 vm PIPELINING SIZE");
	deliver_reply_result(&r, &res);
	test_assert(res.code == 250);
	test_assert_str(res.reply, "250 vm PIPELINING SIZE");
	/* A new reply after a complete one starts afresh. */
	test_assert(deliver_reply_add(&r, "550 5.1.1 <a\x01> no\n", 18) == 1);
	test_assert_str(r.text, "550 5.1.1 <a?> no");
	test_assert(deliver_reply_add(&r, "354", 3) == 1);
	test_assert_str(r.text, "354");
	test_assert(deliver_reply_add(&r, "25", 2) == -1);
	test_assert(deliver_reply_add(&r, "2500 x", 6) == -1);
	test_assert(deliver_reply_add(&r, "650 x", 5) == -1);
	test_assert(deliver_reply_add(&r, "abc x", 5) == -1);
	test_end();
}

static void
test_config_errors(void)
{
	struct deliver_opts o = { .method = "lmtp:[127.0.0.1]:1",
		.ehlo = "x", .rcpt = "a\r\nRSET", .timeout_ms = 1000 };
	struct deliver_result res = { 0 };
	struct deliver *d;
	struct err err = { 0 };
	char longaddr[1000];

	test_begin("deliver_new: bad options; bad sender");
	test_assert(deliver_new(&o, &err) == NULL && err.kind == ERR_CONFIG);
	o.rcpt = NULL;
	test_assert(deliver_new(&o, &err) == NULL && err.kind == ERR_CONFIG);
	o.rcpt = "a@b";
	o.ehlo = "two words";
	test_assert(deliver_new(&o, &err) == NULL && err.kind == ERR_CONFIG);
	o.ehlo = NULL;
	o.method = "lmtp:[localhost]:24";
	test_assert(deliver_new(&o, &err) == NULL && err.kind == ERR_CONFIG);
	test_assert(strstr(err.msg, "'lmtp:[localhost]:24'") != NULL);
	o.method = "lmtp:[127.0.0.1]:1";
	d = deliver_new(&o, &err);
	test_assert(d != NULL);
	if (d) {
		test_assert_str(d->ehlo, "localhost.localdomain");
		/* Refused before any connection attempt. */
		test_assert(send_mem(d, "a\r\nRCPT TO:<x>", "x", 1, 0, &res,
		    &err) < 0);
		test_assert(err.kind == ERR_REFUSED && res.code == 0);
		memset(longaddr, 'a', sizeof(longaddr) - 1);
		longaddr[sizeof(longaddr) - 1] = '\0';
		test_assert(send_mem(d, longaddr, "x", 1, 0, &res, &err) < 0);
		test_assert(err.kind == ERR_REFUSED && res.code == 0);
		test_assert(d->lmtp == NULL);
		test_assert(deliver_quit(d, &err) == 0);
		deliver_free(&d);
		test_assert(d == NULL);
	}
	test_end();
}

static void
test_connect_refused(const char *proto)
{
	char name[64], method[64];
	struct deliver_result res = { 0 };
	struct deliver *d;
	struct err err = { 0 };
	int fd, one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);

	/* A port that was free a moment ago. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &salen);
	close(fd);
	snprintf(name, sizeof(name), "%s: connection refused -> ERR_TEMP",
	    proto);
	snprintf(method, sizeof(method), "%s:[127.0.0.1]:%u", proto,
	    ntohs(sa.sin_port));
	test_begin(name);
	d = new_deliver(method, 2000);
	test_assert(d != NULL);
	if (d) {
		test_assert(send_mem(d, "", "x\r\n", 3, 0, &res, &err) < 0);
		test_assert(err.kind == ERR_TEMP);
		test_assert(!res.source_failed);
		deliver_free(&d);
	}
	test_end();
}

/* ---- deliveries into the sink ---- */

static const struct {
	const char *sender, *in, *want;
} bodies[] = {
	{ "", "Subject: one\r\n\r\n.leading dot\r\n.\r\nmiddle\r\n"
	    "..two dots\r\n.\r\n", NULL },
	{ "\"john doe\"@example.org", "Subject: two\r\n\r\nno final crlf",
	    "Subject: two\r\n\r\nno final crlf\r\n" },
	{ "bob@example.org", "Subject: 8bit \xe9\r\n\r\n\xff\xfe\x80\x01\x02"
	    "\x7f\x1b[0m tab\there\r\n.\xc3\xa9\r\n", NULL },
	{ "bob@example.org", "", "\r\n" },
	{ "bob@example.org", ".\r\n", NULL },
	{ "bob@example.org", ".", ".\r\n" },
	{ "bob@example.org", "\r\n.\r\n", NULL },
	{ "bob@example.org", "bare\nLF\n.dot after bare LF\n.\n",
	    "bare\nLF\n.dot after bare LF\n.\n\r\n" },
};

static void
test_multi(const char *proto, enum transport tr)
{
	char name[96], sdir[64], want_env[128], *env;
	const char *hello = strcmp(proto, "lmtp") == 0 ? "C: LHLO client.test" :
	    "C: EHLO client.test";
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	size_t i;

	snprintf(name, sizeof(name), "%s over %s: %zu messages, one "
	    "connection, byte-exact", proto, tr == UNIXSOCK ? "unix socket" :
	    tr == TCP6 ? "TCP [::1]" : "TCP", ARRAY_LEN(bodies));
	snprintf(sdir, sizeof(sdir), "%s-multi-%d", proto, (int)tr);
	if (tr == TCP6) {
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
			.sin6_addr = IN6ADDR_LOOPBACK_INIT };
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa6,
		    sizeof(sa6)) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok) {
			printf("skip %s: no IPv6 loopback\n", name);
			return;
		}
	}
	test_begin(name);
	if (sink_start(&s, sdir, proto, tr, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	for (i = 0; d && i < ARRAY_LEN(bodies); i++) {
		const char *want = bodies[i].want ? bodies[i].want :
		    bodies[i].in;
		int r = send_mem(d, bodies[i].sender, bodies[i].in,
		    strlen(bodies[i].in), 0, &res, &err);
		if (r < 0)
			fprintf(stderr, "%s: message %zu: %s\n", name, i,
			    err.msg);
		test_assert(r == 0);
		test_assert(res.code == 250);
		test_assert(strncmp(res.reply, "250 2.0.0 ", 10) == 0);
		test_assert(!res.source_failed);
		test_assert(sink_msg_is(&s, (int)i + 1, want, strlen(want)));
		/* No SIZE= (smtp.c says why), like the reference. */
		snprintf(want_env, sizeof(want_env), "MAIL FROM:<%s>\nRCPT "
		    "TO:<alice@example.org>\n", bodies[i].sender);
		env = sink_msg(&s, (int)i + 1, "env", NULL);
		test_assert_str(env, want_env);
		free(env);
	}
	test_assert(count_lines(s.log, hello) == 1);
	test_assert(count_lines(s.log, "* connect") == 1);
	if (d)
		test_assert(deliver_quit(d, &err) == 0);
	test_assert(wait_for_line(s.log, "C: QUIT", 2000));
	test_assert(wait_for_line(s.log, "* close 1", 2000));
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_chunks(const char *proto)
{
	static const char body[] = ".a\r\n.\r\n..\r\nx.y\r\n.\r\n\r\n.";
	static const char want[] = ".a\r\n.\r\n..\r\nx.y\r\n.\r\n\r\n.\r\n";
	static const size_t sizes[] = { 1, 2, 3, 5 };
	char sdir[64];
	char name[96];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	size_t i;

	snprintf(name, sizeof(name), "%s: body in 1..5-byte chunks, dots at "
	    "chunk boundaries", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-chunks", proto);
	if (sink_start(&s, sdir, proto, TCP4, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	for (i = 0; d && i < 2 * ARRAY_LEN(sizes); i++) {
		/* With the size known, and unknown (0). */
		struct mem_src m = { .p = body, .len = sizeof(body) - 1,
			.chunk = sizes[i / 2] };
		test_assert(deliver_message(d, "", i % 2 ? 0 : m.len, mem_read,
		    &m, &res, &err) == 0);
		test_assert(sink_msg_is(&s, (int)i + 1, want,
		    sizeof(want) - 1));
	}
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_big(const char *proto, enum transport tr)
{
	const uint64_t total = 20 * 1000 * 1000;
	struct gen_src g = { .total = total };
	char sdir[64];
	char name[96], path[200];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	FILE *f = NULL;
	uint64_t off = 0;
	char buf[65536];
	size_t n, i;
	bool same = true;

	snprintf(name, sizeof(name), "%s: 20 MB body streamed, not "
	    "accumulated", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-big", proto);
	if (sink_start(&s, sdir, proto, tr, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	g.rss_start = g.rss_max = rss_kb();
	test_assert(d && deliver_message(d, "", total, gen_read, &g, &res,
	    &err) == 0);
	test_assert(g.off == total);
	/* Holding the body would add 20 MB (more with dot-stuffing). */
	if (g.rss_max - g.rss_start > 8 * 1024) {
		fprintf(stderr, "RSS grew by %ld kB\n",
		    g.rss_max - g.rss_start);
		test_fail_at(__FILE__, __LINE__, "RSS grew by more than 8 MB");
	}
	snprintf(path, sizeof(path), "%s/001.eml", s.dir);
	f = fopen(path, "rb");
	test_assert(f != NULL);
	while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (i = 0; i < n && same; i++)
			same = buf[i] == gen_byte(off + i);
		off += n;
	}
	test_assert(same);
	test_assert(off == total);
	if (f)
		fclose(f);
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_errors(const char *proto)
{
	const bool lmtp = strcmp(proto, "lmtp") == 0;
	char sdir[64];
	char name[96];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	int i;

	snprintf(name, sizeof(name), "%s: 4xx/5xx at MAIL, RCPT, DATA, end "
	    "of data; next message succeeds", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-errors", proto);
	if (sink_start(&s, sdir, proto, TCP4, "--mail", "451@1", "--rcpt",
	    "550@2", "--data", "554@3", "--eod", "550@4", NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	if (d == NULL)
		goto out;
	test_assert(send_mem(d, "", "m1\r\n", 4, 0, &res, &err) < 0);
	if (err.kind != ERR_TEMP || res.code != 451)
		fprintf(stderr, "%s: %s\n", proto, err.msg);
	test_assert(err.kind == ERR_TEMP && res.code == 451);
	test_assert(strstr(res.reply, "injected MAIL failure") != NULL);
	test_assert(send_mem(d, "", "m2\r\n", 4, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_REFUSED && res.code == 550);
	test_assert_str(res.reply, "550 5.0.0 sink: injected RCPT failure");
	test_assert(strstr(err.msg, "injected RCPT failure") != NULL);
	test_assert(send_mem(d, "", "m3\r\n", 4, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_REFUSED && res.code == 554);
	test_assert(send_mem(d, "", "m4\r\n", 4, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_REFUSED && res.code == 550);
	test_assert(strstr(res.reply, "injected end-of-data") != NULL);
	test_assert(send_mem(d, "", "m5\r\n", 4, 0, &res, &err) == 0);
	test_assert(res.code == 250);
	test_assert(sink_msg_is(&s, 5, "m5\r\n", 4));
	for (i = 1; i <= 4; i++) {
		char *m = sink_msg(&s, i, "eml", NULL);
		test_assert(m == NULL);
		free(m);
	}
	/* Bodies were sent for transaction 4 and 5 only. */
	test_assert(count_lines(s.log, "* body") == 2);
	if (lmtp) {
		/* 4xx closed the connection, the 5xx kept it; RSET after
		 * each failed MAIL/RCPT/DATA. */
		test_assert(count_lines(s.log, "C: LHLO") == 2);
		test_assert(count_lines(s.log, "C: RSET") == 2);
	}
	deliver_free(&d);
	sink_stop(&s);

	snprintf(sdir, sizeof(sdir), "%s-errors2", proto);
	if (sink_start(&s, sdir, proto, TCP4, "--eod", "452@1", "--rcpt",
	    "450@2", NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && send_mem(d, "", "m1\r\n", 4, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_TEMP && res.code == 452);
	test_assert(d && send_mem(d, "", "m2\r\n", 4, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_TEMP && res.code == 450);
	test_assert(d && send_mem(d, "", "m3\r\n", 4, 0, &res, &err) == 0);
	test_assert(sink_msg_is(&s, 3, "m3\r\n", 4));
	test_assert(count_lines(s.log, "* body") == 2);
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_pipelining(void)
{
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };

	test_begin("lmtp: no PIPELINING: one command at a time, no DATA "
	    "after a failed RCPT");
	if (sink_start(&s, "lmtp-nopipe", "lmtp", TCP4, "--no-pipelining",
	    "--rcpt", "550@1", NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && send_mem(d, "", "x\r\n", 3, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_REFUSED && res.code == 550);
	test_assert(count_lines(s.log, "C: DATA") == 0);
	test_assert(count_lines(s.log, "C: RSET") == 1);
	test_assert(d && send_mem(d, "", "y\r\n", 3, 0, &res, &err) == 0);
	test_assert(sink_msg_is(&s, 2, "y\r\n", 3));
	test_assert(count_lines(s.log, "C: LHLO") == 1);
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_drop(const char *proto)
{
	char sdir[64];
	char name[96];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	static char body[300000];

	memset(body, 'x', sizeof(body));
	for (size_t i = 78; i < sizeof(body); i += 80) {
		body[i] = '\r';
		body[i + 1] = '\n';
	}
	snprintf(name, sizeof(name), "%s: connection dropped mid-data -> "
	    "ERR_TEMP, then reconnect", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-drop", proto);
	if (sink_start(&s, sdir, proto, TCP4, "--drop-mid-data=1", NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && send_mem(d, "", body, sizeof(body), 0, &res,
	    &err) < 0);
	test_assert(err.kind == ERR_TEMP && !res.source_failed);
	test_assert(d && send_mem(d, "", "ok\r\n", 4, 0, &res, &err) == 0);
	test_assert(sink_msg_is(&s, 2, "ok\r\n", 4));
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_source_failure(const char *proto)
{
	static char body[300000];
	struct mem_src m = { .p = body, .len = sizeof(body), .fail = true,
		.fail_at = 200000 };
	char sdir[64];
	char name[96], *eml;
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };

	memset(body, 'y', sizeof(body));
	for (size_t i = 78; i < sizeof(body); i += 80) {
		body[i] = '\r';
		body[i + 1] = '\n';
	}
	snprintf(name, sizeof(name), "%s: read_fn fails mid-body -> "
	    "source_failed, nothing delivered", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-srcfail", proto);
	if (sink_start(&s, sdir, proto, TCP4, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && deliver_message(d, "", sizeof(body), mem_read, &m,
	    &res, &err) < 0);
	test_assert(res.source_failed);
	test_assert(err.kind == ERR_TEMP);
	test_assert_str(err.msg, "imap: source failed");
	/* The sink saw the body start and the connection end, no dot. */
	test_assert(wait_for_line(s.log, "* lost mid-data", 5000));
	test_assert(count_lines(s.log, "* body") == 0);
	eml = sink_msg(&s, 1, "eml", NULL);
	test_assert(eml == NULL);
	free(eml);
	test_assert(d && send_mem(d, "", "ok\r\n", 4, 0, &res, &err) == 0);
	test_assert(sink_msg_is(&s, 2, "ok\r\n", 4));
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_idle_close(const char *proto, bool with_421)
{
	char sdir[64];
	char name[96];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	int i;

	snprintf(name, sizeof(name), "%s: server closes idle connection%s -> "
	    "next message reconnects", proto, with_421 ? " with 421" : "");
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-idle%d", proto, with_421);
	if (sink_start(&s, sdir, proto, UNIXSOCK, "--close-after", "1",
	    with_421 ? "--close-421" : NULL, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, TIMEOUT_MS);
	for (i = 1; d && i <= 4; i++) {
		char body[32];
		int r;
		snprintf(body, sizeof(body), "msg %d\r\n", i);
		/* Messages 2 and 3 find the connection closed for sure;
		 * message 4 races with the close. */
		if (i == 2 || i == 3)
			usleep(200000);
		r = send_mem(d, "", body, strlen(body), 0, &res, &err);
		if (r < 0)
			fprintf(stderr, "%s: message %d: %s\n", proto, i,
			    err.msg);
		test_assert(r == 0);
		test_assert(sink_msg_is(&s, i, body, strlen(body)));
	}
	test_assert(count_lines(s.log, "* connect") == 4);
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

static void
test_timeout(const char *proto)
{
	char sdir[64];
	char name[96];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	uint64_t t0, ms;

	snprintf(name, sizeof(name), "%s: no reply to the final dot within "
	    "timeout_ms -> ERR_TEMP quickly", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-timeout", proto);
	if (sink_start(&s, sdir, proto, TCP4, "--delay-eod", "8@1", NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	d = new_deliver(s.method, 1000);
	t0 = now_ms();
	test_assert(d && send_mem(d, "", "slow\r\n", 6, 0, &res, &err) < 0);
	ms = now_ms() - t0;
	test_assert(err.kind == ERR_TEMP);
	test_assert(ms >= 900 && ms < 3500);
	printf("# %s: timed out after %llu ms\n", proto,
	    (unsigned long long)ms);
	test_assert(d && send_mem(d, "", "fast\r\n", 6, 0, &res, &err) == 0);
	test_assert(sink_msg_is(&s, 2, "fast\r\n", 6));
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

/* An LMTP server configured as smtp: or the other way round. */
static void
test_mismatch(const char *proto)
{
	const bool lmtp = strcmp(proto, "lmtp") == 0;
	char name[96], sdir[64];
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };

	snprintf(name, sizeof(name), "%s method, %s server: ERR_TEMP (not the "
	    "message's fault)", proto, lmtp ? "SMTP" : "LMTP");
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-mismatch", proto);
	if (sink_start(&s, sdir, lmtp ? "smtp" : "lmtp", TCP4, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	/* The sink builds a method for its own protocol. */
	memcpy(s.method, proto, 4);
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && send_mem(d, "", "x\r\n", 3, 0, &res, &err) < 0);
	test_assert(err.kind == ERR_TEMP);
	test_assert(strstr(err.msg, lmtp ? "LHLO refused: 500" :
	    "HELO refused: 500") != NULL);
	if (err.kind != ERR_TEMP)
		fprintf(stderr, "%s\n", err.msg);
	test_assert(count_lines(s.log, "C: MAIL") == 0);
out:
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

/* --debug: commands and replies are traced, body bytes are not. */
static void
test_trace(const char *proto)
{
	char sdir[64];
	char name[96], path[200], *log = NULL;
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	struct sink s;
	struct err err = { 0 };
	int saved, fd;

	snprintf(name, sizeof(name), "%s: --debug trace", proto);
	test_begin(name);
	snprintf(sdir, sizeof(sdir), "%s-trace", proto);
	if (sink_start(&s, sdir, proto, TCP4, NULL) < 0) {
		test_fail_at(__FILE__, __LINE__, "sink did not start");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/stderr", s.dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
	log_debug_level = 1;
	d = new_deliver(s.method, TIMEOUT_MS);
	test_assert(d && send_mem(d, "", "Subject: x\r\n\r\nsecret body\r\n",
	    27, 0, &res, &err) == 0);
	deliver_free(&d);
	log_debug_level = 0;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log = slurp(path, NULL);
	test_assert(log != NULL);
	if (log == NULL)
		goto out;
	test_assert(strstr(log, strcmp(proto, "lmtp") == 0 ?
	    "LC: LHLO client.test\n" : "LC: EHLO client.test\n") != NULL);
	test_assert(strstr(log, "LC: MAIL FROM:<>\n") != NULL);
	test_assert(strstr(log, "LC: RCPT TO:<alice@example.org>\n") != NULL);
	test_assert(strstr(log, "LC: (27 body bytes)\n") != NULL);
	test_assert(strstr(log, "LS: 250 2.0.0 ") != NULL);
	test_assert(strstr(log, "LC: QUIT\n") != NULL);
	test_assert(strstr(log, "secret") == NULL);
out:
	free(log);
	deliver_free(&d);
	sink_stop(&s);
	test_end();
}

/* ---- a real Dovecot LMTP ---- */

struct dovecot {
	pid_t pid;
	char dir[128], sock[160], method_tcp[64], method_unix[200];
};

static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool
unix_connectable(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		close(fd);
		return false;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Returns 0, -1 on failure, 1 when Dovecot is not installed (skip). */
static int
dovecot_start(struct dovecot *dv, const char **why)
{
	char conf[200], mail[160], out[200], dirs[400];
	const char *user, *group;
	struct passwd *pw;
	struct group *gr;
	int port = free_port(), waited;
	FILE *f;
	struct args av = { .n = 0 };

	if (access("/usr/sbin/dovecot", X_OK) != 0 ||
	    access("/usr/lib/dovecot/lmtp", X_OK) != 0) {
		*why = "dovecot or dovecot-lmtpd not installed";
		return 1;
	}
	/* Dovecot refuses to deliver as root: mail goes to an unprivileged
	 * user (nobody when we are root, else ourselves). */
	pw = getuid() == 0 ? getpwnam("nobody") : getpwuid(getuid());
	gr = pw ? getgrgid(getuid() == 0 ? pw->pw_gid : getgid()) : NULL;
	if (pw == NULL || gr == NULL) {
		*why = "no unprivileged user";
		return 1;
	}
	user = pw->pw_name;
	group = gr->gr_name;
	snprintf(dv->dir, sizeof(dv->dir), "%s/dovecot", tmpdir);
	snprintf(conf, sizeof(conf), "%s/dovecot.conf", dv->dir);
	snprintf(mail, sizeof(mail), "%s/mail", dv->dir);
	snprintf(out, sizeof(out), "%s/dovecot.log", dv->dir);
	snprintf(dv->sock, sizeof(dv->sock), "%s/lmtp.sock", dv->dir);
	snprintf(dirs, sizeof(dirs), "%s/base", dv->dir);
	if (mkdir(dv->dir, 0755) < 0 || mkdir(mail, 0755) < 0 ||
	    mkdir(dirs, 0755) < 0)
		return -1;
	snprintf(dirs, sizeof(dirs), "%s/state", dv->dir);
	if (mkdir(dirs, 0755) < 0 || chown(mail, pw->pw_uid, gr->gr_gid) < 0)
		return -1;
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "base_dir = %s/base\nstate_dir = %s/state\n"
	    "listen = 127.0.0.1\nprotocols = lmtp\nssl = no\n"
	    "log_path = /dev/stderr\n"
	    "mail_location = maildir:%s/%%u\n"
	    "mail_save_crlf = yes\n" /* keep CRLF: compare bytes */
	    "first_valid_uid = 0\nfirst_valid_gid = 0\n"
	    "default_internal_user = %s\ndefault_internal_group = %s\n"
	    "default_login_user = %s\n"
	    "passdb {\n driver = static\n args = nopassword=y\n}\n"
	    "userdb {\n driver = static\n"
	    " args = uid=%s gid=%s home=%s/%%u\n}\n"
	    "service lmtp {\n"
	    " inet_listener lmtp {\n  address = 127.0.0.1\n  port = %d\n }\n"
	    " unix_listener lmtp {\n  path = %s\n  mode = 0666\n }\n}\n"
	    "service anvil {\n chroot =\n}\nservice stats {\n chroot =\n}\n",
	    dv->dir, dv->dir, mail, user, group, user, user, group, mail, port,
	    dv->sock);
	fclose(f);
	snprintf(dv->method_tcp, sizeof(dv->method_tcp),
	    "lmtp:[127.0.0.1]:%d", port);
	snprintf(dv->method_unix, sizeof(dv->method_unix), "lmtp:%s",
	    dv->sock);
	arg(&av, "dovecot");
	arg(&av, "-F");
	arg(&av, "-c");
	arg(&av, conf);
	dv->pid = spawn(&av, out);
	for (waited = 0; !unix_connectable(dv->sock); waited += 50) {
		if (waited > 15000 || waitpid(dv->pid, NULL, WNOHANG) != 0) {
			*why = "dovecot did not start (see dovecot.log)";
			dv->pid = 0;
			return -1;
		}
		usleep(50000);
	}
	return 0;
}

/* The one file in the maildir's new/ whose content ends with want. */
static bool
maildir_has(const struct dovecot *dv, const char *user, const char *want,
    size_t wantlen, const char *header)
{
	char dir[300], path[600], *p;
	struct dirent *e;
	size_t len;
	bool found = false;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/mail/%s/new", dv->dir, user);
	dh = opendir(dir);
	while (dh && !found && (e = readdir(dh)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		p = slurp(path, &len);
		found = p && len >= wantlen &&
		    memcmp(p + len - wantlen, want, wantlen) == 0 &&
		    strstr(p, header) != NULL;
		free(p);
	}
	if (dh)
		closedir(dh);
	return found;
}

static void
test_dovecot(void)
{
	static const char b1[] = "Subject: via unix\r\nX-8bit: \xc3\xa9t\xc3"
	    "\xa9\r\n\r\n.first line dot\r\n.\r\n..\r\nend\r\n";
	static const char b2[] = "Subject: via tcp\r\n\r\nno final crlf";
	static const char b2want[] = "Subject: via tcp\r\n\r\nno final crlf\r\n";
	struct dovecot dv = { 0 };
	struct deliver_result res = { 0 };
	struct deliver *d = NULL;
	const char *why = NULL;
	struct err err = { 0 };
	int r;

	r = dovecot_start(&dv, &why);
	if (r > 0) {
		printf("skip dovecot lmtp: %s\n", why);
		return;
	}
	test_begin("dovecot lmtp over unix socket and TCP: byte-exact in the "
	    "maildir");
	if (r < 0) {
		test_fail_at(__FILE__, __LINE__, why ? why : "dovecot setup");
		goto out;
	}
	d = new_deliver(dv.method_unix, TIMEOUT_MS);
	r = d ? send_mem(d, "bob@example.org", b1, sizeof(b1) - 1, 0, &res,
	    &err) : -1;
	if (r < 0)
		fprintf(stderr, "dovecot unix: %s\n", err.msg);
	test_assert(r == 0);
	test_assert(strstr(res.reply, "<alice@example.org>") != NULL);
	test_assert(strstr(res.reply, "Saved") != NULL);
	r = d ? send_mem(d, "", b1, sizeof(b1) - 1, 0, &res, &err) : -1;
	test_assert(r == 0);
	test_assert(d && deliver_quit(d, &err) == 0);
	deliver_free(&d);
	test_assert(maildir_has(&dv, "alice@example.org", b1, sizeof(b1) - 1,
	    "Return-Path: <bob@example.org>\r\n"));
	test_assert(maildir_has(&dv, "alice@example.org", b1, sizeof(b1) - 1,
	    "Return-Path: <>\r\n"));

	d = new_deliver(dv.method_tcp, TIMEOUT_MS);
	r = d ? send_mem(d, "", b2, sizeof(b2) - 1, 0, &res, &err) : -1;
	if (r < 0)
		fprintf(stderr, "dovecot tcp: %s\n", err.msg);
	test_assert(r == 0);
	test_assert(maildir_has(&dv, "alice@example.org", b2want,
	    sizeof(b2want) - 1, "Return-Path: <>\r\n"));
out:
	deliver_free(&d);
	stop(dv.pid, 5000);
	test_end();
}

int
main(void)
{
	static const char *const protos[] = { "lmtp", "smtp" };
	size_t i;

	test_pid = getpid();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_deliver.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* Dovecot's unprivileged processes must reach the maildir. */
	chmod(tmpdir, 0755);
	atexit(cleanup);

	test_parse_method();
	test_reply_parse();
	test_config_errors();
	for (i = 0; i < ARRAY_LEN(protos); i++) {
		const char *p = protos[i];
		test_big(p, i == 0 ? TCP4 : UNIXSOCK);
		test_connect_refused(p);
		test_multi(p, TCP4);
		test_multi(p, UNIXSOCK);
		test_multi(p, TCP6);
		test_chunks(p);
		test_errors(p);
		test_drop(p);
		test_source_failure(p);
		test_idle_close(p, false);
		test_idle_close(p, true);
		test_timeout(p);
		test_trace(p);
		test_mismatch(p);
	}
	test_pipelining();
	test_dovecot();
	return test_exit();
}
