/*
 * checkpoint.h - a small state file written atomically and read back whole: the bytes a
 * caller hands over, framed with a magic, a version, the length and a CRC-32, written to a
 * temporary file, fsync'd and renamed over the old one (then the directory fsync'd), so a
 * reader sees the old state or the new one, never a mix. No knowledge of what the bytes mean.
 * Any thread; one writer per path.
 */
#ifndef CDCTOP_CHECKPOINT_H
#define CDCTOP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

enum {
	CKPT_MISSING = -2, /* no file at the path: not an error, nothing saved yet */
	CKPT_DAMAGED = -3, /* present but truncated, corrupted or of another version */
};

/* Replaces the file at path with data (creating its directory, mode 0700). -1 with err. */
int ckpt_write(const char *path, const void *data, size_t len, char *err);
/* Reads the file at path: 0 with *data (caller frees) and *len; CKPT_MISSING; CKPT_DAMAGED
   or -1 (unreadable) with err naming the file and the problem. */
int ckpt_read(const char *path, void **data, size_t *len, char *err);
/* CRC-32 (IEEE, as zlib's crc32) of n bytes, continuing from crc (0 to start). */
uint32_t ckpt_crc32(uint32_t crc, const void *p, size_t n);

#endif
