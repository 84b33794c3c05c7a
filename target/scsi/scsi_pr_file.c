/* SPDX-License-Identifier: Apache-2.0 */
/* The persistent-reservation record (encode / decode), the file store
 * (scsi_pr_store.h) and the helper thread that writes it, so that no worker
 * loop ever waits for an fsync.
 *
 * Record (little-endian, checksum over the encoded bytes):
 *   0  u32 magic "KPR1"         4  u16 version (1)     6  u16 header length (48)
 *   8  u8[16] LU NAA designator (a file copied to another LU is refused)
 *  24  u32 PRgeneration        28  u8 flags (bit 0 APTPL, bit 1 reserved,
 *                                  bit 2 unit attention events follow)
 *  29  u8 type                 30  u16 registrations  32  u16 holder index (FFFFh none)
 *  34  u16 0                   36  u32 body length    40  u64 sequence number
 *  48  registrations: u64 key, u16 relative port, u8 PRID_* flags,
 *      u8 name length, u8[6] ISID, u16 0, then the name (no NUL)
 *      [flags bit 2: u16 count, then events: u64 sequence number, u64
 *      origin (the gateway process that made it), u16 UA mask, u8 PRID_*
 *      flags | 80h abort, u8 name length, u16 relative port, u8[6] ISID,
 *      u32 0, then the name]
 * end  u32 CRC32C (ISA-L crc32_iscsi, seed ~0) of bytes [0, end)
 *
 * Written crash-safely: <file>.tmp, fsync, rename over <file>, fsync of the
 * directory; a PROUT that must persist completes only after that. Snapshots
 * queue in state order (taken under pr->lock) and the thread writes only the
 * newest, completing every request it covers (group commit). A torn or
 * corrupt file fails scsi_lu_create(): reservations are never dropped
 * silently. The file has one writer (this server), so a store always
 * succeeds against the sequence number it is given.
 *
 * Not for: PR semantics (scsi_pr.c, scsi_pr_cmd.c), the shared store
 * (scsi_pr_shared.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include "common/log.h"
#include "target/scsi/scsi_internal.h"
#include "target/scsi/scsi_pr_store.h"

#define HDR_LEN   48u
#define REG_LEN   20u
#define EVT_LEN   32u
#define NO_HOLDER 0xFFFFu
#define F_EVENTS  4u
#define EVT_ABORT 0x80u

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rec_crc(const uint8_t *b, size_t len)
{
	return crc32_iscsi((unsigned char *)b, (int)len, 0xFFFFFFFFu);
}

/* ---- encode ---- */
static size_t reg_encode(const struct scsi_pr_reg *r, uint8_t *d)
{
	size_t n = strnlen(r->id.name, SCSI_PR_NAME_MAX - 1);
	memset(d, 0, REG_LEN);
	put_le64(d, r->key);
	put_le16(d + 8, r->id.rel_port);
	d[10] = r->id.flags;
	d[11] = (uint8_t)n;
	memcpy(d + 12, r->id.isid, 6);
	memcpy(d + REG_LEN, r->id.name, n);
	return REG_LEN + n;
}

static uint16_t holder_index(const struct scsi_pr *pr)
{
	uint16_t i = 0;
	for (const struct scsi_pr_reg *r = pr->regs; r; r = r->next, i++)
		if (r == pr->holder)
			return i;
	return NO_HOLDER;
}

static size_t event_encode(const struct scsi_pr_event *e, uint8_t *d)
{
	size_t n = strnlen(e->id.name, SCSI_PR_NAME_MAX - 1);
	memset(d, 0, EVT_LEN);
	put_le64(d, e->seq);
	put_le64(d + 8, e->origin);
	put_le16(d + 16, e->mask);
	d[18] = (uint8_t)(e->id.flags | (e->abort ? EVT_ABORT : 0));
	d[19] = (uint8_t)n;
	put_le16(d + 20, e->id.rel_port);
	memcpy(d + 22, e->id.isid, 6);
	memcpy(d + EVT_LEN, e->id.name, n);
	return EVT_LEN + n;
}

static size_t events_encode(const struct scsi_pr *pr, uint8_t *d)
{
	size_t n = 2;
	uint16_t k = 0;
	for (const struct scsi_pr_event *e = pr->events; e && k < SCSI_PR_MAX_EVENTS;
	     e = e->next, k++)
		n += event_encode(e, d + n);
	put_le16(d, k);
	return n;
}

