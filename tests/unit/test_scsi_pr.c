/* SPDX-License-Identifier: Apache-2.0 */
/* Persistent reservations and SPC-2 RESERVE/RELEASE through scsi_task_exec():
 * every PROUT service action and type, every PRIN service action, the
 * conflict table (opcode class x type x holder / registered / unregistered),
 * unit attentions (also for a nexus that is away), identity across
 * logout/login, REGISTER AND MOVE, SPEC_I_PT, PREEMPT AND ABORT against a
 * fake transport, the execution-time re-check of a write queued behind a
 * range lock, hostile TransportIDs, and the state file (round trip, every
 * torn / flipped byte refused, restore, corrupt file refused at start). */
#include "test_scsi_harness.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static struct th H;
static const uint8_t ISID3[6] = { 0x80, 0, 0, 0, 0, 3 };
#define INI1 "iqn.2026-01.org.kura:ini1"
#define INI2 "iqn.2026-01.org.kura:ini2"

static int setup(void **s)
{
	th_init(&H, true);
	th_clear_ua(&H, H.itn);
	th_clear_ua(&H, H.itn2);
	return 0;
}

static int teardown(void **s)
{
	th_fini(&H);
	return 0;
}

/* ---- command helpers ---- */
static uint8_t prout_x(struct scsi_itn *itn, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark,
		       uint8_t flags, const uint8_t *extra, size_t extra_len, struct tres *r)
{
	static uint8_t p[4096];
	uint8_t c[10] = { SCSI_OP_PR_OUT, sa, type };
	memset(p, 0, sizeof(p));
	put_be64(p, rk);
	put_be64(p + 8, sark);
	p[20] = flags;
	if (extra_len)
		memcpy(p + 24, extra, extra_len);
	put_be32(c + 5, (uint32_t)(24 + extra_len));
	return th_cmd_itn(&H, itn, 0, c, 10, p, (uint32_t)(24 + extra_len), r);
}

static uint8_t prout(struct scsi_itn *itn, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark)
{
	struct tres r;
	return prout_x(itn, sa, type, rk, sark, 0, NULL, 0, &r);
}

static uint8_t prin(struct scsi_itn *itn, uint8_t sa, struct tres *r)
{
	uint8_t c[10] = { SCSI_OP_PR_IN, sa };
	put_be16(c + 7, 8192);
	return th_cmd_itn(&H, itn, 0, c, 10, NULL, 0, r);
}

static uint8_t cmd6(struct scsi_itn *itn, uint8_t op)
{
	uint8_t c[6] = { op };
	struct tres r;
	if (op == SCSI_OP_INQUIRY)
		c[4] = 36;
	return th_cmd_itn(&H, itn, 0, c, 6, NULL, 0, &r);
}

static uint8_t rw(struct scsi_itn *itn, bool write, uint32_t lba, uint8_t fill)
{
	static uint8_t b[TH_BS];
	uint8_t c[10];
	struct tres r;
	memset(b, fill, sizeof(b));
	cdb10(c, write ? SCSI_OP_WRITE10 : SCSI_OP_READ10, lba, 1);
	return th_cmd_itn(&H, itn, 0, c, 10, write ? b : NULL, write ? TH_BS : 0, &r);
}

static unsigned nkeys(struct scsi_itn *itn, uint32_t *gen)
{
	struct tres r;
	assert_int_equal(prin(itn, SCSI_PRIN_READ_KEYS, &r), SAM_STAT_GOOD);
	if (gen)
		*gen = get_be32(r.in);
	return get_be32(r.in + 4) / 8;
}

/* Take every pending UA of a nexus; return them as a mask of ASC/ASCQs seen. */
static bool take_ua(struct scsi_itn *itn, uint16_t asc)
{
	uint8_t tur[6] = { 0 };
	struct tres r;
	bool seen = false;
	for (int i = 0; i < 12; i++) {
		if (th_cmd_itn(&H, itn, 0, tur, 6, NULL, 0, &r) != SAM_STAT_CHECK_CONDITION)
			break;
		if (sense_key(&r) == SCSI_SK_UNIT_ATTENTION && sense_asc(&r) == asc)
			seen = true;
	}
	return seen;
}

static void clear_all(void)
{
	/* CLEAR needs a registration: make one, then clear everything */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER_IGNORE, 0, 0, 0x99), SAM_STAT_GOOD);
	assert_int_equal(prout(H.itn, SCSI_PROUT_CLEAR, 0, 0x99, 0), SAM_STAT_GOOD);
	take_ua(H.itn2, 0);
}

