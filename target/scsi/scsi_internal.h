/* SPDX-License-Identifier: Apache-2.0 */
/* Internal header of the SCSI command layer (target/scsi_*.c only).
 *
 * Holds the logical-unit, nexus and LUN-map objects, the opcode table entry
 * type, the outcome ("reason") enum with its one mapping table, the pure CDB
 * parsers' result types, and the functions the handler files share.
 *
 * Not for: the transport (it uses target/scsi/scsi.h only).
 */
#ifndef KURA_SCSI_INTERNAL_H
#define KURA_SCSI_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/byteorder.h"
#include "target/scsi/scsi.h"
#include "target/scsi/scsi_spec.h"
#include "target/scsi/scsi_stats.h"

/* ---- limits we advertise (VPD B0) ---- */
#define SCSI_MAX_XFER_BYTES      (8u << 20) /* one kbuf; MAXIMUM TRANSFER LENGTH */
#define SCSI_MAX_CAW_BLOCKS      255u       /* MAXIMUM COMPARE AND WRITE LENGTH (1 byte) */
#define SCSI_MAX_UNMAP_DESC      256u
#define SCSI_MAX_UNMAP_BLOCKS    (1u << 20) /* per descriptor (libiscsi: <= 1M is sane) */
#define SCSI_MAX_WS_BLOCKS       0xFFFFu    /* MAXIMUM WRITE SAME LENGTH */
#define SCSI_WS_CHUNK_BYTES      (1u << 20) /* pattern buffer for WRITE SAME */
#define SCSI_MAX_LBA_STATUS_DESC 128u
/* WRITE ATOMIC(16): MAXIMUM ATOMIC TRANSFER LENGTH (VPD B0) in bytes; the
 * atomicity is the SCSI layer's exclusive range lock (scsi_sbc_ext.c). */
#define SCSI_MAX_ATOMIC_BYTES (1u << 20)
#define SCSI_SANITIZE_STEP    (1ull << 30) /* bytes per BLOCK ERASE unmap request */

/* ---- outcomes: every way a command can end (mapped by scsi_reason_table) ---- */
enum scsi_reason {
	SR_GOOD = 0,
	SR_CONDITION_MET,
	SR_PENDING,  /* not an outcome: the handler completes later */
	SR_NO_SENSE, /* REQUEST SENSE with nothing pending */
	SR_INVALID_OPCODE,
	SR_INVALID_FIELD_CDB,
	SR_INVALID_FIELD_PARAM,
	SR_INVALID_FIELD_IU, /* Data-Out shorter than the CDB needs */
	SR_PARAM_LIST_LENGTH,
	SR_LBA_OUT_OF_RANGE,
	SR_LU_NOT_SUPPORTED,
	SR_SAVING_UNSUP,
	SR_MISCOMPARE,
	SR_READ_ERROR,
	SR_WRITE_ERROR,
	SR_WRITE_PROTECTED,
	SR_SPACE_ALLOC_FAILED,
	SR_NOT_READY,
	SR_NOT_READY_MANUAL, /* 04/03: the storage is gone (array cannot assemble), no point retrying */
	SR_ALUA_STANDBY,
	SR_ALUA_UNAVAILABLE,   /* 04/0C (SPC-4 5.16.2.4.5) */
	SR_ALUA_TRANSITIONING, /* 04/0A (SPC-4 5.16.2.5) */
	SR_INTERNAL_FAILURE,
	SR_RESERVATION_CONFLICT,
	SR_BUSY,
	SR_TASK_SET_FULL,
	SR_INVALID_RELEASE_PR,   /* PROUT RELEASE with the wrong type (SPC-4 5.13.11.2) */
	SR_INSUFFICIENT_REG_RES, /* no room for another registration (SPC-4 5.13.7) */
	/* EXTENDED COPY (SPC-4 6.4.3, 6.4.6) */
	SR_TOO_MANY_TGT_DESC,    /* 26/06 TOO MANY TARGET DESCRIPTORS */
	SR_UNSUPP_TGT_DESC,      /* 26/07 UNSUPPORTED TARGET DESCRIPTOR TYPE CODE */
	SR_TOO_MANY_SEG_DESC,    /* 26/08 TOO MANY SEGMENT DESCRIPTORS */
	SR_UNSUPP_SEG_DESC,      /* 26/09 UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE */
	SR_COPY_UNREACHABLE,     /* COPY ABORTED 0D/02 COPY TARGET DEVICE NOT REACHABLE */
	SR_COPY_DEVICE_FAILURE,  /* COPY ABORTED 0D/01 THIRD PARTY DEVICE FAILURE */
	SR_SANITIZE_IN_PROGRESS, /* NOT READY 04/1B (SBC-4 4.11.2) */
	SR_NO_MEDIUM,            /* NOT READY 3A/00: removable medium ejected */
	SR_REMOVAL_PREVENTED,    /* ILLEGAL REQUEST 53/02 (SBC-4 5.13) */
	/* unit attentions, in the order of enum scsi_ua */
	SR_UA_FIRST,
	SR_UA_POWER_ON = SR_UA_FIRST,
	SR_UA_POR,
	SR_UA_TARGET_RESET,
	SR_UA_BDR,
	SR_UA_CMDS_CLEARED,
	SR_UA_MODE_CHANGED,
	SR_UA_CAPACITY_CHANGED,
	SR_UA_RES_PREEMPTED,
	SR_UA_RES_RELEASED,
	SR_UA_REG_PREEMPTED,
	SR_UA_ALUA_CHANGED,
	SR_UA_THIN_THRESHOLD, /* 38/07 THIN PROVISIONING SOFT THRESHOLD REACHED */
	SR_UA_LUNS_CHANGED,   /* 3F/0E REPORTED LUNS DATA HAS CHANGED (lun add / remove) */
	SR__COUNT
};