uint8_t *scsi_pr_encode(const struct scsi_pr *pr, const uint8_t naa[16], uint64_t seq, bool events,
			size_t *len)
{
	uint8_t *b = calloc(1, SCSI_PR_FILE_MAX);
	if (!b)
		return NULL;
	put_le32(b, SCSI_PR_FILE_MAGIC);
	put_le16(b + 4, SCSI_PR_FILE_VERSION);
	put_le16(b + 6, HDR_LEN);
	memcpy(b + 8, naa, 16);
	put_le32(b + 24, pr->generation);
	b[28] = (uint8_t)((pr->aptpl ? 1 : 0) | (pr->reserved ? 2 : 0) | (events ? F_EVENTS : 0));
	b[29] = pr->reserved ? pr->type : 0;
	put_le16(b + 30, (uint16_t)pr->nregs);
	put_le16(b + 32, pr->reserved ? holder_index(pr) : NO_HOLDER);
	size_t n = HDR_LEN;
	for (const struct scsi_pr_reg *r = pr->regs; r; r = r->next)
		n += reg_encode(r, b + n);
	if (events)
		n += events_encode(pr, b + n);
	put_le32(b + 36, (uint32_t)(n - HDR_LEN));
	put_le64(b + 40, seq);
	put_le32(b + n, rec_crc(b, n));
	*len = n + 4;
	return b;
}

/* ---- decode (pure: bytes in, state or a reason out) ---- */
static bool type_ok(uint8_t t)
{
	return t == SCSI_PR_WE || t == SCSI_PR_EA || t == SCSI_PR_WE_RO || t == SCSI_PR_EA_RO ||
	       t == SCSI_PR_WE_AR || t == SCSI_PR_EA_AR;
}

static int rec_fail(char *why, size_t n, const char *msg)
{
	snprintf(why, n, "%s", msg);
	return -EINVAL;
}

static int check_header(const uint8_t naa[16], const uint8_t *b, size_t len, char *why, size_t wl)
{
	if (len < HDR_LEN + 4 || len > SCSI_PR_FILE_MAX)
		return rec_fail(why, wl, "truncated or oversized record");
	if (get_le32(b) != SCSI_PR_FILE_MAGIC)
		return rec_fail(why, wl, "bad magic (not a kura PR state file)");
	if (get_le16(b + 4) != SCSI_PR_FILE_VERSION || get_le16(b + 6) != HDR_LEN)
		return rec_fail(why, wl, "unsupported version");
	if (get_le32(b + len - 4) != rec_crc(b, len - 4))
		return rec_fail(why, wl, "checksum mismatch (torn or corrupt record)");
	if (get_le32(b + 36) != len - HDR_LEN - 4)
		return rec_fail(why, wl, "body length mismatch");
	if (memcmp(b + 8, naa, 16) != 0)
		return rec_fail(why, wl, "record belongs to another logical unit (NAA differs)");
	if (b[28] & ~(3u | F_EVENTS))
		return rec_fail(why, wl, "unknown flags");
	return 0;
}

static int decode_reg(struct scsi_pr *pr, const uint8_t *p, size_t left, size_t *used)
{
	if (left < REG_LEN)
		return -EINVAL;
	size_t n = p[11];
	if (n == 0 || n >= SCSI_PR_NAME_MAX || left < REG_LEN + n || memchr(p + REG_LEN, 0, n) ||
	    (p[10] & ~(PRID_ANY_ISID | PRID_ANY_PORT)))
		return -EINVAL;
	struct scsi_pr_reg *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->key = get_le64(p);
	r->id.rel_port = get_le16(p + 8);
	r->id.flags = p[10];
	memcpy(r->id.isid, p + 12, 6);
	memcpy(r->id.name, p + REG_LEN, n);
	struct scsi_pr_reg **pp = &pr->regs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	pr->nregs++;
	*used = REG_LEN + n;
	return 0;
}

