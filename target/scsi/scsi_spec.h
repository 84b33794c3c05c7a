/* SPDX-License-Identifier: Apache-2.0 */
/* SCSI wire constants (SPC-4, SBC-4, SAM-5): operation codes, service
 * actions, sense keys, ASC/ASCQ pairs, mode and VPD page codes, and the sizes
 * of the fixed-layout structures the command layer builds.
 *
 * Values only: no logic. Layouts are built byte by byte with the accessors of
 * common/byteorder.h, never through bitfields or packed structs.
 */
#ifndef KURA_SCSI_SPEC_H
#define KURA_SCSI_SPEC_H
#include <stdint.h>

/* ---- operation codes (SPC-4 annex D, SBC-4 table 15) ---- */
#define SCSI_OP_TEST_UNIT_READY      0x00
#define SCSI_OP_REQUEST_SENSE        0x03
#define SCSI_OP_READ6                0x08
#define SCSI_OP_WRITE6               0x0A
#define SCSI_OP_INQUIRY              0x12
#define SCSI_OP_MODE_SELECT6         0x15
#define SCSI_OP_RESERVE6             0x16
#define SCSI_OP_RELEASE6             0x17
#define SCSI_OP_RESERVE10            0x56
#define SCSI_OP_RELEASE10            0x57
#define SCSI_OP_MODE_SENSE6          0x1A
#define SCSI_OP_START_STOP_UNIT      0x1B
#define SCSI_OP_PREVENT_ALLOW        0x1E /* SBC-4 5.13 PREVENT ALLOW MEDIUM REMOVAL */
#define SCSI_OP_READ_CAPACITY10      0x25
#define SCSI_OP_READ10               0x28
#define SCSI_OP_WRITE10              0x2A
#define SCSI_OP_WRITE_VERIFY10       0x2E
#define SCSI_OP_VERIFY10             0x2F
#define SCSI_OP_PREFETCH10           0x34
#define SCSI_OP_SYNC_CACHE10         0x35
#define SCSI_OP_READ_DEFECT10        0x37 /* SBC-4 5.18 */
#define SCSI_OP_WRITE_SAME10         0x41
#define SCSI_OP_UNMAP                0x42
#define SCSI_OP_SANITIZE             0x48 /* SBC-4 5.30 */
#define SCSI_OP_MODE_SELECT10        0x55
#define SCSI_OP_MODE_SENSE10         0x5A
#define SCSI_OP_PR_IN                0x5E
#define SCSI_OP_PR_OUT               0x5F
#define SCSI_OP_VARIABLE_LENGTH      0x7F
#define SCSI_OP_EXTENDED_COPY        0x83 /* SPC-4 6.4 (LID1: service action 00h) */
#define SCSI_OP_RECEIVE_COPY_RESULTS 0x84 /* SPC-4 6.18 */
#define SCSI_OP_READ16               0x88
#define SCSI_OP_COMPARE_AND_WRITE    0x89
#define SCSI_OP_WRITE16              0x8A
#define SCSI_OP_ORWRITE16            0x8B /* SBC-4 5.10 */
#define SCSI_OP_WRITE_VERIFY16       0x8E
#define SCSI_OP_VERIFY16             0x8F
#define SCSI_OP_PREFETCH16           0x90
#define SCSI_OP_SYNC_CACHE16         0x91
#define SCSI_OP_WRITE_SAME16         0x93
#define SCSI_OP_WRITE_ATOMIC16       0x9C /* SBC-4 5.48 */
#define SCSI_OP_SERVICE_ACTION_IN16  0x9E
#define SCSI_OP_REPORT_LUNS          0xA0
#define SCSI_OP_MAINTENANCE_IN       0xA3
#define SCSI_OP_MAINTENANCE_OUT      0xA4
#define SCSI_OP_READ12               0xA8
#define SCSI_OP_WRITE12              0xAA
#define SCSI_OP_WRITE_VERIFY12       0xAE
#define SCSI_OP_VERIFY12             0xAF
#define SCSI_OP_READ_DEFECT12        0xB7 /* SBC-4 5.19 */

