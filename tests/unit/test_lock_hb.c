/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the liveness decisions (cluster-lock/lock_hb.c) on an
 * injected boot-time clock. I12: the records' wall-time fields jumping by
 * years, forward or back, change no verdict; only the injected clock does.
 * I6 at unit level: a stall every host sees (the observer's own writes stop
 * too) fences nobody, during it or when it ends; a peer that stays silent is
 * dead only fail_after after the observer's own writes resumed; a single
 * path failover (3 s gap on both sides) fences nobody; fewer than two own
 * writes in the window is never enough. Also LEAVING / FENCED / corrupt
 * slots, self, and a new incarnation counting as a heartbeat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "cluster-lock/lock_hb.c"

#define S  1000000000ull
#define MS 1000000ull

static struct lock_hb hb;
static struct lock_slot peer;

static int setup(void **state)
{
	lock_hb_init(&hb, 1, 1000, 10000);
	memset(&peer, 0, sizeof(peer));
	peer.host_id = 2;
	peer.state = LOCK_SLOT_JOINED;
	peer.incarnation = 1;
	return 0;
}

/* Both hosts beat every second from t0 to t1 (observer reads after writing). */
static enum lock_hb_verdict run(uint64_t t0, uint64_t t1, bool own, bool theirs)
{
	enum lock_hb_verdict v = LOCK_HB_EMPTY;
	for (uint64_t t = t0; t <= t1; t += S) {
		if (own)
			lock_hb_own_write(&hb, t);
		if (theirs)
			peer.counter++;
		v = lock_hb_observe(&hb, &peer, false, t + 10 * MS);
	}
	return v;
}

static void test_alive_then_dead(void **state)
{
	assert_int_equal(run(0, 5 * S, true, true), LOCK_HB_ALIVE);
	assert_int_equal(run(6 * S, 6 * S, true, false), LOCK_HB_ALIVE);
	assert_int_equal(run(8 * S, 14 * S, true, false), LOCK_HB_SUSPECT);
	assert_int_equal(run(15 * S, 15 * S, true, false), LOCK_HB_DEAD); /* 10 s stale */
	assert_int_equal(lock_hb_age_ms(&hb, 2, 15 * S + 10 * MS), 10000);
	assert_int_equal(run(16 * S, 16 * S, true, true), LOCK_HB_ALIVE); /* it moved */
}

/* I12: the same clock, wildly different wall-time fields: same verdicts. */
static void test_wall_clock_ignored(void **state)
{
	static const int64_t walls[] = { 1796000000, 0, -1, INT64_MAX / 2,
					 1796000000 - 86400 * 365 };
	enum lock_hb_verdict seq[5][20];
	for (int w = 0; w < 5; w++) {
		setup(NULL);
		for (int i = 0; i < 20; i++) {
			uint64_t t = (uint64_t)i * S;
			lock_hb_own_write(&hb, t);
			if (i < 5)
				peer.counter++;
			peer.wall = walls[w] + (i % 2 ? -3600 * i : 3600 * i);
			seq[w][i] = lock_hb_observe(&hb, &peer, false, t + MS);
		}
	}
	for (int w = 1; w < 5; w++)
		assert_memory_equal(seq[0], seq[w], sizeof(seq[0]));
	assert_int_equal(seq[0][19], LOCK_HB_DEAD);
	assert_int_equal(seq[0][4], LOCK_HB_ALIVE);
}

/* I6: all paths to the target blocked for 30 s: nobody's writes land. */
static void test_stall_everyone(void **state)
{
	assert_int_equal(run(0, 5 * S, true, true), LOCK_HB_ALIVE);
	/* during the stall the observer cannot even read: at most one late read */
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 20 * S), LOCK_HB_SUSPECT);
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 35 * S), LOCK_HB_SUSPECT);
	/* the stall ends: my writes resume a moment before I see the peer's */
	lock_hb_own_write(&hb, 36 * S);
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 36 * S + MS), LOCK_HB_ALIVE);
	lock_hb_own_write(&hb, 37 * S);
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 37 * S + MS), LOCK_HB_ALIVE);
	assert_int_equal(run(38 * S, 40 * S, true, true), LOCK_HB_ALIVE);
}

