#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perl_state.h"

/* A statefile holds one UID per message delivered by an interrupted run:
 * far below this even for a huge mailbox. */
#define MAX_SIZE (64u << 20)

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
perl_state_parse(const char *name, const unsigned char *buf, size_t len,
    struct perl_state *ps, struct err *err)
{
	memset(ps, 0, sizeof(*ps));
	if (len == 0 || len % 4 != 0)
		return err_set(err, ERR_DB,
		    "%s: not a statefile of the Perl pullimap (size %zu is "
		    "not a positive multiple of 4 bytes)", name, len);
	ps->uidvalidity = be32(buf);
	/* The reference writes UIDNEXT = 1 right after UIDVALIDITY. */
	ps->uidnext = len >= 8 ? be32(buf + 4) : 1;
	if (ps->uidvalidity == 0 || ps->uidnext == 0)
		return err_set(err, ERR_DB,
		    "%s: corrupt statefile of the Perl pullimap (zero "
		    "UIDVALIDITY or UIDNEXT)", name);
	if (len > 8) {
		ps->npending = (len - 8) / 4;
		ps->pending = xcalloc(ps->npending, sizeof(*ps->pending));
		for (size_t i = 0; i < ps->npending; i++) {
			ps->pending[i] = be32(buf + 8 + 4 * i);
			if (ps->pending[i] == 0) {
				perl_state_free(ps);
				return err_set(err, ERR_DB,
				    "%s: corrupt statefile of the Perl "
				    "pullimap (pending UID 0 at offset %zu)",
				    name, 8 + 4 * i);
			}
		}
	}
	return 0;
}

int
perl_state_read(const char *path, struct perl_state *ps, struct err *err)
{
	struct stat sb;
	unsigned char *buf;
	size_t len, got = 0;
	int fd, rc;

	memset(ps, 0, sizeof(*ps));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, ERR_SYS, "cannot open %s", path);
	if (fstat(fd, &sb) < 0) {
		err_sys(err, ERR_SYS, "cannot stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > MAX_SIZE) {
		close(fd);
		return err_set(err, ERR_DB, "%s: not a statefile of the Perl "
		    "pullimap (not a regular file, or larger than %u bytes)",
		    path, MAX_SIZE);
	}
	len = (size_t)sb.st_size;
	buf = xmalloc(len ? len : 1);
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* shrank while we read it */
			err_sys(err, ERR_SYS, "cannot read %s", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	rc = perl_state_parse(path, buf, len, ps, err);
	free(buf);
	return rc;
}

int
perl_state_detect(const char *path, struct err *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, ERR_SYS, "cannot open state file %s", path);
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 0)
		return err_sys(err, ERR_SYS, "cannot read state file %s", path);
	if (n == 0 || (n == (ssize_t)sizeof(head) &&
			  memcmp(head, magic, sizeof(magic)) == 0))
		return 0;
	return 1;
}

void
perl_state_free(struct perl_state *ps)
{
	free(ps->pending);
	memset(ps, 0, sizeof(*ps));
}