/* ---- REGISTER / READ KEYS / generation ---- */
static void test_register(void **s)
{
	uint32_t g0, g1;
	assert_int_equal(nkeys(H.itn, &g0), 0);
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0x1111), SAM_STAT_GOOD);
	assert_int_equal(nkeys(H.itn, &g1), 1);
	assert_int_equal(g1, g0 + 1);
	/* re-register with a wrong RESERVATION KEY: conflict (SPC-4 5.13.7) */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0x2222, 0x3333),
			 SAM_STAT_RESERVATION_CONFLICT);
	/* unregistered nexus with a non-zero RESERVATION KEY: conflict */
	assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0x1111, 0x4444),
			 SAM_STAT_RESERVATION_CONFLICT);
	/* change the key, then REGISTER AND IGNORE EXISTING KEY */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0x1111, 0x5555), SAM_STAT_GOOD);
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER_IGNORE, 0, 0xdead, 0x6666),
			 SAM_STAT_GOOD);
	struct tres r;
	prin(H.itn, SCSI_PRIN_READ_KEYS, &r);
	assert_int_equal(get_be64(r.in + 8), 0x6666);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER_IGNORE, 0, 0, 0x7777), SAM_STAT_GOOD);
	assert_int_equal(nkeys(H.itn, NULL), 2);
	/* unregister both */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0x6666, 0), SAM_STAT_GOOD);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER_IGNORE, 0, 0, 0), SAM_STAT_GOOD);
	assert_int_equal(nkeys(H.itn, NULL), 0);
	/* unregistered + SARK 0: GOOD, nothing */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0), SAM_STAT_GOOD);
	/* READ KEYS truncated to the allocation length, full length reported */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0x1);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0x2);
	uint8_t c[10] = { SCSI_OP_PR_IN, SCSI_PRIN_READ_KEYS };
	put_be16(c + 7, 12);
	assert_int_equal(th_cmd(&H, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 12);
	assert_int_equal(get_be32(r.in + 4), 16);
	clear_all();
}

static void test_param_checks(void **s)
{
	struct tres r;
	uint8_t c[10] = { SCSI_OP_PR_OUT, SCSI_PROUT_REGISTER };
	uint8_t p[32] = { 0 };
	put_be32(c + 5, 23); /* not 24: PARAMETER LIST LENGTH ERROR */
	th_cmd(&H, c, 10, p, 23, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH_ERROR);
	put_be32(c + 5, 32);
	th_cmd(&H, c, 10, p, 32, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH_ERROR);
	/* APTPL without a state directory: INVALID FIELD IN PARAMETER LIST */
	prout_x(H.itn, SCSI_PROUT_REGISTER, 0, 0, 1, SCSI_PROUT_APTPL, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	/* unknown PRIN / PROUT service actions */
	uint8_t pi[10] = { SCSI_OP_PR_IN, 0x04 };
	th_cmd(&H, pi, 10, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	c[1] = 0x08;
	put_be32(c + 5, 24);
	th_cmd(&H, c, 10, p, 24, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* RESERVE: bad type / scope */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0x10);
	prout_x(H.itn, SCSI_PROUT_RESERVE, 0x02, 0x10, 0, 0, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	prout_x(H.itn, SCSI_PROUT_RESERVE, 0x11, 0x10, 0, 0, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* RESERVE from an unregistered nexus / with the wrong key: conflict */
	assert_int_equal(prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0x10, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0x11, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	clear_all();
}

/* ---- the conflict table (SPC-4 table 44): class x type x relation ---- */
enum cls { C_READ, C_WRITE, C_TUR, C_INQ, C_MODE_SENSE, C_SYNC, C_CAW, C__N };
static uint8_t run_class(struct scsi_itn *itn, enum cls c)
{
	uint8_t cdb[16];
	struct tres r;
	static uint8_t caw[2 * TH_BS];
	switch (c) {
	case C_READ: return rw(itn, false, 50, 0);
	case C_WRITE: return rw(itn, true, 50, 0xAB);
	case C_TUR: return cmd6(itn, SCSI_OP_TEST_UNIT_READY);
	case C_INQ: return cmd6(itn, SCSI_OP_INQUIRY);
	case C_MODE_SENSE:
		memset(cdb, 0, 6);
		cdb[0] = SCSI_OP_MODE_SENSE6;
		cdb[2] = 0x3F;
		cdb[4] = 255;
		return th_cmd_itn(&H, itn, 0, cdb, 6, NULL, 0, &r);
	case C_SYNC:
		cdb10(cdb, SCSI_OP_SYNC_CACHE10, 0, 0);
		return th_cmd_itn(&H, itn, 0, cdb, 10, NULL, 0, &r);
	case C_CAW:
		memset(caw, 0xAB, sizeof(caw)); /* compare with what C_WRITE wrote */
		memset(cdb, 0, 16);
		cdb[0] = SCSI_OP_COMPARE_AND_WRITE;
		put_be64(cdb + 2, 50);
		cdb[13] = 1;
		return th_cmd_itn(&H, itn, 0, cdb, 16, caw, sizeof(caw), &r);
	default: return 0xFF;
	}
}

/* Expected outcome for a registered non-holder and for an unregistered
 * nexus, written out from SPC-4 table 44 (1 = allowed). */
static const struct {
	uint8_t type;
	bool reg[C__N], unreg[C__N];
} table44[] = {
	/*                    READ WRITE TUR INQ MSENSE SYNC CAW */
	{ SCSI_PR_WE, { 1, 0, 1, 1, 1, 0, 0 }, { 1, 0, 1, 1, 1, 0, 0 } },
	{ SCSI_PR_EA, { 0, 0, 1, 1, 0, 0, 0 }, { 0, 0, 1, 1, 0, 0, 0 } },
	{ SCSI_PR_WE_RO, { 1, 1, 1, 1, 1, 1, 1 }, { 1, 0, 1, 1, 1, 0, 0 } },
	{ SCSI_PR_EA_RO, { 1, 1, 1, 1, 1, 1, 1 }, { 0, 0, 1, 1, 0, 0, 0 } },
	{ SCSI_PR_WE_AR, { 1, 1, 1, 1, 1, 1, 1 }, { 1, 0, 1, 1, 1, 0, 0 } },
	{ SCSI_PR_EA_AR, { 1, 1, 1, 1, 1, 1, 1 }, { 0, 0, 1, 1, 0, 0, 0 } },
};

static void expect(struct scsi_itn *itn, enum cls c, bool allowed)
{
	uint8_t st = run_class(itn, c);
	if (allowed)
		assert_int_not_equal(st, SAM_STAT_RESERVATION_CONFLICT);
	else
		assert_int_equal(st, SAM_STAT_RESERVATION_CONFLICT);
}

static void test_conflict_table(void **s)
{
	for (size_t i = 0; i < sizeof(table44) / sizeof(table44[0]); i++) {
		uint8_t type = table44[i].type;
		assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA), SAM_STAT_GOOD);
		assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB), SAM_STAT_GOOD);
		assert_int_equal(prout(H.itn, SCSI_PROUT_RESERVE, type, 0xA, 0), SAM_STAT_GOOD);
		/* reserving again with the same type: GOOD; another type: conflict */
		assert_int_equal(prout(H.itn, SCSI_PROUT_RESERVE, type, 0xA, 0), SAM_STAT_GOOD);
		assert_int_equal(prout(H.itn, SCSI_PROUT_RESERVE,
				       type == SCSI_PR_WE ? SCSI_PR_EA : SCSI_PR_WE, 0xA, 0),
				 SAM_STAT_RESERVATION_CONFLICT);
		for (int c = 0; c < C__N; c++) {
			expect(H.itn, c, true); /* the holder */
			expect(H.itn2, c, table44[i].reg[c]);
		}
		assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0xB, 0), SAM_STAT_GOOD);
		for (int c = 0; c < C__N; c++)
			expect(H.itn2, c, table44[i].unreg[c]);
		/* PRIN and PROUT are allowed under every type */
		struct tres r;
		assert_int_equal(prin(H.itn2, SCSI_PRIN_READ_RESERVATION, &r), SAM_STAT_GOOD);
		assert_int_equal(get_be32(r.in + 4), 16);
		bool ar = type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
		assert_int_equal(get_be64(r.in + 8), ar ? 0 : 0xA);
		assert_int_equal(r.in[21], type);
		/* RELEASE with the wrong type: ILLEGAL REQUEST / 26/04 */
		prout_x(H.itn, SCSI_PROUT_RELEASE, type == SCSI_PR_WE ? SCSI_PR_EA : SCSI_PR_WE,
			0xA, 0, 0, NULL, 0, &r);
		assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_RELEASE_OF_PR);
		assert_int_equal(prout(H.itn, SCSI_PROUT_RELEASE, type, 0xA, 0), SAM_STAT_GOOD);
		assert_int_equal(prin(H.itn2, SCSI_PRIN_READ_RESERVATION, &r), SAM_STAT_GOOD);
		assert_int_equal(get_be32(r.in + 4), 0);
		assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0xA, 0), SAM_STAT_GOOD);
		take_ua(H.itn2, 0);
	}
}

