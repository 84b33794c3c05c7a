/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd's VM supervisor: the lease, the registrations and the QEMU
 * process of each VM this host runs.
 *
 * Order on start (issue 10, items 2 and 5): take the lease by COMPARE AND
 * WRITE, register this host's key on every path of every iscsi:// disk
 * (the library confirms with READ FULL STATUS), and only then start QEMU.
 * Stop is the reverse: QMP quit (QEMU flushes), unregister, release.
 * A VM with disk_via = initiatord has the same iscsi:// URLs in `disks`: they
 * are registered and fenced here exactly the same way, and QEMU opens the
 * host's kura-initiatord FUSE file of each disk instead. That daemon runs with
 * the host's initiator name, so the name-wide registration (SPEC_I_PT,
 * TransportID format 00h) covers its sessions too (docs/cluster-lock.md).
 * Other disks (a device path) are neither registered nor fenced.
 *
 * Not for: deciding where a VM runs (lockd_ha.c), migration (lockd_mig.c).
 */
#include "cluster-lock/lockd.h"
#include "cluster-lock/lock_scsi.h"
#include "common/log.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *lockd_vm_state_name(enum lockd_vm_state s)
{
	static const char *const names[] = { "stopped", "running", "migrating", "migrating",
					     "failed" };
	return s <= LOCKD_VM_FAILED ? names[s] : "?";
}

struct lockd_vm *lockd_vm_find(struct lockd *d, const char *name)
{
	for (int i = 0; i < d->cfg.n_vms; i++)
		if (strcmp(d->vm[i].cfg->name, name) == 0)
			return &d->vm[i];
	return NULL;
}

static struct lock_lun *open_disk(struct lockd *d, const char *url)
{
	const char *urls[1] = { url };
	struct lock_lun_params p = { .urls = urls,
				     .n_urls = 1,
				     .initiator = d->me->initiator,
				     .io_timeout_ms = d->cfg.io_timeout_ms };
	int err = 0;
	struct lock_lun *l = lock_lun_open(&p, &err);
	if (!l)
		kerr("vm disk %s: %s", url, lock_strerror(err));
	return l;
}

/* One lock_lun per iscsi:// disk; the list of all of them serves fences. */
int lockd_vm_setup(struct lockd *d)
{
	for (int i = 0; i < d->cfg.n_vms; i++) {
		struct lockd_vm *vm = &d->vm[i];
		vm->cfg = &d->cfg.vms[i];
		vm->pidfd = -1;
		d->pidfds[i] = -1;
		snprintf(vm->qmp, sizeof(vm->qmp), "%s/%s.qmp", d->state_dir, vm->cfg->name);
		snprintf(vm->log, sizeof(vm->log), "%s/%s.log", d->state_dir, vm->cfg->name);
		for (int k = 0; k < vm->cfg->n_disks; k++) {
			if (strncmp(vm->cfg->disks[k], "iscsi://", 8) != 0)
				continue;
			vm->lun[k] = open_disk(d, vm->cfg->disks[k]);
			if (!vm->lun[k])
				return -EINVAL;
			d->all_luns[d->n_all_luns++] = vm->lun[k];
		}
	}
	return 0;
}

void lockd_vm_teardown(struct lockd *d)
{
	for (int i = 0; i < d->cfg.n_vms; i++) {
		struct lockd_vm *vm = &d->vm[i];
		if (!vm->cfg)
			continue; /* start-up failed before lockd_vm_setup */
		lockd_vm_kill(d, vm);
		for (int k = 0; k < LOCK_CFG_MAX_DISKS; k++)
			if (vm->lun[k])
				lock_lun_close(vm->lun[k]);
	}
}

