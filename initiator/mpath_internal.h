/* SPDX-License-Identifier: Apache-2.0 */
/* Pure multipath logic of kura-initiatord: parsing of the identity pages a
 * path reports (INQUIRY VPD 0x83, standard INQUIRY TPGS, REPORT TARGET PORT
 * GROUPS), classification of a command's outcome (retry on another path or
 * return to the submitter), path selection policies, the no-path queue
 * deadline and the reconnect backoff. No sockets, no clocks (time comes in
 * as an argument), no globals: unit-tested in tests/unit/test_ini_mpath.c.
 *
 * Not for: sessions, I/O or threads (path.c, mpath.c).
 */
#ifndef KURA_MPATH_INTERNAL_H
#define KURA_MPATH_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Identity of a logical unit seen through one path (SPC-4 7.8.6). */
struct mpath_ident {
	uint8_t naa[16];
	int naa_len;  /* 8 or 16; 0 = no NAA designator */
	int rel_port; /* relative target port id, -1 unknown */
	int tpg;      /* target port group, -1 unknown */
};
/* 0, -EINVAL (malformed page), -ENOENT (no LU-associated NAA designator). */
int mpath_parse_vpd83(const uint8_t *b, size_t len, struct mpath_ident *out);
/* "naa.<hex>" into out (at least 40 bytes). */
void mpath_wwid(const struct mpath_ident *id, char *out, size_t len);
/* TPGS field of a standard INQUIRY (0 = no ALUA), -EINVAL if too short. */
int mpath_std_tpgs(const uint8_t *b, size_t len);

/* ALUA asymmetric access states (SPC-4 table 165). */
enum { ALUA_AO = 0, ALUA_ANO = 1, ALUA_STANDBY = 2, ALUA_UNAVAIL = 3, ALUA_TRANSITIONING = 0xf };
/* REPORT TARGET PORT GROUPS (SPC-4 6.37): state of the group holding
 * rel_port into *state; 0, -EINVAL (malformed), -ENOENT (port not listed). */
int mpath_parse_rtpg(const uint8_t *b, size_t len, int rel_port, int *tpg, int *state);
/* Priority of an ALUA state: higher is better, 0 = not usable for I/O. */
int mpath_alua_prio(int state);

/* What to do with a finished command (SAM-5 status, SPC-4 sense keys). */
enum mpath_verdict {
	MV_OK,         /* done */
	MV_RETRY_SAME, /* unit attention: resend, any path */
	MV_BUSY,       /* busy / task set full: resend after a pause */
	MV_RETRY_OTHER, /* transport error, timeout, path not ready: fail the path, resend elsewhere */
	MV_FAIL,        /* the command's own fault: return the error */
};
/* status is a libiscsi SCSI status (incl. its CANCELLED/ERROR/TIMEOUT). */
enum mpath_verdict mpath_classify(int status, int sense_key, int asc, int ascq);
/* -errno returned to the submitter for MV_FAIL. */
int mpath_fail_errno(int status, int sense_key, int asc, int ascq);

/* Path selection. */
enum mpath_policy { MPATH_FAILOVER = 0, MPATH_ROUND_ROBIN = 1 };
struct mpath_cand {
	bool up;        /* session logged in and LU probed */
	int alua_state; /* ALUA_AO when the target has no ALUA */
};
struct mpath_sel {
	int current; /* failover: path in use, -1 none */
	unsigned rr; /* round-robin cursor */
};
/* Index of the path for the next command, or -1 if none is usable.
 * Failover: stay on the current path while it is usable and in the best
 * group; with failback_immediate go back to the first path of the best
 * group as soon as it is usable. Round-robin: rotate over the best group. */
int mpath_select(const struct mpath_cand *c, int n, enum mpath_policy pol, bool failback_immediate,
		 struct mpath_sel *st);

/* The no-path queue of one LU: I/O waits while no path is up, for at most
 * bound_ms from the moment the last path went away; after that (or after
 * FAIL-QUEUE) queued and new I/O fails until a path comes back. */
struct mpath_queue {
	bool have_path;
	bool failing;
	uint64_t nopath_since;
};
enum mpath_qdecision { MQ_DISPATCH, MQ_WAIT, MQ_FAIL };
void mpath_q_paths(struct mpath_queue *q, bool have_path, uint64_t now_ms);
enum mpath_qdecision mpath_q_decide(struct mpath_queue *q, uint64_t now_ms, uint64_t bound_ms);
void mpath_q_fail_now(struct mpath_queue *q);

/* Exponential backoff: next delay after cur (0 = first), from min_ms, capped. */
uint64_t mpath_backoff_next(uint64_t cur, uint64_t min_ms, uint64_t max_ms);
#endif
