#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* next_in as a pointer to const: no cast from our const buffers. */
#define ZLIB_CONST
#include <zlib.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "buf.h"
#include "conn.h"
#include "curl_lazy.h"
#include "log.h"
#include "tls_opts.h"

/* Matches the largest TLS record payload several times over, so that one
 * read usually drains what the kernel has. */
#define CONN_BUFSIZE (64 * 1024)
/* "sha512$" plus the hex of the largest digest. */
#define FPR_MAX (16 + 2 * EVP_MAX_MD_SIZE)

/* COMPRESS=DEFLATE state (RFC 4978), allocated only once it starts: the
 * two zlib streams, a buffer for compressed input not yet inflated (c->in
 * holds what inflate produced, so that peek/consume stay zero-copy) and one
 * for a chunk of compressed output on its way to raw_write(). */
struct zstate {
	z_stream in, out;
	bool in_more;      /* inflate filled c->in: more output may be pending */
	bool in_end;       /* the peer ended its deflate stream */
	bool out_pending;  /* deflate holds input not sync-flushed yet */
	bool broken;       /* inflate failed: every later read fails with ferr */
	struct err ferr;
	unsigned long long raw_in, wire_in, raw_out, wire_out;
	unsigned char wire[CONN_BUFSIZE];
	unsigned char wout[CONN_BUFSIZE];
};

struct conn {
	int fd;
	int timeout_ms;
	bool tcp;
	bool eof;
	bool gone;         /* the peer reset the connection */
	pid_t pid;         /* tunnel child, or -1 */
	bool reaped;
	int status;        /* wait status, valid once reaped */
	char *name;
	char *command;
	SSL_CTX *ctx;
	SSL *ssl;
	/* Handshake state shared with verify_cb(). */
	bool verify;
	const char *fingerprints;
	bool fp_checked, fp_ok;
	char fp_actual[FPR_MAX];
	struct zstate *z;  /* NULL unless COMPRESS=DEFLATE is on */
	CURL *curl;        /* owns fd when connected through a SOCKS proxy */
	size_t rpos, rend, olen;
	char in[CONN_BUFSIZE];
	char out[CONN_BUFSIZE];
};

/* Polls fd for events for at most timeout_ms (0 = forever), restarting
 * after signals without extending the deadline. 1 ready, 0 timeout, -1
 * error. POLLERR/POLLHUP count as ready: the next I/O call says why. */
static int
poll_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t deadline = 0;
	if (timeout_ms > 0)
		deadline = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int t = -1, r;
		if (deadline) {
			uint64_t now = now_ms();
			t = now >= deadline ? 0 : (int)(deadline - now);
		}
		r = poll(&p, 1, t);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
wait_fd(struct conn *c, short events, struct err *err)
{
	int r = poll_fd(c->fd, events, c->timeout_ms);
	if (r > 0)
		return 0;
	if (r < 0)
		return err_sys(err, ERR_SYS, "poll on %s", c->name);
	return err_set(err, ERR_TEMP, "timeout %s %s after %g s",
	    events & POLLIN ? "reading from" : "writing to", c->name,
	    c->timeout_ms / 1000.0);
}

