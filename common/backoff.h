#ifndef COMMON_BACKOFF_H
#define COMMON_BACKOFF_H

/* How long a long-running program (pullimap --idle, interimap --watch)
 * waits before reconnecting after a failure: 1 s, then twice as long
 * each time up to 5 minutes, each delay drawn within +-20% so that many
 * clients do not come back at once after a server restart. */

struct backoff {
	unsigned ms; /* the last delay before jitter; 0: none yet */
};

#define BACKOFF_INIT { 0 }
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 300000u

/* The next delay in milliseconds (jittered), and b advanced. */
unsigned backoff_next(struct backoff *b);
/* A success: the next failure starts again at BACKOFF_MIN_MS. */
void backoff_reset(struct backoff *b);

#endif