/* ---- RELEASE / unregister / CLEAR / PREEMPT unit attentions ---- */
static void test_release_ua(void **s)
{
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE_RO, 0xA, 0);
	/* a registered non-holder's RELEASE: GOOD, nothing released */
	assert_int_equal(prout(H.itn2, SCSI_PROUT_RELEASE, SCSI_PR_WE_RO, 0xB, 0), SAM_STAT_GOOD);
	assert_int_equal(rw(H.itn2, true, 60, 1), SAM_STAT_GOOD);
	/* the holder unregisters: reservation released, 2A/04 to the others */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0xA, 0), SAM_STAT_GOOD);
	assert_true(take_ua(H.itn2, SCSI_ASC_RESERVATIONS_RELEASED));
	struct tres r;
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(get_be32(r.in + 4), 0);
	/* all-registrants: the reservation stays until the last one goes */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_EA_AR, 0xA, 0);
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0xA, 0);
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(r.in[21], SCSI_PR_EA_AR);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_RELEASE, SCSI_PR_EA_AR, 0xB, 0), SAM_STAT_GOOD);
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(get_be32(r.in + 4), 0);
	/* CLEAR: 2A/03 to every other registrant */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_EA, 0xA, 0);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_CLEAR, 0, 0xB, 0), SAM_STAT_GOOD);
	assert_true(take_ua(H.itn, SCSI_ASC_RESERVATIONS_PREEMPTED));
	assert_int_equal(nkeys(H.itn, NULL), 0);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_CLEAR, 0, 0xB, 0), SAM_STAT_RESERVATION_CONFLICT);
}

static void test_preempt(void **s)
{
	struct tres r;
	/* no reservation: PREEMPT removes the registrations of a key */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0xB), SAM_STAT_GOOD);
	assert_true(take_ua(H.itn2, SCSI_ASC_REGISTRATIONS_PREEMPTED));
	assert_int_equal(nkeys(H.itn, NULL), 1);
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0xB),
			 SAM_STAT_RESERVATION_CONFLICT);
	prout_x(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0, 0, NULL, 0, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	/* preempting the holder: the preemptor takes the reservation, new type */
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0xB, 0);
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_EA_RO, 0xA, 0xB), SAM_STAT_GOOD);
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(get_be64(r.in + 8), 0xA);
	assert_int_equal(r.in[21], SCSI_PR_EA_RO);
	assert_true(take_ua(H.itn2, SCSI_ASC_REGISTRATIONS_PREEMPTED));
	assert_int_equal(rw(H.itn2, false, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	take_ua(H.itn2, 0);
	/* all-registrants + SARK 0: everyone else goes, preemptor holds */
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn, SCSI_PROUT_RELEASE, SCSI_PR_EA_RO, 0xA, 0);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE_AR, 0xA, 0);
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0), SAM_STAT_GOOD);
	assert_int_equal(nkeys(H.itn, NULL), 1);
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(r.in[21], SCSI_PR_WE);
	clear_all();
}

