/* SPDX-License-Identifier: Apache-2.0 */
/* Thin pool metadata redundancy (issue 11): one flipped bit at a time in
 * every position class of pool.meta — superblock copies, checkpoint slot
 * headers, the free-space geometry in the checkpoint body's header (the
 * pool stores no free map: it is rebuilt from the maps), the map runs of
 * the checkpoint bodies, and both copies of every live journal block —
 * after a pool was dropped as kill -9 drops it. Each flip must reopen with
 * every acknowledged mapping and volume in place (0 lost); a damaged block
 * with no good copy left must make open refuse, naming it, and salvage
 * must then say what it dropped. Also: a format 1 pool is converted at
 * open, and create refuses to format over data or a foreign file unless
 * force_new. */
#include "lun-backends/lun_backend.c"
#include "lun-backends/lun_file.c"
#include "lun-backends/thin/lun_thin_meta.c"
#include "lun-backends/thin/lun_thin_journal.c"
#include "lun-backends/thin/lun_thin_format.c"
#include "lun-backends/thin/lun_thin_pool.c"
#include "lun-backends/thin/lun_thin_ctl.c"
#include "lun-backends/thin/lun_thin_io.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

#include "thin_harness.h"

#define VCHUNKS 96u

/* The acknowledged state: each volume's size and map. */
struct ref {
	uint32_t nvols;
	uint32_t id[4];
	uint64_t size[4];
	uint32_t map[4][VCHUNKS];
};

static void ref_take(struct lun_thin_pool *pool, struct ref *r)
{
	memset(r, 0, sizeof(*r));
	r->nvols = pool->nvols;
	for (uint32_t i = 0; i < pool->nvols && i < 4; i++) {
		struct thin_vol *v = pool->vols[i];
		r->id[i] = v->id;
		r->size[i] = v->size;
		for (uint64_t vc = 0; vc < v->nvchunks && vc < VCHUNKS; vc++)
			r->map[i][vc] = thin_map_get(v, vc) & ~THIN_PENDING;
	}
}

static bool ref_equal(const struct ref *a, const struct ref *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static int unmap(struct env *e, struct lun_backend *be, uint64_t off, uint64_t len)
{
	struct lun_io io = { .op = LUN_OP_UNMAP, .offset = off, .length = len };
	run_ios(e, be, &io, 1);
	return io.result;
}

/* A pool with two checkpointed volumes, a snapshot, and journal blocks
 * after the newest checkpoint (allocations, overwrites after the snapshot,
 * unmaps, a new volume), dropped without a final checkpoint. */
static struct env *build(struct ref *r)
{
	struct env *e = env_new(16 * MiB, 0, 1 * MiB); /* no checkpoint in phase 2 */
	assert_int_equal(lun_thin_volume_create(e->pool, 1, VCHUNKS * CS), 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 2, VCHUNKS * CS), 0);
	struct lun_backend *a = vopen(e, 1, 512), *b = vopen(e, 2, 512);
	for (unsigned i = 0; i < 24; i++)
		put(e, i % 2 ? b : a, (uint64_t)(i * 3 % VCHUNKS) * CS, 4 * KiB, i + 1);
	assert_int_equal(lun_thin_pool_checkpoint(e->pool), 0);
	assert_int_equal(lun_thin_snapshot(e->pool, 1, 3), 0);
	for (unsigned i = 0; i < 16; i++)
		put(e, a, (uint64_t)(i * 5 % VCHUNKS) * CS, 4 * KiB, 40 + i);
	assert_int_equal(unmap(e, b, 3 * CS, 6 * CS), 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 4, 8 * CS), 0);
	lun_backend_close(a);
	lun_backend_close(b);
	ref_take(e->pool, r);
	thin_pool_shutdown(e->pool, false, NULL);
	e->pool = NULL;
	return e;
}

static uint8_t *file_get(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	off_t n = lseek(fd, 0, SEEK_END);
	uint8_t *b = malloc((size_t)n);
	assert_int_equal(pread(fd, b, (size_t)n, 0), n);
	close(fd);
	*len = (size_t)n;
	return b;
}

static void file_put(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, len, 0), (ssize_t)len);
	close(fd);
}

/* One position class: a name and byte ranges [off, off + len) of the file. */
struct region {
	const char *cls;
	uint64_t off, len;
};

