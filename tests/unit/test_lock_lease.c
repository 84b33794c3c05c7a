/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the lease records (cluster-lock/lock_lease.c) and of the
 * COMPARE AND WRITE resolution under them (lock_caw.c), on the mock HA LUN of
 * lock_mock.h. I8 at unit level: a CAW whose completion is lost after it
 * executed counts as success without a second write; one lost before
 * execution is sent again; one that lost to another host is a conflict,
 * never a false success; a random storm of faults among three hosts never
 * grants one lver twice. Also: migration window rules, release, a corrupt
 * lease record is never taken as free, records are claimed in index order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "lock_mock.h"

static struct mock_disk disk;
static struct mock_host hv[4];

static int setup(void **state)
{
	mock_format(&disk);
	for (uint16_t i = 1; i <= 3; i++)
		mock_host_init(&hv[i], &disk, i, 5);
	return 0;
}

static void disk_lease(uint32_t index, struct lock_lease *l)
{
	assert_int_equal(lock_lease_decode(disk.blk[lock_lease_lba(index)], MOCK_BS, index, l), 0);
}

static void assert_lease_eq(const struct lock_lease *a, const struct lock_lease *b)
{
	assert_string_equal(a->vm, b->vm);
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->owner_incarnation, b->owner_incarnation);
	assert_int_equal(a->lver, b->lver);
	assert_int_equal(a->mig_src, b->mig_src);
	assert_int_equal(a->mig_dst, b->mig_dst);
	assert_int_equal(a->mig_phase, b->mig_phase);
	assert_int_equal(a->fence_epoch, b->fence_epoch);
}

static void test_acquire_release(void **state)
{
	struct lock_lease l, d;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	assert_int_equal(l.owner, 1);
	assert_int_equal(l.owner_incarnation, 5);
	assert_int_equal(l.lver, 2); /* 1 when claimed, 2 when taken */
	disk_lease(0, &d);
	assert_lease_eq(&d, &l);
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	assert_int_equal(l.lver, 2); /* mine already: nothing written */
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_release(&hv[2].h, "web1", &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_release(&hv[1].h, "web1", &l), 0);
	assert_int_equal(l.owner, 0);
	assert_int_equal(l.lver, 3);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", 2, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", 3, &l), 0);
	assert_int_equal(lock_lease_acquire(&hv[1].h, "db1", UINT64_MAX, &l), 0);
	disk_lease(1, &d); /* the next record in index order */
	assert_string_equal(d.vm, "db1");
}

/* I8: completion lost after execution: success, one write only. */
static void test_lost_after(void **state)
{
	struct lock_lease l, d;
	assert_int_equal(lock_lease_get(&hv[1].h, "web1", &l), 0);
	int before = disk.caw_executed;
	disk.fault[disk.nfault++] = FAULT_DROP_AFTER;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	assert_int_equal(disk.caw_executed, before + 1);
	disk_lease(0, &d);
	assert_int_equal(d.owner, 1);
	assert_int_equal(d.lver, 2);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
}

/* I8: lost before execution: sent again, success. */
static void test_lost_before(void **state)
{
	struct lock_lease l, d;
	assert_int_equal(lock_lease_get(&hv[1].h, "web1", &l), 0);
	disk.fault[disk.nfault++] = FAULT_DROP_BEFORE;
	disk.fault[disk.nfault++] = FAULT_DROP_BEFORE;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	disk_lease(0, &d);
	assert_int_equal(d.owner, 1);
	assert_int_equal(d.lver, 2);
}

/* Someone else's record landed first: conflict, never a false success,
 * whether or not my completion came back. */
static void steal_case(enum mock_fault f)
{
	struct lock_lease l, theirs, d;
	assert_int_equal(lock_lease_get(&hv[1].h, "web1", &l), 0);
	theirs = l;
	theirs.owner = 2;
	theirs.owner_incarnation = 5;
	theirs.lver = l.lver + 1;
	lock_lease_encode(&theirs, 0, disk.steal, MOCK_BS);
	disk.fault[disk.nfault++] = f;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
	disk_lease(0, &d);
	assert_int_equal(d.owner, 2);
	assert_int_equal(d.lver, 2);
}

static void test_steal(void **state)
{
	steal_case(FAULT_STEAL);
}
static void test_steal_drop(void **state)
{
	steal_case(FAULT_STEAL_DROP);
}

/* Random faults, three hosts contending for one lease (acquire/release):
 * each success a host reports must be true on disk at that moment, lver
 * only grows by one per executed write, and no lver is granted twice. */
static void test_storm(void **state)
{
	static const enum mock_fault faults[] = { FAULT_NONE, FAULT_NONE, FAULT_DROP_AFTER,
						  FAULT_DROP_BEFORE };
	uint8_t granted[4096] = { 0 };
	struct lock_lease l, d;
	srand(7);
	assert_int_equal(lock_lease_get(&hv[1].h, "vm", &l), 0);
	for (int i = 0; i < 2000; i++) {
		struct mock_host *m = &hv[1 + rand() % 3];
		disk.nfault = 0;
		for (int k = 0; k < 3; k++)
			disk.fault[disk.nfault++] = faults[rand() % 4];
		int exec_before = disk.caw_executed;
		disk_lease(0, &d);
		uint64_t lver_before = d.lver;
		int rc = rand() % 2 ? lock_lease_acquire(&m->h, "vm", UINT64_MAX, &l)
				    : lock_lease_release(&m->h, "vm", &l);
		disk_lease(0, &d);
		assert_true(rc == 0 || rc == LOCK_E_CONFLICT);
		assert_int_equal(d.lver, lver_before + (uint64_t)(disk.caw_executed - exec_before));
		assert_true(disk.caw_executed - exec_before <= 1); /* never a double write */
		if (rc == 0)
			assert_lease_eq(&d, &l);
		if (rc == 0 && d.lver != lver_before && d.owner) {
			assert_int_equal(granted[d.lver % 4096], 0);
			granted[d.lver % 4096] = 1;
		}
	}
}