struct scsi_reason_info {
	uint8_t status; /* SAM status */
	uint8_t key;    /* sense key (CHECK CONDITION only) */
	uint16_t asc;   /* ASC << 8 | ASCQ */
};
extern const struct scsi_reason_info scsi_reason_table[SR__COUNT];

/* Unit attention kinds: bit numbers in a nexus's pending mask; lower bit =
 * reported first (SAM-5 5.14: reset conditions before parameter changes). */
enum scsi_ua {
	SCSI_UA_POWER_ON = 0,
	SCSI_UA_POR,
	SCSI_UA_TARGET_RESET,
	SCSI_UA_BDR,
	SCSI_UA_CMDS_CLEARED,
	SCSI_UA_MODE_CHANGED,
	SCSI_UA_CAPACITY_CHANGED,
	SCSI_UA_RES_PREEMPTED,
	SCSI_UA_RES_RELEASED,
	SCSI_UA_REG_PREEMPTED,
	SCSI_UA_ALUA_CHANGED,
	SCSI_UA_THIN_THRESHOLD,
	SCSI_UA_LUNS_CHANGED,
	SCSI_UA__COUNT
};
_Static_assert(SR_UA_FIRST + SCSI_UA__COUNT == SR__COUNT, "one reason per UA kind");

/* ---- sense builders (scsi_sense.c) ---- */
struct scsi_sense_extra {
	bool info_valid;
	uint64_t info;
	bool sks_valid;
	uint8_t sks[3];
};
/* Both return the number of bytes written (cap >= 18 / 28 required). */
size_t scsi_sense_fixed(uint8_t *out, uint8_t key, uint16_t asc, const struct scsi_sense_extra *x);
size_t scsi_sense_desc(uint8_t *out, uint8_t key, uint16_t asc, const struct scsi_sense_extra *x);
/* Sense-key-specific field pointer (SPC-4 table 53): cd = CDB vs parameter data. */
void scsi_sks_field(uint8_t sks[3], bool cd, uint16_t byte, int bit);

/* ---- pure CDB parsers (scsi_cdb.c) ---- */
#define SCSI_RW_FUA    0x01
#define SCSI_RW_DPO    0x02
#define SCSI_RW_UNMAP  0x04 /* WRITE SAME */
#define SCSI_RW_ANCHOR 0x08 /* WRITE SAME / UNMAP */
#define SCSI_RW_NDOB   0x10 /* WRITE SAME(16) */
#define SCSI_RW_IMMED  0x20 /* SYNC CACHE / PRE-FETCH */

