/* SPDX-License-Identifier: Apache-2.0 */
/* RAID formatting guard (issue 11): create = yes makes a new array only
 * where no member carries a superblock; this refuses it when a member file
 * holds data anyway (its superblocks were lost, or it is someone else's
 * disk image) unless force_new. "Holds data" is a non-zero byte in the
 * first 64 MiB of the file's mapped extents (SEEK_DATA skips holes), as for
 * thin pools (lun_thin_format.c): file systems, partition tables and a
 * RAID's own data start there.
 *
 * Not for: the superblock format (lun_raid_sb.c) or assembly (lun_raid.c).
 */
#include "lun-backends/raid/lun_raid.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_BUDGET ((off_t)64 << 20)
#define SCAN_PIECE  ((size_t)1 << 20)

/* Offset of the first non-zero byte of buf[0, n), or -1. */
static off_t first_nonzero(const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i])
			return (off_t)i;
	return -1;
}

/* The first non-zero byte of fd within the scan budget, or -1. */
static off_t file_data_at(int fd, uint8_t *buf)
{
	off_t off = 0, budget = SCAN_BUDGET;
	while (budget > 0) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			return -1; /* ENXIO: only holes after off */
		ssize_t n = pread(fd, buf, SCAN_PIECE, d);
		if (n <= 0)
			return -1;
		off_t at = first_nonzero(buf, (size_t)n);
		if (at >= 0)
			return d + at;
		off = d + n;
		budget -= n;
	}
	return -1;
}

int lun_raid_members_in_use(const char *const *paths, int n, char *why, size_t whylen)
{
	uint8_t *buf = malloc(SCAN_PIECE);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (int i = 0; i < n && !r; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		off_t at = fd < 0 ? -1 : file_data_at(fd, buf);
		if (fd >= 0)
			close(fd);
		if (at < 0)
			continue;
		snprintf(why, whylen,
			 "member %s holds data (a non-zero byte at offset %lld) but no member "
			 "carries a kura RAID superblock: refusing to create a new array over it "
			 "(force_new = yes in the [raid] section formats it)",
			 paths[i], (long long)at);
		r = 1;
	}
	free(buf);
	return r;
}
