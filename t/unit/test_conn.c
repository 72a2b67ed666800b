/* conn: tunnels, TCP/Unix sockets, buffered I/O, timeouts and TLS against
 * servers forked by the test on loopback, with certificates made by the
 * openssl CLI in a temporary directory. */

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "test.h"

static char tmpdir[] = "/tmp/test_conn.XXXXXX";
static bool have_tmpdir;
static pid_t servers[4];
static size_t nservers;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* best effort: keep walking */
	return 0;
}

static void
cleanup(void)
{
	for (size_t i = 0; i < nservers; i++) {
		kill(servers[i], SIGKILL);
		waitpid(servers[i], NULL, 0);
	}
	nservers = 0;
	if (have_tmpdir)
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	have_tmpdir = false;
}

/* Something hung despite the bounded waits: say so, and clean up with
 * async-signal-safe calls only (kill, fork, execv, waitpid). */
static void
on_alarm(int sig)
{
	static const char m[] = "not ok test_conn: overall timeout\n";
	static char rm[] = "/bin/rm", rf[] = "-rf";
	char *argv[] = {rm, rf, tmpdir, NULL};
	pid_t pid;
	(void)sig;
	(void)!write(1, m, sizeof(m) - 1);
	for (size_t i = 0; i < nservers; i++)
		kill(servers[i], SIGKILL);
	if (have_tmpdir && (pid = fork()) == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(1);
}

static bool
contains(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

#define test_assert_contains(s, needle)                                        \
	do {                                                                   \
		if (!contains((s), (needle))) {                                \
			char m_[400];                                          \
			snprintf(m_, sizeof(m_), "\"%.250s\" lacks \"%s\"", \
			    (s), (needle));                                    \
			test_fail_at(__FILE__, __LINE__, m_);                  \
		}                                                              \
	} while (0)

/* Listening socket on an ephemeral loopback port; no accept() unless a
 * test does it. */
static int
listen_on(int family, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static char *
path_in_tmp(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static bool
run(const char *cmd)
{
	int st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* First word of a file (the hex digest of `openssl dgst -r`). */
static char *
first_word(const char *path)
{
	char b[256] = "";
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	if (fscanf(f, "%255s", b) != 1)
		b[0] = '\0';
	fclose(f);
	return b[0] ? xstrdup(b) : NULL;
}

static char *ca_pem, *srv_pem, *srv_key, *fp_sha256, *fp_sha1;

static bool
make_certs(void)
{
	char *cmd, *fp;
	bool ok;
	FILE *f;
	char *ext = path_in_tmp("ext.cnf");
	ca_pem = path_in_tmp("ca.pem");
	srv_pem = path_in_tmp("srv.pem");
	srv_key = path_in_tmp("srv.key");
	if ((f = fopen(ext, "w")) == NULL) {
		free(ext);
		return false;
	}
	fputs("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
	    "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", f);
	fclose(f);
	cmd = xasprintf("cd %s && exec 2>>openssl.log && "
	    "openssl req -x509 -new -nodes -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -keyout ca.key -out ca.pem "
	    "-days 2 -subj '/CN=conn test CA' "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign && "
	    "openssl req -new -nodes -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -keyout srv.key "
	    "-out srv.csr -subj /CN=localhost && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -days 2 -out srv.pem -extfile ext.cnf && "
	    "openssl x509 -in srv.pem -pubkey -noout | "
	    "openssl pkey -pubin -outform DER > spki.der && "
	    "openssl dgst -sha256 -r < spki.der > fp256 && "
	    "openssl dgst -sha1 -r < spki.der > fp1", tmpdir);
	ok = run(cmd);
	free(cmd);
	free(ext);
	if (!ok)
		return false;
	fp = path_in_tmp("fp256");
	fp_sha256 = first_word(fp);
	free(fp);
	fp = path_in_tmp("fp1");
	fp_sha1 = first_word(fp);
	free(fp);
	return fp_sha256 != NULL && fp_sha1 != NULL;
}

/* One connection of the TLS echo server: greets with the SNI it got and
 * the negotiated version, then echoes until EOF. With starttls, a
 * clear-text greeting and command line come first. */
static void
serve_one(SSL_CTX *ctx, int fd, bool starttls)
{
	struct timeval tv = {5, 0};
	char b[16384], ch = 0;
	const char *sni;
	SSL *ssl;
	int n;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (starttls) {
		if (write(fd, "* OK plain\r\n", 12) != 12)
			return;
		while (ch != '\n' && read(fd, &ch, 1) == 1)
			;
		if (write(fd, "a OK go\r\n", 9) != 9)
			return;
	}
	if ((ssl = SSL_new(ctx)) == NULL)
		return;
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		n = snprintf(b, sizeof(b), "* OK sni=%s v=%s\r\n",
		    sni ? sni : "-", SSL_get_version(ssl));
		SSL_write(ssl, b, n);
		while ((n = SSL_read(ssl, b, sizeof(b))) > 0)
			if (SSL_write(ssl, b, n) <= 0)
				break;
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
}

/* Forks a TLS echo server on an ephemeral loopback port, which it returns.
 * max_version 0 = OpenSSL's default. */
static int
start_tls_server(int max_version, bool starttls)
{
	int port, lfd = listen_on(AF_INET, &port);
	SSL_CTX *ctx;
	pid_t pid;
	if (lfd < 0 || nservers == ARRAY_LEN(servers))
		return -1;
	fflush(stdout);
	if ((pid = fork()) < 0) {
		close(lfd);
		return -1;
	}
	if (pid > 0) {
		close(lfd);
		servers[nservers++] = pid;
		return port;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, srv_pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, srv_key, SSL_FILETYPE_PEM) != 1)
		_exit(1);
	if (max_version)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			serve_one(ctx, fd, starttls);
			close(fd);
		}
	}
}

/* Writes and reads back n bytes in chunks through an echoing peer,
 * checking the content. */
static bool
echo_roundtrip(struct conn *c, size_t total, size_t chunk, struct err *err)
{
	char *out = xmalloc(chunk), *in = xmalloc(chunk);
	bool ok = true;
	for (size_t done = 0; ok && done < total; done += chunk) {
		size_t got = 0;
		for (size_t i = 0; i < chunk; i++)
			out[i] = (char)((done + i) * 7 + (done + i) / 251);
		if (conn_write(c, out, chunk, err) < 0 ||
		    conn_flush(c, err) < 0) {
			ok = false;
			break;
		}
		while (got < chunk) {
			ssize_t r = conn_read(c, in + got, chunk - got, err);
			if (r <= 0) {
				if (r == 0)
					err_set(err, ERR_TEMP, "early EOF");
				ok = false;
				break;
			}
			got += (size_t)r;
		}
		if (ok && memcmp(in, out, chunk) != 0) {
			err_set(err, ERR_INTERNAL, "echo mismatch at %zu",
			    done);
			ok = false;
		}
	}
	free(out);
	free(in);
	return ok;
}

/* True when every child was reaped (only before the TLS servers start). */
static bool
no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

static void
test_tunnels(void)
{
	struct err err = {0};
	struct buf line = BUF_INIT(1 << 20);
	struct conn *c;
	uint64_t t0;

	test_begin("tunnel cat round trip");
	c = conn_spawn("cat", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert_str(conn_name(c), "tunnel");
		test_assert(!conn_is_tls(c));
		conn_set_keepalive(c); /* no-op, must not fail */
		test_assert(!conn_readable(c));
		test_assert(conn_writes(c, "a1 NOOP\r\n", &err) == 0);
		test_assert(conn_flush(c, &err) == 0);
		test_assert(conn_read_line(c, &line, 1000, &err) == 1);
		test_assert_str(line.data, "a1 NOOP\r\n");
		/* Reading flushes what was queued instead of deadlocking. */
		test_assert(conn_writes(c, "unflushed\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 1000, &err) == 1);
		test_assert_str(line.data, "unflushed\n");
		test_assert(echo_roundtrip(c, 1 << 20, 32768, &err));
		if (test_cur_failed)
			fprintf(stderr, "# %s\n", err.msg);
	}
	conn_free(&c);
	test_assert(c == NULL);
	test_assert(no_children());
	conn_free(&c);
	test_end();

	test_begin("tunnel through the shell");
	c = conn_spawn("cat | cat", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_writes(c, "x\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "x\n");
	}
	conn_free(&c);
	c = conn_spawn("printf '%s\\n' \"$((1 + 2))\"", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "3\n");
		test_assert(conn_read_line(c, &line, 100, &err) == 0);
		test_assert(conn_readable(c));
	}
	conn_free(&c);
	test_end();

	test_begin("tunnel split into words without the shell");
	c = conn_spawn("  echo\tone   two ", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "one two\n");
	}
	conn_free(&c);
	test_end();

	test_begin("tunnel command not found");
	c = conn_spawn("/nonexistent/conn-test-cmd --flag", false, 5000, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	test_assert_contains(err.msg, "/nonexistent/conn-test-cmd");
	test_assert_contains(err.msg, "No such file or directory");
	c = conn_spawn("   ", false, 5000, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	test_end();

	test_begin("tunnel shell command not found: error at first read");
	c = conn_spawn("conn-test-no-such-cmd 'x'", true, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_fill(c, &err) == -1);
		test_assert(err.kind == ERR_CONFIG);
		test_assert_contains(err.msg, "conn-test-no-such-cmd 'x'");
		test_assert_contains(err.msg, "status 127");
	}
	conn_free(&c);
	test_end();

	test_begin("tunnel dead peer: write error, no SIGPIPE");
	c = conn_spawn("true", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		char *big = xcalloc(1, 4 << 20);
		int r = conn_write(c, big, 4 << 20, &err);
		if (r == 0)
			r = conn_flush(c, &err);
		test_assert(r == -1);
		test_assert_contains(err.msg, "write to tunnel");
		test_assert(err.kind == ERR_TEMP);
		free(big);
	}
	conn_free(&c);
	test_end();

	test_begin("tunnel that ignores EOF is killed by conn_free");
	c = conn_spawn("trap '' HUP; exec sleep 30", false, 5000, &err);
	test_assert(c != NULL);
	t0 = now_ms();
	conn_free(&c);
	test_assert(now_ms() - t0 < 4000);
	test_assert(no_children());
	test_end();

	test_begin("read_line max length and truncated line");
	c = conn_spawn("printf 'abc\\r\\n12345678\\r\\n0123456789ABCDEF\\n'",
	    false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 10, &err) == 1);
		test_assert_str(line.data, "abc\r\n");
		test_assert(conn_read_line(c, &line, 10, &err) == 1);
		test_assert_str(line.data, "12345678\r\n");
		test_assert(conn_read_line(c, &line, 10, &err) == -1);
		test_assert(err.kind == ERR_PROTO);
		test_assert_contains(err.msg, "longer than 10 bytes");
	}
	conn_free(&c);
	c = conn_spawn("printf 'x\\ny'", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 10, &err) == 1);
		test_assert_str(line.data, "x\n");
		test_assert(conn_read_line(c, &line, 10, &err) == -1);
		test_assert_contains(err.msg, "middle of a line");
	}
	conn_free(&c);
	test_end();

	test_begin("peek, consume and read");
	c = conn_spawn("printf 'hello world'", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		char b[32] = "";
		size_t len, got = 0;
		const char *p;
		test_assert(conn_fill(c, &err) == 1);
		p = conn_peek(c, &len);
		test_assert(len >= 1 && p[0] == 'h');
		conn_consume(c, 1);
		p = conn_peek(c, &len);
		test_assert(len == 0 || p[0] == 'e');
		for (;;) {
			ssize_t r = conn_read(c, b + got, sizeof(b) - 1 - got,
			    &err);
			if (r <= 0) {
				test_assert(r == 0);
				break;
			}
			got += (size_t)r;
		}
		test_assert_str(b, "ello world");
		test_assert(conn_fill(c, &err) == 0);
	}
	conn_free(&c);
	test_end();

	test_begin("8 MiB of partial writes");
	c = conn_spawn("head -c 8388608 | sha256sum", false, 10000, &err);
	test_assert(c != NULL);
	if (c) {
		size_t total = 8u << 20, done = 0, step = 1;
		char *data = xmalloc(total), want[80];
		unsigned char md[32];
		unsigned mdlen = 0;
		for (size_t i = 0; i < total; i++)
			data[i] = (char)(i ^ (i >> 9));
		EVP_Digest(data, total, md, &mdlen, EVP_sha256(), NULL);
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(want + 2 * i, 3, "%02x", md[i]);
		snprintf(want + 64, sizeof(want) - 64, "  -\n");
		/* Mixed sizes: buffered small ones and unbuffered big ones. */
		while (done < total) {
			size_t n = step < total - done ? step : total - done;
			if (conn_write(c, data + done, n, &err) < 0)
				break;
			done += n;
			step = step >= (1u << 21) ? 3 : step * 7;
		}
		test_assert(done == total);
		test_assert(conn_flush(c, &err) == 0);
		test_assert(conn_read_line(c, &line, 1000, &err) == 1);
		test_assert_str(line.data, want);
		free(data);
	}
	conn_free(&c);
	test_end();
	buf_free(&line);
}

