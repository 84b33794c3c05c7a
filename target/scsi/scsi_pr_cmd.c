/* SPDX-License-Identifier: Apache-2.0 */
/* PERSISTENT RESERVE IN and PERSISTENT RESERVE OUT (SPC-4 5.13, 6.15, 6.16),
 * SPC-2 RESERVE / RELEASE (6) and (10), and the execution-time reservation
 * re-check of medium accesses (scsi_pr_recheck; see scsi_pr.c for why).
 *
 * PRIN answers READ KEYS, READ RESERVATION, REPORT CAPABILITIES and READ
 * FULL STATUS from a snapshot taken under lu->pr.lock. PROUT decodes its
 * parameter list (pure), then runs one service-action handler from a table
 * with the lock held; a handler changes the state, raises the unit
 * attentions SPC-4 5.13.11 asks for and, for PREEMPT AND ABORT, asks the
 * transport to abort the preempted nexuses' tasks. The command completes
 * only when (a) every abort has been confirmed and (b) the new state is on
 * disk when it must be (APTPL, or pr_persist = all): durable before reply.
 *
 *   PROUT task (loop A)       helper thread          victim session (loop B)
 *   lock; change; snapshot
 *   queue snapshot ---------> write tmp, fsync,
 *   abort_nexus_tasks ----------------------------->  abort tasks on the LU,
 *   unlock                    rename, fsync dir        wait for them
 *       <---- done (pending--) ----                   <--- done (pending--)
 *   pending == 0: post to loop A -> GOOD
 *
 * If writing the state fails the command ends with HARDWARE ERROR / INTERNAL
 * TARGET FAILURE; the in-memory change stays (the initiator must treat the
 * outcome as unknown, as for any failed command).
 *
 * Not for: the conflict decision of other commands (scsi_pr.c) or the file
 * format (scsi_pr_file.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/kbuf.h"
#include "common/log.h"
#include "target/scsi/scsi_internal.h"

#define PROUT_MAX_PARAM (SCSI_PROUT_PARAM_LEN + 4 + 256 * SCSI_TID_MAX_LEN)
#define PRIN_BUF_MAX \
	(SCSI_PRIN_HDR_LEN + SCSI_PR_MAX_REGS * (SCSI_PRIN_FULL_DESC_LEN + SCSI_TID_MAX_LEN))

/* ---------------------------------------------------------------- re-check */
bool scsi_pr_recheck(struct scsi_task *t)
{
	if (!t->st.op || scsi_lu_pr_check(t->lu, t->itn, t->st.op) == SR_GOOD)
		return true;
	scsi_range_unlock(t->lu, t);
	scsi_task_finish(t, SR_RESERVATION_CONFLICT);
	return false;
}

/* ---- SPC-2 RESERVE / RELEASE (SPC-2 7.21-7.24; SPC-4 5.13.1) ---- */
int scsi_exec_reserve(struct scsi_task *t)
{
	struct scsi_pr *pr = &t->lu->pr;
	if (t->cdb[0] == SCSI_OP_RESERVE10 && (t->cdb[1] & 0x10))
		return scsi_fail_field(t, 1, 4); /* third-party reservations: not supported */
	pthread_mutex_lock(&pr->lock);
	int r = SR_GOOD;
	if (pr->nregs || (pr->spc2_holder && pr->spc2_holder != t->itn))
		r = SR_RESERVATION_CONFLICT; /* SPC-4 5.13.1: any registration => conflict */
	else
		pr->spc2_holder = t->itn;
	scsi_pr_update_active(pr);
	pthread_mutex_unlock(&pr->lock);
	return r;
}

int scsi_exec_release(struct scsi_task *t)
{
	struct scsi_pr *pr = &t->lu->pr;
	if (t->cdb[0] == SCSI_OP_RELEASE10 && (t->cdb[1] & 0x10))
		return scsi_fail_field(t, 1, 4);
	pthread_mutex_lock(&pr->lock);
	int r = SR_GOOD;
	if (pr->nregs)
		r = SR_RESERVATION_CONFLICT;
	else if (pr->spc2_holder == t->itn)
		pr->spc2_holder = NULL; /* from a non-holder: GOOD, nothing released */
	scsi_pr_update_active(pr);
	pthread_mutex_unlock(&pr->lock);
	return r;
}

