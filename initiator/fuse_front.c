/* SPDX-License-Identifier: Apache-2.0 */
/* FUSE front end of kura-initiatord: a mount point (e.g. /run/kura/lu) with
 * one regular file per multipath LU, named by its WWID ("naa.<hex>"), size =
 * LU capacity, plus a symlink "<target>-lun<N>" pointing at it. Files are
 * opened with direct_io (libfuse 3.14 refuses -o direct_io), so
 * `losetup --direct-io=on -f --show FILE` gives a block device.
 *
 *   read / write            READ(16) / WRITE(16)
 *   fsync                   SYNCHRONIZE CACHE(10)
 *   fallocate PUNCH_HOLE    WRITE SAME(16) with UNMAP (reads return zeroes)
 *   fallocate ZERO_RANGE    WRITE SAME(16)
 *
 * Threads: libfuse's multithreaded session loop runs in its own threads;
 * each request becomes an ini_io handed to the event loop (kloop_post, an
 * MPSC queue + eventfd); the reply is sent from the loop thread on
 * completion. A request the kernel interrupts (the caller got SIGKILL) is
 * answered EINTR at once so the caller never waits on a path that is down;
 * the I/O itself finishes (or times out) in the background. (Once a request
 * is read by a daemon the kernel waits for its answer even after SIGKILL.)
 *
 * Not for: unaligned writes (EINVAL; the loop device and O_DIRECT users
 * are block aligned), or changing the directory (it mirrors the LU table).
 */
#define FUSE_USE_VERSION 312
#include "initiator/front_ends.h"
#include "common/container.h"
#include "common/fileutil.h"
#include "common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fio_tickets;

struct ini_fuse {
	struct ini_daemon *d;
	struct mpath_listener events; /* LU added: its file appears */
	struct fio_tickets *tk;
	struct fuse_session *se;
	pthread_t thr;
	bool thread_started;
	char mnt[256];
};

/* One FUSE request in flight; freed on the loop thread when its I/O is done. */
struct fio {
	struct ini_io io;
	fuse_req_t req;
	uint32_t slot, gen; /* interrupt ticket, see below */
	bool replied;
	uint32_t skip, want; /* unaligned read: bytes to drop / to return */
	size_t reply_len;
	uint8_t data[];
};

/* Interrupt tickets. libfuse may run an interrupt callback concurrently with
 * (or just after) our reply, so the callback must not touch the fio: its
 * data is a ticket (slot, generation) and it posts a small message to the
 * loop, which answers EINTR only if that ticket still names a live fio. */
#define FIO_SLOTS 4096
struct fio_tickets {
	pthread_mutex_t mu;
	struct fio *slot[FIO_SLOTS];
	uint32_t gen[FIO_SLOTS];
	uint32_t next;
};
struct fio_intr_msg {
	struct kloop_task task;
	struct ini_fuse *f;
	uint32_t slot, gen;
};

#define INO_ROOT 1
static fuse_ino_t ino_file(int i)
{
	return (fuse_ino_t)(2 + 2 * i);
}
static fuse_ino_t ino_link(int i)
{
	return (fuse_ino_t)(3 + 2 * i);
}

/* Snapshot of one LU for the FUSE threads. */
struct lu_view {
	char wwid[40], alias[300];
	uint64_t size;
	uint32_t bs;
	struct ini_lu *lu;
	bool gone; /* last path logged out: not listed, not found */
};

static bool lu_view(struct ini_daemon *d, int i, struct lu_view *v)
{
	bool ok = false;
	pthread_mutex_lock(&d->lus_mu);
	if (i >= 0 && i < d->n_lus) {
		struct ini_lu *lu = d->lus[i];
		snprintf(v->wwid, sizeof(v->wwid), "%s", lu->wwid);
		snprintf(v->alias, sizeof(v->alias), "%s", lu->alias);
		v->size = lu->blocks * lu->block_size;
		v->bs = lu->block_size;
		v->lu = lu;
		v->gone = lu->gone;
		ok = true;
	}
	pthread_mutex_unlock(&d->lus_mu);
	return ok;
}

