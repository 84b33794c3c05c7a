/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the RAID backend (lun-backends/raid/): the superblock
 * codec and torn superblock writes; every level writes a pattern and reads
 * it back (also after reassembly in shuffled order); degraded RAID-5 / RAID-6
 * reads and writes; one failure too many gives -ENODEV, never wrong data;
 * stale members refused; rebuild onto a spare then a clean scrub; scrub finds
 * and repairs a corrupted chunk; members removed and spares.
 * Write gathering: test_raid_gather.c; crash, metadata redundancy and
 * injected I/O errors: test_raid_meta.c (harness: raid_harness.h). */
#include "raid_harness.h"

/* ---- superblock record ---- */

static void test_sb_codec(void **state)
{
	struct raid_sb *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	memcpy(a->uuid, "0123456789abcdef", 16);
	a->level = 6;
	a->chunk = 65536;
	a->nmembers = 6;
	a->role = 2;
	a->block_size = 512;
	a->events = 7;
	a->seq = 9;
	a->data_offset = LUN_RAID_DATA_OFFSET;
	a->data_size = 65536 * 320;
	a->region_size = MiB;
	a->nregions = 20;
	a->bitmap[1] = 0x5a;
	a->m[3].state = 3;
	a->m[3].recovery_row = 42;
	size_t len = raid_sb_len(a->nregions);
	uint8_t *buf = calloc(1, RAID_SB_SLOT);
	raid_sb_encode(a, buf);
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), 0);
	assert_int_equal(b->events, 7);
	assert_int_equal(b->m[3].recovery_row, 42);
	assert_int_equal(b->bitmap[1], 0x5a);
	assert_memory_equal(b->uuid, a->uuid, 16);
	assert_int_equal(get_le32(buf + 8), 1); /* explicit little-endian version */
	buf[100] ^= 1;
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), -EBADMSG);
	buf[100] ^= 1;
	buf[len - 1] ^= 0x80; /* the checksum itself */
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), -EBADMSG);
	memset(buf, 0, 8);
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), -EINVAL);
	free(a);
	free(b);
	free(buf);
}

/* Records whose CRC is valid but whose geometry create could never have
 * written are refused: assembly would size the write-intent bitmap from
 * nregions and index it from data_size / region_size (fuzz_raid_sb). */
static void sb_mutate(const struct raid_sb *good, void (*fn)(struct raid_sb *), int want)
{
	struct raid_sb *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint8_t *buf = calloc(1, RAID_SB_SLOT);
	memcpy(a, good, sizeof(*a));
	fn(a);
	raid_sb_encode(a, buf);
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), want);
	free(a);
	free(b);
	free(buf);
}

static void sb_ok(struct raid_sb *a) {}
static void sb_nregions_short(struct raid_sb *a)
{
	a->nregions--;
}
static void sb_raid5_of_2(struct raid_sb *a)
{
	a->nmembers = 2;
	a->role = 1;
}
static void sb_data_wraps(struct raid_sb *a)
{
	a->data_offset = UINT64_MAX - 4095;
}
static void sb_region_lt_chunk(struct raid_sb *a)
{
	a->region_size = 4096;
	a->nregions = 4;
}
static void sb_chunk_huge(struct raid_sb *a)
{
	a->chunk = 1u << 30;
	a->region_size = 1u << 30;
	a->data_size = (uint64_t)1 << 30;
	a->nregions = 1;
}
static void sb_recovery_past_end(struct raid_sb *a)
{
	a->m[1].state = 3;
	a->m[1].recovery_row = 17;
}

static void test_sb_geometry_refused(void **state)
{
	struct raid_sb *g = calloc(1, sizeof(*g));
	g->level = 5;
	g->chunk = 65536;
	g->nmembers = 3;
	g->block_size = 512;
	g->data_offset = LUN_RAID_DATA_OFFSET;
	g->data_size = 65536 * 16;
	g->region_size = 65536 * 4;
	g->nregions = 4;
	sb_mutate(g, sb_ok, 0);
	sb_mutate(g, sb_nregions_short, -EINVAL);
	sb_mutate(g, sb_raid5_of_2, -EINVAL);
	sb_mutate(g, sb_data_wraps, -EINVAL);
	sb_mutate(g, sb_region_lt_chunk, -EINVAL);
	sb_mutate(g, sb_chunk_huge, -EINVAL);
	sb_mutate(g, sb_recovery_past_end, -EINVAL);
	/* nregions 2^32 - 1: (nregions + 7) / 8 wrapped to 0 in 32 bits, so a
	 * 4 KiB record declared 4 billion regions with a 0-byte bitmap */
	uint8_t *buf = calloc(1, RAID_SB_SLOT);
	struct raid_sb *b = malloc(sizeof(*b));
	raid_sb_encode(g, buf);
	put_le32(buf + 112, UINT32_MAX);
	put_le32(buf + 4092, crc32_iscsi(buf, 4092, 0xffffffffu));
	assert_int_equal(raid_sb_decode(buf, RAID_SB_SLOT, b), -EINVAL);
	free(b);
	free(buf);
	free(g);
}