/* ---------------------------------------------------------------- PRIN */
static size_t prin_read_keys(const struct scsi_pr *pr, uint8_t *b)
{
	size_t n = SCSI_PRIN_HDR_LEN;
	for (const struct scsi_pr_reg *r = pr->regs; r; r = r->next, n += 8)
		put_be64(b + n, r->key);
	return n;
}

/* SPC-4 6.15.3: all-registrants types report key 0 (table 166 note). */
static uint64_t resv_key(const struct scsi_pr *pr)
{
	bool ar = pr->type == SCSI_PR_WE_AR || pr->type == SCSI_PR_EA_AR;
	return ar || !pr->holder ? 0 : pr->holder->key;
}

static size_t prin_read_reservation(const struct scsi_pr *pr, uint8_t *b)
{
	if (!pr->reserved)
		return SCSI_PRIN_HDR_LEN;
	put_be64(b + 8, resv_key(pr));
	b[8 + 13] = (uint8_t)(SCSI_PR_SCOPE_LU << 4 | pr->type);
	return SCSI_PRIN_HDR_LEN + SCSI_PRIN_RESV_DESC_LEN;
}

/* SPC-4 6.15.4, table 167: CRH, SIP_C, ATP_C, PTPL_C; TMV + type mask. */
static size_t prin_report_caps(const struct scsi_pr *pr, uint8_t *b)
{
	put_be16(b, SCSI_PRIN_CAPS_LEN);
	b[2] = 0x10 | 0x08 | 0x04 | (pr->store ? 0x01 : 0);
	b[3] = 0x80 | (pr->aptpl ? 0x01 : 0);
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX */
	b[5] = 0x01;                             /* EX_AC_AR */
	return SCSI_PRIN_CAPS_LEN;
}

static bool is_holder(const struct scsi_pr *pr, const struct scsi_pr_reg *r)
{
	bool ar = pr->type == SCSI_PR_WE_AR || pr->type == SCSI_PR_EA_AR;
	return r && pr->reserved && (ar || r == pr->holder);
}

/* SPC-4 6.15.5, table 169: one descriptor per registration. */
static size_t prin_full_status(const struct scsi_pr *pr, uint8_t *b)
{
	size_t n = SCSI_PRIN_HDR_LEN;
	for (const struct scsi_pr_reg *r = pr->regs; r; r = r->next) {
		uint8_t *d = b + n;
		put_be64(d, r->key);
		d[12] = (uint8_t)(((r->id.flags & PRID_ANY_PORT) ? 0x02 : 0) |
				  (is_holder(pr, r) ? 0x01 : 0));
		if (is_holder(pr, r))
			d[13] = (uint8_t)(SCSI_PR_SCOPE_LU << 4 | pr->type);
		put_be16(d + 18, (r->id.flags & PRID_ANY_PORT) ? 0 : r->id.rel_port);
		size_t tl = scsi_tid_encode(&r->id, d + SCSI_PRIN_FULL_DESC_LEN);
		put_be32(d + 20, (uint32_t)tl);
		n += SCSI_PRIN_FULL_DESC_LEN + tl;
	}
	return n;
}

typedef size_t (*prin_fn)(const struct scsi_pr *pr, uint8_t *b);
static const prin_fn prin_sa_fns[4] = {
	[SCSI_PRIN_READ_KEYS] = prin_read_keys,
	[SCSI_PRIN_READ_RESERVATION] = prin_read_reservation,
	[SCSI_PRIN_REPORT_CAPABILITIES] = prin_report_caps,
	[SCSI_PRIN_READ_FULL_STATUS] = prin_full_status,
};

