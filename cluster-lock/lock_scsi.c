/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_scsi.c: the lock manager's SCSI commands over libiscsi (see
 * lock_scsi.h). One context per path; each command is sent with the async
 * API and the context is pumped with poll() until the completion or the
 * per-I/O deadline. On a missed deadline or a broken connection the
 * context is destroyed (which cancels the task: no completion can arrive
 * later) and the next path is used; it reconnects on next use.
 *
 * Retry rules (why each is safe):
 *  - UNIT ATTENTION: the command was not executed (SAM-5 5.14): consume,
 *    record the event, resend on the same path (I9).
 *  - connect failure: nothing was sent: try the next path.
 *  - a command lost in flight: reads, WRITE(16) of format and PR OUT are
 *    resent on the next path (PR OUT outcomes are then checked by the caller
 *    with READ KEYS); COMPARE AND WRITE is not: its outcome is unknown and
 *    only a re-read of the block can tell (lock_caw.c, I8).
 * Not for deciding anything: no policy, no records.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include "common/byteorder.h"
#include "common/log.h"
#include "cluster-lock/lock_scsi.h"

#define UA_RETRIES 16

struct lock_path {
	char portal[MAX_STRING_SIZE + 1];
	char target[MAX_STRING_SIZE + 1];
	int lun;
	struct iscsi_context *ctx;
	int conn_state; /* 0 pending, 1 logged in, -1 failed or torn down */
};

struct lock_lun {
	struct lock_path path[LOCK_MAX_PATHS];
	int n_paths, cur;
	bool pinned;   /* lock_lun_pin: no failover to other paths */
	int saved_cur; /* the current path before pinning */
	char initiator[LOCK_INITIATOR_MAX];
	uint64_t timeout_ns;
	uint32_t block_size;
	uint64_t blocks;
	unsigned events;
	struct lock_sense sense;
};

struct lock_cmd {
	uint8_t cdb[16];
	int cdb_len, dir;
	const uint8_t *out;
	uint32_t out_len;
	uint8_t *in;
	uint32_t in_len, in_got;
	bool resend; /* may be resent after it was lost in flight */
};

struct cmd_wait {
	int done, status;
};

/* ---- paths ---- */
static void path_drop(struct lock_path *p)
{
	if (p->ctx)
		iscsi_destroy_context(p->ctx);
	p->ctx = NULL;
	p->conn_state = -1;
}

static int path_parse(struct lock_path *p, const char *url_s)
{
	struct iscsi_context *tmp = iscsi_create_context("iqn.2026-12.org.kura:parse");
	if (!tmp)
		return -ENOMEM;
	struct iscsi_url *u = iscsi_parse_full_url(tmp, url_s);
	int rc = u ? 0 : -EINVAL;
	if (u) {
		snprintf(p->portal, sizeof(p->portal), "%s", u->portal);
		snprintf(p->target, sizeof(p->target), "%s", u->target);
		p->lun = u->lun;
		iscsi_destroy_url(u);
	}
	iscsi_destroy_context(tmp);
	p->conn_state = -1;
	return rc;
}

struct lock_lun *lock_lun_open(const struct lock_lun_params *prm, int *err)
{
	struct lock_lun *l = calloc(1, sizeof(*l));
	*err = l ? 0 : -ENOMEM;
	if (!l)
		return NULL;
	if (prm->n_urls < 1 || prm->n_urls > LOCK_MAX_PATHS || !prm->initiator)
		*err = -EINVAL;
	for (int i = 0; !*err && i < prm->n_urls; i++)
		*err = path_parse(&l->path[i], prm->urls[i]);
	if (*err) {
		free(l);
		return NULL;
	}
	l->n_paths = prm->n_urls;
	snprintf(l->initiator, sizeof(l->initiator), "%s", prm->initiator);
	l->timeout_ns = (uint64_t)(prm->io_timeout_ms ? prm->io_timeout_ms : 2000) * 1000000;
	return l;
}

