/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_ondisk.h: byte layout of the HA LUN (internal to cluster-lock/).
 * Pure encode/decode of the three record kinds between struct lock_header /
 * lock_slot / lock_lease and one block of 512 or 4096 bytes. No I/O here.
 *
 * Every record occupies its own aligned block. Common prefix (little-endian):
 *   0  u32 magic  "KLCK" (0x4B434C4B)
 *   4  u16 version (1)
 *   6  u16 kind    (1 header, 2 slot, 3 lease)
 *   8  u32 CRC32C of the whole block with these 4 bytes zero
 *  12  u32 index   (0 header, host id of a slot, index of a lease)
 * The rest of the block after the record is zero and covered by the CRC,
 * so a flip of any bit of the block is detected (test_lock_ondisk).
 *
 * Blocks: 0 header; LOCK_SLOT_LBA + (id - 1) the slot of host id (1..64);
 * LOCK_LEASE_LBA + i lease i (0..255). Byte offsets of each kind are in
 * lock_ondisk.c and docs/cluster-lock.md.
 */
#ifndef KURA_LOCK_ONDISK_H
#define KURA_LOCK_ONDISK_H

#include <stdint.h>
#include "cluster-lock/lock.h"

#define LOCK_MAGIC        0x4B434C4Bu
#define LOCK_VERSION      1
#define LOCK_KIND_HEADER  1
#define LOCK_KIND_SLOT    2
#define LOCK_KIND_LEASE   3
#define LOCK_SLOT_LBA     1
#define LOCK_LEASE_LBA    (LOCK_SLOT_LBA + LOCK_MAX_HOSTS)
#define LOCK_TOTAL_BLOCKS (LOCK_LEASE_LBA + LOCK_MAX_LEASES)
#define LOCK_REC_BYTES    152 /* largest record; blocks are >= 512 */
#define LOCK_BLOCK_MAX    4096

_Static_assert(LOCK_REC_BYTES <= 512, "every record fits the smallest block");
_Static_assert(LOCK_LEASE_LBA == 65 && LOCK_TOTAL_BLOCKS == 321,
	       "the layout in docs/cluster-lock.md");

static inline uint64_t lock_slot_lba(uint16_t host_id)
{
	return LOCK_SLOT_LBA + host_id - 1u;
}
static inline uint64_t lock_lease_lba(uint32_t index)
{
	return LOCK_LEASE_LBA + index;
}
static inline int lock_block_size_ok(uint32_t bs)
{
	return bs == 512 || bs == 4096;
}

uint32_t lock_crc32c(const uint8_t *p, size_t len);

/* Encoders fill the whole block (bs bytes, zero padded, CRC set). */
void lock_header_encode(const struct lock_header *h, uint8_t *blk, uint32_t bs);
void lock_slot_encode(const struct lock_slot *s, uint8_t *blk, uint32_t bs);
void lock_lease_encode(const struct lock_lease *l, uint32_t index, uint8_t *blk, uint32_t bs);

/* Header: 0, LOCK_E_UNFORMATTED (all-zero block), LOCK_E_CORRUPT, or
 * LOCK_E_FOREIGN (valid header of another cluster than `cluster`; NULL
 * accepts any). out is filled whenever the record itself is valid. */
int lock_header_decode(const uint8_t *blk, uint32_t bs, const char *cluster,
		       struct lock_header *out);
/* Slot of host_id / lease at index: 0 or LOCK_E_CORRUPT. */
int lock_slot_decode(const uint8_t *blk, uint32_t bs, uint16_t host_id, struct lock_slot *out);
int lock_lease_decode(const uint8_t *blk, uint32_t bs, uint32_t index, struct lock_lease *out);

/* A free slot / lease as written by format. */
void lock_slot_free(struct lock_slot *s, uint16_t host_id);
void lock_lease_free(struct lock_lease *l);
uint16_t lock_tag_from_uuid(const uint8_t uuid[16]);
const char *lock_slot_state_name(uint16_t state);

#endif