int scsi_exec_prin(struct scsi_task *t)
{
	uint8_t sa = t->cdb[1] & 0x1F;
	uint16_t alloc = get_be16(t->cdb + 7);
	struct scsi_pr *pr = &t->lu->pr;
	uint8_t *b = scsi_in_alloc(t, PRIN_BUF_MAX);
	if (!b)
		return SR_PENDING;
	pthread_mutex_lock(&pr->lock);
	size_t n = prin_sa_fns[sa & 3](pr, b);
	if (sa != SCSI_PRIN_REPORT_CAPABILITIES) {
		put_be32(b, pr->generation);
		put_be32(b + 4, (uint32_t)(n - SCSI_PRIN_HDR_LEN));
	}
	pthread_mutex_unlock(&pr->lock);
	return scsi_in_done(t, n, alloc);
}

/* ---------------------------------------------------------------- PROUT */
/* Completion: one count for the command itself, one per transport abort,
 * one for the state file. Whoever drops it to zero posts the finish. */
struct prout_wait {
	struct kloop_task kt;
	atomic_uint pending;
	atomic_int result;
	atomic_bool rerun; /* shared store: the record had moved on (reloaded) */
	struct scsi_task *t;
};

struct prout {
	struct scsi_task *t;
	struct scsi_lu *lu;
	struct scsi_pr *pr;
	struct scsi_pr_id me;
	struct scsi_pr_reg *reg; /* the requester's registration, if any */
	uint64_t rk, sark;
	uint8_t sa, scope, type, flags;
	const uint8_t *p; /* parameter list (plen bytes) */
	size_t plen;
	bool changed, gen; /* state changed / bump PRgeneration */
	struct prout_wait *w;
};

static void prout_rerun(struct scsi_task *t);

static void prout_finish_fn(struct kloop_task *kt)
{
	struct prout_wait *w = (struct prout_wait *)kt;
	struct scsi_task *t = w->t;
	int r = atomic_load(&w->result);
	bool rerun = atomic_load(&w->rerun);
	free(w);
	if (scsi_pr_shared(&t->lu->pr))
		scsi_pr_prout_leave(t->lu);
	if (rerun)
		prout_rerun(t); /* against the state another gateway stored first */
	else
		scsi_task_finish(t, r);
}

static void prout_put(void *arg)
{
	struct prout_wait *w = arg;
	if (atomic_fetch_sub(&w->pending, 1) == 1)
		kloop_post(w->t->loop, &w->kt);
}

/* On the store's helper thread. A shared record that had moved on (another
 * gateway stored first) is reloaded here and the PROUT runs again; any
 * other failure also reloads it, so this gateway does not keep a state
 * that no one else has. */
static void prout_persisted(void *arg, int result)
{
	struct prout_wait *w = arg;
	struct scsi_lu *lu = w->t->lu;
	if (result < 0 && scsi_pr_shared(&lu->pr) && scsi_pr_reload(lu) == 0 &&
	    result == -ECANCELED)
		atomic_store(&w->rerun, true);
	else if (result < 0)
		atomic_store(&w->result, SR_INTERNAL_FAILURE);
	prout_put(w);
}

/* ---- registrations ---- */
static struct scsi_pr_reg *reg_add(struct prout *c, const struct scsi_pr_id *id, uint64_t key)
{
	struct scsi_pr_reg *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->id = *id;
	r->key = key;
	struct scsi_pr_reg **pp = &c->pr->regs; /* append: READ KEYS in registration order */
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	c->pr->nregs++;
	return r;
}

/* Unlink and free r; a released reservation raises `ua` for the remaining
 * registrants when the type is a registrants-only one (SPC-4 5.13.11.2). */