/* SERVICE ACTION IN(16) service actions (SBC-4 table 15) */
#define SCSI_SAI_READ_CAPACITY16 0x10
#define SCSI_SAI_GET_LBA_STATUS  0x12
/* SANITIZE service actions (SBC-4 table 90) */
#define SCSI_SANITIZE_OVERWRITE    0x01
#define SCSI_SANITIZE_BLOCK_ERASE  0x02
#define SCSI_SANITIZE_CRYPTO_ERASE 0x03
#define SCSI_SANITIZE_EXIT_FAILURE 0x1F
#define SCSI_SANITIZE_HDR_LEN      4 /* OVERWRITE parameter list header (table 92) */
/* MAINTENANCE IN service actions (SPC-4 table D.3) */
#define SCSI_MI_REPORT_TPG     0x0A
#define SCSI_MI_REPORT_OPCODES 0x0C
#define SCSI_MI_REPORT_TMFS    0x0D
/* MAINTENANCE OUT service actions (SPC-4 table D.4) */
#define SCSI_MO_SET_TPG 0x0A

/* PERSISTENT RESERVE IN service actions (SPC-4 table 162) */
#define SCSI_PRIN_READ_KEYS           0x00
#define SCSI_PRIN_READ_RESERVATION    0x01
#define SCSI_PRIN_REPORT_CAPABILITIES 0x02
#define SCSI_PRIN_READ_FULL_STATUS    0x03
/* PERSISTENT RESERVE OUT service actions (SPC-4 table 173) */
#define SCSI_PROUT_REGISTER        0x00
#define SCSI_PROUT_RESERVE         0x01
#define SCSI_PROUT_RELEASE         0x02
#define SCSI_PROUT_CLEAR           0x03
#define SCSI_PROUT_PREEMPT         0x04
#define SCSI_PROUT_PREEMPT_ABORT   0x05
#define SCSI_PROUT_REGISTER_IGNORE 0x06
#define SCSI_PROUT_REGISTER_MOVE   0x07
/* persistent reservation types (SPC-4 table 169) */
#define SCSI_PR_WE       0x1
#define SCSI_PR_EA       0x3
#define SCSI_PR_WE_RO    0x5
#define SCSI_PR_EA_RO    0x6
#define SCSI_PR_WE_AR    0x7
#define SCSI_PR_EA_AR    0x8
#define SCSI_PR_SCOPE_LU 0x0
/* PROUT parameter list (SPC-4 tables 174, 177) */
#define SCSI_PROUT_PARAM_LEN  24
#define SCSI_PROUT_SPEC_I_PT  0x08 /* byte 20 */
#define SCSI_PROUT_ALL_TG_PT  0x04
#define SCSI_PROUT_APTPL      0x01
#define SCSI_PROUT_MOVE_UNREG 0x02 /* REGISTER AND MOVE byte 17 */
/* PRIN response layouts (SPC-4 6.15) */
#define SCSI_PRIN_HDR_LEN       8
#define SCSI_PRIN_RESV_DESC_LEN 16
#define SCSI_PRIN_CAPS_LEN      8
#define SCSI_PRIN_FULL_DESC_LEN 24
/* TransportID (SPC-4 7.6.4.6, iSCSI: table 509 / 510) */
#define SCSI_PROTO_ISCSI  0x5
#define SCSI_TID_FMT_NAME 0x00 /* iSCSI name only: every initiator port of that name */
#define SCSI_TID_FMT_PORT 0x40 /* "name,i,0x<ISID>" */
#define SCSI_TID_HDR_LEN  4
#define SCSI_TID_MIN_LEN  24
#define SCSI_TID_MAX_LEN  (4 + 224 + 20)

/* ---- sense keys (SPC-4 table 27) ---- */
#define SCSI_SK_NO_SENSE        0x0
#define SCSI_SK_RECOVERED_ERROR 0x1
#define SCSI_SK_NOT_READY       0x2
#define SCSI_SK_MEDIUM_ERROR    0x3
#define SCSI_SK_HARDWARE_ERROR  0x4
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION  0x6
#define SCSI_SK_DATA_PROTECT    0x7
#define SCSI_SK_COPY_ABORTED    0xA
#define SCSI_SK_ABORTED_COMMAND 0xB
#define SCSI_SK_MISCOMPARE      0xE

