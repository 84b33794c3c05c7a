/* SPDX-License-Identifier: Apache-2.0 */
/* Sign-of-life probe of a path waiting out its reconnect backoff.
 *
 * A failed path waits (exponential backoff up to --retry-max, 30 s) before
 * its next login, so that a dead portal is not hammered. But once the portal
 * is reachable again the path should be used at once, not after the rest of
 * the backoff: while a path waits, every PATH_LIVE_EVERY_MS a plain TCP
 * connect to its portal is tried (non-blocking, on the event loop); when one
 * succeeds the backoff is reset and the login starts now. A probe that has
 * not connected within PATH_LIVE_EVERY_MS is dropped (cut link: SYNs lost).
 *
 * For: path.c (path_tick calls path_live_tick in PATH_WAIT). Not for: the
 * login itself or checking a path that is up (NOP-Out, path.c).
 */
#include "initiator/initiatord_internal.h"
#include "common/container.h"
#include "common/log.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATH_LIVE_EVERY_MS 500

void path_live_stop(struct ini_path *p)
{
	if (p->live_fd < 0)
		return;
	kloop_del_fd(p->d->loop, p->live_fd);
	close(p->live_fd);
	p->live_fd = -1;
}

static void live_event(struct kloop_fd *h, uint32_t ev)
{
	struct ini_path *p = container_of(h, struct ini_path, live_kfd);
	int e = 0;
	socklen_t len = sizeof(e);
	(void)ev;
	if (getsockopt(p->live_fd, SOL_SOCKET, SO_ERROR, &e, &len))
		e = errno;
	path_live_stop(p);
	if (e || p->state != PATH_WAIT)
		return;
	kinfo("path %d %s:%u: portal reachable again; logging in now", p->sid, p->id.address,
	      p->id.port);
	p->backoff_ms = 0;
	p->deadline_ms = kloop_now_ms(p->d->loop); /* the next tick logs in */
}

/* A non-blocking connect to the portal, watched by the loop. */
static int live_start(struct ini_path *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	char serv[8];
	snprintf(serv, sizeof(serv), "%u", (unsigned)p->id.port);
	if (getaddrinfo(p->id.address, serv, &hints, &ai))
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return -errno;
	p->live_fd = fd;
	p->live_kfd.fn = live_event;
	if (kloop_add_fd(p->d->loop, fd, EPOLLOUT, &p->live_kfd) < 0) {
		close(fd);
		p->live_fd = -1;
		return -EIO;
	}
	return 0;
}

void path_live_tick(struct ini_path *p, uint64_t now)
{
	if (now - p->live_ms < PATH_LIVE_EVERY_MS || p->deadline_ms <= now + PATH_LIVE_EVERY_MS)
		return;    /* probed lately, or the login is due anyway */
	path_live_stop(p); /* the previous probe did not connect in time */
	p->live_ms = now;
	live_start(p);
}
