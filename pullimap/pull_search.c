#include "util.h"

#include <string.h>

#include "buf.h"
#include "imap_cmd.h"
#include "imapc.h"
#include "pull_p.h"

/* A SEARCH cannot name many more messages than EXISTS says the mailbox
 * holds (some may arrive meanwhile). */
#define SEARCH_SLACK 10000

/* ESEARCH (RFC 4731): [(TAG "x")] UID {NAME VALUE}. Without "UID" the
 * numbers would be sequence numbers: refused, as is anything that does
 * not parse. Only ALL is kept. */
static int
esearch(struct pull *p, const struct imap_resp *r, struct err *err)
{
	size_t i = 0;

	if (i < r->nargs && r->args[i].type == IMAP_ARG_LIST)
		i++;
	if (i >= r->nargs || !imap_arg_atom_is(&r->args[i], "UID") ||
	    (r->nargs - i - 1) % 2 != 0)
		return -1;
	for (i++; i < r->nargs; i += 2) {
		const char *v = imap_arg_string(&r->args[i + 1]);
		if (r->args[i].type != IMAP_ARG_ATOM || !v)
			return -1;
		if (imap_arg_atom_is(&r->args[i], "ALL") &&
		    uidset_parse(p->search_out, v) < 0)
			return -1;
	}
	(void)err;
	return 0;
}

static int
search_cb(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct pull *p = ctx;
	if (!r->name || r->kind != IMAP_RESP_UNTAGGED)
		return 0;
	if (strcmp(r->name, "SEARCH") == 0) {
		for (size_t i = 0; i < r->nargs; i++) {
			uint32_t u;
			if (r->args[i].type != IMAP_ARG_ATOM ||
			    parse_u32_str(r->args[i].str, &u) < 0 || u == 0)
				return err_set(err, ERR_PROTO,
				    "UID SEARCH: unparsable SEARCH response "
				    "from the server");
			uidset_add(p->search_out, u, u);
		}
		p->search_seen = true;
		return 1;
	} else if (strcmp(r->name, "ESEARCH") == 0) {
		if (esearch(p, r, err) < 0)
			return err_set(err, ERR_PROTO,
			    "UID SEARCH: unparsable ESEARCH response from the "
			    "server");
		p->search_seen = true;
		return 1;
	}
	return 0;
}

/* A UID SEARCH command, and its criteria as text for messages. */
static struct imap_cmd *
search_cmd(struct pull *p, const struct pull_criteria *c, struct buf *text)
{
	struct imap_cmd *cmd = imap_cmd_new("UID SEARCH");

	if (imapc_capable(p->imap, "ESEARCH"))
		imap_cmd_raw(cmd, "RETURN (ALL)");
	if (c->uids) {
		imap_cmd_atom(cmd, "UID");
		imap_cmd_uidset(cmd, c->uids);
		buf_appends(text, "UID ");
		uidset_format(text, c->uids);
	}
	if (c->from) {
		imap_cmd_atom(cmd, "UID");
		imap_cmd_range(cmd, c->from, IMAP_CMD_STAR);
		buf_appendf(text, "%sUID %u:*", text->len ? " " : "", c->from);
	}
	if (c->raw) {
		imap_cmd_raw(cmd, c->raw);
		buf_appendf(text, "%s%s", text->len ? " " : "", c->raw);
	}
	return cmd;
}

int
pull_search(struct pull *p, const struct pull_criteria *c, struct uidset *out,
    struct err *err)
{
	struct buf text = BUF_INIT(SIZE_MAX);
	uint64_t n, exists;
	int rc = -1;

	uidset_clear(out);
	p->search_out = out;
	p->search_seen = false;
	if (pull_exec(p, search_cmd(p, c, &text), search_cb, NULL, err) < 0)
		goto out;
	/* RFC 3501 and 4731 require a result, even when empty. */
	if (!p->search_seen) {
		err_set(err, ERR_PROTO,
		    "%s: the server answered UID SEARCH %s without a result",
		    imapc_name(p->imap), text.data);
		goto out;
	}
	n = uidset_count(out);
	exists = imapc_selected(p->imap)->exists;
	if (n > exists + SEARCH_SLACK) {
		err_set(err, ERR_PROTO,
		    "%s: UID SEARCH %s named %llu messages, the mailbox holds "
		    "%llu", imapc_name(p->imap), text.data,
		    (unsigned long long)n, (unsigned long long)exists);
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	return rc;
}