static void fill_attr(struct ini_daemon *d, fuse_ino_t ino, struct stat *st, bool *found)
{
	struct lu_view v;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	*found = true;
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	int i = (int)((ino - 2) / 2);
	if (!lu_view(d, i, &v) || v.gone) {
		*found = false;
		return;
	}
	st->st_nlink = 1;
	if (ino == ino_file(i)) {
		st->st_mode = S_IFREG | 0600;
		st->st_size = (off_t)v.size;
		st->st_blksize = (blksize_t)v.bs;
		st->st_blocks = (blkcnt_t)(v.size / 512);
	} else {
		st->st_mode = S_IFLNK | 0777;
		st->st_size = (off_t)strlen(v.wwid);
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct stat st;
	bool found;
	fill_attr(f->d, ino, &st, &found);
	if (found)
		fuse_reply_attr(req, &st, 1.0);
	else
		fuse_reply_err(req, ENOENT);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	if (parent != INO_ROOT) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (int i = 0; lu_view(f->d, i, &v); i++) {
		fuse_ino_t ino = v.gone                   ? 0
				 : !strcmp(name, v.wwid)  ? ino_file(i)
				 : !strcmp(name, v.alias) ? ino_link(i)
							  : 0;
		if (!ino)
			continue;
		struct fuse_entry_param e = { .ino = ino,
					      .attr_timeout = 1.0,
					      .entry_timeout = 1.0 };
		bool found;
		fill_attr(f->d, ino, &e.attr, &found);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	if (ino < 3 || !(ino & 1) || !lu_view(f->d, (int)((ino - 3) / 2), &v) || v.gone)
		fuse_reply_err(req, EINVAL);
	else
		fuse_reply_readlink(req, v.wwid);
}

static size_t add_dirent(fuse_req_t req, char *buf, size_t cap, size_t used, const char *name,
			 fuse_ino_t ino, mode_t mode, off_t next)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t n = fuse_add_direntry(req, buf + used, cap - used, name, &st, next);
	return n > cap - used ? 0 : n;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	struct lu_view v;
	/* entry k: 0 ".", 1 "..", then file and link of LU (k-2)/2 */
	for (off_t k = off;; k++) {
		size_t n;
		if (k == 0)
			n = add_dirent(req, buf, size, used, ".", INO_ROOT, S_IFDIR, k + 1);
		else if (k == 1)
			n = add_dirent(req, buf, size, used, "..", INO_ROOT, S_IFDIR, k + 1);
		else if (!lu_view(f->d, (int)((k - 2) / 2), &v))
			break;
		else if (v.gone)
			continue;
		else if ((k - 2) % 2 == 0)
			n = add_dirent(req, buf, size, used, v.wwid, ino_file((int)((k - 2) / 2)),
				       S_IFREG, k + 1);
		else
			n = add_dirent(req, buf, size, used, v.alias, ino_link((int)((k - 2) / 2)),
				       S_IFLNK, k + 1);
		if (!n)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_ROOT) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino & 1) {
		fuse_reply_err(req, ELOOP);
		return;
	}
	fi->direct_io = 1; /* every read/write reaches us: no page cache between hosts */
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/* ---- requests to the event loop --------------------------------------------- */

static void fio_reply(struct fio *x, int res)
{
	if (x->replied)
		return;
	x->replied = true;
	if (res < 0) {
		fuse_reply_err(x->req, -res);
		return;
	}
	switch (x->io.op) {
	case INI_READ: fuse_reply_buf(x->req, (char *)x->data + x->skip, x->want); break;
	case INI_WRITE: fuse_reply_write(x->req, x->reply_len); break;
	default: fuse_reply_err(x->req, 0); break;
	}
}

static bool ticket_take(struct fio_tickets *tk, struct fio *x)
{
	bool ok = false;
	pthread_mutex_lock(&tk->mu);
	for (uint32_t k = 0; k < FIO_SLOTS && !ok; k++) {
		uint32_t i = (tk->next + k) % FIO_SLOTS;
		if (!tk->slot[i]) {
			tk->slot[i] = x;
			x->slot = i;
			x->gen = ++tk->gen[i];
			tk->next = i + 1;
			ok = true;
		}
	}
	pthread_mutex_unlock(&tk->mu);
	return ok;
}

static void ticket_drop(struct fio_tickets *tk, struct fio *x)
{
	pthread_mutex_lock(&tk->mu);
	if (x->slot < FIO_SLOTS && tk->slot[x->slot] == x)
		tk->slot[x->slot] = NULL;
	pthread_mutex_unlock(&tk->mu);
}

/* Loop thread: done (res 0 / -errno); reply unless EINTR was sent already. */
static void fio_done(struct ini_io *io, int res)
{
	struct fio *x = (struct fio *)io;
	ticket_drop(x->io.priv, x);
	fio_reply(x, res);
	free(x);
}

/* Loop thread: the caller was interrupted (e.g. SIGKILL): answer now; the
 * I/O itself completes (or fails) later. */
static void fio_interrupt_task(struct kloop_task *t)
{
	struct fio_intr_msg *m = (struct fio_intr_msg *)t;
	struct fio_tickets *tk = m->f->tk;
	struct fio *x = NULL;
	pthread_mutex_lock(&tk->mu);
	if (m->slot < FIO_SLOTS && tk->gen[m->slot] == m->gen)
		x = tk->slot[m->slot];
	pthread_mutex_unlock(&tk->mu);
	if (x)
		fio_reply(x, -EINTR);
	free(m);
}

/* FUSE thread, under the request's lock: never dereferences the fio. */
static void fio_interrupted(fuse_req_t req, void *data)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct fio_intr_msg *m = malloc(sizeof(*m));
	if (!m)
		return;
	m->f = f;
	m->slot = (uint32_t)((uintptr_t)data >> 32);
	m->gen = (uint32_t)(uintptr_t)data;
	m->task.fn = fio_interrupt_task;
	kloop_post(f->d->loop, &m->task);
}

