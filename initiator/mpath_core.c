/* SPDX-License-Identifier: Apache-2.0 */
/* Pure multipath logic (see mpath_internal.h): identity parsing, outcome
 * classification, path selection, no-path queue deadline, backoff.
 *
 * Not for: anything that touches a socket, a clock or a thread.
 */
#include "initiator/mpath_internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

/* Sense keys (SPC-4 table 54). */
enum {
	SK_NOT_READY = 2,
	SK_MEDIUM = 3,
	SK_ILLEGAL = 5,
	SK_UA = 6,
	SK_DATA_PROTECT = 7,
	SK_ABORTED = 0xb
};

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One designation descriptor (SPC-4 7.8.6.1, table 590). */
static void vpd83_desc(const uint8_t *d, unsigned dlen, struct mpath_ident *out)
{
	unsigned assoc = (d[1] >> 4) & 3, type = d[1] & 0xf;
	const uint8_t *v = d + 4;

	if (type == 3 && assoc == 0 && (dlen == 8 || dlen == 16) && out->naa_len < (int)dlen) {
		memcpy(out->naa, v, dlen); /* prefer the longer NAA (IEEE registered extended) */
		out->naa_len = (int)dlen;
	} else if (type == 4 && assoc == 1 && dlen == 4) {
		out->rel_port = (int)be16(v + 2);
	} else if (type == 5 && assoc == 1 && dlen == 4) {
		out->tpg = (int)be16(v + 2);
	}
}

int mpath_parse_vpd83(const uint8_t *b, size_t len, struct mpath_ident *out)
{
	memset(out, 0, sizeof(*out));
	out->rel_port = out->tpg = -1;
	if (len < 4 || b[1] != 0x83)
		return -EINVAL;
	size_t end = 4 + be16(b + 2);
	if (end > len)
		end = len; /* truncated by the allocation length: parse what came */
	for (size_t off = 4; off + 4 <= end;) {
		unsigned dlen = b[off + 3];
		if (off + 4 + dlen > end)
			return -EINVAL;
		vpd83_desc(b + off, dlen, out);
		off += 4 + dlen;
	}
	return out->naa_len ? 0 : -ENOENT;
}

void mpath_wwid(const struct mpath_ident *id, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "naa.");
	for (int i = 0; i < id->naa_len && n + 2 < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%02x", id->naa[i]);
}

int mpath_std_tpgs(const uint8_t *b, size_t len)
{
	return len < 6 ? -EINVAL : (b[5] >> 4) & 3;
}

/* SPC-4 6.37: 4-byte length, optional extended header (format type 1). */
int mpath_parse_rtpg(const uint8_t *b, size_t len, int rel_port, int *tpg, int *state)
{
	if (len < 4)
		return -EINVAL;
	size_t end = 4 + (size_t)be32(b);
	size_t off = 4;
	if (end > len)
		end = len;
	if (len >= 8 && ((b[4] >> 4) & 7) == 1)
		off = 8;
	while (off + 8 <= end) {
		const uint8_t *g = b + off;
		unsigned nports = g[7];
		if (off + 8 + 4 * (size_t)nports > end)
			return -EINVAL;
		for (unsigned i = 0; i < nports; i++) {
			if ((int)be16(g + 8 + 4 * i + 2) == rel_port) {
				*tpg = (int)be16(g + 2);
				*state = g[0] & 0xf;
				return 0;
			}
		}
		off += 8 + 4 * (size_t)nports;
	}
	return off == end ? -ENOENT : -EINVAL;
}

int mpath_alua_prio(int state)
{
	switch (state) {
	case ALUA_AO: return 50;
	case ALUA_ANO: return 10;
	case ALUA_STANDBY: return 0; /* cannot serve reads/writes (SPC-4 5.15.2.4.4) */
	default: return 0;           /* unavailable, transitioning, offline */
	}
}