struct scsi_rw_cdb {
	uint64_t lba;
	uint32_t nblocks;
	uint8_t flags;   /* SCSI_RW_* */
	uint8_t bytchk;  /* VERIFY / WRITE AND VERIFY */
	uint8_t protect; /* RDPROTECT / WRPROTECT / VRPROTECT */
	uint8_t group;
};

/* The CDB length implied by the opcode's group code (SPC-4 4.2.5.1); 0 for
 * variable-length / vendor groups. */
unsigned scsi_cdb_group_len(uint8_t opcode);
/* Check every bit of cdb[1..len-1] against a usage map (RSOC CDB USAGE DATA;
 * byte 1 bits 4..0 skipped when sa_field). Returns -1 when clean, else the
 * byte index of the first bad bit and *bit its number. */
int scsi_cdb_check_usage(const uint8_t *cdb, size_t len, const uint8_t *usage, bool sa_field,
			 int *bit);
/* Decode the LBA / length / flag fields of the read, write, verify, write
 * same, sync cache, pre-fetch and compare-and-write CDBs. Returns SR_GOOD or
 * SR_INVALID_FIELD_CDB (truncated or unknown opcode). */
int scsi_parse_rw(const uint8_t *cdb, size_t len, struct scsi_rw_cdb *out);
/* Overflow-safe: [lba, lba+n) lies within [0, capacity). */
static inline bool scsi_lba_range_ok(uint64_t lba, uint64_t n, uint64_t capacity)
{
	return n <= capacity && lba <= capacity - n;
}

struct scsi_unmap_desc {
	uint64_t lba;
	uint32_t nblocks;
};
/* UNMAP parameter list (SBC-4 5.32.2): returns SR_GOOD and *ndesc, or a
 * reason; st_byte gets the offending parameter byte for SKS. */
int scsi_parse_unmap_params(const uint8_t *p, size_t len, uint32_t *ndesc, uint16_t *bad_byte);
void scsi_unmap_desc_get(const uint8_t *p, uint32_t i, struct scsi_unmap_desc *d);

/* ---- persistent reservations (scsi_pr.c, scsi_pr_cmd.c, scsi_pr_file.c) ----
 * Registrations belong to an I_T nexus *identity* (initiator name + ISID +
 * relative target port), not to a struct scsi_itn: a nexus that logs out and
 * back in with the same ISID on the same port is the same I_T nexus
 * (SAM-5 4.6.1, SPC-4 5.13.1). */
struct scsi_lu_nexus;
struct scsi_op;
#define SCSI_PR_NAME_MAX       224
#define SCSI_PR_MAX_REGS       1024 /* INSUFFICIENT REGISTRATION RESOURCES beyond */
#define SCSI_PR_MAX_PENDING_UA 1024 /* UAs kept for absent nexuses */
#define PRID_ANY_ISID          0x01 /* TransportID format 00h: every ISID of the name */
#define PRID_ANY_PORT          0x02 /* ALL_TG_PT: every target port */

struct scsi_pr_id {
	char name[SCSI_PR_NAME_MAX];
	uint8_t isid[6];
	uint16_t rel_port;
	uint8_t flags; /* PRID_* */
};

struct scsi_pr_reg {
	struct scsi_pr_id id;
	uint64_t key;
	struct scsi_pr_reg *next;
};

struct scsi_pr_ua { /* a UA for a nexus that has no session now */
	struct scsi_pr_id id;
	unsigned mask;
	struct scsi_pr_ua *next;
};

/* A unit attention a PROUT raised, kept in a shared store's record so that
 * every gateway raises it for its own nexuses (scsi_pr_shared.c). */
#define SCSI_PR_MAX_EVENTS 64
struct scsi_pr_event {
	struct scsi_pr_id id;
	uint64_t seq;    /* the record's sequence number the change made */
	uint64_t origin; /* the gateway that made it (struct scsi_pr.origin) */
	uint16_t mask;   /* 1 << enum scsi_ua */
	bool abort;      /* PREEMPT AND ABORT: the nexus's tasks are aborted */
	struct scsi_pr_event *next;
};
struct scsi_pr_store;  /* scsi_pr_store.h */
struct scsi_pr_waiter; /* scsi_pr_shared.c: a PROUT waiting for the one in flight */