int lockd_vm_register(struct lockd *d, struct lockd_vm *vm)
{
	uint64_t key = lock_ha_key(d->ha_main);
	for (int k = 0; k < vm->cfg->n_disks; k++) {
		int r = vm->lun[k] ? lock_lun_register(vm->lun[k], key) : 0;
		if (r < 0) {
			kerr("vm %s: registering key %016llx on %s: %s", vm->cfg->name,
			     (unsigned long long)key, vm->cfg->disks[k], lock_strerror(r));
			return r;
		}
	}
	return 0;
}

void lockd_vm_unregister(struct lockd *d, struct lockd_vm *vm)
{
	uint64_t key = lock_ha_key(d->ha_main);
	for (int k = 0; k < vm->cfg->n_disks; k++) {
		int r = vm->lun[k] ? lock_lun_unregister(vm->lun[k], key) : 0;
		if (r < 0)
			kwarn("vm %s: unregistering from %s: %s", vm->cfg->name, vm->cfg->disks[k],
			      lock_strerror(r));
	}
}

static void set_pidfd(struct lockd *d, struct lockd_vm *vm, int fd)
{
	pthread_mutex_lock(&d->mu);
	vm->pidfd = fd;
	d->pidfds[vm - d->vm] = fd;
	pthread_mutex_unlock(&d->mu);
}

/* disk_via = initiatord: QEMU opens <initiatord_dir>/naa.<hex>, the FUSE file
 * this host's kura-initiatord serves for the disk's WWID (VPD 0x83, read
 * through the daemon's own session to the same LU). */
static int initiatord_files(struct lockd *d, struct lockd_vm *vm, char files[][LOCK_CFG_PATH + 40],
			    char **out)
{
	for (int k = 0; k < vm->cfg->n_disks; k++) {
		char wwid[40];
		int r = vm->lun[k] ? lock_lun_wwid(vm->lun[k], wwid, sizeof(wwid)) : -EINVAL;
		if (r < 0) {
			kerr("vm %s: WWID of %s: %s", vm->cfg->name, vm->cfg->disks[k],
			     lock_strerror(r));
			return r;
		}
		snprintf(files[k], LOCK_CFG_PATH + 40, "%s/%s", d->me->initiatord_dir, wwid);
		out[k] = files[k];
	}
	return 0;
}

int lockd_vm_spawn(struct lockd *d, struct lockd_vm *vm, const char *incoming)
{
	char files[LOCK_CFG_MAX_DISKS][LOCK_CFG_PATH + 40], *via[LOCK_CFG_MAX_DISKS];
	struct lock_qemu_spec s = {
		.binary = d->cfg.qemu_binary,
		.vm_name = vm->cfg->name,
		.qemu_argv = vm->cfg->qemu_argv,
		.qemu_argc = vm->cfg->qemu_argc,
		.initiator = d->me->initiator,
		.disks = vm->cfg->disks,
		.n_disks = vm->cfg->n_disks,
		.disk_device = vm->cfg->disk_device,
		.qmp_path = vm->qmp,
		.incoming = incoming,
		.log_path = vm->log,
	};
	int fd = -1;
	int r = vm->cfg->via_initiatord ? initiatord_files(d, vm, files, via) : 0;
	if (r < 0)
		return r;
	if (vm->cfg->via_initiatord)
		s.disks = via;
	r = lock_qemu_spawn(&s, &vm->pid, &fd);
	if (r < 0)
		return r;
	set_pidfd(d, vm, fd);
	vm->started_boot_ns = lock_now_boot_ns();
	kinfo("vm %s: QEMU pid %d started%s%s%s", vm->cfg->name, (int)vm->pid,
	      vm->cfg->via_initiatord ? " on kura-initiatord files" : "",
	      incoming ? ", incoming on " : "", incoming ? incoming : "");
	return 0;
}

void lockd_vm_kill(struct lockd *d, struct lockd_vm *vm)
{
	if (vm->pidfd < 0)
		return;
	lock_qemu_kill(vm->pidfd);
	int status;
	waitpid(vm->pid, &status, 0);
	close(vm->pidfd);
	set_pidfd(d, vm, -1);
}

