#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "imap_auth.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "log.h"
#include "sasl.h"

/* How long password-command may run: enough for a helper that refreshes
 * an OAuth token over the network, bounded so that a hung helper does
 * not hang every run. A shorter network timeout bounds it too: whoever
 * wants quick failures from the server wants them from its helper. */
#define PASSWORD_COMMAND_TIMEOUT_MS 60000
/* LOGOUT at the end is a courtesy: never wait long for it. */
#define LOGOUT_TIMEOUT_MS 5000

void
imap_opts_init(struct imap_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->type = IMAP_TYPE_IMAPS;
	o->host = "localhost";
	o->port = "993";
	o->starttls = true;
	o->auth[0] = IMAP_AUTH_PLAIN;
	o->auth[1] = IMAP_AUTH_LOGIN;
	o->n_auth = 2;
	o->null_stderr = false;
	o->compress = true;
	o->tls.verify = true;
}

/* The session being opened. */
struct login {
	const struct imap_opts *o;
	struct imapc *c;
	int timeout_ms;
	/* the greeting */
	bool greeted, preauth, bye;
	bool not_imap;
	char greeting[256];
	/* AUTHENTICATE */
	enum imap_auth mech;
	const char *cred;     /* base64 initial response */
	bool cred_sent;
	char status[128];     /* RFC 7628 error status, if the server sent one */
	bool auth_done;
	struct err auth_err;
};

static void
on_greeting(void *ctx, const struct imap_resp *r)
{
	struct login *l = ctx;

	if (l->greeted)
		return;
	l->greeted = true;
	if (r->kind != IMAP_RESP_UNTAGGED || !r->status) {
		l->not_imap = true;
		return;
	}
	l->preauth = strcmp(r->status, "PREAUTH") == 0;
	l->bye = strcmp(r->status, "BYE") == 0;
	l->not_imap = !l->preauth && !l->bye && strcmp(r->status, "OK") != 0;
	snprintf(l->greeting, sizeof(l->greeting), "%s", r->text);
}

static int
simple(struct login *l, const char *verb, struct err *err)
{
	return imapc_run(l->c, imap_cmd_new(verb), NULL, l->timeout_ms, err);
}

/* The name after AUTHENTICATE (and in the AUTH= capability). */
static const char *
mech_name(enum imap_auth m)
{
	switch (m) {
	case IMAP_AUTH_PLAIN:
		return "PLAIN";
	case IMAP_AUTH_XOAUTH2:
		return "XOAUTH2";
	case IMAP_AUTH_OAUTHBEARER:
		return "OAUTHBEARER";
	case IMAP_AUTH_LOGIN:
		break;
	}
	return "LOGIN";
}

/* The initial response goes after the first "+" unless it went inline
 * (SASL-IR, RFC 4959 §3). Any later "+" is a challenge none of our
 * mechanisms expects but the failure report of RFC 7628 §3.2.2 (base64
 * JSON): it must be answered before the server sends its tagged NO, with
 * %x01 for OAUTHBEARER (§3.2.3), an empty line for XOAUTH2 (Google's
 * protocol), and "*" (cancel, RFC 3501 §6.2.2) otherwise. */
static int
auth_continue(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct login *l = ctx;
	size_t n;
	unsigned char *json;
	(void)err;

	if (!l->cred_sent) {
		l->cred_sent = true;
		imapc_send_line(l->c, l->cred, true);
		return 0;
	}
	json = r->text ? sasl_base64_decode(r->text, &n) : NULL;
	if (json != NULL)
		sasl_json_status((const char *)json, l->status,
		    sizeof(l->status));
	free(json);
	imapc_send_line(l->c, l->mech == IMAP_AUTH_OAUTHBEARER ? "AQ==" :
	    l->mech == IMAP_AUTH_XOAUTH2 ? "" : "*", false);
	return 0;
}