/* A crash in the middle of a superblock write tears the copy being written;
 * the other copy (one seq older) must be used, and the array assembles. */
static void test_sb_torn_write(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 1);
	h_close(h);
	struct raid_sb *sb = calloc(1, sizeof(*sb));
	struct lun_backend_params p = { .type = "file", .path = h->path[0] };
	struct lun_backend *m;
	char err[256];
	assert_int_equal(lun_file_open(&p, &m, err, sizeof(err)), 0);
	assert_int_equal(raid_sb_read(m, sb), 0);
	uint64_t seq = sb->seq;
	/* a newer record whose write stopped after 512 bytes, over the older copy */
	sb->seq++;
	sb->events += 5;
	size_t len = raid_sb_len(sb->nregions);
	uint8_t *newer = aligned_alloc(4096, len), *disk = aligned_alloc(4096, len);
	raid_sb_encode(sb, newer);
	uint64_t slot = (sb->seq & 1) * RAID_SB_SLOT;
	assert_int_equal(raid_sync_io(m, LUN_OP_READ, 0, slot, disk, len), 0);
	memcpy(disk, newer, 512);
	assert_int_equal(raid_sync_io(m, LUN_OP_WRITE, 0, slot, disk, len), 0);
	assert_int_equal(raid_sb_read(m, sb), 0);
	assert_int_equal(sb->seq, seq); /* the intact older copy */
	lun_backend_close(m);
	assert_int_equal(h_assemble(h, h->paths, 4, err, sizeof(err)), 0);
	assert_int_equal(status(h).state, LUN_RAID_CLEAN);
	check_all(h, shadow);
	free(sb);
	free(newer);
	free(disk);
	free(shadow);
	h_free(h);
}

/* ---- every level ---- */

static void level_roundtrip(int level, int n)
{
	struct h *h = h_new(n);
	h_create(h, level);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, (unsigned)level + 3);
	check_all(h, shadow);
	uint64_t mism;
	if (level != 0) {
		scrub(h, false, &mism);
		assert_int_equal(mism, 0);
	}
	h_close(h);
	const char *shuffled[NMAX];
	for (int i = 0; i < n; i++)
		shuffled[i] = h->paths[n - 1 - i];
	char err[256];
	assert_int_equal(h_assemble(h, shuffled, n, err, sizeof(err)), 0);
	check_all(h, shadow);
	assert_int_equal(status(h).state, LUN_RAID_CLEAN);
	free(shadow);
	h_free(h);
}

static void test_raid0(void **state)
{
	level_roundtrip(0, 3);
}
static void test_raid1(void **state)
{
	level_roundtrip(1, 2);
}
static void test_raid5(void **state)
{
	level_roundtrip(5, 4);
}
static void test_raid6(void **state)
{
	level_roundtrip(6, 6);
}
static void test_raid10(void **state)
{
	level_roundtrip(10, 4);
}
static void test_raid10_odd(void **state)
{
	level_roundtrip(10, 3);
}

/* Wide arrays: small writes take the read-modify-write path. */
static void test_rmw_wide(void **state)
{
	for (int level = 5; level <= 6; level++) {
		struct h *h = h_new(level == 5 ? 6 : 8);
		h_create(h, level);
		uint8_t *shadow = calloc(1, h->be->size);
		write_pattern(h, shadow, 7);
		assert_true(atomic_load(&raid_of(h->be)->stat_rmw) > 0);
		check_all(h, shadow);
		uint64_t mism;
		scrub(h, false, &mism);
		assert_int_equal(mism, 0);
		assert_int_equal(lun_raid_fail_member(h->be, 1), 0);
		check_all(h, shadow);
		free(shadow);
		h_free(h);
	}
}