/* ---- COMPRESS=DEFLATE ---- */

/* Peer for conn_start_deflate() (argv: MODE [N]). It reads a clear-text
 * "a COMPRESS DEFLATE" line, answers "a OK", then speaks raw deflate both
 * ways, each of its writes ending in a sync flush like a server's. Modes:
 * echo: decompress, send back recompressed; ahead: the same, with a
 * compressed line in the very write of the OK; sha N: answer "N SHA256"
 * for the first N bytes received; gen N: send "N SHA256" and N bytes
 * (half random, half text) in writes of random size, tiny at first;
 * corrupt: a line, then garbage; finish: a line and the end of the
 * stream, then exit; trailing: the same, then bytes after the end. */
static const char zpeer_py[] =
	"import hashlib, os, random, sys, zlib\n"
	"mode, arg = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0\n"
	"z = zlib.compressobj(6, zlib.DEFLATED, -15)\n"
	"d = zlib.decompressobj(wbits=-15)\n"
	"CRLF = b\"\\r\\n\"\n"
	"OK = b\"a OK\" + CRLF\n"
	"def w(b):\n"
	"    while b:\n"
	"        b = b[os.write(1, b):]\n"
	"def zs(b):\n"
	"    return z.compress(b) + z.flush(zlib.Z_SYNC_FLUSH)\n"
	"def drain():\n"
	"    while os.read(0, 65536):\n"
	"        pass\n"
	"def echo():\n"
	"    while True:\n"
	"        b = os.read(0, 65536)\n"
	"        if not b:\n"
	"            return\n"
	"        out = d.decompress(b)\n"
	"        if out:\n"
	"            w(zs(out))\n"
	"cmd = b\"\"\n"
	"while not cmd.endswith(b\"\\n\"):\n"
	"    ch = os.read(0, 1)\n"
	"    if not ch:\n"
	"        sys.exit(0)\n"
	"    cmd += ch\n"
	"if cmd != b\"a COMPRESS DEFLATE\\r\\n\":\n"
	"    w(b\"a BAD \" + cmd)\n"
	"    sys.exit(1)\n"
	"if mode == \"echo\":\n"
	"    w(OK)\n"
	"    echo()\n"
	"elif mode == \"ahead\":\n"
	"    w(OK + zs(b\"* already compressed\\r\\n\"))\n"
	"    echo()\n"
	"elif mode == \"sha\":\n"
	"    w(OK)\n"
	"    h, got = hashlib.sha256(), 0\n"
	"    while got < arg:\n"
	"        b = os.read(0, 65536)\n"
	"        if not b:\n"
	"            sys.exit(1)\n"
	"        out = d.decompress(b)\n"
	"        h.update(out)\n"
	"        got += len(out)\n"
	"    w(zs(b\"%d %s\\r\\n\" % (got, h.hexdigest().encode())))\n"
	"    drain()\n"
	"elif mode == \"gen\":\n"
	"    rnd = random.Random(arg)\n"
	"    line = b\"%06d the quick brown fox jumps over the lazy dog\" + CRLF\n"
	"    text = b\"\".join(line % i for i in range(arg // 50 + 1))\n"
	"    data = rnd.randbytes(arg // 2) + text[:arg - arg // 2]\n"
	"    sha = hashlib.sha256(data).hexdigest().encode()\n"
	"    comp = zs(b\"%d %s\" % (len(data), sha) + CRLF)\n"
	"    pos = 0\n"
	"    while pos < len(data):\n"
	"        n = rnd.choice((1, 3, 100, 4097, 65536, 200003))\n"
	"        comp += z.compress(data[pos:pos + n])\n"
	"        if rnd.random() < 0.3:\n"
	"            comp += z.flush(zlib.Z_SYNC_FLUSH)\n"
	"        pos += n\n"
	"    comp += z.flush(zlib.Z_SYNC_FLUSH)\n"
	"    w(OK)\n"
	"    pos, i = 0, 0\n"
	"    while pos < len(comp):\n"
	"        n = rnd.randint(1, 7) if i < 300 else rnd.randint(1, 30000)\n"
	"        w(comp[pos:pos + n])\n"
	"        pos, i = pos + n, i + 1\n"
	"    drain()\n"
	"elif mode == \"corrupt\":\n"
	"    w(OK + zs(b\"* fine\\r\\n\") + b\"\\xff\" * 32)\n"
	"    drain()\n"
	"elif mode in (\"finish\", \"trailing\"):\n"
	"    last = z.compress(b\"* last\" + CRLF) + z.flush(zlib.Z_FINISH)\n"
	"    w(OK + last + (b\"junk\" if mode == \"trailing\" else b\"\"))\n"
	"    if mode == \"trailing\":\n"
	"        drain()\n";

