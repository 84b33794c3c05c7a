/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster configuration shared by every kura-lockd host and kura-lockctl:
 * one INI file with [cluster], [host NAME] and [vm NAME] sections (reference:
 * docs/cluster-lock.md, "Configuration"). The parser is pure: text in, a
 * struct lock_config out, or "FILE:LINE: key 'k': reason" in an error buffer.
 * It also splits the `qemu` value into words the way a shell would (double
 * or single quotes group words, a backslash escapes one character), without
 * any expansion.
 *
 * Not for: the on-disk layout of the HA LUN (lock_ondisk.h), running QEMU
 * (lock_qemu.h), or anything that touches the network.
 */
#ifndef KURA_LOCK_CONFIG_H
#define KURA_LOCK_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOCK_CFG_MAX_HOSTS 64 /* = LOCK_MAX_HOSTS of lock.h */
#define LOCK_CFG_MAX_VMS   64
#define LOCK_CFG_MAX_PATHS 8   /* ha_lun lines */
#define LOCK_CFG_MAX_DISKS 8   /* words of a VM's `disks` */
#define LOCK_CFG_NAME      64  /* host / VM / cluster names, incl. NUL */
#define LOCK_CFG_IQN       224 /* RFC 3720: at most 223 bytes */
#define LOCK_CFG_URL       512
#define LOCK_CFG_PATH      256

struct lock_host_cfg {
	char name[LOCK_CFG_NAME];
	unsigned id;                        /* 1..LOCK_CFG_MAX_HOSTS, unique */
	char initiator[LOCK_CFG_IQN];       /* its iSCSI initiator name, unique */
	char address[64];                   /* where its incoming migrations listen */
	char socket[LOCK_CFG_PATH];         /* kura-lockd control socket */
	char state_dir[LOCK_CFG_PATH];      /* QMP sockets, console logs, pid files */
	char initiatord_dir[LOCK_CFG_PATH]; /* its kura-initiatord --fuse-dir, "" = none */
	int line;                           /* of the [host NAME] header */
};

struct lock_vm_cfg {
	char name[LOCK_CFG_NAME];
	char *disks[LOCK_CFG_MAX_DISKS]; /* iscsi:// URLs, or a device path / nbd URL */
	bool via_initiatord;             /* disk_via = initiatord: QEMU opens the host's
					 * kura-initiatord FUSE file naa.<hex> of each disk */
	int n_disks;
	char **qemu_argv; /* the `qemu` words, NULL-terminated */
	int qemu_argc;
	bool ha;                    /* restart on a survivor when its host dies */
	char prefer[LOCK_CFG_NAME]; /* preferred host, "" = lowest live id */
	bool disk_device;           /* add -device virtio-blk-pci per disk */
	int index;                  /* 0-based order in the file = lease slot */
	int via_line;               /* of the disk_via line */
	int line;
};

struct lock_config {
	char source[LOCK_CFG_PATH]; /* file name used in messages */
	char name[LOCK_CFG_NAME];
	char *ha_lun[LOCK_CFG_MAX_PATHS]; /* every path to the HA LUN */
	int n_ha_lun;
	unsigned heartbeat_interval_ms;  /* default 1000 */
	unsigned fail_after_ms;          /* default 10000 */
	unsigned io_timeout_ms;          /* per lock I/O deadline, 0 = heartbeat_interval */
	char qemu_binary[LOCK_CFG_PATH]; /* default qemu-system-x86_64 */
	struct lock_host_cfg hosts[LOCK_CFG_MAX_HOSTS];
	int n_hosts;
	struct lock_vm_cfg vms[LOCK_CFG_MAX_VMS];
	int n_vms;
};

/* Parse TEXT (named SOURCE in messages) into CFG. 0, or -EINVAL with
 * "SOURCE:LINE: ..." in ERR. CFG must be released with lock_config_free
 * either way. */
int lock_config_parse(const char *text, const char *source, struct lock_config *cfg, char *err,
		      size_t errlen);
/* Read PATH and parse it; -errno (with a message) when it cannot be read. */
int lock_config_load(const char *path, struct lock_config *cfg, char *err, size_t errlen);
void lock_config_free(struct lock_config *cfg);

const struct lock_host_cfg *lock_config_host(const struct lock_config *cfg, const char *name);
const struct lock_host_cfg *lock_config_host_by_id(const struct lock_config *cfg, unsigned id);
const struct lock_vm_cfg *lock_config_vm(const struct lock_config *cfg, const char *name);

/* Split S into words like sh(1) without expansion: blanks separate, "..." and
 * '...' group, backslash escapes the next character (inside "...", only \"
 * and \\). *ARGV (NULL-terminated, one allocation per word) and *ARGC on
 * success; -EINVAL with the reason in *WHY for an unterminated quote. */
int lock_split_words(const char *s, char ***argv, int *argc, const char **why);
void lock_free_words(char **argv);
/* "1", "0.5", "250ms": seconds (fraction allowed) or an "ms" suffix -> ms. */
int lock_parse_duration_ms(const char *s, unsigned *ms);
#endif
