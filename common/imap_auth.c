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

/* The steps of a login, each taken when nothing of the login is in
 * flight (see advance()). */
enum lstep {
	L_GREETING,       /* until the greeting */
	L_STARTTLS,       /* STARTTLS offered? (CAPABILITY asked first) */
	L_HANDSHAKE,      /* STARTTLS said OK: TLS, then CAPABILITY */
	L_CAPABILITY,     /* CAPABILITY unless some came */
	L_AUTHENTICATE,
	L_POSTLOGIN,      /* CAPABILITY unless the login's reply had them */
	L_DONE,
};

/* How a command's refusal reads (cmd_done()). */
enum lcmd {
	LCMD_PLAIN,       /* the engine's message */
	LCMD_LOGIN,       /* "authentication failed: ...", ERR_AUTH */
	LCMD_SASL,        /* AUTHENTICATE: auth_done()'s message */
};

/* The session being opened. */
struct imap_login {
	const struct imap_opts *o;
	struct imapc *c;
	char *name;
	int timeout_ms;
	bool *wake;           /* the caller's, or NULL */
	enum lstep step;
	/* the command in flight, and its outcome */
	enum lcmd cmd;
	bool busy;
	bool ready;           /* advance() has something to do */
	bool failed;
	struct err cmd_err;
	unsigned gen;         /* capability lists before the login */
	/* the greeting */
	bool greeted, preauth, bye;
	bool not_imap;
	char greeting[256];
	/* AUTHENTICATE */
	enum imap_auth mech;
	char *cred;           /* base64 initial response */
	bool cred_sent;
	char status[128];     /* RFC 7628 error status, if the server sent one */
};

static void
wake_up(struct imap_login *l)
{
	l->ready = true;
	if (l->wake)
		*l->wake = true;
}

static void
on_greeting(void *ctx, const struct imap_resp *r)
{
	struct imap_login *l = ctx;

	if (l->greeted)
		return;
	l->greeted = true;
	wake_up(l);
	if (r->kind != IMAP_RESP_UNTAGGED || !r->status) {
		l->not_imap = true;
		return;
	}
	l->preauth = strcmp(r->status, "PREAUTH") == 0;
	l->bye = strcmp(r->status, "BYE") == 0;
	l->not_imap = !l->preauth && !l->bye && strcmp(r->status, "OK") != 0;
	snprintf(l->greeting, sizeof(l->greeting), "%s", r->text);
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
	struct imap_login *l = ctx;
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
forget_cred(struct imap_login *l)
{
	if (l->cred == NULL)
		return;
	explicit_zero(l->cred, strlen(l->cred));
	free(l->cred);
	l->cred = NULL;
}

static void
cmd_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	struct imap_login *l = ctx;

	l->busy = false;
	wake_up(l);
	if (l->cmd == LCMD_SASL)
		forget_cred(l);
	if (!err)
		return;
	l->failed = true;
	l->cmd_err = *err;
	if (!tagged)
		return; /* the connection's failure */
	if (l->cmd == LCMD_LOGIN && err->kind == ERR_REFUSED) {
		l->cmd_err.kind = ERR_AUTH;
		err_prefix(&l->cmd_err, "authentication failed");
	} else if (l->cmd == LCMD_SASL) {
		err_set(&l->cmd_err, ERR_AUTH,
		    "%s: authentication failed: %s %s%s%s%s%s%s%s",
		    imapc_name(l->c), tagged->status ? tagged->status : "?",
		    tagged->code ? "[" : "", tagged->code ? tagged->code : "",
		    tagged->code ? "] " : "", tagged->text,
		    l->status[0] ? " (status " : "", l->status,
		    l->status[0] ? ")" : "");
	}
}

/* Submits one command of the login; advance() waits for its done(). */
static void
submit(struct imap_login *l, struct imap_cmd *cmd, enum lcmd kind)
{
	struct imapc_handlers h = {NULL, NULL, NULL, cmd_done, l};

	if (kind == LCMD_SASL)
		h.continuation = auth_continue;
	l->cmd = kind;
	l->busy = true;
	l->ready = false;
	imapc_submit(l->c, cmd, &h);
}

static void
submit_verb(struct imap_login *l, const char *verb)
{
	submit(l, imap_cmd_new(verb), LCMD_PLAIN);
}

static void
submit_sasl(struct imap_login *l, const char *secret)
{
	const struct imap_opts *o = l->o;
	bool tunnel = o->type == IMAP_TYPE_TUNNEL;
	struct imap_cmd *cmd = imap_cmd_new("AUTHENTICATE");

	if (l->mech == IMAP_AUTH_PLAIN)
		l->cred = sasl_plain(o->username, secret);
	else if (l->mech == IMAP_AUTH_XOAUTH2)
		l->cred = sasl_xoauth2(o->username, secret);
	else
		l->cred = sasl_oauthbearer(o->username, tunnel ? NULL : o->host,
		    tunnel ? NULL : o->port, secret);
	imap_cmd_atom(cmd, mech_name(l->mech));
	l->cred_sent = imapc_capable(l->c, "SASL-IR");
	if (l->cred_sent) {
		imap_cmd_set_secret(cmd);
		imap_cmd_atom(cmd, l->cred);
	}
	submit(l, cmd, LCMD_SASL);
}