static char *zpeer_path;

/* Negotiates with a peer on c and starts compression. *ahead gets the
 * number of bytes that were read along with the OK. NULL on failure (c
 * freed). */
static struct conn *
zpeer_start(struct conn *c, size_t *ahead, struct err *err)
{
	struct buf line = BUF_INIT(1000);
	size_t len = 0;
	if (c == NULL)
		return NULL;
	err_clear(err);
	if (conn_writes(c, "a COMPRESS DEFLATE\r\n", err) < 0 ||
	    conn_read_line(c, &line, 100, err) != 1) {
		conn_free(&c);
	} else if (strcmp(line.data, "a OK\r\n") != 0) {
		err_set(err, ERR_PROTO, "peer said %s", line.data);
		conn_free(&c);
	} else {
		conn_peek(c, &len);
		if (conn_start_deflate(c, err) < 0)
			conn_free(&c);
	}
	if (ahead)
		*ahead = len;
	buf_free(&line);
	return c;
}

/* The peer as a tunnel (a socketpair: compressed as always). */
static struct conn *
zpeer(const char *mode, size_t *ahead, struct err *err)
{
	char *cmd = xasprintf("python3 %s %s", zpeer_path, mode);
	struct conn *c = conn_spawn(cmd, false, 10000, err);
	free(cmd);
	return zpeer_start(c, ahead, err);
}

/* The peer over loopback TCP: a child accepts once and runs it on the
 * accepted socket (killed by cleanup() if still there). */
