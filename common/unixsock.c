/* SPDX-License-Identifier: Apache-2.0 */
/* unixsock: Unix stream sockets for local administration (unixsock.h says
 * who uses them): peer credential check, connect, listen.
 *
 * Not for: reading or writing the protocols; callers own their sockets.
 */
#include "common/unixsock.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool kunix_peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return 0;
}

int kunix_connect(const char *path)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, path);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int kunix_listen(const char *path, int backlog, bool nonblock)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, path);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket of a previous run (callers hold a pid/lock file) */
	mode_t old = umask(0077);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}
