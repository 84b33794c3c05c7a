/* SPDX-License-Identifier: Apache-2.0 */
/* Asymmetric logical unit access (SPC-4 5.16) as the rest of the daemon sees
 * it: the target port groups, their asymmetric access states, and the pure
 * encoders / decoders of REPORT / SET TARGET PORT GROUPS.
 *
 * Scope of a state: ALUA state is kept per target port group and is
 * target-wide — every LU of every target seen through a port of group G is
 * in G's state. Port groups come from the portals' `port_group` key
 * (tgt_portal.tpg_id -> scsi_port.tpg_id) and are registered once at start
 * with scsi_alua_add_port(). This table is the one process-wide object of the
 * SCSI layer (like the portal list it mirrors); it is guarded by its own lock
 * and the per-group state is read with one atomic load per command.
 *
 * Not for: the initiator side (initiator/), the admin socket (admin.c).
 */
#ifndef KURA_SCSI_ALUA_H
#define KURA_SCSI_ALUA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/scsi/scsi.h"

/* ASYMMETRIC ACCESS STATE values (SPC-4 table 178). */
enum scsi_alua_state {
	SCSI_ALUA_AO = 0x0, /* active/optimized */
	SCSI_ALUA_AN = 0x1, /* active/non-optimized */
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
	SCSI_ALUA_TRANSITIONING = 0xF,
};

#define SCSI_ALUA_MAX_GROUPS 16
#define SCSI_ALUA_MAX_PORTS  16  /* per group */
#define SCSI_ALUA_TPGS       0x3 /* INQUIRY TPGS: implicit and explicit */
/* Supported-state bits of an RTPG descriptor byte 1 (SPC-4 table 179):
 * T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP; not O_SUP (offline) nor LBD_SUP. */
#define SCSI_ALUA_SUP_BITS 0x8F

/* STATUS CODE of an RTPG descriptor (SPC-4 table 180). */
enum { SCSI_ALUA_ST_NONE = 0, SCSI_ALUA_ST_STPG = 1, SCSI_ALUA_ST_IMPLICIT = 2 };

struct scsi_alua_group {
	uint16_t id;
	uint8_t state;  /* enum scsi_alua_state */
	uint8_t status; /* SCSI_ALUA_ST_* (why it last changed) */
	uint16_t ports[SCSI_ALUA_MAX_PORTS];
	uint8_t n_ports;
};

/* ---- pure: names, RTPG encoding, STPG decoding ---- */
/* "active-optimized"/"ao", "active-nonoptimized"/"an", "standby", "unavailable",
 * "transitioning" -> state; -EINVAL otherwise. */
int scsi_alua_state_parse(const char *name);
const char *scsi_alua_state_name(int state);
/* REPORT TARGET PORT GROUPS parameter data (SPC-4 6.27, tables 176-181):
 * extended = PARAMETER DATA FORMAT 001b. Writes at most cap bytes and returns
 * the full length the data has (the caller truncates to ALLOCATION LENGTH). */
size_t scsi_rtpg_encode(const struct scsi_alua_group *g, unsigned n, bool extended,
			uint8_t transition_s, uint8_t *out, size_t cap);
struct scsi_stpg_desc {
	uint16_t tpg;
	uint8_t state;
};
/* SET TARGET PORT GROUPS parameter list (SPC-4 6.36, table 297): a 4-byte
 * header then 4-byte descriptors. Returns the number of descriptors (<= max)
 * or -1 with *bad_byte = the offending parameter byte (a state that cannot be
 * set explicitly, a length not a multiple of 4, too many descriptors). */
int scsi_stpg_parse(const uint8_t *p, size_t len, struct scsi_stpg_desc *out, unsigned max,
		    uint16_t *bad_byte);

/* ---- the process-wide port group table ---- */
/* Register relative port rel_port in group tpg (state active/optimized).
 * 0, or -ENOSPC when too many groups / ports. */
int scsi_alua_add_port(uint16_t tpg, uint16_t rel_port);
/* Forget every group (tests, shutdown). */
void scsi_alua_reset(void);
/* State of group tpg; active/optimized for a group never registered. */
int scsi_alua_get_state(uint16_t tpg);
/* Copy the group table; returns the number of groups. */
unsigned scsi_alua_snapshot(struct scsi_alua_group *out, unsigned max);
/* Administrator (implicit) change: -ENOENT unknown group, -EINVAL bad state.
 * Calls the change hook (except = NULL: every nexus gets 2A/06). */
int scsi_alua_set_state(uint16_t tpg, int state);
/* Who raises ASYMMETRIC ACCESS STATE CHANGED on every LU of the daemon
 * (the SCSI layer knows only the LUN map of one nexus): registered by the
 * daemon (admin.c). fn(arg, except) must call scsi_alua_raise_changed() for
 * every LU; except is the nexus that sent SET TARGET PORT GROUPS or NULL. */
void scsi_alua_set_change_hook(void (*fn)(void *arg, const struct scsi_itn *except), void *arg);
/* Raise 2A/06 on every nexus of lu but except (SPC-4 5.16.2.6). */
void scsi_alua_raise_changed(struct scsi_lu *lu, const struct scsi_itn *except);
#endif
