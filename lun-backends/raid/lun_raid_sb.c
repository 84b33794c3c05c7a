/* SPDX-License-Identifier: Apache-2.0 */
/* RAID superblock records: encoding, decoding and the two-copy write rule.
 *
 * Each member keeps two copies of its record, at member offsets 0 and
 * RAID_SB_SLOT; a record with sequence number seq goes to copy (seq & 1), so
 * a write torn by a crash can only damage the copy being replaced and the
 * other one (seq - 1) stays valid. Readers take the valid copy with the
 * higher seq. The record (little-endian, checksummed with CRC32C over the
 * encoded bytes, checksum in the last 4 bytes):
 *
 *   0 magic "KURARAID"   8 version u32     12 length u32 (4 KiB multiple)
 *  16 array uuid[16]    32 device uuid[16]
 *  48 level u32         52 chunk u32      56 nmembers u32   60 role u32 (~0 = spare)
 *  64 events u64        72 seq u64        80 state u32 (1 dirty, 2 degraded)
 *  84 block size u32    88 data offset u64 96 data size u64 (per member)
 * 104 region size u64  112 nregions u32  116..127 reserved (zero)
 * 128 role table: 32 x { state u32, reserved u32, recovery row u64, device uuid[16] }
 * 1152 write-intent bitmap, (nregions + 7) / 8 bytes, bit r = region r dirty
 *
 * Also the blocking I/O helper used at create / assemble / clean close time.
 * Not for: deciding what goes into the record (lun_raid.c, lun_raid_meta.c).
 */
#include "lun-backends/raid/lun_raid_internal.h"
#include "common/byteorder.h"
#include "common/kbuf.h"
#include "common/log.h"
#include <errno.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>

#define SB_MAGIC_BYTES "KURARAID"
#define SB_VERSION     1u
#define SB_TABLE       128u
#define SB_ENTRY       32u
#define SB_BITMAP      (SB_TABLE + SB_ENTRY * LUN_RAID_MAX_MEMBERS)
#define SB_MAX_DATA    ((uint64_t)1 << 57) /* per member: 32 of them still fit in 64 bits */

size_t raid_sb_len(uint32_t nregions)
{
	size_t raw = SB_BITMAP + ((size_t)nregions + 7u) / 8u + 4u; /* no 32-bit wrap */
	return (raw + 4095u) & ~(size_t)4095u;
}

static uint32_t sb_crc(const uint8_t *buf, size_t len)
{
	return crc32_iscsi((unsigned char *)buf, (int)len, 0xffffffffu);
}

static void sb_encode_table(const struct raid_sb *sb, uint8_t *buf)
{
	for (uint32_t i = 0; i < LUN_RAID_MAX_MEMBERS; i++) {
		uint8_t *e = buf + SB_TABLE + i * SB_ENTRY;
		put_le32(e, sb->m[i].state);
		put_le64(e + 8, sb->m[i].recovery_row);
		memcpy(e + 16, sb->m[i].dev_uuid, 16);
	}
}

void raid_sb_encode(const struct raid_sb *sb, uint8_t *buf)
{
	size_t len = raid_sb_len(sb->nregions);
	memset(buf, 0, len);
	memcpy(buf, SB_MAGIC_BYTES, 8);
	put_le32(buf + 8, SB_VERSION);
	put_le32(buf + 12, (uint32_t)len);
	memcpy(buf + 16, sb->uuid, 16);
	memcpy(buf + 32, sb->dev_uuid, 16);
	put_le32(buf + 48, sb->level);
	put_le32(buf + 52, sb->chunk);
	put_le32(buf + 56, sb->nmembers);
	put_le32(buf + 60, sb->role);
	put_le64(buf + 64, sb->events);
	put_le64(buf + 72, sb->seq);
	put_le32(buf + 80, sb->state_flags);
	put_le32(buf + 84, sb->block_size);
	put_le64(buf + 88, sb->data_offset);
	put_le64(buf + 96, sb->data_size);
	put_le64(buf + 104, sb->region_size);
	put_le32(buf + 112, sb->nregions);
	sb_encode_table(sb, buf);
	memcpy(buf + SB_BITMAP, sb->bitmap, (sb->nregions + 7u) / 8u);
	put_le32(buf + len - 4, sb_crc(buf, len - 4));
}

/* Members a level needs at least (as create requires), 0 for no such level. */
static uint32_t sb_min_members(uint32_t level)
{
	switch (level) {
	case 0:
	case 1:
	case 10: return 2;
	case 5: return 3;
	case 6: return 4;
	default: return 0;
	}
}

/* What assembly derives sizes and bitmap indexes from must be what create
 * could have written: a record with a valid CRC but inconsistent geometry
 * (nregions short of data_size / region_size, data past 2^64) would
 * otherwise index the write-intent bitmap out of bounds (fuzz_raid_sb). */
static int sb_check_geometry(const struct raid_sb *sb)
{
	if (sb->region_size < sb->chunk || sb->data_size > SB_MAX_DATA ||
	    sb->data_offset > SB_MAX_DATA || sb->data_offset < 2 * RAID_SB_SLOT)
		return -EINVAL;
	if (sb->nregions != (sb->data_size + sb->region_size - 1) / sb->region_size)
		return -EINVAL;
	for (uint32_t i = 0; i < sb->nmembers; i++)
		if (sb->m[i].recovery_row > sb->data_size / sb->chunk)
			return -EINVAL;
	return 0;
}

