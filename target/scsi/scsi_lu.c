/* SPDX-License-Identifier: Apache-2.0 */
/* Logical units, LUN maps, I_T nexuses, unit attentions and the LU range lock.
 *
 * An LU is shared by every worker thread. Its mutable state is either atomic
 * (mode parameters, capacity, per-nexus UA masks) or under one of two mutexes:
 * `lock` for the nexus list, `rl_lock` for the range lock. No mutex is held
 * across I/O or while calling back into a task.
 *
 * Range lock (COMPARE AND WRITE atomicity, SBC-4 5.3): every medium access
 * registers its LBA range; CAW registers an exclusive one. A command that
 * overlaps a conflicting range waits in FIFO order and is resumed with
 * kloop_post() on its own loop, so no thread ever blocks:
 *
 *   thread A: WRITE 0..7 held (shared)
 *   thread B: CAW 4 held? no, overlaps A  -> waits
 *   thread A: WRITE 8..9 (shared) granted (no overlap with waiting CAW)
 *   thread A: WRITE 6..6 (shared) waits: a waiting CAW overlaps (no starvation)
 *   thread A: WRITE 0..7 done -> unlock -> CAW granted, posted to B's loop
 *
 * Not for: command semantics (scsi_sbc.c / scsi_spc.c) or reservations
 * (scsi_pr.c; an LU owns its struct scsi_pr, created and loaded here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/container.h"
#include "common/log.h"
#include "target/scsi/scsi_internal.h"

/* ---- identity ---- */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* NAA-6 (SPC-4 7.8.6.6.5): NAA nibble 6, then 124 bits derived from the
 * target IQN and LUN. Stable across restarts; never random. */
void scsi_naa_derive(const char *iqn, uint64_t lun, uint8_t out[16])
{
	uint8_t l[8];
	put_be64(l, lun);
	uint64_t h1 = fnv1a(0xcbf29ce484222325ULL, iqn, strlen(iqn));
	h1 = fnv1a(h1, l, sizeof(l));
	uint64_t h2 = fnv1a(h1 ^ 0x6b757261ULL, l, sizeof(l));
	h2 = fnv1a(h2, iqn, strlen(iqn));
	put_be64(out, (h1 >> 4) | (6ULL << 60));
	put_be64(out + 8, h2);
}

static void copy_str(char *dst, size_t cap, const char *src, const char *def)
{
	snprintf(dst, cap, "%s", src ? src : def);
}

static void lu_identity(struct scsi_lu *lu, const struct scsi_lu_params *p)
{
	copy_str(lu->target_iqn, sizeof(lu->target_iqn), p->target_iqn,
		 "iqn.2026-01.org.kura:unnamed");
	copy_str(lu->vendor, sizeof(lu->vendor), p->vendor, "KURA");
	copy_str(lu->product, sizeof(lu->product), p->product, "kura-lun");
	copy_str(lu->revision, sizeof(lu->revision), p->revision, "0001");
	if (p->naa) {
		put_be64(lu->naa, (p->naa & ~(0xFULL << 60)) | (6ULL << 60));
		put_be64(lu->naa + 8, p->naa_ext);
	} else if (lu->be->unit_id) { /* the storage's own name: same on every gateway */
		scsi_naa_derive(lu->be->unit_id, 0, lu->naa);
	} else {
		scsi_naa_derive(lu->target_iqn, p->lun, lu->naa);
	}
	if (p->serial) {
		copy_str(lu->serial, sizeof(lu->serial), p->serial, "");
		return;
	}
	for (int i = 0; i < 16; i++)
		snprintf(lu->serial + 2 * i, 3, "%02x", lu->naa[i]);
}

/* The backend's storage changed size by itself (a Ceph image resized by
 * any client): on the backend's thread. */
static void lu_size_changed(void *arg)
{
	scsi_lu_capacity_changed(arg);
}

