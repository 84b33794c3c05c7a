/* SPDX-License-Identifier: Apache-2.0 */
/* Limits against hostile or runaway initiators (docs/security.md): the
 * command buffer budget shared by every session, each session's share of
 * it, and the connection caps checked at accept and at login.
 *
 * Budget. A SCSI command that moves data is charged its buffer (EDTL
 * rounded up to a page, plus the buffer's header page) from the receipt of
 * its header until its task is freed. The budget B (buffer_budget) is cut
 * in two halves:
 *   - a floor F = B / (2 x max_connections) that every session may use at
 *     any time: there are at most max_connections sessions, so all the
 *     floors together fit in B / 2;
 *   - a shared half, from which the part of a session's charges above its
 *     floor is taken (one atomic counter), a session holding at most its
 *     cap: queue_depth x max(MaxBurstLength, FirstBurstLength) as
 *     negotiated, at most B / 4, at least one largest command above F.
 * So the charges never exceed B whatever the initiators send, and a session
 * whose commands fit in its floor never waits for the others (50 sessions
 * that never finish their bursts cannot starve a well-behaved one).
 *
 * A command that does not fit waits: the connection stops reading
 * (conn_scsi.c, HV_PAUSE) and the session's MaxCmdSN stops moving until a
 * charge is returned; only when the connection itself has commands waiting
 * for Data-Out (which sit behind the new command in the socket) is the new
 * one answered TASK SET FULL instead, for the initiator to retry.
 *
 * Not for: the SCSI layer's own allocations, connection buffers (a fixed
 * amount per connection, bounded by max_connections).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "target/transport/transport_internal.h"

#define LIM_PAGE        4096u
#define LIM_CMD_MAX     (16u * 1024u * 1024u) /* kbuf's largest buffer */
#define BUDGET_MIN      (64ull << 20)
#define BUDGET_AUTO_MAX (4ull << 30)

/* Default budget: an eighth of the machine's memory, 64 MiB .. 4 GiB. */
static uint64_t budget_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t b = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 8 : BUDGET_MIN;
	if (b < BUDGET_MIN)
		b = BUDGET_MIN;
	return b > BUDGET_AUTO_MAX ? BUDGET_AUTO_MAX : b;
}

void limits_init(struct tgt_server *srv)
{
	const struct tgt_config *cfg = srv->cfg;
	uint32_t maxc = cfg->max_connections ? cfg->max_connections : 1024;
	srv->buf_budget = cfg->buffer_budget ? cfg->buffer_budget : budget_default();
	srv->buf_floor = srv->buf_budget / 2 / maxc / LIM_PAGE * LIM_PAGE;
	srv->buf_shared_cap = srv->buf_budget - srv->buf_floor * maxc;
	kinfo("buffer budget %llu MiB (%llu KiB guaranteed per session), %u connections at most",
	      (unsigned long long)(srv->buf_budget >> 20),
	      (unsigned long long)(srv->buf_floor >> 10), maxc);
}

void limits_session_init(struct session *s)
{
	const struct tgt_server *srv = s->srv;
	uint32_t qd = srv->cfg->queue_depth ? srv->cfg->queue_depth : 256;
	uint32_t burst = s->params.max_burst > s->params.first_burst ? s->params.max_burst
								     : s->params.first_burst;
	uint64_t cap = (uint64_t)qd * (burst ? burst : LIM_CMD_MAX);
	if (cap > srv->buf_budget / 4)
		cap = srv->buf_budget / 4;
	if (cap < srv->buf_floor + LIM_CMD_MAX + LIM_PAGE)
		cap = srv->buf_floor + LIM_CMD_MAX + LIM_PAGE;
	s->buf_cap = cap;
}

uint64_t limits_charge(uint32_t edtl)
{
	if (edtl == 0 || edtl > LIM_CMD_MAX)
		return 0; /* no buffer, or refused before one is allocated */
	return ((uint64_t)edtl + LIM_PAGE - 1) / LIM_PAGE * LIM_PAGE + LIM_PAGE;
}

static uint64_t over_floor(const struct tgt_server *srv, uint64_t held)
{
	return held > srv->buf_floor ? held - srv->buf_floor : 0;
}

bool limits_take(struct session *s, uint64_t n)
{
	struct tgt_server *srv = s->srv;
	uint64_t held = s->buf_held + n;
	uint64_t d = over_floor(srv, held) - over_floor(srv, s->buf_held);
	if (held > s->buf_cap)
		goto full;
	uint64_t used = atomic_load(&srv->buf_shared_used);
	do {
		if (d && used + d > srv->buf_shared_cap)
			goto full;
	} while (d && !atomic_compare_exchange_weak(&srv->buf_shared_used, &used, used + d));
	s->buf_held = held;
	s->buf_blocked = false;
	atomic_fetch_add(&srv->buf_charged, n);
	return true;
full:
	s->buf_blocked = true; /* MaxCmdSN stays until a charge is returned */
	atomic_fetch_add(&srv->buf_waits, 1);
	return false;
}

void limits_put(struct session *s, uint64_t n)
{
	struct tgt_server *srv = s->srv;
	if (!n)
		return;
	uint64_t d = over_floor(srv, s->buf_held) - over_floor(srv, s->buf_held - n);
	s->buf_held -= n;
	if (d)
		atomic_fetch_sub(&srv->buf_shared_used, d);
	atomic_fetch_sub(&srv->buf_charged, n);
	if (s->buf_blocked) {
		s->buf_blocked = false;
		session_update_window(s);
	}
}

/* One warning per 10 s at most for each kind of refusal: a flood of them
 * must not flood the log. */
bool limits_log_ok(atomic_uint_fast64_t *last)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec, prev = atomic_load(last);
	return (prev == 0 || now >= prev + 10) && atomic_compare_exchange_strong(last, &prev, now);
}

bool limits_accept_ok(struct tgt_server *srv)
{
	uint32_t maxc = srv->cfg->max_connections ? srv->cfg->max_connections : 1024;
	int n = atomic_load(&srv->n_conns);
	if ((uint32_t)n < maxc + LIMITS_LOGIN_SLACK)
		return true;
	if (limits_log_ok(&srv->log_accept))
		kwarn("accept: %d connections open, max_connections %u: closing new ones at once",
		      n, maxc);
	return false;
}

bool limits_conn_over(const struct tgt_server *srv)
{
	uint32_t maxc = srv->cfg->max_connections ? srv->cfg->max_connections : 1024;
	return (uint32_t)atomic_load(&srv->n_conns) > maxc;
}
