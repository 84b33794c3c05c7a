/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kura integration client for the cluster lock library (cluster-lock/)
 * against a real kura-targetd:
 *
 *   kura-it-client_lock scsi URL      lock_scsi: COMPARE AND WRITE success and
 *       miscompare, name-wide registration (SPEC_I_PT) seen by READ FULL
 *       STATUS and usable from a new session (new ISID), PREEMPT AND ABORT,
 *       READ KEYS, the preempted host's UA 2A/05 and RESERVATION CONFLICT,
 *       unregistering after the registering session dropped
 *   kura-it-client_lock ha HA_URL VM_URL   format (a foreign header refused),
 *       two hosts join, heartbeat, a host id in use refused, leases (acquire,
 *       migration window, third host's steal fails, hand-over), a fence of a
 *       silent host, then the HA take-over of its lease (only after FENCED)
 *   kura-it-client_lock lost PROXY_URL URL   a lease CAW whose completion a
 *       forwarder swallows (the test mutes it on "go"): success after the
 *       re-read through the direct path, lver + 1 once (I8)
 *   kura-it-client_lock ports URL1 URL2   the same LUN through two portals: a
 *       registration through one covers a session through the other (I10),
 *       a preempt removes both
 *   kura-it-client_lock paths DEAD_URL URL   a first path that never answers
 *       is abandoned at its deadline; reads and CAW go over the second
 *   kura-it-client_lock stall URL SECS   reads in a loop while the target is
 *       frozen: each call ends within its deadlines, reads work again after
 *   kura-it-client_lock restart URL   a read before and after a target restart
 *       (synchronised by a line on stdin)
 *   kura-it-client_lock keys URL      READ KEYS, sorted, comma separated
 *   kura-it-client_lock race HA_URL VM_URL N   two hosts fence each other at
 *       the same instant, N rounds: exactly one wins each round
 *
 * Prints "ok: ..." per check, "FAIL: ..." and exit 1 on the first failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "cluster-lock/lock.h"
#include "cluster-lock/lock_internal.h"
#include "cluster-lock/lock_scsi.h"

#define INI1 "iqn.2026-12.org.kura:lock-h1"
#define INI2 "iqn.2026-12.org.kura:lock-h2"
#define INI3 "iqn.2026-12.org.kura:lock-h3"

static void ok(const char *what)
{
	printf("ok: %s\n", what);
	fflush(stdout);
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			printf("FAIL: " __VA_ARGS__); \
			printf(" (%s:%d)\n", __FILE__, __LINE__); \
			exit(1); \
		} \
	} while (0)

static struct lock_lun *lun_open(const char *url, const char *ini)
{
	const char *urls[1] = { url };
	struct lock_lun_params p = { .urls = urls,
				     .n_urls = 1,
				     .initiator = ini,
				     .io_timeout_ms = 5000 };
	int err;
	struct lock_lun *l = lock_lun_open(&p, &err);
	CHECK(l, "lock_lun_open %s: %s", url, lock_strerror(err));
	return l;
}

static bool name_registered(struct lock_lun *l, const char *ini, uint64_t key)
{
	struct lock_pr_reg regs[64];
	int n = lock_lun_read_full_status(l, regs, 64, NULL);
	for (int i = 0; i < n; i++)
		if (regs[i].key == key && regs[i].any_isid && !strcasecmp(regs[i].name, ini))
			return true;
	return false;
}

/* ---- scsi ---- */
static void scsi_caw(struct lock_lun *a)
{
	uint32_t bs;
	uint8_t x[4096], y[4096], z[4096], r[4096];
	CHECK(lock_lun_geometry(a, &bs, NULL) == 0 && bs <= 4096, "geometry");
	memset(x, 0xA1, bs);
	memset(y, 0xB2, bs);
	memset(z, 0xC3, bs);
	CHECK(lock_lun_write(a, 100, 1, x) == 0, "write");
	CHECK(lock_lun_caw(a, 100, x, y) == 0, "CAW x->y");
	CHECK(lock_lun_read(a, 100, 1, r) == 0 && !memcmp(r, y, bs), "read after CAW");
	ok("COMPARE AND WRITE success");
	int rc = lock_lun_caw(a, 100, x, z);
	CHECK(rc == LOCK_E_MISCOMPARE, "CAW x->z on y: %s", lock_strerror(rc));
	CHECK(lock_lun_read(a, 100, 1, r) == 0 && !memcmp(r, y, bs), "miscompare wrote nothing");
	ok("COMPARE AND WRITE miscompare leaves the block alone");
}