int scsi_lu_create(const struct scsi_lu_params *p, struct lun_backend *be, struct scsi_lu **out,
		   char *err, size_t errlen)
{
	if (!be || !be->block_size || be->size < be->block_size || p->lun >= SCSI_MAX_LUNS) {
		snprintf(err, errlen, "bad backend or LUN %llu", (unsigned long long)p->lun);
		return -EINVAL;
	}
	uint32_t pbs = p->physical_block_size ? p->physical_block_size : be->block_size;
	if (pbs < be->block_size || pbs % be->block_size || (pbs & (pbs - 1)) ||
	    pbs / be->block_size > (1u << 15)) {
		snprintf(err, errlen, "physical block size %u is not a power-of-two multiple of %u",
			 pbs, be->block_size);
		return -EINVAL;
	}
	struct scsi_lu *lu = calloc(1, sizeof(*lu));
	if (!lu) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lu->be = be;
	lu->lun = p->lun;
	lu->bs = be->block_size;
	while ((lu->bs << lu->lbppbe) < pbs)
		lu->lbppbe++;
	atomic_init(&lu->nblocks, be->size / be->block_size);
	lu_identity(lu, p);
	lu->thin = p->thin && (lun_backend_caps(be) & LUN_CAP_UNMAP);
	lu->report_unmap_gran = p->unmap_gran_hint == SCSI_UG_YES ||
				(p->unmap_gran_hint == SCSI_UG_AUTO && lu->bs == 512);
	lu->default_wce = p->write_cache;
	lu->removable = p->removable;
	atomic_init(&lu->wce, p->write_cache);
	atomic_init(&lu->d_sense, false);
	atomic_init(&lu->swp, false);
	pthread_mutex_init(&lu->lock, NULL);
	pthread_mutex_init(&lu->rl_lock, NULL);
	int r = scsi_pr_init(lu, p, err, errlen);
	if (r < 0) {
		scsi_pr_fini(lu);
		pthread_mutex_destroy(&lu->lock);
		pthread_mutex_destroy(&lu->rl_lock);
		free(lu); /* the backend stays the caller's on failure */
		return r;
	}
	lun_backend_watch_size(be, lu_size_changed, lu);
	*out = lu;
	return 0;
}

void scsi_lu_destroy(struct scsi_lu *lu)
{
	if (!lu)
		return;
	lun_backend_watch_size(lu->be, NULL, NULL);
	struct scsi_lu_nexus *ln = lu->nexuses;
	while (ln) {
		struct scsi_lu_nexus *next = ln->next;
		ln->itn->ln[lu->lun] = NULL;
		free(ln);
		ln = next;
	}
	scsi_pr_fini(lu);
	scsi_stats_free(lu);
	pthread_mutex_destroy(&lu->lock);
	pthread_mutex_destroy(&lu->rl_lock);
	lun_backend_close(lu->be);
	free(lu);
}

uint64_t scsi_lu_size_blocks(const struct scsi_lu *lu)
{
	return atomic_load(&((struct scsi_lu *)lu)->nblocks);
}

void scsi_lu_capacity_changed(struct scsi_lu *lu)
{
	atomic_store(&lu->nblocks, lu->be->size / lu->bs);
	scsi_lu_raise_ua(lu, SCSI_UA_CAPACITY_CHANGED, NULL);
}

bool scsi_lu_can_unmap(const struct scsi_lu *lu)
{
	return lu && lu->thin;
}

bool scsi_lu_write_protected(const struct scsi_lu *lu)
{
	return lu->be->read_only || atomic_load(&((struct scsi_lu *)lu)->swp);
}

/* ---- LUN maps (lookups lock-free; slots change at run time, see scsi.h) ---- */
struct scsi_lun_map *scsi_lun_map_new(void)
{
	struct scsi_lun_map *m = calloc(1, sizeof(struct scsi_lun_map));
	if (m)
		pthread_mutex_init(&m->topo, NULL);
	return m;
}

void scsi_lun_map_free(struct scsi_lun_map *m)
{
	if (m)
		pthread_mutex_destroy(&m->topo);
	free(m);
}

