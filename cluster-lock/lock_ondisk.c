/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_ondisk.c: pure encode/decode of the HA LUN records (layout in
 * lock_ondisk.h). Decoding validates magic, version, kind, index, CRC32C and
 * every field's range; anything else is LOCK_E_CORRUPT, which callers report
 * and never treat as a free record. No I/O, no clock.
 *
 * Byte offsets after the 16-byte prefix (all little-endian):
 *   header: 16 cluster[64]  80 uuid[16]  96 u16 tag  98 u16 0
 *           100 u32 layout_version  104 u32 block_size  108 u32 max_hosts
 *           112 u32 max_leases  116 u32 hb_interval_ms  120 u64 slot_lba
 *           128 u64 lease_lba  136 u32 fail_after_ms  140 u32 0
 *           144 i64 formatted_wall                              (152 bytes)
 *   slot:   16 u16 host_id  18 u16 state  20 u32 incarnation  24 u64 counter
 *           32 u32 hb_interval_ms  36 u32 fail_after_ms  40 u16 fenced_by
 *           42 u16 0  44 u32 fence_epoch  48 u64 fenced_boot_ns  56 i64 wall
 *           64 host_name[64]                                    (128 bytes)
 *   lease:  16 vm[64]  80 vm_uuid[16]  96 u16 owner  98 u16 mig_src
 *           100 u16 mig_dst  102 u16 mig_phase  104 u32 owner_incarnation
 *           108 u32 fence_epoch  112 u64 lver  120 i64 wall      (128 bytes)
 */
#include <string.h>
#include <isa-l/crc.h>
#include "common/byteorder.h"
#include "cluster-lock/lock_ondisk.h"

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

uint32_t lock_crc32c(const uint8_t *p, size_t len)
{
	return ~crc32_iscsi((unsigned char *)p, (int)len, 0xFFFFFFFFu);
}

/* CRC of the block with the CRC field (bytes 8..11) taken as zero. */
static uint32_t block_crc(const uint8_t *blk, uint32_t bs)
{
	static const uint8_t zero[4];
	uint32_t c = crc32_iscsi((unsigned char *)blk, 8, 0xFFFFFFFFu);
	c = crc32_iscsi((unsigned char *)zero, 4, c);
	return ~crc32_iscsi((unsigned char *)blk + 12, (int)bs - 12, c);
}

static void prefix_put(uint8_t *blk, uint32_t bs, uint16_t kind, uint32_t index)
{
	memset(blk, 0, bs);
	put_le32(blk, LOCK_MAGIC);
	put_le16(blk + 4, LOCK_VERSION);
	put_le16(blk + 6, kind);
	put_le32(blk + 12, index);
}

