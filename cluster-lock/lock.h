/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock.h: public API of kura's cluster lock library (libkura_lock), what
 * kura-lockd and kura-lockctl call. It covers the HA LUN (format, read,
 * join, heartbeat, leave, fence), the liveness decisions (lock_hb_*, pure,
 * injected clock), the VM leases (compare-and-write only) and the
 * registrations of a host's key on VM-disk LUNs.
 *
 * It is not the daemon: no threads, no sockets, no configuration parsing, no
 * QEMU. Every handle belongs to one thread at a time; the daemon opens one
 * struct lock_ha for its heartbeat thread and another one for fencing and
 * lease work, so that a slow fence never delays a heartbeat.
 *
 * Errors: functions return 0 (or a count) on success, -errno for system and
 * transport failures, and the LOCK_E_* values below (also negative, outside
 * the errno range) for domain outcomes. lock_strerror() names both.
 *
 * Note to H5 (and later readers): this header evolves compatibly; new
 * fields go at the end of structs, new functions are added, nothing is
 * renamed without a comment here. Changes since the first commit:
 *   - lock_ha_heartbeat may return -EAGAIN: my slot says FENCING by a host
 *     whose key is still registered; my key is too. Not fenced (yet): do not
 *     kill the VMs, do not count it as an own write; the next beat decides
 *     (LOCK_E_FENCED once the fencer's PREEMPT lands, 0 if it lost).
 *   - lock_fence returns LOCK_E_FENCED also when my own CAW/PREEMPT got
 *     RESERVATION CONFLICT because my key is gone (I lost a mutual fence).
 *   - new: lock_ha_read_leases + lock_image_lease: one read of the lease
 *     table for a whole status listing, without creating records
 *     (lock_lease_get reads the table and creates a missing record).
 *   - new: lock_ha_register_vm(h, vm_lun): lock_lun_register of my key, but
 *     only after READ KEYS on the HA LUN shows my key (else LOCK_E_FENCED):
 *     prefer it to lock_lun_register for VM disks (I4 enforced here).
 *
 * How the daemon uses it (the library's contract):
 *   - heartbeat thread: h = lock_ha_open(...); lock_ha_join(h, 0) once; then
 *     every interval: rc = lock_ha_heartbeat(h); on 0 call
 *     lock_hb_own_write(&hb, lock_now_boot_ns()); read the slots
 *     (lock_ha_read_slots) and feed each to lock_hb_observe(). On
 *     LOCK_E_FENCED kill every QEMU (SIGKILL) and never register again until
 *     an operator join (a new lock_ha_join = new incarnation and key).
 *   - work thread: a second handle, lock_ha_adopt(h2, lock_ha_incarnation(h))
 *     (no join), for lock_fence and lock_lease_*.
 *   - VM disks: one struct lock_lun per disk (its paths), opened with the
 *     host's initiator name (the same name QEMU uses); lock_ha_register_vm(h,
 *     l) before QEMU starts, lock_lun_unregister after it
 *     stopped or migrated away. After any call on a VM LUN,
 *     lock_lun_take_events() tells about 2A/05 (preempted) and conflicts.
 *   - lock_hb verdict LOCK_HB_FENCED covers FENCING too, except that a
 *     FENCING slot unchanged for fail_after (its fencer died half-way) is
 *     LOCK_HB_DEAD again: fence it as usual, lock_fence takes the FENCING
 *     record over (step 1 CAWs it to FENCING by me) and completes it.
 */
#ifndef KURA_LOCK_H
#define KURA_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- domain errors (sanlock_rv.h style: outside the errno range) ---- */
enum {
	LOCK_E_MISCOMPARE = -5001,    /* CAW found other data than expected */
	LOCK_E_CONFLICT = -5002,      /* lease held elsewhere or lver mismatch */
	LOCK_E_FENCED = -5003,        /* this host's key was preempted / slot FENCED(ING) */
	LOCK_E_CORRUPT = -5004,       /* bad magic, version, kind or CRC: never free */
	LOCK_E_FOREIGN = -5005,       /* the LUN holds another cluster's header */
	LOCK_E_UNFORMATTED = -5006,   /* no kura lock header at all */
	LOCK_E_INUSE = -5007,         /* host id in use by a live host (join) */
	LOCK_E_RESV_CONFLICT = -5008, /* SCSI RESERVATION CONFLICT */
	LOCK_E_UNREACHABLE = -5009,   /* no path answered before its deadline */
	LOCK_E_SCSI = -5010,          /* other CHECK CONDITION (see lock_lun_last_sense) */
	LOCK_E_NOSPACE = -5011,       /* no free lease block left */
	LOCK_E_NOTFOUND = -5012,      /* no lease for that VM */
	LOCK_E_LEFT = -5013,          /* own slot marked LEAVING (drain): stop heartbeating */
};
const char *lock_strerror(int err);

/* ---- limits and identities ---- */
#define LOCK_MAX_HOSTS     64  /* host ids 1..64; slot of host id i is slot i */
#define LOCK_MAX_LEASES    256 /* VM lease records */
#define LOCK_NAME_MAX      64  /* cluster, host and VM names, NUL included */
#define LOCK_INITIATOR_MAX 224 /* iSCSI names (RFC 7143 allows 223 bytes) */
#define LOCK_MAX_PATHS     8   /* ha_lun URLs / paths of one LUN */

/* PR key = cluster tag (16 bits) | host id (16 bits) | incarnation (32 bits). */
static inline uint64_t lock_key(uint16_t tag, uint16_t host_id, uint32_t incarnation)
{
	return (uint64_t)tag << 48 | (uint64_t)host_id << 32 | incarnation;
}
static inline uint16_t lock_key_host(uint64_t key)
{
	return (uint16_t)(key >> 32);
}
static inline uint32_t lock_key_incarnation(uint64_t key)
{
	return (uint32_t)key;
}

/* ---- decoded on-disk records (plain data; layout in lock_ondisk.h) ---- */
struct lock_header {
	char cluster[LOCK_NAME_MAX];
	uint8_t uuid[16];
	uint16_t tag; /* cluster tag of every PR key, never 0 */
	uint32_t layout_version;
	uint32_t block_size; /* 512 or 4096: one record per block */
	uint32_t max_hosts, max_leases;
	uint64_t slot_lba, lease_lba;           /* first block of each table */
	uint32_t hb_interval_ms, fail_after_ms; /* defaults written by format */
	int64_t formatted_wall;                 /* wall seconds, for humans only */
};

enum lock_slot_state {
	LOCK_SLOT_FREE = 0, /* never joined */
	LOCK_SLOT_JOINED = 1,
	LOCK_SLOT_LEAVING = 2, /* drained: not fenced when it stops */
	LOCK_SLOT_FENCING = 3, /* step 1 of a fence won by fenced_by */
	LOCK_SLOT_FENCED = 4,  /* fence complete: key gone everywhere */
	LOCK_SLOT_LEFT = 5,    /* clean leave: key unregistered */
};

struct lock_slot {
	uint16_t host_id;
	uint16_t state;       /* enum lock_slot_state */
	uint32_t incarnation; /* only grows */
	uint64_t counter;     /* heartbeat counter */
	uint32_t hb_interval_ms, fail_after_ms;
	uint16_t fenced_by;      /* host id of the fencer (FENCING/FENCED) */
	uint32_t fence_epoch;    /* + 1 per fence of this slot */
	uint64_t fenced_boot_ns; /* fencer's CLOCK_BOOTTIME: for humans */
	int64_t wall;            /* last writer's wall seconds: for humans */
	char host_name[LOCK_NAME_MAX];
};

enum lock_mig_phase {
	LOCK_MIG_NONE = 0,
	LOCK_MIG_ACTIVE = 1, /* src runs, dst may take with lver */
};

struct lock_lease {
	char vm[LOCK_NAME_MAX]; /* "" = free record */
	uint8_t vm_uuid[16];    /* optional, zero if unknown */
	uint16_t owner;         /* host id, 0 = nobody */
	uint32_t owner_incarnation;
	uint64_t lver; /* + 1 on every change */
	uint16_t mig_src, mig_dst;
	uint16_t mig_phase;   /* enum lock_mig_phase */
	uint32_t fence_epoch; /* owner's slot fence_epoch when taken */
	int64_t wall;         /* wall seconds of last change, humans only */
};

/* Status of one record read from disk (dump, read_all). */
enum lock_rec_status {
	LOCK_REC_OK = 0,
	LOCK_REC_CORRUPT = 1, /* reported, never taken as free */
	LOCK_REC_UNREAD = 2,
};

struct lock_image { /* everything on the HA LUN, ~60 KiB */
	struct lock_header hdr;
	struct lock_slot slot[LOCK_MAX_HOSTS + 1]; /* index = host id; [0] unused */
	uint8_t slot_status[LOCK_MAX_HOSTS + 1];
	struct lock_lease lease[LOCK_MAX_LEASES];
	uint8_t lease_status[LOCK_MAX_LEASES];
};

/* ---- a LUN reached through one or more paths (lock_scsi) ---- */
struct lock_lun;

struct lock_lun_params {
	const char *const *urls; /* iscsi://HOST[:PORT]/IQN/LUN, one per path */
	int n_urls;
	const char *initiator;  /* this host's initiator name */
	unsigned io_timeout_ms; /* per-I/O deadline (0: 2000) */
};

/* Connects lazily: open never fails for an unreachable target; *err gets
 * -ENOMEM / -EINVAL (bad URL) only. */
struct lock_lun *lock_lun_open(const struct lock_lun_params *p, int *err);
void lock_lun_close(struct lock_lun *l);

/* Events seen on a LUN since the last call (unit attentions consumed by the
 * retry logic; I9). The daemon polls this after every call on a VM LUN. */
#define LOCK_EV_PREEMPTED     0x1 /* UA 2A/05 REGISTRATIONS PREEMPTED */
#define LOCK_EV_RESV_CHANGED  0x2 /* UA 2A/03, 2A/04, 2A/06 */
#define LOCK_EV_RESET         0x4 /* UA 29/xx */
#define LOCK_EV_RESV_CONFLICT 0x8 /* a command ended in RESERVATION CONFLICT */
unsigned lock_lun_take_events(struct lock_lun *l);

/* VM-disk registration (brief: "Registration on VM disks"): REGISTER with
 * SPEC_I_PT naming every ISID of `initiator` (TransportID format 00h) and
 * ALL_TG_PT, APTPL=1, on every path; a WEAR reservation by the first
 * registrant; confirmed with READ FULL STATUS. Idempotent. */
int lock_lun_register(struct lock_lun *l, uint64_t key);
/* Removes `key` (REGISTER with service action key 0). Idempotent. */
int lock_lun_unregister(struct lock_lun *l, uint64_t key);
/* PREEMPT AND ABORT victim_key, registering my_key first if needed. */
int lock_lun_preempt_abort(struct lock_lun *l, uint64_t my_key, uint64_t victim_key);
/* READ KEYS: fills up to max keys, returns the count (or < 0). */
int lock_lun_read_keys(struct lock_lun *l, uint64_t *keys, int max, uint32_t *generation);
/* true if key is registered (READ KEYS), < 0 on error. */
int lock_lun_has_key(struct lock_lun *l, uint64_t key);

/* ---- the HA LUN ---- */
struct lock_ha;

struct lock_ha_params {
	const char *cluster;     /* [cluster] name */
	const char *const *urls; /* [cluster] ha_lun lines */
	int n_urls;
	const char *initiator; /* this host's initiator name */
	uint16_t host_id;      /* 0 for tools (format, dump) */
	const char *host_name;
	unsigned hb_interval_ms; /* default 1000 */
	unsigned fail_after_ms;  /* default 10000 */
	unsigned io_timeout_ms;  /* default: hb_interval_ms (0 = that) */
};

struct lock_ha *lock_ha_open(const struct lock_ha_params *p, int *err);
void lock_ha_close(struct lock_ha *h);
struct lock_lun *lock_ha_lun(struct lock_ha *h);
/* lock_lun_register(vm, my key) if my key is still on the HA LUN, else
 * LOCK_E_FENCED: a fenced host never registers its key again (I4). */
int lock_ha_register_vm(struct lock_ha *h, struct lock_lun *vm);

/* Writes header, free slots and free leases. Refuses a LUN that holds
 * another cluster's header (LOCK_E_FOREIGN) unless force; force also
 * CLEARs the persistent reservation state of the LUN. */
int lock_ha_format(struct lock_ha *h, bool force);
/* Header check: 0, LOCK_E_UNFORMATTED, LOCK_E_FOREIGN, LOCK_E_CORRUPT. */
int lock_ha_read_header(struct lock_ha *h, struct lock_header *out);
/* Reads header, every slot and lease (per-record status in img). */
int lock_ha_read_all(struct lock_ha *h, struct lock_image *img);
/* Reads the slot table only (what an observer needs every interval). */
int lock_ha_read_slots(struct lock_ha *h, struct lock_image *img);
/* Reads the lease table only (slots left unread). */
int lock_ha_read_leases(struct lock_ha *h, struct lock_image *img);
/* Index of vm's lease in an image (read_all / read_leases), or
 * LOCK_E_NOTFOUND, or LOCK_E_CORRUPT when a corrupt lease record exists and
 * no other matches (it might be vm's). Pure; writes nothing (for status). */
int lock_image_lease(const struct lock_image *img, const char *vm);

/* Join: reads my slot; refuses (LOCK_E_INUSE) a JOINED slot whose counter
 * still moves within watch_ms (0: 2 x hb interval); incarnation + 1;
 * registers the new key on the HA LUN (REGISTER AND IGNORE, APTPL) and
 * makes the WEAR reservation if none; CAW writes the slot JOINED. */
int lock_ha_join(struct lock_ha *h, unsigned watch_ms);
uint64_t lock_ha_key(const struct lock_ha *h); /* 0 before join */
uint32_t lock_ha_incarnation(const struct lock_ha *h);
uint16_t lock_ha_tag(const struct lock_ha *h);
/* Copy of my slot as last read or written. */
void lock_ha_own_slot(const struct lock_ha *h, struct lock_slot *out);
/* Adopt the identity of a joined handle (same host): the second handle
 * (fence/lease work) calls this with the heartbeat handle's values. */
void lock_ha_adopt(struct lock_ha *h, uint32_t incarnation);

/* One heartbeat: CAW my slot with counter + 1. 0 on success;
 * LOCK_E_FENCED if the slot was FENCING/FENCED or the key is gone;
 * LOCK_E_LEFT if it was marked LEAVING; other < 0 = this write failed. */
int lock_ha_heartbeat(struct lock_ha *h);
/* Marks my slot LEAVING (drain) or LEFT (clean stop, key unregistered). */
int lock_ha_leave(struct lock_ha *h, bool drain);
/* Marks another host's slot LEAVING (kura-lockctl drain run elsewhere). */
int lock_ha_mark_leaving(struct lock_ha *h, uint16_t host_id);

/* ---- liveness decisions (pure; lock_hb.c) ---- */
enum lock_hb_verdict {
	LOCK_HB_EMPTY = 0, /* slot never joined */
	LOCK_HB_ALIVE,
	LOCK_HB_SUSPECT, /* counter stale, but not long enough (or observer unsure) */
	LOCK_HB_DEAD,    /* may be fenced now */
	LOCK_HB_LEAVING, /* drained: never fenced */
	LOCK_HB_FENCED,  /* FENCING (not stale) or FENCED */
	LOCK_HB_LEFT,
	LOCK_HB_CORRUPT, /* slot unreadable: reported, not fenced on that basis */
};

struct lock_hb_peer {
	bool seen;
	uint32_t incarnation;
	uint64_t counter;
	uint16_t state;
	uint64_t changed_ns; /* observer's boot-time when counter last moved */
};

#define LOCK_HB_OWN_RING 16
struct lock_hb {
	uint16_t self_id;
	uint64_t fail_after_ns, interval_ns;
	uint64_t own_done_ns[LOCK_HB_OWN_RING]; /* completed own writes */
	unsigned own_n;
	uint64_t own_resume_ns; /* end of my last own gap (stall seen by me) */
	struct lock_hb_peer peer[LOCK_MAX_HOSTS + 1];
};

/* Clock source: CLOCK_BOOTTIME in the daemon, injected in tests (I12). */
uint64_t lock_now_boot_ns(void);
void lock_hb_init(struct lock_hb *hb, uint16_t self_id, unsigned interval_ms,
		  unsigned fail_after_ms);
/* Call after each completed own heartbeat write, with its completion time. */
void lock_hb_own_write(struct lock_hb *hb, uint64_t now_ns);
/* Feed a slot read at now_ns; returns the verdict for that peer. */
enum lock_hb_verdict lock_hb_observe(struct lock_hb *hb, const struct lock_slot *s, bool corrupt,
				     uint64_t now_ns);
/* Age of the peer's last counter change in ms (status heartbeat_age_ms). */
uint64_t lock_hb_age_ms(const struct lock_hb *hb, uint16_t host_id, uint64_t now_ns);
const char *lock_hb_verdict_name(enum lock_hb_verdict v);

/* ---- fencing (lock_fence.c): the 5 steps of the brief ---- */
struct lock_fence_req {
	uint16_t victim;
	struct lock_slot stale;          /* the victim's slot as last read (step 1's expected) */
	struct lock_lun *const *vm_luns; /* every VM-disk LUN of the cluster */
	int n_vm_luns;
};
/* 0: victim fenced (key gone everywhere, slot FENCED) - leases may move.
 * LOCK_E_MISCOMPARE: the victim's slot moved (victim alive, or another
 * host fences it): re-read and decide again.
 * LOCK_E_FENCED: I lost the race (my own key was preempted): kill my VMs.
 * other < 0: incomplete; the slot stays FENCING by me, retry lock_fence. */
int lock_fence(struct lock_ha *h, const struct lock_fence_req *req);

/* ---- leases (lock_lease.c): changed only by COMPARE AND WRITE ---- */
/* Finds the lease of vm (creating a free named record if absent). */
int lock_lease_get(struct lock_ha *h, const char *vm, struct lock_lease *out);
/* Takes the lease for me if it is free, mine already, or its owner's slot
 * is FENCED (HA restart, I2) ; expect_lver (if not UINT64_MAX) must match. */
int lock_lease_acquire(struct lock_ha *h, const char *vm, uint64_t expect_lver,
		       struct lock_lease *out);
/* Source: opens a migration window to dst (phase ACTIVE, lver + 1). */
int lock_lease_migrate_begin(struct lock_ha *h, const char *vm, uint16_t dst,
			     struct lock_lease *out);
/* Destination: takes the lease presenting the lver seen at begin. */
int lock_lease_handover(struct lock_ha *h, const char *vm, uint64_t expect_lver,
			struct lock_lease *out);
/* Source: closes a failed/aborted window, keeping ownership. */
int lock_lease_migrate_abort(struct lock_ha *h, const char *vm, struct lock_lease *out);
/* Owner: releases (owner 0). */
int lock_lease_release(struct lock_ha *h, const char *vm, struct lock_lease *out);

/* ---- tools (lockctl_disk.c; H5's lockctl.c main calls these) ---- */
/* Return kura-lockctl exit codes: 0 ok, 1 usage/config, 4 HA LUN unreachable
 * (and 1 for a foreign/corrupt LUN refused without --force). */
int lockctl_format(const struct lock_ha_params *p, bool force, FILE *out, FILE *err);
int lockctl_dump(const struct lock_ha_params *p, bool json, FILE *out, FILE *err);

/* kura-lockctl exit codes (issue 10), also the numbers of kura-lockd's
 * "ERR <code> ..." and kura-lockd's own exit status: one table for all. */
enum {
	LOCKD_EX_OK = 0,
	LOCKD_EX_USAGE = 1,
	LOCKD_EX_NOENT = 2,
	LOCKD_EX_CONFLICT = 3,
	LOCKD_EX_UNREACHABLE = 4,
	LOCKD_EX_NODAEMON = 5,
};

#endif
