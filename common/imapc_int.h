#ifndef COMMON_IMAPC_INT_H
#define COMMON_IMAPC_INT_H

/* The engine's insides, shared by its files (imapc.c: queue, output,
 * input and dispatch; imapc_box.c: the selected mailbox; imapc_run.c:
 * waits, blocking wrappers, literal reads; imapc_trace.c: the --debug
 * trace). Not for users of imapc.h. */

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "imap_cmd.h"
#include "imap_data.h"
#include "imap_parse.h"
#include "imap_trace.h"
#include "imapc.h"

#define TAG_SIZE 16
/* What one writer call may produce: bounds a step's work per command. */
#define CHUNK 16384

enum cmd_state {
	CMD_QUEUED,   /* nothing sent yet */
	CMD_WRITING,  /* partly sent */
	CMD_WAIT,     /* sent up to a synchronizing literal: waits for "+" */
	CMD_SENT,     /* wholly sent: waits for its tagged reply */
};

struct cmd {
	struct cmd *next;
	unsigned num;
	char tag[TAG_SIZE];
	struct imap_cmd *cmd;
	struct imapc_handlers h;
	enum cmd_state state;
	bool failed;
	struct err err;
	/* The kind of untagged data the command took last ("FETCH"): once
	 * it failed, more of it is its own and dropped, not an event (an
	 * unsolicited FETCH means another client changed something). */
	char took[16];
	/* SELECT/EXAMINE (imapc_submit_select): the mailbox it asks for;
	 * the state is reset when the server starts answering it. */
	char *select;
	bool select_started;
	bool read_only;
	/* Nothing after it goes out before its tagged reply (COMPRESS,
	 * STARTTLS: what follows is in another encoding). */
	bool barrier;
	/* Its literal source returned IMAP_SOURCE_AGAIN and the writer has
	 * produced nothing since: no POLLOUT for it (see has_output()). */
	bool src_blocked;
	/* The prefix of its trace lines (imapc_set_submit_prefix()), or
	 * NULL: the connection's. */
	char *trace_prefix;
};

struct line {
	struct line *next;
	char *text; /* with CRLF */
	bool secret;
};

struct imapc {
	struct conn *conn;
	char *name;
	struct imap_parser *parser;
	enum imap_lit_mode lit_mode;
	unsigned tag_seq;
	struct cmd *head, *tail;  /* in flight, in submission order */
	struct cmd *writing;      /* whose bytes are being produced */
	struct imap_cmd_writer w;
	char out[CHUNK];          /* produced, not yet queued on conn */
	size_t out_len, out_off;
	struct line *lines, *lines_tail;
	uint64_t lit_left;        /* of a streamed literal, still to skip */
	bool lit_open;            /* imap_parse_literal_done() pending */
	bool in_literal_handler;
	bool broken;
	bool bye;
	struct err fatal;
	imapc_event_fn *ev;
	void *ev_ctx;
	struct imap_caps caps;
	bool lit_mode_set;        /* by imapc_set_literal_mode() */
	bool greeted;             /* the server's greeting arrived */
	struct imapc_mailbox box;
	char *box_name;           /* box.name's storage */
	unsigned changes;         /* EXISTS/EXPUNGE/VANISHED seen */
	unsigned caps_gen;        /* capability lists received */
	char *log_prefix;         /* imapc_set_log_prefix() */
	char *submit_prefix;      /* imapc_set_submit_prefix() */
	/* The prefix of the command going out, for its trace lines; NULL:
	 * log_prefix. */
	char *out_prefix;
	enum imapc_trace_style trace;
	bool ref_tags;
	/* The WIRE trace: what went out, what came in; and the tag of the
	 * login being hidden (--debug once), "" when none. */
	struct imap_trace_wire tr_out, tr_in;
	char hush[TAG_SIZE];
};

/* Every command in flight fails with err (its own error for one whose
 * handler failed) and the connection is unusable; returns -1. */
int imapc_fail_all(struct imapc *c, const struct err *err);

/* The --debug trace (imapc_trace.c, see enum imapc_trace_style): set up
 * and free the WIRE splitters; q starts going out; a continuation line
 * is queued (imapc_send_line()); bytes went out (secret: a continuation
 * line to hide unless --debug --debug); bytes came in, as fed to the
 * parser; a response was parsed. Each writes what its style asks for,
 * nothing without --debug. */
void imapc_trace_init(struct imapc *c);
void imapc_trace_free(struct imapc *c);
void imapc_trace_command(struct imapc *c, const struct cmd *q);
void imapc_trace_queued(struct imapc *c, const char *text, bool secret);
void imapc_trace_sent(struct imapc *c, const char *data, size_t len,
    bool secret);
void imapc_trace_received(struct imapc *c, const char *data, size_t len);
void imapc_trace_response(struct imapc *c, const struct imap_resp *r);

/* The selected mailbox (imapc_box.c): reset to name (NULL: none); update
 * from any response, before it is dispatched; and from q's tagged reply
 * r (SELECT, EXAMINE, UNSELECT, CLOSE). */
void imapc_box_reset(struct imapc *c, const char *name);
void imapc_box_update(struct imapc *c, const struct imap_resp *r);
void imapc_box_tagged(struct imapc *c, const struct cmd *q,
    const struct imap_resp *r);

#endif
