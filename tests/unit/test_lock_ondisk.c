/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the HA LUN record codec (cluster-lock/lock_ondisk.c): round
 * trips of header, slot and lease at both block sizes; a flip of every bit
 * of every record kind is reported corrupt (never free, never foreign); torn
 * blocks, misplaced records, hostile fields; another cluster's header is
 * LOCK_E_FOREIGN, an all-zero block is unformatted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "cluster-lock/lock_ondisk.c"

static const uint32_t sizes[] = { 512, 4096 };

static void sample_header(struct lock_header *h, uint32_t bs)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->cluster, sizeof(h->cluster), "lab");
	for (int i = 0; i < 16; i++)
		h->uuid[i] = (uint8_t)(i * 17 + 3);
	h->tag = lock_tag_from_uuid(h->uuid);
	h->layout_version = LOCK_VERSION;
	h->block_size = bs;
	h->max_hosts = LOCK_MAX_HOSTS;
	h->max_leases = LOCK_MAX_LEASES;
	h->slot_lba = LOCK_SLOT_LBA;
	h->lease_lba = LOCK_LEASE_LBA;
	h->hb_interval_ms = 1000;
	h->fail_after_ms = 10000;
	h->formatted_wall = 1796000000;
}

static void sample_slot(struct lock_slot *s)
{
	memset(s, 0, sizeof(*s));
	s->host_id = 7;
	s->state = LOCK_SLOT_FENCED;
	s->incarnation = 0x01020304;
	s->counter = 0x1122334455667788ull;
	s->hb_interval_ms = 1000;
	s->fail_after_ms = 10000;
	s->fenced_by = 3;
	s->fence_epoch = 9;
	s->fenced_boot_ns = 123456789;
	s->wall = -5;
	snprintf(s->host_name, sizeof(s->host_name), "hv7");
}

static void sample_lease(struct lock_lease *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->vm, sizeof(l->vm), "web1");
	l->vm_uuid[15] = 0xAA;
	l->owner = 2;
	l->owner_incarnation = 42;
	l->lver = 1ull << 40;
	l->mig_src = 2;
	l->mig_dst = 5;
	l->mig_phase = LOCK_MIG_ACTIVE;
	l->fence_epoch = 4;
	l->wall = 1796000001;
}