static void
auth_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct login *l = ctx;

	l->auth_done = true;
	if (!err)
		return;
	if (!tagged) {
		l->auth_err = *err;
		return;
	}
	err_set(&l->auth_err, ERR_AUTH,
	    "%s: authentication failed: %s %s%s%s%s%s%s%s", imapc_name(l->c),
	    tagged->status ? tagged->status : "?", tagged->code ? "[" : "",
	    tagged->code ? tagged->code : "", tagged->code ? "] " : "",
	    tagged->text, l->status[0] ? " (status " : "", l->status,
	    l->status[0] ? ")" : "");
}

static int
authenticate_sasl(struct login *l, const char *secret, struct err *err)
{
	const struct imap_opts *o = l->o;
	bool tunnel = o->type == IMAP_TYPE_TUNNEL;
	struct imapc_handlers h = {NULL, NULL, auth_continue, auth_done, l};
	struct imap_cmd *cmd = imap_cmd_new("AUTHENTICATE");
	char *cred;
	int rc;

	if (l->mech == IMAP_AUTH_PLAIN)
		cred = sasl_plain(o->username, secret);
	else if (l->mech == IMAP_AUTH_XOAUTH2)
		cred = sasl_xoauth2(o->username, secret);
	else
		cred = sasl_oauthbearer(o->username, tunnel ? NULL : o->host,
		    tunnel ? NULL : o->port, secret);
	imap_cmd_atom(cmd, mech_name(l->mech));
	l->cred = cred;
	l->cred_sent = imapc_capable(l->c, "SASL-IR");
	if (l->cred_sent) {
		imap_cmd_set_secret(cmd);
		imap_cmd_atom(cmd, cred);
	}
	rc = imapc_run(l->c, cmd, &h, l->timeout_ms, err);
	explicit_zero(cred, strlen(cred));
	free(cred);
	l->cred = NULL;
	if (rc < 0 && l->auth_err.kind != ERR_NONE)
		*err = l->auth_err;
	return rc;
}

static int
authenticate(struct login *l, struct err *err)
{
	const struct imap_opts *o = l->o;
	const char *name = imapc_name(l->c);
	char *secret = NULL;
	int rc = -1;

	/* The first configured mechanism the server offers; LOGIN is the
	 * LOGIN command, always there unless LOGINDISABLED. */
	l->mech = IMAP_AUTH_MAX;
	for (size_t i = 0; i < o->n_auth && l->mech == IMAP_AUTH_MAX; i++) {
		char cap[32];

		snprintf(cap, sizeof(cap), "AUTH=%s", mech_name(o->auth[i]));
		if (o->auth[i] == IMAP_AUTH_LOGIN || imapc_capable(l->c, cap))
			l->mech = o->auth[i];
	}
	if (l->mech == IMAP_AUTH_MAX)
		return err_set(err, ERR_AUTH, "%s: no authentication mechanism "
		    "in common with the server", name);
	if (imapc_capable(l->c, "LOGINDISABLED"))
		return err_set(err, ERR_AUTH, "%s: logins are disabled by the "
		    "server%s", name, conn_is_tls(imapc_conn(l->c)) ? "" :
		    " (it wants TLS: use type = imaps or STARTTLS = YES)");
	if (!o->username || (!o->password && !o->password_command))
		return err_set(err, ERR_CONFIG, "%s: the server wants a login: "
		    "set %s", name, !o->username ? "username" :
		    "password or password-command");
	/* Run at every connect, not at load time: a helper may refresh a
	 * short-lived OAuth token between runs. */
	if (o->password_command) {
		int ms = PASSWORD_COMMAND_TIMEOUT_MS;
		if (l->timeout_ms > 0 && l->timeout_ms < ms)
			ms = l->timeout_ms;
		if (sasl_password_command(o->password_command, ms, &secret,
			err) < 0)
			return -1;
	} else {
		secret = xstrdup(o->password);
	}
	if (l->mech == IMAP_AUTH_LOGIN) {
		struct imap_cmd *cmd = imap_cmd_new("LOGIN");
		imap_cmd_set_secret(cmd);
		if (imap_cmd_astring(cmd, o->username, strlen(o->username),
			err) < 0 ||
		    imap_cmd_astring(cmd, secret, strlen(secret), err) < 0) {
			imap_cmd_free(&cmd);
			err_prefix(err, "%s: LOGIN", name);
		} else {
			rc = imapc_run(l->c, cmd, NULL, l->timeout_ms, err);
			if (rc < 0 && err->kind == ERR_REFUSED) {
				err->kind = ERR_AUTH;
				err_prefix(err, "authentication failed");
			}
		}
	} else {
		rc = authenticate_sasl(l, secret, err);
	}
	explicit_zero(secret, strlen(secret));
	free(secret);
	return rc;
}