static int decode_event(struct scsi_pr *pr, const uint8_t *p, size_t left, size_t *used,
			struct scsi_pr_event ***tail)
{
	if (left < EVT_LEN)
		return -EINVAL;
	size_t n = p[19];
	if (n == 0 || n >= SCSI_PR_NAME_MAX || left < EVT_LEN + n || memchr(p + EVT_LEN, 0, n) ||
	    (p[18] & ~(PRID_ANY_ISID | PRID_ANY_PORT | EVT_ABORT)) ||
	    get_le16(p + 16) >= 1u << SCSI_UA__COUNT)
		return -EINVAL;
	struct scsi_pr_event *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->seq = get_le64(p);
	e->origin = get_le64(p + 8);
	e->mask = get_le16(p + 16);
	e->id.flags = p[18] & (PRID_ANY_ISID | PRID_ANY_PORT);
	e->abort = p[18] & EVT_ABORT;
	e->id.rel_port = get_le16(p + 20);
	memcpy(e->id.isid, p + 22, 6);
	memcpy(e->id.name, p + EVT_LEN, n);
	**tail = e;
	*tail = &e->next;
	pr->nevents++;
	*used = EVT_LEN + n;
	return 0;
}

static int decode_events(struct scsi_pr *pr, const uint8_t *b, size_t *off, size_t end)
{
	if (end - *off < 2)
		return -EINVAL;
	unsigned k = get_le16(b + *off);
	struct scsi_pr_event **tail = &pr->events;
	*off += 2;
	if (k > SCSI_PR_MAX_EVENTS)
		return -EINVAL;
	for (unsigned i = 0; i < k; i++) {
		size_t used = 0;
		if (decode_event(pr, b + *off, end - *off, &used, &tail) < 0)
			return -EINVAL;
		*off += used;
	}
	return 0;
}

static struct scsi_pr_reg *reg_at(const struct scsi_pr *pr, unsigned i)
{
	struct scsi_pr_reg *r = pr->regs;
	while (r && i--)
		r = r->next;
	return r;
}

static int decode_resv(struct scsi_pr *pr, const uint8_t *b, char *why, size_t wl)
{
	uint16_t hi = get_le16(b + 32);
	pr->aptpl = b[28] & 1;
	pr->generation = get_le32(b + 24);
	if (!(b[28] & 2))
		return hi == NO_HOLDER ? 0 : rec_fail(why, wl, "holder without a reservation");
	if (!type_ok(b[29]))
		return rec_fail(why, wl, "bad reservation type");
	bool ar = b[29] == SCSI_PR_WE_AR || b[29] == SCSI_PR_EA_AR;
	pr->holder = hi == NO_HOLDER ? NULL : reg_at(pr, hi);
	if ((!ar && !pr->holder) || pr->nregs == 0)
		return rec_fail(why, wl, "reservation without a holder");
	pr->reserved = true;
	pr->type = b[29];
	return 0;
}

int scsi_pr_decode(struct scsi_pr *pr, const uint8_t naa[16], const uint8_t *b, size_t len,
		   char *why, size_t wl)
{
	int r = check_header(naa, b, len, why, wl);
	if (r < 0)
		return r;
	unsigned nregs = get_le16(b + 30);
	if (nregs > SCSI_PR_MAX_REGS)
		return rec_fail(why, wl, "too many registrations");
	size_t off = HDR_LEN, end = len - 4;
	for (unsigned i = 0; i < nregs; i++) {
		size_t used = 0;
		if (decode_reg(pr, b + off, end - off, &used) < 0)
			return rec_fail(why, wl, "bad registration entry");
		off += used;
	}
	if ((b[28] & F_EVENTS) && decode_events(pr, b, &off, end) < 0)
		return rec_fail(why, wl, "bad unit attention event");
	if (off != end)
		return rec_fail(why, wl, "trailing bytes after the registrations");
	pr->seq = get_le64(b + 40);
	return decode_resv(pr, b, why, wl);
}

/* ---- file I/O ---- */
static int read_all(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && (st.st_size < 0 || (size_t)st.st_size > SCSI_PR_FILE_MAX))
		r = -EFBIG;
	uint8_t *b = r == 0 ? malloc((size_t)st.st_size + 1) : NULL;
	if (r == 0 && !b)
		r = -ENOMEM;
	size_t got = 0;
	while (r == 0 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(b);
		return r;
	}
	*out = b;
	*len = got;
	return 0;
}

