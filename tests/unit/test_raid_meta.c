/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for RAID crash safety and metadata (issue 11): write-hole
 * resync after a simulated crash, every superblock bit flipped one at a
 * time, members in use, a SIGKILLed writer, initial resync and bitmap
 * clearing, and member I/O errors through the "faulty" wrapper backend. */
#include "raid_harness.h"

/* ---- write hole ---- */

static bool stripe_consistent(struct h *h, int n, uint64_t row)
{
	static uint8_t x[64 * 1024], b[64 * 1024];
	memset(x, 0, sizeof(x));
	for (int i = 0; i < n; i++) {
		int fd = open(h->path[i], O_RDONLY);
		assert_int_equal(pread(fd, b, sizeof(b),
				       (off_t)(LUN_RAID_DATA_OFFSET + row * 64 * KiB)),
				 (ssize_t)sizeof(b));
		close(fd);
		for (size_t j = 0; j < sizeof(b); j++)
			x[j] ^= b[j];
	}
	for (size_t j = 0; j < sizeof(x); j++)
		if (x[j])
			return false;
	return true;
}

/* The parity member's writes are lost (crash between data and parity
 * reaching disk); the process "dies" without a clean close. Reassembly
 * finds the region dirty in the bitmap and recomputes parity. */
static void test_write_hole_resync(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 71);
	settle(h);
	assert_true(stripe_consistent(h, 4, 0));
	h->fy[3]->drop_data_writes = true; /* role 3 holds P of stripe 0 */
	uint8_t *buf = kbuf_alloc(16 * KiB);
	fill(buf, 16 * KiB, 72);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, buf, 16 * KiB), 0);
	memcpy(shadow, buf, 16 * KiB);
	kbuf_free(buf);
	settle(h);
	assert_false(stripe_consistent(h, 4, 0));
	assert_true(status(h).dirty_regions >= 1);
	kloop_timer_stop(h->l, &raid_of(h->be)->timer);
	raid_teardown(raid_of(h->be)); /* crash: no clean superblock */
	h->be = NULL;
	char err[256];
	assert_int_equal(h_assemble(h, h->paths, 4, err, sizeof(err)), 0);
	assert_true(status(h).resyncing);
	settle(h);
	assert_false(status(h).resyncing);
	assert_true(stripe_consistent(h, 4, 0));
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	check_all(h, shadow);
	/* degraded read of stripe 0 uses the resynced parity */
	assert_int_equal(lun_raid_fail_member(h->be, 2), 0);
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}

/* ---- metadata redundancy (issue 11) ---- */

/* Each member's two superblock copies, as left by a crash. */
static uint8_t *sb_save(struct h *h, int n)
{
	uint8_t *t = malloc((size_t)n * 2 * RAID_SB_SLOT);
	for (int i = 0; i < n; i++) {
		int fd = open(h->path[i], O_RDONLY);
		assert_int_equal(pread(fd, t + (size_t)i * 2 * RAID_SB_SLOT, 2 * RAID_SB_SLOT, 0),
				 2 * RAID_SB_SLOT);
		close(fd);
	}
	return t;
}

static void sb_restore(struct h *h, int n, const uint8_t *t, int member, uint64_t bit)
{
	for (int i = 0; i < n; i++) {
		uint8_t b[2 * RAID_SB_SLOT];
		memcpy(b, t + (size_t)i * sizeof(b), sizeof(b));
		if (i == member)
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int fd = open(h->path[i], O_WRONLY);
		assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
		close(fd);
	}
}

static void crash(struct h *h)
{
	kloop_timer_stop(h->l, &raid_of(h->be)->timer);
	raid_teardown(raid_of(h->be));
	h->be = NULL;
}

/* One flipped bit at a time in the newest superblock copy of a member, in
 * every position class (record header: magic, version, UUIDs, geometry,
 * events, seq; role table; write-intent bitmap; checksum), after a crash
 * that left dirty regions: the array must assemble with every member, plan
 * the same resync (no dirty bit lost: a lost one would leave parity stale
 * under acknowledged data) and read back every acknowledged write. */
