/* SPDX-License-Identifier: Apache-2.0 */
/* Command execution: the opcode tables, dispatch, unit-attention delivery,
 * completion (status + sense built here and only here) and the small buffer
 * and I/O helpers the handlers share.
 *
 * Dispatch order (SAM-5 5.14, SPC-4 4.2): LU existence, pending unit
 * attention (not for INQUIRY / REPORT LUNS / REQUEST SENSE), opcode and
 * service action lookup, CDB length and reserved bits (from the same usage
 * map RSOC reports), reservation and ALUA hooks, write protection, handler.
 *
 * A handler returns an enum scsi_reason; SR_PENDING means it will call
 * scsi_task_finish() itself from a completion. task->done() always runs on
 * task->loop and never inline from scsi_task_exec() (kloop_defer).
 *
 * Not for: command semantics (scsi_spc.c, scsi_sbc.c, scsi_inquiry.c,
 * scsi_mode.c) or LU state (scsi_lu.c).
 */
#include <errno.h>
#include <string.h>
#include "common/container.h"
#include "common/iov.h"
#include "common/kbuf.h"
#include "target/scsi/scsi_internal.h"

#define TASK_OF_KT(kt) container_of(kt, struct scsi_task, st.kt)

/* ---- opcode tables (SPC-4 annex D, SBC-4 table 15) ----
 * pr_allow follows SPC-4 table 44 (reads pass a Write Exclusive reservation,
 * nothing medium-related passes Exclusive Access; 0 = conflicts for every
 * non-holder; registrants of the registrants-only / all-registrants types
 * are treated as holders, scsi_pr_decide) and SPC-2 5.5.1 (PR_ALLOW_SPC2:
 * what a non-holder may do under RESERVE(6)/(10)); alua_allow follows SPC-4
 * 5.16.2.4: media access and TEST UNIT READY / READ CAPACITY only in the
 * active states (MEDIA); MODE, PERSISTENT RESERVE also in standby (STBY,
 * 5.16.2.4.4); INQUIRY, REPORT LUNS, REQUEST SENSE, RTPG, STPG and the
 * "report supported" commands in every state (ANY, 5.16.2.4.5). */
#define NOLU  (OPF_NO_LU | OPF_NO_UA)
#define MEDIA (ALUA_ALLOW_AO | ALUA_ALLOW_AN)
#define STBY  (ALUA_ALLOW_AO | ALUA_ALLOW_AN | ALUA_ALLOW_SB)
#define ANY   ALUA_ALLOW_ALL

static const struct scsi_op sai16_ops[] = {
	{ "READ CAPACITY(16)",
	  scsi_exec_read_capacity16,
	  NULL,
	  NULL,
	  OPF_SA,
	  16,
	  SCSI_SAI_READ_CAPACITY16,
	  PR_ALLOW_ALL,
	  MEDIA,
	  10,
	  { 0x9E, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0x01, 0x00 } },
	{ "GET LBA STATUS",
	  scsi_exec_get_lba_status,
	  scsi_lu_can_unmap,
	  NULL,
	  OPF_SA,
	  16,
	  SCSI_SAI_GET_LBA_STATUS,
	  PR_ALLOW_WE,
	  MEDIA,
	  30,
	  { 0x9E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0x00, 0x00 } },
};
static const struct scsi_sa_table sai16_table = { 2, sai16_ops };