struct scsi_pr {
	pthread_mutex_t lock; /* everything below; taken before lu->lock */
	atomic_bool active;   /* any reservation (PR or SPC-2): fast path */
	struct scsi_pr_reg *regs;
	unsigned nregs;
	bool reserved;
	uint8_t type;                       /* SCSI_PR_* when reserved */
	struct scsi_pr_reg *holder;         /* non-AR types: the holder's registration */
	uint32_t generation;                /* PRgeneration (SPC-4 6.15.2) */
	bool aptpl;                         /* persist through power loss (last APTPL) */
	const struct scsi_itn *spc2_holder; /* SPC-2 RESERVE(6)/(10) holder */
	struct scsi_pr_ua *pending;
	unsigned npending;
	bool persist_all;
	struct scsi_pr_store *store; /* NULL => nothing persisted (APTPL refused) */
	uint64_t seq;                /* the sequence number the next store expects */
	uint64_t seq_seen;           /* the newest record applied (events up to it raised) */
	/* shared store only */
	struct scsi_pr_event *events; /* UAs of the latest changes, newest first */
	unsigned nevents;
	uint64_t rec_seq; /* while a PROUT runs: the seq its UAs are recorded under */
	uint64_t origin;  /* this gateway's random name in events (never 0) */
	bool prout_busy;  /* one PROUT at a time per LU on this gateway */
	struct scsi_pr_waiter *waiters;
};

/* One decoded TransportID (SPC-4 7.6.4.6). */
struct scsi_tid {
	char name[SCSI_PR_NAME_MAX];
	uint8_t isid[6];
	bool has_isid; /* format 01h */
};
/* Pure: parse one iSCSI TransportID at p (avail bytes). Returns its length
 * (>= SCSI_TID_MIN_LEN, multiple of 4) or -1 when malformed / truncated /
 * not iSCSI; never reads past avail. */
int scsi_tid_parse(const uint8_t *p, size_t avail, struct scsi_tid *out);
/* Encode an iSCSI TransportID of id into out (cap >= SCSI_TID_MAX_LEN). */
size_t scsi_tid_encode(const struct scsi_pr_id *id, uint8_t *out);

/* On-disk record of the PR state (scsi_pr_file.c). */
#define SCSI_PR_FILE_MAGIC   0x3152504Bu /* "KPR1" little-endian */
#define SCSI_PR_FILE_VERSION 1u
#define SCSI_PR_FILE_MAX \
	(64u + (SCSI_PR_MAX_REGS + SCSI_PR_MAX_EVENTS) * (24u + SCSI_PR_NAME_MAX) + 4u)
/* Encode pr (lock held) into a malloc'd buffer, at sequence number seq,
 * with pr->events when events; NULL on ENOMEM. */
/* WRITE's data path once its range is locked (scsi_sbc.c). */
void scsi_write_start(struct scsi_task *t);
uint8_t *scsi_pr_encode(const struct scsi_pr *pr, const uint8_t naa[16], uint64_t seq, bool events,
			size_t *len);
/* Decode a record into pr (empty, unlocked; events and seq too); 0 or
 * -EINVAL with a reason. */
int scsi_pr_decode(struct scsi_pr *pr, const uint8_t naa[16], const uint8_t *b, size_t len,
		   char *why, size_t whylen);
/* Load the store's record at LU creation: 0 (also when absent) or -errno + reason. */
int scsi_pr_load(struct scsi_pr *pr, const uint8_t naa[16], char *err, size_t errlen);
/* Write crash-safely (temp, fsync, rename, fsync dir): 0 or -errno. Blocking. */
int scsi_pr_write_file(const char *path, const uint8_t *b, size_t len);
/* Hand snapshot b (ownership passes) to the store at pr->seq (then
 * advanced) and call done(arg, 0 | -ECANCELED | -errno) from a helper
 * thread once it, or a later snapshot, is stored. Never blocks the caller
 * (call it with pr->lock held so snapshots queue in order). */
void scsi_pr_persist(struct scsi_pr *pr, uint8_t *b, size_t len,
		     void (*done)(void *arg, int result), void *arg);
bool scsi_pr_shared(const struct scsi_pr *pr);
/* Free registrations, pending UAs and events (pr->lock held or unshared). */
void scsi_pr_free_state(struct scsi_pr *pr);

