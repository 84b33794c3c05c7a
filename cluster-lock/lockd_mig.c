/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd's side of a live migration hand-over (issue 10, item 7).
 *
 * kura-lockctl drives the three steps, talking to both daemons:
 *   dst: incoming VM          register dst's key on the VM's LUNs, start
 *                             QEMU paused with -S -incoming tcp:ADDR:PORT
 *   src: migrate-out VM DST URI
 *                             lease: migration window src -> dst (lver + 1),
 *                             QMP migrate, wait for "completed" (QEMU has
 *                             stopped the guest and flushed its disks), then
 *                             unregister src's key and end the source QEMU;
 *                             prints "lver N" (the lver dst must present)
 *   dst: incoming-finish VM N take the lease by COMPARE AND WRITE expecting
 *                             lver N, then QMP cont
 * On failure: src closes the window (lock_lease_migrate_abort) and its guest
 * runs on; dst gets "incoming-cancel VM" (kill QEMU, unregister its key).
 * Registrations on the VM's LUNs: {src} -> {src, dst} -> {dst}.
 *
 * Not for: choosing the destination (kura-lockctl, lockd_place for drain).
 */
#include "cluster-lock/lockd.h"
#include "common/log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIG_TIMEOUT_MS     120000
#define MIG_RUN_TIMEOUT_MS 30000

/* A free TCP port on ADDR (bound and released: QEMU binds it next). */
static int free_port(const char *addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r == 0)
		r = getsockname(fd, (struct sockaddr *)&sa, &len);
	r = r < 0 ? -errno : ntohs(sa.sin_port);
	close(fd);
	return r;
}

/* QEMU listens for the migration stream before its monitor answers: once
 * QMP says "inmigrate", the source may connect. */
static int wait_listening(struct lockd_vm *vm)
{
	struct lock_qmp q = { .fd = -1 };
	char st[32] = "";
	int r = lock_qmp_open(&q, vm->qmp, 10000);
	if (r == 0)
		r = lock_qmp_run_status(&q, st, sizeof(st), 5000);
	lock_qmp_close(&q);
	if (r == 0 && strcmp(st, "inmigrate") != 0)
		r = -EPROTO;
	return r;
}

int lockd_mig_incoming(struct lockd *d, struct lockd_vm *vm, FILE *out)
{
	const char *addr = d->me->address[0] ? d->me->address : "127.0.0.1";
	char uri[128];
	if (!lockd_host_live(d, d->me->id))
		return lockd_fail(out, LOCKD_EX_CONFLICT, "host %s is not joined", d->me->name);
	if (vm->pidfd >= 0)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s already has a QEMU here",
				  vm->cfg->name);
	int port = free_port(addr);
	if (port < 0)
		return lockd_fail(out, LOCKD_EX_USAGE, "no free port on %s: %s", addr,
				  strerror(-port));
	snprintf(uri, sizeof(uri), "tcp:%s:%d", addr, port);
	int r = lockd_vm_register(d, vm);
	if (r == 0)
		r = lockd_vm_spawn(d, vm, uri);
	if (r == 0)
		r = wait_listening(vm);
	if (r < 0) {
		lockd_vm_kill(d, vm);
		lockd_vm_unregister(d, vm);
		return lockd_fail(out, lockd_err_code(r), "vm %s: %s", vm->cfg->name,
				  lock_strerror(r));
	}
	vm->state = LOCKD_VM_INCOMING;
	fprintf(out, "uri %s\n", uri);
	return 0;
}

