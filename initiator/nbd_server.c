/* SPDX-License-Identifier: Apache-2.0 */
/* NBD front end of kura-initiatord: one Unix socket per multipath LU,
 * <nbd-dir>/<wwid>.sock (and a symlink <target>-lun<N>.sock), speaking
 * fixed-newstyle NBD with NBD_OPT_GO / NBD_OPT_INFO / NBD_OPT_EXPORT_NAME and
 * simple replies; transmission flags SEND_FLUSH, SEND_FUA, SEND_TRIM,
 * SEND_WRITE_ZEROES. QEMU is the client here (qemu-img/qemu-io/qemu-system
 * with nbd+unix:///?socket=PATH), so no kernel nbd module is needed.
 *
 * Threads: the listening sockets belong to the event loop; each accepted
 * connection gets a reader thread (handshake, then requests -> ini_io posted
 * to the loop) and a writer thread (replies, in completion order). At most
 * NBD_CONN_DEPTH requests per connection are in flight. Connection threads
 * are detached; a connection is freed by its reader once the writer has
 * finished and nothing is in flight.
 *
 * Not for: structured replies, TLS, block status (answered "unsupported").
 */
#include "initiator/front_ends.h"
#include "initiator/nbd_internal.h"
#include "common/container.h"
#include "common/fileutil.h"
#include "common/log.h"
#include "common/unixsock.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define NBD_CONN_DEPTH 64

struct nbd_listener {
	struct ini_daemon *d;
	struct ini_lu *lu;
	int fd;
	struct kloop_fd kfd;
	char path[108], link[300];
};

struct ini_nbd {
	struct mpath_listener events; /* LU added: a socket to export it */
	struct nbd_listener *l[INI_MAX_LUS];
	int n;
};

struct nbd_conn;
struct nio {
	struct ini_io io;
	struct nbd_conn *c;
	uint64_t handle;
	uint32_t err;
	bool is_read;
	struct nio *next;
	uint8_t data[];
};

struct nbd_conn {
	struct ini_daemon *d;
	struct ini_lu *lu;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct nio *rq_head, *rq_tail; /* replies to send */
	int inflight;
	bool reader_done, writer_done, dead;
};

/* ---- blocking helpers (connection threads only) ---------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return r == 0 ? -ECONNRESET : -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void lu_geom(struct nbd_conn *c, uint64_t *size, uint32_t *bs)
{
	pthread_mutex_lock(&c->d->lus_mu);
	*size = c->lu->blocks * c->lu->block_size;
	*bs = c->lu->block_size;
	pthread_mutex_unlock(&c->d->lus_mu);
}

static uint16_t export_flags(void)
{
	return NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
	       NBD_FLAG_SEND_WRITE_ZEROES;
}

/* ---- negotiation -------------------------------------------------------------- */

static int opt_reply(struct nbd_conn *c, uint32_t opt, uint32_t type, const void *data,
		     uint32_t len)
{
	uint8_t h[20];
	nbd_put_opt_reply(h, opt, type, len);
	int rc = write_full(c->fd, h, sizeof(h));
	return rc < 0 || !len ? rc : write_full(c->fd, data, len);
}

static bool name_matches(struct nbd_conn *c, const char *name, uint32_t len)
{
	return len == 0 || (len == strlen(c->lu->wwid) && !memcmp(name, c->lu->wwid, len)) ||
	       (len == strlen(c->lu->alias) && !memcmp(name, c->lu->alias, len));
}

/* NBD_OPT_GO / NBD_OPT_INFO: 1 = go to transmission, 0 = next option, <0 error. */
static int opt_go(struct nbd_conn *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	struct nbd_go go;
	if (nbd_parse_go(data, len, &go) < 0)
		return opt_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
	if (!name_matches(c, go.name, go.name_len))
		return opt_reply(c, opt, NBD_REP_ERR_UNKNOWN, NULL, 0);
	uint64_t size;
	uint32_t bs;
	lu_geom(c, &size, &bs);
	uint8_t info[16];
	int rc = opt_reply(c, opt, NBD_REP_INFO, info,
			   (uint32_t)nbd_put_info_export(info, size, export_flags()));
	if (rc == 0 && go.want_block_size)
		rc = opt_reply(c, opt, NBD_REP_INFO, info,
			       (uint32_t)nbd_put_info_block_size(info, bs, 4096 > bs ? 4096 : bs,
								 NBD_MAX_REQUEST));
	if (rc == 0)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	return rc < 0 ? rc : opt == NBD_OPT_GO;
}