/* scsi_pr_shared.c: a shared store's side of an LU */
/* Start watching (LU creation); 0 or -errno. */
int scsi_pr_shared_start(struct scsi_lu *lu);
/* Record ua for id under the running PROUT's sequence number (pr->lock held);
 * ua == SCSI_UA__COUNT records only abort. */
void scsi_pr_event_add(struct scsi_pr *pr, const struct scsi_pr_id *id, enum scsi_ua ua,
		       bool abort);
/* Re-read the record and apply it (blocking; helper threads): 0 or -errno. */
int scsi_pr_reload(struct scsi_lu *lu);
/* PROUT serialisation: true if t may run now; else it is re-run later. */
bool scsi_pr_prout_enter(struct scsi_task *t, void (*rerun)(struct scsi_task *t));
void scsi_pr_prout_leave(struct scsi_lu *lu);

/* scsi_pr.c */
int scsi_pr_init(struct scsi_lu *lu, const struct scsi_lu_params *p, char *err, size_t errlen);
void scsi_pr_fini(struct scsi_lu *lu);
void scsi_pr_id_of(const struct scsi_itn *itn, struct scsi_pr_id *id);
bool scsi_pr_id_match(const struct scsi_pr_id *reg, const struct scsi_pr_id *nexus);
struct scsi_pr_reg *scsi_pr_find(const struct scsi_pr *pr, const struct scsi_pr_id *id);
/* Conflict decision of op for the nexus (pr->lock held): SR_GOOD or
 * SR_RESERVATION_CONFLICT (SPC-4 table 44 via op->pr_allow). */
int scsi_pr_decide(const struct scsi_pr *pr, const struct scsi_itn *itn, const struct scsi_op *op);
/* Raise ua for every nexus matching id; kept for later when none is there. */
void scsi_pr_raise_ua(struct scsi_lu *lu, const struct scsi_pr_id *id, enum scsi_ua ua);
/* A new nexus picks up UAs kept for its identity. */
void scsi_pr_nexus_attached(struct scsi_lu *lu, struct scsi_itn *itn, struct scsi_lu_nexus *ln);
/* I_T nexus loss / resets: SPC-2 reservations only. */
void scsi_pr_nexus_lost(struct scsi_lu *lu, const struct scsi_itn *itn);
void scsi_pr_spc2_reset(struct scsi_lu *lu);
void scsi_pr_update_active(struct scsi_pr *pr);
/* At execution time, after any range-lock wait: still allowed? Unlocks the
 * range and finishes t with RESERVATION CONFLICT when not (returns false). */
bool scsi_pr_recheck(struct scsi_task *t);

/* ---- logical units, nexuses, maps (scsi_lu.c) ---- */
struct scsi_lu_nexus { /* one (LU, I_T nexus) pair */
	struct scsi_itn *itn;
	struct scsi_lu *lu;
	atomic_uint ua;             /* pending unit attentions (1 << enum scsi_ua) */
	atomic_bool prevent;        /* PREVENT ALLOW MEDIUM REMOVAL (SBC-4 5.13) */
	struct scsi_lu_nexus *next; /* in lu->nexuses */
};

#define SCSI_STATS_SLOTS 64

struct scsi_lu {
	struct lun_backend *be;
	uint64_t lun;
	uint32_t bs;
	_Atomic uint64_t nblocks;
	char target_iqn[224];
	char serial[65];
	char vendor[9], product[17], revision[5];
	uint8_t naa[16];
	bool thin;              /* logical block provisioning advertised (LBPME) */
	bool report_unmap_gran; /* OPTIMAL UNMAP GRANULARITY filled in VPD B0 */
	bool default_wce;
	uint8_t lbppbe;      /* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT */
	bool removable;      /* INQUIRY RMB (scsi_medium.c) */
	atomic_bool ejected; /* removable medium unloaded: 3A/00 */
	/* mode parameters: current values (SPC-4 7.5) */
	atomic_bool wce, d_sense, swp;
	atomic_bool sanitizing; /* SANITIZE running: other commands get 04/1B */

	pthread_mutex_t lock; /* nexuses + UA raising */
	struct scsi_lu_nexus *nexuses;

	pthread_mutex_t rl_lock;   /* range lock (COMPARE AND WRITE atomicity) */
	struct scsi_task *rl_held; /* doubly linked through st.rl_prev/rl_next */
	struct scsi_task *rl_wait_head, *rl_wait_tail; /* FIFO through lock_next */
	unsigned rl_excl_held;

