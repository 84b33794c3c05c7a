/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI wire constants and Basic Header Segment layout (RFC 7143 section 11).
 *
 * Everything here is a number the RFC fixes: opcodes, flag bits, byte offsets
 * of BHS fields, reason codes. Fields are read and written through
 * common/byteorder.h at these offsets; there are no packed structs or
 * bitfields. The decoders and encoders live in iscsi_pdu.c.
 *
 * Not for: negotiated limits (iscsi_login.h), connection state (conn.c).
 */
#ifndef KURA_ISCSI_SPEC_H
#define KURA_ISCSI_SPEC_H
#include <stdint.h>

#define ISCSI_BHS_LEN     48u         /* RFC 7143 11.2.1 */
#define ISCSI_DIGEST_LEN  4u          /* CRC32C, RFC 7143 11.2.1 / 13.1 */
#define ISCSI_MAX_AHS_LEN (255u * 4u) /* TotalAHSLength is one byte of words */
#define ISCSI_MAX_DSL     0xffffffu   /* DataSegmentLength is 24 bits */
#define ISCSI_RSVD_TAG    0xffffffffu /* reserved ITT / TTT value */

/* Opcodes (RFC 7143 11.2.1.2): initiator to target */
#define ISCSI_OP_NOP_OUT    0x00
#define ISCSI_OP_SCSI_CMD   0x01
#define ISCSI_OP_TMF_REQ    0x02
#define ISCSI_OP_LOGIN_REQ  0x03
#define ISCSI_OP_TEXT_REQ   0x04
#define ISCSI_OP_DATA_OUT   0x05
#define ISCSI_OP_LOGOUT_REQ 0x06
#define ISCSI_OP_SNACK      0x10
/* target to initiator */
#define ISCSI_OP_NOP_IN     0x20
#define ISCSI_OP_SCSI_RSP   0x21
#define ISCSI_OP_TMF_RSP    0x22
#define ISCSI_OP_LOGIN_RSP  0x23
#define ISCSI_OP_TEXT_RSP   0x24
#define ISCSI_OP_DATA_IN    0x25
#define ISCSI_OP_LOGOUT_RSP 0x26
#define ISCSI_OP_R2T        0x31
#define ISCSI_OP_ASYNC      0x32
#define ISCSI_OP_REJECT     0x3f

/* Byte 0 */
#define ISCSI_BHS_OPCODE_MASK 0x3f
#define ISCSI_BHS_IMMEDIATE   0x40 /* I bit */

/* Common BHS field offsets (RFC 7143 11.2.1) */
#define ISCSI_OFF_OPCODE    0
#define ISCSI_OFF_FLAGS     1
#define ISCSI_OFF_BYTE2     2
#define ISCSI_OFF_BYTE3     3
#define ISCSI_OFF_TOTAHSLEN 4
#define ISCSI_OFF_DSL       5 /* 24 bits */
#define ISCSI_OFF_LUN       8 /* 8 bytes */
#define ISCSI_OFF_ITT       16
#define ISCSI_OFF_20        20 /* TTT / EDTL / Referenced Task Tag / CID / SNACK tag */
#define ISCSI_OFF_24        24 /* CmdSN or StatSN */
#define ISCSI_OFF_28        28 /* ExpStatSN or ExpCmdSN */
#define ISCSI_OFF_32        32 /* MaxCmdSN / RefCmdSN / CDB */
#define ISCSI_OFF_36        36 /* DataSN / R2TSN / ExpDataSN / status class */
#define ISCSI_OFF_40        40 /* buffer offset / Time2Wait / BegRun */
#define ISCSI_OFF_44        44 /* residual / desired length / RunLength */

#define ISCSI_FLAG_FINAL    0x80 /* F bit, byte 1 */

/* SCSI Command, byte 1 (11.3.1) */
#define ISCSI_CMD_READ      0x40
#define ISCSI_CMD_WRITE     0x20
#define ISCSI_CMD_ATTR_MASK 0x07
#define ISCSI_CMD_OFF_CDB   32
#define ISCSI_CMD_CDB_LEN   16

/* SCSI Response, byte 1 (11.4.1) */
#define ISCSI_RSP_BIDI_OVERFLOW  0x10
#define ISCSI_RSP_BIDI_UNDERFLOW 0x08
#define ISCSI_RSP_OVERFLOW       0x04
#define ISCSI_RSP_UNDERFLOW      0x02
#define ISCSI_RSP_COMPLETED      0x00 /* response byte: command completed at target */
#define ISCSI_RSP_TARGET_FAILURE 0x01

/* Data-In byte 1 (11.7.1) */
#define ISCSI_DATAIN_ACK       0x40
#define ISCSI_DATAIN_OVERFLOW  0x04
#define ISCSI_DATAIN_UNDERFLOW 0x02
#define ISCSI_DATAIN_STATUS    0x01