static void reg_remove(struct prout *c, struct scsi_pr_reg *r)
{
	struct scsi_pr *pr = c->pr;
	for (struct scsi_pr_reg **pp = &pr->regs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pr->nregs--;
	if (pr->holder == r)
		pr->holder = NULL;
	if (c->reg == r)
		c->reg = NULL;
	free(r);
}

static void resv_clear(struct scsi_pr *pr)
{
	pr->reserved = false;
	pr->holder = NULL;
	pr->type = 0;
}

static bool all_registrants(const struct scsi_pr *pr)
{
	return pr->type == SCSI_PR_WE_AR || pr->type == SCSI_PR_EA_AR;
}

static void ua_others(struct prout *c, enum scsi_ua ua)
{
	for (struct scsi_pr_reg *r = c->pr->regs; r; r = r->next)
		if (!scsi_pr_id_match(&r->id, &c->me))
			scsi_pr_raise_ua(c->lu, &r->id, ua);
}

/* SPC-4 5.13.11.2.2 / 5.13.7: a holder that unregisters releases the
 * reservation (all-registrants: only when the last registrant goes);
 * RESERVATIONS RELEASED goes to the remaining registrants for *_RO types. */
static void unregister(struct prout *c, struct scsi_pr_reg *r)
{
	struct scsi_pr *pr = c->pr;
	bool releases = pr->reserved && (all_registrants(pr) ? pr->nregs == 1 : pr->holder == r);
	uint8_t type = pr->type;
	reg_remove(c, r);
	if (!releases)
		return;
	resv_clear(pr);
	if (type == SCSI_PR_WE_RO || type == SCSI_PR_EA_RO)
		ua_others(c, SCSI_UA_RES_RELEASED);
}

/* ---- parameter list ---- */
static int check_scope_type(struct prout *c)
{
	if (c->scope != SCSI_PR_SCOPE_LU)
		return scsi_fail_field(c->t, 2, 7);
	switch (c->type) {
	case SCSI_PR_WE:
	case SCSI_PR_EA:
	case SCSI_PR_WE_RO:
	case SCSI_PR_EA_RO:
	case SCSI_PR_WE_AR:
	case SCSI_PR_EA_AR: return SR_GOOD;
	default: return scsi_fail_field(c->t, 2, 3);
	}
}

/* SPC-4 5.13.4: every service action but the two REGISTERs needs a
 * registered nexus whose key is RESERVATION KEY. */
static int check_key(struct prout *c)
{
	if (!c->reg || c->reg->key != c->rk)
		return SR_RESERVATION_CONFLICT;
	return SR_GOOD;
}

/* RESERVE and PREEMPT: scope and type first, then the key. */
static int check_scope_type_key(struct prout *c)
{
	int r = check_scope_type(c);
	return r == SR_GOOD ? check_key(c) : r;
}

/* SPEC_I_PT (SPC-4 6.16.3): bytes 24..27 TRANSPORTID PARAMETER DATA
 * LENGTH, then that many bytes of TransportIDs. Validates all of them and
 * fills ids[] (max n); returns SR_GOOD and *count. */
static int parse_spec_i_pt(struct prout *c, struct scsi_pr_id *ids, unsigned max, unsigned *count)
{
	*count = 0;
	if (c->plen < SCSI_PROUT_PARAM_LEN + 4)
		return SR_PARAM_LIST_LENGTH;
	size_t tlen = get_be32(c->p + 24), off = SCSI_PROUT_PARAM_LEN + 4;
	if (tlen != c->plen - off)
		return SR_PARAM_LIST_LENGTH;
	while (off < c->plen) {
		struct scsi_tid tid;
		int n = scsi_tid_parse(c->p + off, c->plen - off, &tid);
		if (n < 0 || *count >= max)
			return scsi_fail_param(c->t, (uint16_t)off, -1);
		struct scsi_pr_id *id = &ids[(*count)++];
		memset(id, 0, sizeof(*id));
		memcpy(id->name, tid.name, sizeof(id->name));
		memcpy(id->isid, tid.isid, 6);
		id->flags = tid.has_isid ? 0 : PRID_ANY_ISID;
		id->rel_port = c->me.rel_port;
		off += (size_t)n;
	}
	return SR_GOOD;
}

static void my_id(struct prout *c, struct scsi_pr_id *id)
{
	*id = c->me;
	if (c->flags & SCSI_PROUT_ALL_TG_PT)
		id->flags |= PRID_ANY_PORT;
}

/* ---- REGISTER / REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7) ---- */
#define SPEC_MAX 256
static int register_spec(struct prout *c)
{
	struct scsi_pr_id *ids = calloc(SPEC_MAX, sizeof(*ids));
	unsigned n = 0;
	if (!ids)
		return SR_INSUFFICIENT_REG_RES;
	int r = parse_spec_i_pt(c, ids, SPEC_MAX, &n);
	for (unsigned i = 0; r == SR_GOOD && i < n; i++) {
		if (c->flags & SCSI_PROUT_ALL_TG_PT)
			ids[i].flags |= PRID_ANY_PORT;
		if (scsi_pr_find(c->pr, &ids[i]))
			r = scsi_fail_param(c->t, SCSI_PROUT_PARAM_LEN + 4,
					    -1); /* already registered */
	}
	if (r == SR_GOOD && c->pr->nregs + n + 1 > SCSI_PR_MAX_REGS)
		r = SR_INSUFFICIENT_REG_RES;
	for (unsigned i = 0; r == SR_GOOD && i < n; i++)
		if (!scsi_pr_find(c->pr, &ids[i]) && !reg_add(c, &ids[i], c->sark))
			r = SR_INSUFFICIENT_REG_RES;
	free(ids);
	return r;
}

static int register_new(struct prout *c)
{
	if (c->sark == 0)
		return SR_GOOD; /* unregistered nexus, key 0: nothing to do */
	int r = (c->flags & SCSI_PROUT_SPEC_I_PT) ? register_spec(c) : SR_GOOD;
	if (r != SR_GOOD)
		return r;
	if (c->pr->nregs >= SCSI_PR_MAX_REGS)
		return SR_INSUFFICIENT_REG_RES;
	struct scsi_pr_id id;
	my_id(c, &id);
	if (!reg_add(c, &id, c->sark))
		return SR_INSUFFICIENT_REG_RES;
	c->changed = c->gen = true;
	return SR_GOOD;
}

static int do_register(struct prout *c)
{
	bool ignore = c->sa == SCSI_PROUT_REGISTER_IGNORE;
	if (ignore && (c->flags & SCSI_PROUT_SPEC_I_PT))
		return scsi_fail_param(c->t, 20, 3);
	if (c->reg && (c->flags & SCSI_PROUT_SPEC_I_PT))
		return scsi_fail_param(c->t, 20, 3); /* SPEC_I_PT from a registered nexus */
	if (!c->reg)
		return (!ignore && c->rk != 0) ? SR_RESERVATION_CONFLICT : register_new(c);
	if (!ignore && c->reg->key != c->rk)
		return SR_RESERVATION_CONFLICT;
	c->changed = c->gen = true;
	if (c->sark == 0)
		unregister(c, c->reg);
	else
		c->reg->key = c->sark;
	return SR_GOOD;
}

/* ---- RESERVE / RELEASE (SPC-4 5.13.9, 5.13.11.2) ---- */
static int do_reserve(struct prout *c)
{
	int r = check_scope_type_key(c);
	if (r != SR_GOOD)
		return r;
	struct scsi_pr *pr = c->pr;
	if (pr->reserved) /* same holder, same type: GOOD; else conflict */
		return (is_holder(pr, c->reg) && pr->type == c->type) ? SR_GOOD
								      : SR_RESERVATION_CONFLICT;
	pr->reserved = true;
	pr->type = c->type;
	pr->holder = c->reg;
	c->changed = true;
	return SR_GOOD;
}

static int do_release(struct prout *c)
{
	int r = check_key(c);
	if (r != SR_GOOD)
		return r;
	struct scsi_pr *pr = c->pr;
	if (!pr->reserved || !is_holder(pr, c->reg))
		return SR_GOOD; /* nothing of ours to release */
	if (c->scope != SCSI_PR_SCOPE_LU || c->type != pr->type)
		return SR_INVALID_RELEASE_PR;
	uint8_t type = pr->type;
	resv_clear(pr);
	c->changed = true;
	if (type != SCSI_PR_WE && type != SCSI_PR_EA)
		ua_others(c, SCSI_UA_RES_RELEASED);
	return SR_GOOD;
}

/* ---- CLEAR (SPC-4 5.13.11.2.4) ---- */
static int do_clear(struct prout *c)
{
	int r = check_key(c);
	if (r != SR_GOOD)
		return r;
	ua_others(c, SCSI_UA_RES_PREEMPTED);
	while (c->pr->regs)
		reg_remove(c, c->pr->regs);
	resv_clear(c->pr);
	c->changed = c->gen = true;
	return SR_GOOD;
}

/* ---- PREEMPT / PREEMPT AND ABORT (SPC-4 5.13.11.2.5-6) ---- */
static void abort_nexuses(struct prout *c, const struct scsi_pr_id *id)
{
	struct scsi_pr_id nid;
	pthread_mutex_lock(&c->lu->lock);
	for (struct scsi_lu_nexus *ln = c->lu->nexuses; ln; ln = ln->next) {
		struct scsi_itn *itn = ln->itn;
		scsi_pr_id_of(itn, &nid);
		if (itn == c->t->itn || !itn->tops || !itn->tops->abort_nexus_tasks ||
		    !scsi_pr_id_match(id, &nid))
			continue;
		atomic_fetch_add(&c->w->pending, 1);
		itn->tops->abort_nexus_tasks(itn->tctx, itn, c->lu, prout_put, c->w);
	}
	pthread_mutex_unlock(&c->lu->lock);
	if (c->pr->rec_seq) /* and on the other gateways */
		scsi_pr_event_add(c->pr, id, SCSI_UA__COUNT, true);
}

/* Remove every registration with key (the requester's own excepted):
 * REGISTRATIONS PREEMPTED to each; with abort, their tasks go too. */
static unsigned preempt_key(struct prout *c, uint64_t key, bool all)
{
	unsigned n = 0;
	struct scsi_pr_reg *r = c->pr->regs, *next;
	for (; r; r = next) {
		next = r->next;
		if (r == c->reg || (!all && r->key != key))
			continue;
		scsi_pr_raise_ua(c->lu, &r->id, SCSI_UA_REG_PREEMPTED);
		if (c->sa == SCSI_PROUT_PREEMPT_ABORT)
			abort_nexuses(c, &r->id);
		reg_remove(c, r);
		n++;
	}
	return n;
}

static void take_reservation(struct prout *c)
{
	struct scsi_pr *pr = c->pr;
	bool changed = pr->type != c->type;
	pr->reserved = true;
	pr->type = c->type;
	pr->holder = c->reg;
	if (changed) /* scope / type changed: RESERVATIONS RELEASED to the rest */
		ua_others(c, SCSI_UA_RES_RELEASED);
}

static int preempt_reserved(struct prout *c)
{
	struct scsi_pr *pr = c->pr;
	if (all_registrants(pr) && c->sark == 0) {
		preempt_key(c, 0, true);
		take_reservation(c);
		return SR_GOOD;
	}
	if (c->sark == 0)
		return scsi_fail_param(c->t, 8, -1);
	bool holder_key = !all_registrants(pr) && pr->holder && pr->holder->key == c->sark;
	unsigned n = preempt_key(c, c->sark, false);
	if (holder_key) {
		take_reservation(c);
		return SR_GOOD;
	}
	return n ? SR_GOOD : SR_RESERVATION_CONFLICT;
}

static int do_preempt(struct prout *c)
{
	int r = check_scope_type_key(c);
	if (r != SR_GOOD)
		return r;
	c->changed = c->gen = true;
	if (c->pr->reserved)
		r = preempt_reserved(c);
	else if (c->sark == 0)
		r = scsi_fail_param(c->t, 8, -1);
	else
		r = preempt_key(c, c->sark, false) ? SR_GOOD : SR_RESERVATION_CONFLICT;
	return r;
}

/* ---- REGISTER AND MOVE (SPC-4 5.13.8, table 178) ---- */
static int move_target(struct prout *c, struct scsi_pr_id *dst)
{
	if (c->plen < SCSI_PROUT_PARAM_LEN)
		return SR_PARAM_LIST_LENGTH;
	size_t tlen = get_be32(c->p + 20);
	if (tlen + SCSI_PROUT_PARAM_LEN != c->plen)
		return SR_PARAM_LIST_LENGTH;
	struct scsi_tid tid;
	if (scsi_tid_parse(c->p + SCSI_PROUT_PARAM_LEN, tlen, &tid) < 0)
		return scsi_fail_param(c->t, SCSI_PROUT_PARAM_LEN, -1);
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->name, tid.name, sizeof(dst->name));
	memcpy(dst->isid, tid.isid, 6);
	dst->flags = tid.has_isid ? 0 : PRID_ANY_ISID;
	dst->rel_port = get_be16(c->p + 18);
	if (dst->rel_port == 0)
		return scsi_fail_param(c->t, 18, -1);
	return scsi_pr_id_match(dst, &c->me) ? scsi_fail_param(c->t, SCSI_PROUT_PARAM_LEN, -1)
					     : SR_GOOD;
}