/* RAID-6 parity from pq_gen must match the generator rows used to decode. */
static void test_parity_math(void **state)
{
	enum { K = 4, LEN = 4096 };
	uint8_t *slot[K + 2], *keep[K + 2];
	for (int i = 0; i < K + 2; i++) {
		slot[i] = aligned_alloc(64, LEN);
		keep[i] = malloc(LEN);
		if (i < K)
			fill(slot[i], LEN, (unsigned)i + 1);
	}
	assert_int_equal(raid_parity_gen(K, 2, LEN, slot), 0);
	for (int i = 0; i < K + 2; i++)
		memcpy(keep[i], slot[i], LEN);
	for (int a = 0; a < K + 2; a++)
		for (int b = a + 1; b < K + 2; b++) {
			memset(slot[a], 0, LEN);
			memset(slot[b], 0, LEN);
			assert_int_equal(raid_reconstruct(K, 2, LEN, slot, (1u << a) | (1u << b)),
					 0);
			assert_int_equal(raid_parity_gen(K, 2, LEN, slot), 0);
			for (int i = 0; i < K + 2; i++)
				assert_memory_equal(slot[i], keep[i], LEN);
		}
	for (int i = 0; i < K + 2; i++) {
		free(slot[i]);
		free(keep[i]);
	}
}

/* Many overlapping writes in flight on one stripe at once: unit locks queue
 * them; every block ends up as some writer's data and parity holds. */
static void test_overlapping_writes(void **state)
{
	enum { N = 12, LEN = 8 * 1024 };
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *buf[N];
	struct iovec iov[N];
	struct lun_io io[N];
	struct loop_submit st[N];
	h->pending = N;
	for (int i = 0; i < N; i++) {
		buf[i] = kbuf_alloc(LEN);
		fill(buf[i], LEN, 100u + (unsigned)i);
		iov[i] = (struct iovec){ buf[i], LEN };
		io[i] = (struct lun_io){ .op = LUN_OP_WRITE,
					 .offset = (uint64_t)(i % 3) * 4096 + 60 * KiB,
					 .length = LEN,
					 .iov = &iov[i],
					 .iovcnt = 1,
					 .loop = h->l,
					 .done = io_done,
					 .priv = h };
		st[i] = (struct loop_submit){ .be = h->be,
					      .io = &io[i],
					      .in_submit = &h->in_submit };
		loop_submit(h->l, &st[i]);
	}
	assert_int_equal(kloop_run(h->l), 0);
	assert_int_equal(h->pending, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(io[i].result, 0);
	uint8_t got[16 * 1024];
	assert_int_equal(do_rw(h, LUN_OP_READ, 60 * KiB, got, sizeof(got)), 0);
	for (uint64_t b = 60 * KiB; b < 76 * KiB;
	     b += 4096) { /* each block is exactly some writer's */
		bool match = false;
		for (int i = 0; i < N; i++)
			if (io[i].offset <= b && b < io[i].offset + LEN)
				match |= memcmp(got + (b - 60 * KiB), buf[i] + (b - io[i].offset),
						4096) == 0;
		assert_true(match);
	}
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	for (int i = 0; i < N; i++)
		kbuf_free(buf[i]);
	h_free(h);
}

/* ---- degraded ---- */

static void test_raid5_degraded(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 11);
	assert_int_equal(lun_raid_fail_member(h->be, 1), 0);
	assert_int_equal(lun_raid_fail_member(h->be, 1), -EALREADY);
	check_all(h, shadow);
	write_pattern(h, shadow, 12);
	check_all(h, shadow);
	struct lun_raid_status st = status(h);
	assert_int_equal(st.state, LUN_RAID_DEGRADED);
	assert_int_equal(st.member[1].state, LUN_RAID_M_FAILED);
	/* a second failure is one too many: NOT READY, never data */
	assert_int_equal(lun_raid_fail_member(h->be, 3), 0);
	uint8_t *buf = calloc(1, 64 * KiB);
	memset(buf, 0x77, 64 * KiB);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, buf, 64 * KiB), -ENODEV);
	for (size_t i = 0; i < 64 * KiB; i++)
		assert_int_equal(buf[i], 0x77);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, buf, 64 * KiB), -ENODEV);
	assert_int_equal(status(h).state, LUN_RAID_FAILED);
	free(buf);
	free(shadow);
	h_free(h);
}