static struct conn *
zpeer_tcp(const char *mode, struct err *err)
{
	char port[16];
	int lfd, p;
	pid_t pid;

	if ((lfd = listen_on(AF_INET, &p)) < 0) {
		err_set(err, ERR_SYS, "listen: %s", strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == 0) {
		int fd = accept(lfd, NULL, NULL);
		char *cmd = xasprintf("exec python3 %s %s", zpeer_path, mode);
		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
			_exit(1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(lfd);
	if (pid < 0) {
		err_set(err, ERR_SYS, "fork: %s", strerror(errno));
		return NULL;
	}
	if (nservers < ARRAY_LEN(servers))
		servers[nservers++] = pid;
	snprintf(port, sizeof(port), "%d", p);
	return zpeer_start(conn_connect_tcp("127.0.0.1", port, 10000, err),
	    NULL, err);
}

/* n bytes: the first half pseudo-random (incompressible), the rest text. */
static void
fill_mixed(char *p, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i = 0, half = n / 2;
	for (; i < half; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (char)(x >> 24);
	}
	while (i < n) {
		char l[80];
		int k = snprintf(l, sizeof(l), "%06zu Lorem ipsum dolor sit "
		    "amet, consectetur adipiscing elit\r\n", i);
		for (int j = 0; j < k && i < n; j++)
			p[i++] = l[j];
	}
}

static void
sha256_hex(const void *p, size_t n, char *hex)
{
	unsigned char md[32];
	unsigned len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Writes total bytes of fill_mixed() to c, in small buffered writes and
 * big unbuffered ones; want gets the line a "sha" peer answers for them.
 * Returns how many were written (fewer: err says why). */
static size_t
send_mixed(struct conn *c, size_t total, char *want, size_t wantlen,
    struct err *err)
{
	size_t done = 0, step = 1;
	char *data = xmalloc(total), hex[65];

	fill_mixed(data, total);
	sha256_hex(data, total, hex);
	snprintf(want, wantlen, "%zu %s\r\n", total, hex);
	while (done < total) {
		size_t n = step < total - done ? step : total - done;
		if (conn_write(c, data + done, n, err) < 0)
			break;
		done += n;
		step = step >= (1u << 20) ? 3 : step * 7;
	}
	free(data);
	return done;
}

/* Sends 4 MiB of fill_mixed() to zpeer_tcp("sha"), compressed, and
 * checks the digest it answers; the wire size in *wout. false with err
 * on failure. */
static bool
tcp_sha_send(unsigned long long *wout, struct err *err)
{
	struct buf line = BUF_INIT(1000);
	size_t total = 4u << 20;
	char want[100];
	struct conn *c = zpeer_tcp("sha 4194304", err);
	bool ok = false;

	*wout = 0;
	if (c != NULL && send_mixed(c, total, want, sizeof(want), err) ==
	    total && conn_read_line(c, &line, 1000, err) == 1) {
		unsigned long long rout;
		conn_deflate_stats(c, NULL, NULL, &rout, wout);
		ok = strcmp(line.data, want) == 0 && rout == total;
		if (!ok)
			err_set(err, ERR_PROTO, "peer said %s", line.data);
	}
	conn_free(&c);
	buf_free(&line);
	return ok;
}

/* The same in a child of its own network namespace whose loopback is a
 * link of 100 Mbit/s (tc's token bucket): there, compressed. Skipped
 * where the namespace or the link cannot be made (not root, no tc). */
static void
slow_link_test(void)
{
	static const char setup[] = "PATH=$PATH:/usr/sbin:/sbin; "
	    "ip link set lo mtu 1500 up && tc qdisc add dev lo root tbf "
	    "rate 100mbit burst 256kb latency 50ms";
	int st = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		struct err err = {0};
		unsigned long long wout;
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		/* (tc's words on a failure are not the test's) */
		if (unshare(CLONE_NEWNET) != 0 || null < 0)
			_exit(77);
		dup2(null, 2);
		if (system(setup) != 0)
			_exit(77);
		if (!tcp_sha_send(&wout, &err)) {
			printf("# %s\n", err.msg);
			fflush(stdout);
			_exit(1);
		}
		if (wout >= (4u << 20) / 8 * 5) {
			printf("# wire out %llu\n", wout);
			fflush(stdout);
			_exit(1);
		}
		_exit(0);
	}
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("skip deflate: 4 MiB out over a link of 100 Mbit/s: "
		    "no network namespace with tc here\n");
		return;
	}
	test_begin("deflate: 4 MiB out over a link of 100 Mbit/s");
	test_assert(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	test_end();
}

static void
test_deflate(void)
{
	struct err err = {0};
	struct buf line = BUF_INIT(1 << 16);
	unsigned long long rin, win, rout, wout;
	struct conn *c;
	size_t ahead = 0;
	FILE *f;

	if (!run("python3 -c 'import zlib' 2>/dev/null")) {
		printf("skip COMPRESS=DEFLATE: no python3 with zlib\n");
		return;
	}
	zpeer_path = path_in_tmp("zpeer.py");
	if ((f = fopen(zpeer_path, "w")) != NULL) {
		fputs(zpeer_py, f);
		fclose(f);
	}

	test_begin("deflate: own stream echoed by cat");
	c = conn_spawn("cat", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		struct tls_opts o = {.verify = false};
		test_assert(!conn_is_deflate(c));
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(rin == 0 && win == 0 && rout == 0 && wout == 0);
		test_assert(conn_start_deflate(c, &err) == 0);
		test_assert(conn_is_deflate(c));
		test_assert(conn_start_deflate(c, &err) == -1);
		test_assert(err.kind == ERR_INTERNAL);
		test_assert(conn_start_tls(c, "localhost", &o, &err) == -1);
		test_assert_contains(err.msg, "TLS after COMPRESS");
	}
	conn_free(&c);
	c = conn_spawn("cat", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_start_deflate(c, &err) == 0);
		test_assert(conn_writes(c, "a1 NOOP\r\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "a1 NOOP\r\n");
		test_assert(echo_roundtrip(c, 1 << 20, 32768, &err));
		test_assert(!conn_readable(c));
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(rout == (1 << 20) + 9 && rin == rout);
		test_assert(wout > 0 && win == wout);
		if (test_cur_failed)
			fprintf(stderr, "# %s\n", err.msg);
	}
	conn_free(&c);
	test_end();

	test_begin("traffic: counted above TLS, before and after COMPRESS");
	c = conn_spawn("cat", false, 5000, &err);
	test_assert(c != NULL);
	if (c) {
		unsigned long long in, out, win2, wout2;
		conn_traffic(c, &in, &out, &win2, &wout2);
		test_assert(in == 0 && out == 0 && win2 == 0 && wout2 == 0);
		test_assert(conn_writes(c, "a1 NOOP\r\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		conn_traffic(c, &in, &out, &win2, &wout2);
		test_assert(in == 9 && out == 9 && win2 == 9 && wout2 == 9);
		test_assert(conn_start_deflate(c, &err) == 0);
		test_assert(echo_roundtrip(c, 1 << 16, 4096, &err));
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		conn_traffic(c, &in, &out, &win2, &wout2);
		test_assert(out == 9 + rout && in == 9 + rin);
		test_assert(wout2 == 9 + wout && win2 == 9 + win);
		test_assert(in == out && wout2 < out);
	}
	conn_free(&c);
	test_end();

	test_begin("deflate: zlib peer, one sync flush per command");
	c = zpeer("echo", &ahead, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		test_assert(ahead == 0);
		test_assert(!conn_readable(c));
		test_assert(conn_writes(c, "a2 NOOP\r\n", &err) == 0);
		test_assert(conn_flush(c, &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "a2 NOOP\r\n");
		/* Unflushed: waiting for the answer must flush it. */
		test_assert(conn_writes(c, "a3 NOOP\r\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "a3 NOOP\r\n");
		test_assert(echo_roundtrip(c, 1 << 20, 40000, &err));
		test_assert(!conn_readable(c));
		if (test_cur_failed)
			fprintf(stderr, "# %s\n", err.msg);
	}
	conn_free(&c);
	test_end();

	test_begin("deflate: compressed bytes read along with the OK");
	c = zpeer("ahead", &ahead, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		/* One write on a socketpair: one read gets it all. */
		test_assert(ahead > 0);
		test_assert(conn_readable(c));
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "* already compressed\r\n");
		test_assert(!conn_readable(c));
		test_assert(conn_writes(c, "a4 NOOP\r\n", &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "a4 NOOP\r\n");
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(win > ahead && rin == 22 + 9);
	}
	conn_free(&c);
	test_end();

	test_begin("deflate: 4 MiB out in mixed write sizes");
	c = zpeer("sha 4194304", NULL, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		size_t total = 4u << 20;
		char want[100];
		test_assert(send_mixed(c, total, want, sizeof(want), &err) ==
		    total);
		test_assert(conn_read_line(c, &line, 1000, &err) == 1);
		test_assert_str(line.data, want);
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(rout == total);
		/* Random half as is, text half much smaller. */
		test_assert(wout > total / 2 && wout < total / 2 + total / 8);
		if (test_cur_failed)
			fprintf(stderr, "# %s (wire out %llu)\n", err.msg,
			    wout);
	}
	conn_free(&c);
	test_end();

	/* Over loopback TCP the link keeps up: stored blocks, most of them
	 * (the first segment and those the socket held back compressed; all
	 * compressed, the text half makes it under 5/8 of the size, as
	 * above). Behind a link of 100 Mbit/s (a network namespace of its
	 * own, where the test may make one): compressed. */
	test_begin("deflate: 4 MiB out over TCP, the link keeping up");
	test_assert_str(tcp_sha_send(&wout, &err) ? NULL : err.msg, NULL);
	test_assert(wout > (4u << 20) / 8 * 5);
	if (test_cur_failed)
		fprintf(stderr, "# wire out %llu\n", wout);
	test_end();
	slow_link_test();

	test_begin("deflate: 4 MiB in, split writes, odd read sizes");
	c = zpeer("gen 4194304", NULL, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		static const size_t sizes[] = {1, 7, 4093, 65537, 3, 100000,
		    12345, 2};
		size_t total = 0, got = 0, hdr, i = 0;
		char hex[65] = "", want[65] = "";
		char *data = NULL;
		test_assert(conn_read_line(c, &line, 1000, &err) == 1);
		hdr = line.len;
		test_assert(line.data &&
		    sscanf(line.data, "%zu %64s", &total, want) == 2);
		test_assert(total == 4u << 20);
		data = xmalloc(total + 1);
		while (got < total) {
			size_t n = sizes[i++ % ARRAY_LEN(sizes)], avail;
			ssize_t r;
			if (n > total - got)
				n = total - got;
			/* Alternately copying reads and peek/consume. */
			if (i % 2 == 0) {
				const char *p;
				if ((r = conn_fill(c, &err)) <= 0)
					break;
				p = conn_peek(c, &avail);
				if (n > avail)
					n = avail;
				memcpy(data + got, p, n);
				conn_consume(c, n);
				got += n;
				continue;
			}
			if ((r = conn_read(c, data + got, n, &err)) <= 0)
				break;
			got += (size_t)r;
		}
		test_assert(got == total);
		sha256_hex(data, got, hex);
		test_assert_str(hex, want);
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(rin == hdr + total);
		test_assert(win > total / 2 && win < total / 2 + total / 8);
		if (test_cur_failed)
			fprintf(stderr, "# %s (got %zu)\n", err.msg, got);
		free(data);
	}
	conn_free(&c);
	test_end();

	test_begin("deflate: corrupt input is ERR_PROTO");
	c = zpeer("corrupt", NULL, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		/* What decoded before the garbage still arrives. */
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "* fine\r\n");
		test_assert(conn_read_line(c, &line, 100, &err) == -1);
		test_assert(err.kind == ERR_PROTO);
		test_assert_str(err.msg, "COMPRESS: corrupt data from tunnel: "
		    "inflate error: invalid block type");
		/* It stays failed, and says so at once. */
		test_assert(conn_readable(c));
		err_clear(&err);
		test_assert(conn_fill(c, &err) == -1);
		test_assert(err.kind == ERR_PROTO);
	}
	conn_free(&c);
	c = zpeer("trailing", NULL, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "* last\r\n");
		test_assert(conn_fill(c, &err) == -1);
		test_assert(err.kind == ERR_PROTO);
		test_assert_contains(err.msg, "after the end of the compressed");
	}
	conn_free(&c);
	c = zpeer("finish", NULL, &err);
	test_assert_str(c ? NULL : err.msg, NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert_str(line.data, "* last\r\n");
		test_assert(conn_read_line(c, &line, 100, &err) == 0);
	}
	conn_free(&c);
	/* Not deflate at all: a clear-text answer after the OK. */
	c = conn_spawn("printf 'a OK\\r\\n* BYE not compressed\\r\\n'", false,
	    5000, &err);
	test_assert(c != NULL);
	if (c) {
		test_assert(conn_read_line(c, &line, 100, &err) == 1);
		test_assert(conn_start_deflate(c, &err) == 0);
		test_assert(conn_read_line(c, &line, 100, &err) == -1);
		test_assert(err.kind == ERR_PROTO);
		test_assert_contains(err.msg, "COMPRESS: corrupt data from "
		    "tunnel: inflate error");
	}
	conn_free(&c);
	test_end();
	free(zpeer_path);
	buf_free(&line);
}

static int
sockopt(struct conn *c, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	return getsockopt(conn_fd(c), level, opt, &v, &len) == 0 ? v : -1;
}

static void
test_sockets(void)
{
	struct err err = {0};
	struct buf line = BUF_INIT(1000);
	struct conn *c;
	char port[16], want[128];
	int p, lfd;
	uint64_t t0, dt;

	test_begin("connect refused");
	lfd = listen_on(AF_INET, &p);
	test_assert(lfd >= 0);
	close(lfd);
	snprintf(port, sizeof(port), "%d", p);
	c = conn_connect_tcp("127.0.0.1", port, 2000, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_TEMP);
	snprintf(want, sizeof(want),
	    "connect to 127.0.0.1:%d: Connection refused", p);
	test_assert_str(err.msg, want);
	c = conn_connect_tcp("[no-such-ip]", port, 2000, &err);
	test_assert(c == NULL);
	test_assert(err.kind == ERR_CONFIG);
	test_end();

	test_begin("read timeout from a silent server");
	lfd = listen_on(AF_INET, &p);
	test_assert(lfd >= 0);
	snprintf(port, sizeof(port), "%d", p);
	c = conn_connect_tcp("[127.0.0.1]", port, 300, &err);
	test_assert(c != NULL);
	if (c) {
		int fl = fcntl(conn_fd(c), F_GETFD);
		snprintf(want, sizeof(want), "127.0.0.1:%d", p);
		test_assert_str(conn_name(c), want);
		test_assert(fl >= 0 && (fl & FD_CLOEXEC));
		test_assert(sockopt(c, IPPROTO_TCP, TCP_NODELAY) == 1);
		test_assert(sockopt(c, SOL_SOCKET, SO_KEEPALIVE) == 0);
		conn_set_keepalive(c);
		test_assert(sockopt(c, SOL_SOCKET, SO_KEEPALIVE) == 1);
		test_assert(sockopt(c, IPPROTO_TCP, TCP_KEEPIDLE) == 60);
		test_assert(sockopt(c, IPPROTO_TCP, TCP_KEEPINTVL) == 15);
		test_assert(sockopt(c, IPPROTO_TCP, TCP_KEEPCNT) == 4);
		t0 = now_ms();
		test_assert(conn_fill(c, &err) == -1);
		dt = now_ms() - t0;
		test_assert(err.kind == ERR_TEMP);
		snprintf(want, sizeof(want),
		    "timeout reading from 127.0.0.1:%d after 0.3 s", p);
		test_assert_str(err.msg, want);
		test_assert(dt >= 290 && dt < 2000);
	}
	conn_free(&c);
	close(lfd);
	test_end();

	lfd = listen_on(AF_INET6, &p);
	if (lfd < 0) {
		printf("skip IPv6 literal [::1]: no IPv6 loopback\n");
	} else {
		test_begin("IPv6 literal [::1]");
		snprintf(port, sizeof(port), "%d", p);
		c = conn_connect_tcp("[::1]", port, 2000, &err);
		test_assert(c != NULL);
		if (c) {
			int s = accept(lfd, NULL, NULL);
			snprintf(want, sizeof(want), "[::1]:%d", p);
			test_assert_str(conn_name(c), want);
			test_assert(s >= 0 && write(s, "hi\r\n", 4) == 4);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, "hi\r\n");
			if (s >= 0)
				close(s);
		}
		conn_free(&c);
		close(lfd);
		test_end();
	}

	test_begin("unix socket");
	{
		char *path = path_in_tmp("sock");
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		char b[16] = "";
		int s = -1;
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		test_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0 && listen(lfd, 1) == 0);
		c = conn_connect_unix(path, 2000, &err);
		test_assert(c != NULL);
		if (c) {
			snprintf(want, sizeof(want), "unix:%s", path);
			test_assert_str(conn_name(c), want);
			s = accept(lfd, NULL, NULL);
			test_assert(s >= 0 && write(s, "* OK\r\n", 6) == 6);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, "* OK\r\n");
			test_assert(conn_writes(c, "bye\n", &err) == 0);
			test_assert(conn_flush(c, &err) == 0);
			test_assert(s >= 0 && read(s, b, sizeof(b) - 1) == 4);
			test_assert_str(b, "bye\n");
			if (s >= 0)
				close(s);
			/* Peer closed: EOF, not an error. */
			test_assert(conn_fill(c, &err) == 0);
		}
		conn_free(&c);
		close(lfd);
		unlink(path);
		c = conn_connect_unix(path, 2000, &err);
		test_assert(c == NULL);
		test_assert(err.kind == ERR_TEMP);
		test_assert_contains(err.msg, "No such file or directory");
		test_assert_contains(err.msg, path);
		free(path);
	}
	test_end();
	buf_free(&line);
}

/* Connects to 127.0.0.1:port and starts TLS for host; returns the
 * greeting line in line. */
static struct conn *
tls_connect(int port, const char *host, const struct tls_opts *o,
    struct buf *line, struct err *err)
{
	char ps[16];
	struct conn *c;
	snprintf(ps, sizeof(ps), "%d", port);
	c = conn_connect_tcp("127.0.0.1", ps, 5000, err);
	if (c == NULL)
		return NULL;
	if (conn_start_tls(c, host, o, err) < 0 ||
	    conn_read_line(c, line, 1000, err) != 1) {
		conn_free(&c);
		return NULL;
	}
	return c;
}

/* The greeting after a TLS connection, or the error message. */
static const char *
greeting(int port, const char *host, const struct tls_opts *o)
{
	static char r[sizeof(((struct err *)NULL)->msg)];
	struct err err = {0};
	struct buf line = BUF_INIT(1000);
	struct conn *c = tls_connect(port, host, o, &line, &err);
	snprintf(r, sizeof(r), "%s", c ? line.data : err.msg);
	conn_free(&c);
	buf_free(&line);
	return r;
}

#define GREET(sni, v) "* OK sni=" sni " v=TLSv1." v "\r\n"

static void
test_tls(void)
{
	struct err err = {0};
	struct buf line = BUF_INIT(1000);
	struct tls_opts o;
	struct conn *c;
	char *s;
	int port, port12, portst;
	bool ready;

	if (!run("command -v openssl >/dev/null")) {
		printf("skip TLS: no openssl command\n");
		return;
	}
	ready = make_certs();
	test_begin("TLS test setup (openssl CLI, servers)");
	test_assert(ready);
	port = ready ? start_tls_server(0, false) : -1;
	port12 = ready ? start_tls_server(TLS1_2_VERSION, false) : -1;
	portst = ready ? start_tls_server(0, true) : -1;
	test_assert(port > 0 && port12 > 0 && portst > 0);
	test_end();
	if (port <= 0 || port12 <= 0 || portst <= 0) {
		buf_free(&line);
		return;
	}

	test_begin("TLS verify with SSL_CAfile");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem};
	c = tls_connect(port, "localhost", &o, &line, &err);
	test_assert_str(c ? line.data : err.msg, GREET("localhost", "3"));
	if (c) {
		test_assert(conn_is_tls(c));
		test_assert(echo_roundtrip(c, 1 << 20, 40000, &err));
		test_assert(!conn_readable(c));
	}
	conn_free(&c);
	/* IP literals: checked against the SAN, and no SNI. */
	test_assert_str(greeting(port, "127.0.0.1", &o), GREET("-", "3"));
	test_assert_str(greeting(port, "[127.0.0.1]", &o), GREET("-", "3"));
	test_end();

	test_begin("TLS verify without the CA is refused");
	o = (struct tls_opts){.verify = true};
	c = tls_connect(port, "localhost", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c); /* a wrong success must not block the server */
	test_assert(err.kind == ERR_REFUSED);
	test_assert_contains(err.msg, "TLS handshake with 127.0.0.1:");
	test_assert_contains(err.msg, "certificate verify failed: unable to "
	    "get local issuer certificate (use SSL_CAfile or SSL_fingerprint)");
	test_end();

	test_begin("TLS wrong host name is refused");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem};
	c = tls_connect(port, "other.example", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c);
	test_assert(err.kind == ERR_REFUSED);
	test_assert_contains(err.msg,
	    "certificate verify failed: hostname mismatch");
	c = tls_connect(port, "127.0.0.2", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c);
	test_assert_contains(err.msg, "IP address mismatch");
	test_end();

	test_begin("TLS verify off");
	o = (struct tls_opts){.verify = false};
	test_assert_str(greeting(port, "other.example", &o),
	    GREET("other.example", "3"));
	test_end();

	test_begin("TLS SSL_hostname sets or disables SNI");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .hostname = "sni.example"};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("sni.example", "3"));
	o.hostname = "";
	test_assert_str(greeting(port, "localhost", &o), GREET("-", "3"));
	test_end();

	test_begin("TLS fingerprint matches");
	o = (struct tls_opts){.verify = false, .fingerprints = fp_sha256};
	test_assert_str(greeting(port, "whatever", &o), GREET("whatever", "3"));
	s = xasprintf("sha256$%s", fp_sha256);
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .fingerprints = s};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "3"));
	free(s);
	/* Any listed digest may match, with any algorithm. */
	s = xasprintf(" sha256$%064d\tsha1$%s ", 0, fp_sha1);
	o = (struct tls_opts){.verify = false, .fingerprints = s};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "3"));
	free(s);
	test_end();

	test_begin("TLS fingerprint mismatch is refused");
	s = xasprintf("%064d", 0);
	o = (struct tls_opts){.verify = false, .fingerprints = s};
	c = tls_connect(port, "localhost", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c);
	test_assert(err.kind == ERR_REFUSED);
	test_assert_contains(err.msg, fp_sha256);
	test_assert_contains(err.msg, "does not match SSL_fingerprint");
	free(s);
	/* A right fingerprint does not excuse an unverifiable chain. */
	o = (struct tls_opts){.verify = true, .fingerprints = fp_sha256};
	c = tls_connect(port, "localhost", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c);
	test_assert(err.kind == ERR_REFUSED);
	test_assert_contains(err.msg, "certificate verify failed");
	test_end();

	test_begin("TLS protocol versions");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .protocol_max = "TLSv1.2"};
	c = tls_connect(port, "localhost", &o, &line, &err);
	test_assert_str(c ? line.data : err.msg, GREET("localhost", "2"));
	if (c)
		test_assert(echo_roundtrip(c, 256 << 10, 20000, &err));
	conn_free(&c);
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .protocols = "!SSLv3 !TLSv1 !TLSv1.3"};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "2"));
	o.protocols = "TLSv1.2";
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "2"));
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .protocol_min = "TLSv1.3"};
	c = tls_connect(port12, "localhost", &o, &line, &err);
	test_assert(c == NULL);
	conn_free(&c);
	test_assert(err.kind == ERR_TEMP);
	test_assert_contains(err.msg, "TLS handshake with 127.0.0.1:");
	test_assert_contains(err.msg, "protocol version");
	o.protocol_min = "TLSv1.2";
	test_assert_str(greeting(port12, "localhost", &o),
	    GREET("localhost", "2"));
	test_end();

	test_begin("TLS cipher options");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .protocol_max = "TLSv1.2",
	    .cipherlist = "ECDHE-ECDSA-AES128-GCM-SHA256"};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "2"));
	o = (struct tls_opts){.verify = true, .cafile = ca_pem,
	    .ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"};
	test_assert_str(greeting(port, "localhost", &o),
	    GREET("localhost", "3"));
	test_end();

	test_begin("STARTTLS upgrade of a clear-text stream");
	{
		char ps[16];
		snprintf(ps, sizeof(ps), "%d", portst);
		o = (struct tls_opts){.verify = true, .cafile = ca_pem};
		c = conn_connect_tcp("127.0.0.1", ps, 5000, &err);
		test_assert(c != NULL);
		if (c) {
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, "* OK plain\r\n");
			/* Left queued: reading must send it first. */
			test_assert(conn_writes(c, "a STARTTLS\r\n",
			    &err) == 0);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, "a OK go\r\n");
			test_assert(conn_start_tls(c, "localhost", &o,
			    &err) == 0);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, GREET("localhost", "3"));
			test_assert(conn_writes(c, "b NOOP\r\n", &err) == 0);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			test_assert_str(line.data, "b NOOP\r\n");
		}
		conn_free(&c);
	}
	test_end();

	test_begin("STARTTLS refuses clear text read ahead");
	{
		char ps[16];
		int lfd = listen_on(AF_INET, &port), s2 = -1;
		snprintf(ps, sizeof(ps), "%d", port);
		c = NULL;
		if (lfd >= 0)
			c = conn_connect_tcp("127.0.0.1", ps, 2000, &err);
		test_assert(c != NULL);
		if (c) {
			s2 = accept(lfd, NULL, NULL);
			test_assert(s2 >= 0 &&
			    write(s2, "a OK go\r\n* injected\r\n", 21) == 21);
			test_assert(conn_read_line(c, &line, 100, &err) == 1);
			/* Both lines normally arrive in one read. */
			if (conn_readable(c)) {
				test_assert(conn_start_tls(c, "localhost", &o,
				    &err) == -1);
				test_assert(err.kind == ERR_PROTO);
				test_assert_contains(err.msg,
				    "sent data before the TLS handshake");
			}
		}
		conn_free(&c);
		if (s2 >= 0)
			close(s2);
		if (lfd >= 0)
			close(lfd);
	}
	test_end();

	/* The echo server sends our own compressed stream back: it decodes
	 * only if compression sits inside TLS (data -> deflate -> TLS). */
	test_begin("TLS then DEFLATE");
	o = (struct tls_opts){.verify = true, .cafile = ca_pem};
	c = tls_connect(port12, "localhost", &o, &line, &err);
	test_assert_str(c ? line.data : err.msg, GREET("localhost", "2"));
	if (c) {
		unsigned long long rin, win, rout, wout;
		test_assert(conn_start_deflate(c, &err) == 0);
		test_assert(conn_is_tls(c) && conn_is_deflate(c));
		test_assert(echo_roundtrip(c, 1 << 20, 32768, &err));
		test_assert(!conn_readable(c));
		conn_deflate_stats(c, &rin, &win, &rout, &wout);
		test_assert(rout == 1 << 20 && rin == rout);
		test_assert(wout > 0 && win == wout);
		if (test_cur_failed)
			fprintf(stderr, "# %s\n", err.msg);
	}
	conn_free(&c);
	test_end();
	buf_free(&line);
}