int scsi_pr_load(struct scsi_pr *pr, const uint8_t naa[16], char *err, size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	char why[160] = "";
	const struct scsi_pr_store *st = pr->store;
	int r = st->ops->load(pr->store, &b, &len, &seq, why, sizeof(why));
	if (r == 0 && b)
		r = scsi_pr_decode(pr, naa, b, len, why, sizeof(why));
	free(b);
	if (r < 0) {
		scsi_pr_free_state(pr);
		snprintf(err, errlen,
			 "persistent reservation state %s: %s; refusing to serve this LU "
			 "(move the record away to start without its reservations)",
			 st->ops->name(st), why);
		return r;
	}
	pr->seq = pr->seq_seen = seq;
	/* pr_persist = aptpl: only APTPL state survives a restart; a shared
	 * record outlives this gateway (the others kept serving the LU) */
	if (!pr->aptpl && !pr->persist_all && !st->ops->shared)
		scsi_pr_free_state(pr);
	scsi_pr_update_active(pr);
	return 0;
}

static int write_fd_all(int fd, const uint8_t *b, size_t len)
{
	while (len) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int scsi_pr_write_file(const char *path, const uint8_t *b, size_t len)
{
	char tmp[4096 + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = write_fd_all(fd, b, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir_of(path);
	if (r < 0)
		kerr("scsi: writing persistent reservation state %s: %s", path, strerror(-r));
	return r;
}

/* ---- the file store and its helper thread ---- */
struct pst_req {
	void (*done)(void *arg, int result);
	void *arg;
	struct pst_req *next;
};

struct file_store {
	struct scsi_pr_store base;
	char *path;
	bool started;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint8_t *buf; /* newest snapshot not yet written */
	size_t len;
	struct pst_req *reqs, **tail;
};

static void pst_complete(struct pst_req *q, int result)
{
	while (q) {
		struct pst_req *next = q->next;
		q->done(q->arg, result);
		free(q);
		q = next;
	}
}

static void *pst_main(void *arg)
{
	struct file_store *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->buf && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->buf)
			break; /* stopping, nothing left */
		uint8_t *b = p->buf;
		size_t len = p->len;
		struct pst_req *q = p->reqs;
		p->buf = NULL;
		p->reqs = NULL;
		p->tail = &p->reqs;
		pthread_mutex_unlock(&p->mu);
		int r = scsi_pr_write_file(p->path, b, len);
		free(b);
		pst_complete(q, r);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int fs_load(struct scsi_pr_store *s, uint8_t **b, size_t *len, uint64_t *seq, char *why,
		   size_t wl)
{
	struct file_store *p = (struct file_store *)s;
	*b = NULL;
	*seq = 0;
	int r = read_all(p->path, b, len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		snprintf(why, wl, "%s", strerror(-r));
	else if (*len >= HDR_LEN)
		*seq = get_le64(*b + 40);
	return r;
}

static void fs_store(struct scsi_pr_store *s, uint64_t seq, uint8_t *b, size_t len,
		     void (*done)(void *arg, int result), void *arg)
{
	struct file_store *p = (struct file_store *)s;
	struct pst_req *q = calloc(1, sizeof(*q));
	(void)seq; /* one writer: the file is always at the sequence we last wrote */
	pthread_mutex_lock(&p->mu);
	if (q && !p->started)
		p->started = pthread_create(&p->th, NULL, pst_main, p) == 0;
	if (!q || !p->started) {
		pthread_mutex_unlock(&p->mu);
		free(b);
		free(q);
		done(arg, -ENOMEM);
		return;
	}
	q->done = done;
	q->arg = arg;
	free(p->buf); /* superseded: the newer snapshot covers it */
	p->buf = b;
	p->len = len;
	*p->tail = q;
	p->tail = &q->next;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void fs_close(struct scsi_pr_store *s)
{
	struct file_store *p = (struct file_store *)s;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->th, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->path);
	free(p);
}

static const char *fs_name(const struct scsi_pr_store *s)
{
	return ((const struct file_store *)s)->path;
}

static const struct scsi_pr_store_ops file_store_ops = {
	.shared = false,
	.load = fs_load,
	.store = fs_store,
	.watch = NULL,
	.close = fs_close,
	.name = fs_name,
};

struct scsi_pr_store *scsi_pr_store_file(const char *path)
{
	struct file_store *p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		return NULL;
	}
	p->base.ops = &file_store_ops;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tail = &p->reqs;
	return &p->base;
}

/* ---- through whichever store the LU has ---- */
bool scsi_pr_shared(const struct scsi_pr *pr)
{
	return pr->store && pr->store->ops->shared;
}

void scsi_pr_persist(struct scsi_pr *pr, uint8_t *b, size_t len,
		     void (*done)(void *arg, int result), void *arg)
{
	pr->store->ops->store(pr->store, pr->seq++, b, len, done, arg);
}