/* Login, byte 1 (11.12.1) */
#define ISCSI_LOGIN_TRANSIT    0x80
#define ISCSI_LOGIN_CONT       0x40
#define ISCSI_LOGIN_CSG_SHIFT  2
#define ISCSI_LOGIN_STAGE_MASK 0x03
#define ISCSI_LOGIN_OFF_ISID   8 /* 6 bytes */
#define ISCSI_LOGIN_OFF_TSIH   14
#define ISCSI_LOGIN_OFF_CID    20
#define ISCSI_LOGIN_OFF_STATUS 36 /* class, detail */
#define ISCSI_VERSION          0x00

/* Text, byte 1 (11.10.1) */
#define ISCSI_TEXT_CONT 0x40

/* Task management functions (11.5.1) */
#define ISCSI_TMF_FUNC_MASK         0x7f
#define ISCSI_TMF_ABORT_TASK        1
#define ISCSI_TMF_ABORT_TASK_SET    2
#define ISCSI_TMF_CLEAR_ACA         3
#define ISCSI_TMF_CLEAR_TASK_SET    4
#define ISCSI_TMF_LUN_RESET         5
#define ISCSI_TMF_TARGET_WARM_RESET 6
#define ISCSI_TMF_TARGET_COLD_RESET 7
#define ISCSI_TMF_TASK_REASSIGN     8
/* TMF responses (11.6.1) */
#define ISCSI_TMF_RSP_COMPLETE       0
#define ISCSI_TMF_RSP_NO_TASK        1
#define ISCSI_TMF_RSP_NO_LUN         2
#define ISCSI_TMF_RSP_TASK_ALLEGIANT 3
#define ISCSI_TMF_RSP_NO_REASSIGN    4
#define ISCSI_TMF_RSP_NOT_SUPPORTED  5
#define ISCSI_TMF_RSP_AUTH_FAILED    6
#define ISCSI_TMF_RSP_REJECTED       255

/* Logout reasons (11.14.1) and responses (11.15.1) */
#define ISCSI_LOGOUT_REASON_MASK         0x7f
#define ISCSI_LOGOUT_CLOSE_SESSION       0
#define ISCSI_LOGOUT_CLOSE_CONNECTION    1
#define ISCSI_LOGOUT_REMOVE_FOR_RECOVERY 2
#define ISCSI_LOGOUT_RSP_SUCCESS         0
#define ISCSI_LOGOUT_RSP_CID_NOT_FOUND   1
#define ISCSI_LOGOUT_RSP_NO_RECOVERY     2
#define ISCSI_LOGOUT_RSP_CLEANUP_FAILED  3

/* Asynchronous message events (11.9.1) */
#define ISCSI_ASYNC_SCSI_EVENT      0
#define ISCSI_ASYNC_REQUEST_LOGOUT  1
#define ISCSI_ASYNC_DROP_CONNECTION 2
#define ISCSI_ASYNC_DROP_ALL        3
#define ISCSI_ASYNC_RENEGOTIATE     4

/* Reject reasons (11.17.1) */
#define ISCSI_REJECT_DATA_DIGEST       0x02
#define ISCSI_REJECT_SNACK             0x03
#define ISCSI_REJECT_PROTOCOL          0x04
#define ISCSI_REJECT_CMD_NOT_SUPPORTED 0x05
#define ISCSI_REJECT_IMMEDIATE         0x06
#define ISCSI_REJECT_TASK_IN_PROGRESS  0x07
#define ISCSI_REJECT_INVALID_DATA_ACK  0x08
#define ISCSI_REJECT_INVALID_FIELD     0x09
#define ISCSI_REJECT_LONG_OP           0x0a
#define ISCSI_REJECT_WAITING_LOGOUT    0x0c

/* Additional header segments (11.2.2) */
#define ISCSI_AHS_EXTENDED_CDB  1
#define ISCSI_AHS_BIDI_READ_LEN 2
#define ISCSI_AHS_HDR_LEN       3 /* AHSLength (2) + AHSType (1) */

/* Layout checks: the last field of each PDU ends inside the BHS. */
_Static_assert(ISCSI_OFF_44 + 4 == ISCSI_BHS_LEN, "BHS is 48 bytes");
_Static_assert(ISCSI_CMD_OFF_CDB + ISCSI_CMD_CDB_LEN == ISCSI_BHS_LEN, "CDB ends the BHS");
_Static_assert(ISCSI_LOGIN_OFF_TSIH + 2 == ISCSI_OFF_ITT, "ISID + TSIH fill the LUN field");
_Static_assert(ISCSI_OFF_DSL + 3 == ISCSI_OFF_LUN, "DataSegmentLength is 24 bits");
_Static_assert(ISCSI_MAX_AHS_LEN == 1020, "TotalAHSLength counts 4-byte words");

static inline uint32_t iscsi_pad4(uint32_t n)
{
	return (4 - (n & 3)) & 3;
}
#endif
