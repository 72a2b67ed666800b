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
#include "spawn_cmd.h"

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

/* Longest first line accepted: OAuth tokens run to a few kilobytes. */
#define SECRET_MAX 65536
/* Between SIGTERM and SIGKILL: time for a helper to clean up. */
#define KILL_GRACE_MS 1000

int
sasl_password_command(const char *cmd, int timeout_ms, char **secret_r,
    struct err *err)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char *buf = xmalloc(SECRET_MAX + 1), junk[4096];
	size_t len = 0;
	bool line_done = false, too_long = false, timed_out = false;
	struct spawn_opts so = {"password-command", true, false, false, false};
	struct spawn child;
	int fd, st, rc = -1;

	*secret_r = NULL;
	/* stdin and stderr are inherited: a helper may prompt or complain
	 * on the terminal. */
	if (spawn_start(&child, cmd, &so, &fd, err) < 0) {
		err->kind = ERR_SYS;
		goto out;
	}
	/* Read to EOF so that the command is not cut short by SIGPIPE;
	 * only the first line is kept. */
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t now = now_ms();
		ssize_t r;
		int pr;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno != EINTR) {
			err_sys(err, ERR_SYS, "password-command: poll");
			close(fd);
			spawn_kill(&child, 0);
			goto out;
		}
		if (pr <= 0)
			continue;
		if (line_done || too_long)
			r = read(fd, junk, sizeof(junk));
		else
			r = read(fd, buf + len, SECRET_MAX - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
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
	close(fd);
	/* The same deadline for the exit: a helper that closed its output
	 * but runs on (a daemon it started in its group, a stray sleep)
	 * must not hold us either. */
	if (!timed_out) {
		uint64_t now = now_ms();
		timed_out = !spawn_wait(&child,
		    now >= deadline ? 0 : (int)(deadline - now));
	}
	if (timed_out) {
		spawn_kill(&child, KILL_GRACE_MS);
		err_set(err, ERR_AUTH, "password-command timed out after %g s "
		    "(killed)", timeout_ms / 1000.0);
		goto out;
	}
	st = child.status;
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
