/* SPDX-License-Identifier: Apache-2.0 */
/* fileutil: temporary file, fsync, rename, fsync of the directory
 * (fileutil.h says when to use it). Shared by the target's run-time
 * configuration changes and the initiator's node database.
 *
 * Not for: asynchronous or bulk I/O (kloop / io_uring).
 */
#include "common/fileutil.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kfile_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int kfile_write_temp(const char *dir, const char *stem, const void *data, size_t len, mode_t mode,
		     char *tmp, size_t tmplen)
{
	int n = snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, stem);
	if (n < 0 || (size_t)n >= tmplen)
		return -ENAMETOOLONG;
	int fd = mkstemp(tmp); /* unique across threads and processes; 0600 */
	if (fd < 0)
		return -errno;
	int r = fchmod(fd, mode) < 0 ? -errno : write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* The directory part of path ("." if none) into out. */
static int dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	int n = !slash          ? snprintf(out, outlen, ".")
		: slash == path ? snprintf(out, outlen, "/")
				: snprintf(out, outlen, "%.*s", (int)(slash - path), path);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int kfile_install(const char *tmp, const char *path, bool excl)
{
	char dir[PATH_MAX];
	int r = dir_of(path, dir, sizeof(dir));
	if (r == 0 && (excl ? link(tmp, path) : rename(tmp, path)) < 0)
		r = -errno;
	if (r < 0 || excl)
		unlink(tmp);
	return r < 0 ? r : kfile_fsync_dir(dir);
}

static int put_file(const char *path, const void *data, size_t len, mode_t mode, bool excl)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int r = dir_of(path, dir, sizeof(dir));
	if (r == 0)
		r = kfile_write_temp(dir, slash ? slash + 1 : path, data, len, mode, tmp,
				     sizeof(tmp));
	return r < 0 ? r : kfile_install(tmp, path, excl);
}

int kfile_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return put_file(path, data, len, mode, false);
}

int kfile_create(const char *path, const void *data, size_t len, mode_t mode)
{
	return put_file(path, data, len, mode, true);
}

int kfile_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int kfile_mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	int r = dir_of(path, dir, sizeof(dir));
	if (r < 0)
		return r;
	return strcmp(dir, ".") && strcmp(dir, "/") ? kfile_mkdir_p(dir, 0755) : 0;
}