static int opt_list(struct nbd_conn *c, uint32_t opt)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)strlen(c->lu->wwid);
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, c->lu->wwid, n);
	int rc = opt_reply(c, opt, NBD_REP_SERVER, buf, 4 + n);
	return rc < 0 ? rc : opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
}

static int export_name_reply(struct nbd_conn *c, bool no_zeroes)
{
	uint8_t b[10 + 124] = { 0 };
	uint64_t size;
	uint32_t bs;
	lu_geom(c, &size, &bs);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(size >> (56 - 8 * i));
	b[8] = (uint8_t)(export_flags() >> 8);
	b[9] = (uint8_t)export_flags();
	return write_full(c->fd, b, no_zeroes ? 10 : sizeof(b));
}

/* One option. 1 = transmission, 0 = continue, <0 = close. */
static int handle_option(struct nbd_conn *c, const struct nbd_opt_hdr *h, const uint8_t *data,
			 bool no_zeroes)
{
	switch (h->option) {
	case NBD_OPT_EXPORT_NAME:
		if (!name_matches(c, (const char *)data, h->len))
			return -ENOENT; /* the protocol's only answer: close */
		return export_name_reply(c, no_zeroes) < 0 ? -EIO : 1;
	case NBD_OPT_ABORT: opt_reply(c, h->option, NBD_REP_ACK, NULL, 0); return -ECONNRESET;
	case NBD_OPT_LIST: return opt_list(c, h->option);
	case NBD_OPT_INFO:
	case NBD_OPT_GO: return opt_go(c, h->option, data, h->len);
	default: /* STARTTLS, STRUCTURED_REPLY, META_CONTEXT, ... */
		return opt_reply(c, h->option, NBD_REP_ERR_UNSUP, NULL, 0);
	}
}

static int negotiate(struct nbd_conn *c)
{
	uint8_t hello[18];
	for (int i = 0; i < 8; i++) {
		hello[i] = (uint8_t)(NBD_MAGIC >> (56 - 8 * i));
		hello[8 + i] = (uint8_t)(NBD_IHAVEOPT >> (56 - 8 * i));
	}
	hello[16] = 0;
	hello[17] = NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES;
	uint8_t cf[4];
	if (write_full(c->fd, hello, sizeof(hello)) < 0 || read_full(c->fd, cf, 4) < 0)
		return -EIO;
	bool no_zeroes = cf[3] & NBD_FLAG_C_NO_ZEROES;
	uint8_t data[NBD_OPT_MAX_LEN + 1];
	for (int n = 0; n < 64; n++) { /* a client that never ends negotiation is cut off */
		uint8_t hb[16];
		struct nbd_opt_hdr h;
		if (read_full(c->fd, hb, 16) < 0 || nbd_parse_opt_hdr(hb, 16, &h) < 0 ||
		    read_full(c->fd, data, h.len) < 0)
			return -EIO;
		data[h.len] = 0;
		int rc = handle_option(c, &h, data, no_zeroes);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
	}
	return -EIO;
}

/* ---- transmission ------------------------------------------------------------- */

static void conn_release(struct nbd_conn *c)
{
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	close(c->fd);
	free(c);
}

static void queue_reply(struct nbd_conn *c, struct nio *x)
{
	x->next = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->rq_tail)
		c->rq_tail->next = x;
	else
		c->rq_head = x;
	c->rq_tail = x;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Loop thread: queue the reply for the writer. */
static void nio_done(struct ini_io *io, int res)
{
	struct nio *x = (struct nio *)io;
	x->err = nbd_errno(res);
	queue_reply(x->c, x);
}

static void send_reply(struct nbd_conn *c, struct nio *x)
{
	uint8_t h[16];
	nbd_put_simple_reply(h, x->err, x->handle);
	if (c->dead)
		return;
	if (write_full(c->fd, h, sizeof(h)) < 0 ||
	    (x->is_read && !x->err && write_full(c->fd, x->data, x->io.len) < 0)) {
		c->dead = true;
		shutdown(c->fd, SHUT_RDWR); /* wakes the reader */
	}
}

