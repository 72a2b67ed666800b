#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "conn.h"
#include "conn_int.h"
#include "curl_lazy.h"
#include "log.h"

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
	char *h = conn_strip_brackets(host, &bracketed);
	char *hp = conn_host_port(h, port);
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

void
conn_proxy_free(struct conn *c)
{
	curl_easy_cleanup(c->curl);
	c->curl = NULL;
	c->fd = -1;
}
