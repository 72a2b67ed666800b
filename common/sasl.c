#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sasl.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
sasl_base64(const void *in_, size_t n)
{
	const unsigned char *in = in_;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int
b64val(unsigned char ch)
{
	const char *p = ch != '\0' ? strchr(b64chars, ch) : NULL;
	return p != NULL ? (int)(p - b64chars) : -1;
}

unsigned char *
sasl_base64_decode(const char *in, size_t *n_r)
{
	size_t len = strlen(in), i, n = 0;
	unsigned char *out;
	unsigned v = 0;
	int bits = 0;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (strlen(in) - len > 2 || len % 4 == 1)
		return NULL;
	out = xmalloc(len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		int d = b64val((unsigned char)in[i]);
		if (d < 0) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	out[n] = '\0';
	*n_r = n;
	return out;
}

/* Encodes the n bytes of raw, then wipes and frees raw (it holds the
 * secret in clear). */
static char *
encode_wipe(char *raw, size_t n)
{
	char *out = sasl_base64(raw, n);

	explicit_zero(raw, n);
	free(raw);
	return out;
}

char *
sasl_plain(const char *user, const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass);
	char *raw = xmalloc(ul + pl + 2);

	/* RFC 4616 §2: [authzid] NUL authcid NUL passwd */
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	return encode_wipe(raw, ul + pl + 2);
}

char *
sasl_xoauth2(const char *user, const char *token)
{
	char *raw = xasprintf("user=%s\001auth=Bearer %s\001\001", user, token);

	return encode_wipe(raw, strlen(raw));
}

char *
sasl_oauthbearer(const char *user, const char *host, const char *port,
    const char *token)
{
	size_t ul = strlen(user), i;
	char *name = xmalloc(3 * ul + 1), *q = name, *raw, *hp;

	/* RFC 7628 §3.1 uses the GS2 header of RFC 5801 §4, where saslname
	 * escapes ',' and '='. */
	for (i = 0; i < ul; i++) {
		if (user[i] == ',') {
			memcpy(q, "=2C", 3);
			q += 3;
		} else if (user[i] == '=') {
			memcpy(q, "=3D", 3);
			q += 3;
		} else {
			*q++ = user[i];
		}
	}
	*q = '\0';
	/* host and port are optional kvpairs (§3.1); a tunnel has none. */
	if (host != NULL && port != NULL)
		hp = xasprintf("host=%s\001port=%s\001", host, port);
	else if (host != NULL)
		hp = xasprintf("host=%s\001", host);
	else
		hp = xstrdup("");
	raw = xasprintf("n,a=%s,\001%sauth=Bearer %s\001\001", name, hp, token);
	free(name);
	free(hp);
	return encode_wipe(raw, strlen(raw));
}

void
sasl_json_status(const char *json, char *out, size_t size)
{
	const char *p = strstr(json, "\"status\"");
	size_t n = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (p == NULL)
		return;
	p += 8;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p++ != ':')
		return;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p++ != '"')
		return;
	/* Stop at the closing quote (escapes are not worth decoding here). */
	for (; *p != '\0' && *p != '"' && n + 1 < size; p++)
		if (*p >= 0x20 && *p < 0x7F && *p != '\\')
			out[n++] = *p;
	out[n] = '\0';
}

/* Reaps pid; *st is 0 when the status is lost (SIGCHLD ignored). */
static void
wait_child(pid_t pid, int *st)
{
	while (waitpid(pid, st, 0) < 0) {
		if (errno != EINTR) {
			*st = 0;
			return;
		}
	}
}

/* Longest first line accepted: OAuth tokens run to a few kilobytes. */
#define SECRET_MAX 65536

int
sasl_password_command(const char *cmd, int timeout_ms, char **secret_r,
    struct err *err)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char *buf = xmalloc(SECRET_MAX + 1), junk[4096];
	size_t len = 0;
	bool line_done = false, too_long = false, timed_out = false;
	bool failed = false;
	int p[2], st = 0, rc = -1;
	pid_t pid;

	*secret_r = NULL;
	if (pipe2(p, O_CLOEXEC) < 0) {
		err_sys(err, ERR_SYS, "password-command: pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err_sys(err, ERR_SYS, "password-command: fork");
		close(p[0]);
		close(p[1]);
		goto out;
	}
	if (pid == 0) {
		/* stdin and stderr are inherited: a helper may prompt or
		 * complain on the terminal. */
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(127);
		/* Not the IMAP socket or the state database. */
		closefrom(3);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* Read to EOF so that the command is not cut short by SIGPIPE;
	 * only the first line is kept. */
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		uint64_t now = now_ms();
		ssize_t r;
		int pr;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			err_sys(err, ERR_SYS, "password-command: poll");
			failed = true;
			kill(pid, SIGKILL);
			break;
		}
		if (pr == 0)
			continue;
		if (line_done || too_long)
			r = read(p[0], junk, sizeof(junk));
		else
			r = read(p[0], buf + len, SECRET_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (line_done || too_long)
			continue;
		{
			char *nl = memchr(buf + len, '\n', (size_t)r);
			len += (size_t)r;
			if (nl != NULL) {
				explicit_zero(nl, len - (size_t)(nl - buf));
				len = (size_t)(nl - buf);
				line_done = true;
			} else if (len == SECRET_MAX) {
				too_long = true;
			}
		}
	}
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	wait_child(pid, &st);
	if (failed)
		goto out;
	if (timed_out) {
		err_set(err, ERR_AUTH, "password-command timed out after %g s "
		    "(killed)", timeout_ms / 1000.0);
		goto out;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		err_set(err, ERR_AUTH, "password-command exited with status %d%s",
		    WEXITSTATUS(st), WEXITSTATUS(st) == 127 ?
		    " (command not found?)" : "");
		goto out;
	}
	if (WIFSIGNALED(st)) {
		err_set(err, ERR_AUTH, "password-command killed by signal %d",
		    WTERMSIG(st));
		goto out;
	}
	if (too_long) {
		err_set(err, ERR_AUTH, "password-command printed a line longer "
		    "than %d bytes", SECRET_MAX);
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	buf[len] = '\0';
	if (len == 0) {
		err_set(err, ERR_AUTH, "password-command printed nothing");
		goto out;
	}
	if (strlen(buf) != len) {
		err_set(err, ERR_AUTH, "password-command printed a NUL byte");
		goto out;
	}
	*secret_r = xstrndup(buf, len);
	rc = 0;
out:
	explicit_zero(buf, SECRET_MAX + 1);
	free(buf);
	return rc;
}