/* Picks the mechanism, gets the secret, and submits LOGIN or
 * AUTHENTICATE. */
static int
authenticate(struct imap_login *l, struct err *err)
{
	const struct imap_opts *o = l->o;
	const char *name = imapc_name(l->c);
	char *secret = NULL;
	int rc = 0;

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
			rc = err_prefix(err, "%s: LOGIN", name);
		} else {
			submit(l, cmd, LCMD_LOGIN);
		}
	} else {
		submit_sasl(l, secret);
	}
	explicit_zero(secret, strlen(secret));
	free(secret);
	return rc;
}

/* The handshake is an exchange like a command (conn.h's budget). */
static int
start_tls(struct imap_login *l, struct err *err)
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

/* Takes the login's next steps, as far as they go without an answer:
 * 1 logged in, 0 waiting (a command or the greeting), -1 with err. */
static int
advance(struct imap_login *l, struct err *err)
{
	const struct imap_opts *o = l->o;
	const char *name = imapc_name(l->c);

	for (;;) {
		if (l->failed) {
			*err = l->cmd_err;
			return -1;
		}
		if (l->busy)
			return 0;
		switch (l->step) {
		case L_GREETING:
			if (!l->greeted)
				return 0;
			if (l->bye)
				return err_set(err, ERR_TEMP, "%s: server "
				    "refused the connection: %s", name,
				    l->greeting);
			if (l->not_imap)
				return err_set(err, ERR_PROTO, "%s: not an "
				    "IMAP greeting", name);
			l->step = L_CAPABILITY;
			if (o->type != IMAP_TYPE_IMAP || !o->starttls)
				break;
			if (l->preauth)
				/* RFC 2595 §5.1: a PREAUTH greeting leaves no
				 * chance to upgrade; on plaintext that smells
				 * of a MITM. */
				return err_set(err, ERR_REFUSED, "%s: PREAUTH "
				    "greeting on a plaintext connection; "
				    "refusing (set STARTTLS = NO to allow it)",
				    name);
			l->step = L_STARTTLS;
			if (imapc_caps_gen(l->c) == 0)
				submit_verb(l, "CAPABILITY");
			break;
		case L_STARTTLS:
			if (!imapc_capable(l->c, "STARTTLS"))
				return err_set(err, ERR_REFUSED, "%s: server "
				    "does not advertise STARTTLS (set STARTTLS "
				    "= NO to connect without TLS)", name);
			submit_verb(l, "STARTTLS");
			l->step = L_HANDSHAKE;
			break;
		case L_HANDSHAKE:
			if (start_tls(l, err) < 0)
				return -1;
			/* Capabilities sent before TLS may have been
			 * forged. */
			imapc_caps_forget(l->c);
			submit_verb(l, "CAPABILITY");
			l->step = L_CAPABILITY;
			break;
		case L_CAPABILITY:
			if (imapc_caps_gen(l->c) == 0) {
				submit_verb(l, "CAPABILITY");
				break;
			}
			if (!imapc_capable(l->c, "IMAP4rev1"))
				return err_set(err, ERR_PROTO, "%s: server "
				    "lacks IMAP4rev1 capability", name);
			l->step = l->preauth ? L_DONE : L_AUTHENTICATE;
			break;
		case L_AUTHENTICATE:
			l->gen = imapc_caps_gen(l->c);
			if (authenticate(l, err) < 0)
				return -1;
			l->step = L_POSTLOGIN;
			break;
		case L_POSTLOGIN:
			/* Post-login capabilities differ (RFC 3501
			 * §6.2.3); the login's OK often carries them
			 * already. */
			if (imapc_caps_gen(l->c) == l->gen)
				submit_verb(l, "CAPABILITY");
			l->step = L_DONE;
			break;
		case L_DONE:
			return 1;
		}
	}
}