/* Reaps the tunnel child if it exits within ms (<0: wait forever). */
static bool
reap(struct conn *c, int ms)
{
	uint64_t end = now_ms() + (uint64_t)(ms > 0 ? ms : 0);
	if (c->pid <= 0 || c->reaped)
		return true;
	for (;;) {
		pid_t r = waitpid(c->pid, &c->status, ms < 0 ? 0 : WNOHANG);
		if (r == c->pid) {
			c->reaped = true;
			return true;
		}
		if (r < 0 && errno != EINTR) {
			/* Reaped elsewhere (SIGCHLD ignored?): no status. */
			c->reaped = true;
			c->status = 0;
			return true;
		}
		if (r == 0 && now_ms() >= end)
			return false;
		if (r == 0) {
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

/* At EOF or EPIPE on a tunnel, the command's exit status is the useful
 * explanation ("not found" in particular). -1 with err set when the child
 * failed, 0 when it did not (or is still running). */
static int
child_error(struct conn *c, struct err *err)
{
	int st;
	if (c->pid <= 0 || !reap(c, 200))
		return 0;
	st = c->status;
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

/* Builds the message for a failed SSL_* call from OpenSSL's error queue,
 * falling back to errno (saved right after the call). */
static int
tls_fail(struct conn *c, const char *what, int sslerr, int saved_errno,
    struct err *err)
{
	unsigned long e = ERR_get_error();
	char s[256];
	ERR_clear_error();
	if (e != 0) {
		ERR_error_string_n(e, s, sizeof(s));
		return err_set(err, ERR_TEMP, "%s %s: %s", what, c->name, s);
	}
	if (sslerr == SSL_ERROR_SYSCALL && saved_errno != 0) {
		errno = saved_errno;
		return err_sys(err, ERR_TEMP, "%s %s", what, c->name);
	}
	return err_set(err, ERR_TEMP, "%s %s: connection closed by peer",
	    what, c->name);
}

enum io_op { IO_READ, IO_WRITE, IO_HANDSHAKE };

static int handshake_fail(struct conn *c, int sslerr, int saved,
    struct err *err);

/* One read, write or handshake step, retried until it makes progress
 * while waiting on the fd for what the kernel or OpenSSL asks. Returns >0
 * bytes (1 for the handshake), 0 at EOF (reads), or -1. */
static ssize_t
io(struct conn *c, enum io_op op, void *rbuf, const void *wbuf, size_t n,
    struct err *err)
{
	for (;;) {
		ssize_t r;
		short ev;
		if (c->ssl) {
			int m = n > INT_MAX ? INT_MAX : (int)n, e, saved;
			ERR_clear_error();
			r = op == IO_READ ? SSL_read(c->ssl, rbuf, m) :
			    op == IO_WRITE ? SSL_write(c->ssl, wbuf, m) :
			    SSL_connect(c->ssl);
			saved = errno;
			if (r > 0)
				return r;
			e = SSL_get_error(c->ssl, (int)r);
			if (e == SSL_ERROR_ZERO_RETURN && op == IO_READ)
				return 0;
			if (e == SSL_ERROR_WANT_READ)
				ev = POLLIN;
			else if (e == SSL_ERROR_WANT_WRITE)
				ev = POLLOUT;
			else if (op == IO_HANDSHAKE)
				return handshake_fail(c, e, saved, err);
			else if (op == IO_WRITE && child_error(c, err) < 0)
				return -1;
			else
				return tls_fail(c, op == IO_READ ?
				    "TLS read from" : "TLS write to", e, saved,
				    err);
		} else {
			/* MSG_NOSIGNAL: a dead peer is an EPIPE error, not a
			 * SIGPIPE death. */
			r = op == IO_READ ? read(c->fd, rbuf, n) :
			    send(c->fd, wbuf, n, MSG_NOSIGNAL);
			if (r >= 0)
				return r;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				if (errno == ECONNRESET || errno == EPIPE)
					c->gone = true;
				err_sys(err, ERR_TEMP, "%s %s", op == IO_READ ?
				    "read from" : "write to", c->name);
				if (op == IO_WRITE)
					child_error(c, err);
				return -1;
			}
			ev = op == IO_READ ? POLLIN : POLLOUT;
		}
		if (wait_fd(c, ev, err) < 0)
			return -1;
	}
}

static int
raw_write(struct conn *c, const char *p, size_t n, struct err *err)
{
	while (n > 0) {
		ssize_t w = io(c, IO_WRITE, NULL, p, n, err);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static struct conn *
conn_new(int fd, const char *name, int timeout_ms)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->pid = -1;
	c->timeout_ms = timeout_ms;
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
	r = poll_fd(fd, POLLOUT, timeout_ms);
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

/* "[v6]:port" so that the port stays readable. */
static char *
host_port(const char *host, const char *port)
{
	return strchr(host, ':') ? xasprintf("[%s]:%s", host, port) :
	    xasprintf("%s:%s", host, port);
}

/* Copy of host without the [brackets] that force an IP literal. */
static char *
strip_brackets(const char *host, bool *bracketed)
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
	char *h = strip_brackets(host, &bracketed), *name = host_port(h, port);
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

/* ---- SOCKSv5 through libcurl ----
 *
 * libcurl already speaks RFC 1928 and RFC 1929 (and is loaded anyway for
 * SMTP delivery): with CURLOPT_CONNECT_ONLY and an http:// URL it stops
 * right after the proxy's CONNECT reply, before sending any HTTP byte, and
 * CURLINFO_ACTIVESOCKET hands over the connected socket. The easy handle
 * owns that socket: it stays alive, untouched, until conn_free(). */

const char *
proxy_url(const struct proxy_opts *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s://%s:%s",
	    p->type == PROXY_SOCKS5H ? "socks5h" : "socks5", p->host, p->port);
	return buf;
}

/* RFC 1928 §6 reply codes as libcurl reports them. */
static const char *
socks_reply(long px, int *rep)
{
	static const struct {
		long px;
		int rep;
		const char *what;
	} t[] = {
		{ CURLPX_REPLY_GENERAL_SERVER_FAILURE, 1,
		  "general SOCKS server failure" },
		{ CURLPX_REPLY_NOT_ALLOWED, 2, "connection not allowed by ruleset" },
		{ CURLPX_REPLY_NETWORK_UNREACHABLE, 3, "network unreachable" },
		{ CURLPX_REPLY_HOST_UNREACHABLE, 4, "host unreachable" },
		{ CURLPX_REPLY_CONNECTION_REFUSED, 5,
		  "connection refused by destination" },
		{ CURLPX_REPLY_TTL_EXPIRED, 6, "TTL expired" },
		{ CURLPX_REPLY_COMMAND_NOT_SUPPORTED, 7, "command not supported" },
		{ CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED, 8,
		  "address type not supported" },
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		if (t[i].px == px) {
			*rep = t[i].rep;
			return t[i].what;
		}
	return NULL;
}

/* Turns a failed curl_easy_perform() into err. what = "connect to
 * HOST:PORT via SOCKS5 proxy URL". libcurl's own messages never hold the
 * password: it is passed with CURLOPT_PROXYPASSWORD, not in the URL. */
static int
proxy_fail(CURL *h, CURLcode rc, const char *ebuf, const char *what,
    const char *host, int timeout_ms, struct err *err)
{
	long px = 0;
	int rep;
	const char *s;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(err, ERR_TEMP, "%s: timeout after %g s", what,
		    timeout_ms / 1000.0);
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return err_set(err, ERR_TEMP, "%s: cannot reach the proxy: %s",
		    what, ebuf[0] ? ebuf : curl_easy_strerror(rc));
	case CURLE_PROXY:
		break;
	default:
		return err_set(err, ERR_TEMP, "%s: %s", what,
		    ebuf[0] ? ebuf : curl_easy_strerror(rc));
	}
	(void)curl_easy_getinfo(h, CURLINFO_PROXY_ERROR, &px);
	if ((s = socks_reply(px, &rep)) != NULL)
		return err_set(err, ERR_TEMP, "%s: %s (REP %d)", what, s, rep);
	switch (px) {
	case CURLPX_USER_REJECTED:
		/* RFC 1929 §2: a non-zero STATUS, the credentials. */
		return err_set(err, ERR_AUTH,
		    "%s: the proxy refused the username/password", what);
	case CURLPX_NO_AUTH:
		/* RFC 1928 §3: METHOD X'FF', e.g. credentials required but
		 * none configured. */
		return err_set(err, ERR_AUTH,
		    "%s: the proxy accepts none of the authentication methods "
		    "offered (username/password needed?)", what);
	case CURLPX_RESOLVE_HOST:
		return err_set(err, ERR_TEMP, "%s: cannot resolve %s", what,
		    host);
	default:
		return err_set(err, ERR_TEMP, "%s: %s", what,
		    ebuf[0] ? ebuf : curl_easy_strerror(rc));
	}
}

struct conn *
conn_connect_proxy(const struct proxy_opts *p, const char *host,
    const char *port, int timeout_ms, struct err *err)
{
	char purl[300], ebuf[CURL_ERROR_SIZE] = "";
	bool bracketed;
	char *h = strip_brackets(host, &bracketed), *hp = host_port(h, port);
	char *url = xasprintf("http://%s/", hp);
	char *what = xasprintf("connect to %s via SOCKS5 proxy %s", hp,
	    proxy_url(p, purl, sizeof(purl)));
	char *name = NULL;
	struct conn *c = NULL;
	curl_socket_t fd = CURL_SOCKET_BAD;
	CURLcode rc;
	CURL *ch = NULL;
	int fl;

	if (curl_lazy_load(err) < 0)
		goto out;
	if (!(ch = curl_easy_init())) {
		err_set(err, ERR_SYS, "%s: curl_easy_init failed", what);
		goto out;
	}
	if ((rc = curl_easy_setopt(ch, CURLOPT_URL, url)) != CURLE_OK ||
	    (rc = curl_easy_setopt(ch, CURLOPT_PROXY, purl)) != CURLE_OK ||
	    /* Else a no_proxy environment variable could bypass it. */
	    (rc = curl_easy_setopt(ch, CURLOPT_NOPROXY, "")) != CURLE_OK ||
	    /* Username/password (RFC 1929) only, no GSS-API (RFC 1961). */
	    (rc = curl_easy_setopt(ch, CURLOPT_SOCKS5_AUTH,
	    (long)CURLAUTH_BASIC)) != CURLE_OK ||
	    (rc = curl_easy_setopt(ch, CURLOPT_CONNECT_ONLY, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(ch, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(ch, CURLOPT_ERRORBUFFER, ebuf)) !=
	    CURLE_OK) {
		err_set(err, ERR_SYS, "%s: %s", what, curl_easy_strerror(rc));
		goto out;
	}
	if (timeout_ms > 0)
		(void)curl_easy_setopt(ch, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)timeout_ms);
	if (p->username[0] != '\0') {
		(void)curl_easy_setopt(ch, CURLOPT_PROXYUSERNAME, p->username);
		(void)curl_easy_setopt(ch, CURLOPT_PROXYPASSWORD, p->password);
	}
	if ((rc = curl_easy_perform(ch)) != CURLE_OK) {
		proxy_fail(ch, rc, ebuf, what, h, timeout_ms, err);
		goto out;
	}
	if (curl_easy_getinfo(ch, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD) {
		err_set(err, ERR_INTERNAL, "%s: libcurl gave no socket", what);
		goto out;
	}
	/* libcurl leaves the socket inheritable; tunnel children and
	 * password-command must not hold the connection open. conn.c waits
	 * with poll(): keep it non-blocking (libcurl made it so). */
	if ((fl = fcntl(fd, F_GETFD)) >= 0)
		(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	if ((fl = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	log_debug("connected to %s via %s", hp, purl);
	name = xasprintf("%s (via %s)", hp, purl);
	c = conn_new(fd, name, timeout_ms);
	c->tcp = true;
	c->curl = ch;
	ch = NULL;
out:
	if (ch)
		curl_easy_cleanup(ch);
	free(h);
	free(hp);
	free(url);
	free(what);
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

/* The reference hands the command to Perl's exec, which uses the shell
 * when it sees a metacharacter; anything outside this conservative set of
 * word characters counts as one. */
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
spawn_child(int s, int ep, char *const *argv, bool null_stderr)
{
	sigset_t set;
	int e;
	/* dup2(fd, fd) would keep FD_CLOEXEC: move both out of 0..2 first. */
	if (s < 3)
		s = fcntl(s, F_DUPFD_CLOEXEC, 3);
	if (ep < 3)
		ep = fcntl(ep, F_DUPFD_CLOEXEC, 3);
	if (s < 0 || dup2(s, 0) < 0 || dup2(s, 1) < 0)
		goto fail;
	if (null_stderr) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 2) < 0)
			goto fail;
		if (fd > 2)
			close(fd);
	}
	/* An ignored SIGPIPE would survive exec (we ignore it for TLS). */
	signal(SIGPIPE, SIG_DFL);
	/* As in the reference: a ^C aimed at us must not kill the tunnel
	 * before we could log out. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	execvp(argv[0], argv);
fail:
	e = errno;
	if (ep >= 0)
		(void)!write(ep, &e, sizeof(e));
	_exit(127);
}

struct conn *
conn_spawn(const char *command, bool null_stderr, int timeout_ms,
    struct err *err)
{
	struct conn *c = NULL;
	char **argv, *words = NULL, *tok, *save = NULL;
	size_t n = 0;
	int sv[2] = {-1, -1}, ep[2] = {-1, -1}, e = 0;
	ssize_t r;
	pid_t pid;
	static char sh[] = "/bin/sh", dash_c[] = "-c";

	argv = xcalloc(strlen(command) / 2 + 4, sizeof(*argv));
	words = xstrdup(command);
	if (needs_shell(command)) {
		argv[n++] = sh;
		argv[n++] = dash_c;
		argv[n++] = words;
	} else {
		for (tok = strtok_r(words, " \t", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t", &save))
			argv[n++] = tok;
	}
	if (n == 0) {
		err_set(err, ERR_CONFIG, "empty tunnel command");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		err_sys(err, ERR_SYS, "tunnel `%s`: socketpair/pipe", command);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err_sys(err, ERR_SYS, "tunnel `%s`: fork", command);
		goto out;
	}
	if (pid == 0)
		spawn_child(sv[1], ep[1], argv, null_stderr);
	close(sv[1]);
	close(ep[1]);
	sv[1] = ep[1] = -1;
	/* The error pipe closes at a successful exec; a failed one sends
	 * errno, so a missing program is reported right here. */
	do
		r = read(ep[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = e;
		err_sys(err, e == ENOENT || e == EACCES || e == ENOEXEC ||
		    e == ENOTDIR ? ERR_CONFIG : ERR_SYS,
		    "tunnel command `%s`: cannot execute %s", command, argv[0]);
		goto out;
	}
	if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0)
		log_debug("fcntl O_NONBLOCK: %s", strerror(errno));
	c = conn_new(sv[0], "tunnel", timeout_ms);
	sv[0] = -1;
	c->pid = pid;
	c->command = xstrdup(command);
	log_debug("started tunnel command `%s` (pid %ld)", command, (long)pid);
out:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	free(words);
	free(argv);
	return c;
}

/* ---- TLS ---- */

/* Records the leaf's sha256 SPKI digest (for messages) and whether it
 * matches SSL_fingerprint. */
static void
check_leaf(struct conn *c, X509 *cert)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	struct err scratch;
	size_t o = (size_t)snprintf(c->fp_actual, sizeof(c->fp_actual),
	    "sha256$");
	if (tls_spki_digest(cert, EVP_sha256(), d, &len))
		for (unsigned i = 0; i < len; i++)
			o += (size_t)snprintf(c->fp_actual + o,
			    sizeof(c->fp_actual) - o, "%02x", d[i]);
	c->fp_checked = true;
	c->fp_ok = c->fingerprints == NULL ||
	    tls_fpr_list(c->fingerprints, cert, &scratch) == 1;
}

/* Like the reference: chain and name errors count only with SSL_verify;
 * the fingerprint (checked on the leaf) counts either way, and aborts the
 * handshake before anything is sent. */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *c = SSL_get_app_data(ssl);
	if (!c->verify)
		ok = 1;
	if (X509_STORE_CTX_get_error_depth(store) == 0 && !c->fp_checked)
		check_leaf(c, X509_STORE_CTX_get_current_cert(store));
	if (c->fp_checked && !c->fp_ok) {
		X509_STORE_CTX_set_error(store,
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return ok;
}

static void
ignore_sigpipe(void)
{
	/* OpenSSL's socket BIO write()s, so MSG_NOSIGNAL cannot help there:
	 * ignore SIGPIPE unless the program chose a handler itself. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

static bool
is_ip(const char *h)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

static int
setup_ctx(SSL_CTX *ctx, const struct tls_opts *o, struct err *err)
{
	uint64_t no = 0;
	int v;
	if (o->protocol_min || o->protocol_max) {
		/* The reference ignores SSL_protocols then. */
		if (o->protocol_min && (tls_proto_version("SSL_protocol_min",
		    o->protocol_min, &v, err) < 0 ||
		    !SSL_CTX_set_min_proto_version(ctx, v)))
			goto fail;
		if (o->protocol_max && (tls_proto_version("SSL_protocol_max",
		    o->protocol_max, &v, err) < 0 ||
		    !SSL_CTX_set_max_proto_version(ctx, v)))
			goto fail;
	} else if (o->protocols &&
	    tls_parse_protocols(o->protocols, &no, err) < 0) {
		return -1;
	}
	SSL_CTX_set_options(ctx, no | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
	if (o->cipherlist && !SSL_CTX_set_cipher_list(ctx, o->cipherlist))
		goto fail;
	if (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
		goto fail;
	if (o->verify) {
		if (o->cafile || o->capath) {
			if (!SSL_CTX_load_verify_locations(ctx, o->cafile,
			    o->capath)) {
				ERR_clear_error();
				return err_set(err, ERR_CONFIG,
				    "cannot load SSL_CAfile %s / SSL_CApath %s",
				    o->cafile ? o->cafile : "(unset)",
				    o->capath ? o->capath : "(unset)");
			}
		} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return 0;
fail:
	/* The option names were checked already: this is OpenSSL's word. */
	{
		char s[256] = "failed";
		unsigned long e = ERR_get_error();
		if (e != 0)
			ERR_error_string_n(e, s, sizeof(s));
		ERR_clear_error();
		return err_set(err, ERR_CONFIG, "TLS setup: %s", s);
	}
}

static int
handshake_fail(struct conn *c, int sslerr, int saved, struct err *err)
{
	long vr = SSL_get_verify_result(c->ssl);
	unsigned long e = ERR_peek_error();
	if (c->fp_checked && !c->fp_ok) {
		ERR_clear_error();
		return err_set(err, ERR_REFUSED,
		    "TLS handshake with %s: server certificate fingerprint "
		    "%s does not match SSL_fingerprint", c->name,
		    c->fp_actual);
	}
	if (vr != X509_V_OK && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		bool trust = vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		    vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		    vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
		ERR_clear_error();
		return err_set(err, ERR_REFUSED,
		    "TLS handshake with %s: certificate verify failed: %s%s",
		    c->name, X509_verify_cert_error_string(vr),
		    trust ? " (use SSL_CAfile or SSL_fingerprint)" : "");
	}
	return tls_fail(c, "TLS handshake with", sslerr, saved, err);
}

int
conn_start_tls(struct conn *c, const char *host, const struct tls_opts *o,
    struct err *err)
{
	char *h = strip_brackets(host ? host : "", NULL);
	const char *sni;
	bool ip = is_ip(h);
	int r = -1;

	if (conn_tls_opts_check(o, err) < 0)
		goto out;
	if (c->ssl != NULL) {
		err_set(err, ERR_INTERNAL, "%s: TLS already started", c->name);
		goto out;
	}
	/* TLS would have to go below the compression layer already in
	 * use (RFC 4978 §3 compresses inside TLS): refuse the mix-up. */
	if (c->z != NULL) {
		err_set(err, ERR_INTERNAL, "%s: TLS after COMPRESS", c->name);
		goto out;
	}
	/* Plaintext that arrived before the handshake could be injected
	 * (CVE-2011-0411 style): refuse rather than parse it later. */
	if (c->rpos < c->rend) {
		err_set(err, ERR_PROTO, "%s sent data before the TLS handshake",
		    c->name);
		goto out;
	}
	if (conn_flush(c, err) < 0)
		goto out;
	ignore_sigpipe();
	ERR_clear_error();
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	if (setup_ctx(c->ctx, o, err) < 0)
		goto fail;
	if ((c->ssl = SSL_new(c->ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd)) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	c->verify = o->verify;
	c->fingerprints = o->fingerprints;
	c->fp_checked = c->fp_ok = false;
	if (o->verify && *h != '\0' &&
	    !(ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), h) :
	    SSL_set1_host(c->ssl, h))) {
		tls_fail(c, "TLS setup for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	sni = o->hostname ? o->hostname : ip ? "" : h;
	if (*sni != '\0' && !SSL_set_tlsext_host_name(c->ssl, sni)) {
		tls_fail(c, "TLS SNI for", SSL_ERROR_SSL, 0, err);
		goto fail;
	}
	if (io(c, IO_HANDSHAKE, NULL, NULL, 0, err) < 0)
		goto fail;
	/* Should the leaf never have reached the callback. */
	if (!c->fp_checked) {
		X509 *cert = SSL_get0_peer_certificate(c->ssl);
		if (cert == NULL) {
			err_set(err, ERR_REFUSED, "TLS handshake with %s: no "
			    "server certificate", c->name);
			goto fail;
		}
		check_leaf(c, cert);
		if (!c->fp_ok) {
			handshake_fail(c, SSL_ERROR_SSL, 0, err);
			goto fail;
		}
	}
	c->fingerprints = NULL;
	log_debug("TLS with %s: %s, cipher %s (%d bits), server SPKI %s",
	    c->name, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	    SSL_get_cipher_bits(c->ssl, NULL), c->fp_actual);
	r = 0;
	goto out;
fail:
	/* The stream is unusable now; keep nothing half-initialised. */
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fingerprints = NULL;
	c->eof = true;
	/* Nothing may go out in clear text after a failed upgrade. */
	shutdown(c->fd, SHUT_RDWR);
	ERR_clear_error();
out:
	free(h);
	return r;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

/* ---- COMPRESS=DEFLATE (RFC 4978) ---- */

static void
zstate_free(struct zstate **zp)
{
	struct zstate *z = *zp;
	if (z == NULL)
		return;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
	*zp = NULL;
}

int
conn_start_deflate(struct conn *c, struct err *err)
{
	struct zstate *z;
	size_t left = c->rend - c->rpos;
	int r;

	if (c->z != NULL)
		return err_set(err, ERR_INTERNAL, "%s: COMPRESS already active",
		    c->name);
	/* What was queued before belongs to the uncompressed part. */
	if (conn_flush(c, err) < 0)
		return -1;
	z = xcalloc(1, sizeof(*z));
	/* RFC 4978 §3: DEFLATE as in RFC 1951, i.e. raw (negative
	 * windowBits: no zlib header or checksum); the inflate side takes
	 * the largest window, 32 KiB, so that any peer's stream decodes. */
	r = inflateInit2(&z->in, -15);
	if (r != Z_OK) {
		free(z);
		return err_set(err, ERR_SYS, "COMPRESS with %s: inflateInit2: %s",
		    c->name, zError(r));
	}
	r = deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY);
	if (r != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return err_set(err, ERR_SYS, "COMPRESS with %s: deflateInit2: %s",
		    c->name, zError(r));
	}
	/* RFC 4978 §3: the server compresses everything after its tagged OK,
	 * so unread bytes that came with the OK are already compressed. They
	 * fit: c->in and z->wire have the same size. */
	memcpy(z->wire, c->in + c->rpos, left);
	z->in.next_in = z->wire;
	z->in.avail_in = (uInt)left;
	z->wire_in = left;
	c->rpos = c->rend = 0;
	c->z = z;
	log_debug("DEFLATE compression on with %s", c->name);
	return 0;
}

bool
conn_is_deflate(const struct conn *c)
{
	return c->z != NULL;
}

void
conn_deflate_stats(const struct conn *c, unsigned long long *raw_in,
    unsigned long long *wire_in, unsigned long long *raw_out,
    unsigned long long *wire_out)
{
	const struct zstate *z = c->z;
	if (raw_in)
		*raw_in = z ? z->raw_in : 0;
	if (wire_in)
		*wire_in = z ? z->wire_in : 0;
	if (raw_out)
		*raw_out = z ? z->raw_out : 0;
	if (wire_out)
		*wire_out = z ? z->wire_out : 0;
}

/* Compresses n bytes and sends the output as it comes. Z_NO_FLUSH lets
 * zlib keep data for better compression (used when the output buffer
 * overflows); Z_SYNC_FLUSH pushes out everything with an empty stored
 * block at the end, so the peer can decode all of it now (RFC 4978 §4:
 * needed before we wait for a response, or the server would wait too). */
static int
deflate_out(struct conn *c, const char *p, size_t n, int flush,
    struct err *err)
{
	struct zstate *z = c->z;
	bool any = n > 0;

	z->raw_out += n;
	do {
		/* avail_in is a uInt: feed huge writes in pieces. */
		uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;
		int f = chunk == n ? flush : Z_NO_FLUSH;
		z->out.next_in = (const Bytef *)p;
		z->out.avail_in = chunk;
		p += chunk;
		n -= chunk;
		/* Per zlib's contract, until all input is taken and the flush
		 * did not fill the output space. */
		do {
			size_t len;
			int r;
			z->out.next_out = z->wout;
			z->out.avail_out = sizeof(z->wout);
			r = deflate(&z->out, f);
			/* Z_BUF_ERROR only says no progress was possible. */
			if (r != Z_OK && r != Z_BUF_ERROR)
				return err_set(err, ERR_INTERNAL,
				    "COMPRESS to %s: deflate error %d (%s)",
				    c->name, r, z->out.msg ? z->out.msg :
				    zError(r));
			len = sizeof(z->wout) - z->out.avail_out;
			z->wire_out += len;
			if (len > 0 && raw_write(c, (const char *)z->wout, len,
			    err) < 0)
				return -1;
		} while (z->out.avail_in > 0 || z->out.avail_out == 0);
	} while (n > 0);
	if (flush == Z_SYNC_FLUSH)
		z->out_pending = false;
	else if (any)
		z->out_pending = true;
	return 0;
}

/* Marks the input side failed: the bytes inflated before the failure are
 * still delivered, then every read fails with this error. r is zlib's
 * code, Z_STREAM_END for data after the end of the stream. */
static void
inflate_broken(struct conn *c, int r)
{
	struct zstate *z = c->z;
	if (r == Z_MEM_ERROR)
		err_set(&z->ferr, ERR_SYS, "COMPRESS with %s: out of memory",
		    c->name);
	else if (r == Z_STREAM_END)
		err_set(&z->ferr, ERR_PROTO, "COMPRESS: corrupt data from %s: "
		    "data after the end of the compressed stream", c->name);
	else
		err_set(&z->ferr, ERR_PROTO, "COMPRESS: corrupt data from %s: "
		    "inflate error: %s", c->name, z->in.msg ? z->in.msg :
		    zError(r));
	z->broken = true;
	z->in_more = false;
}

/* Refills c->in (which must be empty) with decompressed bytes: from the
 * compressed input already buffered, then, when may_read, from the stream.
 * Returns 1 when c->in has bytes, 0 when nothing more could be decoded
 * without reading (or at EOF when may_read), -1 on error. */
static int
inflate_in(struct conn *c, bool may_read, struct err *err)
{
	struct zstate *z = c->z;
	ssize_t n;

	c->rpos = c->rend = 0;
	for (;;) {
		if (!z->broken && (z->in.avail_in > 0 || z->in_more)) {
			size_t got;
			int r;
			z->in.next_out = (Bytef *)c->in;
			z->in.avail_out = sizeof(c->in);
			r = inflate(&z->in, Z_SYNC_FLUSH);
			got = sizeof(c->in) - z->in.avail_out;
			z->raw_in += got;
			/* A full c->in may leave output inside zlib even with
			 * no input left: ask again next time. */
			z->in_more = z->in.avail_out == 0;
			if (r == Z_STREAM_END) {
				z->in_end = true;
				z->in_more = false;
				if (z->in.avail_in > 0)
					inflate_broken(c, r);
			} else if (r != Z_OK && r != Z_BUF_ERROR) {
				inflate_broken(c, r);
			}
			if (got > 0) {
				c->rend = got;
				return 1;
			}
			/* With output space, inflate stops short of the end
			 * of its input only on an error or the stream's end,
			 * both handled: all input is taken here. */
		}
		if (z->broken) {
			*err = z->ferr;
			return -1;
		}
		if (!may_read)
			return 0;
		n = io(c, IO_READ, z->wire, NULL, sizeof(z->wire), err);
		if (n <= 0)
			return (int)n;
		z->wire_in += (size_t)n;
		z->in.next_in = z->wire;
		z->in.avail_in = (uInt)n;
		if (z->in_end)
			inflate_broken(c, Z_STREAM_END);
	}
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
	if (c->z != NULL)
		return n > 0 || c->z->out_pending ?
		    deflate_out(c, c->out, n, Z_SYNC_FLUSH, err) : 0;
	return n ? raw_write(c, c->out, n, err) : 0;
}

/* Makes room in the output buffer without forcing a deflate flush: the
 * caller is still writing, nobody waits for these bytes yet. */
static int
spill(struct conn *c, const char *p, size_t n, struct err *err)
{
	if (n == 0)
		return 0;
	return c->z ? deflate_out(c, p, n, Z_NO_FLUSH, err) :
	    raw_write(c, p, n, err);
}

static bool
out_queued(const struct conn *c)
{
	return c->olen > 0 || (c->z != NULL && c->z->out_pending);
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
		int r = inflate_in(c, true, err);
		if (r != 0)
			return r;
		c->eof = true;
		return child_error(c, err);
	}
	c->rpos = c->rend = 0;
	if ((n = io(c, IO_READ, c->in, NULL, sizeof(c->in), err)) < 0)
		return -1;
	if (n == 0) {
		c->eof = true;
		return child_error(c, err);
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
	if (c->z != NULL && (c->z->broken || c->z->in.avail_in > 0 ||
	    c->z->in_more)) {
		struct err e;
		if (inflate_in(c, false, &e) != 0)
			return true;
	}
	/* TLS may hold decrypted bytes the fd no longer shows. */
	if (c->ssl && SSL_pending(c->ssl) > 0)
		return true;
	return poll(&p, 1, 0) > 0;
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
	if (c->ssl) {
		/* close_notify, but never wait for the peer's. */
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	SSL_CTX_free(c->ctx);
	zstate_free(&c->z);
	if (c->curl)
		curl_easy_cleanup(c->curl);  /* closes fd */
	else if (c->fd >= 0)
		close(c->fd);
	/* The command normally exits at EOF on its stdin; do not let a
	 * stuck one leave a zombie or hold us forever. */
	if (c->pid > 0 && !reap(c, 1000)) {
		kill(c->pid, SIGTERM);
		if (!reap(c, 1000)) {
			kill(c->pid, SIGKILL);
			reap(c, -1);
		}
	}
	free(c->name);
	free(c->command);
	free(c);
}