static void test_raid6_two_failed(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 21);
	assert_int_equal(lun_raid_fail_member(h->be, 0), 0);
	check_all(h, shadow);
	assert_int_equal(lun_raid_fail_member(h->be, 4), 0);
	check_all(h, shadow);
	write_pattern(h, shadow, 22);
	check_all(h, shadow);
	assert_int_equal(lun_raid_fail_member(h->be, 2), 0);
	uint8_t *buf = calloc(1, 256 * KiB);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, buf, 256 * KiB), -ENODEV);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, buf, 256 * KiB), -ENODEV);
	struct lun_io fl = { .op = LUN_OP_FLUSH };
	assert_int_equal(run_io(h, &fl), -ENODEV);
	free(buf);
	free(shadow);
	h_free(h);
}

/* ---- assembly ---- */

static void test_assemble_stale_and_missing(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 31);
	assert_int_equal(lun_raid_fail_member(h->be, 2), 0);
	write_pattern(h, shadow, 32); /* member 2 now holds stale data */
	h_close(h);
	char err[256] = "";
	const char *rev[4] = { h->paths[3], h->paths[2], h->paths[1], h->paths[0] };
	assert_int_equal(h_assemble(h, rev, 4, err, sizeof(err)), 0);
	struct lun_raid_status st = status(h);
	assert_int_equal(st.member[2].state, LUN_RAID_M_FAILED);
	assert_false(st.member[2].present); /* refused */
	assert_int_equal(st.state, LUN_RAID_DEGRADED);
	check_all(h, shadow);
	h_close(h);
	/* without member 0 too: two missing, RAID-5 tolerates one */
	const char *two[2] = { h->paths[1], h->paths[3] };
	err[0] = 0;
	assert_int_equal(h_assemble(h, two, 2, err, sizeof(err)), -ENODEV);
	assert_null(h->be);
	assert_non_null(strstr(err, "tolerates 1"));
	free(shadow);
	h_free(h);
}

/* Members of another array in the same list are left out (largest group wins). */
static void test_assemble_groups(void **state)
{
	struct h *h = h_new(3);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 41);
	h_close(h);
	struct h *o = h_new(2);
	h_create(o, 1);
	h_close(o);
	const char *mix[5] = { o->paths[0], h->paths[2], h->paths[0], o->paths[1], h->paths[1] };
	char err[256];
	assert_int_equal(h_assemble(h, mix, 5, err, sizeof(err)), 0);
	assert_int_equal(status(h).level, 5);
	check_all(h, shadow);
	free(shadow);
	h_free(o);
	h_free(h);
}

/* ---- rebuild, scrub ---- */

static bool rebuilt(struct h *h)
{
	struct lun_raid_status st = status(h);
	for (int i = 0; i < st.nmembers; i++)
		if (st.member[i].state != LUN_RAID_M_ACTIVE)
			return false;
	return idle(h);
}

static void rebuild_case(int level, int n, int victim, int later)
{
	struct h *h = h_new(n);
	h_create(h, level);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 51);
	char err[256];
	assert_int_equal(lun_raid_add_spare(h->be, h->paths[n], err, sizeof(err)), 0);
	assert_int_equal(status(h).nspares, 1);
	assert_int_equal(lun_raid_fail_member(h->be, victim), 0);
	write_pattern(h, shadow, 52); /* writes during the rebuild */
	run_until(h, rebuilt);
	struct lun_raid_status st = status(h);
	assert_int_equal(st.nspares, 0);
	assert_string_equal(st.member[victim].path, h->paths[n]);
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	assert_true(status(h).scrub_units > 0);
	/* the rebuilt member carries real data: lose another one and read */
	assert_int_equal(lun_raid_fail_member(h->be, later), 0);
	check_all(h, shadow);
	h_close(h);
	/* and the new member is part of the array after a restart */
	const char *paths[NMAX + 1];
	for (int i = 0; i <= n; i++)
		paths[i] = h->paths[i];
	assert_int_equal(h_assemble(h, paths, n + 1, err, sizeof(err)), 0);
	st = status(h);
	assert_int_equal(st.member[victim].state, LUN_RAID_M_ACTIVE);
	assert_int_equal(st.member[later].state, LUN_RAID_M_FAILED);
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}

static void test_rebuild_raid5(void **state)
{
	rebuild_case(5, 4, 1, 2);
}
static void test_rebuild_raid6(void **state)
{
	rebuild_case(6, 5, 3, 0);
}
static void test_rebuild_raid1(void **state)
{
	rebuild_case(1, 2, 0, 1);
}
static void test_rebuild_raid10(void **state)
{
	rebuild_case(10, 4, 2, 1);
}

