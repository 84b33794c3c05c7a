/* SPDX-License-Identifier: Apache-2.0 */
/* What the administration socket (admin.c) may read or change inside the
 * SCSI layer: a logical unit's identity, size and reservation state, and the
 * administrator override that clears a LU's persistent reservations.
 *
 * Not for: initiators (they use SCSI commands); parsing (admin.c).
 */
#ifndef KURA_SCSI_ADMIN_H
#define KURA_SCSI_ADMIN_H
#include <stdbool.h>
#include <stdint.h>
#include "target/scsi/scsi.h"

struct scsi_admin_reg {
	char name[224];
	uint8_t isid[6];
	bool any_isid;
	uint16_t rel_port;
	uint64_t key;
	bool holder;
};

struct scsi_admin_lu {
	uint64_t nblocks;
	uint32_t block_size;
	char naa[33]; /* hex */
	char serial[65];
	char vendor[9], product[17];
	uint32_t generation; /* PRgeneration */
	bool reserved;
	uint8_t type; /* reservation type when reserved */
	bool spc2_reserved;
	unsigned nregs; /* all registrations (regs holds min(nregs, max)) */
};

/* Copy lu's state; regs gets up to max registrations. */
void scsi_admin_lu_info(struct scsi_lu *lu, struct scsi_admin_lu *out, struct scsi_admin_reg *regs,
			unsigned max);
/* Administrator override: drop every registration and the reservation
 * (persistent and SPC-2), bump PRgeneration, raise 2A/03 RESERVATIONS
 * PREEMPTED on every registrant's nexus (as PERSISTENT RESERVE OUT CLEAR,
 * SPC-4 5.13.11.2.4), and queue the new state to disk when it is persisted.
 * Returns the number of registrations removed. */
int scsi_admin_clear_pr(struct scsi_lu *lu);
/* The backend lu serves from (snapshots of an RBD LU's image, admin_rbd.c). */
struct lun_backend *scsi_admin_lu_backend(struct scsi_lu *lu);
#endif
