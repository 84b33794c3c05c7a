/* SPDX-License-Identifier: Apache-2.0 */
/* The medium of a logical unit: START STOP UNIT (SBC-4 5.25) and, for a LU
 * configured `removable = yes`, PREVENT ALLOW MEDIUM REMOVAL (SBC-4 5.13)
 * with an ejectable medium.
 *
 * A removable LU reports RMB in INQUIRY. START STOP UNIT with LOEJ set
 * unloads (START 0) or loads (START 1) the medium; while it is unloaded the
 * commands that need it (TEST UNIT READY, reads, writes, READ CAPACITY, ...)
 * are answered NOT READY / MEDIUM NOT PRESENT (3A/00). The backend stays
 * open: "ejecting" hides the medium, it does not close the file.
 *
 * PREVENT is a state of each I_T nexus (SBC-4 5.13): while any nexus
 * prevents removal, LOEJ is refused with ILLEGAL REQUEST / MEDIUM REMOVAL
 * PREVENTED (53/02). It ends with PREVENT 0 from that nexus, the nexus's
 * loss (its scsi_lu_nexus is freed), a LOGICAL UNIT RESET or a TARGET
 * RESET (scsi_lu_prevent_reset in scsi_lu.c).
 *
 * A LU that is not removable accepts LOEJ and START and ignores them (there
 * are no power conditions to manage either) and does not offer PREVENT
 * ALLOW MEDIUM REMOVAL.
 *
 * Not for: dispatch (scsi_task.c calls scsi_lu_medium_check).
 */
#include "target/scsi/scsi_internal.h"

bool scsi_lu_is_removable(const struct scsi_lu *lu)
{
	return lu && lu->removable;
}

/* Opcodes that touch the medium (need it loaded). */
static bool op_needs_medium(uint8_t opcode)
{
	static const uint8_t ops[] = {
		SCSI_OP_TEST_UNIT_READY,
		SCSI_OP_READ6,
		SCSI_OP_WRITE6,
		SCSI_OP_READ_CAPACITY10,
		SCSI_OP_READ10,
		SCSI_OP_WRITE10,
		SCSI_OP_WRITE_VERIFY10,
		SCSI_OP_VERIFY10,
		SCSI_OP_PREFETCH10,
		SCSI_OP_SYNC_CACHE10,
		SCSI_OP_READ_DEFECT10,
		SCSI_OP_WRITE_SAME10,
		SCSI_OP_UNMAP,
		SCSI_OP_SANITIZE,
		SCSI_OP_EXTENDED_COPY,
		SCSI_OP_READ16,
		SCSI_OP_COMPARE_AND_WRITE,
		SCSI_OP_WRITE16,
		SCSI_OP_ORWRITE16,
		SCSI_OP_WRITE_VERIFY16,
		SCSI_OP_VERIFY16,
		SCSI_OP_PREFETCH16,
		SCSI_OP_SYNC_CACHE16,
		SCSI_OP_WRITE_SAME16,
		SCSI_OP_WRITE_ATOMIC16,
		SCSI_OP_SERVICE_ACTION_IN16,
		SCSI_OP_READ12,
		SCSI_OP_WRITE12,
		SCSI_OP_WRITE_VERIFY12,
		SCSI_OP_VERIFY12,
		SCSI_OP_READ_DEFECT12,
	};
	for (size_t i = 0; i < sizeof(ops); i++)
		if (ops[i] == opcode)
			return true;
	return false;
}

int scsi_lu_medium_check(const struct scsi_lu *lu, const struct scsi_op *op)
{
	if (!lu || !lu->removable || !atomic_load(&((struct scsi_lu *)lu)->ejected))
		return SR_GOOD;
	return op_needs_medium(op->usage[0]) ? SR_NO_MEDIUM : SR_GOOD;
}

static bool lu_prevented(struct scsi_lu *lu)
{
	bool any = false;
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus *ln = lu->nexuses; ln && !any; ln = ln->next)
		any = atomic_load(&ln->prevent);
	pthread_mutex_unlock(&lu->lock);
	return any;
}

/* SBC-4 5.25: POWER CONDITION other than 0 (START_VALID) makes LOEJ and
 * START ignored; there are no power conditions to change. */
int scsi_exec_start_stop(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	bool loej = t->cdb[4] & 0x02, start = t->cdb[4] & 0x01;
	if (!lu->removable || !loej || (t->cdb[4] >> 4) != 0)
		return SR_GOOD;
	if (lu_prevented(lu))
		return SR_REMOVAL_PREVENTED;
	atomic_store(&lu->ejected, !start);
	return SR_GOOD;
}

/* SBC-4 5.13: PREVENT 00b allow, 01b prevent (10b / 11b are obsolete). */
int scsi_exec_prevent_allow(struct scsi_task *t)
{
	uint8_t prevent = t->cdb[4] & 0x03;
	if (prevent > 1)
		return scsi_fail_field(t, 4, 1);
	struct scsi_lu_nexus *ln = t->itn ? t->itn->ln[t->lu->lun] : NULL;
	if (ln)
		atomic_store(&ln->prevent, prevent == 1);
	return SR_GOOD;
}