	struct scsi_pr pr; /* persistent + SPC-2 reservations */
	/* Tasks between scsi_task_exec() and scsi_task_release() (run-time
	 * removal drains it before destroying the LU, scsi_lun_map_remove). */
	atomic_uint inflight;
	/* Counters, one slot per completing thread (scsi_stats.c). */
	struct scsi_lu_stats *_Atomic stats[SCSI_STATS_SLOTS];
};

struct scsi_lun_map {
	struct scsi_lu *_Atomic lu[SCSI_MAX_LUNS];
	/* Serialises freeing (LU, nexus) pairs: a session logging out
	 * (scsi_itn_destroy) against an LU removed at run time
	 * (scsi_lun_map_release). Taken before lu->lock and pr.lock. */
	pthread_mutex_t topo;
};

#define SCSI_XCOPY_HELD 4
struct scsi_xcopy_held { /* SPC-4 6.18.2: status of a finished copy */
	bool used;
	uint8_t list_id;
	uint8_t status;    /* COPY MANAGER STATUS */
	uint16_t segments; /* SEGMENTS PROCESSED */
	uint64_t bytes;
};

struct scsi_itn {
	char initiator[224];
	uint8_t isid[6];
	struct scsi_port port;
	char port_iqn[224];
	struct scsi_lun_map *map;
	struct scsi_lu_nexus *ln[SCSI_MAX_LUNS];
	const struct scsi_transport_ops *tops; /* PREEMPT AND ABORT */
	void *tctx;
	/* EXTENDED COPY results held for RECEIVE COPY RESULTS (scsi_xcopy.c;
	 * only touched on the session's loop). */
	struct scsi_xcopy_held xcopy_held[SCSI_XCOPY_HELD];
};

bool scsi_lu_can_unmap(const struct scsi_lu *lu);
/* scsi_stats.c: count a command that ends now (scsi_task_finish, on the
 * completing thread; t->st.t0_ns is when it started; writes: its opcode
 * modifies the medium), and free the counters with the LU. */
void scsi_stats_done(struct scsi_task *t, bool writes);
void scsi_stats_free(struct scsi_lu *lu);
uint64_t scsi_stats_now_ns(void);
/* Raise ua for every nexus of lu except `except` (NULL = all). */
void scsi_lu_raise_ua(struct scsi_lu *lu, enum scsi_ua ua, const struct scsi_itn *except);
/* Take the highest-priority pending UA of (lu, itn): SR_UA_* or SR_GOOD. */
int scsi_lu_take_ua(struct scsi_lu *lu, const struct scsi_itn *itn);
/* Hooks for persistent reservations and ALUA: SR_GOOD = allowed. */
struct scsi_op;
int scsi_lu_pr_check(struct scsi_lu *lu, const struct scsi_itn *itn, const struct scsi_op *op);
int scsi_lu_alua_check(struct scsi_lu *lu, const struct scsi_itn *itn, const struct scsi_op *op);
/* Range lock: true if granted now; else the task waits and resume(t) is
 * posted to t->loop once granted. Exclusive ranges conflict with every
 * overlapping range; shared ones only with exclusive ones. n == 0 is a no-op. */
bool scsi_range_lock(struct scsi_lu *lu, struct scsi_task *t, uint64_t lba, uint64_t n, bool excl,
		     void (*resume)(struct scsi_task *t));
void scsi_range_unlock(struct scsi_lu *lu, struct scsi_task *t);
/* NAA-6 designator derived from target IQN + LUN (FNV-1a; stable). */
void scsi_naa_derive(const char *iqn, uint64_t lun, uint8_t out[16]);

/* ---- opcode tables (scsi_task.c) ---- */
typedef int (*scsi_exec_fn)(struct scsi_task *t);
typedef bool (*scsi_avail_fn)(const struct scsi_lu *lu);

#define OPF_NO_LU    0x01 /* runs without a logical unit (INQUIRY, REPORT LUNS, REQUEST SENSE) */
#define OPF_NO_UA    0x02 /* not blocked by a pending unit attention (SAM-5 5.14) */
#define OPF_WRITE    0x04 /* modifies the medium: write-protect checked */
#define OPF_SA       0x08 /* byte 1 bits 4..0 are a service action */
#define OPF_DATA_OUT 0x10 /* takes Data-Out */

