/* SPDX-License-Identifier: Apache-2.0 */
/* SCSI outcomes and sense data (SPC-4 4.5).
 *
 * One table maps every enum scsi_reason to SAM status, sense key and
 * ASC/ASCQ; two builders encode fixed (70h, SPC-4 4.5.3) and descriptor
 * (72h, SPC-4 4.5.2) sense with optional INFORMATION and sense-key-specific
 * bytes. Sense bytes are built only when a command completes.
 *
 * Not for: deciding outcomes (the handlers) or choosing the format (D_SENSE in
 * the control mode page, read by scsi_task.c).
 */
#include <string.h>
#include "target/scsi/scsi_internal.h"

#define CC SAM_STAT_CHECK_CONDITION
#define R(st, k, a) { (st), (k), (a) }

const struct scsi_reason_info scsi_reason_table[SR__COUNT] = {
	[SR_GOOD]                 = R(SAM_STAT_GOOD, 0, 0),
	[SR_CONDITION_MET]        = R(SAM_STAT_CONDITION_MET, 0, 0),
	[SR_PENDING]              = R(SAM_STAT_GOOD, 0, 0),
	[SR_NO_SENSE]             = R(SAM_STAT_GOOD, SCSI_SK_NO_SENSE, SCSI_ASC_NO_ADDITIONAL_SENSE),
	[SR_INVALID_OPCODE]       = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE),
	[SR_INVALID_FIELD_CDB]    = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB),
	[SR_INVALID_FIELD_PARAM]  = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM),
	[SR_INVALID_FIELD_IU]     = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_IU),
	[SR_PARAM_LIST_LENGTH]    = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH_ERROR),
	[SR_LBA_OUT_OF_RANGE]     = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE),
	[SR_LU_NOT_SUPPORTED]     = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LU_NOT_SUPPORTED),
	[SR_SAVING_UNSUP]         = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_UNSUP),
	[SR_MISCOMPARE]           = R(CC, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_DURING_VERIFY),
	[SR_READ_ERROR]           = R(CC, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR),
	[SR_WRITE_ERROR]          = R(CC, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR),
	[SR_WRITE_PROTECTED]      = R(CC, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED),
	[SR_SPACE_ALLOC_FAILED]   = R(CC, SCSI_SK_DATA_PROTECT, SCSI_ASC_SPACE_ALLOC_FAILED_WP),
	[SR_NOT_READY]            = R(CC, SCSI_SK_NOT_READY, SCSI_ASC_LU_BECOMING_READY),
	[SR_NOT_READY_MANUAL]     = R(CC, SCSI_SK_NOT_READY, SCSI_ASC_LU_NOT_READY_MANUAL),
	[SR_ALUA_STANDBY]         = R(CC, SCSI_SK_NOT_READY, SCSI_ASC_LU_NOT_ACCESSIBLE_STANDBY),
	[SR_ALUA_UNAVAILABLE]     = R(CC, SCSI_SK_NOT_READY, SCSI_ASC_LU_NOT_ACCESSIBLE_UNAVAIL),
	[SR_ALUA_TRANSITIONING]   = R(CC, SCSI_SK_NOT_READY, SCSI_ASC_LU_NOT_ACCESSIBLE_TRANSITION),
	[SR_INTERNAL_FAILURE]     = R(CC, SCSI_SK_HARDWARE_ERROR, SCSI_ASC_INTERNAL_TARGET_FAILURE),
	[SR_RESERVATION_CONFLICT] = R(SAM_STAT_RESERVATION_CONFLICT, 0, 0),
	[SR_BUSY]                 = R(SAM_STAT_BUSY, 0, 0),
	[SR_TASK_SET_FULL]        = R(SAM_STAT_TASK_SET_FULL, 0, 0),
	[SR_INVALID_RELEASE_PR]   = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_RELEASE_OF_PR),
	[SR_INSUFFICIENT_REG_RES] = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INSUFFICIENT_REG_RESOURCES),
	[SR_TOO_MANY_TGT_DESC]    = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_TOO_MANY_TARGET_DESC),
	[SR_UNSUPP_TGT_DESC]      = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_UNSUPP_TARGET_DESC_TYPE),
	[SR_TOO_MANY_SEG_DESC]    = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_TOO_MANY_SEGMENT_DESC),
	[SR_UNSUPP_SEG_DESC]      = R(CC, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_UNSUPP_SEGMENT_DESC_TYPE),
	[SR_COPY_UNREACHABLE]     = R(CC, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET_UNREACHABLE),
	[SR_COPY_DEVICE_FAILURE]  = R(CC, SCSI_SK_COPY_ABORTED, SCSI_ASC_THIRD_PARTY_DEVICE_FAILURE),
	[SR_UA_POWER_ON]          = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET),
	[SR_UA_POR]               = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_OCCURRED),
	[SR_UA_TARGET_RESET]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_SCSI_BUS_RESET),
	[SR_UA_BDR]               = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_BUS_DEVICE_RESET),
	[SR_UA_CMDS_CLEARED]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_COMMANDS_CLEARED_BY_OTHER),
	[SR_UA_MODE_CHANGED]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_MODE_PARAMETERS_CHANGED),
	[SR_UA_CAPACITY_CHANGED]  = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_CAPACITY_DATA_CHANGED),
	[SR_UA_RES_PREEMPTED]     = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_RESERVATIONS_PREEMPTED),
	[SR_UA_RES_RELEASED]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_RESERVATIONS_RELEASED),
	[SR_UA_REG_PREEMPTED]     = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_REGISTRATIONS_PREEMPTED),
	[SR_UA_ALUA_CHANGED]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_ALUA_STATE_CHANGED),
	[SR_UA_THIN_THRESHOLD]    = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_THIN_SOFT_THRESHOLD),
	[SR_UA_LUNS_CHANGED]      = R(CC, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_REPORTED_LUNS_CHANGED),
};

