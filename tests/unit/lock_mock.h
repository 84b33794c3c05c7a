/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_mock.h: an in-memory HA LUN and reservation state behind struct
 * lock_ops, for the cluster-lock unit tests (test_lock_lease, test_lock_fence).
 * Several struct lock_ha (one per simulated host) share one mock disk. Faults
 * are scripted per CAW: drop the completion after or before execution, or let
 * another host's record land first. Every operation is appended to a log so
 * tests check the order of steps. Not a model of SCSI beyond what the library
 * relies on: CAW atomicity, READ KEYS, PREEMPT AND ABORT removing a key.
 */
#ifndef KURA_LOCK_MOCK_H
#define KURA_LOCK_MOCK_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cluster-lock/lock_internal.h"

#define MOCK_BS   512
#define MOCK_LUNS 4 /* index 0 = the HA LUN, 1.. = VM LUNs */
#define MOCK_KEYS 16
#define MOCK_LOG  64

enum mock_fault {
	FAULT_NONE = 0,
	FAULT_DROP_AFTER,  /* executes; the completion is lost (-ETIMEDOUT) */
	FAULT_DROP_BEFORE, /* lost before execution (-ETIMEDOUT) */
	FAULT_STEAL,       /* another record lands first (then mine runs) */
	FAULT_STEAL_DROP,  /* another record lands first; my completion is lost */
	FAULT_CONFLICT,    /* RESERVATION CONFLICT */
};

struct mock_disk {
	uint8_t blk[LOCK_TOTAL_BLOCKS][MOCK_BS];
	uint64_t keys[MOCK_LUNS][MOCK_KEYS];
	enum mock_fault fault[8]; /* faults of the next CAWs, in order */
	int nfault;
	uint8_t steal[MOCK_BS]; /* what FAULT_STEAL writes */
	int caw_executed;
	int preempt_fail_lun; /* preempt on this lun fails (0: none) */
	int keep_key_lun;     /* preempt "succeeds" but the key stays */
	char log[MOCK_LOG][48];
	int nlog;
	uint64_t now;
};

struct mock_host {
	struct mock_disk *d;
	struct lock_ha h;
};

static char mock_lun_mem[MOCK_LUNS];

static inline struct lock_lun *mock_lun(int i)
{
	return (struct lock_lun *)(void *)&mock_lun_mem[i];
}

static inline int mock_lun_index(struct lock_lun *l)
{
	return l ? (int)((char *)(void *)l - mock_lun_mem) : 0;
}

__attribute__((format(printf, 2, 3))) static inline void mock_log(struct mock_disk *d,
								  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (d->nlog < MOCK_LOG)
		vsnprintf(d->log[d->nlog++], sizeof(d->log[0]), fmt, ap);
	va_end(ap);
}

static inline int mock_read(void *ctx, uint64_t lba, uint32_t n, uint8_t *buf)
{
	struct mock_host *m = ctx;
	for (uint32_t i = 0; i < n; i++)
		memcpy(buf + (size_t)i * MOCK_BS, m->d->blk[lba + i], MOCK_BS);
	return 0;
}

static inline int key_slot(struct mock_disk *d, int lun, uint64_t key)
{
	for (int i = 0; i < MOCK_KEYS; i++)
		if (d->keys[lun][i] == key)
			return i;
	return -1;
}

static inline enum mock_fault next_fault(struct mock_disk *d)
{
	if (!d->nfault)
		return FAULT_NONE;
	enum mock_fault f = d->fault[0];
	memmove(d->fault, d->fault + 1, sizeof(d->fault) - sizeof(d->fault[0]));
	d->nfault--;
	return f;
}

static inline int mock_caw(void *ctx, uint64_t lba, const uint8_t *expect, const uint8_t *data)
{
	struct mock_host *m = ctx;
	struct mock_disk *d = m->d;
	enum mock_fault f = next_fault(d);
	if (f == FAULT_DROP_BEFORE)
		return -ETIMEDOUT;
	if (f == FAULT_CONFLICT || key_slot(d, 0, lock_ha_key(&m->h)) < 0)
		return LOCK_E_RESV_CONFLICT; /* WEAR: unregistered hosts cannot write */
	if (f == FAULT_STEAL || f == FAULT_STEAL_DROP)
		memcpy(d->blk[lba], d->steal, MOCK_BS);
	int rc = 0;
	if (memcmp(d->blk[lba], expect, MOCK_BS)) {
		rc = LOCK_E_MISCOMPARE;
	} else {
		memcpy(d->blk[lba], data, MOCK_BS);
		d->caw_executed++;
		struct lock_slot s;
		if (lba >= LOCK_SLOT_LBA && lba < LOCK_LEASE_LBA &&
		    !lock_slot_decode(data, MOCK_BS, (uint16_t)(lba - LOCK_SLOT_LBA + 1), &s))
			mock_log(d, "slot %u %s", s.host_id, lock_slot_state_name(s.state));
	}
	return (f == FAULT_DROP_AFTER || f == FAULT_STEAL_DROP) ? -ETIMEDOUT : rc;
}

