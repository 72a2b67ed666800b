#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "deliver_p.h"

static int
bad_method(const char *method, const char *why, struct err *err)
{
	return err_set(err, ERR_CONFIG,
	    "deliver-method: invalid value '%s' (%s; expected "
	    "smtp:[ADDRESS]:PORT, lmtp:[ADDRESS]:PORT, smtp:/PATH or "
	    "lmtp:/PATH)", method, why);
}

int
deliver_parse_method(const char *method, struct deliver_target *t,
    struct err *err)
{
	struct sockaddr_un sun;
	unsigned char addr[sizeof(struct in6_addr)];
	const char *p, *close;
	uint32_t port;

	memset(t, 0, sizeof(*t));
	if (strncmp(method, "smtp:", 5) == 0)
		t->proto = DELIVER_SMTP;
	else if (strncmp(method, "lmtp:", 5) == 0)
		t->proto = DELIVER_LMTP;
	else
		return bad_method(method, "unknown protocol", err);
	p = method + 5;

	if (*p == '/') {
		if (strlen(p) >= sizeof(sun.sun_path))
			return bad_method(method, "socket path too long", err);
		t->path = xstrdup(p);
		return 0;
	}
	/* Like the reference: an IP literal in brackets, never a host name
	 * (no resolver surprises for a local delivery agent). */
	if (*p != '[' || (close = strchr(p, ']')) == NULL || close[1] != ':')
		return bad_method(method, "not [ADDRESS]:PORT or /PATH", err);
	t->host = xstrndup(p + 1, (size_t)(close - p - 1));
	if (inet_pton(AF_INET, t->host, addr) != 1 &&
	    inet_pton(AF_INET6, t->host, addr) != 1) {
		deliver_target_clear(t);
		return bad_method(method, "ADDRESS is not an IP literal", err);
	}
	if (parse_u32_str(close + 2, &port) < 0 || port == 0 || port > 65535 ||
	    close[2] == '+' || close[2] == '-') {
		deliver_target_clear(t);
		return bad_method(method, "bad PORT", err);
	}
	t->port = xasprintf("%u", port);
	return 0;
}

void
deliver_target_clear(struct deliver_target *t)
{
	free(t->host);
	free(t->port);
	free(t->path);
	t->host = t->port = t->path = NULL;
}

/* RFC 5321 §4.5.3.1.3 limits a path to 256 octets; be generous, but stay
 * well within one command line. */
#define MAX_ADDR 900

bool
deliver_safe_arg(const char *s)
{
	const char *start = s;

	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return s - start <= MAX_ADDR;
}

struct deliver *
deliver_new(const struct deliver_opts *opts, struct err *err)
{
	struct deliver *d;
	const char *ehlo = opts->ehlo ? opts->ehlo : "localhost.localdomain";

	if (opts->rcpt == NULL || !deliver_safe_arg(opts->rcpt)) {
		err_set(err, ERR_CONFIG, "deliver-rcpt: invalid value");
		return NULL;
	}
	if (*ehlo == '\0' || !deliver_safe_arg(ehlo) || strchr(ehlo, ' ')) {
		err_set(err, ERR_CONFIG, "EHLO/LHLO name: invalid value '%s'",
		    ehlo);
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	if (deliver_parse_method(opts->method, &d->target, err) < 0) {
		free(d);
		return NULL;
	}
	d->server = xasprintf("%s server %s%s%s%s%s",
	    d->target.proto == DELIVER_SMTP ? "SMTP" : "LMTP",
	    d->target.path ? d->target.path : "",
	    d->target.host && strchr(d->target.host, ':') ? "[" : "",
	    d->target.host ? d->target.host : "",
	    d->target.host && strchr(d->target.host, ':') ? "]:" :
	    d->target.host ? ":" : "", d->target.port ? d->target.port : "");
	d->ehlo = xstrdup(ehlo);
	d->rcpt = xstrdup(opts->rcpt);
	d->timeout_ms = opts->timeout_ms;
	return d;
}

int
deliver_message(struct deliver *d, const char *sender, uint64_t size,
    deliver_read_fn *rd, void *ctx, struct deliver_result *res,
    struct err *err)
{
	memset(res, 0, sizeof(*res));
	/* The sender comes from a message's envelope: a CR or LF in it would
	 * inject commands. That message cannot be delivered as is. */
	if (!deliver_safe_arg(sender)) {
		snprintf(res->reply, sizeof(res->reply), "sender address "
		    "contains control characters or is too long");
		return err_set(err, ERR_REFUSED, "%s: %s", d->server,
		    res->reply);
	}
	if (d->target.proto == DELIVER_SMTP)
		return smtp_deliver(d, sender, size, rd, ctx, res, err);
	return lmtp_deliver(d, sender, rd, ctx, res, err);
}

int
deliver_quit(struct deliver *d, struct err *err)
{
	if (d->target.proto == DELIVER_SMTP)
		return smtp_quit(d, err);
	return lmtp_quit(d, err);
}

void
deliver_free(struct deliver **dp)
{
	struct deliver *d = *dp;
	struct err ignored;

	if (d == NULL)
		return;
	deliver_quit(d, &ignored);
	deliver_target_clear(&d->target);
	free(d->server);
	free(d->ehlo);
	free(d->rcpt);
	free(d);
	*dp = NULL;
}

void
deliver_reply_reset(struct deliver_reply *r)
{
	r->code = 0;
	r->done = false;
	r->text[0] = '\0';
}

static void
append_text(struct deliver_reply *r, const char *s, size_t n)
{
	size_t len = strlen(r->text);

	for (; n > 0 && len + 1 < sizeof(r->text); s++, n--) {
		unsigned char c = (unsigned char)*s;
		r->text[len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	r->text[len] = '\0';
}

int
deliver_reply_add(struct deliver_reply *r, const char *line, size_t len)
{
	int code;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	/* Reply-line = Reply-code [ SP textstring ] CRLF, or "-" for all
	 * but the last line (RFC 5321 §4.2). */
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->done)
		deliver_reply_reset(r);
	if (r->code == 0) {
		r->code = code;
		append_text(r, line, 3);
	} else if (code != r->code) {
		return -1;
	}
	if (len > 4) {
		append_text(r, " ", 1);
		append_text(r, line + 4, len - 4);
	}
	r->done = len == 3 || line[3] == ' ';
	return r->done ? 1 : 0;
}

void
deliver_reply_result(const struct deliver_reply *r, struct deliver_result *res)
{
	res->code = r->code;
	snprintf(res->reply, sizeof(res->reply), "%s", r->text);
}

int
deliver_reply_err(const struct deliver *d, const struct deliver_reply *r,
    const char *what, struct err *err)
{
	enum err_kind kind = r->code >= 500 && r->code < 600 ? ERR_REFUSED :
	    ERR_TEMP;

	return err_set(err, kind, "%s: %s refused: %s", d->server, what,
	    r->text);
}
