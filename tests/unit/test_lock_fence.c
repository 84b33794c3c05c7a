/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the fence (cluster-lock/lock_fence.c) and of a host's own
 * slot (lock_join.c) on the mock HA LUN of lock_mock.h. I2 at unit level:
 * the FENCED mark is written only after every preempt and after READ KEYS
 * showed the victim's key gone everywhere, and the victim's lease cannot be
 * taken before that, whatever step fails. Also: a moved victim aborts the
 * fence before any preempt; losing the HA LUN preempt (mutual fence) is
 * LOCK_E_FENCED with no VM LUN touched; a retry resumes a FENCING slot; the
 * victim's heartbeat sees FENCED, a drain's LEAVING mark, and takes its slot
 * back from a fencer that lost.
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

static uint64_t key_of(int id)
{
	return lock_key(0x1234, (uint16_t)id, 5);
}

static struct lock_slot disk_slot(uint16_t id)
{
	struct lock_slot s;
	assert_int_equal(lock_slot_decode(disk.blk[lock_slot_lba(id)], MOCK_BS, id, &s), 0);
	return s;
}

/* Victim 2 owns web1 and is registered on VM LUNs 1..3. */
static struct lock_fence_req victim2(struct lock_lun **luns)
{
	struct lock_lease l;
	assert_int_equal(lock_lease_acquire(&hv[2].h, "web1", UINT64_MAX, &l), 0);
	for (int i = 1; i < MOCK_LUNS; i++) {
		luns[i - 1] = mock_lun(i);
		mock_add_key(&disk, i, key_of(2));
	}
	disk.nlog = 0;
	return (struct lock_fence_req){ .victim = 2,
					.stale = disk_slot(2),
					.vm_luns = luns,
					.n_vm_luns = MOCK_LUNS - 1 };
}

static void test_order(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	assert_int_equal(lock_fence(&hv[1].h, &r), 0);
	int fencing = mock_log_index(&disk, "slot 2 fencing");
	int ha = mock_log_index(&disk, "preempt lun 0 host 2");
	int fenced = mock_log_index(&disk, "slot 2 fenced");
	assert_true(fencing >= 0 && ha > fencing && fenced > ha);
	char e[48];
	for (int i = 1; i < MOCK_LUNS; i++) {
		snprintf(e, sizeof(e), "preempt lun %d host 2", i);
		assert_true(mock_log_index(&disk, e) > ha && mock_log_index(&disk, e) < fenced);
		snprintf(e, sizeof(e), "has_key lun %d host 2 -> 0", i);
		assert_true(mock_log_index(&disk, e) > ha && mock_log_index(&disk, e) < fenced);
	}
	assert_true(mock_logged(&disk, "has_key lun 0 host 2 -> 0"));
	struct lock_slot s = disk_slot(2);
	assert_int_equal(s.state, LOCK_SLOT_FENCED);
	assert_int_equal(s.fenced_by, 1);
	assert_int_equal(s.fence_epoch, 1);
	struct lock_lease l;
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), 0);
	assert_int_equal(l.fence_epoch, 1);
}

/* Whatever step fails, no FENCED mark and no lease move (I2). */
static void fail_case(int fail_lun, int keep_lun, int expect)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	struct lock_lease l;
	disk.preempt_fail_lun = fail_lun;
	disk.keep_key_lun = keep_lun;
	assert_int_equal(lock_fence(&hv[1].h, &r), expect);
	assert_false(mock_logged(&disk, "slot 2 fenced"));
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_FENCING);
	assert_int_equal(lock_lease_acquire(&hv[1].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
	assert_int_equal(lock_lease_acquire(&hv[3].h, "web1", UINT64_MAX, &l), LOCK_E_CONFLICT);
	/* the retry resumes from FENCING (no second epoch) and completes */
	disk.preempt_fail_lun = disk.keep_key_lun = 0;
	r.stale = disk_slot(2);
	assert_int_equal(lock_fence(&hv[1].h, &r), 0);
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_FENCED);
	assert_int_equal(disk_slot(2).fence_epoch, 1);
	assert_int_equal(lock_lease_acquire(&hv[3].h, "web1", UINT64_MAX, &l), 0);
}

