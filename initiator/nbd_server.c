/* SPDX-License-Identifier: Apache-2.0 */
/* NBD front end of kura-initiatord: one Unix socket per multipath LU,
 * <nbd-dir>/<wwid>.sock (and a symlink <target>-lun<N>.sock), speaking
 * fixed-newstyle NBD with NBD_OPT_GO / NBD_OPT_INFO / NBD_OPT_EXPORT_NAME and
 * simple replies; transmission flags SEND_FLUSH, SEND_FUA, SEND_TRIM,
 * SEND_WRITE_ZEROES. QEMU is the client here (qemu-img/qemu-io/qemu-system
 * with nbd+unix:///?socket=PATH), so no kernel nbd module is needed.
 *
 * Threads: the listening sockets belong to the event loop. An accepted
 * connection negotiates on a short-lived thread of its own (blocking, 30 s
 * limit), then joins the loop for transmission: requests are read many per
 * recv into a buffer (or a large write's payload straight into its own
 * buffer) and handed to the multipath core without a thread hop
 * (ini_io_start); replies of one loop turn go out in completion order with
 * one sendmsg, a read's data from the buffer libiscsi received it into. At
 * most NBD_CONN_DEPTH requests per connection are in flight (then the socket
 * is not read). A closed connection is freed when its last request ends.
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define NBD_CONN_DEPTH 64
#define NBD_RX_BYTES   (256u << 10)
#define NBD_TX_IOV     64

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
	struct nbd_conn *conns; /* in transmission, on the loop */
};

struct nbd_conn;
/* One request, from its header to its reply having been sent. */
struct nio {
	struct ini_io io;
	struct nbd_conn *c;
	uint64_t handle;
	uint32_t err;
	bool is_read;
	uint32_t want, got; /* write payload: bytes expected / received */
	uint8_t hdr[16];    /* the simple reply */
	struct nio *next;   /* reply queue */
	uint8_t data[];
};

struct nbd_conn {
	struct ini_daemon *d;
	struct ini_lu *lu;
	int fd;
	struct kloop_fd kfd;
	uint32_t events; /* what epoll watches now */
	uint8_t *rx;     /* NBD_RX_BYTES: requests received, not yet parsed */
	size_t rx_off, rx_end;
	struct nio *pending;           /* a write whose payload is still arriving */
	struct nio *tx_head, *tx_tail; /* replies to send, in completion order */
	size_t tx_sent;                /* bytes of tx_head already sent */
	struct kloop_task flush;       /* adoption by the loop, then the per-turn flush */
	bool flush_queued, dead;
	int inflight;                   /* requests of this connection not yet freed */
	int refs;                       /* holds by running callbacks and the queued flush */
	struct nbd_conn *next, **pprev; /* ini_nbd.conns */
};

/* ---- blocking helpers (negotiation thread only) ---------------------------- */

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

/* ---- transmission (event loop thread) ------------------------------------------ */

/* Frees c once it is closed, has no request left and nobody holds it. */
static void conn_unref(struct nbd_conn *c)
{
	if (c->dead && !c->inflight && !c->refs) {
		free(c->rx);
		free(c);
	}
}

static void nio_free(struct nio *x)
{
	struct nbd_conn *c = x->c;
	free(x);
	c->inflight--;
	conn_unref(c);
}

/* Client gone or broke the protocol: the socket goes at once; requests still
 * on a path free themselves (and the connection) when they finish. */
static void conn_close(struct nbd_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->refs++; /* hold c while its queues are emptied */
	kloop_del_fd(c->d->loop, c->fd);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	if (c->pending)
		nio_free(c->pending);
	c->pending = NULL;
	while (c->tx_head) {
		struct nio *x = c->tx_head;
		c->tx_head = x->next;
		nio_free(x);
	}
	c->refs--;
	conn_unref(c);
}

static void conn_events(struct nbd_conn *c)
{
	uint32_t ev = (c->inflight < NBD_CONN_DEPTH ? EPOLLIN : 0) | (c->tx_head ? EPOLLOUT : 0);
	if (ev != c->events && !c->dead) {
		c->events = ev;
		kloop_mod_fd(c->d->loop, c->fd, ev, &c->kfd);
	}
}

static size_t reply_len(const struct nio *x)
{
	return 16 + (x->is_read && !x->err ? x->io.len : 0);
}