static void scrub_case(int level, int n, int member, uint64_t row, uint64_t expect_repaired_reads)
{
	struct h *h = h_new(n);
	h_create(h, level);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 61);
	corrupt(h, member, LUN_RAID_DATA_OFFSET + row * 64 * KiB + 8 * KiB, 8 * KiB);
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 1);
	assert_int_equal(status(h).scrub_repaired, 0);
	scrub(h, true, &mism);
	assert_int_equal(mism, 1);
	assert_int_equal(status(h).scrub_repaired, 1);
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	if (expect_repaired_reads)
		check_all(h, shadow);
	free(shadow);
	h_free(h);
}

/* RAID-6: data chunk 0 of stripe 0 is on role 2 (P on 5, Q on 0): located via P+Q and fixed. */
static void test_scrub_raid6_data(void **state)
{
	scrub_case(6, 6, 2, 0, 1);
}
/* RAID-5: parity of stripe 0 is on role 3. */
static void test_scrub_raid5_parity(void **state)
{
	scrub_case(5, 4, 3, 0, 1);
}
/* RAID-1: the second copy differs; repair copies the first over it. */
static void test_scrub_raid1(void **state)
{
	scrub_case(1, 2, 1, 3, 1);
}

static bool scrubbed_20(struct h *h)
{
	return status(h).scrub_units >= 20;
}
static int polls;
static bool after_40ms(struct h *h)
{
	return ++polls > 20;
}

/* Stop a scrub mid-way: the mismatch it found in stripe 0 and its position
 * stay; a second stop is refused; the next scrub starts at stripe 0 again
 * (it finds the same mismatch) and runs to the end. */
static void test_scrub_stop(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 63);
	corrupt(h, 2, LUN_RAID_DATA_OFFSET + 8 * KiB, 8 * KiB);
	struct raid *r = raid_of(h->be);
	r->rate_bytes = r->chunk; /* one stripe per 5 ms tick */
	assert_int_equal(lun_raid_scrub_stop(h->be, NULL), -ESRCH);
	assert_int_equal(lun_raid_scrub_start(h->be, false), 0);
	run_until(h, scrubbed_20);
	struct lun_raid_status st;
	assert_int_equal(lun_raid_scrub_stop(h->be, &st), 0);
	assert_false(st.scrubbing);
	assert_true(st.scrub_stopped);
	assert_int_equal(st.scrub_mismatches, 1);
	assert_true(st.scrub_pct > 0 && st.scrub_pct < 100);
	settle(h); /* the unit in flight completes, no more */
	st = status(h);
	assert_false(st.scrubbing);
	assert_true(st.scrub_stopped);
	assert_true(st.scrub_units >= 20 && st.scrub_units < r->units);
	assert_int_equal(st.scrub_mismatches, 1);
	assert_true(st.scrub_pct < 100);
	uint64_t units = st.scrub_units;
	polls = 0;
	run_until(h, after_40ms); /* ~8 ticks: nothing resumes it */
	assert_int_equal(status(h).scrub_units, units);
	assert_int_equal(lun_raid_scrub_stop(h->be, NULL), -ESRCH);
	r->rate_bytes = 16 * MiB;
	uint64_t mism;
	scrub(h, false, &mism);
	st = status(h);
	assert_int_equal(mism, 1);
	assert_false(st.scrub_stopped);
	assert_int_equal(st.scrub_pct, 100);
	assert_int_equal(st.scrub_units, r->units);
	free(shadow);
	h_free(h);
}

static bool rebuilding(struct h *h)
{
	return status(h).rebuilding && status(h).rebuild_pct > 0;
}

/* Remove a failed member: refused while active, the role shows missing and
 * the array runs degraded; its superblock is stale at the next assembly even
 * though its file is given; a spare then rebuilds the role. */
