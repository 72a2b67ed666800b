#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "conn_int.h"
#include "log.h"
#include "sigwait.h"

/* conn_set_interrupt() */
static const volatile sig_atomic_t *interrupt_flag;

/* Polls fd for events for at most timeout_ms (0 = forever), restarting
 * after signals without extending the deadline. 1 ready, 0 timeout, -1
 * error, -2 interrupted (only when interruptible: the flag is tested with
 * the signals blocked, see sigwait.h). POLLERR/POLLHUP count as ready:
 * the next I/O call says why. */
static int
poll_fd(int fd, short events, int timeout_ms, bool interruptible)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t deadline = 0;
	if (timeout_ms > 0)
		deadline = now_ms() + (uint64_t)timeout_ms;
	if (interrupt_flag == NULL)
		interruptible = false;
	for (;;) {
		int t = -1, r;
		bool stop = false;
		if (deadline) {
			uint64_t now = now_ms();
			t = now >= deadline ? 0 : (int)(deadline - now);
		}
		if (interruptible) {
			sigwait_block();
			stop = *interrupt_flag != 0;
			r = stop ? 0 : sigwait_poll(&p, 1, t);
			sigwait_unblock();
			if (stop)
				return -2;
		} else {
			sigwait_hook(true);
			r = poll(&p, 1, t);
			sigwait_hook(false);
		}
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

void
conn_set_interrupt(const volatile sig_atomic_t *flag)
{
	interrupt_flag = flag;
}

void
conn_set_interruptible(struct conn *c, bool on)
{
	c->interruptible = on;
}

/* The wait time the budget allows so far (conn.h), 0 without a budget. */
static uint64_t
budget_allowed(const struct conn *c)
{
	if (!c->budget_on || c->timeout_ms <= 0)
		return 0;
	return (uint64_t)c->timeout_ms + c->budget_bytes * 1000 / CONN_MIN_RATE;
}

static int
too_slow(const struct conn *c, struct err *err)
{
	return err_set(err, ERR_TEMP, "%s: too slow: %llu bytes in %.1f s "
	    "(allowed: the %g s timeout plus 1 s per %d bytes)", c->name,
	    (unsigned long long)c->budget_bytes,
	    (double)c->budget_waited_ms / 1000, c->timeout_ms / 1000.0,
	    CONN_MIN_RATE);
}

static int
wait_fd(struct conn *c, short events, struct err *err)
{
	uint64_t allowed = budget_allowed(c), t0;
	int t = c->timeout_ms, r;

	if (allowed > 0) {
		if (c->budget_waited_ms >= allowed)
			return too_slow(c, err);
		if (allowed - c->budget_waited_ms < (uint64_t)t)
			t = (int)(allowed - c->budget_waited_ms);
	}
	t0 = now_ms();
	r = poll_fd(c->fd, events, t, c->interruptible);
	c->budget_waited_ms += now_ms() - t0;
	if (r > 0)
		return 0;
	if (r == -2)
		return err_set(err, ERR_TEMP, "%s: interrupted", c->name);
	if (r < 0)
		return err_sys(err, ERR_SYS, "poll on %s", c->name);
	if (allowed > 0 && c->budget_waited_ms >= allowed)
		return too_slow(c, err);
	return err_set(err, ERR_TEMP, "timeout %s %s after %g s",
	    events & POLLIN ? "reading from" : "writing to", c->name,
	    c->timeout_ms / 1000.0);
}

void
conn_budget_start(struct conn *c)
{
	c->budget_on = true;
	c->budget_waited_ms = 0;
	c->budget_bytes = 0;
}

void
conn_budget_stop(struct conn *c)
{
	c->budget_on = false;
}

int
conn_budget_clamp(struct conn *c, int *timeout_ms, struct err *err)
{
	uint64_t allowed = budget_allowed(c);

	if (allowed == 0)
		return 0;
	if (c->budget_waited_ms >= allowed)
		return too_slow(c, err);
	if (*timeout_ms < 0 || allowed - c->budget_waited_ms < (uint64_t)*timeout_ms)
		*timeout_ms = (int)(allowed - c->budget_waited_ms);
	return 0;
}

void
conn_budget_spend(struct conn *c, uint64_t ms)
{
	if (c->budget_on)
		c->budget_waited_ms += ms;
}

bool
conn_interrupted(const struct conn *c)
{
	return c->interruptible && interrupt_flag != NULL && *interrupt_flag;
}

/* At EOF or EPIPE on a tunnel, the command's exit status is the useful
 * explanation ("not found" in particular). */
int
conn_child_error(struct conn *c, struct err *err)
{
	int st;
	if (c->child.pid <= 0 || !spawn_wait(&c->child, 200))
		return 0;
	st = c->child.status;
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		return err_set(err, WEXITSTATUS(st) >= 126 &&
		    WEXITSTATUS(st) <= 127 ? ERR_CONFIG : ERR_TEMP,
		    "tunnel command `%s` exited with status %d%s", c->command,
		    WEXITSTATUS(st), WEXITSTATUS(st) == 127 ?
		    " (command not found?)" : WEXITSTATUS(st) == 126 ?
		    " (not executable?)" : "");
	if (WIFSIGNALED(st))
		return err_set(err, ERR_TEMP,
		    "tunnel command `%s` killed by signal %d", c->command,
		    WTERMSIG(st));
	return 0;
}

ssize_t
conn_io_nb(struct conn *c, enum io_op op, void *rbuf, const void *wbuf,
    size_t n, struct err *err)
{
	ssize_t r;
	short ev = 0;
	if (c->hs_pending && op != IO_HANDSHAKE) {
		/* conn_start_tls_nb(): the handshake goes first. */
		int h = conn_tls_handshake_nb(c, err);
		if (h <= 0)
			return h < 0 ? -1 : CONN_AGAIN;
	}
	if (c->ssl) {
		r = conn_tls_step(c, op, rbuf, wbuf, n, &ev, err);
		if (r > 0)
			c->budget_bytes += (uint64_t)r;
		if (r > 0 && op == IO_READ)
			c->io_in += (uint64_t)r;
		else if (r > 0 && op == IO_WRITE)
			c->io_out += (uint64_t)r;
	} else {
		do {
			/* MSG_NOSIGNAL: a dead peer is an EPIPE error, not a
			 * SIGPIPE death. */
			r = op == IO_READ ? read(c->fd, rbuf, n) :
			    send(c->fd, wbuf, n, MSG_NOSIGNAL);
		} while (r < 0 && errno == EINTR);
		if (r >= 0) {
			c->budget_bytes += (uint64_t)r;
			if (op == IO_READ)
				c->io_in += (uint64_t)r;
			else
				c->io_out += (uint64_t)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			ev = op == IO_READ ? POLLIN : POLLOUT;
			r = CONN_AGAIN;
		} else {
			if (errno == ECONNRESET || errno == EPIPE)
				c->gone = true;
			err_sys(err, ERR_TEMP, "%s %s", op == IO_READ ?
			    "read from" : "write to", c->name);
			if (op == IO_WRITE)
				conn_child_error(c, err);
			return -1;
		}
	}
	/* Remembered for conn_want(): a TLS read may need the socket
	 * writable, a TLS write readable. */
	if (r == CONN_AGAIN)
		c->last_ev = ev;
	if (op == IO_READ)
		c->rd_ev = r == CONN_AGAIN ? ev : POLLIN;
	else if (op == IO_WRITE)
		c->wr_ev = r == CONN_AGAIN ? ev : POLLOUT;
	return r;
}

ssize_t
conn_io(struct conn *c, enum io_op op, void *rbuf, const void *wbuf, size_t n,
    struct err *err)
{
	for (;;) {
		ssize_t r = conn_io_nb(c, op, rbuf, wbuf, n, err);
		if (r != CONN_AGAIN)
			return r;
		if (wait_fd(c, c->last_ev, err) < 0)
			return -1;
	}
}

/* Sends the wire queue, waiting as needed. */
static int
wq_drain(struct conn *c, struct err *err)
{
	while (c->wq_off < c->wq_len) {
		ssize_t w = conn_io(c, IO_WRITE, NULL, c->wq + c->wq_off,
		    c->wq_len - c->wq_off, err);
		if (w < 0)
			return -1;
		c->wq_off += (size_t)w;
	}
	c->wq_off = c->wq_len = 0;
	return 0;
}

int
conn_raw_write(struct conn *c, const char *p, size_t n, struct err *err)
{
	/* Bytes queued by the non-blocking interface are older. */
	if (c->wq_off < c->wq_len && wq_drain(c, err) < 0)
		return -1;
	while (n > 0) {
		ssize_t w = conn_io(c, IO_WRITE, NULL, p, n, err);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct conn *
conn_new(int fd, const char *name, int timeout_ms)
{
	/* The two 64 KiB buffers (the last members) are read only up to
	 * what was put in them: zeroing them would touch 32 pages a
	 * connection for nothing (page faults are a good part of a
	 * no-change sync's CPU). */
	_Static_assert(sizeof(struct conn) - offsetof(struct conn, out) -
	    CONN_BUFSIZE < _Alignof(struct conn), "in and out end struct conn");
	struct conn *c = xmalloc(sizeof(*c));
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	c->child.pid = -1;
	c->timeout_ms = timeout_ms;
	c->rd_ev = POLLIN;
	c->wr_ev = POLLOUT;
	c->name = xstrdup(name);
	return c;
}

/* Connects a non-blocking socket within timeout_ms. Returns the fd, or -1
 * with err naming "name" and the reason. */
static int
try_connect(int family, int proto, const struct sockaddr *sa, socklen_t salen,
    int timeout_ms, const char *name, struct err *err)
{
	int fd, soerr = 0, r;
	socklen_t len = sizeof(soerr);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return err_sys(err, ERR_SYS, "socket for %s", name);
	if (connect(fd, sa, salen) == 0)
		return fd;
	/* After EINTR a non-blocking connect goes on in the background. */
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	/* Nothing is in flight yet: always interruptible. */
	r = poll_fd(fd, POLLOUT, timeout_ms, true);
	if (r == -2) {
		close(fd);
		return err_set(err, ERR_TEMP, "connect to %s: interrupted", name);
	}
	if (r == 0) {
		close(fd);
		return err_set(err, ERR_TEMP,
		    "connect to %s: timeout after %g s", name,
		    timeout_ms / 1000.0);
	}
	if (r < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		goto fail;
	if (soerr == 0)
		return fd;
	errno = soerr;
fail:
	err_sys(err, ERR_TEMP, "connect to %s", name);
	close(fd);
	return -1;
}

char *
conn_host_port(const char *host, const char *port)
{
	return strchr(host, ':') ? xasprintf("[%s]:%s", host, port) :
	    xasprintf("%s:%s", host, port);
}

char *
conn_strip_brackets(const char *host, bool *bracketed)
{
	size_t n = strlen(host);
	bool b = n >= 2 && host[0] == '[' && host[n - 1] == ']';
	if (bracketed)
		*bracketed = b;
	return b ? xstrndup(host + 1, n - 2) : xstrdup(host);
}

struct conn *
conn_connect_tcp(const char *host, const char *port, int timeout_ms,
    struct err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct conn *c = NULL;
	bool bracketed;
	char *h = conn_strip_brackets(host, &bracketed);
	char *name = conn_host_port(h, port);
	int fd = -1, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
	rc = getaddrinfo(h, port, &hints, &res);
	if (rc != 0) {
		if (bracketed && rc == EAI_NONAME)
			err_set(err, ERR_CONFIG, "invalid IP literal %s", host);
		else
			err_set(err, ERR_TEMP, "cannot resolve %s: %s", name,
			    rc == EAI_SYSTEM ? strerror(errno) :
			    gai_strerror(rc));
		goto out;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		char addr[NI_MAXHOST], *what = NULL;
		/* Name the address tried when it is not what the user wrote. */
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
		    NULL, 0, NI_NUMERICHOST) == 0 && strcmp(addr, h) != 0)
			what = xasprintf("%s (%s)", name, addr);
		fd = try_connect(ai->ai_family, ai->ai_protocol, ai->ai_addr,
		    ai->ai_addrlen, timeout_ms, what ? what : name, err);
		if (fd >= 0)
			log_debug("connected to %s", what ? what : name);
		free(what);
	}
	if (fd < 0)
		goto out;
	/* Commands go out in small writes; Nagle + delayed ACK would add
	 * ~40 ms to each round trip. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("setsockopt TCP_NODELAY: %s", strerror(errno));
	c = conn_new(fd, name, timeout_ms);
	c->tcp = true;
out:
	if (res)
		freeaddrinfo(res);
	free(h);
	free(name);
	return c;
}

struct conn *
conn_connect_unix(const char *path, int timeout_ms, struct err *err)
{
	struct sockaddr_un sun;
	struct conn *c = NULL;
	char *name = xasprintf("unix:%s", path);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		err_set(err, ERR_CONFIG, "%s: socket path too long", name);
		goto out;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = try_connect(AF_UNIX, 0, (struct sockaddr *)&sun, sizeof(sun),
	    timeout_ms, name, err);
	if (fd < 0)
		goto out;
	log_debug("connected to %s", name);
	c = conn_new(fd, name, timeout_ms);
out:
	free(name);
	return c;
}

struct conn *
conn_spawn(const char *command, bool null_stderr, int timeout_ms,
    struct err *err)
{
	struct spawn_opts so = {"tunnel command", false, true, null_stderr,
	    true};
	struct spawn child;
	struct conn *c;
	int fd;

	if (spawn_start(&child, command, &so, &fd, err) < 0)
		return NULL;
	c = conn_new(fd, "tunnel", timeout_ms);
	c->child = child;
	c->command = xstrdup(command);
	log_debug("started tunnel command `%s` (pid %ld)", command,
	    (long)child.pid);
	return c;
}

void
conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void
conn_set_keepalive(struct conn *c)
{
	int on = 1, idle = 60, intvl = 15, cnt = 4;
	if (!c->tcp)
		return;
	/* Best effort: without it a dead peer is only noticed later. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl)) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		log_debug("%s: keepalive: %s", c->name, strerror(errno));
}

int
conn_flush(struct conn *c, struct err *err)
{
	size_t n = c->olen;
	c->olen = 0;
	if (c->z != NULL && (n > 0 || conn_deflate_pending(c)))
		return conn_deflate_write(c, c->out, n, true, false, err);
	if (n > 0)
		return conn_raw_write(c, c->out, n, err);
	return c->wq_off < c->wq_len ? wq_drain(c, err) : 0;
}

/* Makes room in the output buffer without forcing a deflate flush: the
 * caller is still writing, nobody waits for these bytes yet. */
static int
spill(struct conn *c, const char *p, size_t n, struct err *err)
{
	if (n == 0)
		return 0;
	return c->z ? conn_deflate_write(c, p, n, false, false, err) :
	    conn_raw_write(c, p, n, err);
}

static bool
out_queued(const struct conn *c)
{
	return c->olen > 0 || c->wq_off < c->wq_len ||
	    (c->z != NULL && conn_deflate_pending(c));
}

int
conn_write(struct conn *c, const void *p, size_t n, struct err *err)
{
	if (n == 0)
		return 0;
	if (n > sizeof(c->out) - c->olen) {
		size_t queued = c->olen;
		c->olen = 0;
		if (spill(c, c->out, queued, err) < 0)
			return -1;
		/* Too big to buffer anyway: skip the copy. */
		if (n >= sizeof(c->out))
			return spill(c, p, n, err);
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
	return 0;
}

int
conn_writes(struct conn *c, const char *s, struct err *err)
{
	return conn_write(c, s, strlen(s), err);
}

int
conn_fill(struct conn *c, struct err *err)
{
	ssize_t n;
	if (c->rpos < c->rend)
		return 1;
	if (c->eof)
		return 0;
	/* About to wait for the peer: whatever we queued is what it is
	 * waiting for, so send it first instead of deadlocking. */
	if (out_queued(c) && conn_flush(c, err) < 0)
		return -1;
	if (c->z != NULL) {
		int r = conn_inflate(c, INFLATE_WAIT, err);
		if (r != 0)
			return r;
		c->eof = true;
		return conn_child_error(c, err);
	}
	c->rpos = c->rend = 0;
	if ((n = conn_io(c, IO_READ, c->in, NULL, sizeof(c->in), err)) < 0)
		return -1;
	if (n == 0) {
		c->eof = true;
		return conn_child_error(c, err);
	}
	c->rend = (size_t)n;
	return 1;
}

const char *
conn_peek(const struct conn *c, size_t *len_r)
{
	*len_r = c->rend - c->rpos;
	return c->in + c->rpos;
}

void
conn_consume(struct conn *c, size_t n)
{
	c->rpos += n < c->rend - c->rpos ? n : c->rend - c->rpos;
}

ssize_t
conn_read(struct conn *c, void *p, size_t n, struct err *err)
{
	const char *s;
	size_t avail;
	int r = conn_fill(c, err);
	if (r <= 0)
		return r;
	s = conn_peek(c, &avail);
	if (n > avail)
		n = avail;
	memcpy(p, s, n);
	conn_consume(c, n);
	return (ssize_t)n;
}

int
conn_read_line(struct conn *c, struct buf *line, size_t max, struct err *err)
{
	buf_reset(line);
	for (;;) {
		const char *p, *nl;
		size_t avail, take;
		int r = conn_fill(c, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (line->len == 0)
				return 0;
			return err_set(err, ERR_TEMP,
			    "%s closed the connection in the middle of a line",
			    c->name);
		}
		p = conn_peek(c, &avail);
		nl = memchr(p, '\n', avail);
		take = nl ? (size_t)(nl - p) + 1 : avail;
		if (take > max - line->len || buf_append(line, p, take) < 0)
			return err_set(err, ERR_PROTO,
			    "line from %s longer than %zu bytes", c->name, max);
		conn_consume(c, take);
		if (nl)
			return 1;
	}
}

bool
conn_readable(struct conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	if (c->rpos < c->rend || c->eof)
		return true;
	/* Compressed bytes already here may hold a whole response, or only
	 * part of a deflate block: only inflating them tells. A failure
	 * counts as readable: the next read reports it at once. */
	if (c->z != NULL && conn_inflate_buffered(c)) {
		struct err e;
		if (conn_inflate(c, INFLATE_NOREAD, &e) != 0)
			return true;
	}
	if (c->ssl && conn_tls_pending(c))
		return true;
	return poll(&p, 1, 0) > 0;
}

/* ---- The non-blocking interface (conn.h) ---- */

void
conn_wq_append(struct conn *c, const char *p, size_t n)
{
	size_t cap;
	if (n == 0)
		return;
	if (c->wq_off == c->wq_len)
		c->wq_off = c->wq_len = 0;
	if (n > c->wq_cap - c->wq_len && c->wq_off > 0) {
		/* A TLS write retried from the moved bytes is fine:
		 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, and the length only
		 * grows. */
		memmove(c->wq, c->wq + c->wq_off, c->wq_len - c->wq_off);
		c->wq_len -= c->wq_off;
		c->wq_off = 0;
	}
	if (n > c->wq_cap - c->wq_len) {
		cap = c->wq_cap ? c->wq_cap : CONN_BUFSIZE;
		while (cap - c->wq_len < n)
			cap *= 2;
		c->wq = xrealloc(c->wq, cap);
		c->wq_cap = cap;
	}
	memcpy(c->wq + c->wq_len, p, n);
	c->wq_len += n;
}

size_t
conn_out_room(const struct conn *c)
{
	size_t q = c->olen + (c->wq_len - c->wq_off);
	return q < CONN_OUT_MAX ? CONN_OUT_MAX - q : 0;
}

/* Moves c->out to the wire queue, compressing it when COMPRESS is on;
 * sync ends with a deflate sync flush. */
static int
out_to_wq(struct conn *c, bool sync, struct err *err)
{
	size_t n = c->olen;
	c->olen = 0;
	if (c->z == NULL) {
		conn_wq_append(c, c->out, n);
		return 0;
	}
	if (n == 0 && !(sync && conn_deflate_pending(c)))
		return 0;
	return conn_deflate_write(c, c->out, n, sync, true, err);
}

ssize_t
conn_write_nb(struct conn *c, const void *p, size_t n, struct err *err)
{
	size_t room = conn_out_room(c), done = 0;
	if (n > room)
		n = room;
	while (done < n) {
		size_t k = sizeof(c->out) - c->olen;
		if (k == 0) {
			if (out_to_wq(c, false, err) < 0)
				return -1;
			continue;
		}
		if (k > n - done)
			k = n - done;
		memcpy(c->out + c->olen, (const char *)p + done, k);
		c->olen += k;
		done += k;
	}
	return (ssize_t)n;
}

int
conn_flush_nb(struct conn *c, struct err *err)
{
	if ((c->olen > 0 || (c->z != NULL && conn_deflate_pending(c))) &&
	    out_to_wq(c, true, err) < 0)
		return -1;
	while (c->wq_off < c->wq_len) {
		ssize_t w = conn_io_nb(c, IO_WRITE, NULL, c->wq + c->wq_off,
		    c->wq_len - c->wq_off, err);
		if (w == CONN_AGAIN)
			return 0;
		if (w < 0)
			return -1;
		c->wq_off += (size_t)w;
	}
	c->wq_off = c->wq_len = 0;
	return 1;
}

int
conn_fill_nb(struct conn *c, struct err *err)
{
	if (c->rpos < c->rend)
		return 1;
	if (c->eof)
		return CONN_EOF;
	if (c->z != NULL) {
		int r = conn_inflate(c, INFLATE_NB, err);
		if (r == CONN_AGAIN)
			return 0;
		if (r != 0)
			return r;
	} else {
		ssize_t n;
		c->rpos = c->rend = 0;
		n = conn_io_nb(c, IO_READ, c->in, NULL, sizeof(c->in), err);
		if (n == CONN_AGAIN)
			return 0;
		if (n < 0)
			return -1;
		if (n > 0) {
			c->rend = (size_t)n;
			return 1;
		}
	}
	c->eof = true;
	return conn_child_error(c, err) < 0 ? -1 : CONN_EOF;
}

short
conn_want_out(const struct conn *c)
{
	return out_queued(c) ? c->wr_ev : 0;
}

short
conn_want(const struct conn *c)
{
	return (short)((c->eof ? 0 : c->rd_ev) | conn_want_out(c));
}

bool
conn_has_buffered_input(const struct conn *c)
{
	return c->rpos < c->rend ||
	    (c->z != NULL && conn_inflate_buffered(c)) ||
	    (c->ssl != NULL && conn_tls_pending(c));
}

bool
conn_peer_gone(const struct conn *c)
{
	return c->eof || c->gone;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

const char *
conn_name(const struct conn *c)
{
	return c->name;
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	conn_tls_free(c);
	conn_deflate_free(c);
	if (c->curl)
		conn_proxy_free(c);  /* closes fd */
	else if (c->fd >= 0)
		close(c->fd);
	/* The command normally exits at EOF on its stdin; do not let a
	 * stuck one leave a zombie or hold us forever. */
	spawn_end(&c->child, 1000, 1000);
	free(c->wq);
	free(c->name);
	free(c->command);
	free(c);
}