/* Reservation-conflict bits (SPC-4 table 44 columns): set = allowed. The PR
 * layer reads these; 0 means "conflicts" for every reservation type. */
#define PR_ALLOW_WE  0x01 /* Write Exclusive, from a non-holder */
#define PR_ALLOW_EA  0x02 /* Exclusive Access, from a non-holder */
#define PR_ALLOW_ALL 0x03
#define PR_ALLOW_SPC2 \
	0x04 /* allowed from a non-holder under an SPC-2 RESERVE
			       (SPC-2 5.5.1: INQUIRY, REQUEST SENSE, REPORT LUNS,
			       RELEASE, PERSISTENT RESERVE IN) */
/* ALUA states in which a command is allowed (SPC-4 table 232). */
#define ALUA_ALLOW_AO  0x01
#define ALUA_ALLOW_AN  0x02
#define ALUA_ALLOW_SB  0x04
#define ALUA_ALLOW_UA  0x08
#define ALUA_ALLOW_ALL 0x0F

struct scsi_sa_table;
struct scsi_op {
	const char *name;
	scsi_exec_fn exec;               /* NULL: slot empty */
	scsi_avail_fn avail;             /* NULL: always available */
	const struct scsi_sa_table *sat; /* service-action sub-table */
	uint8_t flags;                   /* OPF_* */
	uint8_t cdb_len;
	uint8_t sa;
	uint8_t pr_allow;
	uint8_t alua_allow;
	uint16_t timeout_s; /* RSOC command timeouts descriptor */
	uint8_t usage[16];  /* RSOC CDB USAGE DATA (byte 0 = opcode) */
};
struct scsi_sa_table {
	unsigned n;
	const struct scsi_op *ops;
};
extern const struct scsi_op scsi_op_table[256];
/* The entry for (opcode, sa) or NULL; *no_sa set when the SA is unknown. */
const struct scsi_op *scsi_op_lookup(const uint8_t *cdb, size_t len, bool *bad_sa);
bool scsi_op_available(const struct scsi_op *op, const struct scsi_lu *lu);

/* ---- shared helpers (scsi_task.c) ---- */
/* Complete t with its current st.reason (builds status + sense). */
void scsi_task_finish(struct scsi_task *t, int reason);
int scsi_fail_field(struct scsi_task *t, uint16_t byte, int bit); /* INVALID FIELD IN CDB */
int scsi_fail_param(struct scsi_task *t, uint16_t byte,
		    int bit); /* INVALID FIELD IN PARAMETER LIST */
/* Data-In buffer of cap bytes, zeroed; NULL => the handler is re-run later
 * (kbuf back-pressure) and must return SR_PENDING. */
uint8_t *scsi_in_alloc(struct scsi_task *t, size_t cap);
/* Finish a data-in response: in_len = min(full, alloc). */
int scsi_in_done(struct scsi_task *t, size_t full, uint32_t alloc);
/* Scratch kbuf; NULL => resume(t) is run later (kbuf_wait). */
void *scsi_scratch_alloc(struct scsi_task *t, size_t len, void (*resume)(struct scsi_task *t));
/* A kbuf of len bytes; NULL => resume(t) runs later (kbuf_wait). */
void *scsi_kbuf_or_wait(struct scsi_task *t, size_t len, void (*resume)(struct scsi_task *t));
/* Compare Data-Out [off, off+len) with buf: index of the first difference,
 * or the number of bytes compared (== len if equal and all present). */
size_t scsi_out_cmp(const struct scsi_task *t, size_t off, const uint8_t *buf, size_t len);
/* Copy Data-Out bytes [off, off+len) into dst; returns bytes copied. */
size_t scsi_out_copy(const struct scsi_task *t, size_t off, void *dst, size_t len);
/* scsi_sbc.c helpers shared with scsi_sbc_ext.c / scsi_sanitize.c: decode
 * the CDB and range-check it (sets st.lba / st.nblocks); refuse more than
 * MAXIMUM TRANSFER LENGTH; LUN_IO_FUA when FUA is asked or WCE is off. */