static void test_preempt_fails(void **state)
{
	fail_case(2, 0, -EIO);
}
static void test_key_stays(void **state)
{
	fail_case(0, 3, -EAGAIN);
}

static void test_victim_moved(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	assert_int_equal(lock_ha_heartbeat(&hv[2].h), 0); /* the victim was alive */
	disk.nlog = 0;
	assert_int_equal(lock_fence(&hv[1].h, &r), LOCK_E_MISCOMPARE);
	assert_int_equal(disk.nlog, 0); /* not one preempt */
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_JOINED);
}

/* Mutual fence: 1 won step 1 (2's slot FENCING by 1), then 2's PREEMPT of
 * 1's key landed first. 1 gets LOCK_E_FENCED at step 2 and touches no VM
 * LUN; 2 takes its slot back at its next heartbeat. */
static void test_lost_race(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	struct lock_slot s = r.stale;
	s.state = LOCK_SLOT_FENCING;
	s.fenced_by = 1;
	s.fence_epoch = 1;
	lock_slot_encode(&s, disk.blk[lock_slot_lba(2)], MOCK_BS); /* 1's step 1 */
	disk.keys[0][key_slot(&disk, 0, key_of(1))] = 0;           /* 2's step 2 */
	r.stale = s;
	assert_int_equal(lock_fence(&hv[1].h, &r), LOCK_E_FENCED);
	for (int i = 1; i < MOCK_LUNS; i++)
		assert_int_equal(key_slot(&disk, i, key_of(2)) >= 0, 1);
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_FENCING);
	assert_int_equal(lock_ha_heartbeat(&hv[2].h), 0);
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_JOINED);
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), LOCK_E_FENCED);
}

/* 2's PREEMPT landed before 1's step 1: 1 cannot even write the FENCING mark. */
static void test_lost_race_early(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	disk.keys[0][key_slot(&disk, 0, key_of(1))] = 0;
	assert_int_equal(lock_fence(&hv[1].h, &r), LOCK_E_FENCED);
	assert_false(mock_logged(&disk, "preempt lun 0 host 2"));
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_JOINED);
}

/* FENCING by a live fencer that still holds its key: not fenced yet, and not
 * beating over the record either. */
static void test_fencing_in_progress(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	disk.preempt_fail_lun = 0;
	disk.fault[disk.nfault++] = FAULT_NONE;
	struct lock_slot s = r.stale;
	s.state = LOCK_SLOT_FENCING;
	s.fenced_by = 1;
	lock_slot_encode(&s, disk.blk[lock_slot_lba(2)], MOCK_BS);
	assert_int_equal(lock_ha_heartbeat(&hv[2].h), -EAGAIN);
	assert_int_equal(disk_slot(2).state, LOCK_SLOT_FENCING);
	disk.keys[0][key_slot(&disk, 0, key_of(2))] = 0; /* 1's PREEMPT lands */
	assert_int_equal(lock_ha_heartbeat(&hv[2].h), LOCK_E_FENCED);
}

/* Host 3 died half-way through fencing 2: host 1 takes the fence over. */
static void test_take_over_fence(void **state)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	struct lock_slot s = r.stale;
	s.state = LOCK_SLOT_FENCING;
	s.fenced_by = 3;
	s.fence_epoch = 1;
	lock_slot_encode(&s, disk.blk[lock_slot_lba(2)], MOCK_BS);
	r.stale = s;
	assert_int_equal(lock_fence(&hv[1].h, &r), 0);
	s = disk_slot(2);
	assert_int_equal(s.state, LOCK_SLOT_FENCED);
	assert_int_equal(s.fenced_by, 1);
	assert_int_equal(s.fence_epoch, 2);
	assert_true(mock_log_index(&disk, "slot 2 fencing") <
		    mock_log_index(&disk, "preempt lun 0 host 2"));
}

/* Step 5 finds another record of the same incarnation (another fencer
 * finished first): it writes FENCED over it; another incarnation: stop. */