static void test_crc_vector(void **state)
{
	assert_int_equal(lock_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_roundtrip(void **state)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	for (int i = 0; i < 2; i++) {
		struct lock_header h, h2;
		struct lock_slot s, s2;
		struct lock_lease l, l2;
		sample_header(&h, sizes[i]);
		lock_header_encode(&h, blk, sizes[i]);
		assert_int_equal(lock_header_decode(blk, sizes[i], "lab", &h2), 0);
		assert_memory_equal(&h, &h2, sizeof(h));
		sample_slot(&s);
		lock_slot_encode(&s, blk, sizes[i]);
		assert_int_equal(lock_slot_decode(blk, sizes[i], 7, &s2), 0);
		assert_memory_equal(&s, &s2, sizeof(s));
		sample_lease(&l);
		lock_lease_encode(&l, 200, blk, sizes[i]);
		assert_int_equal(lock_lease_decode(blk, sizes[i], 200, &l2), 0);
		assert_memory_equal(&l, &l2, sizeof(l));
	}
}

/* Little-endian on disk, independent of the host: pin a few bytes. */
static void test_byte_layout(void **state)
{
	uint8_t blk[512];
	struct lock_slot s;
	sample_slot(&s);
	lock_slot_encode(&s, blk, 512);
	assert_memory_equal(blk, "KLCK", 4);
	assert_int_equal(blk[6], LOCK_KIND_SLOT);
	assert_int_equal(blk[12], 7);
	assert_int_equal(blk[20], 0x04);
	assert_int_equal(blk[23], 0x01);
	assert_int_equal(blk[24], 0x88);
	assert_int_equal(blk[31], 0x11);
	assert_string_equal((const char *)blk + 64, "hv7");
}

typedef int (*decode_fn)(const uint8_t *blk, uint32_t bs);

static int dec_header(const uint8_t *b, uint32_t bs)
{
	struct lock_header h;
	return lock_header_decode(b, bs, "lab", &h);
}

static int dec_slot(const uint8_t *b, uint32_t bs)
{
	struct lock_slot s;
	return lock_slot_decode(b, bs, 7, &s);
}

static int dec_lease(const uint8_t *b, uint32_t bs)
{
	struct lock_lease l;
	return lock_lease_decode(b, bs, 200, &l);
}

static void encode_kind(int kind, uint8_t *blk, uint32_t bs)
{
	struct lock_header h;
	struct lock_slot s;
	struct lock_lease l;
	if (kind == 0) {
		sample_header(&h, bs);
		lock_header_encode(&h, blk, bs);
	} else if (kind == 1) {
		sample_slot(&s);
		lock_slot_encode(&s, blk, bs);
	} else {
		sample_lease(&l);
		lock_lease_encode(&l, 200, blk, bs);
	}
}

static const decode_fn decoders[3] = { dec_header, dec_slot, dec_lease };

/* Every single-bit flip anywhere in the block is LOCK_E_CORRUPT. */
static void test_every_bit_flip(void **state)
{
	uint8_t blk[LOCK_BLOCK_MAX];
	for (int si = 0; si < 2; si++) {
		uint32_t bs = sizes[si];
		for (int kind = 0; kind < 3; kind++) {
			encode_kind(kind, blk, bs);
			assert_int_equal(decoders[kind](blk, bs), 0);
			for (uint32_t bit = 0; bit < bs * 8; bit++) {
				blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(decoders[kind](blk, bs), LOCK_E_CORRUPT);
				blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
		}
	}
}

/* A record torn at any byte boundary (old head, new tail and the reverse):
 * every mix that equals neither write is corrupt. */
static void test_torn_block(void **state)
{
	uint8_t a[512], b[512], m[512];
	struct lock_slot s;
	sample_slot(&s);
	lock_slot_encode(&s, a, 512);
	s.counter++;
	s.state = LOCK_SLOT_JOINED;
	snprintf(s.host_name, sizeof(s.host_name), "HV7");
	lock_slot_encode(&s, b, 512);
	for (int cut = 1; cut < 512; cut++) {
		for (int dir = 0; dir < 2; dir++) {
			memcpy(m, dir ? a : b, (size_t)cut);
			memcpy(m + cut, (dir ? b : a) + cut, (size_t)(512 - cut));
			if (!memcmp(m, a, 512) || !memcmp(m, b, 512))
				continue;
			assert_int_equal(dec_slot(m, 512), LOCK_E_CORRUPT);
		}
	}
}

static void test_zero_and_misplaced(void **state)
{
	uint8_t blk[512] = { 0 };
	struct lock_header h;
	struct lock_slot s;
	struct lock_lease l;
	assert_int_equal(lock_header_decode(blk, 512, "lab", &h), LOCK_E_UNFORMATTED);
	assert_int_equal(dec_slot(blk, 512), LOCK_E_CORRUPT); /* zero is not free */
	assert_int_equal(dec_lease(blk, 512), LOCK_E_CORRUPT);
	sample_slot(&s);
	lock_slot_encode(&s, blk, 512);
	assert_int_equal(lock_slot_decode(blk, 512, 8, &s), LOCK_E_CORRUPT);
	assert_int_equal(lock_lease_decode(blk, 512, 7, &l), LOCK_E_CORRUPT);
	assert_int_equal(lock_header_decode(blk, 512, NULL, &h), LOCK_E_CORRUPT);
	assert_int_equal(lock_slot_decode(blk, 1024, 7, &s), LOCK_E_CORRUPT);
}

static void test_foreign(void **state)
{
	uint8_t blk[512];
	struct lock_header h, h2;
	sample_header(&h, 512);
	snprintf(h.cluster, sizeof(h.cluster), "other");
	lock_header_encode(&h, blk, 512);
	assert_int_equal(lock_header_decode(blk, 512, "lab", &h2), LOCK_E_FOREIGN);
	assert_string_equal(h2.cluster, "other");
	assert_int_equal(lock_header_decode(blk, 512, NULL, &h2), 0);
	assert_int_equal(lock_header_decode(blk, 512, "other", &h2), 0);
	/* a header written with another block size than the LUN's is corrupt */
	assert_int_equal(lock_header_decode(blk, 4096, "other", &h2), LOCK_E_CORRUPT);
}

/* Fields outside their range, with a valid CRC: still corrupt. */
static void test_hostile_fields(void **state)
{
	uint8_t blk[512];
	struct lock_slot s;
	struct lock_lease l;
	struct lock_header h;
	sample_slot(&s);
	s.state = 9;
	lock_slot_encode(&s, blk, 512);
	assert_int_equal(dec_slot(blk, 512), LOCK_E_CORRUPT);
	sample_lease(&l);
	l.owner = LOCK_MAX_HOSTS + 1;
	lock_lease_encode(&l, 200, blk, 512);
	assert_int_equal(dec_lease(blk, 512), LOCK_E_CORRUPT);
	sample_slot(&s);
	s.fenced_by = LOCK_MAX_HOSTS + 1;
	lock_slot_encode(&s, blk, 512);
	assert_int_equal(dec_slot(blk, 512), LOCK_E_CORRUPT);
	sample_lease(&l);
	l.mig_dst = 1000;
	lock_lease_encode(&l, 200, blk, 512);
	assert_int_equal(dec_lease(blk, 512), LOCK_E_CORRUPT);
	sample_lease(&l);
	lock_lease_encode(&l, 200, blk, 512);
	memset(blk + 16, 'x', LOCK_NAME_MAX); /* unterminated name */
	put_le32(blk + 8, block_crc(blk, 512));
	assert_int_equal(dec_lease(blk, 512), LOCK_E_CORRUPT);
	sample_header(&h, 512);
	h.tag = 0;
	lock_header_encode(&h, blk, 512);
	assert_int_equal(dec_header(blk, 512), LOCK_E_CORRUPT);
	sample_header(&h, 512);
	h.max_leases = 1u << 30;
	lock_header_encode(&h, blk, 512);
	assert_int_equal(dec_header(blk, 512), LOCK_E_CORRUPT);
}

static void test_free_records(void **state)
{
	uint8_t blk[512];
	struct lock_slot s, s2;
	struct lock_lease l, l2;
	lock_slot_free(&s, 64);
	lock_slot_encode(&s, blk, 512);
	assert_int_equal(lock_slot_decode(blk, 512, 64, &s2), 0);
	assert_int_equal(s2.state, LOCK_SLOT_FREE);
	lock_lease_free(&l);
	lock_lease_encode(&l, 0, blk, 512);
	assert_int_equal(lock_lease_decode(blk, 512, 0, &l2), 0);
	assert_string_equal(l2.vm, "");
	assert_string_equal(lock_slot_state_name(LOCK_SLOT_FENCED), "fenced");
	assert_int_not_equal(lock_tag_from_uuid(l.vm_uuid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vector),   cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_byte_layout),  cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_torn_block),   cmocka_unit_test(test_zero_and_misplaced),
		cmocka_unit_test(test_foreign),      cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_free_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