static int do_move(struct prout *c)
{
	struct scsi_pr *pr = c->pr;
	int r = check_key(c);
	if (r != SR_GOOD)
		return r;
	if (!pr->reserved || all_registrants(pr) || pr->holder != c->reg)
		return SR_RESERVATION_CONFLICT; /* only the holder moves its reservation */
	if (c->sark == 0)
		return scsi_fail_param(c->t, 8, -1);
	struct scsi_pr_id dst;
	if ((r = move_target(c, &dst)) != SR_GOOD)
		return r;
	struct scsi_pr_reg *d = scsi_pr_find(pr, &dst);
	if (!d && (pr->nregs >= SCSI_PR_MAX_REGS || !(d = reg_add(c, &dst, c->sark))))
		return SR_INSUFFICIENT_REG_RES;
	d->key = c->sark;
	pr->holder = d;
	if (c->p[17] & SCSI_PROUT_MOVE_UNREG)
		reg_remove(c, c->reg);
	c->changed = c->gen = true;
	return SR_GOOD;
}

typedef int (*prout_fn)(struct prout *c);
static const prout_fn prout_sa_fns[8] = {
	[SCSI_PROUT_REGISTER] = do_register,        [SCSI_PROUT_RESERVE] = do_reserve,
	[SCSI_PROUT_RELEASE] = do_release,          [SCSI_PROUT_CLEAR] = do_clear,
	[SCSI_PROUT_PREEMPT] = do_preempt,          [SCSI_PROUT_PREEMPT_ABORT] = do_preempt,
	[SCSI_PROUT_REGISTER_IGNORE] = do_register, [SCSI_PROUT_REGISTER_MOVE] = do_move,
};