static void step5_case(uint32_t incarnation, int expect)
{
	struct lock_lun *luns[MOCK_LUNS];
	struct lock_fence_req r = victim2(luns);
	struct lock_slot other = r.stale;
	other.state = LOCK_SLOT_FENCED;
	other.fenced_by = 3;
	other.incarnation = incarnation;
	lock_slot_encode(&other, disk.steal, MOCK_BS);
	disk.fault[disk.nfault++] = FAULT_NONE;  /* step 1 */
	disk.fault[disk.nfault++] = FAULT_STEAL; /* step 5 */
	assert_int_equal(lock_fence(&hv[1].h, &r), expect);
	struct lock_slot s = disk_slot(2);
	assert_int_equal(s.state, LOCK_SLOT_FENCED);
	assert_int_equal(s.fenced_by, expect == 0 ? 1 : 3);
}

static void test_step5_same_incarnation(void **state)
{
	step5_case(5, 0);
}
static void test_step5_other_incarnation(void **state)
{
	step5_case(6, LOCK_E_MISCOMPARE);
}

static void test_heartbeat(void **state)
{
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), 0);
	assert_int_equal(disk_slot(1).counter, 2);
	disk.fault[disk.nfault++] = FAULT_DROP_AFTER; /* lost completion: no double beat */
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), 0);
	assert_int_equal(disk_slot(1).counter, 3);
	disk.fault[disk.nfault++] = FAULT_CONFLICT; /* conflict, key still there */
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), LOCK_E_RESV_CONFLICT);
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), 0);
	disk.keys[0][key_slot(&disk, 0, key_of(1))] = 0;
	disk.fault[disk.nfault++] = FAULT_CONFLICT; /* conflict, key gone: fenced */
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), LOCK_E_FENCED);
}

/* kura-lockctl drain marks the slot LEAVING from another host: the drained
 * host sees it at its next beat and keeps beating LEAVING. */
static void test_drain_mark(void **state)
{
	assert_int_equal(lock_ha_mark_leaving(&hv[3].h, 1), 0);
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), LOCK_E_LEFT);
	assert_int_equal(disk_slot(1).state, LOCK_SLOT_LEAVING);
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), 0);
	assert_int_equal(disk_slot(1).state, LOCK_SLOT_LEAVING);
	assert_int_equal(lock_ha_mark_leaving(&hv[3].h, 1), 0); /* idempotent */
	struct lock_fence_req r = { .victim = 1, .stale = disk_slot(1) };
	struct lock_slot fenced = r.stale;
	fenced.state = LOCK_SLOT_FENCED;
	lock_slot_encode(&fenced, disk.blk[lock_slot_lba(1)], MOCK_BS);
	assert_int_equal(lock_ha_heartbeat(&hv[1].h), LOCK_E_FENCED);
	assert_int_equal(lock_ha_mark_leaving(&hv[3].h, 1), LOCK_E_CONFLICT);
}

static void test_bad_requests(void **state)
{
	struct lock_fence_req r = { .victim = 1, .stale = disk_slot(1) };
	assert_int_equal(lock_fence(&hv[1].h, &r), -EINVAL); /* myself */
	r.victim = 2;
	assert_int_equal(lock_fence(&hv[1].h, &r), -EINVAL); /* stale of another slot */
	r.stale = disk_slot(2);
	r.stale.state = LOCK_SLOT_FENCED;
	assert_int_equal(lock_fence(&hv[1].h, &r), 0); /* already fenced */
	assert_int_equal(disk.nlog, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_order, setup),
		cmocka_unit_test_setup(test_preempt_fails, setup),
		cmocka_unit_test_setup(test_key_stays, setup),
		cmocka_unit_test_setup(test_victim_moved, setup),
		cmocka_unit_test_setup(test_lost_race, setup),
		cmocka_unit_test_setup(test_lost_race_early, setup),
		cmocka_unit_test_setup(test_fencing_in_progress, setup),
		cmocka_unit_test_setup(test_take_over_fence, setup),
		cmocka_unit_test_setup(test_step5_same_incarnation, setup),
		cmocka_unit_test_setup(test_step5_other_incarnation, setup),
		cmocka_unit_test_setup(test_heartbeat, setup),
		cmocka_unit_test_setup(test_drain_mark, setup),
		cmocka_unit_test_setup(test_bad_requests, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