static int sb_check_fields(const struct raid_sb *sb)
{
	bool pow2 = sb->chunk >= 4096 && sb->chunk <= (4u << 20) &&
		    (sb->chunk & (sb->chunk - 1)) == 0;
	uint32_t min = sb_min_members(sb->level);
	if (!pow2 || !min || sb->nmembers < min || sb->nmembers > LUN_RAID_MAX_MEMBERS)
		return -EINVAL;
	if (sb->role != RAID_ROLE_SPARE && sb->role >= sb->nmembers)
		return -EINVAL;
	if (sb->block_size != 512 && sb->block_size != 4096)
		return -EINVAL;
	if (sb->data_size % sb->chunk)
		return -EINVAL;
	return sb_check_geometry(sb);
}

static void sb_decode_fields(const uint8_t *buf, struct raid_sb *sb)
{
	memcpy(sb->uuid, buf + 16, 16);
	memcpy(sb->dev_uuid, buf + 32, 16);
	sb->level = get_le32(buf + 48);
	sb->chunk = get_le32(buf + 52);
	sb->nmembers = get_le32(buf + 56);
	sb->role = get_le32(buf + 60);
	sb->events = get_le64(buf + 64);
	sb->seq = get_le64(buf + 72);
	sb->state_flags = get_le32(buf + 80);
	sb->block_size = get_le32(buf + 84);
	sb->data_offset = get_le64(buf + 88);
	sb->data_size = get_le64(buf + 96);
	sb->region_size = get_le64(buf + 104);
	sb->nregions = get_le32(buf + 112);
	for (uint32_t i = 0; i < LUN_RAID_MAX_MEMBERS; i++) {
		const uint8_t *e = buf + SB_TABLE + i * SB_ENTRY;
		sb->m[i].state = get_le32(e);
		sb->m[i].recovery_row = get_le64(e + 8);
		memcpy(sb->m[i].dev_uuid, e + 16, 16);
	}
}

int raid_sb_decode(const uint8_t *buf, size_t len, struct raid_sb *sb)
{
	if (len < 4096 || memcmp(buf, SB_MAGIC_BYTES, 8) != 0 || get_le32(buf + 8) != SB_VERSION)
		return -EINVAL;
	uint32_t rlen = get_le32(buf + 12);
	if (rlen < 4096 || rlen > len || rlen % 4096)
		return -EINVAL;
	if (get_le32(buf + rlen - 4) != sb_crc(buf, rlen - 4))
		return -EBADMSG;
	memset(sb, 0, sizeof(*sb));
	sb_decode_fields(buf, sb);
	if (raid_sb_len(sb->nregions) != rlen)
		return -EINVAL;
	memcpy(sb->bitmap, buf + SB_BITMAP, (sb->nregions + 7u) / 8u);
	return sb_check_fields(sb);
}

/* ---- blocking I/O through a member backend ---- */

static void sync_done(struct lun_io *io)
{
	kloop_stop(io->loop);
}

int raid_sync_io(struct lun_backend *be, enum lun_op op, unsigned flags, uint64_t off, void *buf,
		 uint64_t len)
{
	struct kloop *l = kloop_new(8);
	if (!l)
		return -ENOMEM;
	struct iovec iov = { buf, len };
	struct lun_io io = { .op = op,
			     .flags = flags,
			     .offset = off,
			     .length = len,
			     .iov = buf ? &iov : NULL,
			     .iovcnt = buf ? 1 : 0,
			     .loop = l,
			     .done = sync_done };
	lun_submit(be, &io);
	int r = kloop_run(l);
	kloop_free(l);
	return r < 0 ? r : io.result;
}

/* One copy did not decode. A copy that still says "KURARAID" was damaged
 * (or torn by a crash mid-write: the other copy is then one seq older and
 * complete); either way nothing is lost, the next two metadata writes
 * rewrite it, and assembly merges every member's newest bitmap. */
static void sb_copy_damage(const uint8_t *bad, int copy, uint64_t seq)
{
	if (!memcmp(bad, SB_MAGIC_BYTES, 8))
		kwarn("raid: superblock copy %d (offset %llu) damaged or torn; using copy %d "
		      "(seq %llu)",
		      copy, (unsigned long long)copy * RAID_SB_SLOT, copy ^ 1,
		      (unsigned long long)seq);
}

int raid_sb_read(struct lun_backend *be, struct raid_sb *sb)
{
	uint8_t *buf = kbuf_alloc(2 * RAID_SB_SLOT);
	struct raid_sb *other = malloc(sizeof(*other));
	int r = buf && other ? raid_sync_io(be, LUN_OP_READ, 0, 0, buf, 2 * RAID_SB_SLOT) : -ENOMEM;
	if (r == 0) {
		int a = raid_sb_decode(buf, RAID_SB_SLOT, sb);
		int b = raid_sb_decode(buf + RAID_SB_SLOT, RAID_SB_SLOT, other);
		if (b == 0 && (a < 0 || other->seq > sb->seq))
			memcpy(sb, other, sizeof(*sb));
		r = a == 0 || b == 0 ? 0 : a;
		if ((a == 0) != (b == 0))
			sb_copy_damage(a ? buf : buf + RAID_SB_SLOT, a ? 0 : 1, sb->seq);
	}
	kbuf_free(buf);
	free(other);
	return r;
}

int raid_sb_write_sync(struct lun_backend *be, const struct raid_sb *sb)
{
	size_t len = raid_sb_len(sb->nregions);
	uint8_t *buf = kbuf_alloc(len);
	if (!buf)
		return -ENOMEM;
	raid_sb_encode(sb, buf);
	int r = raid_sync_io(be, LUN_OP_WRITE, LUN_IO_FUA, (sb->seq & 1) * RAID_SB_SLOT, buf, len);
	kbuf_free(buf);
	return r;
}