/* The handshake is an exchange like a command (conn.h's budget). */
static int
start_tls(struct login *l, struct err *err)
{
	struct conn *conn = imapc_conn(l->c);
	int r;

	conn_budget_start(conn);
	r = conn_start_tls(conn, l->o->host, &l->o->tls, err);
	conn_budget_stop(conn);
	return r;
}

static struct conn *
connect_to(const struct imap_opts *o, int timeout_ms, struct err *err)
{
	if (o->type == IMAP_TYPE_TUNNEL)
		return conn_spawn(o->command, o->null_stderr, timeout_ms, err);
	if (o->proxy.type != PROXY_NONE)
		return conn_connect_proxy(&o->proxy, o->host, o->port,
		    timeout_ms, err);
	return conn_connect_tcp(o->host, o->port, timeout_ms, err);
}

static int
login(struct login *l, struct err *err)
{
	const struct imap_opts *o = l->o;
	const char *name = imapc_name(l->c);

	imapc_set_events(l->c, on_greeting, l);
	if (imapc_run_until(l->c, &l->greeted, l->timeout_ms, err) < 0)
		return -1;
	if (l->bye)
		return err_set(err, ERR_TEMP, "%s: server refused the "
		    "connection: %s", name, l->greeting);
	if (l->not_imap)
		return err_set(err, ERR_PROTO, "%s: not an IMAP greeting", name);
	if (o->type == IMAP_TYPE_IMAP && o->starttls) {
		if (l->preauth)
			/* RFC 2595 §5.1: a PREAUTH greeting leaves no chance
			 * to upgrade; on plaintext that smells of a MITM. */
			return err_set(err, ERR_REFUSED, "%s: PREAUTH greeting "
			    "on a plaintext connection; refusing (set STARTTLS "
			    "= NO to allow it)", name);
		if (imapc_caps_gen(l->c) == 0 &&
		    simple(l, "CAPABILITY", err) < 0)
			return -1;
		if (!imapc_capable(l->c, "STARTTLS"))
			return err_set(err, ERR_REFUSED, "%s: server does not "
			    "advertise STARTTLS (set STARTTLS = NO to connect "
			    "without TLS)", name);
		if (simple(l, "STARTTLS", err) < 0 || start_tls(l, err) < 0)
			return -1;
		/* Capabilities sent before TLS may have been forged. */
		imapc_caps_forget(l->c);
		if (simple(l, "CAPABILITY", err) < 0)
			return -1;
	}
	if (imapc_caps_gen(l->c) == 0 && simple(l, "CAPABILITY", err) < 0)
		return -1;
	if (!imapc_capable(l->c, "IMAP4rev1"))
		return err_set(err, ERR_PROTO, "%s: server lacks IMAP4rev1 "
		    "capability", name);
	if (!l->preauth) {
		unsigned gen = imapc_caps_gen(l->c);
		if (authenticate(l, err) < 0)
			return -1;
		/* Post-login capabilities differ (RFC 3501 §6.2.3); the
		 * login's OK often carries them already. */
		if (imapc_caps_gen(l->c) == gen &&
		    simple(l, "CAPABILITY", err) < 0)
			return -1;
	}
	return 0;
}