int scsi_lun_map_add(struct scsi_lun_map *m, uint64_t lun, struct scsi_lu *lu)
{
	if (lun >= SCSI_MAX_LUNS || !lu)
		return -EINVAL;
	if (atomic_load(&m->lu[lun]))
		return -EEXIST;
	atomic_store(&m->lu[lun], lu);
	return 0;
}

struct scsi_lu *scsi_lun_map_get(struct scsi_lun_map *m, uint64_t lun)
{
	if (!m || lun >= SCSI_MAX_LUNS)
		return NULL;
	return atomic_load(&m->lu[lun]);
}

int scsi_lun_map_remove(struct scsi_lun_map *m, uint64_t lun, struct scsi_lu **out)
{
	if (!m || lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	struct scsi_lu *lu = atomic_exchange(&m->lu[lun], NULL);
	*out = lu;
	return lu ? 0 : -ENOENT;
}

void scsi_lun_map_changed(struct scsi_lun_map *m, const struct scsi_lu *except)
{
	for (unsigned i = 0; m && i < SCSI_MAX_LUNS; i++) {
		struct scsi_lu *lu = scsi_lun_map_get(m, i);
		if (lu && lu != except)
			scsi_lu_raise_ua(lu, SCSI_UA_LUNS_CHANGED, NULL);
	}
}

struct scsi_lu *scsi_lun_map_hold(struct scsi_lun_map *m, uint64_t lun)
{
	struct scsi_lu *lu = scsi_lun_map_get(m, lun);
	if (lu)
		atomic_fetch_add(&lu->inflight, 1);
	return lu;
}

void scsi_lu_put(struct scsi_lu *lu)
{
	if (lu)
		atomic_fetch_sub(&lu->inflight, 1);
}

unsigned scsi_lu_inflight(const struct scsi_lu *lu)
{
	return atomic_load(&((struct scsi_lu *)lu)->inflight);
}

/* Step 3 of a removal: no command holds lu any more, but sessions still
 * point at their (LU, nexus) pairs; clear those pointers under m->topo so
 * that a session logging out now does not free a pair twice. */
void scsi_lun_map_release(struct scsi_lun_map *m, struct scsi_lu *lu)
{
	if (!lu)
		return;
	if (m)
		pthread_mutex_lock(&m->topo);
	pthread_mutex_lock(&lu->lock);
	struct scsi_lu_nexus *ln = lu->nexuses;
	lu->nexuses = NULL;
	pthread_mutex_unlock(&lu->lock);
	while (ln) {
		struct scsi_lu_nexus *next = ln->next;
		if (ln->itn->ln[lu->lun] == ln)
			ln->itn->ln[lu->lun] = NULL;
		free(ln);
		ln = next;
	}
	if (m)
		pthread_mutex_unlock(&m->topo);
	scsi_lu_destroy(lu);
}

/* ---- I_T nexuses ---- */
static struct scsi_lu_nexus *nexus_attach(struct scsi_itn *itn, struct scsi_lu *lu, unsigned ua0)
{
	struct scsi_lu_nexus *ln = calloc(1, sizeof(*ln));
	if (!ln) {
		kerr("scsi: out of memory attaching a nexus to LUN %llu",
		     (unsigned long long)lu->lun);
		return NULL;
	}
	ln->itn = itn;
	ln->lu = lu;
	atomic_init(&ln->ua, ua0);
	pthread_mutex_lock(&lu->lock);
	ln->next = lu->nexuses;
	lu->nexuses = ln;
	pthread_mutex_unlock(&lu->lock);
	itn->ln[lu->lun] = ln;
	scsi_pr_nexus_attached(lu, itn, ln); /* UAs kept while it was away */
	return ln;
}

struct scsi_itn *scsi_itn_create(struct scsi_lun_map *m, const char *initiator_name,
				 const uint8_t isid[6], const struct scsi_port *port)
{
	struct scsi_itn *itn = calloc(1, sizeof(*itn));
	if (!itn)
		return NULL;
	copy_str(itn->initiator, sizeof(itn->initiator), initiator_name, "");
	if (isid)
		memcpy(itn->isid, isid, 6);
	if (port) {
		itn->port = *port;
		copy_str(itn->port_iqn, sizeof(itn->port_iqn), port->target_iqn, "");
	}
	itn->port.target_iqn = itn->port_iqn;
	if (!itn->port.rel_port_id)
		itn->port.rel_port_id = 1;
	itn->map = m;
	for (unsigned i = 0; m && i < SCSI_MAX_LUNS; i++) {
		struct scsi_lu *lu = scsi_lun_map_get(m, i);
		if (lu)
			nexus_attach(itn, lu, 1u << SCSI_UA_POWER_ON); /* SAM-5 5.14: 29/00 once */
	}
	return itn;
}

static void nexus_detach(struct scsi_lu_nexus *ln)
{
	struct scsi_lu *lu = ln->lu;
	scsi_pr_nexus_lost(lu, ln->itn); /* SPC-2 reservations end with the nexus */
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus **pp = &lu->nexuses; *pp; pp = &(*pp)->next) {
		if (*pp == ln) {
			*pp = ln->next;
			break;
		}
	}
	pthread_mutex_unlock(&lu->lock);
	free(ln);
}