static void test_remove_member(void **state)
{
	struct h *h = h_new(6);
	h_create(h, 6);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 71);
	assert_int_equal(lun_raid_remove_member(h->be, 2), -EBUSY);
	assert_int_equal(lun_raid_remove_member(h->be, 6), -EINVAL);
	assert_int_equal(lun_raid_fail_member(h->be, 2), 0);
	settle(h);
	uint64_t ev = status(h).events;
	assert_int_equal(lun_raid_role_of(h->be, h->paths[2]), 2);
	struct raid *r = raid_of(h->be);
	int nretired = r->nretired; /* no room to keep its backend until close */
	r->nretired = (int)(sizeof(r->retired) / sizeof(r->retired[0]));
	assert_int_equal(lun_raid_remove_member(h->be, 2), -ENOSPC);
	assert_true(status(h).member[2].present);
	r->nretired = nretired;
	assert_int_equal(lun_raid_remove_member(h->be, 2), 0);
	assert_int_equal(lun_raid_remove_member(h->be, 2), -ENOENT);
	assert_int_equal(lun_raid_role_of(h->be, h->paths[2]), -1);
	settle(h);
	struct lun_raid_status st = status(h);
	assert_true(st.events > ev);
	assert_false(st.member[2].present);
	assert_int_equal(st.member[2].state, LUN_RAID_M_FAILED);
	assert_string_equal(st.member[2].path, "");
	assert_int_equal(st.state, LUN_RAID_DEGRADED);
	write_pattern(h, shadow, 72);
	check_all(h, shadow);
	h_close(h);
	/* all six files given: the removed one is refused as stale */
	char err[256];
	assert_int_equal(h_assemble(h, (const char **)h->paths, 6, err, sizeof(err)), 0);
	st = status(h);
	assert_false(st.member[2].present);
	assert_int_equal(st.state, LUN_RAID_DEGRADED);
	check_all(h, shadow);
	/* a rebuild onto a member is not removable; after it, the role is back */
	r = raid_of(h->be);
	r->rate_bytes = r->chunk;
	assert_int_equal(lun_raid_add_spare(h->be, h->paths[6], err, sizeof(err)), 0);
	run_until(h, rebuilding);
	assert_int_equal(lun_raid_remove_member(h->be, 2), -EBUSY);
	r->rate_bytes = 16 * MiB;
	run_until(h, rebuilt);
	st = status(h);
	assert_int_equal(st.member[2].state, LUN_RAID_M_ACTIVE);
	assert_string_equal(st.member[2].path, h->paths[6]);
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}

/* Remove an unused spare: no longer held, and refused as stale when an
 * assembly finds its file again. */
static void test_remove_spare(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	char err[256];
	assert_int_equal(lun_raid_add_spare(h->be, h->paths[4], err, sizeof(err)), 0);
	assert_int_equal(lun_raid_add_spare(h->be, h->paths[5], err, sizeof(err)), 0);
	settle(h);
	assert_int_equal(lun_raid_remove_spare(h->be, h->paths[6]), -ENOENT);
	assert_int_equal(lun_raid_remove_spare(h->be, h->paths[4]), 0);
	assert_int_equal(lun_raid_remove_spare(h->be, h->paths[4]), -ENOENT);
	assert_false(lun_raid_has_path(h->be, h->paths[4]));
	assert_true(lun_raid_has_path(h->be, h->paths[5]));
	assert_int_equal(status(h).nspares, 1);
	h_close(h);
	assert_int_equal(h_assemble(h, (const char **)h->paths, 6, err, sizeof(err)), 0);
	struct lun_raid_status st = status(h);
	assert_int_equal(st.nspares, 1);
	assert_false(lun_raid_has_path(h->be, h->paths[4]));
	assert_int_equal(st.state, LUN_RAID_CLEAN);
	h_free(h);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sb_codec),
		cmocka_unit_test(test_sb_geometry_refused),
		cmocka_unit_test(test_parity_math),
		cmocka_unit_test(test_raid0),
		cmocka_unit_test(test_raid1),
		cmocka_unit_test(test_raid5),
		cmocka_unit_test(test_raid6),
		cmocka_unit_test(test_raid10),
		cmocka_unit_test(test_raid10_odd),
		cmocka_unit_test(test_rmw_wide),
		cmocka_unit_test(test_overlapping_writes),
		cmocka_unit_test(test_sb_torn_write),
		cmocka_unit_test(test_raid5_degraded),
		cmocka_unit_test(test_raid6_two_failed),
		cmocka_unit_test(test_assemble_stale_and_missing),
		cmocka_unit_test(test_assemble_groups),
		cmocka_unit_test(test_rebuild_raid5),
		cmocka_unit_test(test_rebuild_raid6),
		cmocka_unit_test(test_rebuild_raid1),
		cmocka_unit_test(test_rebuild_raid10),
		cmocka_unit_test(test_scrub_raid6_data),
		cmocka_unit_test(test_scrub_raid5_parity),
		cmocka_unit_test(test_scrub_raid1),
		cmocka_unit_test(test_scrub_stop),
		cmocka_unit_test(test_remove_member),
		cmocka_unit_test(test_remove_spare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