struct imap_login *
imap_login_start(const struct imap_opts *o, const char *name_opt,
    const struct imapc_opts *eo, int timeout_ms, bool *wake, struct err *err)
{
	struct imap_login *l = xcalloc(1, sizeof(*l));
	struct conn *conn;

	l->o = o;
	l->timeout_ms = timeout_ms;
	l->wake = wake;
	l->name = name_opt ? xstrdup(name_opt) :
	    o->type == IMAP_TYPE_TUNNEL ? xstrdup("tunnel") :
	    xasprintf("%s:%s", o->host, o->port);
	err_clear(err);
	conn = connect_to(o, timeout_ms, err);
	if (!conn) {
		if (name_opt)
			err_prefix(err, "%s", l->name);
		goto fail;
	}
	/* Until logged in, nothing is lost when a stop request drops the
	 * connection (conn_set_interrupt()). */
	conn_set_interruptible(conn, true);
	l->c = imapc_new(conn, l->name);
	imapc_configure(l->c, eo);
	/* The handshake goes on as the greeting is awaited: meanwhile the
	 * caller's other connections make progress too. */
	if (o->type == IMAP_TYPE_IMAPS &&
	    conn_start_tls_nb(conn, o->host, &o->tls, err) < 0)
		goto fail;
	imapc_set_events(l->c, on_greeting, l);
	return l;
fail:
	if (!err->msg[0])
		err_set(err, ERR_TEMP, "%s: connection failed", l->name);
	imap_login_free(&l);
	return NULL;
}

struct imapc *
imap_login_engine(const struct imap_login *l)
{
	return l->c;
}

int
imap_login_step(struct imap_login *l, struct err *err)
{
	int r;

	/* A lost connection, unless what came says more: a command's
	 * failure, the greeting (BYE, or not IMAP). */
	if (!l->failed && !(l->step == L_GREETING && l->greeted) &&
	    l->step != L_DONE && !imapc_usable(l->c)) {
		*err = *imapc_failure(l->c);
		return -1;
	}
	r = advance(l, err);
	if (r < 0 && !err->msg[0])
		err_set(err, ERR_TEMP, "%s: connection failed", l->name);
	return r;
}

struct imapc *
imap_login_take(struct imap_login **lp)
{
	struct imap_login *l = *lp;
	struct imapc *c;

	if (l == NULL || l->step != L_DONE || l->busy)
		return NULL;
	c = l->c;
	l->c = NULL;
	imapc_set_events(c, NULL, NULL);
	conn_set_interruptible(imapc_conn(c), false);
	imap_login_free(lp);
	return c;
}

void
imap_login_free(struct imap_login **lp)
{
	struct imap_login *l = *lp;

	if (l == NULL)
		return;
	if (l->c) {
		/* No handler of ours may outlive l. */
		imapc_cancel(l->c);
		imapc_free(&l->c);
	}
	forget_cred(l);
	free(l->name);
	free(l);
	*lp = NULL;
}

struct imapc *
imap_login(const struct imap_opts *o, const char *name,
    const struct imapc_opts *eo, int timeout_ms, struct err *err)
{
	struct imap_login *l = imap_login_start(o, name, eo, timeout_ms, NULL,
	    err);
	struct imapc *c;
	int r;

	if (l == NULL)
		return NULL;
	while ((r = imap_login_step(l, err)) == 0)
		if (imapc_run_until(l->c, &l->ready, timeout_ms, err) < 0)
			break;
	if (r < 0 || !(c = imap_login_take(&l))) {
		if (!err->msg[0])
			err_set(err, ERR_TEMP, "%s: connection failed",
			    imapc_name(l->c));
		imap_login_free(&l);
		return NULL;
	}
	return c;
}

struct imap_cmd *
imap_compress_cmd(struct imapc *c, const struct imap_opts *o)
{
	struct imap_cmd *cmd;

	/* COMPRESS is a command-auth (RFC 4978 §5): valid once logged in,
	 * with or without a selected mailbox; only the post-login
	 * capabilities count. */
	if (!o->compress || conn_is_deflate(imapc_conn(c)) ||
	    !imapc_capable(c, "COMPRESS=DEFLATE"))
		return NULL;
	cmd = imap_cmd_new("COMPRESS");
	imap_cmd_atom(cmd, "DEFLATE");
	return cmd;
}

int
imap_compress_end(struct imapc *c, const struct err *done_err,
    struct err *err)
{
	/* On OK the engine compresses from there on. */
	if (done_err == NULL)
		return 0;
	if (!imapc_usable(c)) {
		*err = *done_err;
		return -1;
	}
	/* Compression is an optimisation: a refusal is no reason to give
	 * up the session. [COMPRESSIONACTIVE] (RFC 4978 §3) says the link
	 * is compressed already (e.g. by TLS). */
	if (strstr(done_err->msg, "[COMPRESSIONACTIVE]") == NULL)
		log_at(LOG_WARN, imapc_log_prefix(c), "%s; going on "
		    "uncompressed", done_err->msg);
	return 0;
}

int
imap_compress(struct imapc *c, const struct imap_opts *o, int timeout_ms,
    struct err *err)
{
	struct imap_cmd *cmd = imap_compress_cmd(c, o);
	struct err ce;

	if (cmd == NULL)
		return 0;
	if (imapc_run(c, cmd, NULL, timeout_ms, &ce) == 0)
		return 0;
	return imap_compress_end(c, &ce, err);
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