/* ---- identities: logout / login, UAs for absent nexuses ---- */
static struct scsi_itn *login(const char *name, const uint8_t *isid, uint16_t port)
{
	struct scsi_port p = { .rel_port_id = port,
			       .tpg_id = 1,
			       .target_iqn = TH_IQN,
			       .tpgt = port };
	struct scsi_itn *itn = scsi_itn_create(H.map, name, isid, &p);
	assert_non_null(itn);
	return itn;
}

static void test_identity(void **s)
{
	static const uint8_t isid2[6] = { 0x80, 0, 0, 0, 0, 2 };
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_EA, 0xB, 0);
	scsi_itn_destroy(H.itn2); /* logout: registration and reservation stay */
	H.itn2 = NULL;
	assert_int_equal(rw(H.itn, false, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0xB), SAM_STAT_GOOD);
	/* back with the same name + ISID + port: the 2A/05 waited for it */
	H.itn2 = login(INI2, isid2, 1);
	assert_true(take_ua(H.itn2, SCSI_ASC_REGISTRATIONS_PREEMPTED));
	/* the same initiator on another port or ISID is another I_T nexus */
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	assert_int_equal(prout(H.itn, SCSI_PROUT_RELEASE, SCSI_PR_WE, 0xA, 0), SAM_STAT_GOOD);
	assert_int_equal(prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE_RO, 0xA, 0), SAM_STAT_GOOD);
	struct scsi_itn *other_port = login(INI2, isid2, 2), *other_isid = login(INI2, ISID3, 1);
	th_clear_ua(&H, other_port);
	th_clear_ua(&H, other_isid);
	assert_int_equal(rw(other_port, true, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(rw(other_isid, true, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(rw(H.itn2, true, 0, 0), SAM_STAT_GOOD); /* WE_RO: registrants write */
	/* ALL_TG_PT: one registration for every target port */
	struct tres r;
	assert_int_equal(prout_x(other_isid, SCSI_PROUT_REGISTER, 0, 0, 0xC, SCSI_PROUT_ALL_TG_PT,
				 NULL, 0, &r),
			 SAM_STAT_GOOD);
	struct scsi_itn *isid3_port2 = login(INI2, ISID3, 2);
	th_clear_ua(&H, isid3_port2);
	assert_int_equal(prout(isid3_port2, SCSI_PROUT_REGISTER, 0, 0xC, 0xD), SAM_STAT_GOOD);
	scsi_itn_destroy(other_port);
	scsi_itn_destroy(other_isid);
	scsi_itn_destroy(isid3_port2);
	clear_all();
}

/* ---- READ FULL STATUS, REPORT CAPABILITIES, SPEC_I_PT, REGISTER AND MOVE ---- */
static size_t tid(uint8_t *b, const char *name, const uint8_t *isid)
{
	struct scsi_pr_id id = { .flags = isid ? 0 : PRID_ANY_ISID };
	snprintf(id.name, sizeof(id.name), "%s", name);
	if (isid)
		memcpy(id.isid, isid, 6);
	return scsi_tid_encode(&id, b);
}

static void test_caps_and_full_status(void **s)
{
	struct tres r;
	assert_int_equal(prin(H.itn, SCSI_PRIN_REPORT_CAPABILITIES, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in_len, 8);
	assert_int_equal(get_be16(r.in), 8);
	assert_int_equal(r.in[2], 0x1C);        /* CRH SIP_C ATP_C; no PTPL_C without a state dir */
	assert_int_equal(r.in[3] & 0x81, 0x80); /* TMV, PTPL_A clear */
	assert_int_equal(r.in[4], 0xEA);
	assert_int_equal(r.in[5], 0x01);
	/* SPEC_I_PT: register ourselves and ini2 (every ISID, format 00h) */
	uint8_t ext[512];
	size_t n = tid(ext + 4, INI2, NULL);
	put_be32(ext, (uint32_t)n);
	assert_int_equal(prout_x(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA, SCSI_PROUT_SPEC_I_PT, ext,
				 n + 4, &r),
			 SAM_STAT_GOOD);
	assert_int_equal(nkeys(H.itn, NULL), 2);
	assert_int_equal(prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0xA, 0), SAM_STAT_GOOD);
	assert_int_equal(prin(H.itn, SCSI_PRIN_READ_FULL_STATUS, &r), SAM_STAT_GOOD);
	size_t off = 8, end = 8 + get_be32(r.in + 4);
	int seen = 0;
	while (off < end) {
		const uint8_t *d = r.in + off;
		struct scsi_tid t;
		uint32_t dl = get_be32(d + 20);
		assert_true(scsi_tid_parse(d + 24, dl, &t) == (int)dl);
		assert_int_equal(get_be64(d), 0xA);
		if (!strcmp(t.name, INI2)) {
			assert_false(t.has_isid);
			assert_int_equal(d[12] & 1, 1); /* R_HOLDER */
			assert_int_equal(d[13], SCSI_PR_WE);
		} else {
			assert_string_equal(t.name, INI1);
			assert_true(t.has_isid);
			assert_int_equal(t.isid[5], 1);
			assert_int_equal(get_be16(d + 18), 1);
			assert_int_equal(d[12] & 1, 0);
		}
		seen++;
		off += 24 + dl;
	}
	assert_int_equal(seen, 2);
	/* SPEC_I_PT naming an already registered nexus: refused, nothing added */
	assert_int_equal(prout_x(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xE, SCSI_PROUT_SPEC_I_PT, ext,
				 n + 4, &r),
			 SAM_STAT_CHECK_CONDITION);
	/* a malformed TransportID list: INVALID FIELD IN PARAMETER LIST */
	prout(H.itn, SCSI_PROUT_CLEAR, 0, 0xA, 0);
	take_ua(H.itn2, 0);
	ext[4] = 0x41; /* format 01h on a name without ",i,0x" */
	prout_x(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA, SCSI_PROUT_SPEC_I_PT, ext, n + 4, &r);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(nkeys(H.itn, NULL), 0);
}

static void test_register_move(void **s)
{
	static const uint8_t isid2[6] = { 0x80, 0, 0, 0, 0, 2 };
	static uint8_t p[512];
	struct tres r;
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_EA, 0xA, 0);
	memset(p, 0, sizeof(p));
	put_be64(p, 0xA);
	put_be64(p + 8, 0xB);
	p[17] = SCSI_PROUT_MOVE_UNREG;
	put_be16(p + 18, 1);
	size_t n = tid(p + 24, INI2, isid2);
	put_be32(p + 20, (uint32_t)n);
	uint8_t c[10] = { SCSI_OP_PR_OUT, SCSI_PROUT_REGISTER_MOVE, SCSI_PR_EA };
	put_be32(c + 5, (uint32_t)(24 + n));
	/* only the holder may move; not registered => conflict */
	assert_int_equal(th_cmd_itn(&H, H.itn2, 0, c, 10, p, (uint32_t)(24 + n), &r),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(th_cmd_itn(&H, H.itn, 0, c, 10, p, (uint32_t)(24 + n), &r), SAM_STAT_GOOD);
	prin(H.itn2, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(get_be64(r.in + 8), 0xB);
	assert_int_equal(nkeys(H.itn, NULL), 1); /* UNREG: the source is gone */
	assert_int_equal(rw(H.itn2, true, 0, 0), SAM_STAT_GOOD);
	assert_int_equal(rw(H.itn, false, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	/* moving to ourselves is refused */
	put_be64(p, 0xB);
	assert_int_equal(th_cmd_itn(&H, H.itn2, 0, c, 10, p, (uint32_t)(24 + n), &r),
			 SAM_STAT_CHECK_CONDITION);
	assert_check(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	prout(H.itn2, SCSI_PROUT_CLEAR, 0, 0xB, 0);
}

/* ---- SPC-2 RESERVE / RELEASE and their interaction with PR ---- */
static void test_spc2(void **s)
{
	assert_int_equal(cmd6(H.itn, SCSI_OP_RESERVE6), SAM_STAT_GOOD);
	assert_int_equal(cmd6(H.itn, SCSI_OP_RESERVE6), SAM_STAT_GOOD);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_RESERVE6), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_TEST_UNIT_READY), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_INQUIRY), SAM_STAT_GOOD);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_RELEASE6), SAM_STAT_GOOD); /* nop */
	assert_int_equal(prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 1),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(rw(H.itn, true, 0, 0), SAM_STAT_GOOD);
	assert_int_equal(cmd6(H.itn, SCSI_OP_RELEASE6), SAM_STAT_GOOD);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_TEST_UNIT_READY), SAM_STAT_GOOD);
	/* LUN reset and nexus loss release it; PRs are not */
	cmd6(H.itn, SCSI_OP_RESERVE6);
	scsi_lu_reset(H.lu, NULL);
	take_ua(H.itn, 0);
	take_ua(H.itn2, 0);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_RESERVE6), SAM_STAT_GOOD);
	scsi_itn_destroy(H.itn2);
	H.itn2 = login(INI2, (const uint8_t[6]){ 0x80, 0, 0, 0, 0, 2 }, 1);
	th_clear_ua(&H, H.itn2);
	assert_int_equal(cmd6(H.itn, SCSI_OP_TEST_UNIT_READY), SAM_STAT_GOOD);
	/* with a registration, RESERVE and RELEASE conflict for everyone */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0xA, 0);
	assert_int_equal(cmd6(H.itn, SCSI_OP_RESERVE6), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(cmd6(H.itn2, SCSI_OP_RELEASE6), SAM_STAT_RESERVATION_CONFLICT);
	scsi_target_reset(H.map, NULL, false);
	take_ua(H.itn, 0);
	take_ua(H.itn2, 0);
	assert_int_equal(rw(H.itn2, true, 0, 0), SAM_STAT_RESERVATION_CONFLICT); /* PR survived */
	prout(H.itn, SCSI_PROUT_CLEAR, 0, 0xA, 0);
}