struct layout {
	struct region r[48];
	int n;
};

static void add(struct layout *l, const char *cls, uint64_t off, uint64_t len)
{
	assert_true(l->n < 48);
	l->r[l->n++] = (struct region){ cls, off, len };
}

static void layout_slots(const uint8_t *m, struct layout *l)
{
	for (int s = 0; s < 2; s++) {
		const uint8_t *h = m + THIN_SLOT0_OFF + (uint64_t)s * THIN_SECTOR;
		uint64_t body = get_le64(h + 16), blen = get_le64(h + 32);
		add(l, "header", THIN_SLOT0_OFF + (uint64_t)s * THIN_SECTOR, 48);
		add(l, "free-space", body, THIN_BODY_HDR);
		add(l, "map", body + THIN_BODY_HDR, blen - THIN_BODY_HDR);
	}
}

/* Journal blocks from the newest checkpoint's position on, both copies,
 * header and records: the first two and the last (the last one's copy A is
 * indistinguishable from a torn tail whose copy B made it, so it is not
 * counted as repaired, but it must not lose anything either). */
static void layout_journal(const uint8_t *m, uint64_t jsize, struct layout *l)
{
	const uint8_t *h0 = m + THIN_SLOT0_OFF, *h1 = h0 + THIN_SECTOR;
	const uint8_t *h = get_le64(h1 + 8) > get_le64(h0 + 8) ? h1 : h0;
	const uint8_t *body = m + get_le64(h + 16);
	uint64_t seq = get_le64(body + 16), pos = get_le64(body + 24), last = 0, n = 0;
	for (;; n++) {
		const uint8_t *b = m + THIN_JOURNAL_OFF + pos;
		if (get_le32(b) != THIN_JBLK_MAGIC || get_le64(b + 8) != seq)
			break;
		uint64_t len = get_le32(b + 20), used = THIN_JHDR + get_le32(b + 16) * THIN_REC;
		if (n < 2) {
			add(l, "journal", THIN_JOURNAL_OFF + pos, used);
			add(l, "journal", THIN_JOURNAL_OFF + pos + len, used);
		}
		last = pos;
		pos = (pos + 2 * len) % jsize;
		seq++;
	}
	assert_true(n >= 4);
	const uint8_t *b = m + THIN_JOURNAL_OFF + last;
	uint64_t used = THIN_JHDR + get_le32(b + 16) * THIN_REC;
	add(l, "journal", THIN_JOURNAL_OFF + last, used);
	add(l, "journal", THIN_JOURNAL_OFF + last + get_le32(b + 20), used);
}

static void layout_of(const uint8_t *m, struct layout *l)
{
	l->n = 0;
	add(l, "header", 0, 52);
	add(l, "header", THIN_SB_COPY_OFF, 52);
	layout_slots(m, l);
	layout_journal(m, get_le64(m + 24), l);
}

static void flip(const char *path, uint64_t bit)
{
	int fd = open(path, O_RDWR);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, (off_t)(bit / 8)), 1);
	c ^= (uint8_t)(1u << (bit % 8));
	assert_int_equal(pwrite(fd, &c, 1, (off_t)(bit / 8)), 1);
	close(fd);
}

/* Open after the flip: 0 lost, or a refusal (none is expected: every block
 * has a good copy). Returns 1 if the open reported damage. */
static int trial(struct env *e, const struct ref *want, uint64_t bit, const char *cls)
{
	char err[512] = "";
	int r = env_open_pool(e, err, sizeof(err));
	if (r)
		fail_msg("%s: bit %llu: open refused: %s", cls, (unsigned long long)bit, err);
	struct ref got;
	ref_take(e->pool, &got);
	if (!ref_equal(&got, want))
		fail_msg("%s: bit %llu: acknowledged mappings lost", cls, (unsigned long long)bit);
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(e->pool, false, &rep), 0);
	assert_int_equal(rep.lost_blocks, 0);
	assert_int_equal(lun_thin_pool_close(e->pool), 0);
	e->pool = NULL;
	return rep.damaged_blocks > 0;
}

struct tally {
	const char *cls;
	unsigned flips, repaired;
};

static void count(struct tally *t, const char *cls, int repaired)
{
	while (t->cls && strcmp(t->cls, cls))
		t++;
	t->cls = cls;
	t->flips++;
	t->repaired += (unsigned)repaired;
}

