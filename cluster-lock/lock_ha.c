/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_ha.c: the HA LUN handle: open/close, the default ops (lock_scsi
 * underneath), format, and reading the header, the slot table and the
 * lease table. Joining and heartbeats are in lock_join.c, fencing in
 * lock_fence.c, leases in lock_lease.c. Not for decisions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "common/log.h"
#include "cluster-lock/lock_internal.h"
#include "cluster-lock/lock_scsi.h"

#define IO_CHUNK 64 /* blocks per READ / WRITE of whole tables */

/* ---- default ops: the real LUN ---- */
static int ops_read(void *ctx, uint64_t lba, uint32_t n, uint8_t *buf)
{
	struct lock_ha *h = ctx;
	return lock_lun_read(h->lun, lba, n, buf);
}

static int ops_caw(void *ctx, uint64_t lba, const uint8_t *expect, const uint8_t *data)
{
	struct lock_ha *h = ctx;
	return lock_lun_caw(h->lun, lba, expect, data);
}

static int ops_preempt(void *ctx, struct lock_lun *lun, uint64_t my_key, uint64_t victim)
{
	struct lock_ha *h = ctx;
	if (lun && lock_lun_has_key(lun, my_key) == 0 && lock_lun_has_key(h->lun, my_key) != 1)
		return LOCK_E_FENCED; /* never register a key the HA LUN lost (I4) */
	return lock_pr_preempt(lun ? lun : h->lun, my_key, victim, lun != NULL);
}

static int ops_has_key(void *ctx, struct lock_lun *lun, uint64_t key)
{
	struct lock_ha *h = ctx;
	return lock_lun_has_key(lun ? lun : h->lun, key);
}

static uint64_t ops_now(void *ctx)
{
	return lock_now_boot_ns();
}

const struct lock_ops lock_scsi_ops = {
	.read = ops_read,
	.caw = ops_caw,
	.preempt = ops_preempt,
	.has_key = ops_has_key,
	.now_ns = ops_now,
};

int64_t lock_wall_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- open / close ---- */
static void ha_params(struct lock_ha *h, const struct lock_ha_params *p)
{
	snprintf(h->cluster, sizeof(h->cluster), "%s", p->cluster ? p->cluster : "");
	snprintf(h->host_name, sizeof(h->host_name), "%s", p->host_name ? p->host_name : "");
	h->host_id = p->host_id;
	h->hb_interval_ms = p->hb_interval_ms ? p->hb_interval_ms : 1000;
	h->fail_after_ms = p->fail_after_ms ? p->fail_after_ms : 10000;
	h->ops = &lock_scsi_ops;
	h->ops_ctx = h;
}

struct lock_ha *lock_ha_open(const struct lock_ha_params *p, int *err)
{
	if (!p->cluster || !p->cluster[0] || p->host_id > LOCK_MAX_HOSTS) {
		*err = -EINVAL;
		return NULL;
	}
	struct lock_ha *h = calloc(1, sizeof(*h));
	if (!h) {
		*err = -ENOMEM;
		return NULL;
	}
	ha_params(h, p);
	struct lock_lun_params lp = { .urls = p->urls,
				      .n_urls = p->n_urls,
				      .initiator = p->initiator,
				      .io_timeout_ms = p->io_timeout_ms ? p->io_timeout_ms
									: h->hb_interval_ms };
	h->lun = lock_lun_open(&lp, err);
	if (!h->lun) {
		free(h);
		return NULL;
	}
	return h;
}

void lock_ha_close(struct lock_ha *h)
{
	if (!h)
		return;
	lock_lun_close(h->lun);
	free(h);
}

struct lock_lun *lock_ha_lun(struct lock_ha *h)
{
	return h->lun;
}

/* A VM disk registration only while my key is on the HA LUN: a fenced host
 * never registers its key anywhere again (I4). */
int lock_ha_register_vm(struct lock_ha *h, struct lock_lun *vm)
{
	uint64_t key = lock_ha_key(h);
	if (!key)
		return -EINVAL;
	int has = lock_lun_has_key(h->lun, key);
	if (has != 1)
		return has == 0 ? LOCK_E_FENCED : has;
	return lock_lun_register(vm, key);
}