void lock_lun_disconnect(struct lock_lun *l)
{
	for (int i = 0; i < l->n_paths; i++)
		path_drop(&l->path[i]);
}

void lock_lun_close(struct lock_lun *l)
{
	if (!l)
		return;
	lock_lun_disconnect(l);
	free(l);
}

unsigned lock_lun_take_events(struct lock_lun *l)
{
	unsigned ev = l->events;
	l->events = 0;
	return ev;
}

int lock_lun_paths(const struct lock_lun *l)
{
	return l->n_paths;
}

void lock_lun_pin(struct lock_lun *l, int path)
{
	bool pin = path >= 0 && path < l->n_paths;
	if (pin && !l->pinned)
		l->saved_cur = l->cur;
	else if (!pin && l->pinned)
		l->cur = l->saved_cur; /* back to the path in use before */
	l->pinned = pin;
	if (pin)
		l->cur = path;
}

struct lock_sense lock_lun_last_sense(const struct lock_lun *l)
{
	return l->sense;
}
const char *lock_lun_initiator(const struct lock_lun *l)
{
	return l->initiator;
}

/* ---- the poll loop ---- */
static int pump(struct iscsi_context *ctx, const int *flag, uint64_t deadline)
{
	while (!*flag) {
		uint64_t now = lock_now_boot_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left_ms = (deadline - now) / 1000000 + 1;
		struct pollfd pfd = { .fd = iscsi_get_fd(ctx),
				      .events = (short)iscsi_which_events(ctx) };
		int n = poll(&pfd, 1, left_ms > 100 ? 100 : (int)left_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n >= 0 && iscsi_service(ctx, n > 0 ? pfd.revents : 0) < 0)
			return -ECONNRESET;
	}
	return 0;
}

/* Login in two async steps (TCP connect, then iSCSI login) rather than
 * iscsi_full_connect_async: a context destroyed while a full connect is
 * pending leaks the connect's private state inside libiscsi, and a dead
 * path is abandoned exactly then. Unit attentions of the new session are
 * handled by the command retry, so no TEST UNIT READY is needed here. */
static void login_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct lock_path *p = priv;
	p->conn_state = status == SCSI_STATUS_GOOD ? 1 : -1;
}

static void tcp_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct lock_path *p = priv;
	if (p->conn_state != 0)
		return; /* a later report of the connection: not ours to act on */
	if (status != SCSI_STATUS_GOOD || iscsi_login_async(ctx, login_cb, p) != 0)
		p->conn_state = -1;
}