static void *writer_thread(void *arg)
{
	struct nbd_conn *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->rq_head && !(c->reader_done && !c->inflight))
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->rq_head)
			break;
		struct nio *x = c->rq_head;
		c->rq_head = x->next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		pthread_mutex_unlock(&c->mu);
		send_reply(c, x);
		free(x);
		pthread_mutex_lock(&c->mu);
		c->inflight--;
		pthread_cond_broadcast(&c->cv);
	}
	c->writer_done = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static enum ini_op nbd_op(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ: return INI_READ;
	case NBD_CMD_WRITE: return INI_WRITE;
	case NBD_CMD_FLUSH: return INI_FLUSH;
	case NBD_CMD_TRIM: return INI_UNMAP;
	default: return INI_ZEROES;
	}
}

static struct nio *nio_new(struct nbd_conn *c, const struct nbd_request *r)
{
	bool payload = r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE;
	struct nio *x = calloc(1, sizeof(*x) + (payload ? r->length : 0));
	if (!x)
		return NULL;
	x->c = c;
	x->handle = r->handle;
	x->is_read = r->type == NBD_CMD_READ;
	x->io.lu = c->lu;
	x->io.op = nbd_op(r->type);
	x->io.off = r->offset;
	x->io.len = r->type == NBD_CMD_FLUSH ? 0 : r->length;
	x->io.buf = x->data;
	x->io.fua = r->flags & NBD_CMD_FLAG_FUA;
	x->io.unmap = r->type == NBD_CMD_WRITE_ZEROES && !(r->flags & NBD_CMD_FLAG_NO_HOLE);
	x->io.done = nio_done;
	return x;
}

/* Reply without touching the LU (bad request); counts as in flight. */
static void reply_now(struct nbd_conn *c, struct nio *x, uint32_t err)
{
	x->err = err;
	x->is_read = false;
	pthread_mutex_lock(&c->mu);
	c->inflight++;
	pthread_mutex_unlock(&c->mu);
	queue_reply(c, x);
}

static int drain_payload(int fd, uint32_t len)
{
	uint8_t tmp[4096];
	while (len) {
		uint32_t n = len < sizeof(tmp) ? len : (uint32_t)sizeof(tmp);
		if (read_full(fd, tmp, n) < 0)
			return -EIO;
		len -= n;
	}
	return 0;
}

/* One request; <0 ends the connection. */
static int handle_request(struct nbd_conn *c, const struct nbd_request *r)
{
	uint64_t size;
	uint32_t bs;
	lu_geom(c, &size, &bs);
	uint32_t err = nbd_check_request(r, size, bs);
	if (r->type == NBD_CMD_DISC)
		return -ECONNRESET;
	if (err) {
		if (r->type == NBD_CMD_WRITE && r->length <= NBD_MAX_REQUEST &&
		    drain_payload(c->fd, r->length) < 0)
			return -EIO;
		struct nio *x = calloc(1, sizeof(*x));
		if (!x || (r->type == NBD_CMD_WRITE && r->length > NBD_MAX_REQUEST)) {
			free(x);
			return -EIO; /* cannot resync past an oversized payload */
		}
		x->c = c;
		x->handle = r->handle;
		reply_now(c, x, err);
		return 0;
	}
	struct nio *x = nio_new(c, r);
	if (!x || (r->type == NBD_CMD_WRITE && read_full(c->fd, x->data, r->length) < 0)) {
		free(x);
		return -EIO;
	}
	pthread_mutex_lock(&c->mu);
	while (c->inflight >= NBD_CONN_DEPTH)
		pthread_cond_wait(&c->cv, &c->mu);
	c->inflight++;
	pthread_mutex_unlock(&c->mu);
	ini_io_submit(c->d, &x->io);
	return 0;
}

static void *reader_thread(void *arg)
{
	struct nbd_conn *c = arg;
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* negotiation only */
	int rc = negotiate(c);
	pthread_t wt;
	bool writer = rc == 0 && pthread_create(&wt, NULL, writer_thread, c) == 0;
	if (writer) {
		struct timeval none = { 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		uint8_t b[28];
		struct nbd_request r;
		while (read_full(c->fd, b, sizeof(b)) == 0 &&
		       nbd_parse_request(b, sizeof(b), &r) == 0 && handle_request(c, &r) == 0)
			;
	}
	pthread_mutex_lock(&c->mu);
	c->reader_done = true;
	pthread_cond_broadcast(&c->cv);
	while (writer && !c->writer_done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	if (writer)
		pthread_join(wt, NULL);
	conn_release(c);
	return NULL;
}

/* ---- listeners (event loop thread) -------------------------------------------- */

static void accept_event(struct kloop_fd *h, uint32_t ev)
{
	struct nbd_listener *l = container_of(h, struct nbd_listener, kfd);
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct nbd_conn *c = calloc(1, sizeof(*c));
	pthread_t t;
	if (!c) {
		close(fd);
		return;
	}
	c->d = l->d;
	c->lu = l->lu;
	c->fd = fd;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, reader_thread, c) != 0)
		conn_release(c);
	pthread_attr_destroy(&a);
}

