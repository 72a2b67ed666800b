#include "util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#ifdef __linux__
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#endif

/* next_in as a pointer to const: no cast from our const buffers. */
#define ZLIB_CONST
#include <zlib.h>

#include "conn.h"
#include "conn_int.h"
#include "log.h"

/* COMPRESS=DEFLATE state (RFC 4978), allocated only once it starts: the
 * two zlib streams, a buffer for compressed input not yet inflated (c->in
 * holds what inflate produced, so that peek/consume stay zero-copy) and one
 * for a chunk of compressed output on its way to conn_raw_write(). */
struct zstate {
	z_stream in, out;
	bool in_more;      /* inflate filled c->in: more output may be pending */
	bool in_end;       /* the peer ended its deflate stream */
	bool out_pending;  /* deflate holds input not sync-flushed yet */
	bool broken;       /* inflate failed: every later read fails with ferr */
	struct err ferr;
	unsigned long long raw_in, wire_in, raw_out, wire_out;
	/* deflate's parameters (adapt()): stored blocks while the link
	 * keeps up with them; else Huffman codes only while the data does
	 * not compress (huffman, kept while stored). The current segment's
	 * start. */
	bool stored, huffman;
	unsigned long long seg_raw, seg_wire;
	unsigned char wire[CONN_BUFSIZE];
	unsigned char wout[CONN_BUFSIZE];
};

void
conn_deflate_free(struct conn *c)
{
	struct zstate *z = c->z;
	if (z == NULL)
		return;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
	c->z = NULL;
}

int
conn_start_deflate(struct conn *c, struct err *err)
{
	struct zstate *z;
	size_t left = c->rend - c->rpos;
	int r;

	if (c->z != NULL)
		return err_set(err, ERR_INTERNAL, "%s: COMPRESS already active",
		    c->name);
	/* What was queued before belongs to the uncompressed part. */
	if (conn_flush(c, err) < 0)
		return -1;
	/* wire and wout (the last members) are read only up to what was
	 * put in them (as conn_new()'s buffers). */
	_Static_assert(sizeof(struct zstate) - offsetof(struct zstate, wout) -
	    CONN_BUFSIZE < _Alignof(struct zstate),
	    "wire and wout end struct zstate");
	z = xmalloc(sizeof(*z));
	memset(z, 0, offsetof(struct zstate, wire));
	/* RFC 4978 §3: DEFLATE as in RFC 1951, i.e. raw (negative
	 * windowBits: no zlib header or checksum); the inflate side takes
	 * the largest window, 32 KiB, so that any peer's stream decodes. */
	r = inflateInit2(&z->in, -15);
	if (r != Z_OK) {
		free(z);
		return err_set(err, ERR_SYS, "COMPRESS with %s: inflateInit2: %s",
		    c->name, zError(r));
	}
	r = deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY);
	if (r != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return err_set(err, ERR_SYS, "COMPRESS with %s: deflateInit2: %s",
		    c->name, zError(r));
	}
	/* RFC 4978 §3: the server compresses everything after its tagged OK,
	 * so unread bytes that came with the OK are already compressed. They
	 * fit: c->in and z->wire have the same size. */
	memcpy(z->wire, c->in + c->rpos, left);
	z->in.next_in = z->wire;
	z->in.avail_in = (uInt)left;
	z->wire_in = left;
	c->rpos = c->rend = 0;
	c->z = z;
	log_debug("DEFLATE compression on with %s", c->name);
	return 0;
}

bool
conn_is_deflate(const struct conn *c)
{
	return c->z != NULL;
}

void
conn_deflate_stats(const struct conn *c, unsigned long long *raw_in,
    unsigned long long *wire_in, unsigned long long *raw_out,
    unsigned long long *wire_out)
{
	const struct zstate *z = c->z;
	if (raw_in)
		*raw_in = z ? z->raw_in : 0;
	if (wire_in)
		*wire_in = z ? z->wire_in : 0;
	if (raw_out)
		*raw_out = z ? z->raw_out : 0;
	if (wire_out)
		*wire_out = z ? z->wire_out : 0;
}

void
conn_traffic(const struct conn *c, unsigned long long *in,
    unsigned long long *out, unsigned long long *wire_in,
    unsigned long long *wire_out)
{
	const struct zstate *z = c->z;
	/* Compressed bytes are counted on both sides of zlib: what went
	 * through the transport, less what was compressed, plus what that
	 * was before compression. Output zlib still holds is not counted
	 * yet on either side; the subtraction cannot go below zero, since
	 * the compressed bytes are a part of what the transport moved once
	 * they are sent (at worst a queued tail is counted late). */
	unsigned long long i = c->io_in, o = c->io_out;
	if (z != NULL) {
		i = (i > z->wire_in ? i - z->wire_in : 0) + z->raw_in;
		o = (o > z->wire_out ? o - z->wire_out : 0) + z->raw_out;
	}
	if (in)
		*in = i;
	if (out)
		*out = o;
	if (wire_in)
		*wire_in = c->io_in;
	if (wire_out)
		*wire_out = c->io_out;
}