/* ---- additional sense codes, as (ASC << 8 | ASCQ) (SPC-4 table D.2) ---- */
#define SCSI_ASC_NO_ADDITIONAL_SENSE          0x0000
#define SCSI_ASC_LU_BECOMING_READY            0x0401
#define SCSI_ASC_LU_NOT_READY_MANUAL          0x0403
#define SCSI_ASC_SANITIZE_IN_PROGRESS         0x041B
#define SCSI_ASC_LU_NOT_ACCESSIBLE_TRANSITION 0x040A
#define SCSI_ASC_LU_NOT_ACCESSIBLE_STANDBY    0x040B
#define SCSI_ASC_LU_NOT_ACCESSIBLE_UNAVAIL    0x040C
#define SCSI_ASC_WRITE_ERROR                  0x0C00
#define SCSI_ASC_THIRD_PARTY_DEVICE_FAILURE   0x0D01
#define SCSI_ASC_COPY_TARGET_UNREACHABLE      0x0D02
#define SCSI_ASC_INVALID_FIELD_IN_IU          0x0E03
#define SCSI_ASC_UNRECOVERED_READ_ERROR       0x1100
#define SCSI_ASC_PARAM_LIST_LENGTH_ERROR      0x1A00
#define SCSI_ASC_MISCOMPARE_DURING_VERIFY     0x1D00
#define SCSI_ASC_INVALID_OPCODE               0x2000
#define SCSI_ASC_LBA_OUT_OF_RANGE             0x2100
#define SCSI_ASC_INVALID_FIELD_IN_CDB         0x2400
#define SCSI_ASC_LU_NOT_SUPPORTED             0x2500
#define SCSI_ASC_INVALID_FIELD_IN_PARAM       0x2600
#define SCSI_ASC_INVALID_RELEASE_OF_PR        0x2604
#define SCSI_ASC_TOO_MANY_TARGET_DESC         0x2606
#define SCSI_ASC_UNSUPP_TARGET_DESC_TYPE      0x2607
#define SCSI_ASC_TOO_MANY_SEGMENT_DESC        0x2608
#define SCSI_ASC_UNSUPP_SEGMENT_DESC_TYPE     0x2609
#define SCSI_ASC_WRITE_PROTECTED              0x2700
#define SCSI_ASC_SPACE_ALLOC_FAILED_WP        0x2707
#define SCSI_ASC_POWER_ON_RESET               0x2900
#define SCSI_ASC_POWER_ON_OCCURRED            0x2901
#define SCSI_ASC_SCSI_BUS_RESET               0x2902
#define SCSI_ASC_BUS_DEVICE_RESET             0x2903
#define SCSI_ASC_MODE_PARAMETERS_CHANGED      0x2A01
#define SCSI_ASC_RESERVATIONS_PREEMPTED       0x2A03
#define SCSI_ASC_RESERVATIONS_RELEASED        0x2A04
#define SCSI_ASC_REGISTRATIONS_PREEMPTED      0x2A05
#define SCSI_ASC_ALUA_STATE_CHANGED           0x2A06
#define SCSI_ASC_CAPACITY_DATA_CHANGED        0x2A09
#define SCSI_ASC_REPORTED_LUNS_CHANGED        0x3F0E /* SPC-4 6.33: LU inventory changed */
#define SCSI_ASC_COMMANDS_CLEARED_BY_OTHER    0x2F00
#define SCSI_ASC_SAVING_PARAMS_UNSUP          0x3900
#define SCSI_ASC_INTERNAL_TARGET_FAILURE      0x4400
#define SCSI_ASC_MEDIUM_NOT_PRESENT           0x3A00
#define SCSI_ASC_MEDIUM_REMOVAL_PREVENTED     0x5302
#define SCSI_ASC_THIN_SOFT_THRESHOLD          0x3807
#define SCSI_ASC_INSUFFICIENT_REG_RESOURCES   0x5504

/* ---- mode pages (SPC-4 7.5, SBC-4 6.5) ---- */
#define SCSI_MP_RW_ERROR_RECOVERY 0x01
#define SCSI_MP_CACHING           0x08
#define SCSI_MP_CONTROL           0x0A
#define SCSI_MP_INFO_EXCEPTIONS   0x1C
#define SCSI_MP_ALL               0x3F
#define SCSI_MP_PC_CURRENT        0
#define SCSI_MP_PC_CHANGEABLE     1
#define SCSI_MP_PC_DEFAULT        2
#define SCSI_MP_PC_SAVED          3
/* page lengths including the two-byte page header */
#define SCSI_MP_RW_ERROR_RECOVERY_LEN 12
#define SCSI_MP_CACHING_LEN           20
#define SCSI_MP_CONTROL_LEN           12
#define SCSI_MP_INFO_EXCEPTIONS_LEN   12
#define SCSI_MP_CACHING_WCE           0x04 /* byte 2 (SBC-4 table 172) */
#define SCSI_MP_CONTROL_DSENSE        0x04 /* byte 2 (SPC-4 table 458) */
#define SCSI_MP_CONTROL_SWP           0x08 /* byte 4 */
#define SCSI_MODE6_HDR_LEN            4
#define SCSI_MODE10_HDR_LEN           8
#define SCSI_BLOCK_DESC_LEN           8
#define SCSI_LBLOCK_DESC_LEN          16
#define SCSI_MODE_DEVSPEC_WP          0x80
#define SCSI_MODE_DEVSPEC_DPOFUA      0x10