/* Poll query-migrate until a final state; 0 when "completed". */
static int wait_migrated(struct lock_qmp *q, char *status, size_t len)
{
	uint64_t end = lockd_now_ms() + MIG_TIMEOUT_MS;
	while (lockd_now_ms() < end) {
		int r = lock_qmp_migrate_status(q, status, len, 5000);
		if (r < 0)
			return r;
		if (strcmp(status, "completed") == 0)
			return 0;
		if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
			return -EIO;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

static int mig_abort(struct lockd *d, struct lockd_vm *vm, struct lock_qmp *q, const char *why,
		     FILE *out)
{
	struct lock_lease l;
	char st[32] = "";
	if (q->fd >= 0) {
		lock_qmp_simple(q, "migrate_cancel", 2000);
		if (lock_qmp_run_status(q, st, sizeof(st), 2000) == 0 && strcmp(st, "running"))
			lock_qmp_simple(q, "cont", 2000);
	}
	lock_qmp_close(q);
	int r = lock_lease_migrate_abort(d->ha_main, vm->cfg->name, &l);
	if (r == 0)
		vm->lver = l.lver;
	vm->state = vm->pidfd >= 0 ? LOCKD_VM_RUNNING : LOCKD_VM_FAILED;
	kwarn("vm %s: migration aborted (%s); it stays here", vm->cfg->name, why);
	return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s: migration failed: %s", vm->cfg->name,
			  why);
}

int lockd_mig_out(struct lockd *d, struct lockd_vm *vm, uint16_t dst, const char *uri, FILE *out)
{
	struct lock_lease l;
	struct lock_qmp q = { .fd = -1 };
	char st[32];
	if (vm->state != LOCKD_VM_RUNNING || vm->pidfd < 0)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s is not running here",
				  vm->cfg->name);
	int r = lock_lease_migrate_begin(d->ha_main, vm->cfg->name, dst, &l);
	if (r < 0)
		return lockd_fail(out, lockd_err_code(r), "vm %s: lease: %s", vm->cfg->name,
				  lock_strerror(r));
	vm->state = LOCKD_VM_MIGRATING;
	vm->lver = l.lver;
	r = lock_qmp_open(&q, vm->qmp, 2000);
	if (r == 0)
		r = lock_qmp_migrate(&q, uri, 5000);
	if (r == 0)
		r = wait_migrated(&q, st, sizeof(st));
	if (r < 0)
		return mig_abort(d, vm, &q, r == -EIO ? st : strerror(-r), out);
	lock_qmp_close(&q);
	lockd_vm_unregister(d, vm);
	vm->state = LOCKD_VM_STOPPED;
	lockd_vm_kill(d, vm);
	fprintf(out, "lver %llu\n", (unsigned long long)l.lver);
	return 0;
}

/* After cont, the guest must run: QEMU may still be loading the migration
 * stream ("inmigrate": cont then only arms autostart), and a destination
 * that stays paused would leave the guest stopped while migrate reports
 * success. Poll until "running"; cont again if it settles paused. */
static int wait_running(struct lock_qmp *q, char *status, size_t len)
{
	uint64_t end = lockd_now_ms() + MIG_RUN_TIMEOUT_MS;
	bool conted = false;
	while (lockd_now_ms() < end) {
		int r = lock_qmp_run_status(q, status, len, 5000);
		if (r < 0)
			return r;
		if (strcmp(status, "running") == 0)
			return 0;
		if (strcmp(status, "paused") == 0 && !conted) {
			conted = true;
			lock_qmp_simple(q, "cont", 5000);
		}
		usleep(50000);
	}
	return -ETIMEDOUT;
}

int lockd_mig_finish(struct lockd *d, struct lockd_vm *vm, uint64_t lver, FILE *out)
{
	struct lock_lease l;
	struct lock_qmp q = { .fd = -1 };
	if (vm->state != LOCKD_VM_INCOMING || vm->pidfd < 0)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s is not incoming here",
				  vm->cfg->name);
	int r = lock_lease_handover(d->ha_main, vm->cfg->name, lver, &l);
	if (r < 0)
		return lockd_fail(out, lockd_err_code(r), "vm %s: hand-over: %s", vm->cfg->name,
				  lock_strerror(r));
	vm->lver = l.lver;
	vm->state = LOCKD_VM_RUNNING;
	char st[32] = "";
	r = lock_qmp_open(&q, vm->qmp, 2000);
	if (r == 0)
		r = lock_qmp_simple(&q, "cont", 5000);
	if (r == 0)
		r = wait_running(&q, st, sizeof(st));
	lock_qmp_close(&q);
	if (r < 0)
		return lockd_fail(out, LOCKD_EX_USAGE,
				  "vm %s: lease taken but QEMU not running: %s%s%s", vm->cfg->name,
				  strerror(-r), st[0] ? ", status " : "", st);
	fprintf(out, "lver %llu\n", (unsigned long long)l.lver);
	return 0;
}

/* Also after the incoming QEMU died (state FAILED): its key must go. */
int lockd_mig_cancel(struct lockd *d, struct lockd_vm *vm, FILE *out)
{
	if (vm->state != LOCKD_VM_INCOMING && vm->state != LOCKD_VM_FAILED)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s is not incoming here",
				  vm->cfg->name);
	vm->state = LOCKD_VM_STOPPED;
	lockd_vm_kill(d, vm);
	lockd_vm_unregister(d, vm);
	return 0;
}
