/* SPDX-License-Identifier: Apache-2.0 */
/* unixsock: the local administration sockets of kura (the target's admin
 * socket, kura-initiatord's control socket) and their clients. A listening
 * socket is created with mode 0600 and its peers are checked with
 * SO_PEERCRED: root or the daemon's own uid may talk to it. Every function
 * returns a file descriptor or -errno.
 *
 * Not for: the protocol spoken over these sockets (target/admin/admin.h,
 * initiator/ctl_proto.h), or TCP.
 */
#ifndef KURA_UNIXSOCK_H
#define KURA_UNIXSOCK_H
#include <stdbool.h>

/* True when the peer of the connected socket fd is root or runs under our
 * effective uid; false also when SO_PEERCRED cannot be read. */
bool kunix_peer_allowed(int fd);

/* A stream socket connected to path (close-on-exec, blocking);
 * -ENAMETOOLONG when path does not fit in sun_path. */
int kunix_connect(const char *path);

/* A stream socket listening on path (close-on-exec, non-blocking when asked):
 * a stale socket file of a previous run is removed, the socket is bound
 * under umask 0077 so that it is never reachable by others, then set to
 * mode 0600. SO_PEERCRED (kunix_peer_allowed) stays the real check. */
int kunix_listen(const char *path, int backlog, bool nonblock);

#endif