void scsi_itn_destroy(struct scsi_itn *itn)
{
	if (!itn)
		return;
	if (itn->map)
		pthread_mutex_lock(&itn->map->topo); /* against scsi_lun_map_release */
	for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
		if (itn->ln[i])
			nexus_detach(itn->ln[i]);
	if (itn->map)
		pthread_mutex_unlock(&itn->map->topo);
	free(itn);
}

/* ---- unit attentions (SAM-5 5.14) ---- */
void scsi_lu_raise_ua(struct scsi_lu *lu, enum scsi_ua ua, const struct scsi_itn *except)
{
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus *ln = lu->nexuses; ln; ln = ln->next)
		if (ln->itn != except)
			atomic_fetch_or(&ln->ua, 1u << ua);
	pthread_mutex_unlock(&lu->lock);
}

/* UAs raised from outside the SCSI layer, by ASC/ASCQ. */
static const struct {
	uint16_t asc;
	enum scsi_ua ua;
} ua_by_asc[] = {
	{ SCSI_ASC_THIN_SOFT_THRESHOLD, SCSI_UA_THIN_THRESHOLD }, /* SBC-4 4.7.3.8 */
	{ SCSI_ASC_CAPACITY_DATA_CHANGED, SCSI_UA_CAPACITY_CHANGED },
};

int scsi_lu_raise_ua_all(struct scsi_lu *lu, uint8_t asc, uint8_t ascq)
{
	uint16_t want = (uint16_t)(asc << 8 | ascq);
	for (size_t i = 0; lu && i < sizeof(ua_by_asc) / sizeof(ua_by_asc[0]); i++)
		if (ua_by_asc[i].asc == want) {
			scsi_lu_raise_ua(lu, ua_by_asc[i].ua, NULL);
			return 0;
		}
	return -EINVAL;
}

static struct scsi_lu_nexus *nexus_of(struct scsi_lu *lu, const struct scsi_itn *itn)
{
	if (!lu || !itn || lu->lun >= SCSI_MAX_LUNS)
		return NULL;
	struct scsi_lu_nexus *ln = itn->ln[lu->lun];
	return ln && ln->lu == lu ? ln : NULL;
}

/* An LU added at run time meets nexuses created before it: the nexus's state
 * for it is made here, on the nexus's own loop, by its first command that
 * checks unit attentions (the command holds lu, so it cannot be removed
 * meanwhile). Only this loop writes itn->ln[], so no second pair appears.
 * No 29/00 here: the nexus was told of the new LU by 3F/0E on the others. */