static struct fio *fio_new(fuse_req_t req, struct ini_lu *lu, enum ini_op op, size_t datalen)
{
	struct fio *x = calloc(1, sizeof(*x) + datalen);
	if (!x)
		return NULL;
	x->req = req;
	x->io.lu = lu;
	x->io.op = op;
	x->io.buf = x->data;
	x->io.done = fio_done;
	return x;
}

static void fio_submit(struct ini_fuse *f, struct fio *x)
{
	x->io.priv = f->tk;
	x->slot = UINT32_MAX;
	if (ticket_take(f->tk, x))
		fuse_req_interrupt_func(x->req, fio_interrupted,
					(void *)(((uintptr_t)x->slot << 32) | x->gen));
	ini_io_submit(f->d, &x->io);
}

static bool file_lu(struct ini_fuse *f, fuse_ino_t ino, struct lu_view *v)
{
	return ino >= 2 && !(ino & 1) && lu_view(f->d, (int)((ino - 2) / 2), v);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	if (!file_lu(f, ino, &v) || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)off >= v.size || !size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > v.size - (uint64_t)off)
		size = (size_t)(v.size - (uint64_t)off);
	uint64_t start = (uint64_t)off / v.bs * v.bs; /* unaligned: read around it */
	uint64_t end = ((uint64_t)off + size + v.bs - 1) / v.bs * v.bs;
	struct fio *x = fio_new(req, v.lu, INI_READ, (size_t)(end - start));
	if (!x) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	x->io.off = start;
	x->io.len = (uint32_t)(end - start);
	x->skip = (uint32_t)((uint64_t)off - start);
	x->want = (uint32_t)size;
	fio_submit(f, x);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	if (!file_lu(f, ino, &v) || off < 0 || (uint64_t)off % v.bs || size % v.bs) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)off + size > v.size) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	struct fio *x = fio_new(req, v.lu, INI_WRITE, size);
	if (!x) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(x->data, buf, size);
	x->io.off = (uint64_t)off;
	x->io.len = (uint32_t)size;
	x->io.fua = (fi->flags & O_DSYNC) != 0;
	x->reply_len = size;
	fio_submit(f, x);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	struct fio *x = file_lu(f, ino, &v) ? fio_new(req, v.lu, INI_FLUSH, 0) : NULL;
	if (!x) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fio_submit(f, x);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* close(): nothing cached here (direct_io) */
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct ini_fuse *f = fuse_req_userdata(req);
	struct lu_view v;
	if (!file_lu(f, ino, &v) || off < 0 || len <= 0 || (uint64_t)off + (uint64_t)len > v.size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		fuse_reply_err(req, mode & ~FALLOC_FL_KEEP_SIZE ? EOPNOTSUPP
								: 0); /* plain allocate: a no-op */
		return;
	}
	if ((uint64_t)off % v.bs || (uint64_t)len % v.bs || (uint64_t)len > UINT32_MAX / 2) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct fio *x = fio_new(req, v.lu, INI_ZEROES, 0);
	if (!x) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	x->io.off = (uint64_t)off;
	x->io.len = (uint32_t)len;
	x->io.unmap = (mode & FALLOC_FL_PUNCH_HOLE) != 0;
	fio_submit(f, x);
}

