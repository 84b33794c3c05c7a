/* SPDX-License-Identifier: Apache-2.0 */
/* Asymmetric logical unit access (SPC-4 5.16): the port group table, the
 * per-command access check, REPORT TARGET PORT GROUPS (SPC-4 6.27) and SET
 * TARGET PORT GROUPS (SPC-4 6.36).
 *
 * What each state refuses is data: scsi_op.alua_allow (SPC-4 5.16.2.4.4 for
 * standby, 5.16.2.4.5 for unavailable); transitioning allows what
 * unavailable allows (5.16.2.5) and refuses the rest with 04/0A. The state
 * is target-wide per port group (see scsi_alua.h); every port answers RTPG
 * with the same table.
 *
 * Not for: who raises 2A/06 on which LU (the daemon's change hook, admin.c).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "target/scsi/scsi_alua.h"
#include "target/scsi/scsi_internal.h"

/* ---- pure helpers ---- */
static const struct {
	const char *name;
	int state;
} state_names[] = {
	{ "active-optimized", SCSI_ALUA_AO },
	{ "ao", SCSI_ALUA_AO },
	{ "active-nonoptimized", SCSI_ALUA_AN },
	{ "an", SCSI_ALUA_AN },
	{ "standby", SCSI_ALUA_STANDBY },
	{ "unavailable", SCSI_ALUA_UNAVAILABLE },
	{ "transitioning", SCSI_ALUA_TRANSITIONING },
};

int scsi_alua_state_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (!strcmp(name, state_names[i].name))
			return state_names[i].state;
	return -EINVAL;
}

const char *scsi_alua_state_name(int state)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (state_names[i].state == state)
			return state_names[i].name;
	return "unknown";
}

/* SPC-4 table 180: one descriptor = 8 bytes + 4 per relative port. */
static size_t rtpg_desc(const struct scsi_alua_group *g, uint8_t *d, size_t room)
{
	size_t len = 8 + 4u * g->n_ports;
	uint8_t tmp[8 + 4 * SCSI_ALUA_MAX_PORTS] = { 0 };
	tmp[0] = (uint8_t)(g->state & 0x0F); /* PREF = 0 */
	tmp[1] = SCSI_ALUA_SUP_BITS;
	put_be16(tmp + 2, g->id);
	tmp[5] = g->status;
	tmp[7] = g->n_ports;
	for (unsigned i = 0; i < g->n_ports; i++)
		put_be16(tmp + 8 + 4 * i + 2, g->ports[i]);
	memcpy(d, tmp, len < room ? len : room);
	return len;
}

size_t scsi_rtpg_encode(const struct scsi_alua_group *g, unsigned n, bool extended,
			uint8_t transition_s, uint8_t *out, size_t cap)
{
	uint8_t hdr[8] = { 0 };
	size_t hlen = extended ? 8 : 4;
	if (extended) {
		hdr[4] = 0x10;         /* FORMAT TYPE 001b (SPC-4 table 177) */
		hdr[5] = transition_s; /* IMPLICIT TRANSITION TIME */
	}
	size_t pos = hlen;
	for (unsigned i = 0; i < n; i++)
		pos += rtpg_desc(&g[i], pos < cap ? out + pos : out, pos < cap ? cap - pos : 0);
	put_be32(hdr, (uint32_t)(pos - 4)); /* RETURN DATA LENGTH */
	memcpy(out, hdr, hlen < cap ? hlen : cap);
	return pos;
}

static bool stpg_settable(uint8_t state)
{
	/* SPC-4 6.36: AO, AN, standby and unavailable may be requested. */
	return state <= SCSI_ALUA_UNAVAILABLE;
}

int scsi_stpg_parse(const uint8_t *p, size_t len, struct scsi_stpg_desc *out, unsigned max,
		    uint16_t *bad_byte)
{
	*bad_byte = 0;
	if (len < 4 || (len - 4) % 4)
		return -1;
	unsigned n = (unsigned)((len - 4) / 4);
	if (n > max) {
		*bad_byte = (uint16_t)(4 + 4 * max);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *d = p + 4 + 4 * i;
		if (!stpg_settable(d[0] & 0x0F)) {
			*bad_byte = (uint16_t)(4 + 4 * i);
			return -1;
		}
		out[i].state = d[0] & 0x0F;
		out[i].tpg = get_be16(d + 2);
	}
	return (int)n;
}