static void seal(uint8_t *blk, uint32_t bs)
{
	put_le32(blk + 8, block_crc(blk, bs));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int prefix_check(const uint8_t *blk, uint32_t bs, uint16_t kind, uint32_t index)
{
	if (!lock_block_size_ok(bs) || get_le32(blk) != LOCK_MAGIC)
		return LOCK_E_CORRUPT;
	if (get_le16(blk + 4) != LOCK_VERSION || get_le16(blk + 6) != kind)
		return LOCK_E_CORRUPT;
	if (get_le32(blk + 12) != index || get_le32(blk + 8) != block_crc(blk, bs))
		return LOCK_E_CORRUPT;
	return 0;
}

/* A name field must hold a NUL and nothing but zeros after it. */
static int name_get(char *dst, const uint8_t *src)
{
	const uint8_t *nul = memchr(src, 0, LOCK_NAME_MAX);
	if (!nul || !all_zero(nul, (size_t)(src + LOCK_NAME_MAX - nul)))
		return LOCK_E_CORRUPT;
	memcpy(dst, src, LOCK_NAME_MAX);
	return 0;
}

static void name_put(uint8_t *dst, const char *src)
{
	size_t n = strnlen(src, LOCK_NAME_MAX - 1);
	memcpy(dst, src, n);
}

/* ---- header ---- */
void lock_header_encode(const struct lock_header *h, uint8_t *blk, uint32_t bs)
{
	prefix_put(blk, bs, LOCK_KIND_HEADER, 0);
	name_put(blk + 16, h->cluster);
	memcpy(blk + 80, h->uuid, 16);
	put_le16(blk + 96, h->tag);
	put_le32(blk + 100, h->layout_version);
	put_le32(blk + 104, h->block_size);
	put_le32(blk + 108, h->max_hosts);
	put_le32(blk + 112, h->max_leases);
	put_le32(blk + 116, h->hb_interval_ms);
	put_le64(blk + 120, h->slot_lba);
	put_le64(blk + 128, h->lease_lba);
	put_le32(blk + 136, h->fail_after_ms);
	put_le64(blk + 144, (uint64_t)h->formatted_wall);
	seal(blk, bs);
}

static void header_fields(const uint8_t *blk, struct lock_header *h)
{
	memcpy(h->uuid, blk + 80, 16);
	h->tag = get_le16(blk + 96);
	h->layout_version = get_le32(blk + 100);
	h->block_size = get_le32(blk + 104);
	h->max_hosts = get_le32(blk + 108);
	h->max_leases = get_le32(blk + 112);
	h->hb_interval_ms = get_le32(blk + 116);
	h->slot_lba = get_le64(blk + 120);
	h->lease_lba = get_le64(blk + 128);
	h->fail_after_ms = get_le32(blk + 136);
	h->formatted_wall = (int64_t)get_le64(blk + 144);
}

/* The layout this code reads is fixed; a header describing another one is
 * corrupt (or from a future version, which the version field catches). */
static int header_valid(const struct lock_header *h, const uint8_t *blk, uint32_t bs)
{
	if (h->tag == 0 || h->layout_version != LOCK_VERSION || h->block_size != bs)
		return LOCK_E_CORRUPT;
	if (h->max_hosts != LOCK_MAX_HOSTS || h->max_leases != LOCK_MAX_LEASES)
		return LOCK_E_CORRUPT;
	if (h->slot_lba != LOCK_SLOT_LBA || h->lease_lba != LOCK_LEASE_LBA)
		return LOCK_E_CORRUPT;
	if (get_le16(blk + 98) || get_le32(blk + 140) || h->cluster[0] == 0)
		return LOCK_E_CORRUPT;
	return 0;
}

int lock_header_decode(const uint8_t *blk, uint32_t bs, const char *cluster,
		       struct lock_header *out)
{
	memset(out, 0, sizeof(*out)); /* padding too: decoded records compare with memcmp */
	if (lock_block_size_ok(bs) && all_zero(blk, bs))
		return LOCK_E_UNFORMATTED;
	int rc = prefix_check(blk, bs, LOCK_KIND_HEADER, 0);
	if (!rc)
		rc = name_get(out->cluster, blk + 16);
	if (rc)
		return rc;
	header_fields(blk, out);
	rc = header_valid(out, blk, bs);
	if (!rc && cluster && strcmp(cluster, out->cluster) != 0)
		return LOCK_E_FOREIGN;
	return rc;
}

/* ---- slot ---- */
void lock_slot_encode(const struct lock_slot *s, uint8_t *blk, uint32_t bs)
{
	prefix_put(blk, bs, LOCK_KIND_SLOT, s->host_id);
	put_le16(blk + 16, s->host_id);
	put_le16(blk + 18, s->state);
	put_le32(blk + 20, s->incarnation);
	put_le64(blk + 24, s->counter);
	put_le32(blk + 32, s->hb_interval_ms);
	put_le32(blk + 36, s->fail_after_ms);
	put_le16(blk + 40, s->fenced_by);
	put_le32(blk + 44, s->fence_epoch);
	put_le64(blk + 48, s->fenced_boot_ns);
	put_le64(blk + 56, (uint64_t)s->wall);
	name_put(blk + 64, s->host_name);
	seal(blk, bs);
}

int lock_slot_decode(const uint8_t *blk, uint32_t bs, uint16_t host_id, struct lock_slot *out)
{
	memset(out, 0, sizeof(*out));
	int rc = prefix_check(blk, bs, LOCK_KIND_SLOT, host_id);
	if (!rc)
		rc = name_get(out->host_name, blk + 64);
	if (rc)
		return rc;
	out->host_id = get_le16(blk + 16);
	out->state = get_le16(blk + 18);
	out->incarnation = get_le32(blk + 20);
	out->counter = get_le64(blk + 24);
	out->hb_interval_ms = get_le32(blk + 32);
	out->fail_after_ms = get_le32(blk + 36);
	out->fenced_by = get_le16(blk + 40);
	out->fence_epoch = get_le32(blk + 44);
	out->fenced_boot_ns = get_le64(blk + 48);
	out->wall = (int64_t)get_le64(blk + 56);
	if (out->host_id != host_id || out->state > LOCK_SLOT_LEFT || get_le16(blk + 42) ||
	    out->fenced_by > LOCK_MAX_HOSTS)
		return LOCK_E_CORRUPT;
	return 0;
}

/* ---- lease ---- */
void lock_lease_encode(const struct lock_lease *l, uint32_t index, uint8_t *blk, uint32_t bs)
{
	prefix_put(blk, bs, LOCK_KIND_LEASE, index);
	name_put(blk + 16, l->vm);
	memcpy(blk + 80, l->vm_uuid, 16);
	put_le16(blk + 96, l->owner);
	put_le16(blk + 98, l->mig_src);
	put_le16(blk + 100, l->mig_dst);
	put_le16(blk + 102, l->mig_phase);
	put_le32(blk + 104, l->owner_incarnation);
	put_le32(blk + 108, l->fence_epoch);
	put_le64(blk + 112, l->lver);
	put_le64(blk + 120, (uint64_t)l->wall);
	seal(blk, bs);
}

int lock_lease_decode(const uint8_t *blk, uint32_t bs, uint32_t index, struct lock_lease *out)
{
	memset(out, 0, sizeof(*out));
	int rc = prefix_check(blk, bs, LOCK_KIND_LEASE, index);
	if (!rc)
		rc = name_get(out->vm, blk + 16);
	if (rc)
		return rc;
	memcpy(out->vm_uuid, blk + 80, 16);
	out->owner = get_le16(blk + 96);
	out->mig_src = get_le16(blk + 98);
	out->mig_dst = get_le16(blk + 100);
	out->mig_phase = get_le16(blk + 102);
	out->owner_incarnation = get_le32(blk + 104);
	out->fence_epoch = get_le32(blk + 108);
	out->lver = get_le64(blk + 112);
	out->wall = (int64_t)get_le64(blk + 120);
	if (out->mig_phase > LOCK_MIG_ACTIVE || out->owner > LOCK_MAX_HOSTS ||
	    out->mig_src > LOCK_MAX_HOSTS || out->mig_dst > LOCK_MAX_HOSTS)
		return LOCK_E_CORRUPT;
	return 0;
}

void lock_slot_free(struct lock_slot *s, uint16_t host_id)
{
	memset(s, 0, sizeof(*s));
	s->host_id = host_id;
	s->state = LOCK_SLOT_FREE;
}

void lock_lease_free(struct lock_lease *l)
{
	memset(l, 0, sizeof(*l));
}

uint16_t lock_tag_from_uuid(const uint8_t uuid[16])
{
	uint16_t t = (uint16_t)(lock_crc32c(uuid, 16) & 0xFFFF);
	return t ? t : 1;
}

const char *lock_slot_state_name(uint16_t state)
{
	static const char *const names[] = { "free",    "joined", "leaving",
					     "fencing", "fenced", "left" };
	return state <= LOCK_SLOT_LEFT ? names[state] : "?";
}