/* How much output adapt() looks at, and its thresholds (compressed size
 * over raw size). Most bytes of mail are attachments, base64 of data
 * compressed already: deflate's string matching finds next to nothing
 * there (0.72 of the size against 0.75 with Huffman codes alone), for
 * four times the CPU, the better part of a copy's. Text still gets it:
 * the matching costs little and halves it again. */
#define ADAPT_SEGMENT 65536
#define ADAPT_TO_HUFFMAN 0.60
#define ADAPT_TO_MATCHING 0.70
/* Huffman codes alone still cost some 10 ns a byte (zlib 1.2.13, the
 * bench's machine): 100 MB/s, more than loopback or a LAN needs to be fed.
 * Compression pays where the network is what holds our output back; where
 * it keeps up, or where the peer's reading does (a busy server's receive
 * window full: it would inflate as much data, and we would have spent the
 * CPU for nothing), stored blocks cost no CPU and 5 bytes a block. Told at
 * the end of each segment by what the socket has not sent yet: less than
 * this, the link keeps up. Measured (`make bench`, the first sync of 2,000
 * messages on loopback, three runs in turns): our CPU 0.59-0.77 s against
 * 1.18-1.22 s always compressed, wall time 2.53-3.68 s against 2.90-3.62
 * s (medians 2.95 and 3.51 s); 690 of 750 segments stored in one run. */
#define ADAPT_BACKLOG (ADAPT_SEGMENT / 4)

/* Puts out what changing deflate's parameters flushes (deflateParams()
 * ends the current block). */
static int
deflate_params(struct conn *c, int level, int strategy, bool queue,
    struct err *err)
{
	struct zstate *z = c->z;
	int r = Z_BUF_ERROR;

	for (int i = 0; i < 64 && r == Z_BUF_ERROR; i++) {
		size_t len;
		z->out.next_out = z->wout;
		z->out.avail_out = sizeof(z->wout);
		r = deflateParams(&z->out, level, strategy);
		len = sizeof(z->wout) - z->out.avail_out;
		z->wire_out += len;
		/* The block it ended may leave bits in zlib: the next
		 * flush must sync. */
		if (len > 0)
			z->out_pending = true;
		if (len > 0 && queue)
			conn_wq_append(c, (const char *)z->wout, len);
		else if (len > 0 && conn_raw_write(c, (const char *)z->wout,
		    len, err) < 0)
			return -1;
	}
	return r == Z_OK ? 1 : 0;
}

/* Whether the network is what holds our output back (ADAPT_BACKLOG):
 * the TCP socket holds that much unsent (Linux: SIOCOUTQNSD; the bytes in
 * flight do not count: a long round trip makes many however fast the
 * link), and the peer's receive window was not what kept it for half of
 * the time the connection had data to send (TCP_INFO: then the peer's
 * reading is the bottleneck). Unknown (a tunnel's pipe or socket, another
 * system): yes, compression as always. */
static bool
link_bound(const struct conn *c)
{
#ifdef SIOCOUTQNSD
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int unsent = 0;

	if (!c->tcp || ioctl(c->fd, SIOCOUTQNSD, &unsent) != 0)
		return true;
	if (unsent >= 0 && unsent < ADAPT_BACKLOG)
		return false;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_rwnd_limited) +
	    sizeof(ti.tcpi_rwnd_limited))
		return true;
	return ti.tcpi_busy_time == 0 ||
	    ti.tcpi_rwnd_limited * 2 < ti.tcpi_busy_time;
#else
	(void)c;
	return true;
#endif
}

/* At the end of each segment: stored blocks unless the network holds
 * our output back; else Huffman codes alone while the data does not
 * compress (what string matching would find is not worth its CPU),
 * string matching again once it does. */
static int
adapt(struct conn *c, bool queue, struct err *err)
{
	struct zstate *z = c->z;
	unsigned long long raw = z->raw_out - z->seg_raw;
	bool stored, huffman = z->huffman;
	int r;

	if (raw < ADAPT_SEGMENT)
		return 0;
	/* (a stored segment says nothing of how the data compresses) */
	if (!z->stored) {
		double ratio = (double)(z->wire_out - z->seg_wire) /
		    (double)raw;
		huffman = z->huffman ? ratio >= ADAPT_TO_MATCHING
				     : ratio > ADAPT_TO_HUFFMAN;
	}
	stored = !link_bound(c);
	if (stored != z->stored || huffman != z->huffman) {
		r = deflate_params(c, stored ? 0 : Z_DEFAULT_COMPRESSION,
		    huffman ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY, queue, err);
		if (r < 0)
			return -1;
		/* A change zlib could not make is tried again later. */
		if (r > 0) {
			z->stored = stored;
			z->huffman = huffman;
		}
	}
	z->seg_raw = z->raw_out;
	z->seg_wire = z->wire_out;
	return 0;
}