/* ---- the port group table ---- */
static struct {
	pthread_mutex_t lock; /* n, ports, status; state is also atomic */
	struct scsi_alua_group g[SCSI_ALUA_MAX_GROUPS];
	_Atomic uint8_t state[SCSI_ALUA_MAX_GROUPS];
	_Atomic unsigned n;
	void (*hook)(void *arg, const struct scsi_itn *except);
	void *hook_arg;
} alua = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int find_group(uint16_t tpg)
{
	unsigned n = atomic_load(&alua.n);
	for (unsigned i = 0; i < n; i++)
		if (alua.g[i].id == tpg)
			return (int)i;
	return -1;
}

int scsi_alua_add_port(uint16_t tpg, uint16_t rel_port)
{
	pthread_mutex_lock(&alua.lock);
	int i = find_group(tpg), r = 0;
	if (i < 0 && alua.n < SCSI_ALUA_MAX_GROUPS) {
		i = (int)alua.n;
		alua.g[i] = (struct scsi_alua_group){ .id = tpg };
		atomic_store(&alua.state[i], SCSI_ALUA_AO);
		atomic_store(&alua.n, alua.n + 1);
	}
	if (i < 0 || alua.g[i].n_ports >= SCSI_ALUA_MAX_PORTS)
		r = -ENOSPC;
	else
		alua.g[i].ports[alua.g[i].n_ports++] = rel_port;
	pthread_mutex_unlock(&alua.lock);
	return r;
}

void scsi_alua_reset(void)
{
	pthread_mutex_lock(&alua.lock);
	atomic_store(&alua.n, 0);
	alua.hook = NULL;
	pthread_mutex_unlock(&alua.lock);
}

int scsi_alua_get_state(uint16_t tpg)
{
	int i = find_group(tpg);
	return i < 0 ? SCSI_ALUA_AO : atomic_load(&alua.state[i]);
}

unsigned scsi_alua_snapshot(struct scsi_alua_group *out, unsigned max)
{
	pthread_mutex_lock(&alua.lock);
	unsigned n = alua.n < max ? alua.n : max;
	for (unsigned i = 0; i < n; i++) {
		out[i] = alua.g[i];
		out[i].state = atomic_load(&alua.state[i]);
	}
	pthread_mutex_unlock(&alua.lock);
	return n;
}

void scsi_alua_set_change_hook(void (*fn)(void *arg, const struct scsi_itn *except), void *arg)
{
	pthread_mutex_lock(&alua.lock);
	alua.hook = fn;
	alua.hook_arg = arg;
	pthread_mutex_unlock(&alua.lock);
}

void scsi_alua_raise_changed(struct scsi_lu *lu, const struct scsi_itn *except)
{
	scsi_lu_raise_ua(lu, SCSI_UA_ALUA_CHANGED, except);
}

/* Set one group's state (lock held); true if it changed. */
static bool set_locked(int i, int state, uint8_t status)
{
	alua.g[i].status = status;
	return atomic_exchange(&alua.state[i], (uint8_t)state) != state;
}

static void notify(const struct scsi_itn *except)
{
	pthread_mutex_lock(&alua.lock);
	void (*fn)(void *, const struct scsi_itn *) = alua.hook;
	void *arg = alua.hook_arg;
	pthread_mutex_unlock(&alua.lock);
	if (fn)
		fn(arg, except);
}

static bool state_valid(int state)
{
	return stpg_settable((uint8_t)state) || state == SCSI_ALUA_TRANSITIONING;
}

int scsi_alua_set_state(uint16_t tpg, int state)
{
	if (!state_valid(state))
		return -EINVAL;
	pthread_mutex_lock(&alua.lock);
	int i = find_group(tpg);
	bool changed = i >= 0 && set_locked(i, state, SCSI_ALUA_ST_IMPLICIT);
	pthread_mutex_unlock(&alua.lock);
	if (i < 0)
		return -ENOENT;
	if (changed)
		notify(NULL);
	return 0;
}