static void
test_opts_check(void)
{
	struct err err = {0};
	struct tls_opts o;
	static const struct {
		struct tls_opts o;
		const char *msg; /* NULL = valid */
	} cases[] = {
		{{.verify = true}, NULL},
		{{.protocol_min = "TLSv1.2", .protocol_max = "TLSv1.3"}, NULL},
		{{.protocol_min = "TLSv9"},
		    "SSL_protocol_min: unknown protocol TLSv9"},
		{{.protocol_max = "tls1.2"},
		    "SSL_protocol_max: unknown protocol tls1.2"},
		{{.protocol_min = "TLSv1.3", .protocol_max = "TLSv1.2"},
		    "SSL_protocol_min TLSv1.3 is above "
		    "SSL_protocol_max TLSv1.2"},
		{{.protocols = "!SSLv2 !SSLv3  TLSv1.0 TLSv1.2"}, NULL},
		{{.protocols = "!TLSv1 TLSv4"},
		    "SSL_protocols: unknown protocol TLSv4"},
		{{.fingerprints = "sha1$01:23:45:67:89:ab:cd:ef:01:23"
		    ":45:67:89:AB:CD:EF:01:23:45:67"}, NULL},
		{{.fingerprints = "SHA512$"
		    "00000000000000000000000000000000"
		    "00000000000000000000000000000000"
		    "00000000000000000000000000000000"
		    "00000000000000000000000000000000"}, NULL},
		{{.fingerprints = "xyz"},
		    "SSL_fingerprint: bad hex digest in xyz"},
		{{.fingerprints = "md99$abcd"},
		    "SSL_fingerprint: unknown digest md99"},
		{{.fingerprints = "abcd"}, "SSL_fingerprint: a sha256 digest "
		    "has 64 hex digits, not 4 in abcd"},
		{{.fingerprints = "$abcd"},
		    "SSL_fingerprint: bad algorithm in $abcd"},
		{{.fingerprints = " "}, "SSL_fingerprint: empty"},
		{{.cipherlist = "NOPE"},
		    "SSL_cipherlist: no usable cipher in \"NOPE\""},
		{{.ciphersuites = "TLS_NOPE"},
		    "SSL_ciphersuites: no usable cipher in \"TLS_NOPE\""},
		{{.ciphersuites = ""}, NULL},
	};

	test_begin("conn_tls_opts_check");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int r;
		o = cases[i].o;
		err_clear(&err);
		r = conn_tls_opts_check(&o, &err);
		if (cases[i].msg == NULL) {
			test_assert_str(r == 0 ? NULL : err.msg, NULL);
		} else {
			test_assert(r == -1 && err.kind == ERR_CONFIG);
			test_assert_str(err.msg, cases[i].msg);
		}
	}
	test_end();
}