static inline void mock_add_key(struct mock_disk *d, int lun, uint64_t key)
{
	int i = key_slot(d, lun, 0);
	if (i >= 0 && key_slot(d, lun, key) < 0)
		d->keys[lun][i] = key;
}

static inline int mock_has_key(void *ctx, struct lock_lun *lun, uint64_t key)
{
	struct mock_host *m = ctx;
	int i = mock_lun_index(lun);
	mock_log(m->d, "has_key lun %d host %u -> %d", i, lock_key_host(key),
		 key_slot(m->d, i, key) >= 0);
	return key_slot(m->d, i, key) >= 0;
}

static inline int mock_preempt(void *ctx, struct lock_lun *lun, uint64_t me, uint64_t victim)
{
	struct mock_host *m = ctx;
	struct mock_disk *d = m->d;
	int i = mock_lun_index(lun);
	mock_log(d, "preempt lun %d host %u", i, lock_key_host(victim));
	if (i && i == d->preempt_fail_lun)
		return -EIO;
	if (key_slot(d, i, me) < 0) {
		if (!lun)
			return LOCK_E_FENCED;
		mock_add_key(d, i, me);
	}
	int k = key_slot(d, i, victim);
	if (k >= 0 && !(d->keep_key_lun && i == d->keep_key_lun))
		d->keys[i][k] = 0;
	return 0;
}

static inline uint64_t mock_now(void *ctx)
{
	struct mock_host *m = ctx;
	return m->d->now;
}

static const struct lock_ops mock_ops = {
	.read = mock_read,
	.caw = mock_caw,
	.preempt = mock_preempt,
	.has_key = mock_has_key,
	.now_ns = mock_now,
};

/* A formatted mock disk (cluster "lab", tag 0x1234). */
static inline void mock_format(struct mock_disk *d)
{
	struct lock_header h = { .tag = 0x1234,
				 .layout_version = LOCK_VERSION,
				 .block_size = MOCK_BS,
				 .max_hosts = LOCK_MAX_HOSTS,
				 .max_leases = LOCK_MAX_LEASES,
				 .slot_lba = LOCK_SLOT_LBA,
				 .lease_lba = LOCK_LEASE_LBA,
				 .hb_interval_ms = 1000,
				 .fail_after_ms = 10000 };
	memset(d, 0, sizeof(*d));
	snprintf(h.cluster, sizeof(h.cluster), "lab");
	lock_header_encode(&h, d->blk[0], MOCK_BS);
	for (uint16_t id = 1; id <= LOCK_MAX_HOSTS; id++) {
		struct lock_slot s;
		lock_slot_free(&s, id);
		lock_slot_encode(&s, d->blk[lock_slot_lba(id)], MOCK_BS);
	}
	for (uint32_t i = 0; i < LOCK_MAX_LEASES; i++) {
		struct lock_lease l;
		lock_lease_free(&l);
		lock_lease_encode(&l, i, d->blk[lock_lease_lba(i)], MOCK_BS);
	}
}

/* A host "joined" directly on the mock: slot JOINED, key on the HA LUN. */
static inline void mock_host_init(struct mock_host *m, struct mock_disk *d, uint16_t id,
				  uint32_t inc)
{
	memset(m, 0, sizeof(*m));
	m->d = d;
	struct lock_ha *h = &m->h;
	h->ops = &mock_ops;
	h->ops_ctx = m;
	snprintf(h->cluster, sizeof(h->cluster), "lab");
	snprintf(h->host_name, sizeof(h->host_name), "hv%u", id);
	h->host_id = id;
	h->hb_interval_ms = 1000;
	h->fail_after_ms = 10000;
	h->bs = MOCK_BS;
	lock_header_decode(d->blk[0], MOCK_BS, "lab", &h->hdr);
	h->have_hdr = true;
	h->incarnation = inc;
	struct lock_slot s = { .host_id = id,
			       .state = LOCK_SLOT_JOINED,
			       .incarnation = inc,
			       .counter = 1 };
	snprintf(s.host_name, sizeof(s.host_name), "hv%u", id);
	lock_slot_encode(&s, d->blk[lock_slot_lba(id)], MOCK_BS);
	memcpy(h->own_blk, d->blk[lock_slot_lba(id)], MOCK_BS);
	h->own = s;
	h->own_valid = true;
	mock_add_key(d, 0, lock_ha_key_of(h, id, inc));
}

static inline bool mock_logged(const struct mock_disk *d, const char *entry)
{
	for (int i = 0; i < d->nlog; i++)
		if (!strcmp(d->log[i], entry))
			return true;
	return false;
}

static inline int mock_log_index(const struct mock_disk *d, const char *entry)
{
	for (int i = 0; i < d->nlog; i++)
		if (!strcmp(d->log[i], entry))
			return i;
	return -1;
}

#endif