static struct scsi_lu_nexus *nexus_lazy(struct scsi_lu *lu, const struct scsi_itn *itn)
{
	struct scsi_lu_nexus *ln = nexus_of(lu, itn);
	if (ln || !lu || !itn || !itn->map || scsi_lun_map_get(itn->map, lu->lun) != lu)
		return ln;
	return nexus_attach((struct scsi_itn *)itn, lu, 0);
}

int scsi_lu_take_ua(struct scsi_lu *lu, const struct scsi_itn *itn)
{
	struct scsi_lu_nexus *ln = nexus_lazy(lu, itn);
	if (!ln)
		return SR_GOOD;
	unsigned v = atomic_load(&ln->ua);
	while (v) {
		unsigned bit = (unsigned)__builtin_ctz(v);
		if (atomic_compare_exchange_weak(&ln->ua, &v, v & ~(1u << bit)))
			return SR_UA_FIRST + (int)bit;
	}
	return SR_GOOD;
}

static void lu_reset_modes(struct scsi_lu *lu)
{
	atomic_store(&lu->wce, lu->default_wce);
	atomic_store(&lu->d_sense, false);
	atomic_store(&lu->swp, false);
}

/* SBC-4 5.13: a reset ends every nexus's PREVENT ALLOW MEDIUM REMOVAL. */
void scsi_lu_prevent_reset(struct scsi_lu *lu)
{
	pthread_mutex_lock(&lu->lock);
	for (struct scsi_lu_nexus *ln = lu->nexuses; ln; ln = ln->next)
		atomic_store(&ln->prevent, false);
	pthread_mutex_unlock(&lu->lock);
}

/* SAM-5 7.7 / 7.11: a LOGICAL UNIT RESET or TARGET RESET establishes the
 * unit attention for *every* I_T nexus, the requesting one included
 * (libiscsi MultipathIO.Reset checks both paths); `from` is kept for the PR
 * layer. */
void scsi_lu_reset(struct scsi_lu *lu, struct scsi_itn *from)
{
	scsi_pr_spc2_reset(lu); /* persistent reservations survive (SPC-4 5.13.1) */
	scsi_lu_prevent_reset(lu);
	scsi_lu_raise_ua(lu, SCSI_UA_BDR, NULL);
}

void scsi_target_reset(struct scsi_lun_map *m, struct scsi_itn *from, bool cold)
{
	for (unsigned i = 0; m && i < SCSI_MAX_LUNS; i++) {
		struct scsi_lu *lu = scsi_lun_map_get(m, i);
		if (!lu)
			continue;
		if (cold)
			lu_reset_modes(lu);
		scsi_pr_spc2_reset(lu);
		scsi_lu_prevent_reset(lu);
		scsi_lu_raise_ua(lu, cold ? SCSI_UA_POR : SCSI_UA_TARGET_RESET, NULL);
	}
}

void scsi_itn_commands_cleared(struct scsi_itn *itn, struct scsi_lu *lu)
{
	struct scsi_lu_nexus *ln = nexus_of(lu, itn);
	if (ln)
		atomic_fetch_or(&ln->ua, 1u << SCSI_UA_CMDS_CLEARED);
}

/* ---- hook: ALUA (scsi_alua.c; reservations: scsi_pr.c) ---- */
int scsi_lu_alua_check(struct scsi_lu *lu, const struct scsi_itn *itn, const struct scsi_op *op)
{
	(void)lu; /* the state is per target port group, target-wide */
	return scsi_alua_check ? scsi_alua_check(itn, op) : SR_GOOD;
}

/* ---- range lock ---- */
static bool rl_conflict(const struct scsi_task *a, const struct scsi_task *b)
{
	return (a->st.rl_excl || b->st.rl_excl) && a->st.rl_start < b->st.rl_end &&
	       b->st.rl_start < a->st.rl_end;
}

static bool rl_conflicts_held(const struct scsi_lu *lu, const struct scsi_task *t)
{
	for (const struct scsi_task *h = lu->rl_held; h; h = h->st.rl_next)
		if (rl_conflict(h, t))
			return true;
	return false;
}

