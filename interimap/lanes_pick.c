/* How many pairs of sessions a first round takes (lanes_pick(), lanes.h):
 * the servers' round trip, and how many messages it copies. */
#include "util.h"

#include <stdint.h>
#include <unistd.h>

#include "lanes.h"

/* A second pair pays where the network's round trips are what a mailbox
 * waits for: measured on loopback (Dovecot 2.3, two cores), the servers'
 * own work is then what bounds a first sync, and a second pair slows it
 * down (more processes on the same cores and files); over a link of a few
 * milliseconds, each mailbox's round trips dominate and two pairs halve
 * their wait (`make bench`). So: NOOPs on both sides at once, and a
 * second pair when either side's quickest took that long. */
#define LANES_RTT_US 2000
/* From this, four pairs: measured over a relay adding 10 ms (40 ms) per
 * round trip, 100 (40) new mailboxes took 2.34 s (2.51 s) with two
 * pairs, 1.79 s (1.64 s) with four, against 3.97 s (4.20 s) with one. */
#define LANES_RTT4_US 8000
/* And two pairs, whatever the round trip, for a first round that copies
 * many messages a mailbox (a first sync of existing mail): there the
 * servers' work per message bounds it (the remote one compressing what it
 * sends), and a second pair has each server work on two mailboxes at
 * once. Measured on loopback (`make bench`: 2,000 messages of 62 kB on
 * average in 20 mailboxes, two cores): 3.34-4.00 s with two pairs against
 * 3.74-5.42 s with one, in five runs in turns (three or four pairs: no
 * better than two); 1,000 mailboxes of 2 messages, slower with two. The
 * count is what the servers' UIDNEXTs allow since the last sync: an upper
 * bound (UIDs are not dense). Not on a machine of one core, where the
 * local server and we would share it. */
#define LANES_BULK_UIDS 500
#define LANES_BULK_PER_MAILBOX 50

static void
noop_done(void *ctx, const struct imap_resp *tagged, const struct err *err)
{
	(void)tagged;
	(void)err;
	*(uint64_t *)ctx = now_us();
}

/* The quickest of a few NOOPs: a busy moment of a machine does not make
 * a local socket look like a network. Once both sides answered one under
 * LANES_RTT_US, more would not change the choice; until then, up to
 * LANES_PROBES (three were not always enough: on a CI machine of two cores
 * running two sanitizer-built test programs at once, all three NOOPs to a
 * loopback Dovecot once took over 2 ms; on a link, the round trip is that
 * long every time and the few more cost a few round trips out of the
 * hundreds a first round makes). */
#define LANES_PROBES 8

int
lanes_pick(struct side *const s[2], unsigned forced, size_t n, uint64_t news,
    unsigned *lanes_r, struct ierr *ie)
{
	uint64_t best[2] = { UINT64_MAX, UINT64_MAX };

	*lanes_r = forced != 0 ? forced : 1;
	if (forced != 0)
		return 0;
	for (int i = 0; i < LANES_PROBES; i++) {
		struct side_cmd q[2];
		uint64_t t0 = now_us(), t[2] = { 0, 0 };

		for (int k = 0; k < 2; k++) {
			struct imapc_handlers h = { NULL, NULL, NULL,
			    noop_done, &t[k] };
			side_start(s[k], imap_cmd_new("NOOP"), &h, &q[k]);
		}
		side_wait(s, 2);
		for (int k = 0; k < 2; k++) {
			int r = side_result(&q[k], ie);
			if (r < 0)
				return -1;
			/* A server refusing NOOP: one pair, as before. */
			if (r > 0)
				return 0;
			if (t[k] - t0 < best[k])
				best[k] = t[k] - t0;
		}
		if (best[0] < LANES_RTT_US && best[1] < LANES_RTT_US)
			break;
	}
	for (int k = 0; k < 2; k++) {
		if (best[k] >= LANES_RTT4_US)
			*lanes_r = 4;
		else if (best[k] >= LANES_RTT_US && *lanes_r < 2)
			*lanes_r = 2;
	}
	if (*lanes_r < 2 && n > 0 &&
	    news >= LANES_BULK_UIDS && news / n >= LANES_BULK_PER_MAILBOX &&
	    sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		*lanes_r = 2;
	return 0;
}