static void test_sb_bit_flips(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 81);
	settle(h);
	crash(h); /* regions written just now are still dirty */
	uint8_t *t = sb_save(h, 4);
	char err[256];
	assert_int_equal(h_assemble(h, h->paths, 4, err, sizeof(err)), 0);
	uint32_t want = raid_of(h->be)->resync_n;
	assert_true(want > 0);
	crash(h);
	struct raid_sb sb;
	assert_int_equal(raid_sb_decode(t, RAID_SB_SLOT, &sb), 0);
	uint64_t newest = (sb.seq & 1) * RAID_SB_SLOT, len = raid_sb_len(sb.nregions);
	static const struct {
		const char *cls;
		uint64_t byte;
	} pos[] = { { "header", 0 },   { "header", 9 },   { "header", 20 }, { "header", 40 },
		    { "header", 52 },  { "header", 57 },  { "header", 65 }, { "header", 72 },
		    { "header", 90 },  { "header", 113 }, { "roles", 128 }, { "roles", 136 },
		    { "roles", 150 },  { "roles", 192 },  { "roles", 230 }, { "bitmap", 1152 },
		    { "bitmap", 1153 } };
	unsigned flips = 0;
	for (int m = 0; m < 4; m += 3)
		for (size_t i = 0; i <= sizeof(pos) / sizeof(pos[0]); i++) {
			uint64_t byte = i < sizeof(pos) / sizeof(pos[0]) ? pos[i].byte : len - 2;
			sb_restore(h, 4, t, m, (newest + byte) * 8 + i % 8);
			int e = h_assemble(h, h->paths, 4, err, sizeof(err));
			if (e)
				fail_msg("member %d byte %llu: assembly refused: %s", m,
					 (unsigned long long)byte, err);
			struct lun_raid_status st = status(h);
			assert_int_equal(raid_of(h->be)->resync_n, want);
			assert_true(st.state != LUN_RAID_DEGRADED && st.state != LUN_RAID_FAILED);
			settle(h);
			check_all(h, shadow);
			crash(h);
			flips++;
		}
	printf("raid superblock: %u single-bit flips (header, role table, bitmap, checksum): "
	       "0 members lost, 0 dirty regions lost, every write read back\n",
	       flips);
	sb_restore(h, 4, t, -1, 0);
	assert_int_equal(h_assemble(h, h->paths, 4, err, sizeof(err)), 0);
	free(t);
	free(shadow);
	h_free(h);
}

/* Member files without superblocks: data in one is reported (create over
 * it needs force_new); all-zero or sparse files are not. */