/* ---- reading ---- */
static int ha_block_size(struct lock_ha *h)
{
	if (h->bs)
		return 0;
	uint64_t blocks;
	int rc = lock_lun_geometry(h->lun, &h->bs, &blocks);
	if (rc)
		return rc;
	if (!lock_block_size_ok(h->bs) || blocks < LOCK_TOTAL_BLOCKS) {
		kerr("lock: HA LUN has %u-byte blocks x %llu: need 512 or 4096 x %u", h->bs,
		     (unsigned long long)blocks, LOCK_TOTAL_BLOCKS);
		h->bs = 0;
		return -EINVAL;
	}
	return 0;
}

int lock_ha_read_header(struct lock_ha *h, struct lock_header *out)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	int rc = h->bs ? 0 : ha_block_size(h);
	if (!rc)
		rc = h->ops->read(h->ops_ctx, 0, 1, blk);
	if (!rc)
		rc = lock_header_decode(blk, h->bs, h->cluster, out);
	return rc;
}

int lock_ha_hdr(struct lock_ha *h)
{
	if (h->have_hdr)
		return 0;
	int rc = lock_ha_read_header(h, &h->hdr);
	h->have_hdr = rc == 0;
	return rc;
}

uint64_t lock_ha_key_of(const struct lock_ha *h, uint16_t host_id, uint32_t incarnation)
{
	return lock_key(h->hdr.tag, host_id, incarnation);
}

int lock_ha_slot_read(struct lock_ha *h, uint16_t host_id, uint8_t *blk, struct lock_slot *s)
{
	int rc = lock_ha_hdr(h);
	if (!rc)
		rc = h->ops->read(h->ops_ctx, lock_slot_lba(host_id), 1, blk);
	return rc ? rc : lock_slot_decode(blk, h->bs, host_id, s);
}

int lock_ha_lease_read(struct lock_ha *h, uint32_t index, uint8_t *blk, struct lock_lease *l)
{
	int rc = lock_ha_hdr(h);
	if (!rc)
		rc = h->ops->read(h->ops_ctx, lock_lease_lba(index), 1, blk);
	return rc ? rc : lock_lease_decode(blk, h->bs, index, l);
}

/* Reads count blocks from lba in chunks and hands each block to fn. */
static int read_table(struct lock_ha *h, uint64_t lba, uint32_t count,
		      void (*fn)(struct lock_ha *, struct lock_image *, uint32_t, const uint8_t *),
		      struct lock_image *img)
{
	uint8_t *buf = malloc((size_t)IO_CHUNK * h->bs);
	int rc = buf ? 0 : -ENOMEM;
	for (uint32_t i = 0; !rc && i < count; i += IO_CHUNK) {
		uint32_t n = count - i < IO_CHUNK ? count - i : IO_CHUNK;
		rc = h->ops->read(h->ops_ctx, lba + i, n, buf);
		for (uint32_t j = 0; !rc && j < n; j++)
			fn(h, img, i + j, buf + (size_t)j * h->bs);
	}
	free(buf);
	return rc;
}

static void take_slot(struct lock_ha *h, struct lock_image *img, uint32_t i, const uint8_t *b)
{
	uint16_t id = (uint16_t)(i + 1);
	int rc = lock_slot_decode(b, h->bs, id, &img->slot[id]);
	img->slot_status[id] = rc ? LOCK_REC_CORRUPT : LOCK_REC_OK;
}

static void take_lease(struct lock_ha *h, struct lock_image *img, uint32_t i, const uint8_t *b)
{
	int rc = lock_lease_decode(b, h->bs, i, &img->lease[i]);
	img->lease_status[i] = rc ? LOCK_REC_CORRUPT : LOCK_REC_OK;
}

static void image_reset(struct lock_image *img)
{
	memset(img, 0, sizeof(*img));
	memset(img->slot_status, LOCK_REC_UNREAD, sizeof(img->slot_status));
	memset(img->lease_status, LOCK_REC_UNREAD, sizeof(img->lease_status));
}

int lock_ha_read_slots(struct lock_ha *h, struct lock_image *img)
{
	image_reset(img);
	int rc = lock_ha_hdr(h);
	if (rc)
		return rc;
	img->hdr = h->hdr;
	return read_table(h, LOCK_SLOT_LBA, LOCK_MAX_HOSTS, take_slot, img);
}

int lock_ha_read_all(struct lock_ha *h, struct lock_image *img)
{
	int rc = lock_ha_read_slots(h, img);
	return rc ? rc : read_table(h, LOCK_LEASE_LBA, LOCK_MAX_LEASES, take_lease, img);
}

int lock_ha_read_leases(struct lock_ha *h, struct lock_image *img)
{
	image_reset(img);
	int rc = lock_ha_hdr(h);
	if (rc)
		return rc;
	img->hdr = h->hdr;
	return read_table(h, LOCK_LEASE_LBA, LOCK_MAX_LEASES, take_lease, img);
}