/* SPC-4 table 53: field pointer sense-key-specific bytes. */
void scsi_sks_field(uint8_t sks[3], bool cd, uint16_t byte, int bit)
{
	sks[0] = SCSI_SKS_VALID | (cd ? SCSI_SKS_CD : 0);
	if (bit >= 0 && bit < 8)
		sks[0] |= SCSI_SKS_BPV | (uint8_t)bit;
	put_be16(sks + 1, byte);
}

/* SPC-4 4.5.3, table 48. INFORMATION is 4 bytes: VALID only if it fits. */
size_t scsi_sense_fixed(uint8_t *out, uint8_t key, uint16_t asc, const struct scsi_sense_extra *x)
{
	memset(out, 0, SCSI_SENSE_FIXED_LEN);
	out[0] = SCSI_SENSE_FIXED_CURRENT;
	out[2] = key & 0x0F;
	out[7] = SCSI_SENSE_FIXED_LEN - 8;
	out[12] = (uint8_t)(asc >> 8);
	out[13] = (uint8_t)asc;
	if (x && x->info_valid && x->info <= UINT32_MAX) {
		out[0] |= SCSI_SENSE_VALID;
		put_be32(out + 3, (uint32_t)x->info);
	}
	if (x && x->sks_valid)
		memcpy(out + 15, x->sks, 3);
	return SCSI_SENSE_FIXED_LEN;
}

/* SPC-4 4.5.2.2 information descriptor (type 00h, table 30). */
static size_t desc_info(uint8_t *d, uint64_t info)
{
	memset(d, 0, SCSI_SENSE_DESC_INFO_LEN);
	d[0] = 0x00;
	d[1] = SCSI_SENSE_DESC_INFO_LEN - 2;
	d[2] = SCSI_SENSE_VALID;
	put_be64(d + 4, info);
	return SCSI_SENSE_DESC_INFO_LEN;
}

/* SPC-4 4.5.2.4 sense key specific descriptor (type 02h, table 32). */
static size_t desc_sks(uint8_t *d, const uint8_t sks[3])
{
	memset(d, 0, SCSI_SENSE_DESC_SKS_LEN);
	d[0] = 0x02;
	d[1] = SCSI_SENSE_DESC_SKS_LEN - 2;
	memcpy(d + 4, sks, 3);
	return SCSI_SENSE_DESC_SKS_LEN;
}

/* SPC-4 4.5.2, table 27. */
size_t scsi_sense_desc(uint8_t *out, uint8_t key, uint16_t asc, const struct scsi_sense_extra *x)
{
	size_t n = SCSI_SENSE_DESC_HDR_LEN;

	memset(out, 0, SCSI_SENSE_DESC_HDR_LEN);
	out[0] = SCSI_SENSE_DESC_CURRENT;
	out[1] = key & 0x0F;
	out[2] = (uint8_t)(asc >> 8);
	out[3] = (uint8_t)asc;
	if (x && x->info_valid)
		n += desc_info(out + n, x->info);
	if (x && x->sks_valid)
		n += desc_sks(out + n, x->sks);
	out[7] = (uint8_t)(n - SCSI_SENSE_DESC_HDR_LEN);
	return n;
}