/* 12 bits of a region: 8 in its first 16 bytes (magic, version, sequence or
 * generation, counts), 4 spread over the rest. */
static uint64_t nth_bit(const struct region *g, unsigned i, bool *more)
{
	uint64_t byte = i < 8 ? 2 * i : 16 + (g->len - 16) * (i - 8) / 4;
	*more = i < 12 && byte < g->len;
	return (g->off + byte) * 8 + (i * 3) % 8;
}

static void test_single_bit_flips(void **state)
{
	struct ref want;
	struct env *e = build(&want);
	size_t len;
	uint8_t *tmpl = file_get(e->meta, &len);
	struct layout l;
	layout_of(tmpl, &l);
	struct tally t[8] = { { 0 } };
	for (int g = 0; g < l.n; g++) {
		bool more = true;
		for (unsigned i = 0; more; i++) {
			uint64_t bit = nth_bit(&l.r[g], i, &more);
			if (!more)
				break;
			file_put(e->meta, tmpl, len);
			flip(e->meta, bit);
			count(t, l.r[g].cls, trial(e, &want, bit, l.r[g].cls));
		}
	}
	for (struct tally *p = t; p->cls; p++) {
		printf("%-10s %4u single-bit flips: 0 acknowledged writes lost, %u repaired from "
		       "a copy\n",
		       p->cls, p->flips, p->repaired);
		assert_true(p->flips > 0);
	}
	free(tmpl);
	env_free(e);
}

/* The second journal block after the checkpoint, damaged in both copies. */
static void test_double_damage_refused(void **state)
{
	struct ref want;
	struct env *e = build(&want);
	size_t len;
	uint8_t *tmpl = file_get(e->meta, &len);
	struct layout l;
	layout_of(tmpl, &l);
	int j = 0;
	while (strcmp(l.r[j].cls, "journal"))
		j++;
	assert_true(j + 5 < l.n); /* two blocks and the last */
	flip(e->meta, (l.r[j + 2].off + 40) * 8);
	flip(e->meta, (l.r[j + 3].off + 40) * 8);
	char err[512] = "";
	assert_int_equal(env_open_pool(e, err, sizeof(err)), -EUCLEAN);
	printf("refused: %s\n", err);
	assert_non_null(strstr(err, "damaged in every copy"));
	assert_non_null(strstr(err, "later acknowledged block"));
	struct lun_thin_pool_params p;
	pool_params(e, &p, 0, 0);
	p.salvage = true;
	assert_int_equal(lun_thin_pool_open(&p, &e->pool, err, sizeof(err)), 0);
	struct lun_thin_check_report rep;
	assert_int_equal(lun_thin_check(e->pool, true, &rep), 0);
	assert_true(rep.lost_blocks >= 2);
	assert_non_null(strstr(rep.damage, "damaged in every copy"));
	struct ref got;
	ref_take(e->pool, &got);
	assert_false(ref_equal(&got, &want)); /* lost, and said so */
	env_reopen(e, false);                 /* the salvaged pool opens cleanly from now on */
	check_clean(e);
	free(tmpl);
	env_free(e);
}

/* A corrupt slot header (valid CRC) that puts its body past the end of
 * the file: refused as such, without allocating its 32 GiB length; the
 * other slot and the journal open the pool with nothing lost
 * (fuzz_thin_meta). */
static void test_slot_body_beyond_file(void **state)
{
	struct ref want, got;
	struct env *e = build(&want);
	size_t len;
	uint8_t *b = file_get(e->meta, &len);
	int s = get_le64(b + THIN_SLOT0_OFF + THIN_SECTOR + 8) > get_le64(b + THIN_SLOT0_OFF + 8);
	uint8_t *h = b + THIN_SLOT0_OFF + (size_t)s * THIN_SECTOR;
	put_le64(h + 24, (uint64_t)1 << 35); /* capacity */
	put_le64(h + 32, (uint64_t)1 << 35); /* length */
	put_le32(h + 44, thin_crc(h, 44));
	file_put(e->meta, b, len);
	char err[512] = "";
	assert_int_equal(env_open_pool(e, err, sizeof(err)), 0);
	assert_non_null(strstr(e->pool->dmg.first, "body beyond the end of the file"));
	ref_take(e->pool, &got);
	assert_true(ref_equal(&got, &want));
	free(b);
	env_free(e);
}

