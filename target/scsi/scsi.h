/* SPDX-License-Identifier: Apache-2.0 */
/* The SCSI command layer (SPC-4 / SBC-4) as the iSCSI transport sees it.
 *
 * The transport (target/transport/conn.c) builds a scsi_task per SCSI Command PDU,
 * gathers all Data-Out of the command into out_iov, and calls
 * scsi_task_exec(). The SCSI layer looks the opcode up in its table, parses
 * the CDB (pure), checks unit attentions (and later reservations / ALUA),
 * submits decoded lun_io's to the LU's backend, and calls task->done() on the
 * task's loop once status, sense and Data-In are ready. done() is never
 * called inline from scsi_task_exec().
 *
 * Not for: PDUs, sequence numbers, R2T, digests (the transport); files and
 * io_uring (lun-backends/).
 */
#ifndef KURA_SCSI_H
#define KURA_SCSI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "common/kloop.h"
#include "lun-backends/lun_backend.h"

#define SCSI_MAX_LUNS 256

enum scsi_dir { SCSI_DIR_NONE = 0, SCSI_DIR_READ = 1, SCSI_DIR_WRITE = 2, SCSI_DIR_BIDI = 3 };

/* SAM status codes */
#define SAM_STAT_GOOD                 0x00
#define SAM_STAT_CHECK_CONDITION      0x02
#define SAM_STAT_CONDITION_MET        0x04
#define SAM_STAT_BUSY                 0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL        0x28
#define SAM_STAT_TASK_ABORTED         0x40

struct scsi_lu;      /* a logical unit: backend + identity + mode pages + UA state */
struct scsi_itn;     /* an I_T nexus: initiator port (name + ISID) x target port */
struct scsi_lun_map; /* the LUNs a target exposes (REPORT LUNS) */

/* Identity of a logical unit, from configuration. */
struct scsi_lu_params {
	const char *target_iqn; /* owning target (SCSI name designator of the target port) */
	uint64_t lun;           /* LUN number (0..SCSI_MAX_LUNS-1) */
	const char *serial;     /* VPD 0x80; unique per LU; NULL => derived from naa */
	uint64_t naa;         /* NAA-6 designator high 64 bits (IEEE company id + vendor specific);
	                             0 => derived stably from target_iqn + lun */
	uint64_t naa_ext;     /* NAA-6 low 64 bits (vendor specific identifier extension) */
	const char *vendor;   /* INQUIRY vendor (8 chars), default "KURA" */
	const char *product;  /* INQUIRY product (16 chars), default "kura-lun" */
	const char *revision; /* INQUIRY revision (4 chars) */
	bool thin;            /* advertise logical block provisioning if backend can unmap */
	bool write_cache;     /* initial WCE */
	/* OPTIMAL UNMAP GRANULARITY in VPD B0: SCSI_UG_AUTO reports it for
	 * 512-byte LUs only (see scsi_inquiry.c vpd_block_limits for why). */
	enum { SCSI_UG_AUTO = 0, SCSI_UG_YES, SCSI_UG_NO } unmap_gran_hint;
	/* Physical block size in bytes (READ CAPACITY(16) LOGICAL BLOCKS PER
	 * PHYSICAL BLOCK EXPONENT); 0 = the logical block size. A power of two
	 * multiple of the block size (checked by scsi_lu_create). */
	uint32_t physical_block_size;
	/* Removable medium (INQUIRY RMB): START STOP UNIT with LOEJ ejects and
	 * loads it, PREVENT ALLOW MEDIUM REMOVAL locks it (scsi_medium.c). */
	bool removable;
	/* persistent reservations (added): directory of the LU's PR state file
	 * "<pr_dir>/<naa hex>.pr"; NULL => nothing persisted, APTPL refused.
	 * pr_persist_all: persist every PR change, not only under APTPL. A
	 * corrupt state file makes scsi_lu_create() fail naming the file. */
	const char *pr_dir;
	bool pr_persist_all;
};

/* A target port as a relative port identifier + target port group. */
struct scsi_port {
	uint16_t rel_port_id;   /* 1-based relative target port identifier */
	uint16_t tpg_id;        /* target port group (ALUA) */
	const char *target_iqn; /* for the SCSI name designator "<iqn>,t,0x<tpgt>" */
	uint16_t tpgt;
};