/* ---- PREEMPT AND ABORT against a fake transport ---- */
static struct {
	int calls;
	struct scsi_itn *itn;
	void (*done)(void *);
	void *arg;
	struct kloop_timer tm;
	bool released;
} fake;

static void fake_release(struct kloop_timer *tm)
{
	kloop_timer_stop(H.l, tm);
	fake.released = true;
	fake.done(fake.arg);
}

static void fake_abort(void *ctx, struct scsi_itn *itn, struct scsi_lu *lu, void (*done)(void *),
		       void *arg)
{
	assert_ptr_equal(ctx, &fake);
	assert_ptr_equal(lu, H.lu);
	fake.calls++;
	fake.itn = itn;
	fake.done = done;
	fake.arg = arg;
	fake.tm.fn = fake_release;
	kloop_timer_start(H.l, &fake.tm, 30); /* "tasks stop" 30 ms later */
}

static const struct scsi_transport_ops fake_ops = { fake_abort };

static void test_preempt_abort(void **s)
{
	memset(&fake, 0, sizeof(fake));
	scsi_itn_set_transport(H.itn2, &fake_ops, &fake);
	scsi_itn_set_transport(H.itn, &fake_ops, &fake); /* the preemptor is never aborted */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_WE, 0xB, 0);
	/* plain PREEMPT: no abort */
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE, 0xA, 0xB), SAM_STAT_GOOD);
	assert_int_equal(fake.calls, 0);
	take_ua(H.itn2, 0);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	/* PREEMPT AND ABORT completes only after the transport said done */
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT_ABORT, SCSI_PR_EA_RO, 0xA, 0xB),
			 SAM_STAT_GOOD);
	assert_int_equal(fake.calls, 1);
	assert_ptr_equal(fake.itn, H.itn2);
	assert_true(fake.released);
	assert_true(take_ua(H.itn2, SCSI_ASC_REGISTRATIONS_PREEMPTED));
	assert_int_equal(rw(H.itn2, true, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	scsi_itn_set_transport(H.itn, NULL, NULL);
	scsi_itn_set_transport(H.itn2, NULL, NULL);
	take_ua(H.itn2, 0);
	prout(H.itn, SCSI_PROUT_CLEAR, 0, 0xA, 0);
}

/* A write queued behind a range lock when its nexus is preempted never
 * lands: the re-check after the lock refuses it. */
static int wdone_calls;
static void wdone(struct scsi_task *t)
{
	wdone_calls++;
	kloop_stop(t->loop);
}

static void queued_after_preempt(bool caw)
{
	static uint8_t data[2 * TH_BS];
	struct tres r;
	wdone_calls = 0;
	assert_int_equal(rw(H.itn, true, 70, 0x11), SAM_STAT_GOOD);
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	prout(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_WE_RO, 0xA, 0);
	/* a fake holder of block 70's range lock */
	struct scsi_task blocker;
	memset(&blocker, 0, sizeof(blocker));
	blocker.loop = H.l;
	assert_true(scsi_range_lock(H.lu, &blocker, 70, 1, true, NULL));
	/* itn2 (a registrant: allowed at dispatch) writes block 70, or
	 * COMPARE AND WRITEs 0x11 -> 0x22 on it: it waits for the lock */
	struct tcmd *w = calloc(1, sizeof(*w));
	uint8_t c[16] = { 0 };
	memset(data, caw ? 0x11 : 0x22, TH_BS);
	memset(data + TH_BS, 0x22, TH_BS);
	if (caw) {
		c[0] = SCSI_OP_COMPARE_AND_WRITE;
		put_be64(c + 2, 70);
		c[13] = 1;
	} else {
		cdb10(c, SCSI_OP_WRITE10, 70, 1);
	}
	tcmd_prep(w, &H, H.itn2, 0, c, caw ? 16 : 10, data, caw ? 2 * TH_BS : TH_BS);
	w->t.done = wdone;
	scsi_task_exec(&w->t);
	assert_int_equal(w->t.st.rl_state, 2);
	/* itn preempts itn2 */
	assert_int_equal(prout(H.itn, SCSI_PROUT_PREEMPT, SCSI_PR_WE_RO, 0xA, 0xB), SAM_STAT_GOOD);
	scsi_range_unlock(H.lu, &blocker);
	kloop_run(H.l);
	assert_int_equal(wdone_calls, 1);
	assert_int_equal(w->t.status, SAM_STAT_RESERVATION_CONFLICT);
	scsi_task_release(&w->t);
	free(w);
	cdb10(c, SCSI_OP_READ10, 70, 1);
	assert_int_equal(th_cmd(&H, c, 10, NULL, 0, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[0], 0x11);
	take_ua(H.itn2, 0);
	prout(H.itn, SCSI_PROUT_CLEAR, 0, 0xA, 0);
}

static void test_queued_write_after_preempt(void **s)
{
	queued_after_preempt(false);
	queued_after_preempt(true); /* COMPARE AND WRITE: checked under its exclusive lock */
}

/* ---- TransportIDs: hostile input ---- */
static void test_tid_parse(void **s)
{
	uint8_t b[300];
	struct scsi_tid t;
	static const uint8_t isid[6] = { 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a };
	size_t n = tid(b, "iqn.2026-01.org.x:a", isid);
	assert_int_equal(n % 4, 0);
	assert_int_equal(scsi_tid_parse(b, n, &t), (int)n);
	assert_string_equal(t.name, "iqn.2026-01.org.x:a");
	assert_memory_equal(t.isid, isid, 6);
	for (size_t k = 0; k < n; k++) /* every truncation */
		assert_int_equal(scsi_tid_parse(b, k, &t), -1);
	uint8_t x[300];
	memcpy(x, b, n);
	x[0] = (x[0] & 0xF0) | 0x1; /* Fibre Channel */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memcpy(x, b, n);
	x[0] |= 0x80; /* format 10b */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memcpy(x, b, n);
	put_be16(x + 2, (uint16_t)(get_be16(x + 2) - 2)); /* not a multiple of 4 */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memcpy(x, b, n);
	put_be16(x + 2, 16); /* below the minimum of 20 */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memset(x, 'a', sizeof(x)); /* no NUL inside ADDITIONAL LENGTH */
	x[0] = 0x45;
	x[1] = 0;
	put_be16(x + 2, 28);
	assert_int_equal(scsi_tid_parse(x, 32, &t), -1);
	memcpy(x, b, n);
	char *sep = strstr((char *)x + 4, ",i,0x");
	sep[6] = 'g'; /* not hex */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memcpy(x, b, n);
	sep = strstr((char *)x + 4, ",i,0x");
	sep[5 + 11] = '\0'; /* 11 hex digits */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memcpy(x, b, n);
	x[0] = 0x05; /* format 00h but the string has ",i,0x" */
	assert_int_equal(scsi_tid_parse(x, n, &t), -1);
	memset(x, 0, sizeof(x));
	x[0] = 0x05; /* empty name */
	put_be16(x + 2, 20);
	assert_int_equal(scsi_tid_parse(x, 24, &t), -1);
	memset(x, 'n', sizeof(x)); /* name of 240 bytes: too long */
	x[0] = 0x05;
	x[1] = 0;
	put_be16(x + 2, 244);
	x[4 + 240] = 0;
	assert_int_equal(scsi_tid_parse(x, 248, &t), -1);
	/* longest valid: 223-byte name with an ISID */
	char name[224];
	memset(name, 'q', 223);
	name[223] = 0;
	n = tid(b, name, isid);
	assert_int_equal(n, SCSI_TID_MAX_LEN);
	assert_int_equal(scsi_tid_parse(b, n, &t), (int)n);
	n = tid(b, "iqn.x", NULL);
	assert_int_equal(n, 24);
	assert_int_equal(scsi_tid_parse(b, n + 10, &t), 24);
	assert_false(t.has_isid);
}

/* ---- the state file ---- */
static char tmpdir[64];

static struct scsi_lu *lu_with_dir(bool all, int *rc, char *err, size_t errlen)
{
	struct lun_backend_params bp = { .type = "memory",
					 .size = TH_BLOCKS * TH_BS,
					 .block_size = TH_BS };
	struct lun_backend *be = NULL;
	assert_int_equal(lun_backend_open(&bp, &be, err, errlen), 0);
	struct scsi_lu_params p = { .target_iqn = TH_IQN,
				    .lun = 0,
				    .pr_dir = tmpdir,
				    .pr_persist_all = all };
	struct scsi_lu *lu = NULL;
	*rc = scsi_lu_create(&p, be, &lu, err, errlen);
	if (*rc < 0)
		lun_backend_close(be);
	return lu;
}

/* Swap H's LU for one with a state directory (fresh nexuses). */
static void swap_lu(struct scsi_lu *lu)
{
	static const uint8_t isid1[6] = { 0x80, 0, 0, 0, 0, 1 }, isid2[6] = { 0x80, 0, 0, 0, 0, 2 };
	scsi_itn_destroy(H.itn);
	scsi_itn_destroy(H.itn2);
	scsi_lu_destroy(H.lu);
	atomic_store(&H.map->lu[0], lu);
	H.lu = lu;
	H.itn = login(INI1, isid1, 1);
	H.itn2 = login(INI2, isid2, 1);
	th_clear_ua(&H, H.itn);
	th_clear_ua(&H, H.itn2);
}

static char *state_path(void)
{
	static char p[512];
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	p[0] = 0;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".pr") && !strstr(e->d_name, ".tmp"))
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
	if (d)
		closedir(d);
	return p;
}