int scsi_rw_prologue(struct scsi_task *t, struct scsi_rw_cdb *c);
int scsi_check_xfer(struct scsi_task *t, uint64_t nblocks);
unsigned scsi_write_flags(const struct scsi_task *t, bool fua);
/* Submit t->io to the LU's backend with done callback fn. */
void scsi_submit(struct scsi_task *t, enum lun_op op, unsigned flags, uint64_t off, uint64_t len,
		 struct iovec *iov, int iovcnt, void (*fn)(struct lun_io *io));
/* Map a backend -errno to a reason (is_write: EIO => write error). */
int scsi_errno_reason(int err, bool is_write);
bool scsi_lu_write_protected(const struct scsi_lu *lu);

/* ---- handlers ---- */
int scsi_exec_inquiry(struct scsi_task *t);    /* scsi_inquiry.c */
int scsi_exec_mode_sense(struct scsi_task *t); /* scsi_mode.c */
int scsi_exec_mode_select(struct scsi_task *t);
int scsi_exec_tur(struct scsi_task *t); /* scsi_spc.c */
int scsi_exec_request_sense(struct scsi_task *t);
int scsi_exec_report_luns(struct scsi_task *t);
int scsi_exec_rsoc(struct scsi_task *t);
int scsi_exec_rstmf(struct scsi_task *t);
int scsi_exec_start_stop(struct scsi_task *t);
int scsi_exec_read(struct scsi_task *t); /* scsi_sbc.c */
int scsi_exec_write(struct scsi_task *t);
int scsi_exec_verify(struct scsi_task *t);
int scsi_exec_write_verify(struct scsi_task *t);
int scsi_exec_sync_cache(struct scsi_task *t);
int scsi_exec_prefetch(struct scsi_task *t);
int scsi_exec_caw(struct scsi_task *t);
int scsi_exec_write_same(struct scsi_task *t);
int scsi_exec_unmap(struct scsi_task *t);
int scsi_exec_get_lba_status(struct scsi_task *t);
int scsi_exec_orwrite(struct scsi_task *t); /* scsi_sbc_ext.c */
int scsi_exec_write_atomic(struct scsi_task *t);
int scsi_exec_read_defect(struct scsi_task *t);
int scsi_exec_sanitize(struct scsi_task *t); /* scsi_sanitize.c */
bool scsi_lu_sanitizing(const struct scsi_lu *lu);
int scsi_exec_prevent_allow(struct scsi_task *t); /* scsi_medium.c */
bool scsi_lu_is_removable(const struct scsi_lu *lu);
/* SR_NO_MEDIUM when op needs the medium of an ejected removable LU. */
int scsi_lu_medium_check(const struct scsi_lu *lu, const struct scsi_op *op);
/* LOGICAL UNIT RESET / TARGET RESET: every nexus's PREVENT ends (SBC-4 5.13). */
void scsi_lu_prevent_reset(struct scsi_lu *lu);
int scsi_exec_read_capacity10(struct scsi_task *t);
int scsi_exec_read_capacity16(struct scsi_task *t);
int scsi_exec_prin(struct scsi_task *t); /* scsi_pr_cmd.c */
int scsi_exec_prout(struct scsi_task *t);
int scsi_exec_xcopy(struct scsi_task *t); /* scsi_xcopy.c */
int scsi_exec_rcr(struct scsi_task *t);
/* Third-party copy descriptors of VPD page 8Fh after its 4-byte header. */
size_t scsi_xcopy_vpd(uint8_t *b);
int scsi_exec_reserve(struct scsi_task *t); /* scsi_pr.c */
int scsi_exec_release(struct scsi_task *t);
/* scsi_alua.c. Weak references: unit tests that #include the other
 * scsi_*.c files without scsi_alua.c link (RTPG / STPG slots then read as
 * empty, every ALUA check passes); the daemon links scsi_alua.o through
 * admin.c / main.c's strong references. */
#define SCSI_ALUA_WEAK __attribute__((weak))
int scsi_exec_rtpg(struct scsi_task *t) SCSI_ALUA_WEAK;
int scsi_exec_stpg(struct scsi_task *t) SCSI_ALUA_WEAK;
/* ALUA access check of op through itn's port group: SR_GOOD or the refusal. */
int scsi_alua_check(const struct scsi_itn *itn, const struct scsi_op *op) SCSI_ALUA_WEAK;
#endif