static enum mpath_verdict classify_sense(int key, int asc, int ascq)
{
	switch (key) {
	case SK_UA: return MV_RETRY_SAME;
	case SK_NOT_READY: /* ALUA transitioning/standby, becoming ready */
	case SK_ABORTED: /* e.g. the target lost the connection's task */ return MV_RETRY_OTHER;
	default: /* ILLEGAL REQUEST, MEDIUM ERROR, DATA PROTECT, ... */ return MV_FAIL;
	}
}

enum mpath_verdict mpath_classify(int status, int sense_key, int asc, int ascq)
{
	switch (status) {
	case SCSI_STATUS_GOOD:
	case SCSI_STATUS_CONDITION_MET: return MV_OK;
	case SCSI_STATUS_CHECK_CONDITION: return classify_sense(sense_key, asc, ascq);
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_TASK_SET_FULL: return MV_BUSY;
	case SCSI_STATUS_RESERVATION_CONFLICT: return MV_FAIL;
	default: /* CANCELLED, ERROR, TIMEOUT, TASK ABORTED, ... */ return MV_RETRY_OTHER;
	}
}

int mpath_fail_errno(int status, int sense_key, int asc, int ascq)
{
	if (status == SCSI_STATUS_RESERVATION_CONFLICT)
		return -EBADE;
	if (sense_key == SK_DATA_PROTECT && asc == 0x27 && ascq == 0x07)
		return -ENOSPC; /* space allocation failed write protect */
	if (sense_key == SK_DATA_PROTECT)
		return -EROFS;
	if (sense_key == SK_ILLEGAL && asc == 0x20)
		return -EOPNOTSUPP; /* invalid command operation code */
	return -EIO;
}

static int best_prio(const struct mpath_cand *c, int n)
{
	int best = 0;
	for (int i = 0; i < n; i++)
		if (c[i].up && mpath_alua_prio(c[i].alua_state) > best)
			best = mpath_alua_prio(c[i].alua_state);
	return best;
}

static bool in_best(const struct mpath_cand *c, int i, int best)
{
	return c[i].up && mpath_alua_prio(c[i].alua_state) == best;
}

static int select_failover(const struct mpath_cand *c, int n, int best, bool failback,
			   struct mpath_sel *st)
{
	int first = -1;
	for (int i = 0; i < n && first < 0; i++)
		if (in_best(c, i, best))
			first = i;
	int cur = st->current;
	if (cur >= 0 && cur < n && in_best(c, cur, best) && (!failback || cur == first))
		return cur;
	st->current = first;
	return first;
}

static int select_rr(const struct mpath_cand *c, int n, int best, struct mpath_sel *st)
{
	for (int k = 1; k <= n; k++) {
		int i = (int)((st->rr + (unsigned)k) % (unsigned)n);
		if (in_best(c, i, best)) {
			st->rr = (unsigned)i;
			st->current = i;
			return i;
		}
	}
	return -1;
}

int mpath_select(const struct mpath_cand *c, int n, enum mpath_policy pol, bool failback_immediate,
		 struct mpath_sel *st)
{
	int best = best_prio(c, n);
	if (n <= 0 || best == 0) {
		st->current = -1;
		return -1;
	}
	if (pol == MPATH_ROUND_ROBIN)
		return select_rr(c, n, best, st);
	return select_failover(c, n, best, failback_immediate, st);
}

void mpath_q_paths(struct mpath_queue *q, bool have_path, uint64_t now_ms)
{
	if (have_path) {
		q->failing = false;
	} else if (q->have_path) {
		q->nopath_since = now_ms;
	}
	q->have_path = have_path;
}

enum mpath_qdecision mpath_q_decide(struct mpath_queue *q, uint64_t now_ms, uint64_t bound_ms)
{
	if (q->have_path)
		return MQ_DISPATCH;
	if (!q->failing && now_ms - q->nopath_since >= bound_ms)
		q->failing = true;
	return q->failing ? MQ_FAIL : MQ_WAIT;
}

void mpath_q_fail_now(struct mpath_queue *q)
{
	if (!q->have_path)
		q->failing = true;
}

uint64_t mpath_backoff_next(uint64_t cur, uint64_t min_ms, uint64_t max_ms)
{
	uint64_t n = cur ? cur * 2 : min_ms;
	return n > max_ms ? max_ms : n;
}