static bool rl_conflicts_waiting(const struct scsi_lu *lu, const struct scsi_task *t,
				 const struct scsi_task *stop)
{
	for (const struct scsi_task *w = lu->rl_wait_head; w && w != stop; w = w->lock_next)
		if (rl_conflict(w, t))
			return true;
	return false;
}

static void rl_insert_held(struct scsi_lu *lu, struct scsi_task *t)
{
	t->st.rl_state = 1;
	t->st.rl_prev = NULL;
	t->st.rl_next = lu->rl_held;
	if (lu->rl_held)
		lu->rl_held->st.rl_prev = t;
	lu->rl_held = t;
	lu->rl_excl_held += t->st.rl_excl;
}

static void rl_remove_held(struct scsi_lu *lu, struct scsi_task *t)
{
	if (t->st.rl_prev)
		t->st.rl_prev->st.rl_next = t->st.rl_next;
	else
		lu->rl_held = t->st.rl_next;
	if (t->st.rl_next)
		t->st.rl_next->st.rl_prev = t->st.rl_prev;
	lu->rl_excl_held -= t->st.rl_excl;
	t->st.rl_state = 0;
}

bool scsi_range_lock(struct scsi_lu *lu, struct scsi_task *t, uint64_t lba, uint64_t n, bool excl,
		     void (*resume)(struct scsi_task *t))
{
	if (n == 0)
		return true;
	t->st.rl_start = lba;
	t->st.rl_end = lba + n;
	t->st.rl_excl = excl;
	t->st.rl_resume = resume;
	pthread_mutex_lock(&lu->rl_lock);
	bool wait = false;
	if (excl || lu->rl_excl_held || lu->rl_wait_head) /* fast path: shared, nothing exclusive */
		wait = rl_conflicts_held(lu, t) || rl_conflicts_waiting(lu, t, NULL);
	if (wait) {
		t->st.rl_state = 2;
		t->lock_next = NULL;
		if (lu->rl_wait_tail)
			lu->rl_wait_tail->lock_next = t;
		else
			lu->rl_wait_head = t;
		lu->rl_wait_tail = t;
	} else {
		rl_insert_held(lu, t);
	}
	pthread_mutex_unlock(&lu->rl_lock);
	return !wait;
}

static void rl_resume_fn(struct kloop_task *kt)
{
	struct scsi_task *t = container_of(kt, struct scsi_task, st.kt);
	t->st.rl_resume(t);
}

/* Grant waiters in FIFO order: a waiter goes when it conflicts with no held
 * range and with no earlier waiter. Returns the granted tasks (lock_next). */
static struct scsi_task *rl_grant(struct scsi_lu *lu)
{
	struct scsi_task *woken = NULL, **wtail = &woken, *prev = NULL;
	struct scsi_task *w = lu->rl_wait_head;
	while (w) {
		struct scsi_task *next = w->lock_next;
		if (rl_conflicts_held(lu, w) || rl_conflicts_waiting(lu, w, w)) {
			prev = w;
			w = next;
			continue;
		}
		if (prev)
			prev->lock_next = next;
		else
			lu->rl_wait_head = next;
		if (lu->rl_wait_tail == w)
			lu->rl_wait_tail = prev;
		rl_insert_held(lu, w);
		w->lock_next = NULL;
		*wtail = w;
		wtail = &w->lock_next;
		w = next;
	}
	return woken;
}

void scsi_range_unlock(struct scsi_lu *lu, struct scsi_task *t)
{
	if (t->st.rl_state != 1)
		return;
	pthread_mutex_lock(&lu->rl_lock);
	rl_remove_held(lu, t);
	struct scsi_task *woken = lu->rl_wait_head ? rl_grant(lu) : NULL;
	pthread_mutex_unlock(&lu->rl_lock);
	while (woken) {
		struct scsi_task *next = woken->lock_next; /* read before posting */
		woken->st.kt.fn = rl_resume_fn;
		kloop_post(woken->loop, &woken->st.kt);
		woken = next;
	}
}