/* ---- the access check (scsi_lu_alua_check) ---- */
/* Which alua_allow bit a state needs; transitioning as unavailable. */
static uint8_t allow_bit(int state)
{
	static const uint8_t bit[] = { ALUA_ALLOW_AO, ALUA_ALLOW_AN, ALUA_ALLOW_SB, ALUA_ALLOW_UA };
	return state >= 0 && state < 4 ? bit[state] : ALUA_ALLOW_UA;
}

static int refusal(int state)
{
	switch (state) { /* SPC-4 5.16.2.4.4, 5.16.2.4.5, 5.16.2.5 */
	case SCSI_ALUA_STANDBY: return SR_ALUA_STANDBY;
	case SCSI_ALUA_UNAVAILABLE: return SR_ALUA_UNAVAILABLE;
	default: return SR_ALUA_TRANSITIONING;
	}
}

int scsi_alua_check(const struct scsi_itn *itn, const struct scsi_op *op)
{
	if (!itn)
		return SR_GOOD;
	int state = scsi_alua_get_state(itn->port.tpg_id);
	return (op->alua_allow & allow_bit(state)) ? SR_GOOD : refusal(state);
}

/* ---- REPORT TARGET PORT GROUPS (SPC-4 6.27) ---- */
#define RTPG_MAX_LEN (8 + SCSI_ALUA_MAX_GROUPS * (8 + 4 * SCSI_ALUA_MAX_PORTS))

int scsi_exec_rtpg(struct scsi_task *t)
{
	uint8_t fmt = t->cdb[1] >> 5;
	uint32_t alloc = get_be32(t->cdb + 6);
	if (fmt > 1)
		return scsi_fail_field(t, 1, 7);
	struct scsi_alua_group g[SCSI_ALUA_MAX_GROUPS];
	unsigned n = scsi_alua_snapshot(g, SCSI_ALUA_MAX_GROUPS);
	if (n == 0) { /* no table (unit tests, embedded use): the nexus's own port */
		g[0] = (struct scsi_alua_group){ .id = t->itn ? t->itn->port.tpg_id : 1,
						 .n_ports = 1,
						 .ports = { t->itn ? t->itn->port.rel_port_id
								   : 1 } };
		n = 1;
	}
	uint8_t *b = scsi_in_alloc(t, RTPG_MAX_LEN);
	if (!b)
		return SR_PENDING;
	size_t len = scsi_rtpg_encode(g, n, fmt == 1, 0, b, RTPG_MAX_LEN);
	return scsi_in_done(t, len, alloc);
}

/* ---- SET TARGET PORT GROUPS (SPC-4 6.36) ---- */
static int stpg_apply(const struct scsi_stpg_desc *d, int n, bool *changed)
{
	pthread_mutex_lock(&alua.lock);
	int bad = -1;
	for (int i = 0; i < n && bad < 0; i++)
		if (find_group(d[i].tpg) < 0)
			bad = i;
	for (int i = 0; i < n && bad < 0; i++)
		*changed |= set_locked(find_group(d[i].tpg), d[i].state, SCSI_ALUA_ST_STPG);
	pthread_mutex_unlock(&alua.lock);
	return bad;
}

int scsi_exec_stpg(struct scsi_task *t)
{
	uint32_t plen = get_be32(t->cdb + 6);
	t->out_wanted = plen;
	if (plen == 0)
		return SR_GOOD;
	uint8_t p[4 + 4 * SCSI_ALUA_MAX_GROUPS];
	if (plen > sizeof(p) || t->out_len < plen)
		return SR_PARAM_LIST_LENGTH;
	scsi_out_copy(t, 0, p, plen);
	struct scsi_stpg_desc d[SCSI_ALUA_MAX_GROUPS];
	uint16_t bad_byte;
	int n = scsi_stpg_parse(p, plen, d, SCSI_ALUA_MAX_GROUPS, &bad_byte);
	if (n < 0)
		return bad_byte ? scsi_fail_param(t, bad_byte, 3) : SR_PARAM_LIST_LENGTH;
	bool changed = false;
	int bad = stpg_apply(d, n, &changed);
	if (bad >= 0)
		return scsi_fail_param(t, (uint16_t)(4 + 4 * bad + 2), 7);
	if (changed)
		notify(t->itn); /* SPC-4 5.16.2.6: not to the nexus that asked */
	return SR_GOOD;
}