/* dir/name.sock into out, or -ENAMETOOLONG. */
static int sock_path(char *out, size_t n, const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	if (a + 1 + b + 6 > n)
		return -ENAMETOOLONG;
	memcpy(out, dir, a);
	out[a] = '/';
	memcpy(out + a + 1, name, b);
	memcpy(out + a + 1 + b, ".sock", 6);
	return 0;
}

static void lu_added(struct ini_daemon *d, struct ini_nbd *s, struct ini_lu *lu)
{
	if (s->n >= INI_MAX_LUS)
		return;
	struct nbd_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->d = d;
	l->lu = lu;
	if (sock_path(l->path, sizeof(l->path), d->o.nbd_dir, lu->wwid) < 0)
		l->fd = -ENAMETOOLONG;
	else
		l->fd = kunix_listen(l->path, 16, true);
	if (l->fd < 0) {
		kerr("NBD: cannot listen on %s: %s", l->path, strerror(-l->fd));
		free(l);
		return;
	}
	if (sock_path(l->link, sizeof(l->link), d->o.nbd_dir, lu->alias) == 0)
		unlink(l->link);
	if (!l->link[0] || symlink(l->path, l->link) < 0)
		l->link[0] = 0;
	l->kfd.fn = accept_event;
	kloop_add_fd(d->loop, l->fd, EPOLLIN, &l->kfd);
	s->l[s->n++] = l;
	if (!lu->device[0])
		snprintf(lu->device, sizeof(lu->device), "nbd+unix:///?socket=%s", l->path);
	kinfo("NBD: %s exported at nbd+unix:///?socket=%s", lu->wwid, l->path);
}

static void listener_free(struct ini_daemon *d, struct nbd_listener *l)
{
	kloop_del_fd(d->loop, l->fd);
	close(l->fd);
	unlink(l->path);
	if (l->link[0])
		unlink(l->link);
	free(l);
}

/* Last path logged out: the socket and its link go; connections already
 * open stay and their I/O fails with EIO (the LU's queue is failing). */
static void lu_removed(struct ini_daemon *d, struct ini_nbd *s, struct ini_lu *lu)
{
	for (int i = 0; i < s->n; i++)
		if (s->l[i]->lu == lu) {
			listener_free(d, s->l[i]);
			s->l[i] = s->l[--s->n];
			return;
		}
}

static void on_mpath_event(struct mpath_listener *l, struct ini_lu *lu, enum mpath_event ev)
{
	if (ev == MPATH_EV_LU_ADDED)
		lu_added(lu->d, container_of(l, struct ini_nbd, events), lu);
	else if (ev == MPATH_EV_LU_REMOVED)
		lu_removed(lu->d, container_of(l, struct ini_nbd, events), lu);
}

int nbd_server_start(struct ini_daemon *d)
{
	int rc = kfile_mkdir_p(d->o.nbd_dir, 0755);
	if (rc < 0)
		return rc;
	if (!(d->nbd = calloc(1, sizeof(*d->nbd))))
		return -ENOMEM;
	d->nbd->events.fn = on_mpath_event;
	mpath_subscribe(d, &d->nbd->events);
	return 0;
}

/* Listening sockets go; live connections end when their client does (their
 * threads are detached and the process is exiting anyway). */
void nbd_server_stop(struct ini_daemon *d)
{
	struct ini_nbd *s = d->nbd;
	if (!s)
		return;
	mpath_unsubscribe(d, &s->events);
	for (int i = 0; i < s->n; i++) {
		close(s->l[i]->fd);
		unlink(s->l[i]->path);
		if (s->l[i]->link[0])
			unlink(s->l[i]->link);
		free(s->l[i]);
	}
	free(s);
	d->nbd = NULL;
}