/* QEMU exited (pidfd readable): reap it; unexpected = failed. */
void lockd_vm_reaped(struct lockd *d, struct lockd_vm *vm)
{
	int status = 0;
	if (lock_qemu_reap(vm->pid, &status) != 1)
		return;
	close(vm->pidfd);
	set_pidfd(d, vm, -1);
	kwarn("vm %s: QEMU pid %d exited (%s %d)", vm->cfg->name, (int)vm->pid,
	      WIFSIGNALED(status) ? "signal" : "status",
	      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (vm->state != LOCKD_VM_STOPPED)
		vm->state = LOCKD_VM_FAILED;
}

static int start_checks(struct lockd *d, struct lockd_vm *vm, FILE *out)
{
	pthread_mutex_lock(&d->mu);
	enum lockd_self self = d->self;
	pthread_mutex_unlock(&d->mu);
	if (self != LOCKD_SELF_JOINED)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "host %s is not joined (%s)", d->me->name,
				  self == LOCKD_SELF_FENCED ? "fenced" : "left");
	if (vm->pidfd >= 0 && vm->state != LOCKD_VM_FAILED)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s is already %s here", vm->cfg->name,
				  lockd_vm_state_name(vm->state));
	lockd_vm_kill(d, vm);
	return 0;
}

/* Lease, registrations, QEMU: in that order. */
int lockd_vm_start(struct lockd *d, struct lockd_vm *vm, FILE *out)
{
	struct lock_lease l = { 0 };
	int r = start_checks(d, vm, out);
	if (r)
		return r;
	r = lock_lease_acquire(d->ha_main, vm->cfg->name, UINT64_MAX, &l);
	if (r < 0) {
		const struct lock_host_cfg *h = lock_config_host_by_id(&d->cfg, l.owner);
		return lockd_fail(out, lockd_err_code(r), "vm %s: lease: %s%s%s", vm->cfg->name,
				  lock_strerror(r), r == LOCK_E_CONFLICT && h ? ", held by " : "",
				  r == LOCK_E_CONFLICT && h ? h->name : "");
	}
	vm->lver = l.lver;
	r = lockd_vm_register(d, vm);
	if (r == 0)
		r = lockd_vm_spawn(d, vm, NULL);
	if (r < 0) {
		lockd_vm_unregister(d, vm);
		lock_lease_release(d->ha_main, vm->cfg->name, &l);
		return lockd_fail(out, lockd_err_code(r), "vm %s: %s", vm->cfg->name,
				  lock_strerror(r));
	}
	vm->state = LOCKD_VM_RUNNING;
	return 0;
}

/* QMP quit (QEMU flushes and exits), else SIGKILL after 5 s. */
static void quit_qemu(struct lockd *d, struct lockd_vm *vm)
{
	struct lock_qmp q = { .fd = -1 };
	if (vm->pidfd >= 0 && lock_qmp_open(&q, vm->qmp, 1000) == 0) {
		lock_qmp_simple(&q, "quit", 2000);
		lock_qmp_close(&q);
		for (int i = 0; i < 50 && lock_qemu_reap(vm->pid, &(int){ 0 }) == 0; i++)
			usleep(100000);
	}
	lockd_vm_kill(d, vm);
}

int lockd_vm_stop(struct lockd *d, struct lockd_vm *vm, FILE *out)
{
	struct lock_lease l;
	if (vm->state == LOCKD_VM_STOPPED && vm->pidfd < 0)
		return lockd_fail(out, LOCKD_EX_CONFLICT, "vm %s is not running here",
				  vm->cfg->name);
	vm->state = LOCKD_VM_STOPPED;
	quit_qemu(d, vm);
	lockd_vm_unregister(d, vm);
	int r = lock_lease_release(d->ha_main, vm->cfg->name, &l);
	if (r < 0)
		return lockd_fail(out, lockd_err_code(r), "vm %s stopped, but its lease: %s",
				  vm->cfg->name, lock_strerror(r));
	return 0;
}
