#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_cmd.h"
#include "imap_trace.h"
#include "imapc.h"
#include "log.h"

#include "imapc_int.h"

/* The engine's --debug trace (enum imapc_trace_style): PARSED lines are
 * written where the engine has a command or a response in hand; WIRE
 * lines come out of the two splitters (imap_trace.h) fed with the bytes
 * as they go out and come in. */

static bool
wire(const struct imapc *c)
{
	return c->trace == IMAPC_TRACE_WIRE && log_debug_level > 0;
}

/* The prefix of what goes out: the command's own, if it has one. */
static const char *
out_prefix(const struct imapc *c)
{
	return c->out_prefix ? c->out_prefix : c->log_prefix;
}

static void
sent_line(void *ctx, const char *line, size_t len)
{
	struct imapc *c = ctx;
	if (c->hush[0] == '\0')
		log_trace_at(out_prefix(c), "C", line, len);
}

/* While a login is hidden, only its tagged OK shows, its tag masked: the
 * reference shows the login's IMAP_text, which is an OK since anything
 * else ends its program. */
static void
received_line(void *ctx, const char *line, size_t len)
{
	struct imapc *c = ctx;
	size_t t = strlen(c->hush);
	char *masked;

	if (t == 0) {
		log_trace_at(c->log_prefix, "S", line, len);
		return;
	}
	if (len <= t || memcmp(line, c->hush, t) != 0 || line[t] != ' ')
		return;
	c->hush[0] = '\0';
	if (len < t + 3 || memcmp(line + t + 1, "OK", 2) != 0 ||
	    (len > t + 3 && line[t + 3] != ' '))
		return;
	masked = xmalloc(len - t + 4);
	memcpy(masked, "xxx", 3);
	memcpy(masked + 3, line + t, len - t);
	log_trace_at(c->log_prefix, "S", masked, len - t + 3);
	free(masked);
}

void
imapc_trace_init(struct imapc *c)
{
	imap_trace_wire_init(&c->tr_out, sent_line, c);
	imap_trace_wire_init(&c->tr_in, received_line, c);
}

void
imapc_trace_free(struct imapc *c)
{
	imap_trace_wire_free(&c->tr_out);
	imap_trace_wire_free(&c->tr_in);
}

/* "LOGIN" or "AUTHENTICATE MECH", what the reference shows of a login;
 * false for other commands. */
static bool
login_words(const struct cmd *q, char *buf, size_t size)
{
	const char *verb = imap_cmd_verb(q->cmd);
	bool auth = strcmp(verb, "AUTHENTICATE") == 0;
	char *t, *sp;

	if (!auth && strcmp(verb, "LOGIN") != 0)
		return false;
	/* The redacted rendering: the secret never gets here. */
	t = imap_cmd_trace(q->cmd, false);
	sp = strchr(t, ' ');
	if (auth && sp != NULL)
		sp = strchr(sp + 1, ' ');
	if (sp != NULL)
		*sp = '\0';
	snprintf(buf, size, "%s", t);
	free(t);
	return true;
}

void
imapc_trace_command(struct imapc *c, const struct cmd *q)
{
	char words[64];

	if (log_debug_level <= 0)
		return;
	/* The lines of q go out under its prefix, until another command
	 * starts (a copy: q may be gone before its last line is split). */
	free(c->out_prefix);
	c->out_prefix = q->trace_prefix ? xstrdup(q->trace_prefix) : NULL;
	if (c->trace == IMAPC_TRACE_PARSED) {
		char *t = imap_cmd_trace(q->cmd, log_debug_level > 1);
		log_at(LOG_DEBUG, out_prefix(c), "%s: C: %s %s", c->name,
		    q->tag, t);
		free(t);
	} else if (log_debug_level < 2 &&
	    login_words(q, words, sizeof(words))) {
		log_at(LOG_DEBUG, out_prefix(c), "C: xxx %s [REDACTED]", words);
		snprintf(c->hush, sizeof(c->hush), "%s", q->tag);
	}
}

void
imapc_trace_queued(struct imapc *c, const char *text, bool secret)
{
	if (c->trace == IMAPC_TRACE_PARSED && log_debug_level > 0)
		log_at(LOG_DEBUG, c->log_prefix, "%s: C: %s", c->name,
		    secret && log_debug_level < 2 ? "[REDACTED]" : text);
}

void
imapc_trace_sent(struct imapc *c, const char *data, size_t len, bool secret)
{
	if (!wire(c))
		return;
	/* A secret line outside a hidden login (none is sent so today)
	 * still shows as one. */
	if (!secret || log_debug_level > 1)
		imap_trace_wire_feed(&c->tr_out, data, len);
	else if (c->hush[0] == '\0')
		log_at(LOG_DEBUG, out_prefix(c), "C: [REDACTED]");
}

void
imapc_trace_received(struct imapc *c, const char *data, size_t len)
{
	if (wire(c))
		imap_trace_wire_feed(&c->tr_in, data, len);
}

void
imapc_trace_response(struct imapc *c, const struct imap_resp *r)
{
	char *t;

	if (c->trace != IMAPC_TRACE_PARSED || log_debug_level <= 0)
		return;
	t = imap_trace_format(r);
	log_at(LOG_DEBUG, c->log_prefix, "%s: S: %s", c->name, t);
	free(t);
}