/* Compresses n bytes and sends the output as it comes. Z_NO_FLUSH lets
 * zlib keep data for better compression (used when the output buffer
 * overflows); Z_SYNC_FLUSH pushes out everything with an empty stored
 * block at the end, so the peer can decode all of it now (RFC 4978 §4:
 * needed before we wait for a response, or the server would wait too). */
int
conn_deflate_write(struct conn *c, const char *p, size_t n, bool sync,
    bool queue, struct err *err)
{
	struct zstate *z = c->z;
	bool any = n > 0;
	int flush = sync ? Z_SYNC_FLUSH : Z_NO_FLUSH;

	do {
		/* In pieces of a segment: adapt() looks at each. */
		uInt chunk = n > ADAPT_SEGMENT ? ADAPT_SEGMENT : (uInt)n;
		int f = chunk == n ? flush : Z_NO_FLUSH;
		z->raw_out += chunk;
		z->out.next_in = (const Bytef *)p;
		z->out.avail_in = chunk;
		p += chunk;
		n -= chunk;
		/* Per zlib's contract, until all input is taken and the flush
		 * did not fill the output space. */
		do {
			size_t len;
			int r;
			z->out.next_out = z->wout;
			z->out.avail_out = sizeof(z->wout);
			r = deflate(&z->out, f);
			/* Z_BUF_ERROR only says no progress was possible. */
			if (r != Z_OK && r != Z_BUF_ERROR)
				return err_set(err, ERR_INTERNAL,
				    "COMPRESS to %s: deflate error %d (%s)",
				    c->name, r, z->out.msg ? z->out.msg :
				    zError(r));
			len = sizeof(z->wout) - z->out.avail_out;
			z->wire_out += len;
			if (len > 0 && queue)
				conn_wq_append(c, (const char *)z->wout, len);
			else if (len > 0 && conn_raw_write(c,
			    (const char *)z->wout, len, err) < 0)
				return -1;
		} while (z->out.avail_in > 0 || z->out.avail_out == 0);
		if (f == Z_SYNC_FLUSH)
			z->out_pending = false;
		else if (any)
			z->out_pending = true;
		if (adapt(c, queue, err) < 0)
			return -1;
	} while (n > 0);
	return 0;
}

/* Marks the input side failed: the bytes inflated before the failure are
 * still delivered, then every read fails with this error. r is zlib's
 * code, Z_STREAM_END for data after the end of the stream. */
static void
inflate_broken(struct conn *c, int r)
{
	struct zstate *z = c->z;
	if (r == Z_MEM_ERROR)
		err_set(&z->ferr, ERR_SYS, "COMPRESS with %s: out of memory",
		    c->name);
	else if (r == Z_STREAM_END)
		err_set(&z->ferr, ERR_PROTO, "COMPRESS: corrupt data from %s: "
		    "data after the end of the compressed stream", c->name);
	else
		err_set(&z->ferr, ERR_PROTO, "COMPRESS: corrupt data from %s: "
		    "inflate error: %s", c->name, z->in.msg ? z->in.msg :
		    zError(r));
	z->broken = true;
	z->in_more = false;
}

int
conn_inflate(struct conn *c, enum inflate_mode mode, struct err *err)
{
	struct zstate *z = c->z;
	ssize_t n;

	c->rpos = c->rend = 0;
	for (;;) {
		if (!z->broken && (z->in.avail_in > 0 || z->in_more)) {
			size_t got;
			int r;
			z->in.next_out = (Bytef *)c->in;
			z->in.avail_out = sizeof(c->in);
			r = inflate(&z->in, Z_SYNC_FLUSH);
			got = sizeof(c->in) - z->in.avail_out;
			z->raw_in += got;
			/* A full c->in may leave output inside zlib even with
			 * no input left: ask again next time. */
			z->in_more = z->in.avail_out == 0;
			if (r == Z_STREAM_END) {
				z->in_end = true;
				z->in_more = false;
				if (z->in.avail_in > 0)
					inflate_broken(c, r);
			} else if (r != Z_OK && r != Z_BUF_ERROR) {
				inflate_broken(c, r);
			}
			if (got > 0) {
				c->rend = got;
				return 1;
			}
			/* With output space, inflate stops short of the end
			 * of its input only on an error or the stream's end,
			 * both handled: all input is taken here. */
		}
		if (z->broken) {
			*err = z->ferr;
			return -1;
		}
		if (mode == INFLATE_NOREAD)
			return 0;
		n = mode == INFLATE_NB ?
		    conn_io_nb(c, IO_READ, z->wire, NULL, sizeof(z->wire), err) :
		    conn_io(c, IO_READ, z->wire, NULL, sizeof(z->wire), err);
		if (n <= 0)
			return (int)n;
		z->wire_in += (size_t)n;
		z->in.next_in = z->wire;
		z->in.avail_in = (uInt)n;
		if (z->in_end)
			inflate_broken(c, Z_STREAM_END);
	}
}

bool
conn_deflate_pending(const struct conn *c)
{
	return c->z->out_pending;
}

bool
conn_inflate_buffered(const struct conn *c)
{
	const struct zstate *z = c->z;
	return z->broken || z->in.avail_in > 0 || z->in_more;
}