static void scsi_pr(const char *url)
{
	struct lock_lun *a = lun_open(url, INI1), *b = lun_open(url, INI2);
	uint64_t ka = lock_key(0x1234, 1, 1), kb = lock_key(0x1234, 2, 1);
	CHECK(lock_lun_register(a, ka) == 0, "register a");
	CHECK(lock_lun_register(a, ka) == 0, "register a again (idempotent)");
	CHECK(lock_lun_register(b, kb) == 0, "register b");
	CHECK(name_registered(b, INI1, ka), "READ FULL STATUS: a's name-wide registration");
	ok("REGISTER with SPEC_I_PT (TransportID 00h) + ALL_TG_PT, confirmed by READ FULL STATUS");
	uint8_t type = 0;
	CHECK(lock_lun_read_reservation(a, &type) == 1 && type == LOCK_PR_TYPE_WEAR, "WEAR");
	ok("Write Exclusive - All Registrants reservation");
	scsi_caw(a);
	lock_lun_disconnect(a); /* next session: a new ISID, still registered */
	scsi_caw(a);
	ok("a new session (new ISID) of a registered name may write");
	uint64_t keys[16];
	int n = lock_lun_read_keys(a, keys, 16, NULL);
	CHECK(n >= 2, "READ KEYS");
	CHECK(lock_lun_preempt_abort(b, kb, ka) == 0, "PREEMPT AND ABORT a");
	CHECK(lock_lun_has_key(b, ka) == 0 && lock_lun_has_key(b, kb) == 1, "a's key gone");
	ok("PREEMPT AND ABORT removes the victim's key (READ KEYS)");
	uint8_t x[4096] = { 0 };
	int rc = lock_lun_read(a, 100, 1, x);
	unsigned ev = lock_lun_take_events(a);
	CHECK(rc == 0 && (ev & LOCK_EV_PREEMPTED), "a sees UA 2A/05 (ev %x), consumed: %d", ev, rc);
	ok("UA 2A/05 REGISTRATIONS PREEMPTED consumed, the read retried and succeeded (I9)");
	rc = lock_lun_caw(a, 100, x, x);
	CHECK(rc == LOCK_E_RESV_CONFLICT, "fenced writer: %s", lock_strerror(rc));
	CHECK(lock_pr_preempt(a, ka, kb, false) == LOCK_E_FENCED, "fenced host cannot preempt");
	ok("the preempted host gets RESERVATION CONFLICT and cannot preempt back");
	CHECK(lock_lun_unregister(b, kb) == 0 && lock_lun_has_key(a, kb) == 0, "unregister b");
	ok("unregister");
	/* an older incarnation of a that left without being fenced: its
	 * registrations (name-wide and the old session's own) must go when a
	 * registers a new key from a new session */
	uint64_t ka2 = lock_key(0x1234, 1, 2), ka3 = lock_key(0x1234, 1, 3);
	CHECK(lock_lun_register(a, ka2) == 0, "register a, incarnation 2");
	lock_lun_disconnect(a);
	CHECK(lock_lun_register(a, ka3) == 0, "register a, incarnation 3, new session");
	CHECK(lock_lun_has_key(b, ka2) == 0 && lock_lun_has_key(b, ka3) == 1, "old key gone");
	CHECK(name_registered(b, INI1, ka3), "name-wide registration of the new key");
	ok("a new key replaces every registration of an older one, of any session");
	/* the registering session dropped (its per-ISID registration stays):
	 * unregistering from a new session must remove every one of a's */
	lock_lun_disconnect(a);
	CHECK(lock_lun_unregister(a, ka3) == 0, "unregister a from a new session");
	CHECK(lock_lun_has_key(b, ka3) == 0, "no registration of a's key is left");
	ok("unregister from a new session removes the dropped session's registration");
	lock_lun_close(a);
	lock_lun_close(b);
}