/* APTPL (SPC-4 5.13.5): honoured by the REGISTER service actions only. */
static int apply_aptpl(struct prout *c)
{
	bool reg_sa = c->sa == SCSI_PROUT_REGISTER || c->sa == SCSI_PROUT_REGISTER_IGNORE ||
		      c->sa == SCSI_PROUT_REGISTER_MOVE;
	bool aptpl = c->sa == SCSI_PROUT_REGISTER_MOVE ? (c->p[17] & SCSI_PROUT_APTPL)
						       : (c->p[20] & SCSI_PROUT_APTPL);
	if (!reg_sa)
		return SR_GOOD;
	if (aptpl && !c->pr->store)
		return scsi_fail_param(c->t, c->sa == SCSI_PROUT_REGISTER_MOVE ? 17 : 20, 0);
	return SR_GOOD;
}

static void commit_aptpl(struct prout *c)
{
	bool reg_sa = c->sa == SCSI_PROUT_REGISTER || c->sa == SCSI_PROUT_REGISTER_IGNORE ||
		      c->sa == SCSI_PROUT_REGISTER_MOVE;
	if (!reg_sa)
		return;
	uint8_t b = c->sa == SCSI_PROUT_REGISTER_MOVE ? c->p[17] : c->p[20];
	c->pr->aptpl = b & SCSI_PROUT_APTPL;
}