struct scsi_task {
	/* ---- filled by the transport before scsi_task_exec() ---- */
	uint8_t cdb[260]; /* CDB incl. extended CDB from AHS */
	uint16_t cdb_len;
	uint64_t lun;       /* decoded LUN number (flat / peripheral addressing) */
	struct scsi_lu *lu; /* NULL if the LUN does not exist (=> LUN NOT SUPPORTED etc.) */
	struct scsi_itn *itn;
	struct scsi_lun_map *map;
	struct kloop *loop;    /* the worker loop that owns this task */
	enum scsi_dir dir;     /* from the R/W bits of the PDU */
	uint32_t edtl;         /* expected data transfer length (write or read) */
	uint32_t edtl_in;      /* bidirectional: expected read length */
	uint8_t task_attr;     /* SAM task attribute: 0 untagged,1 simple,2 ordered,3 HoQ,4 ACA */
	uint32_t tag;          /* initiator task tag (for ABORT TASK) */
	struct iovec *out_iov; /* all Data-Out received (edtl bytes, or fewer if the
	                              transport received fewer); may be NULL if none */
	int out_iovcnt;
	uint32_t out_len; /* bytes in out_iov */
	void (*done)(struct scsi_task *t);
	void *priv; /* for the transport */

	/* ---- filled by the SCSI layer ---- */
	uint8_t status; /* SAM status */
	uint8_t sense[96];
	uint8_t sense_len;   /* 0 if none */
	void *in_buf;        /* Data-In (kbuf); freed by scsi_task_release() */
	uint32_t in_len;     /* bytes of Data-In the command produced, before any
	                              truncation to edtl (transport sends min(in_len, edtl)
	                              and sets the overflow / underflow residual) */
	uint32_t out_wanted; /* bytes of Data-Out the CDB asked for (transport
	                              compares with edtl for the write residual) */
	bool aborted;        /* set by scsi_task_abort(): no response is sent */

	/* ---- private to the SCSI layer ---- */
	void *scsi_priv[8];
	struct lun_io io;
	struct scsi_task *lock_next;
	struct scsi_task_state {      /* per-command state of target/scsi_*.c (added) */
		struct kloop_task kt; /* defer / post / kbuf_wait continuation */
		void (*resume)(struct scsi_task *t);
		const void *op;        /* opcode table entry */
		uint64_t lba, nblocks; /* decoded range */
		uint64_t pos, end;     /* progress of multi-step commands (bytes or LBAs) */
		void *scratch;         /* kbuf owned by the command */
		struct iovec iov[2];
		uint32_t reason; /* enum scsi_reason of the outcome */
		uint32_t aux;    /* handler specific */
		uint64_t info;   /* sense INFORMATION */
		uint8_t sks[3];  /* sense-key specific bytes (SKSV set if used) */
		uint8_t flags;   /* handler specific */
		bool info_valid, in_exec;
		uint8_t rl_state; /* range lock: 0 none, 1 held, 2 waiting */
		bool rl_excl;
		uint64_t rl_start, rl_end; /* locked LBA range [start, end) */
		struct scsi_task *rl_prev, *rl_next;
		void (*rl_resume)(struct scsi_task *t);
		bool lu_ref;    /* counted in lu->inflight (released by scsi_task_release) */
		uint64_t t0_ns; /* CLOCK_MONOTONIC at scsi_task_exec (scsi_stats.c) */
	} st;
};

/* ---- logical units ---- */
/* Create an LU over an opened backend (the LU owns it afterwards). */
int scsi_lu_create(const struct scsi_lu_params *p, struct lun_backend *be, struct scsi_lu **out,
		   char *err, size_t errlen);
void scsi_lu_destroy(struct scsi_lu *lu);
uint64_t scsi_lu_size_blocks(const struct scsi_lu *lu);
/* Administrator grew / shrank the backend: raise CAPACITY DATA HAS CHANGED to all nexuses. */
void scsi_lu_capacity_changed(struct scsi_lu *lu);
/* Raise the unit attention asc/ascq on every nexus of lu (thread-safe; each
 * nexus reports it once). Only UAs the SCSI layer knows can be raised:
 * -EINVAL otherwise. Used for 38/07 THIN PROVISIONING SOFT THRESHOLD REACHED. */
int scsi_lu_raise_ua_all(struct scsi_lu *lu, uint8_t asc, uint8_t ascq);

/* ---- LUN maps (one per target) ---- */
struct scsi_lun_map *scsi_lun_map_new(void);
void scsi_lun_map_free(struct scsi_lun_map *m);
int scsi_lun_map_add(struct scsi_lun_map *m, uint64_t lun, struct scsi_lu *lu);
struct scsi_lu *scsi_lun_map_get(struct scsi_lun_map *m, uint64_t lun);
/* Run-time LUN changes (kura-targetctl lun add / remove). An LU added after
 * a nexus was created gets that nexus's state (UA mask, 29/00 once) lazily,
 * on the nexus's first command to it. scsi_lun_map_changed raises 3F/0E
 * REPORTED LUNS DATA HAS CHANGED on every nexus of every LU of the map but
 * `except` (SPC-4 6.33); call it after an add and after a remove.
 * Remove is in three steps, because a worker may hold the LU:
 *   1. scsi_lun_map_remove: unpublish the slot (new commands get 25/00);
 *   2. the caller waits for a grace period in which every worker loop ran
 *      once (a command read the slot and counted itself in one callback),
 *      then until scsi_lu_inflight() is 0;
 *   3. scsi_lun_map_release: free the nexus pairs and destroy the LU. */