/* A peer that trickles: each wait is well within the timeout, only the
 * budget over the whole exchange ends it (conn_budget_start()). */
static void
test_budget(void)
{
	static const char trickle[] = "while :; do printf x; sleep 0.1; done";
	struct err err = {0};
	struct buf line = BUF_INIT(1 << 20);
	struct conn *c;
	uint64_t t0;
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	test_begin("budget: a trickling peer is too slow");
	c = conn_spawn(trickle, false, 500, &err);
	test_assert(c != NULL);
	if (c) {
		conn_budget_start(c);
		t0 = now_ms();
		test_assert(conn_read_line(c, &line, 1000, &err) < 0);
		test_assert(err.kind == ERR_TEMP);
		test_assert(strstr(err.msg, "tunnel: too slow: ") == err.msg);
		test_assert(now_ms() - t0 >= 450 && now_ms() - t0 < 1500);
		conn_budget_stop(c);
	}
	conn_free(&c);
	test_end();

	test_begin("budget: without one, the same peer is only bounded per wait");
	c = conn_spawn(trickle, false, 500, &err);
	test_assert(c != NULL);
	if (c) {
		/* 12 bytes at 10 a second: longer than the budget above. */
		test_assert(conn_read_line(c, &line, 12, &err) < 0);
		test_assert(strstr(err.msg, "longer than 12 bytes") != NULL);
	}
	conn_free(&c);
	test_end();

	/* 20 KB in a second: twice the timeout, well above 1 KiB/s. */
	test_begin("budget: a steady stream earns its time");
	c = conn_spawn("for i in 0 1 2 3 4 5 6 7 8 9; do head -c 2000 /dev/zero;"
	    " sleep 0.1; done", false, 500, &err);
	test_assert(c != NULL);
	if (c) {
		conn_budget_start(c);
		while ((n = conn_read(c, buf, sizeof(buf), &err)) > 0)
			total += (size_t)n;
		test_assert(n == 0);
		test_assert(total == 20000);
		conn_budget_stop(c);
	}
	conn_free(&c);
	test_end();
	buf_free(&line);
}

int
main(void)
{
	if (getenv("TEST_DEBUG"))
		log_debug_level = 1;
	/* Every wait is bounded; this only catches a bug that hangs. */
	signal(SIGALRM, on_alarm);
	alarm(120);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	have_tmpdir = true;
	atexit(cleanup);

	test_tunnels();
	test_budget();
	test_deflate();
	test_sockets();
	test_opts_check();
	test_tls();

	cleanup();
	free(ca_pem);
	free(srv_pem);
	free(srv_key);
	free(fp_sha256);
	free(fp_sha1);
	return test_exit();
}