/* With the lock held: run the handler, then queue the new state to disk
 * when it has to survive (APTPL before or after, or pr_persist = all). */
static int prout_locked(struct prout *c)
{
	struct scsi_pr *pr = c->pr;
	bool was_aptpl = pr->aptpl, shared = scsi_pr_shared(pr);
	c->reg = scsi_pr_find(pr, &c->me);
	pr->rec_seq = shared ? pr->seq + 1 : 0; /* UAs for the other gateways too */
	int r = apply_aptpl(c);
	if (r == SR_GOOD)
		r = prout_sa_fns[c->sa](c);
	pr->rec_seq = 0;
	if (r == SR_GOOD)
		commit_aptpl(c);
	if (c->gen && r == SR_GOOD)
		pr->generation++;
	if (c->changed)
		scsi_pr_update_active(pr);
	bool persist = pr->store && (shared || pr->persist_all || was_aptpl || pr->aptpl);
	atomic_store(&c->w->result, r);
	if (c->changed && persist && r == SR_GOOD) {
		/* pr_persist = aptpl and APTPL now off: what survives is nothing */
		struct scsi_pr none = { .generation = pr->generation };
		bool keep = shared || pr->persist_all || pr->aptpl;
		size_t len;
		uint8_t *b =
			scsi_pr_encode(keep ? pr : &none, c->lu->naa, pr->seq + 1, shared, &len);
		if (!b)
			return SR_INTERNAL_FAILURE;
		atomic_fetch_add(&c->w->pending, 1);
		scsi_pr_persist(pr, b, len, prout_persisted, c->w);
	}
	return r;
}

