/* SPDX-License-Identifier: Apache-2.0 */
/* Reservation state of a logical unit: registrations keyed by I_T nexus
 * identity, the persistent reservation, SPC-2 RESERVE/RELEASE, the conflict
 * decision every command goes through, and the unit attentions reservation
 * changes raise (including those kept for nexuses that have no session now).
 *
 * Locking: lu->pr.lock guards all of struct scsi_pr and is taken *before*
 * lu->lock (the nexus list). pr.active mirrors "some reservation exists" so
 * that the common case (no reservation) costs one atomic load per command.
 *
 * A command is checked twice: at dispatch (scsi_lu_pr_check) and again when
 * a medium access actually starts, after any range-lock wait
 * (scsi_pr_recheck), so that a write queued behind a lock cannot land after
 * a PREEMPT removed its nexus:
 *
 *   nexus A (victim)                      nexus B
 *   WRITE lba 8: dispatch check ok
 *   range lock busy -> waits
 *                                         PREEMPT AND ABORT A's key: A removed,
 *                                         B holds EA-RO; abort A's tasks and
 *                                         wait for them
 *   lock granted -> recheck: conflict
 *   -> RESERVATION CONFLICT, no I/O       all of A's tasks done -> PROUT GOOD
 *
 * Not for: commands (PRIN / PROUT / RESERVE / RELEASE and the execution-time
 * re-check: scsi_pr_cmd.c) or the state file (scsi_pr_file.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/log.h"
#include "target/scsi/scsi_internal.h"
#include "target/scsi/scsi_pr_store.h"

/* ---- identities ---- */
void scsi_pr_id_of(const struct scsi_itn *itn, struct scsi_pr_id *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->name, sizeof(id->name), "%s", itn->initiator);
	memcpy(id->isid, itn->isid, 6);
	id->rel_port = itn->port.rel_port_id;
}

/* reg may be a wildcard (any ISID / any port); nexus is a concrete one.
 * iSCSI names compare case-insensitively (RFC 3722 stringprep folds case). */
bool scsi_pr_id_match(const struct scsi_pr_id *reg, const struct scsi_pr_id *nexus)
{
	if (strcasecmp(reg->name, nexus->name) != 0)
		return false;
	if (!(reg->flags & PRID_ANY_ISID) && !(nexus->flags & PRID_ANY_ISID) &&
	    memcmp(reg->isid, nexus->isid, 6) != 0)
		return false;
	return (reg->flags & PRID_ANY_PORT) || (nexus->flags & PRID_ANY_PORT) ||
	       reg->rel_port == nexus->rel_port;
}

struct scsi_pr_reg *scsi_pr_find(const struct scsi_pr *pr, const struct scsi_pr_id *id)
{
	for (struct scsi_pr_reg *r = pr->regs; r; r = r->next)
		if (scsi_pr_id_match(&r->id, id))
			return r;
	return NULL;
}

void scsi_pr_update_active(struct scsi_pr *pr)
{
	atomic_store(&pr->active, pr->reserved || pr->spc2_holder != NULL);
}

/* ---- the conflict decision (SPC-4 5.13.1, table 44) ---- */
static bool type_all_registrants(uint8_t type)
{
	return type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
}

static bool type_registrants(uint8_t type)
{
	return type == SCSI_PR_WE_RO || type == SCSI_PR_EA_RO || type_all_registrants(type);
}

static bool type_exclusive_access(uint8_t type)
{
	return type == SCSI_PR_EA || type == SCSI_PR_EA_RO || type == SCSI_PR_EA_AR;
}

static int pr_type_decide(const struct scsi_pr *pr, const struct scsi_itn *itn,
			  const struct scsi_op *op)
{
	struct scsi_pr_id id;
	scsi_pr_id_of(itn, &id);
	const struct scsi_pr_reg *reg = scsi_pr_find(pr, &id);
	/* the holder, and every registrant of the *_RO / *_AR types, may do
	 * anything ("Allowed" in table 44's holder / registered columns) */
	if (reg && (reg == pr->holder || type_registrants(pr->type)))
		return SR_GOOD;
	uint8_t need = type_exclusive_access(pr->type) ? PR_ALLOW_EA : PR_ALLOW_WE;
	return (op->pr_allow & need) ? SR_GOOD : SR_RESERVATION_CONFLICT;
}

int scsi_pr_decide(const struct scsi_pr *pr, const struct scsi_itn *itn, const struct scsi_op *op)
{
	if (pr->spc2_holder && pr->spc2_holder != itn && !(op->pr_allow & PR_ALLOW_SPC2))
		return SR_RESERVATION_CONFLICT;
	if (!pr->reserved || !itn)
		return SR_GOOD;
	return pr_type_decide(pr, itn, op);
}

int scsi_lu_pr_check(struct scsi_lu *lu, const struct scsi_itn *itn, const struct scsi_op *op)
{
	struct scsi_pr *pr = &lu->pr;
	if (!atomic_load(&pr->active))
		return SR_GOOD;
	pthread_mutex_lock(&pr->lock);
	int r = scsi_pr_decide(pr, itn, op);
	pthread_mutex_unlock(&pr->lock);
	return r;
}