int lock_image_lease(const struct lock_image *img, const char *vm)
{
	int corrupt = 0;
	for (uint32_t i = 0; i < LOCK_MAX_LEASES; i++) {
		if (img->lease_status[i] != LOCK_REC_OK)
			corrupt++;
		else if (vm[0] && !strcmp(img->lease[i].vm, vm))
			return (int)i;
	}
	return corrupt ? LOCK_E_CORRUPT : LOCK_E_NOTFOUND;
}

/* ---- format ---- */
static void new_header(struct lock_ha *h, struct lock_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	snprintf(hdr->cluster, sizeof(hdr->cluster), "%s", h->cluster);
	if (getrandom(hdr->uuid, sizeof(hdr->uuid), 0) != sizeof(hdr->uuid))
		for (int i = 0; i < 16; i++) /* never: getrandom of 16 bytes */
			hdr->uuid[i] ^= (uint8_t)(lock_now_boot_ns() >> (i % 8));
	hdr->uuid[6] = (hdr->uuid[6] & 0x0F) | 0x40; /* RFC 4122 version 4 */
	hdr->uuid[8] = (hdr->uuid[8] & 0x3F) | 0x80;
	hdr->tag = lock_tag_from_uuid(hdr->uuid);
	hdr->layout_version = LOCK_VERSION;
	hdr->block_size = h->bs;
	hdr->max_hosts = LOCK_MAX_HOSTS;
	hdr->max_leases = LOCK_MAX_LEASES;
	hdr->slot_lba = LOCK_SLOT_LBA;
	hdr->lease_lba = LOCK_LEASE_LBA;
	hdr->hb_interval_ms = h->hb_interval_ms;
	hdr->fail_after_ms = h->fail_after_ms;
	hdr->formatted_wall = lock_wall_now();
}

/* Free slots and leases, IO_CHUNK blocks per WRITE. */
static int write_tables(struct lock_ha *h, uint8_t *buf)
{
	int rc = 0;
	for (uint32_t i = 0; !rc && i < LOCK_MAX_HOSTS + LOCK_MAX_LEASES; i += IO_CHUNK) {
		for (uint32_t j = 0; j < IO_CHUNK; j++) {
			uint32_t k = i + j;
			struct lock_slot s;
			struct lock_lease l;
			uint8_t *b = buf + (size_t)j * h->bs;
			if (k < LOCK_MAX_HOSTS) {
				lock_slot_free(&s, (uint16_t)(k + 1));
				lock_slot_encode(&s, b, h->bs);
			} else {
				lock_lease_free(&l);
				lock_lease_encode(&l, k - LOCK_MAX_HOSTS, b, h->bs);
			}
		}
		rc = lock_lun_write(h->lun, LOCK_SLOT_LBA + i, IO_CHUNK, buf);
	}
	return rc;
}

/* Drops every registration and the reservation (the old cluster's keys are
 * meaningless under a new cluster tag): register a format key, CLEAR. */
static int clear_reservations(struct lock_ha *h, uint16_t tag)
{
	uint64_t key = lock_key(tag, 0, 1);
	int rc = lock_lun_register(h->lun, key);
	if (rc)
		return rc;
	struct lock_prout p = { .sa = LOCK_PR_CLEAR, .type = 0, .rk = key };
	return lock_lun_prout(h->lun, &p);
}

int lock_ha_format(struct lock_ha *h, bool force)
{
	struct lock_header old, hdr;
	int rc = lock_ha_read_header(h, &old);
	if (rc && rc != LOCK_E_UNFORMATTED &&
	    !(force && (rc == LOCK_E_FOREIGN || rc == LOCK_E_CORRUPT)))
		return rc;
	new_header(h, &hdr);
	rc = clear_reservations(h, hdr.tag);
	uint8_t *buf = rc ? NULL : calloc(IO_CHUNK, h->bs);
	if (!rc && !buf)
		rc = -ENOMEM;
	if (!rc) /* header zeroed first and written last: a torn format */
		rc = lock_lun_write(h->lun, 0, 1, buf); /* never looks formatted */
	if (!rc)
		rc = write_tables(h, buf);
	if (!rc) {
		lock_header_encode(&hdr, buf, h->bs);
		rc = lock_lun_write(h->lun, 0, 1, buf);
	}
	free(buf);
	h->have_hdr = false;
	return rc;
}