static int pr_setup(void **s)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kura-test-pr.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return setup(s);
}

static int pr_teardown(void **s)
{
	char *p = state_path();
	if (p[0])
		unlink(p);
	rmdir(tmpdir);
	return teardown(s);
}

static void test_record_round_trip(void **s)
{
	struct scsi_pr a = { 0 }, b = { 0 };
	uint8_t naa[16] = { 0x60, 1, 2, 3 };
	char why[160];
	struct scsi_pr_id id = { .name = INI1, .isid = { 0x80, 0, 0, 0, 0, 1 }, .rel_port = 1 };
	struct scsi_pr_reg r1 = { .id = id, .key = 0x1122334455667788ull }, r2 = r1;
	snprintf(r2.id.name, sizeof(r2.id.name), "%s", INI2);
	r2.id.flags = PRID_ANY_ISID | PRID_ANY_PORT;
	r2.key = 7;
	r1.next = &r2;
	a.regs = &r1;
	a.nregs = 2;
	a.reserved = true;
	a.type = SCSI_PR_EA_RO;
	a.holder = &r2;
	a.generation = 42;
	a.aptpl = true;
	size_t len;
	uint8_t *enc = scsi_pr_encode(&a, naa, 0, false, &len);
	assert_non_null(enc);
	assert_int_equal(scsi_pr_decode(&b, naa, enc, len, why, sizeof(why)), 0);
	assert_int_equal(b.nregs, 2);
	assert_int_equal(b.generation, 42);
	assert_true(b.aptpl && b.reserved);
	assert_int_equal(b.type, SCSI_PR_EA_RO);
	assert_ptr_equal(b.holder, b.regs->next);
	assert_int_equal(b.regs->key, r1.key);
	assert_memory_equal(&b.regs->id, &r1.id, sizeof(id));
	assert_memory_equal(&b.regs->next->id, &r2.id, sizeof(id));
	scsi_pr_free_state(&b);
	/* every torn length and every flipped byte is refused */
	for (size_t k = 0; k < len; k++) {
		struct scsi_pr c = { 0 };
		assert_int_equal(scsi_pr_decode(&c, naa, enc, k, why, sizeof(why)), -EINVAL);
		scsi_pr_free_state(&c);
	}
	for (size_t k = 0; k < len; k++) {
		struct scsi_pr c = { 0 };
		enc[k] ^= 0x04;
		assert_int_equal(scsi_pr_decode(&c, naa, enc, len, why, sizeof(why)), -EINVAL);
		enc[k] ^= 0x04;
		scsi_pr_free_state(&c);
	}
	naa[3] = 9; /* another LU's file */
	assert_int_equal(scsi_pr_decode(&b, naa, enc, len, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "another logical unit"));
	free(enc);
}