/* ---- VPD pages (SPC-4 7.8, SBC-4 6.6) ---- */
#define SCSI_VPD_SUPPORTED        0x00
#define SCSI_VPD_SERIAL           0x80
#define SCSI_VPD_DEVICE_ID        0x83
#define SCSI_VPD_EXTENDED_INQ     0x86
#define SCSI_VPD_THIRD_PARTY_COPY 0x8F
#define SCSI_VPD_BLOCK_LIMITS     0xB0
#define SCSI_VPD_BLOCK_DEV_CHAR   0xB1
#define SCSI_VPD_LBP              0xB2
#define SCSI_VPD_HDR_LEN          4
#define SCSI_VPD_EXTENDED_INQ_LEN 64
#define SCSI_VPD_BLOCK_LIMITS_LEN 64
#define SCSI_VPD_BDC_LEN          64
#define SCSI_VPD_LBP_LEN          8

/* device identification (SPC-4 7.8.6, tables 588-591) */
#define SCSI_DESIG_CODESET_BINARY 0x1
#define SCSI_DESIG_CODESET_ASCII  0x2
#define SCSI_DESIG_CODESET_UTF8   0x3
#define SCSI_DESIG_PROTO_ISCSI    0x5
#define SCSI_DESIG_PIV            0x80
#define SCSI_DESIG_ASSOC_LU       0x00
#define SCSI_DESIG_ASSOC_PORT     0x10
#define SCSI_DESIG_ASSOC_TARGET   0x20
#define SCSI_DESIG_T10            0x1
#define SCSI_DESIG_NAA            0x3
#define SCSI_DESIG_REL_PORT       0x4
#define SCSI_DESIG_TPG            0x5
#define SCSI_DESIG_NAME           0x8

/* ---- standard INQUIRY (SPC-4 7.6.2) ---- */
#define SCSI_INQ_STD_LEN          96
#define SCSI_INQ_VERSION_SPC4     0x06
#define SCSI_INQ_PQ_NOT_CONNECTED 0x7F /* qualifier 011b, type 1Fh */
#define SCSI_TYPE_DISK            0x00

/* ---- sense data (SPC-4 4.5) ---- */
#define SCSI_SENSE_FIXED_CURRENT 0x70
#define SCSI_SENSE_DESC_CURRENT  0x72
#define SCSI_SENSE_FIXED_LEN     18
#define SCSI_SENSE_DESC_HDR_LEN  8
#define SCSI_SENSE_DESC_INFO_LEN 12
#define SCSI_SENSE_DESC_SKS_LEN  8
#define SCSI_SENSE_VALID         0x80
#define SCSI_SKS_VALID           0x80
#define SCSI_SKS_CD              0x40 /* field pointer refers to the CDB */
#define SCSI_SKS_BPV             0x08 /* bit pointer valid */

/* ---- other response layouts ---- */
#define SCSI_READ_CAP10_LEN      8
#define SCSI_READ_CAP16_LEN      32
#define SCSI_LBA_STATUS_HDR_LEN  8
#define SCSI_LBA_STATUS_DESC_LEN 16
#define SCSI_UNMAP_HDR_LEN       8
#define SCSI_UNMAP_DESC_LEN      16
#define SCSI_RSOC_ALL_DESC_LEN   8
#define SCSI_RSOC_ONE_HDR_LEN    4
#define SCSI_RSOC_TIMEOUTS_LEN   12
#define SCSI_REPORT_LUNS_HDR_LEN 8

/* Compile-time sanity of the layouts the builders assume. */
_Static_assert(SCSI_SENSE_FIXED_LEN == 18, "SPC-4 table 48: fixed sense is 18 bytes");
_Static_assert(SCSI_SENSE_DESC_HDR_LEN + SCSI_SENSE_DESC_INFO_LEN + SCSI_SENSE_DESC_SKS_LEN <= 96,
	       "descriptor sense fits scsi_task.sense");
_Static_assert(SCSI_VPD_BLOCK_LIMITS_LEN == 4 + 0x3C, "SBC-4 table 209: page length 3Ch");
_Static_assert(SCSI_MP_CACHING_LEN == 2 + 0x12, "SBC-4 table 172: page length 12h");
_Static_assert(SCSI_MP_CONTROL_LEN == 2 + 0x0A, "SPC-4 table 458: page length 0Ah");
_Static_assert(SCSI_READ_CAP16_LEN == 32, "SBC-4 table 64");
#endif