static int ctx_setup(struct lock_lun *l, struct lock_path *p)
{
	p->ctx = iscsi_create_context(l->initiator);
	if (!p->ctx)
		return -ENOMEM;
	iscsi_set_targetname(p->ctx, p->target);
	iscsi_set_session_type(p->ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(p->ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_noautoreconnect(p->ctx, 1);
	return 0;
}

/* Logs in if needed; -ENOTCONN means nothing was sent on this path. */
/* An idle session answers nothing between commands: the target's NOP-Ins
 * wait in the socket, and after its timeout it closes the connection. Read
 * what is pending before reuse (libiscsi answers the NOP-Ins, or sees the
 * close), so a command is not sent into a connection the target has ended
 * (a PERSISTENT RESERVE OUT lost that way is not resent). */
static bool path_alive(struct lock_path *p)
{
	if (!p->ctx || p->conn_state != 1 || !iscsi_is_logged_in(p->ctx))
		return false;
	for (int i = 0; i < 16; i++) {
		struct pollfd pfd = { .fd = iscsi_get_fd(p->ctx), .events = POLLIN };
		if (poll(&pfd, 1, 0) != 1)
			return true;
		if (iscsi_service(p->ctx, pfd.revents) < 0 || !iscsi_is_logged_in(p->ctx))
			return false;
	}
	return true;
}

static int path_connect(struct lock_lun *l, struct lock_path *p)
{
	if (path_alive(p))
		return 0;
	path_drop(p);
	int rc = ctx_setup(l, p);
	if (rc)
		return rc;
	p->conn_state = 0;
	if (iscsi_connect_async(p->ctx, p->portal, tcp_cb, p) != 0) {
		path_drop(p);
		return -ENOTCONN;
	}
	rc = pump(p->ctx, &p->conn_state, lock_now_boot_ns() + l->timeout_ns);
	if (rc || p->conn_state != 1) {
		path_drop(p);
		return -ENOTCONN;
	}
	return 0;
}

/* ---- one command ---- */
static void cmd_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct cmd_wait *w = priv;
	w->status = status;
	w->done = 1;
}

static void note_ua(struct lock_lun *l, uint16_t asc_ascq)
{
	if (asc_ascq == 0x2A05)
		l->events |= LOCK_EV_PREEMPTED;
	else if (asc_ascq >= 0x2A03 && asc_ascq <= 0x2A06)
		l->events |= LOCK_EV_RESV_CHANGED;
	else if ((asc_ascq >> 8) == 0x29)
		l->events |= LOCK_EV_RESET;
}

/* SCSI outcome -> small value; -EAGAIN = resend on the same path. */
static int classify(struct lock_lun *l, struct scsi_task *t)
{
	l->sense = (struct lock_sense){ (uint8_t)t->status, (uint8_t)t->sense.key,
					(uint16_t)t->sense.ascq };
	if (t->status == SCSI_STATUS_GOOD)
		return 0;
	if (t->status == SCSI_STATUS_RESERVATION_CONFLICT) {
		l->events |= LOCK_EV_RESV_CONFLICT;
		return LOCK_E_RESV_CONFLICT;
	}
	if (t->status == SCSI_STATUS_BUSY || t->status == SCSI_STATUS_TASK_SET_FULL)
		return -EAGAIN;
	if (t->status != SCSI_STATUS_CHECK_CONDITION)
		return LOCK_E_SCSI;
	if (t->sense.key == SCSI_SENSE_UNIT_ATTENTION) {
		note_ua(l, (uint16_t)t->sense.ascq);
		return -EAGAIN;
	}
	if (t->sense.key == SCSI_SENSE_MISCOMPARE)
		return LOCK_E_MISCOMPARE;
	if (t->sense.key == SCSI_SENSE_NOT_READY)
		return -EAGAIN;
	return LOCK_E_SCSI;
}

static void copy_in(struct lock_cmd *c, const struct scsi_task *t)
{
	uint32_t n = t->datain.size < 0 ? 0 : (uint32_t)t->datain.size;
	c->in_got = n < c->in_len ? n : c->in_len;
	if (c->in_got)
		memcpy(c->in, t->datain.data, c->in_got);
}

/* Sends c on p once. -ETIMEDOUT / -ECONNRESET: lost in flight (p dropped). */
static int path_send(struct lock_lun *l, struct lock_path *p, struct lock_cmd *c)
{
	uint32_t xfer = c->dir == SCSI_XFER_WRITE ? c->out_len : c->in_len;
	struct scsi_task *t = scsi_create_task(c->cdb_len, c->cdb, c->dir, (int)xfer);
	if (!t)
		return -ENOMEM;
	struct iscsi_data d = { .size = c->out_len, .data = (unsigned char *)c->out };
	struct cmd_wait w = { 0, 0 };
	int rc = iscsi_scsi_command_async(p->ctx, p->lun, t, cmd_cb, c->out ? &d : NULL, &w);
	if (rc == 0)
		rc = pump(p->ctx, &w.done, lock_now_boot_ns() + l->timeout_ns);
	else
		rc = -ENOTCONN;
	if (rc || w.status == SCSI_STATUS_CANCELLED || w.status == SCSI_STATUS_ERROR) {
		path_drop(p); /* cancels the task: its callback runs now, not later */
		scsi_free_scsi_task(t);
		return rc == -ENOTCONN ? rc : (rc ? rc : -ECONNRESET);
	}
	rc = classify(l, t);
	if (rc == 0 && c->in)
		copy_in(c, t);
	scsi_free_scsi_task(t);
	return rc;
}

/* A unit attention is resent at once; BUSY, TASK SET FULL and NOT READY
 * after a short pause that grows with the attempts (5 ms, 10 ms, ...). */
static void backoff(const struct lock_lun *l, int attempt)
{
	if (l->sense.status == SCSI_STATUS_CHECK_CONDITION &&
	    l->sense.key == SCSI_SENSE_UNIT_ATTENTION)
		return;
	struct timespec ts = { 0, 5000000L * attempt };
	nanosleep(&ts, NULL);
}

static bool lost_in_flight(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNRESET;
}

/* Runs c over the paths, starting with the current one. */
static int lun_exec(struct lock_lun *l, struct lock_cmd *c)
{
	int bad_paths = 0, again = 0;
	for (;;) {
		struct lock_path *p = &l->path[l->cur];
		int rc = path_connect(l, p);
		if (!rc)
			rc = path_send(l, p, c);
		if (rc == -EAGAIN && ++again < UA_RETRIES) {
			backoff(l, again);
			continue;
		}
		if (rc != -ENOTCONN && !lost_in_flight(rc))
			return rc;
		kwarn("lock: path %s (%s): %s", p->portal, p->target,
		      rc == -ENOTCONN ? "no session" : "command lost, session dropped");
		if (!l->pinned)
			l->cur = (l->cur + 1) % l->n_paths;
		if (lost_in_flight(rc) && !c->resend)
			return rc;
		/* every path once, plus one resend after a reconnect: a command
		 * whose task a PREEMPT AND ABORT aborted gets no response at all */
		if (++bad_paths > (l->pinned ? 1 : l->n_paths))
			return LOCK_E_UNREACHABLE;
	}
}

/* ---- commands ---- */
int lock_lun_geometry(struct lock_lun *l, uint32_t *block_size, uint64_t *blocks)
{
	if (!l->block_size) {
		uint8_t buf[32];
		struct lock_cmd c = { .cdb = { 0x9E, 0x10 },
				      .cdb_len = 16,
				      .dir = SCSI_XFER_READ,
				      .in = buf,
				      .in_len = sizeof(buf),
				      .resend = true };
		put_be32(c.cdb + 10, sizeof(buf));
		int rc = lun_exec(l, &c);
		if (rc)
			return rc;
		if (c.in_got < 12)
			return LOCK_E_SCSI;
		l->blocks = get_be64(buf) + 1;
		l->block_size = get_be32(buf + 8);
	}
	*block_size = l->block_size;
	if (blocks)
		*blocks = l->blocks;
	return 0;
}

int lock_vpd83_wwid(const uint8_t *b, size_t len, char *out, size_t outlen)
{
	if (len < 4 || b[1] != 0x83)
		return -EINVAL;
	size_t end = 4 + get_be16(b + 2), off = 4, n;
	const uint8_t *naa = NULL;
	unsigned naa_len = 0;
	if (end > len)
		end = len; /* truncated by the allocation length: parse what came */
	for (; off + 4 <= end; off += 4 + b[off + 3]) {
		const uint8_t *d = b + off;
		unsigned dlen = d[3];
		if (off + 4 + dlen > end)
			return -EINVAL;
		/* designator type 3 (NAA), association 0 (the LU), 8 or 16 bytes */
		if ((d[1] & 0xf) == 3 && ((d[1] >> 4) & 3) == 0 && (dlen == 8 || dlen == 16) &&
		    dlen > naa_len) {
			naa = d + 4;
			naa_len = dlen;
		}
	}
	if (!naa)
		return -ENOENT;
	if (outlen < 5 + 2 * naa_len)
		return -ENAMETOOLONG;
	n = (size_t)snprintf(out, outlen, "naa.");
	for (unsigned i = 0; i < naa_len; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", naa[i]);
	return 0;
}

int lock_lun_wwid(struct lock_lun *l, char *out, size_t outlen)
{
	uint8_t buf[1024];
	struct lock_cmd c = { .cdb = { 0x12, 0x01, 0x83 },
			      .cdb_len = 6,
			      .dir = SCSI_XFER_READ,
			      .in = buf,
			      .in_len = sizeof(buf),
			      .resend = true };
	put_be16(c.cdb + 3, sizeof(buf));
	int rc = lun_exec(l, &c);
	return rc ? rc : lock_vpd83_wwid(buf, c.in_got, out, outlen);
}

static void rw16_cdb(struct lock_cmd *c, uint8_t op, uint64_t lba, uint32_t n)
{
	c->cdb[0] = op;
	c->cdb[1] = 0x08; /* FUA: the medium, not a cache (SBC-3 5.8, 5.40) */
	put_be64(c->cdb + 2, lba);
	put_be32(c->cdb + 10, n);
	c->cdb_len = 16;
}

int lock_lun_read(struct lock_lun *l, uint64_t lba, uint32_t n, uint8_t *buf)
{
	uint32_t bs;
	int rc = lock_lun_geometry(l, &bs, NULL);
	if (rc)
		return rc;
	struct lock_cmd c = { .dir = SCSI_XFER_READ, .in = buf, .in_len = n * bs, .resend = true };
	rw16_cdb(&c, 0x88, lba, n);
	rc = lun_exec(l, &c);
	return rc ? rc : (c.in_got == n * bs ? 0 : LOCK_E_SCSI);
}

int lock_lun_write(struct lock_lun *l, uint64_t lba, uint32_t n, const uint8_t *buf)
{
	uint32_t bs;
	int rc = lock_lun_geometry(l, &bs, NULL);
	if (rc)
		return rc;
	struct lock_cmd c = { .dir = SCSI_XFER_WRITE,
			      .out = buf,
			      .out_len = n * bs,
			      .resend = true };
	rw16_cdb(&c, 0x8A, lba, n);
	return lun_exec(l, &c);
}

/* COMPARE AND WRITE (SBC-3 5.2): data-out = the verify block then the
 * write block. */
int lock_lun_caw(struct lock_lun *l, uint64_t lba, const uint8_t *expect, const uint8_t *data)
{
	uint32_t bs;
	int rc = lock_lun_geometry(l, &bs, NULL);
	if (rc)
		return rc;
	uint8_t *buf = malloc(2 * (size_t)bs);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, expect, bs);
	memcpy(buf + bs, data, bs);
	struct lock_cmd c = { .cdb = { 0x89, 0x08 },
			      .cdb_len = 16,
			      .dir = SCSI_XFER_WRITE,
			      .out = buf,
			      .out_len = 2 * bs,
			      .resend = false };
	put_be64(c.cdb + 2, lba);
	c.cdb[13] = 1;
	rc = lun_exec(l, &c);
	free(buf);
	return rc;
}

/* iSCSI TransportID, format 00h (SPC-4 7.6.4.6): the name, NUL terminated,
 * padded to a multiple of 4, at least 20 bytes in all. */
static uint32_t tid_put(uint8_t *p, const char *name)
{
	size_t n = strlen(name) + 1;
	uint32_t len = (uint32_t)((n + 3) & ~(size_t)3);
	if (len < 16)
		len = 16;
	p[0] = 0x05;
	put_be16(p + 2, (uint16_t)len);
	memcpy(p + 4, name, n);
	return 4 + len;
}

int lock_lun_prout(struct lock_lun *l, const struct lock_prout *p)
{
	uint8_t prm[24 + 4 + 4 + LOCK_INITIATOR_MAX + 4] = { 0 };
	uint32_t len = 24;
	put_be64(prm, p->rk);
	put_be64(prm + 8, p->sark);
	prm[20] = p->flags;
	if (p->flags & LOCK_PRF_SPEC_I_PT) {
		uint32_t tl = tid_put(prm + 28, p->tid_name);
		put_be32(prm + 24, tl);
		len = 28 + tl;
	}
	struct lock_cmd c = { .cdb = { 0x5F, p->sa, p->type },
			      .cdb_len = 10,
			      .dir = SCSI_XFER_WRITE,
			      .out = prm,
			      .out_len = len,
			      .resend = true };
	put_be32(c.cdb + 5, len);
	return lun_exec(l, &c);
}

static int prin(struct lock_lun *l, uint8_t sa, uint8_t *buf, uint32_t cap, uint32_t *got)
{
	struct lock_cmd c = { .cdb = { 0x5E, sa },
			      .cdb_len = 10,
			      .dir = SCSI_XFER_READ,
			      .in = buf,
			      .in_len = cap,
			      .resend = true };
	put_be16(c.cdb + 7, (uint16_t)cap);
	int rc = lun_exec(l, &c);
	*got = c.in_got;
	return rc ? rc : (c.in_got < 8 ? LOCK_E_SCSI : 0);
}

int lock_lun_read_keys(struct lock_lun *l, uint64_t *keys, int max, uint32_t *generation)
{
	uint8_t buf[8 + 8 * 256];
	uint32_t got;
	int rc = prin(l, 0x00, buf, sizeof(buf), &got);
	if (rc)
		return rc;
	if (generation)
		*generation = get_be32(buf);
	uint32_t n = get_be32(buf + 4) / 8, have = (got - 8) / 8;
	int count = 0;
	for (uint32_t i = 0; i < n && i < have && count < max; i++)
		keys[count++] = get_be64(buf + 8 + 8 * i);
	return count;
}

int lock_lun_has_key(struct lock_lun *l, uint64_t key)
{
	uint64_t keys[256];
	int n = lock_lun_read_keys(l, keys, 256, NULL);
	for (int i = 0; i < n; i++)
		if (keys[i] == key)
			return 1;
	return n < 0 ? n : 0;
}

int lock_lun_read_reservation(struct lock_lun *l, uint8_t *type)
{
	uint8_t buf[24];
	uint32_t got;
	int rc = prin(l, 0x01, buf, sizeof(buf), &got);
	if (rc)
		return rc;
	if (get_be32(buf + 4) < 16 || got < 24)
		return 0;
	*type = buf[21] & 0x0F;
	return 1;
}

/* One READ FULL STATUS descriptor (SPC-4 table 178) with its TransportID. */
static uint32_t full_status_one(const uint8_t *d, uint32_t left, struct lock_pr_reg *r)
{
	uint32_t dl = get_be32(d + 20);
	if (24 + (uint64_t)dl > left)
		return 0;
	memset(r, 0, sizeof(*r));
	r->key = get_be64(d);
	r->holder = d[12] & 1;
	r->all_tg_pt = d[12] & 2;
	r->type = d[13] & 0x0F;
	r->rel_port = get_be16(d + 18);
	if (dl >= 4 && (d[24] & 0x0F) == 0x05) {
		r->any_isid = (d[24] >> 6) == 0;
		size_t n = strnlen((const char *)d + 28, dl - 4);
		n = n < sizeof(r->name) - 1 ? n : sizeof(r->name) - 1;
		memcpy(r->name, d + 28, n);
		char *comma = strchr(r->name, ',');
		if (comma)
			*comma = 0;
	}
	return 24 + dl;
}

int lock_lun_read_full_status(struct lock_lun *l, struct lock_pr_reg *regs, int max,
			      uint32_t *generation)
{
	uint32_t cap = 16384, got;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int rc = prin(l, 0x03, buf, cap, &got);
	int count = 0;
	if (!rc && generation)
		*generation = get_be32(buf);
	uint32_t end = rc ? 0 : 8 + get_be32(buf + 4), off = 8;
	end = end < got ? end : got;
	while (!rc && off + 24 <= end && count < max) {
		uint32_t n = full_status_one(buf + off, end - off, &regs[count]);
		if (!n)
			break;
		count++;
		off += n;
	}
	free(buf);
	return rc ? rc : count;
}