static void test_migration_window(void **state)
{
	struct lock_lease l;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	uint64_t v = l.lver;
	assert_int_equal(lock_lease_migrate_begin(&hv[2].h, "web1", 3, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_migrate_begin(&hv[1].h, "web1", 1, &l), -EINVAL);
	assert_int_equal(lock_lease_migrate_begin(&hv[1].h, "web1", 2, &l), 0);
	assert_int_equal(l.lver, v + 1);
	assert_int_equal(l.mig_phase, LOCK_MIG_ACTIVE);
	assert_int_equal(lock_lease_handover(&hv[3].h, "web1", v + 1, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_acquire(&hv[3].h, "web1", v + 1, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_handover(&hv[2].h, "web1", v, &l), LOCK_E_CONFLICT);
	/* an aborted window leaves the lease with the source */
	assert_int_equal(lock_lease_migrate_abort(&hv[1].h, "web1", &l), 0);
	assert_int_equal(l.owner, 1);
	assert_int_equal(l.mig_phase, LOCK_MIG_NONE);
	assert_int_equal(lock_lease_handover(&hv[2].h, "web1", l.lver, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_migrate_begin(&hv[1].h, "web1", 2, &l), 0);
	disk.fault[disk.nfault++] = FAULT_DROP_AFTER; /* I8 on the hand-over too */
	assert_int_equal(lock_lease_handover(&hv[2].h, "web1", l.lver, &l), 0);
	assert_int_equal(l.owner, 2);
	assert_int_equal(l.lver, v + 4);
	assert_int_equal(lock_lease_migrate_abort(&hv[1].h, "web1", &l), LOCK_E_CONFLICT);
}

/* A corrupt lease block is never free and hides nothing. */
static void test_corrupt(void **state)
{
	struct lock_lease l;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "a", UINT64_MAX, &l), 0);
	disk.blk[lock_lease_lba(0)][100] ^= 0x10;
	assert_int_equal(lock_lease_acquire(&hv[2].h, "a", UINT64_MAX, &l), LOCK_E_CORRUPT);
	assert_int_equal(lock_lease_get(&hv[2].h, "b", &l), LOCK_E_CORRUPT);
	disk.blk[lock_lease_lba(0)][100] ^= 0x10;
	assert_int_equal(lock_lease_get(&hv[2].h, "b", &l), 0);
	disk.blk[lock_lease_lba(0)][100] ^= 0x10;
	assert_int_equal(lock_lease_get(&hv[2].h, "b", &l), 0); /* found elsewhere: fine */
}

/* The owner's slot decides a take-over: only FENCED with its incarnation. */
static void test_takeover_needs_fenced(void **state)
{
	struct lock_lease l;
	struct lock_slot s;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	lock_slot_decode(disk.blk[lock_slot_lba(1)], MOCK_BS, 1, &s);
	uint16_t states[] = { LOCK_SLOT_JOINED, LOCK_SLOT_LEAVING, LOCK_SLOT_FENCING,
			      LOCK_SLOT_LEFT };
	for (unsigned i = 0; i < 4; i++) {
		s.state = states[i];
		lock_slot_encode(&s, disk.blk[lock_slot_lba(1)], MOCK_BS);
		assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l),
				 LOCK_E_CONFLICT);
	}
	s.state = LOCK_SLOT_FENCED;
	s.incarnation = 6; /* a later incarnation was fenced, not the owner's */
	lock_slot_encode(&s, disk.blk[lock_slot_lba(1)], MOCK_BS);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
	s.incarnation = 5;
	s.fence_epoch = 3;
	lock_slot_encode(&s, disk.blk[lock_slot_lba(1)], MOCK_BS);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l), 0);
	assert_int_equal(l.owner, 2);
	assert_int_equal(l.fence_epoch, 3);
}

/* The status listing's lookup: read-only, no record created. */
static void test_image_lookup(void **state)
{
	static struct lock_image img;
	struct lock_lease l;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "a", UINT64_MAX, &l), 0);
	assert_int_equal(lock_lease_acquire(&hv[2].h, "b", UINT64_MAX, &l), 0);
	int before = disk.caw_executed;
	assert_int_equal(lock_ha_read_leases(&hv[3].h, &img), 0);
	assert_int_equal(lock_image_lease(&img, "b"), 1);
	assert_int_equal(img.lease[1].owner, 2);
	assert_int_equal(lock_image_lease(&img, "zz"), LOCK_E_NOTFOUND);
	assert_int_equal(lock_image_lease(&img, ""), LOCK_E_NOTFOUND);
	img.lease_status[5] = LOCK_REC_CORRUPT;
	assert_int_equal(lock_image_lease(&img, "zz"), LOCK_E_CORRUPT);
	assert_int_equal(lock_image_lease(&img, "a"), 0);
	assert_int_equal(disk.caw_executed, before);
	assert_int_equal(img.slot_status[1], LOCK_REC_UNREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_acquire_release, setup),
		cmocka_unit_test_setup(test_lost_after, setup),
		cmocka_unit_test_setup(test_lost_before, setup),
		cmocka_unit_test_setup(test_steal, setup),
		cmocka_unit_test_setup(test_steal_drop, setup),
		cmocka_unit_test_setup(test_storm, setup),
		cmocka_unit_test_setup(test_migration_window, setup),
		cmocka_unit_test_setup(test_corrupt, setup),
		cmocka_unit_test_setup(test_takeover_needs_fenced, setup),
		cmocka_unit_test_setup(test_image_lookup, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