/* The kernel sends a loop device's O_DIRECT I/O as background requests and
 * holds them at max_background (default 12) in flight: raise it above the
 * queue depths the LU is driven at (QD32 was held to 12). */
#define FUSE_MAX_BACKGROUND 128

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1u << 20;
	conn->max_background = FUSE_MAX_BACKGROUND;
	conn->congestion_threshold = FUSE_MAX_BACKGROUND * 3 / 4;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want &= ~FUSE_CAP_SPLICE_READ;
}

static const struct fuse_lowlevel_ops fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.flush = op_flush,
	.fallocate = op_fallocate,
};

static void *fuse_thread(void *arg)
{
	struct ini_fuse *f = arg;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (cfg) {
		fuse_loop_cfg_set_max_threads(cfg, 16);
		fuse_loop_cfg_set_idle_threads(cfg, 4);
	}
	fuse_session_loop_mt(f->se, cfg);
	if (cfg)
		fuse_loop_cfg_destroy(cfg);
	return NULL;
}

/* The file of a new LU is listed by readdir/lookup from d->lus; only the
 * name it is presented under is recorded here. */
static void on_mpath_event(struct mpath_listener *l, struct ini_lu *lu, enum mpath_event ev)
{
	struct ini_fuse *f = container_of(l, struct ini_fuse, events);
	if (ev == MPATH_EV_LU_ADDED)
		snprintf(lu->device, sizeof(lu->device), "%s/%s", f->mnt, lu->wwid);
	if (ev == MPATH_EV_LU_REMOVED || ev == MPATH_EV_LU_ADDED) {
		/* the kernel caches names for a second: forget them now */
		fuse_lowlevel_notify_inval_entry(f->se, INO_ROOT, lu->wwid, strlen(lu->wwid));
		fuse_lowlevel_notify_inval_entry(f->se, INO_ROOT, lu->alias, strlen(lu->alias));
	}
}

int fuse_front_start(struct ini_daemon *d)
{
	struct ini_fuse *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->d = d;
	if (!(f->tk = calloc(1, sizeof(*f->tk)))) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->tk->mu, NULL);
	snprintf(f->mnt, sizeof(f->mnt), "%s", d->o.fuse_dir);
	kfile_mkdir_p(f->mnt, 0755); /* a failure shows at the mount below */
	char *argv[] = { "kura-initiatord", "-o",
			 "allow_other,default_permissions,fsname=kura,subtype=kura", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	f->se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), f);
	fuse_opt_free_args(&args);
	if (!f->se || fuse_session_mount(f->se, f->mnt) != 0) {
		kerr("FUSE: cannot mount %s", f->mnt);
		if (f->se)
			fuse_session_destroy(f->se);
		free(f);
		return -EIO;
	}
	if (pthread_create(&f->thr, NULL, fuse_thread, f) != 0) {
		fuse_session_unmount(f->se);
		fuse_session_destroy(f->se);
		free(f);
		return -EAGAIN;
	}
	f->thread_started = true;
	d->fuse = f;
	f->events.fn = on_mpath_event;
	mpath_subscribe(d, &f->events);
	kinfo("FUSE: LUs appear under %s", f->mnt);
	return 0;
}

void fuse_front_stop(struct ini_daemon *d)
{
	struct ini_fuse *f = d->fuse;
	if (!f)
		return;
	mpath_unsubscribe(d, &f->events);
	fuse_session_exit(f->se);
	fuse_session_unmount(f->se); /* wakes the workers blocked in read(/dev/fuse) */
	if (f->thread_started)
		pthread_join(f->thr, NULL);
	fuse_session_destroy(f->se);
	pthread_mutex_destroy(&f->tk->mu);
	free(f->tk);
	free(f);
	d->fuse = NULL;
}