static void test_aptpl_restore(void **s)
{
	char err[512];
	int rc;
	swap_lu(lu_with_dir(false, &rc, err, sizeof(err)));
	struct tres r;
	assert_int_equal(prin(H.itn, SCSI_PRIN_REPORT_CAPABILITIES, &r), SAM_STAT_GOOD);
	assert_int_equal(r.in[2] & 1, 1); /* PTPL_C */
	/* without APTPL nothing is written in aptpl mode */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	assert_string_equal(state_path(), "");
	/* APTPL: state on disk before the command completed */
	assert_int_equal(prout_x(H.itn2, SCSI_PROUT_REGISTER, 0, 0, 0xB, SCSI_PROUT_APTPL, NULL, 0,
				 &r),
			 SAM_STAT_GOOD);
	assert_string_not_equal(state_path(), "");
	assert_int_equal(prout(H.itn2, SCSI_PROUT_RESERVE, SCSI_PR_WE_RO, 0xB, 0), SAM_STAT_GOOD);
	prin(H.itn, SCSI_PRIN_REPORT_CAPABILITIES, &r);
	assert_int_equal(r.in[3] & 1, 1); /* PTPL_A */
	uint32_t gen;
	nkeys(H.itn, &gen);
	/* "restart": a new LU over the same directory */
	struct scsi_lu *lu2 = lu_with_dir(false, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	swap_lu(lu2);
	uint32_t gen2;
	assert_int_equal(nkeys(H.itn, &gen2), 2);
	assert_int_equal(gen2, gen);
	prin(H.itn, SCSI_PRIN_READ_RESERVATION, &r);
	assert_int_equal(get_be64(r.in + 8), 0xB);
	assert_int_equal(rw(H.itn, true, 0, 0), SAM_STAT_GOOD); /* ini1 is still registered */
	/* APTPL off: the next restart starts empty */
	assert_int_equal(prout(H.itn, SCSI_PROUT_REGISTER, 0, 0xA, 0xC), SAM_STAT_GOOD);
	swap_lu(lu_with_dir(false, &rc, err, sizeof(err)));
	assert_int_equal(nkeys(H.itn, NULL), 0);
	/* pr_persist = all: every change is kept */
	swap_lu(lu_with_dir(true, &rc, err, sizeof(err)));
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xD);
	prout(H.itn, SCSI_PROUT_RESERVE, SCSI_PR_EA, 0xD, 0);
	swap_lu(lu_with_dir(true, &rc, err, sizeof(err)));
	assert_int_equal(nkeys(H.itn, NULL), 1);
	assert_int_equal(rw(H.itn2, false, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
}

static void test_corrupt_file_refused(void **s)
{
	char err[1024];
	int rc;
	swap_lu(lu_with_dir(true, &rc, err, sizeof(err)));
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0, 0xA);
	char *p = state_path();
	assert_string_not_equal(p, "");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	/* torn write: the file cut short */
	assert_int_equal(truncate(p, st.st_size - 3), 0);
	assert_null(lu_with_dir(true, &rc, err, sizeof(err)));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "refusing"));
	/* a flipped byte */
	prout(H.itn, SCSI_PROUT_REGISTER, 0, 0xA, 0xB); /* rewrites a good file */
	int fd = open(p, O_RDWR);
	uint8_t byte;
	assert_int_equal(pread(fd, &byte, 1, 50), 1);
	byte ^= 1;
	assert_int_equal(pwrite(fd, &byte, 1, 50), 1);
	close(fd);
	assert_null(lu_with_dir(true, &rc, err, sizeof(err)));
	assert_non_null(strstr(err, "checksum"));
	unlink(p); /* moved away: the LU starts without reservations */
	struct scsi_lu *ok = lu_with_dir(true, &rc, err, sizeof(err));
	assert_non_null(ok);
	swap_lu(ok);
	assert_int_equal(nkeys(H.itn, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_param_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_ua, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps_and_full_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spc2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_write_after_preempt, setup, teardown),
		cmocka_unit_test(test_tid_parse),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test_setup_teardown(test_aptpl_restore, pr_setup, pr_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file_refused, pr_setup, pr_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