/* ---- ha ---- */
static struct lock_ha *ha_open(const char *cluster, const char *url, const char *ini, uint16_t id,
			       const char *name)
{
	const char *urls[1] = { url };
	struct lock_ha_params p = { .cluster = cluster,
				    .urls = urls,
				    .n_urls = 1,
				    .initiator = ini,
				    .host_id = id,
				    .host_name = name,
				    .hb_interval_ms = 200,
				    .fail_after_ms = 2000,
				    .io_timeout_ms = 1000 };
	int err;
	struct lock_ha *h = lock_ha_open(&p, &err);
	CHECK(h, "lock_ha_open: %s", lock_strerror(err));
	return h;
}

static void ha_format(const char *url)
{
	const char *urls[1] = { url };
	struct lock_ha_params p = { .cluster = "other",
				    .urls = urls,
				    .n_urls = 1,
				    .initiator = INI3 };
	FILE *null = fopen("/dev/null", "w");
	CHECK(lockctl_format(&p, true, stdout, stdout) == 0, "format other");
	p.cluster = "lab";
	CHECK(lockctl_format(&p, false, null, null) == 1, "foreign header refused");
	ok("format: another cluster's header is refused without --force");
	CHECK(lockctl_format(&p, true, stdout, stdout) == 0, "format --force");
	CHECK(lockctl_dump(&p, false, stdout, stdout) == 0, "dump");
	fclose(null);
	ok("format --force and dump");
}

static void beat(struct lock_ha *h, int n)
{
	for (int i = 0; i < n; i++) {
		int rc = lock_ha_heartbeat(h);
		CHECK(rc == 0, "heartbeat: %s", lock_strerror(rc));
	}
}

static void ha_leases(struct lock_ha *h1, struct lock_ha *h2, struct lock_ha *h3)
{
	struct lock_lease l;
	CHECK(lock_lease_acquire(h1, "web1", UINT64_MAX, &l) == 0 && l.owner == 1, "h1 acquires");
	uint64_t v = l.lver;
	CHECK(lock_lease_acquire(h2, "web1", UINT64_MAX, &l) == LOCK_E_CONFLICT, "h2 refused");
	ok("lease: acquire; a second host gets LOCK_E_CONFLICT");
	CHECK(lock_lease_migrate_begin(h1, "web1", 2, &l) == 0 && l.lver == v + 1, "begin");
	CHECK(lock_lease_acquire(h3, "web1", l.lver, &l) == LOCK_E_CONFLICT, "h3 steal");
	CHECK(lock_lease_handover(h3, "web1", v + 1, &l) == LOCK_E_CONFLICT, "h3 handover");
	CHECK(lock_lease_handover(h2, "web1", v, &l) == LOCK_E_CONFLICT, "stale lver");
	CHECK(lock_lease_handover(h2, "web1", v + 1, &l) == 0 && l.owner == 2 && l.lver == v + 2,
	      "handover");
	ok("migration window: a third host's steal fails, the destination takes it with lver");
	CHECK(lock_lease_acquire(h1, "web1", UINT64_MAX, &l) == LOCK_E_CONFLICT, "src after");
}

static void ha_fence(struct lock_ha *h1, struct lock_ha *h2, struct lock_lun *vm,
		     struct lock_lun *vm2)
{
	struct lock_image *img = malloc(sizeof(*img));
	struct lock_lease l;
	CHECK(lock_lun_register(vm2, lock_ha_key(h2)) == 0, "h2 registers on the VM LUN");
	CHECK(lock_ha_read_slots(h1, img) == 0, "read slots");
	struct lock_fence_req r = { .victim = 2,
				    .stale = img->slot[2],
				    .vm_luns = &vm,
				    .n_vm_luns = 1 };
	CHECK(lock_lease_acquire(h1, "web1", UINT64_MAX, &l) == LOCK_E_CONFLICT, "before fence");
	int rc = lock_fence(h1, &r);
	CHECK(rc == 0, "fence: %s", lock_strerror(rc));
	CHECK(lock_lun_has_key(vm, lock_ha_key(h2)) == 0, "h2's key gone from the VM LUN");
	CHECK(lock_lun_has_key(lock_ha_lun(h1), lock_ha_key(h2)) == 0, "and from the HA LUN");
	ok("fence: victim's key gone from the HA LUN and the VM LUN");
	rc = lock_ha_heartbeat(h2);
	CHECK(rc == LOCK_E_FENCED, "victim's heartbeat: %s", lock_strerror(rc));
	ok("the victim's next heartbeat reports LOCK_E_FENCED");
	CHECK(lock_ha_register_vm(h2, vm2) == LOCK_E_FENCED, "fenced host registers again");
	CHECK(lock_lun_has_key(vm, lock_ha_key(h2)) == 0, "still gone");
	ok("a fenced host cannot register its key on a VM LUN again (I4)");
	CHECK(lock_lease_acquire(h1, "web1", UINT64_MAX, &l) == 0 && l.owner == 1, "take-over");
	ok("HA take-over of the fenced host's lease");
	CHECK(lock_ha_join(h2, 1) == 0 && lock_ha_incarnation(h2) == 2, "rejoin");
	CHECK(lock_lun_has_key(lock_ha_lun(h1), lock_key(lock_ha_tag(h1), 2, 1)) == 0, "old key");
	ok("rejoin with a new incarnation; the fenced key never reappears (I4)");
	free(img);
}