/* Opening counts references over mapped leaves, not every virtual chunk:
 * a 4 PiB volume (2^36 chunks, all but one unmapped) and its snapshot
 * reopen with their one chunk; chunk by chunk this was 2^37 steps
 * (fuzz_thin_meta). */
static void test_huge_volume_opens(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 1 * MiB);
	uint64_t size = (uint64_t)CS << 36;
	assert_int_equal(lun_thin_volume_create(e->pool, 7, size), 0);
	struct lun_backend *v = vopen(e, 7, 512);
	put(e, v, size - CS, 4 * KiB, 9);
	lun_backend_close(v);
	assert_int_equal(lun_thin_snapshot(e->pool, 7, 8), 0);
	env_reopen(e, true);
	struct lun_thin_pool_status st;
	lun_thin_pool_status(e->pool, &st);
	assert_int_equal(st.volumes, 2);
	assert_int_equal(st.chunks_used, 1);
	check_clean(e);
	env_free(e);
}

/* A format 1 pool (one superblock, one copy per journal block) opens,
 * replays, and is converted. */
static void test_format1_converted(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 256 * KiB);
	e->pool->fmt = THIN_FMT_V1; /* idle pool: the service thread reads it per block */
	assert_int_equal(thin_sb_write(e->pool), 0);
	uint8_t zero[THIN_SECTOR] = { 0 };
	assert_int_equal(thin_pwrite(e->pool->fd, zero, sizeof(zero), THIN_SB_COPY_OFF), 0);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 8 * CS), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 0, 4 * KiB, 7);
	put(e, be, 3 * CS, 4 * KiB, 8);
	lun_backend_close(be);
	struct ref want, got;
	ref_take(e->pool, &want);
	env_reopen(e, true);
	assert_int_equal(e->pool->fmt, THIN_FMT);
	ref_take(e->pool, &got);
	assert_true(ref_equal(&got, &want));
	assert_int_equal(lun_thin_meta_probe(e->meta), 1);
	be = vopen(e, 1, 512);
	expect(e, be, 3 * CS, 4 * KiB, 8);
	lun_backend_close(be);
	env_reopen(e, true);
	ref_take(e->pool, &got);
	assert_true(ref_equal(&got, &want));
	env_free(e);
}

/* Create refuses data and foreign metadata unless force_new, and never
 * formats over a kura pool. */
static void test_create_refusals(void **state)
{
	struct env *e = env_new(16 * MiB, 0, 256 * KiB);
	assert_int_equal(lun_thin_volume_create(e->pool, 1, 8 * CS), 0);
	struct lun_backend *be = vopen(e, 1, 512);
	put(e, be, 0, 4 * KiB, 9);
	lun_backend_close(be);
	assert_int_equal(lun_thin_pool_close(e->pool), 0);
	e->pool = NULL;
	struct lun_thin_pool_params p;
	pool_params(e, &p, 0, 0);
	char err[512];
	p.force_new = true; /* a kura pool: never */
	assert_int_equal(lun_thin_pool_create(&p, &e->pool, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "is a kura thin pool"));
	unlink(e->meta); /* metadata lost, data left */
	p.force_new = false;
	assert_int_equal(lun_thin_pool_create(&p, &e->pool, err, sizeof(err)), -ENOTEMPTY);
	assert_non_null(strstr(err, "holds data"));
	assert_int_equal(access(e->meta, F_OK), -1);    /* nothing written */
	int fd = open(e->meta, O_RDWR | O_CREAT, 0600); /* foreign metadata */
	assert_int_equal(write(fd, "not a pool", 10), 10);
	close(fd);
	assert_int_equal(lun_thin_pool_create(&p, &e->pool, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "not a kura thin pool"));
	p.force_new = true;
	assert_int_equal(lun_thin_pool_create(&p, &e->pool, err, sizeof(err)), 0);
	assert_int_equal(used(e), 0); /* a new, empty pool */
	assert_int_equal(lun_thin_pool_close(e->pool), 0);
	e->pool = NULL;
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_bit_flips),
		cmocka_unit_test(test_double_damage_refused),
		cmocka_unit_test(test_slot_body_beyond_file),
		cmocka_unit_test(test_huge_volume_opens),
		cmocka_unit_test(test_format1_converted),
		cmocka_unit_test(test_create_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