/* After a stall, a peer that stays silent is dead fail_after after MY resume. */
static void test_stall_then_silent_peer(void **state)
{
	run(0, 5 * S, true, true);
	lock_hb_own_write(&hb, 40 * S); /* 35 s own gap */
	assert_int_equal(run(41 * S, 49 * S, true, false), LOCK_HB_SUSPECT);
	assert_int_equal(run(50 * S, 50 * S, true, false), LOCK_HB_DEAD);
}

/* A single path failover: ~3 s without completed writes on both sides. */
static void test_path_failover(void **state)
{
	run(0, 5 * S, true, true);
	assert_int_equal(run(9 * S, 20 * S, true, true), LOCK_HB_ALIVE);
	assert_int_equal(lock_hb_age_ms(&hb, 2, 20 * S + 10 * MS), 0);
}

/* The observer's own writes fail (it alone is cut off): it never declares a
 * peer dead, however long; one own write in the window is not enough. */
static void test_observer_cut_off(void **state)
{
	run(0, 5 * S, true, true);
	for (uint64_t t = 6 * S; t < 60 * S; t += S)
		assert_int_not_equal(lock_hb_observe(&hb, &peer, false, t), LOCK_HB_DEAD);
	lock_hb_own_write(&hb, 60 * S);
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 75 * S), LOCK_HB_SUSPECT);
	lock_hb_own_write(&hb, 76 * S); /* a 16 s gap of my own: the clock restarts */
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 76 * S + MS), LOCK_HB_ALIVE);
	assert_int_equal(run(77 * S, 86 * S, true, false), LOCK_HB_DEAD);
}

static void test_states(void **state)
{
	run(0, 2 * S, true, true);
	peer.state = LOCK_SLOT_LEAVING;
	assert_int_equal(run(3 * S, 60 * S, true, false), LOCK_HB_LEAVING);
	peer.state = LOCK_SLOT_FENCED;
	assert_int_equal(run(61 * S, 62 * S, true, false), LOCK_HB_FENCED);
	peer.state = LOCK_SLOT_FENCING;
	assert_int_equal(run(63 * S, 72 * S, true, false), LOCK_HB_FENCED);
	assert_int_equal(run(73 * S, 73 * S, true, false), LOCK_HB_DEAD); /* fencer died */
	peer.state = LOCK_SLOT_FENCED;
	assert_int_equal(run(74 * S, 74 * S, true, false), LOCK_HB_FENCED);
	peer.state = LOCK_SLOT_LEFT;
	assert_int_equal(run(75 * S, 76 * S, true, false), LOCK_HB_LEFT);
	peer.state = LOCK_SLOT_FREE;
	assert_int_equal(run(77 * S, 78 * S, true, false), LOCK_HB_EMPTY);
	assert_int_equal(lock_hb_observe(&hb, &peer, true, 79 * S), LOCK_HB_CORRUPT);
	peer.host_id = 1; /* myself */
	peer.state = LOCK_SLOT_JOINED;
	assert_int_equal(run(80 * S, 99 * S, true, false), LOCK_HB_ALIVE);
	peer.host_id = 0;
	assert_int_equal(lock_hb_observe(&hb, &peer, false, 100 * S), LOCK_HB_CORRUPT);
	assert_string_equal(lock_hb_verdict_name(LOCK_HB_DEAD), "dead");
}

/* A rejoin (new incarnation) with the same counter counts as a change. */
static void test_new_incarnation(void **state)
{
	run(0, 2 * S, true, true);
	assert_int_equal(run(3 * S, 13 * S, true, false), LOCK_HB_DEAD);
	peer.incarnation++;
	assert_int_equal(run(14 * S, 14 * S, true, false), LOCK_HB_ALIVE);
	assert_int_equal(lock_hb_age_ms(&hb, 9, 0), UINT64_MAX);
	assert_true(lock_now_boot_ns() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_alive_then_dead, setup),
		cmocka_unit_test_setup(test_wall_clock_ignored, setup),
		cmocka_unit_test_setup(test_stall_everyone, setup),
		cmocka_unit_test_setup(test_stall_then_silent_peer, setup),
		cmocka_unit_test_setup(test_path_failover, setup),
		cmocka_unit_test_setup(test_observer_cut_off, setup),
		cmocka_unit_test_setup(test_states, setup),
		cmocka_unit_test_setup(test_new_incarnation, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
