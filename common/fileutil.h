/* SPDX-License-Identifier: Apache-2.0 */
/* fileutil: crash-safe replacement of small files (configuration, node
 * records). The data goes to a temporary file in the same directory, which is
 * fsync'ed, renamed (or linked) over the real name, and then the directory is
 * fsync'ed, so after a crash the file holds either the old or the new
 * contents, never a mix, and the new name survives.
 *
 * The two steps are separate for callers that must check the temporary file
 * before it replaces the real one (admin_live.c parses the new configuration
 * first). Every function returns 0 or -errno.
 *
 * Not for: large or hot files (persistent reservations and LUN metadata have
 * their own writers), or anything that must not block: these calls fsync.
 */
#ifndef KURA_FILEUTIL_H
#define KURA_FILEUTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* fsync a directory, making renames and links inside it durable. */
int kfile_fsync_dir(const char *dir);

/* Write data to a new temporary file dir/.stem.XXXXXX with the given mode,
 * fsync and close it; its name is returned in tmp (tmplen bytes). On failure
 * nothing is left behind. */
int kfile_write_temp(const char *dir, const char *stem, const void *data, size_t len, mode_t mode,
		     char *tmp, size_t tmplen);

/* Put the temporary file tmp in place as path (same directory), then fsync
 * the directory. With excl an existing path is left alone and -EEXIST
 * returned (link, not rename); tmp is gone afterwards either way. */
int kfile_install(const char *tmp, const char *path, bool excl);

/* Both steps: replace path with data (file mode `mode`) crash-safely. */
int kfile_replace(const char *path, const void *data, size_t len, mode_t mode);

/* As kfile_replace, but only if path does not exist yet (-EEXIST if it does). */
int kfile_create(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p: missing parents are created with mode 0755, dir itself with
 * `mode`; directories that exist already are left as they are. */
int kfile_mkdir_p(const char *dir, mode_t mode);

/* kfile_mkdir_p (0755) of the directory that holds path, e.g. the directory
 * of a socket file; nothing to do for a bare name or one under "/". */
int kfile_mkdir_parent(const char *path);

#endif