struct imapc *
imap_login(const struct imap_opts *o, const char *name_opt,
    const struct imapc_opts *eo, int timeout_ms, struct err *err)
{
	struct login l = {0};
	struct conn *conn;
	char *name = name_opt ? xstrdup(name_opt) :
	    o->type == IMAP_TYPE_TUNNEL ? xstrdup("tunnel") :
	    xasprintf("%s:%s", o->host, o->port);

	l.o = o;
	l.timeout_ms = timeout_ms;
	err_clear(err);
	conn = connect_to(o, timeout_ms, err);
	if (!conn) {
		if (name_opt)
			err_prefix(err, "%s", name);
		goto fail;
	}
	/* Until logged in, nothing is lost when a stop request drops the
	 * connection (conn_set_interrupt()). */
	conn_set_interruptible(conn, true);
	l.c = imapc_new(conn, name);
	imapc_configure(l.c, eo);
	if (o->type == IMAP_TYPE_IMAPS && start_tls(&l, err) < 0)
		goto fail;
	if (login(&l, err) < 0)
		goto fail;
	imapc_set_events(l.c, NULL, NULL);
	conn_set_interruptible(conn, false);
	free(name);
	return l.c;
fail:
	if (!err->msg[0])
		err_set(err, ERR_TEMP, "%s: connection failed", name);
	if (l.c)
		imapc_abandon(l.c);
	imapc_free(&l.c);
	free(name);
	return NULL;
}

int
imap_compress(struct imapc *c, const struct imap_opts *o, int timeout_ms,
    struct err *err)
{
	struct err ce;

	/* COMPRESS is a command-auth (RFC 4978 §5): valid once logged in,
	 * with or without a selected mailbox; only the post-login
	 * capabilities count. */
	if (!o->compress || conn_is_deflate(imapc_conn(c)) ||
	    !imapc_capable(c, "COMPRESS=DEFLATE"))
		return 0;
	{
		struct imap_cmd *cmd = imap_cmd_new("COMPRESS");
		imap_cmd_atom(cmd, "DEFLATE");
		/* On OK the engine compresses from there on. */
		if (imapc_run(c, cmd, NULL, timeout_ms, &ce) == 0)
			return 0;
	}
	if (!imapc_usable(c)) {
		*err = ce;
		return -1;
	}
	/* Compression is an optimisation: a refusal is no reason to give
	 * up the session. [COMPRESSIONACTIVE] (RFC 4978 §3) says the link
	 * is compressed already (e.g. by TLS). */
	if (strstr(ce.msg, "[COMPRESSIONACTIVE]") == NULL)
		log_at(LOG_WARN, imapc_log_prefix(c), "%s; going on "
		    "uncompressed", ce.msg);
	return 0;
}

void
imap_logout(struct imapc **cp)
{
	struct imapc *c = *cp;
	struct conn *conn;

	if (!c)
		return;
	conn = imapc_conn(c);
	if (imapc_usable(c)) {
		struct err e;
		conn_set_timeout(conn, LOGOUT_TIMEOUT_MS);
		imapc_run(c, imap_cmd_new("LOGOUT"), NULL, LOGOUT_TIMEOUT_MS, &e);
	}
	if (log_debug_level > 0 && conn_is_deflate(conn)) {
		unsigned long long ri, wi, ro, wo;
		conn_deflate_stats(conn, &ri, &wi, &ro, &wo);
		log_at(LOG_DEBUG, imapc_log_prefix(c), "COMPRESS: read %llu bytes (wire %llu, %.1fx), "
		    "wrote %llu bytes (wire %llu)", ri, wi,
		    wi ? (double)ri / (double)wi : 0.0, ro, wo);
	}
	imapc_free(cp);
}
