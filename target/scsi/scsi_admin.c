/* SPDX-License-Identifier: Apache-2.0 */
/* Administrator access to SCSI layer state (kura-targetctl through admin.c):
 * a snapshot of a LU's identity and reservations, and the reservation
 * override. Both take the same locks, in the same order (pr->lock), as the
 * PERSISTENT RESERVE commands do, so they are safe while sessions run.
 *
 * Not for: the socket protocol (admin.c) or PR command semantics
 * (scsi_pr_cmd.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "target/scsi/scsi_admin.h"
#include "target/scsi/scsi_internal.h"

static void reg_info(const struct scsi_pr *pr, const struct scsi_pr_reg *r,
		     struct scsi_admin_reg *o)
{
	snprintf(o->name, sizeof(o->name), "%s", r->id.name);
	memcpy(o->isid, r->id.isid, 6);
	o->any_isid = r->id.flags & PRID_ANY_ISID;
	o->rel_port = (r->id.flags & PRID_ANY_PORT) ? 0 : r->id.rel_port;
	o->key = r->key;
	o->holder = pr->reserved &&
		    (pr->holder == r || pr->type == SCSI_PR_WE_AR || pr->type == SCSI_PR_EA_AR);
}

void scsi_admin_lu_info(struct scsi_lu *lu, struct scsi_admin_lu *out, struct scsi_admin_reg *regs,
			unsigned max)
{
	memset(out, 0, sizeof(*out));
	out->nblocks = atomic_load(&lu->nblocks);
	out->block_size = lu->bs;
	for (int i = 0; i < 16; i++)
		snprintf(out->naa + 2 * i, 3, "%02x", lu->naa[i]);
	snprintf(out->serial, sizeof(out->serial), "%s", lu->serial);
	snprintf(out->vendor, sizeof(out->vendor), "%s", lu->vendor);
	snprintf(out->product, sizeof(out->product), "%s", lu->product);
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_lock(&pr->lock);
	out->generation = pr->generation;
	out->reserved = pr->reserved;
	out->type = pr->type;
	out->spc2_reserved = pr->spc2_holder != NULL;
	out->nregs = pr->nregs;
	unsigned i = 0;
	for (const struct scsi_pr_reg *r = pr->regs; r && i < max; r = r->next)
		reg_info(pr, r, &regs[i++]);
	pthread_mutex_unlock(&pr->lock);
}

static void persisted(void *arg, int result)
{
	if (result < 0)
		kerr("clear-reservation: PR state not saved: %s", strerror(-result));
}

/* pr->lock held: queue the (now empty) state like prout_locked() does. */
static void persist_locked(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	if (!pr->store)
		return;
	size_t len;
	uint8_t *b = scsi_pr_encode(pr, lu->naa, pr->seq + 1, scsi_pr_shared(pr), &len);
	if (b)
		scsi_pr_persist(pr, b, len, persisted, NULL);
	else
		kerr("clear-reservation: out of memory saving PR state");
}

int scsi_admin_clear_pr(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	pthread_mutex_lock(&pr->lock);
	int n = 0;
	while (pr->regs) {
		struct scsi_pr_reg *r = pr->regs;
		pr->regs = r->next;
		scsi_pr_raise_ua(lu, &r->id, SCSI_UA_RES_PREEMPTED); /* SPC-4 5.13.11.2.4 */
		free(r);
		n++;
	}
	pr->nregs = 0;
	pr->reserved = false;
	pr->holder = NULL;
	pr->type = 0;
	pr->spc2_holder = NULL;
	pr->generation++;
	scsi_pr_update_active(pr);
	persist_locked(lu);
	pthread_mutex_unlock(&pr->lock);
	return n;
}

struct lun_backend *scsi_admin_lu_backend(struct scsi_lu *lu)
{
	return lu->be;
}
