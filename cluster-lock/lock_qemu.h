/* SPDX-License-Identifier: Apache-2.0 */
/* QEMU child processes for kura-lockd and a minimal QMP client.
 *
 * lock_qemu_argv builds the command line (pure): the configured binary, the
 * VM's own `qemu` words, then what the daemon adds: -name, the QMP socket,
 * -iscsi initiator-name=<host initiator>, one -drive per disk
 * (file=URL,format=raw,if=none,id=diskN,cache=none) with a
 * -device virtio-blk-pci,drive=diskN unless the VM says disk_device = none,
 * and for an incoming migration -S -incoming tcp:ADDR:PORT (paused: the
 * destination resumes only after it holds the lease). lock_qemu_spawn forks
 * it with stdout/stderr on a log file and PR_SET_PDEATHSIG = SIGKILL, so a
 * VM never outlives the daemon that supervises it.
 *
 * The QMP client is blocking with a deadline per call: it connects, reads
 * the greeting, negotiates qmp_capabilities, and runs one command at a time,
 * skipping asynchronous events. Not for: deciding anything (the daemon does),
 * parsing JSON in general (it finds the few fields it needs).
 */
#ifndef KURA_LOCK_QEMU_H
#define KURA_LOCK_QEMU_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lock_qemu_spec {
	const char *binary; /* qemu-system-x86_64 */
	const char *vm_name;
	char *const *qemu_argv; /* the VM's words (may be NULL) */
	int qemu_argc;
	const char *initiator; /* -iscsi initiator-name= */
	char *const *disks;    /* iscsi:// URLs or device paths */
	int n_disks;
	bool disk_device;     /* add -device virtio-blk-pci */
	const char *qmp_path; /* unix socket path */
	const char *incoming; /* "tcp:ADDR:PORT" or NULL */
	const char *log_path; /* stdout + stderr of QEMU */
};

/* NULL-terminated argv (free with lock_free_words), or NULL on ENOMEM. */
char **lock_qemu_argv(const struct lock_qemu_spec *s);
/* Fork + exec; *pid and *pidfd (pollable, readable when it exits). */
int lock_qemu_spawn(const struct lock_qemu_spec *s, pid_t *pid, int *pidfd);
/* SIGKILL (idempotent; the pidfd makes it race-free against pid reuse). */
int lock_qemu_kill(int pidfd);
/* Reap if it exited: 1 and *status (wait status), 0 still running, -errno. */
int lock_qemu_reap(pid_t pid, int *status);

struct lock_qmp {
	int fd;
	char buf[65536];
	size_t len;
};

/* Connect (retrying until timeout_ms: QEMU creates the socket at start),
 * read the greeting and send qmp_capabilities. */
int lock_qmp_open(struct lock_qmp *q, const char *path, unsigned timeout_ms);
void lock_qmp_close(struct lock_qmp *q);
/* Send CMD (a JSON object) and wait for its "return"/"error" line, copied to
 * REPLY. 0 for "return", -EIO for "error", -ETIMEDOUT, -errno. */
int lock_qmp_cmd(struct lock_qmp *q, const char *cmd, char *reply, size_t len, unsigned timeout_ms);
int lock_qmp_simple(struct lock_qmp *q, const char *execute, unsigned timeout_ms);
int lock_qmp_migrate(struct lock_qmp *q, const char *uri, unsigned timeout_ms);
/* query-migrate "status" (e.g. "active", "completed", "failed", "none"). */
int lock_qmp_migrate_status(struct lock_qmp *q, char *status, size_t len, unsigned timeout_ms);
/* query-status "status" (e.g. "running", "paused", "inmigrate", "postmigrate"). */
int lock_qmp_run_status(struct lock_qmp *q, char *status, size_t len, unsigned timeout_ms);
/* The string value of "KEY": "..." in JSON text J (no escapes), or -ENOENT. */
int lock_json_str(const char *j, const char *key, char *out, size_t len);
#endif