/* Replies in completion order, as many as one sendmsg takes (a read's data
 * straight from the buffer its Data-In PDUs were received into). 1 = all
 * of them went, 0 = the socket is full, -errno = broken. */
static int tx_once(struct nbd_conn *c)
{
	struct iovec iov[NBD_TX_IOV];
	int n = 0;
	size_t want = 0;
	for (struct nio *x = c->tx_head; x && n + 2 <= NBD_TX_IOV; x = x->next) {
		iov[n++] = (struct iovec){ x->hdr, 16 };
		if (x->is_read && !x->err)
			iov[n++] = (struct iovec){ x->data, x->io.len };
		want += reply_len(x);
	}
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	for (size_t skip = c->tx_sent; skip;) { /* head already partly sent */
		size_t k = skip < m.msg_iov->iov_len ? skip : m.msg_iov->iov_len;
		m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + k;
		m.msg_iov->iov_len -= k;
		skip -= k;
		if (!m.msg_iov->iov_len) {
			m.msg_iov++;
			m.msg_iovlen--;
		}
	}
	ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	size_t done = (size_t)w + c->tx_sent;
	bool all = done == want;
	while (c->tx_head && done >= reply_len(c->tx_head)) {
		struct nio *x = c->tx_head;
		done -= reply_len(x);
		c->tx_head = x->next;
		nio_free(x);
	}
	if (!c->tx_head)
		c->tx_tail = NULL;
	c->tx_sent = done;
	return all;
}

static void rx_process(struct nbd_conn *c);

/* Send what is queued; then requests held back by the depth limit may go. */
static void conn_flush(struct nbd_conn *c)
{
	int rc = 1;
	c->refs++; /* nio_free / conn_close must not free c under us */
	while (rc == 1 && c->tx_head)
		rc = tx_once(c);
	if (rc < 0)
		conn_close(c);
	else
		rx_process(c);
	c->refs--;
	if (c->dead)
		conn_unref(c);
	else
		conn_events(c);
}

static void flush_task(struct kloop_task *t)
{
	struct nbd_conn *c = container_of(t, struct nbd_conn, flush);
	c->flush_queued = false;
	c->refs--; /* the hold taken when the flush was queued */
	if (c->dead)
		conn_unref(c);
	else
		conn_flush(c);
}

/* An I/O finished (or a request was refused): its reply joins the queue; one
 * flush per loop turn sends every reply of that turn with one sendmsg. */
static void reply_queue(struct nbd_conn *c, struct nio *x, uint32_t err)
{
	x->err = err;
	nbd_put_simple_reply(x->hdr, err, x->handle);
	if (c->dead) {
		nio_free(x);
		return;
	}
	x->next = NULL;
	if (c->tx_tail)
		c->tx_tail->next = x;
	else
		c->tx_head = x;
	c->tx_tail = x;
	if (!c->flush_queued) {
		c->flush_queued = true;
		c->refs++;
		c->flush.fn = flush_task;
		kloop_defer(c->d->loop, &c->flush);
	}
}