/* ---- unit attentions for identities (SPC-4 5.13.11) ---- */
static void pending_add(struct scsi_pr *pr, const struct scsi_pr_id *id, enum scsi_ua ua)
{
	for (struct scsi_pr_ua *p = pr->pending; p; p = p->next)
		if (!memcmp(&p->id, id, sizeof(*id))) {
			p->mask |= 1u << ua;
			return;
		}
	if (pr->npending >= SCSI_PR_MAX_PENDING_UA) {
		kwarn("scsi: LUN reservation UA for an absent nexus of %s dropped (%u kept)",
		      id->name, pr->npending);
		return;
	}
	struct scsi_pr_ua *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->id = *id;
	p->mask = 1u << ua;
	p->next = pr->pending;
	pr->pending = p;
	pr->npending++;
}

/* pr->lock held. Under a shared store, a PROUT's UAs are also recorded for
 * the other gateways' nexuses (scsi_pr_event_add). */
void scsi_pr_raise_ua(struct scsi_lu *lu, const struct scsi_pr_id *id, enum scsi_ua ua)
{
	if (lu->pr.rec_seq)
		scsi_pr_event_add(&lu->pr, id, ua, false);
	bool found = false;
	struct scsi_pr_id nid;
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus *ln = lu->nexuses; ln; ln = ln->next) {
		scsi_pr_id_of(ln->itn, &nid);
		if (scsi_pr_id_match(id, &nid)) {
			atomic_fetch_or(&ln->ua, 1u << ua);
			found = true;
		}
	}
	pthread_mutex_unlock(&lu->lock);
	if (!found)
		pending_add(&lu->pr, id, ua);
}

void scsi_pr_nexus_attached(struct scsi_lu *lu, struct scsi_itn *itn, struct scsi_lu_nexus *ln)
{
	struct scsi_pr *pr = &lu->pr;
	struct scsi_pr_id id;
	scsi_pr_id_of(itn, &id);
	pthread_mutex_lock(&pr->lock);
	for (struct scsi_pr_ua **pp = &pr->pending; *pp;) {
		struct scsi_pr_ua *p = *pp;
		if (!scsi_pr_id_match(&p->id, &id)) {
			pp = &p->next;
			continue;
		}
		atomic_fetch_or(&ln->ua, p->mask);
		*pp = p->next;
		pr->npending--;
		free(p);
	}
	pthread_mutex_unlock(&pr->lock);
}

/* ---- SPC-2 reservations: nexus loss and resets (SPC-2 5.5.1) ---- */
void scsi_pr_nexus_lost(struct scsi_lu *lu, const struct scsi_itn *itn)
{
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_lock(&pr->lock);
	if (pr->spc2_holder == itn)
		pr->spc2_holder = NULL; /* SPC-2 5.5.1: I_T nexus loss releases */
	scsi_pr_update_active(pr);
	pthread_mutex_unlock(&pr->lock);
}

void scsi_pr_spc2_reset(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_lock(&pr->lock);
	pr->spc2_holder = NULL; /* SPC-2 5.5.1: LU / target reset releases */
	scsi_pr_update_active(pr);
	pthread_mutex_unlock(&pr->lock);
}

/* ---- life cycle ---- */
/* The shared state of the storage when the backend has one (several
 * gateways serve it), else the file "<pr_dir>/<naa hex>.pr", else none. */
static int open_store(struct scsi_lu *lu, const struct scsi_lu_params *p)
{
	if (lun_backend_caps(lu->be) & LUN_CAP_SHARED_STATE) {
		lu->pr.store = scsi_pr_store_shared(lu->be);
		return lu->pr.store ? 0 : -ENOMEM;
	}
	if (!p->pr_dir)
		return 0;
	char hex[33], *path;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", lu->naa[i]);
	if (asprintf(&path, "%s/%s.pr", p->pr_dir, hex) < 0)
		return -ENOMEM;
	lu->pr.store = scsi_pr_store_file(path);
	free(path);
	return lu->pr.store ? 0 : -ENOMEM;
}

int scsi_pr_init(struct scsi_lu *lu, const struct scsi_lu_params *p, char *err, size_t errlen)
{
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_init(&pr->lock, NULL);
	atomic_init(&pr->active, false);
	pr->persist_all = p->pr_persist_all;
	if (open_store(lu, p) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!pr->store)
		return 0;
	int r = scsi_pr_load(pr, lu->naa, err, errlen);
	if (r == 0 && scsi_pr_shared(pr) && (r = scsi_pr_shared_start(lu)) < 0)
		snprintf(err, errlen, "persistent reservation state %s: watch: %s",
			 pr->store->ops->name(pr->store), strerror(-r));
	return r;
}

void scsi_pr_free_state(struct scsi_pr *pr)
{
	while (pr->regs) {
		struct scsi_pr_reg *r = pr->regs;
		pr->regs = r->next;
		free(r);
	}
	while (pr->pending) {
		struct scsi_pr_ua *u = pr->pending;
		pr->pending = u->next;
		free(u);
	}
	while (pr->events) {
		struct scsi_pr_event *e = pr->events;
		pr->events = e->next;
		free(e);
	}
	pr->nregs = pr->npending = pr->nevents = 0;
	pr->reserved = false;
	pr->holder = NULL;
	pr->type = 0;
}

void scsi_pr_fini(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	if (pr->store)
		pr->store->ops->close(pr->store);
	pr->store = NULL;
	scsi_pr_free_state(pr);
	pthread_mutex_destroy(&pr->lock);
}

void scsi_itn_set_transport(struct scsi_itn *itn, const struct scsi_transport_ops *ops, void *ctx)
{
	itn->tops = ops;
	itn->tctx = ctx;
}