int scsi_lun_map_remove(struct scsi_lun_map *m, uint64_t lun, struct scsi_lu **out);
void scsi_lun_map_changed(struct scsi_lun_map *m, const struct scsi_lu *except);
unsigned scsi_lu_inflight(const struct scsi_lu *lu);
/* The LU in slot lun of m, counted in its in-flight work so that a run-time
 * removal does not destroy it before scsi_lu_put(); NULL if the slot is
 * empty. Call from a worker loop (the removal's grace period relies on the
 * read and the count happening in one loop callback). The transport holds
 * the LU of a command from receipt to free and of a TMF from receipt to
 * answer, which the SCSI layer's own count (exec .. release) does not cover. */
struct scsi_lu *scsi_lun_map_hold(struct scsi_lun_map *m, uint64_t lun);
void scsi_lu_put(struct scsi_lu *lu);
void scsi_lun_map_release(struct scsi_lun_map *m, struct scsi_lu *lu);

/* ---- I_T nexuses (one per iSCSI session) ---- */
/* Register a new nexus with every LU of the map: each LU raises POWER ON,
 * RESET, OR BUS DEVICE RESET OCCURRED (29/00) for it once. Thread-safe. */
struct scsi_itn *scsi_itn_create(struct scsi_lun_map *m, const char *initiator_name,
				 const uint8_t isid[6], const struct scsi_port *port);
void scsi_itn_destroy(struct scsi_itn *itn);

/* What the SCSI layer asks of the transport (added for PREEMPT AND ABORT,
 * SPC-4 5.13.11.2.6). abort_nexus_tasks: abort every task of itn on lu
 * (as for a LUN RESET: no response is sent for them) and call done(arg),
 * from any thread, once none of them can still reach the backend. It is
 * called with LU locks held: it must not block and must not call back into
 * the SCSI layer synchronously (post to the session's loop instead). */
struct scsi_transport_ops {
	void (*abort_nexus_tasks)(void *ctx, struct scsi_itn *itn, struct scsi_lu *lu,
				  void (*done)(void *arg), void *arg);
};
/* Register the transport of a nexus (before its first command; ops may be
 * NULL: then the nexus has no tasks the SCSI layer needs aborted). */
void scsi_itn_set_transport(struct scsi_itn *itn, const struct scsi_transport_ops *ops, void *ctx);

/* ---- commands ---- */
/* Decode the LUN field of a BHS (SAM-5 flat / peripheral device addressing). */
uint64_t scsi_decode_lun(const uint8_t lun_field[8]);
void scsi_encode_lun(uint64_t lun, uint8_t out[8]);

void scsi_task_exec(struct scsi_task *t);
/* Free what the SCSI layer allocated for t (Data-In buffer). */
void scsi_task_release(struct scsi_task *t);

/* ---- task management (called by the transport on the task's loop) ---- */
/* LUN RESET: abort nothing here (the transport aborts its own tasks), but
 * reset LU state and raise 29/03 BUS DEVICE RESET FUNCTION OCCURRED for every
 * nexus, the requester's included (SAM-5 6.3.3; libiscsi MultipathIO.Reset
 * checks it). TARGET WARM/COLD RESET: same for every LU of the map with
 * 29/02 / 29/01 (cold also resets mode pages). `from` is kept for the
 * reservation rules that depend on the requester. Thread-safe. */
void scsi_lu_reset(struct scsi_lu *lu, struct scsi_itn *from);
/* Both resets also release SPC-2 RESERVE(6)/(10) reservations, never
 * persistent reservations (SPC-4 5.13.1, SAM-5 6.3). */
void scsi_target_reset(struct scsi_lun_map *m, struct scsi_itn *from, bool cold);
/* Tasks aborted by another nexus (CLEAR TASK SET, LUN RESET from another
 * session): raise 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR to itn. */
void scsi_itn_commands_cleared(struct scsi_itn *itn, struct scsi_lu *lu);

/* Build sense data for a key/asc/ascq in the LU's current format (fixed or
 * descriptor, per D_SENSE in the control mode page); used by the transport
 * for e.g. aborted commands. */
void scsi_task_set_sense(struct scsi_task *t, uint8_t key, uint8_t asc, uint8_t ascq);
#endif