static void prout_rerun(struct scsi_task *t)
{
	int r = scsi_exec_prout(t);
	if (r != SR_PENDING)
		scsi_task_finish(t, r);
}

static int prout_params(struct scsi_task *t, struct prout *c)
{
	uint32_t plen = get_be32(t->cdb + 5);
	t->out_wanted = plen;
	bool move = c->sa == SCSI_PROUT_REGISTER_MOVE;
	if (plen < SCSI_PROUT_PARAM_LEN || plen > PROUT_MAX_PARAM || t->out_len < plen)
		return SR_PARAM_LIST_LENGTH;
	uint8_t *p = scsi_scratch_alloc(t, plen, prout_rerun);
	if (!p)
		return SR_PENDING;
	scsi_out_copy(t, 0, p, plen);
	c->p = p;
	c->plen = plen;
	c->rk = get_be64(p);
	c->sark = get_be64(p + 8);
	c->flags = move ? 0 : p[20];
	if (!move && !(c->flags & SCSI_PROUT_SPEC_I_PT) && plen != SCSI_PROUT_PARAM_LEN)
		return SR_PARAM_LIST_LENGTH; /* SPC-4 6.16.3: exactly 24 bytes */
	if ((c->flags & SCSI_PROUT_SPEC_I_PT) && c->sa != SCSI_PROUT_REGISTER &&
	    c->sa != SCSI_PROUT_REGISTER_IGNORE)
		return scsi_fail_param(t, 20, 3);
	return SR_GOOD;
}

int scsi_exec_prout(struct scsi_task *t)
{
	struct prout c = { .t = t,
			   .lu = t->lu,
			   .pr = &t->lu->pr,
			   .sa = t->cdb[1] & 0x1F,
			   .scope = t->cdb[2] >> 4,
			   .type = t->cdb[2] & 0x0F };
	if (c.sa > SCSI_PROUT_REGISTER_MOVE)
		return scsi_fail_field(t, 1, 4);
	int r = prout_params(t, &c); /* SR_PENDING: kbuf back-pressure, reruns */
	if (r != SR_GOOD)
		return r;
	scsi_pr_id_of(t->itn, &c.me);
	bool one_at_a_time = scsi_pr_shared(c.pr);
	if (one_at_a_time && !scsi_pr_prout_enter(t, prout_rerun))
		return SR_PENDING; /* re-run when the PROUT before it has finished */
	struct prout_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		if (one_at_a_time)
			scsi_pr_prout_leave(t->lu);
		return SR_BUSY;
	}
	w->kt.fn = prout_finish_fn;
	w->t = t;
	atomic_init(&w->pending, 1);
	atomic_init(&w->result, SR_GOOD);
	c.w = w;
	pthread_mutex_lock(&c.pr->lock);
	r = prout_locked(&c);
	pthread_mutex_unlock(&c.pr->lock);
	if (atomic_load(&w->pending) == 1) { /* nothing asynchronous left */
		r = atomic_load(&w->result);
		free(w);
		if (one_at_a_time)
			scsi_pr_prout_leave(t->lu);
		return r;
	}
	prout_put(w);
	return SR_PENDING;
}
