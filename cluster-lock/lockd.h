/* SPDX-License-Identifier: Apache-2.0 */
/* kura-lockd internals, shared by its lockd_*.c files (not a public API).
 *
 * Threads: the heartbeat thread (lockd_hb.c) owns `ha_hb` and the liveness
 * state (struct lock_hb); it writes my slot every interval, reads every slot,
 * publishes a per-host view under `mu` and wakes the main thread through
 * `evfd`. It never waits on VM work, and on a fence of this host it kills
 * every QEMU itself (SIGKILL by pidfd, under `mu`) before telling anyone.
 * The main thread (lockd_main.c) owns everything else: `ha_main` (fences and
 * leases), the VM-disk LUN handles, the QEMU children, the control socket.
 *
 * Not for: the library's on-disk or SCSI details (lock.h).
 */
#ifndef KURA_LOCKD_H
#define KURA_LOCKD_H
#include "cluster-lock/lock.h"
#include "cluster-lock/lock_config.h"
#include "cluster-lock/lock_qemu.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum lockd_vm_state {
	LOCKD_VM_STOPPED = 0,
	LOCKD_VM_RUNNING,
	LOCKD_VM_MIGRATING, /* source during a migration window */
	LOCKD_VM_INCOMING,  /* destination: paused, waiting for the hand-over */
	LOCKD_VM_FAILED,    /* QEMU died unexpectedly, or killed by a fence */
};

struct lockd_vm {
	const struct lock_vm_cfg *cfg;
	enum lockd_vm_state state;
	pid_t pid;
	int pidfd;                                /* -1 when no QEMU */
	struct lock_lun *lun[LOCK_CFG_MAX_DISKS]; /* NULL: not an iscsi:// disk */
	uint64_t lver;
	uint64_t started_boot_ns;
	char qmp[LOCK_CFG_PATH + LOCK_CFG_NAME + 8];
	char log[LOCK_CFG_PATH + LOCK_CFG_NAME + 8];
};

enum lockd_self {
	LOCKD_SELF_DOWN = 0, /* not joined (start-up failure or after drain) */
	LOCKD_SELF_JOINED,
	LOCKD_SELF_FENCED, /* fenced: VMs killed, waits for an operator join */
	LOCKD_SELF_LEFT,   /* drained: LEAVING mark, no heartbeat */
};

struct lockd_view { /* one host as the heartbeat thread saw it */
	enum lock_hb_verdict verdict;
	struct lock_slot slot;
	uint64_t age_ms;
};

struct lockd {
	struct lock_config cfg;
	const struct lock_host_cfg *me;
	char socket_path[LOCK_CFG_PATH];
	char state_dir[LOCK_CFG_PATH];
	struct lock_ha *ha_hb, *ha_main;
	pthread_t hb_thread;
	bool hb_running;
	int evfd; /* heartbeat thread -> main loop */
	int listen_fd;
	volatile bool stopping;

	pthread_mutex_t mu; /* guards the fields below */
	enum lockd_self self;
	struct lockd_view view[LOCK_MAX_HOSTS + 1];
	bool view_valid;
	int hb_err; /* last heartbeat result */
	uint64_t hb_last_ok_ns;
	int pidfds[LOCK_CFG_MAX_VMS]; /* copy of vm[i].pidfd for self-fence */
	bool join_req;                /* main -> heartbeat thread: join now */
	int join_result;
	pthread_cond_t join_cv;

	struct lockd_vm vm[LOCK_CFG_MAX_VMS];
	struct lock_lun *all_luns[LOCK_CFG_MAX_VMS * LOCK_CFG_MAX_DISKS];
	int n_all_luns;
};

/* lockd_hb.c */
int lockd_hb_start(struct lockd *d);
void lockd_hb_stop(struct lockd *d);
void lockd_self_fence(struct lockd *d, const char *why);
int lockd_join(struct lockd *d);

/* lockd_vm.c */
int lockd_vm_setup(struct lockd *d);
void lockd_vm_teardown(struct lockd *d);
struct lockd_vm *lockd_vm_find(struct lockd *d, const char *name);
int lockd_vm_start(struct lockd *d, struct lockd_vm *vm, FILE *out);
int lockd_vm_stop(struct lockd *d, struct lockd_vm *vm, FILE *out);
int lockd_vm_spawn(struct lockd *d, struct lockd_vm *vm, const char *incoming);
int lockd_vm_register(struct lockd *d, struct lockd_vm *vm);
void lockd_vm_unregister(struct lockd *d, struct lockd_vm *vm);
void lockd_vm_kill(struct lockd *d, struct lockd_vm *vm);
void lockd_vm_reaped(struct lockd *d, struct lockd_vm *vm);
const char *lockd_vm_state_name(enum lockd_vm_state s);

/* lockd_ha.c */
void lockd_ha_tick(struct lockd *d);
uint16_t lockd_place(struct lockd *d, const struct lock_vm_cfg *vm, uint16_t exclude);
bool lockd_host_live(struct lockd *d, uint16_t id);

/* lockd_mig.c */
int lockd_mig_incoming(struct lockd *d, struct lockd_vm *vm, FILE *out);
int lockd_mig_out(struct lockd *d, struct lockd_vm *vm, uint16_t dst, const char *uri, FILE *out);
int lockd_mig_finish(struct lockd *d, struct lockd_vm *vm, uint64_t lver, FILE *out);
int lockd_mig_cancel(struct lockd *d, struct lockd_vm *vm, FILE *out);

/* lockd_ctl.c */
int lockd_ctl_listen(struct lockd *d);
void lockd_ctl_accept(struct lockd *d);
int lockd_status(struct lockd *d, bool json, FILE *out);

/* lockd_main.c */
int lockd_err_code(int err); /* library error -> exit code */
int lockd_fail(FILE *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t lockd_now_ms(void);
#endif
