/*
 * checkpoint.c - atomic state files: header (magic "CDCTCKPT", version, payload length,
 * CRC-32 of the payload), then the payload. Written to "<path>.tmp", fsync'd, renamed, and the
 * directory fsync'd; read back and checked whole. Never interprets the payload; never leaves
 * a half-written file under the final name.
 */
#include "checkpoint.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC   "CDCTCKPT"
#define CKPT_VERSION 1u
#define CKPT_MAX     (256u << 20) /* a checkpoint larger than this is not ours */

struct ckpt_head {
	char magic[8];
	uint32_t version, crc;
	uint64_t len;
};

uint32_t ckpt_crc32(uint32_t crc, const void *p, size_t n)
{
	static uint32_t tab[256];
	static int ready;
	if (!ready) { /* benign race: every thread computes the same table */
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			tab[i] = c;
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	const uint8_t *b = p;
	crc = ~crc;
	while (n--)
		crc = tab[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Creates dir and its parents (mode 0700) where missing. */
static int mkdirs(const char *dir, char *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return u_err(err, "cannot create %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return u_err(err, "cannot create %s: %s", p, strerror(errno));
	return 0;
}

/* Writes all n bytes. */
static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int ckpt_write(const char *path, const void *data, size_t len, char *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdirs(dir, err) < 0)
			return -1;
	} else {
		snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	struct ckpt_head h;
	memcpy(h.magic, CKPT_MAGIC, 8);
	h.version = CKPT_VERSION;
	h.len = len;
	h.crc = ckpt_crc32(0, data, len);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return u_err(err, "cannot write %s: %s", tmp, strerror(errno));
	if (write_all(fd, &h, sizeof h) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return u_err(err, "cannot write %s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return u_err(err, "cannot rename %s: %s", tmp, strerror(e));
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int ckpt_read(const char *path, void **data, size_t *len, char *err)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return CKPT_MISSING;
		return u_err(err, "cannot read checkpoint %s: %s", path, strerror(errno));
	}
	struct stat sb;
	struct ckpt_head h;
	ssize_t got = fstat(fd, &sb) < 0 ? -1 : read(fd, &h, sizeof h);
	if (got != (ssize_t)sizeof h || memcmp(h.magic, CKPT_MAGIC, 8) || h.version != CKPT_VERSION ||
	    h.len > CKPT_MAX || (uint64_t)sb.st_size != sizeof h + h.len) {
		close(fd);
		u_err(err, "checkpoint %s is damaged (%s)", path,
		      got != (ssize_t)sizeof h || memcmp(h.magic, CKPT_MAGIC, 8) ? "no valid header"
		      : h.version != CKPT_VERSION ? "another version"
						  : "truncated");
		return CKPT_DAMAGED;
	}
	void *buf = u_malloc(h.len ? h.len : 1);
	size_t at = 0;
	while (at < h.len) {
		ssize_t r = read(fd, (char *)buf + at, h.len - at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		at += (size_t)r;
	}
	close(fd);
	if (at != h.len || ckpt_crc32(0, buf, h.len) != h.crc) {
		free(buf);
		u_err(err, "checkpoint %s is damaged (%s)", path,
		      at != h.len ? "truncated" : "checksum mismatch");
		return CKPT_DAMAGED;
	}
	*data = buf;
	*len = h.len;
	return 0;
}