static const struct scsi_op maint_in_ops[] = {
	{ "REPORT SUPPORTED OPERATION CODES",
	  scsi_exec_rsoc,
	  NULL,
	  NULL,
	  OPF_SA,
	  12,
	  SCSI_MI_REPORT_OPCODES,
	  PR_ALLOW_ALL,
	  ANY,
	  10,
	  { 0xA3, 0x0C, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
	{ "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
	  scsi_exec_rstmf,
	  NULL,
	  NULL,
	  OPF_SA,
	  12,
	  SCSI_MI_REPORT_TMFS,
	  PR_ALLOW_ALL,
	  ANY,
	  10,
	  { 0xA3, 0x0D, 0x80, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
	{ "REPORT TARGET PORT GROUPS",
	  scsi_exec_rtpg,
	  NULL,
	  NULL,
	  OPF_SA,
	  12,
	  SCSI_MI_REPORT_TPG,
	  PR_ALLOW_ALL | PR_ALLOW_SPC2,
	  ANY,
	  5,
	  { 0xA3, 0xEA, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
};
static const struct scsi_sa_table maint_in_table = { 3, maint_in_ops };

/* SET TARGET PORT GROUPS (SPC-4 6.36): conflicts under any reservation
 * (SPC-4 table 44); allowed in every ALUA state. */
static const struct scsi_op maint_out_ops[] = {
	{ "SET TARGET PORT GROUPS",
	  scsi_exec_stpg,
	  NULL,
	  NULL,
	  OPF_SA | OPF_DATA_OUT,
	  12,
	  SCSI_MO_SET_TPG,
	  0,
	  ANY,
	  10,
	  { 0xA4, 0x0A, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
};
static const struct scsi_sa_table maint_out_table = { 1, maint_out_ops };

/* PERSISTENT RESERVE IN / OUT (SPC-4 6.15, 6.16): one entry per service
 * action so that RSOC lists them and an unknown one is INVALID FIELD IN CDB.
 * Both are allowed under every reservation type (SPC-4 table 44: the key
 * checks are the command's own); PROUT conflicts with another nexus's SPC-2
 * reservation, PRIN does not. */
#define PRIN_SA(sa, nm) \
	{ \
		nm, scsi_exec_prin, NULL, NULL, OPF_SA, 10, sa, PR_ALLOW_ALL | PR_ALLOW_SPC2, \
			STBY, 10, \
		{ \
			0x5E, sa, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0 \
		} \
	}
static const struct scsi_op prin_ops[] = {
	PRIN_SA(SCSI_PRIN_READ_KEYS, "PERSISTENT RESERVE IN / READ KEYS"),
	PRIN_SA(SCSI_PRIN_READ_RESERVATION, "PERSISTENT RESERVE IN / READ RESERVATION"),
	PRIN_SA(SCSI_PRIN_REPORT_CAPABILITIES, "PERSISTENT RESERVE IN / REPORT CAPABILITIES"),
	PRIN_SA(SCSI_PRIN_READ_FULL_STATUS, "PERSISTENT RESERVE IN / READ FULL STATUS"),
};
static const struct scsi_sa_table prin_table = { 4, prin_ops };

#define PROUT_SA(sa, nm) \
	{ \
		nm, scsi_exec_prout, NULL, NULL, OPF_SA | OPF_DATA_OUT, 10, sa, PR_ALLOW_ALL, \
			STBY, 10, \
		{ \
			0x5F, sa, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0 \
		} \
	}
static const struct scsi_op prout_ops[] = {
	PROUT_SA(SCSI_PROUT_REGISTER, "PERSISTENT RESERVE OUT / REGISTER"),
	PROUT_SA(SCSI_PROUT_RESERVE, "PERSISTENT RESERVE OUT / RESERVE"),
	PROUT_SA(SCSI_PROUT_RELEASE, "PERSISTENT RESERVE OUT / RELEASE"),
	PROUT_SA(SCSI_PROUT_CLEAR, "PERSISTENT RESERVE OUT / CLEAR"),
	PROUT_SA(SCSI_PROUT_PREEMPT, "PERSISTENT RESERVE OUT / PREEMPT"),
	PROUT_SA(SCSI_PROUT_PREEMPT_ABORT, "PERSISTENT RESERVE OUT / PREEMPT AND ABORT"),
	PROUT_SA(SCSI_PROUT_REGISTER_IGNORE,
		 "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY"),
	PROUT_SA(SCSI_PROUT_REGISTER_MOVE, "PERSISTENT RESERVE OUT / REGISTER AND MOVE"),
};
static const struct scsi_sa_table prout_table = { 8, prout_ops };

/* EXTENDED COPY (SPC-4 6.4): LID1 only. It conflicts under a reservation of
 * the addressed LU like a WRITE (SPC-4 table 44); the LUs it copies between
 * are checked by scsi_xcopy.c (source like a READ, destination like a
 * WRITE). RECEIVE COPY RESULTS (SPC-4 6.18): COPY STATUS and OPERATING
 * PARAMETERS; byte 2 (LIST IDENTIFIER) is reserved for the latter. */
static const struct scsi_op xcopy_ops[] = {
	{ "EXTENDED COPY(LID1)",
	  scsi_exec_xcopy,
	  NULL,
	  NULL,
	  OPF_SA | OPF_DATA_OUT,
	  16,
	  0x00,
	  0,
	  MEDIA,
	  60,
	  { 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
};
static const struct scsi_sa_table xcopy_table = { 1, xcopy_ops };

static const struct scsi_op rcr_ops[] = {
	{ "RECEIVE COPY RESULTS / COPY STATUS",
	  scsi_exec_rcr,
	  NULL,
	  NULL,
	  OPF_SA,
	  16,
	  0x00,
	  PR_ALLOW_ALL,
	  MEDIA,
	  5,
	  { 0x84, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
	{ "RECEIVE COPY RESULTS / OPERATING PARAMETERS",
	  scsi_exec_rcr,
	  NULL,
	  NULL,
	  OPF_SA,
	  16,
	  0x03,
	  PR_ALLOW_ALL,
	  MEDIA,
	  5,
	  { 0x84, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 } },
};
static const struct scsi_sa_table rcr_table = { 2, rcr_ops };

/* SANITIZE (SBC-4 5.30, scsi_sanitize.c): conflicts under any reservation
 * (SPC-4 table 44); BLOCK ERASE only where the LU can deallocate. IMMED is
 * not in the usage map (the command is synchronous); AUSE is accepted. */
#define SANITIZE_SA(sa, nm, av) \
	{ \
		nm, scsi_exec_sanitize, av, NULL, OPF_SA | OPF_WRITE | OPF_DATA_OUT, 10, sa, 0, \
			MEDIA, 3600, \
		{ \
			SCSI_OP_SANITIZE, 0x20 | sa, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0 \
		} \
	}
static const struct scsi_op sanitize_ops[] = {
	SANITIZE_SA(SCSI_SANITIZE_OVERWRITE, "SANITIZE / OVERWRITE", NULL),
	SANITIZE_SA(SCSI_SANITIZE_BLOCK_ERASE, "SANITIZE / BLOCK ERASE", scsi_lu_can_unmap),
	SANITIZE_SA(SCSI_SANITIZE_EXIT_FAILURE, "SANITIZE / EXIT FAILURE MODE", NULL),
};
static const struct scsi_sa_table sanitize_table = { 3, sanitize_ops };

/* Variable-length CDBs (7Fh): no service action supported yet. */
static const struct scsi_sa_table var_len_table = { 0, NULL };

#define OP(code, nm, fn, av, fl, len, pr, alua, to, ...) \
	[code] = { nm, fn, av, NULL, fl, len, 0, pr, alua, to, { code, __VA_ARGS__ } }
#define SAOP(code, nm, tbl, len) \
	[code] = { nm, NULL, NULL, tbl, OPF_SA, len, 0, 0, ANY, 0, { code } }

const struct scsi_op scsi_op_table[256] = {
	OP(SCSI_OP_TEST_UNIT_READY, "TEST UNIT READY", scsi_exec_tur, NULL, 0, 6, PR_ALLOW_ALL,
	   MEDIA, 5, 0, 0, 0, 0, 0),
	OP(SCSI_OP_REQUEST_SENSE, "REQUEST SENSE", scsi_exec_request_sense, NULL, NOLU, 6,
	   PR_ALLOW_ALL | PR_ALLOW_SPC2, ANY, 5, 0x01, 0, 0, 0xFF, 0),
	OP(SCSI_OP_READ6, "READ(6)", scsi_exec_read, NULL, 0, 6, PR_ALLOW_WE, MEDIA, 30, 0x1F, 0xFF,
	   0xFF, 0xFF, 0),
	OP(SCSI_OP_WRITE6, "WRITE(6)", scsi_exec_write, NULL, OPF_WRITE | OPF_DATA_OUT, 6, 0, MEDIA,
	   30, 0x1F, 0xFF, 0xFF, 0xFF, 0),
	OP(SCSI_OP_INQUIRY, "INQUIRY", scsi_exec_inquiry, NULL, NOLU, 6,
	   PR_ALLOW_ALL | PR_ALLOW_SPC2, ANY, 5, 0x01, 0xFF, 0xFF, 0xFF, 0),
	OP(SCSI_OP_MODE_SELECT6, "MODE SELECT(6)", scsi_exec_mode_select, NULL, OPF_DATA_OUT, 6, 0,
	   STBY, 10, 0x11, 0, 0, 0xFF, 0),
	OP(SCSI_OP_MODE_SENSE6, "MODE SENSE(6)", scsi_exec_mode_sense, NULL, 0, 6, PR_ALLOW_WE,
	   STBY, 5, 0x08, 0xFF, 0xFF, 0xFF, 0),
	OP(SCSI_OP_START_STOP_UNIT, "START STOP UNIT", scsi_exec_start_stop, NULL, 0, 6, 0, MEDIA,
	   30, 0x01, 0, 0x0F, 0xF7, 0),
	OP(SCSI_OP_PREVENT_ALLOW, "PREVENT ALLOW MEDIUM REMOVAL", scsi_exec_prevent_allow,
	   scsi_lu_is_removable, 0, 6, 0, MEDIA, 5, 0, 0, 0, 0x03, 0),
	OP(SCSI_OP_READ_CAPACITY10, "READ CAPACITY(10)", scsi_exec_read_capacity10, NULL, 0, 10,
	   PR_ALLOW_ALL, MEDIA, 5, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0),
	OP(SCSI_OP_READ10, "READ(10)", scsi_exec_read, NULL, 0, 10, PR_ALLOW_WE, MEDIA, 30, 0x1E,
	   0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0),
	OP(SCSI_OP_WRITE10, "WRITE(10)", scsi_exec_write, NULL, OPF_WRITE | OPF_DATA_OUT, 10, 0,
	   MEDIA, 30, 0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0),
	OP(SCSI_OP_WRITE_VERIFY10, "WRITE AND VERIFY(10)", scsi_exec_write_verify, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 10, 0, MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF,
	   0xFF, 0),
	OP(SCSI_OP_VERIFY10, "VERIFY(10)", scsi_exec_verify, NULL, OPF_DATA_OUT, 10, PR_ALLOW_WE,
	   MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0),
	OP(SCSI_OP_PREFETCH10, "PRE-FETCH(10)", scsi_exec_prefetch, NULL, 0, 10, PR_ALLOW_WE, MEDIA,
	   10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0),
	OP(SCSI_OP_SYNC_CACHE10, "SYNCHRONIZE CACHE(10)", scsi_exec_sync_cache, NULL, 0, 10, 0,
	   MEDIA, 60, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0),
	OP(SCSI_OP_WRITE_SAME10, "WRITE SAME(10)", scsi_exec_write_same, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 10, 0, MEDIA, 60, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF,
	   0xFF, 0),
	OP(SCSI_OP_UNMAP, "UNMAP", scsi_exec_unmap, scsi_lu_can_unmap, OPF_WRITE | OPF_DATA_OUT, 10,
	   0, MEDIA, 60, 0x01, 0, 0, 0, 0, 0x1F, 0xFF, 0xFF, 0),
	/* SPC-2 RESERVE / RELEASE: conflicts are decided by the handlers
	 * (SPC-4 5.13.1: they conflict whenever a registration exists);
	 * RELEASE from a non-holder is allowed and does nothing. */
	OP(SCSI_OP_RESERVE6, "RESERVE(6)", scsi_exec_reserve, NULL, 0, 6, PR_ALLOW_ALL, MEDIA, 10,
	   0, 0, 0, 0, 0),
	OP(SCSI_OP_RELEASE6, "RELEASE(6)", scsi_exec_release, NULL, 0, 6,
	   PR_ALLOW_ALL | PR_ALLOW_SPC2, MEDIA, 10, 0, 0, 0, 0, 0),
	OP(SCSI_OP_RESERVE10, "RESERVE(10)", scsi_exec_reserve, NULL, 0, 10, PR_ALLOW_ALL, MEDIA,
	   10, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0),
	OP(SCSI_OP_RELEASE10, "RELEASE(10)", scsi_exec_release, NULL, 0, 10,
	   PR_ALLOW_ALL | PR_ALLOW_SPC2, MEDIA, 10, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0),
	SAOP(SCSI_OP_SANITIZE, "SANITIZE", &sanitize_table, 10),
	OP(SCSI_OP_READ_DEFECT10, "READ DEFECT DATA(10)", scsi_exec_read_defect, NULL, 0, 10,
	   PR_ALLOW_WE, MEDIA, 5, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, 0),
	OP(SCSI_OP_READ_DEFECT12, "READ DEFECT DATA(12)", scsi_exec_read_defect, NULL, 0, 12,
	   PR_ALLOW_WE, MEDIA, 5, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0),
	SAOP(SCSI_OP_PR_IN, "PERSISTENT RESERVE IN", &prin_table, 10),
	SAOP(SCSI_OP_PR_OUT, "PERSISTENT RESERVE OUT", &prout_table, 10),
	OP(SCSI_OP_MODE_SELECT10, "MODE SELECT(10)", scsi_exec_mode_select, NULL, OPF_DATA_OUT, 10,
	   0, STBY, 10, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0),
	OP(SCSI_OP_MODE_SENSE10, "MODE SENSE(10)", scsi_exec_mode_sense, NULL, 0, 10, PR_ALLOW_WE,
	   STBY, 5, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0),
	OP(SCSI_OP_READ16, "READ(16)", scsi_exec_read, NULL, 0, 16, PR_ALLOW_WE, MEDIA, 30, 0x1E,
	   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_COMPARE_AND_WRITE, "COMPARE AND WRITE", scsi_exec_caw, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 16, 0, MEDIA, 30, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0xFF, 0, 0, 0, 0xFF, 0x1F, 0),
	OP(SCSI_OP_WRITE16, "WRITE(16)", scsi_exec_write, NULL, OPF_WRITE | OPF_DATA_OUT, 16, 0,
	   MEDIA, 30, 0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0x1F, 0),
	OP(SCSI_OP_ORWRITE16, "ORWRITE(16)", scsi_exec_orwrite, NULL, OPF_WRITE | OPF_DATA_OUT, 16,
	   0, MEDIA, 30, 0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0x1F, 0),
	/* ATOMIC BOUNDARY (bytes 10-11) is not supported: must be 0. */
	OP(SCSI_OP_WRITE_ATOMIC16, "WRITE ATOMIC(16)", scsi_exec_write_atomic, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 16, 0, MEDIA, 30, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_WRITE_VERIFY16, "WRITE AND VERIFY(16)", scsi_exec_write_verify, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 16, 0, MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_VERIFY16, "VERIFY(16)", scsi_exec_verify, NULL, OPF_DATA_OUT, 16, PR_ALLOW_WE,
	   MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0x1F, 0),
	OP(SCSI_OP_PREFETCH16, "PRE-FETCH(16)", scsi_exec_prefetch, NULL, 0, 16, PR_ALLOW_WE, MEDIA,
	   10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F,
	   0),
	OP(SCSI_OP_SYNC_CACHE16, "SYNCHRONIZE CACHE(16)", scsi_exec_sync_cache, NULL, 0, 16, 0,
	   MEDIA, 60, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0x1F, 0),
	OP(SCSI_OP_WRITE_SAME16, "WRITE SAME(16)", scsi_exec_write_same, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 16, 0, MEDIA, 60, 0x19, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	SAOP(SCSI_OP_SERVICE_ACTION_IN16, "SERVICE ACTION IN(16)", &sai16_table, 16),
	OP(SCSI_OP_REPORT_LUNS, "REPORT LUNS", scsi_exec_report_luns, NULL, NOLU, 12,
	   PR_ALLOW_ALL | PR_ALLOW_SPC2, ANY, 5, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0),
	SAOP(SCSI_OP_MAINTENANCE_IN, "MAINTENANCE IN", &maint_in_table, 12),
	SAOP(SCSI_OP_MAINTENANCE_OUT, "MAINTENANCE OUT", &maint_out_table, 12),
	OP(SCSI_OP_READ12, "READ(12)", scsi_exec_read, NULL, 0, 12, PR_ALLOW_WE, MEDIA, 30, 0x1E,
	   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_WRITE12, "WRITE(12)", scsi_exec_write, NULL, OPF_WRITE | OPF_DATA_OUT, 12, 0,
	   MEDIA, 30, 0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_WRITE_VERIFY12, "WRITE AND VERIFY(12)", scsi_exec_write_verify, NULL,
	   OPF_WRITE | OPF_DATA_OUT, 12, 0, MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	   0xFF, 0xFF, 0x1F, 0),
	OP(SCSI_OP_VERIFY12, "VERIFY(12)", scsi_exec_verify, NULL, OPF_DATA_OUT, 12, PR_ALLOW_WE,
	   MEDIA, 30, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0),
	SAOP(SCSI_OP_VARIABLE_LENGTH, "VARIABLE LENGTH", &var_len_table, 10),
	SAOP(SCSI_OP_EXTENDED_COPY, "EXTENDED COPY", &xcopy_table, 16),
	SAOP(SCSI_OP_RECEIVE_COPY_RESULTS, "RECEIVE COPY RESULTS", &rcr_table, 16),
};

const struct scsi_op *scsi_op_lookup(const uint8_t *cdb, size_t len, bool *bad_sa)
{
	*bad_sa = false;
	if (len < 1)
		return NULL;
	const struct scsi_op *op = &scsi_op_table[cdb[0]];
	if (!op->sat)
		return op->exec ? op : NULL;
	if (len < 2) {
		*bad_sa = true;
		return NULL;
	}
	for (unsigned i = 0; i < op->sat->n; i++)
		if (op->sat->ops[i].sa == (cdb[1] & 0x1F))
			return &op->sat->ops[i];
	*bad_sa = true;
	return NULL;
}

bool scsi_op_available(const struct scsi_op *op, const struct scsi_lu *lu)
{
	return op && op->exec && (!op->avail || op->avail(lu));
}

/* ---- completion ---- */
static void done_fn(struct kloop_task *kt)
{
	struct scsi_task *t = TASK_OF_KT(kt);
	t->done(t);
}

static bool lu_d_sense(const struct scsi_lu *lu)
{
	return lu && atomic_load(&((struct scsi_lu *)lu)->d_sense);
}

static void build_sense(struct scsi_task *t, uint8_t key, uint16_t asc)
{
	struct scsi_sense_extra x = {
		.info_valid = t->st.info_valid,
		.info = t->st.info,
		.sks_valid = (t->st.sks[0] & SCSI_SKS_VALID) != 0,
	};
	memcpy(x.sks, t->st.sks, 3);
	t->sense_len = (uint8_t)(lu_d_sense(t->lu) ? scsi_sense_desc(t->sense, key, asc, &x)
						   : scsi_sense_fixed(t->sense, key, asc, &x));
}

void scsi_task_finish(struct scsi_task *t, int reason)
{
	if (reason < 0 || reason >= SR__COUNT || reason == SR_PENDING)
		reason = SR_INTERNAL_FAILURE;
	const struct scsi_reason_info *ri = &scsi_reason_table[reason];
	t->st.reason = (uint32_t)reason;
	t->status = ri->status;
	t->sense_len = 0;
	if (ri->status == SAM_STAT_CHECK_CONDITION) {
		build_sense(t, ri->key, ri->asc);
		t->in_len = 0;
	}
	scsi_stats_done(t, scsi_op_table[t->cdb[0]].flags & OPF_WRITE);
	kbuf_free(t->st.scratch);
	t->st.scratch = NULL;
	if (t->st.in_exec) {
		t->st.kt.fn = done_fn;
		kloop_defer(t->loop, &t->st.kt);
	} else {
		t->done(t);
	}
}

void scsi_task_set_sense(struct scsi_task *t, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(&t->st.sks, 0, sizeof(t->st.sks));
	t->st.info_valid = false;
	t->status = SAM_STAT_CHECK_CONDITION;
	build_sense(t, key, (uint16_t)(asc << 8 | ascq));
}

int scsi_fail_field(struct scsi_task *t, uint16_t byte, int bit)
{
	scsi_sks_field(t->st.sks, true, byte, bit);
	return SR_INVALID_FIELD_CDB;
}

int scsi_fail_param(struct scsi_task *t, uint16_t byte, int bit)
{
	scsi_sks_field(t->st.sks, false, byte, bit);
	return SR_INVALID_FIELD_PARAM;
}

/* ---- buffers ---- */
static void rerun_fn(struct kloop_task *kt)
{
	struct scsi_task *t = TASK_OF_KT(kt);
	const struct scsi_op *op = t->st.op;
	int r = op->exec(t);
	if (r != SR_PENDING)
		scsi_task_finish(t, r);
}

uint8_t *scsi_in_alloc(struct scsi_task *t, size_t cap)
{
	void *b = kbuf_alloc(cap ? cap : 1);
	if (!b) {
		t->st.kt.fn = rerun_fn;
		kbuf_wait(&t->st.kt);
		return NULL;
	}
	memset(b, 0, cap);
	kbuf_free(t->in_buf);
	t->in_buf = b;
	return b;
}

int scsi_in_done(struct scsi_task *t, size_t full, uint32_t alloc)
{
	t->in_len = (uint32_t)(full < alloc ? full : alloc);
	return SR_GOOD;
}

static void resume_fn(struct kloop_task *kt)
{
	struct scsi_task *t = TASK_OF_KT(kt);
	t->st.resume(t);
}

void *scsi_kbuf_or_wait(struct scsi_task *t, size_t len, void (*resume)(struct scsi_task *t))
{
	void *b = kbuf_alloc(len ? len : 1);
	if (!b) {
		t->st.resume = resume;
		t->st.kt.fn = resume_fn;
		kbuf_wait(&t->st.kt);
	}
	return b;
}

void *scsi_scratch_alloc(struct scsi_task *t, size_t len, void (*resume)(struct scsi_task *t))
{
	void *b = scsi_kbuf_or_wait(t, len, resume);
	if (b) {
		kbuf_free(t->st.scratch);
		t->st.scratch = b;
	}
	return b;
}

size_t scsi_out_cmp(const struct scsi_task *t, size_t off, const uint8_t *buf, size_t len)
{
	return kiov_cmp(t->out_iov, t->out_iovcnt, off, buf, len);
}

size_t scsi_out_copy(const struct scsi_task *t, size_t off, void *dst, size_t len)
{
	return kiov_to_buf(t->out_iov, t->out_iovcnt, off, dst, len);
}

void scsi_submit(struct scsi_task *t, enum lun_op op, unsigned flags, uint64_t off, uint64_t len,
		 struct iovec *iov, int iovcnt, void (*fn)(struct lun_io *io))
{
	struct lun_io *io = &t->io;
	memset(io, 0, sizeof(*io));
	io->op = op;
	io->flags = flags;
	io->offset = off;
	io->length = len;
	io->iov = iov;
	io->iovcnt = iovcnt;
	io->loop = t->loop;
	io->done = fn;
	io->priv = t;
	lun_submit(t->lu->be, io);
}

/* Backend errors (-errno) to outcomes: transient trouble is NOT READY, never
 * ILLEGAL REQUEST (INTEROP.md). */
static const struct {
	int err;
	int rd, wr;
} errno_map[] = {
	{ EIO, SR_READ_ERROR, SR_WRITE_ERROR },
	{ ENOSPC, SR_SPACE_ALLOC_FAILED, SR_SPACE_ALLOC_FAILED },
	{ EDQUOT, SR_SPACE_ALLOC_FAILED, SR_SPACE_ALLOC_FAILED },
	{ EROFS, SR_WRITE_PROTECTED, SR_WRITE_PROTECTED },
	{ EPERM, SR_WRITE_PROTECTED, SR_WRITE_PROTECTED },
	{ EAGAIN, SR_NOT_READY, SR_NOT_READY },
	{ EBUSY, SR_NOT_READY, SR_NOT_READY },
	{ ENOMEM, SR_NOT_READY, SR_NOT_READY },
	{ ETIMEDOUT, SR_NOT_READY, SR_NOT_READY },
	{ ENODEV, SR_NOT_READY_MANUAL,
	  SR_NOT_READY_MANUAL }, /* RAID beyond its tolerance, offline LUN */
	{ EILSEQ, SR_MISCOMPARE, SR_MISCOMPARE },
};

int scsi_errno_reason(int err, bool is_write)
{
	if (err >= 0)
		return SR_GOOD;
	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++)
		if (errno_map[i].err == -err)
			return is_write ? errno_map[i].wr : errno_map[i].rd;
	return SR_INTERNAL_FAILURE;
}

/* ---- dispatch ---- */
static int check_cdb(struct scsi_task *t, const struct scsi_op *op)
{
	if (t->cdb_len < op->cdb_len)
		return SR_INVALID_FIELD_CDB; /* truncated CDB */
	int bit = 0;
	int byte = scsi_cdb_check_usage(t->cdb, op->cdb_len, op->usage, op->flags & OPF_SA, &bit);
	return byte < 0 ? SR_GOOD : scsi_fail_field(t, (uint16_t)byte, bit);
}

static int dispatch(struct scsi_task *t)
{
	if (t->cdb_len < 1 || t->cdb_len > sizeof(t->cdb))
		return SR_INVALID_FIELD_CDB;
	const struct scsi_op *base = &scsi_op_table[t->cdb[0]];
	if (!t->lu && !(base->flags & OPF_NO_LU))
		return SR_LU_NOT_SUPPORTED;
	if (t->lu && !(base->flags & OPF_NO_LU) && scsi_lu_sanitizing(t->lu))
		return SR_SANITIZE_IN_PROGRESS; /* SBC-4 4.11.2 */
	if (t->lu && !(base->flags & OPF_NO_UA)) {
		int ua = scsi_lu_take_ua(t->lu, t->itn);
		if (ua != SR_GOOD)
			return ua;
	}
	bool bad_sa;
	const struct scsi_op *op = scsi_op_lookup(t->cdb, t->cdb_len, &bad_sa);
	if (bad_sa)
		return scsi_fail_field(t, 1, 4);
	if (!scsi_op_available(op, t->lu))
		return SR_INVALID_OPCODE;
	int r = check_cdb(t, op);
	if (r == SR_GOOD && t->lu)
		r = scsi_lu_pr_check(t->lu, t->itn, op);
	if (r == SR_GOOD && t->lu)
		r = scsi_lu_alua_check(t->lu, t->itn, op);
	if (r == SR_GOOD && t->lu)
		r = scsi_lu_medium_check(t->lu, op); /* removable medium ejected */
	if (r == SR_GOOD && (op->flags & OPF_WRITE) && scsi_lu_write_protected(t->lu))
		r = SR_WRITE_PROTECTED; /* SBC-4 4.11: SWP / read-only medium */
	if (r != SR_GOOD)
		return r;
	t->st.op = op;
	return op->exec(t);
}

/* Count t in its LU's in-flight tasks, or drop an LU removed at run time
 * since the transport looked it up (the command then gets 25/00). The slot
 * is read again and counted in one loop callback, which is what the grace
 * period of a removal waits for:
 *
 *   worker:  get slot -> lu        |  admin: slot = NULL
 *   worker:  inflight++            |  admin: post to every worker, wait
 *   ...      (task runs)           |  admin: all ran => worker counted or saw NULL
 *   worker:  scsi_task_release     |  admin: wait inflight == 0, destroy
 *            inflight--            |
 */
static void task_take_lu(struct scsi_task *t)
{
	if (t->lu && t->map && scsi_lun_map_get(t->map, t->lun) != t->lu)
		t->lu = NULL;
	if (t->lu) {
		atomic_fetch_add(&t->lu->inflight, 1);
		t->st.lu_ref = true;
	}
}

void scsi_task_exec(struct scsi_task *t)
{
	memset(&t->st, 0, sizeof(t->st));
	t->st.t0_ns = scsi_stats_now_ns();
	task_take_lu(t);
	t->status = SAM_STAT_GOOD;
	t->sense_len = 0;
	t->in_buf = NULL;
	t->in_len = 0;
	t->out_wanted = 0;
	t->st.in_exec = true;
	int r = dispatch(t);
	if (r != SR_PENDING)
		scsi_task_finish(t, r);
	t->st.in_exec = false;
}

void scsi_task_release(struct scsi_task *t)
{
	if (t->st.lu_ref && t->lu)
		atomic_fetch_sub(&t->lu->inflight, 1);
	t->st.lu_ref = false;
	kbuf_free(t->in_buf);
	t->in_buf = NULL;
	kbuf_free(t->st.scratch);
	t->st.scratch = NULL;
}