static void test_members_in_use(void **state)
{
	struct h *h = h_new(3);
	for (int i = 0; i < 3; i++) {
		int fd = open(h->path[i], O_RDWR | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(ftruncate(fd, MEMBER_SIZE), 0);
		if (i == 1)
			assert_int_equal(pwrite(fd, "", 1, 3 * MiB), 1); /* a zero byte: not data */
		close(fd);
	}
	char why[512] = "";
	assert_int_equal(lun_raid_members_in_use(h->paths, 3, why, sizeof(why)), 0);
	int fd = open(h->path[2], O_RDWR);
	assert_int_equal(pwrite(fd, "x", 1, 5 * MiB + 7), 1);
	close(fd);
	assert_int_equal(lun_raid_members_in_use(h->paths, 3, why, sizeof(why)), 1);
	assert_non_null(strstr(why, h->path[2]));
	assert_non_null(strstr(why, "offset 5242887"));
	h_free(h);
}

static void stripe_writer(struct h *h)
{
	uint8_t *buf = kbuf_alloc(160 * KiB);
	for (unsigned i = 0;; i++) {
		uint64_t len = (i % 3 + 1) * 48 * KiB,
			 off = (i * 1237 * 4096ull) % (h->be->size - len);
		fill(buf, len, i);
		if (i == 1)
			killed_writer_progress();
		if (do_rw(h, LUN_OP_WRITE, off & ~4095ull, buf, len) != 0)
			_exit(4);
	}
}

/* A child process writes full and partial stripes as fast as it can and is
 * SIGKILLed mid-stream; the parent reassembles, which must find dirty
 * regions, resync them, and leave every stripe consistent. */
static void test_killed_writer(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	h_close(h);
	killed_writer(h, 4, 150, stripe_writer);
	struct lun_raid_status st = status(h);
	assert_true(st.dirty_regions > 0); /* the writer died with writes in flight */
	settle(h);
	for (uint64_t row = 0; row < 64; row++)
		assert_true(stripe_consistent(h, 4, row));
	uint64_t mism;
	scrub(h, false, &mism);
	assert_int_equal(mism, 0);
	h_free(h);
}

/* A freshly created array without assume_clean resyncs everything, and
 * idle bitmap bits are cleared lazily. */
static void test_initial_resync_and_bitmap_clear(void **state)
{
	struct h *h = h_new(4);
	char err[256];
	for (int i = 0; i < 4; i++) { /* garbage where parity would be */
		int fd = open(h->path[i], O_CREAT | O_WRONLY, 0600);
		assert_int_equal(ftruncate(fd, (off_t)MEMBER_SIZE), 0);
		close(fd);
		corrupt(h, i, LUN_RAID_DATA_OFFSET + (uint64_t)i * 64 * KiB, 64 * KiB);
	}
	struct lun_raid_params p = h_params(h, 5);
	p.assume_clean = false;
	p.bitmap_idle_ms = 20;
	assert_int_equal(lun_raid_create(&p, &h->be, err, sizeof(err)), 0);
	assert_true(status(h).dirty_regions > 0);
	settle(h);
	for (uint64_t row = 0; row < 4; row++)
		assert_true(stripe_consistent(h, 4, row));
	run_until(h, idle);
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	settle(h);
	/* give the tick a chance to clear idle bits */
	for (int i = 0; i < 50 && status(h).dirty_regions; i++) {
		nanosleep(&ts, NULL);
		uint8_t b[512];
		assert_int_equal(do_rw(h, LUN_OP_READ, 0, b, 512), 0);
		settle(h);
	}
	assert_int_equal(status(h).dirty_regions, 0);
	assert_int_equal(status(h).state, LUN_RAID_CLEAN);
	h_free(h);
}

/* ---- error injection ---- */

static void test_member_io_errors(void **state)
{
	struct h *h = h_new(4);
	h_create(h, 5);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 81);
	uint64_t ev = status(h).events;
	h->fy[0]->fail_reads = true;
	check_all(h, shadow); /* reconstructed around the error */
	struct lun_raid_status st = status(h);
	assert_int_equal(st.member[0].state, LUN_RAID_M_FAILED);
	assert_true(st.events > ev);
	settle(h);
	/* the survivors' superblocks record the failure */
	struct raid_sb *sb = calloc(1, sizeof(*sb));
	assert_int_equal(raid_sb_read(h->fy[1]->inner, sb), 0);
	assert_int_equal(sb->m[0].state, LUN_RAID_M_FAILED);
	assert_true(sb->state_flags & RAID_SB_DEGRADED);
	/* write errors on another member: one too many */
	h->fy[2]->fail_writes = true;
	uint8_t *buf = kbuf_alloc(192 * KiB); /* a full stripe: touches role 2 */
	fill(buf, 192 * KiB, 82);
	assert_int_equal(do_rw(h, LUN_OP_WRITE, 0, buf, 192 * KiB), -ENODEV);
	assert_int_equal(do_rw(h, LUN_OP_READ, 0, buf, 192 * KiB), -ENODEV);
	kbuf_free(buf);
	free(sb);
	free(shadow);
	h_free(h);
}

static void test_mirror_read_error_and_caps(void **state)
{
	struct h *h = h_new(2);
	h_create(h, 1);
	uint8_t *shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 91);
	assert_true(lun_backend_has(h->be, LUN_OP_UNMAP));
	assert_true(lun_backend_has(h->be, LUN_OP_WRITE_ZEROES));
	struct lun_io wz = { .op = LUN_OP_WRITE_ZEROES, .offset = 0, .length = 128 * KiB };
	assert_int_equal(run_io(h, &wz), 0);
	memset(shadow, 0, 128 * KiB);
	h->fy[0]->fail_reads = true;
	h->fy[1]->fail_reads = false;
	check_all(h, shadow);
	assert_int_equal(status(h).member[0].state, LUN_RAID_M_FAILED);
	struct lun_io fl = { .op = LUN_OP_FLUSH };
	assert_int_equal(run_io(h, &fl), 0);
	free(shadow);
	h_free(h);
	/* parity levels: write-zeroes as data, no unmap */
	h = h_new(3);
	h_create(h, 5);
	assert_false(lun_backend_has(h->be, LUN_OP_UNMAP));
	shadow = calloc(1, h->be->size);
	write_pattern(h, shadow, 92);
	struct lun_io wz5 = { .op = LUN_OP_WRITE_ZEROES,
			      .flags = LUN_IO_FUA,
			      .offset = 40 * KiB,
			      .length = 200 * KiB };
	assert_int_equal(run_io(h, &wz5), 0);
	memset(shadow + 40 * KiB, 0, 200 * KiB);
	check_all(h, shadow);
	free(shadow);
	h_free(h);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_hole_resync),
		cmocka_unit_test(test_sb_bit_flips),
		cmocka_unit_test(test_members_in_use),
		cmocka_unit_test(test_killed_writer),
		cmocka_unit_test(test_initial_resync_and_bitmap_clear),
		cmocka_unit_test(test_member_io_errors),
		cmocka_unit_test(test_mirror_read_error_and_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
