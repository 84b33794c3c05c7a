/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the multipath core's events (initiator/mpath.c): listeners
 * hear LU_ADDED once per new LU, LU_RESIZED when a rescan reports another
 * size, PATH_UP / NO_PATH when the LU gains its first usable path or loses
 * its last one, QUEUE_FAILED when FAIL-QUEUE makes the no-path queue fail;
 * they hear them in subscription order and no longer after unsubscribing.
 * Paths are fake (no session): the core only reads their state and ALUA
 * state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/container.h"
#include "initiator/initiatord_internal.h"

struct rec {
	struct mpath_listener l;
	int tag;
};

static int g_log[32][2], g_n;

static void on_event(struct mpath_listener *l, struct ini_lu *lu, enum mpath_event ev)
{
	assert_true(g_n < 32);
	g_log[g_n][0] = container_of(l, struct rec, l)->tag;
	g_log[g_n++][1] = (int)ev;
}

static void expect_log(int n, const int (*want)[2])
{
	assert_int_equal(g_n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(g_log[i][0], want[i][0]);
		assert_int_equal(g_log[i][1], want[i][1]);
	}
	g_n = 0;
}

static struct ini_path *fake_path(struct ini_daemon *d, int sid)
{
	struct ini_path *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->d = d;
	p->sid = sid;
	p->state = PATH_PROBING;
	snprintf(p->id.target, sizeof(p->id.target), "iqn.2026-12.org.kura:t");
	snprintf(p->id.address, sizeof(p->id.address), "10.0.0.%d", sid);
	p->id.port = 3260;
	return p;
}

static struct ini_lu *attach(struct ini_daemon *d, struct ini_path *p, uint64_t blocks)
{
	struct mpath_ident id = { .naa = { 0x60, 1, 2, 3, 4, 5, 6, 7 },
				  .naa_len = 8,
				  .rel_port = 1 };
	struct ini_lu *lu = mpath_attach(d, p, 0, &id, blocks, 512);
	assert_non_null(lu);
	p->luns[0] = (struct path_lun){ .lun = 0, .lu = lu, .alua_state = ALUA_AO, .tpg = 1 };
	p->n_luns = 1;
	return lu;
}

static void test_events(void **state)
{
	(void)state;
	struct ini_daemon *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	ini_opts_defaults(&d->o);
	pthread_mutex_init(&d->lus_mu, NULL);
	assert_non_null(d->loop = kloop_new(8));
	struct rec a = { .l.fn = on_event, .tag = 1 }, b = { .l.fn = on_event, .tag = 2 };
	mpath_subscribe(d, &a.l);
	mpath_subscribe(d, &b.l);
	struct ini_path *p1 = fake_path(d, 1), *p2 = fake_path(d, 2);

	struct ini_lu *lu = attach(d, p1, 100);
	expect_log(2, (const int[][2]){ { 1, MPATH_EV_LU_ADDED }, { 2, MPATH_EV_LU_ADDED } });
	assert_ptr_equal(attach(d, p2, 100), lu); /* same identity: same LU, a path joined */
	expect_log(2, (const int[][2]){ { 1, MPATH_EV_PATHS_CHANGED },
					{ 2, MPATH_EV_PATHS_CHANGED } });
	assert_ptr_equal(attach(d, p2, 100), lu); /* the same path again (rescan): no event */
	expect_log(0, NULL);
	assert_int_equal(lu->n_paths, 2);
	attach(d, p2, 200);
	expect_log(2, (const int[][2]){ { 1, MPATH_EV_LU_RESIZED }, { 2, MPATH_EV_LU_RESIZED } });

	mpath_unsubscribe(d, &a.l);
	p1->state = PATH_UP;
	mpath_paths_changed(lu);
	expect_log(1, (const int[][2]){ { 2, MPATH_EV_PATH_UP } });
	p2->state = PATH_UP;
	mpath_paths_changed(lu); /* still up: nothing new */
	expect_log(0, NULL);
	mpath_detach_path(d, p1);
	expect_log(1, (const int[][2]){ { 2, MPATH_EV_PATHS_CHANGED } }); /* p2 still up */
	p2->state = PATH_FAILED;
	mpath_paths_changed(lu);
	expect_log(1, (const int[][2]){ { 2, MPATH_EV_NO_PATH } });
	assert_int_equal(mpath_fail_queue(lu), 0);
	assert_int_equal(mpath_fail_queue(lu), 0); /* already failing: told once */
	expect_log(1, (const int[][2]){ { 2, MPATH_EV_QUEUE_FAILED } });
	p2->state = PATH_UP;
	mpath_paths_changed(lu);
	expect_log(1, (const int[][2]){ { 2, MPATH_EV_PATH_UP } });
	assert_false(lu->q.failing);

	mpath_unsubscribe(d, &b.l);
	assert_null(d->listeners);
	free(p1);
	free(p2);
	for (int i = 0; i < d->n_lus; i++)
		free(d->lus[i]);
	kloop_free(d->loop);
	pthread_mutex_destroy(&d->lus_mu);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
