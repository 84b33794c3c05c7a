/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd's heartbeat thread and this host's own membership.
 *
 * Every heartbeat_interval: CAW my slot (lock_ha_heartbeat), read every slot,
 * feed them to the liveness rules (lock_hb_observe on CLOCK_BOOTTIME, I12)
 * and publish the verdicts for the main thread. The thread has its own HA
 * LUN handle, so fences and lease work on the main handle never delay it.
 * A heartbeat answered LOCK_E_FENCED (slot FENCING/FENCED, key preempted,
 * RESERVATION CONFLICT) kills every QEMU of this host here and now: the
 * storage already refuses their writes, and nothing of them may run on.
 *
 * Not for: deciding to fence others (lockd_ha.c, main thread).
 */
#include "cluster-lock/lockd.h"
#include "common/log.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void hb_serve_join(struct lockd *d);

void lockd_self_fence(struct lockd *d, const char *why)
{
	pthread_mutex_lock(&d->mu);
	bool first = d->self != LOCKD_SELF_FENCED;
	d->self = LOCKD_SELF_FENCED;
	for (int i = 0; i < d->cfg.n_vms; i++)
		if (d->pidfds[i] >= 0)
			lock_qemu_kill(d->pidfds[i]);
	pthread_mutex_unlock(&d->mu);
	if (first)
		kerr("host %s fenced (%s): every QEMU killed; waiting for "
		     "'kura-lockctl join %s'",
		     d->me->name, why, d->me->name);
	eventfd_write(d->evfd, 1);
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = t_ns / 1000000000ull, .tv_nsec = t_ns % 1000000000ull };
	while (clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void hb_write(struct lockd *d, struct lock_hb *hb)
{
	int r = lock_ha_heartbeat(d->ha_hb);
	uint64_t now = lock_now_boot_ns();
	if (r == 0) {
		lock_hb_own_write(hb, now);
		kdebug("heartbeat written"); /* the bench times the last one of a victim */
	}
	pthread_mutex_lock(&d->mu);
	if (r == 0)
		d->hb_last_ok_ns = now;
	if (r != d->hb_err && r != 0)
		kwarn("heartbeat write failed: %s", lock_strerror(r));
	d->hb_err = r;
	if (r == LOCK_E_LEFT)
		d->self = LOCKD_SELF_LEFT;
	pthread_mutex_unlock(&d->mu);
	if (r == LOCK_E_FENCED)
		lockd_self_fence(d, "heartbeat: my slot or key was taken");
}

static void hb_observe(struct lockd *d, struct lock_hb *hb, struct lock_image *img)
{
	if (lock_ha_read_slots(d->ha_hb, img) < 0)
		return;
	uint64_t now = lock_now_boot_ns();
	pthread_mutex_lock(&d->mu);
	for (int id = 1; id <= LOCK_MAX_HOSTS; id++) {
		bool corrupt = img->slot_status[id] == LOCK_REC_CORRUPT;
		struct lockd_view *v = &d->view[id];
		v->slot = img->slot[id];
		v->verdict = lock_hb_observe(hb, &img->slot[id], corrupt, now);
		v->age_ms = lock_hb_age_ms(hb, id, now);
	}
	d->view_valid = true;
	pthread_mutex_unlock(&d->mu);
}

static bool hb_joined(struct lockd *d)
{
	pthread_mutex_lock(&d->mu);
	bool j = d->self == LOCKD_SELF_JOINED;
	pthread_mutex_unlock(&d->mu);
	return j;
}

static void *hb_main(void *arg)
{
	struct lockd *d = arg;
	struct lock_hb hb;
	static __thread struct lock_image img; /* ~60 KiB: not on the stack */
	uint64_t step = d->cfg.heartbeat_interval_ms * 1000000ull;
	lock_hb_init(&hb, d->me->id, d->cfg.heartbeat_interval_ms, d->cfg.fail_after_ms);
	for (uint64_t next = lock_now_boot_ns(); !d->stopping; next += step) {
		hb_serve_join(d);
		if (hb_joined(d))
			hb_write(d, &hb);
		hb_observe(d, &hb, &img);
		eventfd_write(d->evfd, 1);
		uint64_t now = lock_now_boot_ns();
		if (next + step < now)
			next = now; /* a stall: do not burst to catch up */
		else
			sleep_until(next + step);
	}
	return NULL;
}

int lockd_hb_start(struct lockd *d)
{
	int r = pthread_create(&d->hb_thread, NULL, hb_main, d);
	d->hb_running = r == 0;
	return -r;
}

void lockd_hb_stop(struct lockd *d)
{
	d->stopping = true;
	if (d->hb_running)
		pthread_join(d->hb_thread, NULL);
	d->hb_running = false;
}

/* Join (start-up, or operator `join` after a fence or a drain): a new
 * incarnation and key on the heartbeat handle; the main handle adopts it.
 * Once the thread runs, it owns ha_hb: the main thread asks it to join. */
static int do_join(struct lockd *d)
{
	int r = lock_ha_join(d->ha_hb, 0);
	if (r < 0)
		return r;
	pthread_mutex_lock(&d->mu);
	d->self = LOCKD_SELF_JOINED;
	d->hb_err = 0;
	pthread_mutex_unlock(&d->mu);
	kinfo("host %s (id %u) joined with incarnation %u, key %016llx", d->me->name, d->me->id,
	      lock_ha_incarnation(d->ha_hb), (unsigned long long)lock_ha_key(d->ha_hb));
	return 0;
}

static void hb_serve_join(struct lockd *d)
{
	pthread_mutex_lock(&d->mu);
	bool want = d->join_req;
	pthread_mutex_unlock(&d->mu);
	if (!want)
		return;
	int r = do_join(d);
	pthread_mutex_lock(&d->mu);
	d->join_req = false;
	d->join_result = r;
	pthread_cond_broadcast(&d->join_cv);
	pthread_mutex_unlock(&d->mu);
}

int lockd_join(struct lockd *d)
{
	int r;
	if (!d->hb_running) {
		r = do_join(d);
	} else {
		pthread_mutex_lock(&d->mu);
		d->join_req = true;
		while (d->join_req)
			pthread_cond_wait(&d->join_cv, &d->mu);
		r = d->join_result;
		pthread_mutex_unlock(&d->mu);
	}
	if (r == 0)
		lock_ha_adopt(d->ha_main, lock_ha_incarnation(d->ha_hb));
	return r;
}
