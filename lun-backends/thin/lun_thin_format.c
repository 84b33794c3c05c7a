/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool formatting guard (issue 11): a new pool is never written over a
 * data device that holds data, nor over an existing metadata file, unless
 * the caller says force_new; and force_new still never formats over a
 * metadata file that is a kura pool (delete it first, on purpose).
 *
 * "Holds data": a non-zero byte in the first 64 MiB of the device's mapped
 * extents (LUN_OP_BLOCK_STATUS skips holes; without it everything counts as
 * mapped). A pool allocates from chunk 0 upwards and never zeroes a freed
 * chunk, so a pool that was ever written has data there; so do file
 * systems, partition tables and LVM labels. The scan reads at most 64 MiB,
 * so it costs little even on a large new RAID array.
 *
 * Not for: the metadata format itself (lun_thin_meta.c, lun_thin_journal.c).
 */
#include "lun-backends/thin/lun_thin_internal.h"
#include "common/kbuf.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DATA_BUDGET ((uint64_t)64 << 20)
#define DATA_PIECE  ((uint64_t)1 << 20)

static void fmt_sync_done(struct lun_io *io)
{
	kloop_stop(io->loop);
}

/* Run io on a private loop and wait (control thread). */
static int fmt_sync_io(struct lun_backend *be, struct lun_io *io)
{
	struct kloop *l = kloop_new(8);
	if (!l)
		return -ENOMEM;
	io->loop = l;
	io->done = fmt_sync_done;
	lun_submit(be, io);
	int r = kloop_run(l);
	kloop_free(l);
	return r < 0 ? r : io->result;
}

/* Bytes of the extent at off and whether it is mapped (holes are skipped). */
static uint64_t data_extent(struct lun_backend *be, uint64_t off, uint64_t end, bool *mapped)
{
	struct lun_io io = { .op = LUN_OP_BLOCK_STATUS, .offset = off, .length = end - off };
	int r = fmt_sync_io(be, &io);
	*mapped = r < 0 || io.bs_mapped;
	uint64_t n = r < 0 || !io.bs_length ? end - off : io.bs_length;
	return n > end - off ? end - off : n;
}

static bool data_nonzero(const uint8_t *b, size_t n, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (b[i]) {
			*at = i;
			return true;
		}
	return false;
}

/* 1 and *where if data holds a non-zero byte in [0, bytes) within the scan
 * budget, 0 if not, -errno. */
static int data_in_use(struct lun_backend *be, uint64_t bytes, uint64_t *where)
{
	uint8_t *buf = kbuf_alloc(DATA_PIECE);
	if (!buf)
		return -ENOMEM;
	uint64_t off = 0, budget = DATA_BUDGET;
	int r = 0;
	while (!r && off < bytes && budget) {
		bool mapped;
		uint64_t n = data_extent(be, off, bytes, &mapped);
		n = n > DATA_PIECE ? DATA_PIECE : n;
		if (mapped) {
			n = n > budget ? budget : n;
			struct iovec iov = { buf, n };
			struct lun_io io = { .op = LUN_OP_READ,
					     .offset = off,
					     .length = n,
					     .iov = &iov,
					     .iovcnt = 1 };
			size_t at;
			r = fmt_sync_io(be, &io);
			if (!r && data_nonzero(buf, n, &at)) {
				*where = off + at;
				r = 1;
			}
			budget -= n;
		}
		off += n;
	}
	kbuf_free(buf);
	return r;
}

/* The data device may be formatted: it holds no data, or force_new. */
static int data_check(const struct lun_thin_pool_params *p, char *err, size_t errlen)
{
	uint64_t bytes = p->data_bytes ? p->data_bytes : p->data->size, where = 0;
	int r = p->force_new ? 0 : data_in_use(p->data, bytes, &where);
	if (r < 0)
		snprintf(err, errlen, "cannot read the data device: %s", strerror(-r));
	if (r > 0)
		snprintf(err, errlen,
			 "metadata file %s does not exist but the data device holds data "
			 "(a non-zero byte at offset %llu): refusing to format a new pool over "
			 "it; if the data is no longer needed, use --force-new (kura-targetctl "
			 "pool create) or force_new = yes ([pool] section)",
			 p->meta_path, (unsigned long long)where);
	return r > 0 ? -ENOTEMPTY : r;
}

/* An existing metadata file may be replaced: force_new and not a pool. */
static int meta_check(const struct lun_thin_pool_params *p, char *err, size_t errlen)
{
	int r = lun_thin_meta_probe(p->meta_path);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && p->force_new)
		return 1;
	snprintf(err, errlen,
		 r > 0    ? "cannot create %s: it is a kura thin pool's metadata file (delete it "
			    "first to format a new pool there)"
		 : r == 0 ? "cannot create %s: the file exists and is not a kura thin pool (use "
			    "--force-new to replace it)"
			  : "cannot create %s: %s",
		 p->meta_path, strerror(-r));
	return -EEXIST;
}

int thin_meta_create(struct lun_thin_pool *pool, const struct lun_thin_pool_params *p, char *err,
		     size_t errlen)
{
	int replace = meta_check(p, err, errlen);
	int r = replace < 0 ? replace : data_check(p, err, errlen);
	if (r < 0)
		return r;
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL);
	pool->fd = open(p->meta_path, flags, 0600);
	if (pool->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", p->meta_path, strerror(errno));
	}
	return r;
}

int thin_meta_open(struct lun_thin_pool *pool, const struct lun_thin_pool_params *p)
{
	pool->salvage = p->salvage;
	return open(p->meta_path, O_RDWR | O_CLOEXEC);
}