static void nio_done(struct ini_io *io, int res)
{
	struct nio *x = container_of(io, struct nio, io);
	reply_queue(x->c, x, nbd_errno(res));
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

static struct nio *nio_new(struct nbd_conn *c, const struct nbd_request *r, uint32_t err)
{
	bool payload = !err ? r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE
			    : r->type == NBD_CMD_WRITE;
	struct nio *x = malloc(sizeof(*x) + (payload ? r->length : 0));
	if (!x)
		return NULL;
	memset(x, 0, sizeof(*x));
	c->inflight++;
	x->c = c;
	x->handle = r->handle;
	x->err = err;
	x->is_read = r->type == NBD_CMD_READ;
	x->want = r->type == NBD_CMD_WRITE ? r->length : 0;
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

/* A request with all its payload: to the multipath core without a hop (we
 * are on its loop), or refused. */
static void nio_start(struct nbd_conn *c, struct nio *x)
{
	c->pending = NULL;
	if (x->err)
		reply_queue(c, x, x->err);
	else
		ini_io_start(&x->io);
}

/* One request header; <0 ends the connection. */
static int rx_request(struct nbd_conn *c, const uint8_t *b)
{
	struct nbd_request r;
	if (nbd_parse_request(b, 28, &r) < 0 || r.type == NBD_CMD_DISC)
		return -ECONNRESET;
	uint32_t err = nbd_check_request(&r, c->lu->blocks * c->lu->block_size, c->lu->block_size);
	if (err && r.type == NBD_CMD_WRITE && r.length > NBD_MAX_REQUEST)
		return -EIO; /* cannot resync past an oversized payload */
	struct nio *x = nio_new(c, &r, err);
	if (!x)
		return -ENOMEM;
	if (err)
		x->is_read = false;
	c->pending = x;
	if (!x->want)
		nio_start(c, x);
	return 0;
}

/* Requests buffered in rx (payload copied into the write's own buffer). */
static void rx_process(struct nbd_conn *c)
{
	while (!c->dead) {
		size_t avail = c->rx_end - c->rx_off;
		struct nio *x = c->pending;
		if (x) {
			uint32_t n = avail < x->want - x->got ? (uint32_t)avail : x->want - x->got;
			memcpy(x->data + x->got, c->rx + c->rx_off, n);
			c->rx_off += n;
			if ((x->got += n) < x->want)
				break;
			nio_start(c, x);
			continue;
		}
		if (avail < 28 || c->inflight >= NBD_CONN_DEPTH)
			break;
		c->rx_off += 28;
		if (rx_request(c, c->rx + c->rx_off - 28) < 0)
			conn_close(c);
	}
	if (c->dead)
		return;
	memmove(c->rx, c->rx + c->rx_off, c->rx_end - c->rx_off);
	c->rx_end -= c->rx_off;
	c->rx_off = 0;
}

/* One recv per readiness: into rx, or for the rest of a large write straight
 * into its buffer. 0, or <0 when the client is gone. */
static int rx_once(struct nbd_conn *c)
{
	struct nio *x = c->pending;
	uint8_t *to = c->rx + c->rx_end;
	size_t room = NBD_RX_BYTES - c->rx_end;
	bool direct = x && c->rx_end == 0 && x->want - x->got >= NBD_RX_BYTES / 2;
	if (direct) {
		to = x->data + x->got;
		room = x->want - x->got;
	}
	if (!room)
		return 0;
	ssize_t r = recv(c->fd, to, room, MSG_DONTWAIT);
	if (r <= 0)
		return r == 0 ? -ECONNRESET : errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (direct)
		x->got += (uint32_t)r;
	else
		c->rx_end += (size_t)r;
	if (direct && x->got == x->want)
		nio_start(c, x);
	return 0;
}

static void conn_event(struct kloop_fd *h, uint32_t ev)
{
	struct nbd_conn *c = container_of(h, struct nbd_conn, kfd);
	c->refs++; /* a close inside must not free c under us */
	if (ev & EPOLLOUT)
		conn_flush(c);
	if (!c->dead && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (rx_once(c) < 0)
			conn_close(c);
		else
			rx_process(c);
	}
	c->refs--;
	if (c->dead)
		conn_unref(c);
	else
		conn_events(c);
}

/* Negotiation done (on its thread): the connection joins the loop. */
static void adopt_task(struct kloop_task *t)
{
	struct nbd_conn *c = container_of(t, struct nbd_conn, flush);
	struct ini_nbd *s = c->d->nbd;
	int fl = fcntl(c->fd, F_GETFL);
	c->rx = malloc(NBD_RX_BYTES);
	if (!s || !c->rx || fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(c->fd);
		free(c->rx);
		free(c);
		return;
	}
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	c->kfd.fn = conn_event;
	c->events = EPOLLIN;
	if (kloop_add_fd(c->d->loop, c->fd, EPOLLIN, &c->kfd) < 0) {
		c->events = 0;
		c->dead = true; /* not in epoll: close without kloop_del_fd */
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		close(c->fd);
		conn_unref(c);
	}
}

static void *negotiate_thread(void *arg)
{
	struct nbd_conn *c = arg;
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (negotiate(c) < 0) {
		close(c->fd);
		free(c);
		return NULL;
	}
	struct timeval none = { 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	c->flush.fn = adopt_task;
	kloop_post(c->d->loop, &c->flush);
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
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, negotiate_thread, c) != 0) {
		close(fd);
		free(c);
	}
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
	while (s->conns) { /* the loop has stopped: its queued flushes will not run */
		struct nbd_conn *c = s->conns;
		if (c->flush_queued) {
			c->flush_queued = false;
			c->refs--;
		}
		conn_close(c);
	}
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