struct beater {
	struct lock_ha *h;
	volatile int stop;
	int rc;
};

static void *beater_run(void *arg)
{
	struct beater *b = arg;
	while (!b->stop && !b->rc) {
		b->rc = lock_ha_heartbeat(b->h);
		struct timespec ts = { 0, 200 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void ha_main(const char *ha_url, const char *vm_url)
{
	ha_format(ha_url);
	struct lock_ha *h1 = ha_open("lab", ha_url, INI1, 1, "hv1");
	struct lock_ha *h2 = ha_open("lab", ha_url, INI2, 2, "hv2");
	struct lock_ha *h3 = ha_open("lab", ha_url, INI3, 3, "hv3");
	CHECK(lock_ha_join(h1, 1) == 0 && lock_ha_join(h2, 1) == 0 && lock_ha_join(h3, 1) == 0,
	      "joins");
	beat(h1, 3);
	beat(h2, 3);
	ok("three hosts joined and beat");
	struct lock_ha *dup = ha_open("lab", ha_url, INI3, 1, "hv1-dup");
	struct beater b = { .h = h1 };
	pthread_t t;
	pthread_create(&t, NULL, beater_run, &b);
	int rc = lock_ha_join(dup, 1500);
	b.stop = 1;
	pthread_join(t, NULL);
	CHECK(rc == LOCK_E_INUSE, "join with a live host's id: %s", lock_strerror(rc));
	CHECK(b.rc == 0, "h1 beat meanwhile: %s", lock_strerror(b.rc));
	lock_ha_close(dup);
	ok("a host id in use by a live host is refused at join");
	ha_leases(h1, h2, h3);
	struct lock_lun *vm = lun_open(vm_url, INI1), *vm2 = lun_open(vm_url, INI2);
	ha_fence(h1, h2, vm, vm2);
	struct lock_ha_params dp = { .cluster = "lab",
				     .urls = &ha_url,
				     .n_urls = 1,
				     .initiator = INI3 };
	CHECK(lockctl_dump(&dp, true, stdout, stdout) == 0, "dump --json");
	lock_lun_close(vm);
	lock_lun_close(vm2);
	lock_ha_close(h1);
	lock_ha_close(h2);
	lock_ha_close(h3);
}

/* ---- race ---- */
struct racer {
	struct lock_ha *h;
	struct lock_fence_req req;
	pthread_barrier_t *bar;
	int rc;
};

static void *racer_run(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(r->bar);
	r->rc = lock_fence(r->h, &r->req);
	return NULL;
}

static void race_round(struct lock_ha **h, struct lock_lun **vm, int round, int *wins)
{
	struct lock_image *img = malloc(sizeof(*img));
	pthread_barrier_t bar;
	pthread_t t[2];
	struct racer r[2];
	for (int i = 0; i < 2; i++)
		CHECK(lock_lun_register(vm[i], lock_ha_key(h[i])) == 0, "VM LUN registration");
	CHECK(lock_ha_read_slots(h[0], img) == 0, "read slots");
	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct racer){ .h = h[i], .bar = &bar };
		r[i].req = (struct lock_fence_req){ .victim = (uint16_t)(2 - i),
						    .stale = img->slot[2 - i],
						    .vm_luns = &vm[i],
						    .n_vm_luns = 1 };
		pthread_create(&t[i], NULL, racer_run, &r[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	int w = r[0].rc == 0 ? 0 : 1, lo = 1 - w;
	CHECK((r[0].rc == 0) != (r[1].rc == 0), "round %d: exactly one wins (%s / %s)", round,
	      lock_strerror(r[0].rc), lock_strerror(r[1].rc));
	CHECK(r[lo].rc == LOCK_E_FENCED, "round %d: loser: %s", round, lock_strerror(r[lo].rc));
	CHECK(lock_ha_heartbeat(h[w]) == 0, "round %d: the winner beats on", round);
	CHECK(lock_ha_heartbeat(h[lo]) == LOCK_E_FENCED, "round %d: the loser is fenced", round);
	CHECK(lock_lun_has_key(vm[w], lock_ha_key(h[lo])) == 0, "loser's key on the VM LUN");
	CHECK(lock_lun_has_key(vm[w], lock_ha_key(h[w])) == 1, "winner's key on the VM LUN");
	wins[w]++;
	CHECK(lock_ha_join(h[lo], 1) == 0, "round %d: the loser rejoins", round);
	free(img);
}

static void race_main(const char *ha_url, const char *vm_url, int rounds)
{
	const char *urls[1] = { ha_url };
	struct lock_ha_params p = { .cluster = "race",
				    .urls = urls,
				    .n_urls = 1,
				    .initiator = INI3 };
	CHECK(lockctl_format(&p, true, stdout, stdout) == 0, "format");
	struct lock_ha *h[2] = { ha_open("race", ha_url, INI1, 1, "hv1"),
				 ha_open("race", ha_url, INI2, 2, "hv2") };
	struct lock_lun *vm[2] = { lun_open(vm_url, INI1), lun_open(vm_url, INI2) };
	CHECK(lock_ha_join(h[0], 1) == 0 && lock_ha_join(h[1], 1) == 0, "joins");
	int wins[2] = { 0, 0 };
	for (int i = 0; i < rounds; i++)
		race_round(h, vm, i, wins);
	printf("ok: %d rounds of two hosts fencing each other at once: exactly one won each "
	       "round (hv1 %d, hv2 %d)\n",
	       rounds, wins[0], wins[1]);
	for (int i = 0; i < 2; i++) {
		lock_ha_close(h[i]);
		lock_lun_close(vm[i]);
	}
}

/* ---- paths and deadlines ---- */
static double now_s(void)
{
	return (double)lock_now_boot_ns() / 1e9;
}

static struct lock_lun *lun_open_paths(const char **urls, int n, unsigned timeout_ms)
{
	struct lock_lun_params p = { .urls = urls,
				     .n_urls = n,
				     .initiator = "iqn.2026-12.org.kura:lock-paths",
				     .io_timeout_ms = timeout_ms };
	int err;
	struct lock_lun *l = lock_lun_open(&p, &err);
	CHECK(l, "lock_lun_open: %s", lock_strerror(err));
	return l;
}

/* The first path leads to a portal that accepts and never answers. */
static int paths_main(const char *dead, const char *url)
{
	const char *urls[2] = { dead, url };
	struct lock_lun *l = lun_open_paths(urls, 2, 500);
	uint8_t a[4096], b[4096];
	double t0 = now_s();
	int rc = lock_lun_read(l, 200, 1, a);
	double dt = now_s() - t0;
	CHECK(rc == 0, "read over the second path: %s", lock_strerror(rc));
	CHECK(dt >= 0.45 && dt < 3, "first path abandoned after its deadline (%.2f s)", dt);
	memcpy(b, a, sizeof(b));
	b[0] ^= 1;
	uint64_t key = lock_key(0x7777, 9, 1);
	CHECK(lock_lun_register(l, key) == 0, "register over the second path");
	rc = lock_lun_caw(l, 200, a, b);
	CHECK(rc == 0, "CAW over the second path: %s", lock_strerror(rc));
	CHECK(lock_lun_unregister(l, key) == 0, "unregister");
	printf("ok: a dead first path is abandoned at its deadline (%.2f s) and the next path "
	       "serves reads and COMPARE AND WRITE\n",
	       dt);
	lock_lun_close(l);
	return 0;
}

/* Reads in a loop for `secs` while the test freezes the target for a while:
 * every call returns within its deadlines, and reads work again after. */
static int stall_main(const char *url, double secs)
{
	const char *urls[1] = { url };
	struct lock_lun *l = lun_open_paths(urls, 1, 500);
	uint8_t a[4096];
	double end = now_s() + secs, worst = 0;
	int ok_n = 0, fail_n = 0, last_ok = 0;
	printf("ready\n");
	fflush(stdout);
	while (now_s() < end) {
		double t0 = now_s();
		int rc = lock_lun_read(l, 0, 1, a);
		double dt = now_s() - t0;
		worst = dt > worst ? dt : worst;
		rc == 0 ? ok_n++ : fail_n++;
		last_ok = rc == 0;
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("reads ok %d failed %d slowest %.2f s last %s\n", ok_n, fail_n, worst,
	       last_ok ? "ok" : "failed");
	CHECK(fail_n > 0 && last_ok && worst < 2.0, "deadline and reconnect");
	printf("ok: reads fail within their deadline during the stall and work again after "
	       "(reconnect)\n");
	lock_lun_close(l);
	return 0;
}

/* Reads before and after the test restarts the target (a line on stdin in
 * between): the new session's UNIT ATTENTION is consumed, never success. */
static int restart_main(const char *url)
{
	struct lock_lun *l = lun_open(url, INI1);
	uint8_t a[4096] = { 0 }, b[4096] = { 0 };
	CHECK(lock_lun_read(l, 0, 1, a) == 0, "read before");
	lock_lun_take_events(l);
	printf("ready\n");
	fflush(stdout);
	char line[16];
	CHECK(fgets(line, sizeof(line), stdin), "go");
	int rc = lock_lun_read(l, 0, 1, b);
	unsigned ev = lock_lun_take_events(l);
	CHECK(rc == 0 && !memcmp(a, b, sizeof(a)), "read after the restart: %s", lock_strerror(rc));
	printf("ok: after a target restart the session is rebuilt and the read succeeds "
	       "(events %#x)\n",
	       ev);
	lock_lun_close(l);
	return 0;
}

/* I10 at the library level: a registration made through one portal covers a
 * later session through another portal (another target port, another ISID);
 * a preempt removes both. */
static int ports_main(const char *url1, const char *url2)
{
	struct lock_lun *a1 = lun_open(url1, INI1), *a2 = lun_open(url2, INI1);
	struct lock_lun *b = lun_open(url1, INI2);
	uint64_t ka = lock_key(0x5151, 1, 1), kb = lock_key(0x5151, 2, 1);
	uint8_t x[4096] = { 0 }, y[4096];
	CHECK(lock_lun_register(a1, ka) == 0, "register through portal 1");
	CHECK(lock_lun_read(a2, 300, 1, x) == 0, "read through portal 2");
	memcpy(y, x, sizeof(y));
	y[0] ^= 0x5A;
	int rc = lock_lun_caw(a2, 300, x, y);
	CHECK(rc == 0, "CAW through portal 2, never registered there: %s", lock_strerror(rc));
	ok("a registration through one portal covers a new session through another (I10)");
	CHECK(lock_lun_register(b, kb) == 0 && lock_lun_preempt_abort(b, kb, ka) == 0, "preempt");
	rc = lock_lun_caw(a2, 300, y, x);
	CHECK(rc == LOCK_E_RESV_CONFLICT, "portal 2 after the preempt: %s", lock_strerror(rc));
	lock_lun_disconnect(a1);
	rc = lock_lun_caw(a1, 300, y, x);
	CHECK(rc == LOCK_E_RESV_CONFLICT, "portal 1 after the preempt: %s", lock_strerror(rc));
	ok("a preempt removes every nexus of the victim, on every portal (I10)");
	CHECK(lock_lun_unregister(b, kb) == 0, "cleanup");
	lock_lun_close(a1);
	lock_lun_close(a2);
	lock_lun_close(b);
	return 0;
}

/* I8 against the target: the HA LUN through [forwarder, direct]; while the
 * test mutes the forwarder's responses, a lease CAW goes out through it and
 * executes, its completion never comes back. The library must report
 * success after re-reading through the direct path, with exactly one
 * change (lver + 1), and another host must then see the lease taken. */
static int lost_main(const char *proxy_url, const char *direct_url)
{
	const char *urls[2] = { proxy_url, direct_url };
	struct lock_ha_params p = { .cluster = "lost",
				    .urls = urls,
				    .n_urls = 2,
				    .initiator = INI1,
				    .host_id = 1,
				    .host_name = "hv1",
				    .hb_interval_ms = 1000,
				    .io_timeout_ms = 1000 };
	struct lock_ha_params q = p;
	q.urls = &urls[1];
	q.n_urls = 1;
	CHECK(lockctl_format(&q, true, stdout, stdout) == 0, "format");
	int err;
	struct lock_ha *h = lock_ha_open(&p, &err);
	struct lock_ha *h2 = ha_open("lost", direct_url, INI2, 2, "hv2");
	CHECK(h && lock_ha_join(h, 1) == 0 && lock_ha_join(h2, 1) == 0, "joins");
	struct lock_lease l, d;
	CHECK(lock_lease_get(h, "vm", &l) == 0, "lease record");
	printf("ready\n");
	fflush(stdout);
	char line[16];
	CHECK(fgets(line, sizeof(line), stdin), "go");
	double t0 = now_s();
	int rc = lock_lease_acquire(h, "vm", l.lver, &d);
	double dt = now_s() - t0;
	CHECK(rc == 0 && d.owner == 1 && d.lver == l.lver + 1, "acquire: %s (lver %llu -> %llu)",
	      lock_strerror(rc), (unsigned long long)l.lver, (unsigned long long)d.lver);
	CHECK(dt >= 0.9, "the completion was lost (%.2f s)", dt);
	CHECK(lock_lease_get(h2, "vm", &d) == 0 && d.owner == 1 && d.lver == l.lver + 1, "on disk");
	CHECK(lock_lease_acquire(h2, "vm", UINT64_MAX, &d) == LOCK_E_CONFLICT, "no double grant");
	printf("ok: a lease CAW whose completion was lost (%.2f s) counts as success after a "
	       "re-read through the other path: lver + 1 once, nobody else gets it (I8)\n",
	       dt);
	lock_ha_close(h);
	lock_ha_close(h2);
	return 0;
}

/* ---- keys: READ KEYS, sorted, one line ---- */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int print_keys(const char *url)
{
	struct lock_lun *l = lun_open(url, INI3);
	uint64_t keys[64];
	int n = lock_lun_read_keys(l, keys, 64, NULL);
	CHECK(n >= 0, "READ KEYS: %s", lock_strerror(n));
	qsort(keys, (size_t)n, sizeof(keys[0]), cmp_u64);
	for (int i = 0; i < n; i++)
		printf("%s%016" PRIx64, i ? "," : "", keys[i]);
	printf("\n");
	lock_lun_close(l);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "scsi"))
		scsi_pr(argv[2]);
	else if (argc >= 4 && !strcmp(argv[1], "ha"))
		ha_main(argv[2], argv[3]);
	else if (argc >= 3 && !strcmp(argv[1], "keys"))
		return print_keys(argv[2]);
	else if (argc >= 4 && !strcmp(argv[1], "lost"))
		return lost_main(argv[2], argv[3]);
	else if (argc >= 4 && !strcmp(argv[1], "ports"))
		return ports_main(argv[2], argv[3]);
	else if (argc >= 4 && !strcmp(argv[1], "paths"))
		return paths_main(argv[2], argv[3]);
	else if (argc >= 4 && !strcmp(argv[1], "stall"))
		return stall_main(argv[2], atof(argv[3]));
	else if (argc >= 3 && !strcmp(argv[1], "restart"))
		return restart_main(argv[2]);
	else if (argc >= 5 && !strcmp(argv[1], "race"))
		race_main(argv[2], argv[3], atoi(argv[4]));
	else {
		fprintf(stderr, "usage: %s scsi URL | ha HA_URL VM_URL | race HA_URL VM_URL N\n",
			argv[0]);
		return 2;
	}
	printf("done\n");
	return 0;
}
