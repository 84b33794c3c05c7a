/* SPDX-License-Identifier: Apache-2.0 */
/* Stable names for the devices kura-initiatord presents (--disk-dir DIR),
 * in the spirit of udev's /dev/disk/by-id and /dev/disk/by-path:
 *
 *   DIR/by-id/wwn-<wwid>                                 -> FUSE file
 *   DIR/by-id/wwn-<wwid>.sock                            -> NBD socket
 *   DIR/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<N>      -> FUSE file
 *   DIR/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<N>.sock -> NBD socket
 *
 * (<wwid> is "naa.<hex>"; one by-path name per path of the LU.) The links
 * follow the multipath core's events: made when an LU is presented or a
 * path joins it, removed when a path leaves or the LU goes (last-path
 * logout), made again under the same names at the next login; all removed
 * when the daemon stops. Each link is written as a temporary name renamed
 * over the final one, so a reader never sees a missing or half-made link
 * while it is replaced. Runs on the loop thread only.
 *
 * Not for: the devices themselves (fuse_front.c, nbd_server.c).
 */
#include "initiator/initiatord_internal.h"
#include "common/container.h"
#include "common/fileutil.h"
#include "common/log.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAMES_PER_LU (2 + 2 * INI_MAX_LU_PATHS)
#define NAME_MAX_LEN 400

struct lu_names {
	char name[NAMES_PER_LU][NAME_MAX_LEN]; /* relative to disk_dir; "" = free */
};

struct ini_names {
	struct mpath_listener events;
	struct ini_daemon *d;
	char fuse[PATH_MAX], nbd[PATH_MAX]; /* absolute front-end dirs, "" = none */
	struct lu_names lus[INI_MAX_LUS];
};

static void link_make(const char *dir, const char *name, const char *target)
{
	char path[NAME_MAX_LEN + 300], tmp[NAME_MAX_LEN + 320];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, path) < 0) {
		kwarn("stable name %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

static void link_drop(const char *dir, const char *name)
{
	char path[NAME_MAX_LEN + 300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT)
		kwarn("stable name %s: %s", path, strerror(errno));
}

/* The names an LU should have now, each with its link target. */
static int wanted(const struct ini_names *s, const struct ini_lu *lu, char (*name)[NAME_MAX_LEN],
		  char (*target)[PATH_MAX + 48])
{
	int n = 0;
	if (lu->gone)
		return 0;
	for (int i = -1; i < lu->n_paths; i++) {
		char base[NAME_MAX_LEN - 8];
		const struct ini_path *p = i >= 0 ? lu->paths[i].p : NULL;
		if (p)
			snprintf(base, sizeof(base), "by-path/ip-%s:%u-iscsi-%s-lun-%d",
				 p->id.address, p->id.port, p->id.target, lu->paths[i].lun);
		else
			snprintf(base, sizeof(base), "by-id/wwn-%s", lu->wwid);
		if (s->fuse[0]) {
			snprintf(name[n], NAME_MAX_LEN, "%s", base);
			snprintf(target[n++], PATH_MAX + 48, "%s/%s", s->fuse, lu->wwid);
		}
		if (s->nbd[0]) {
			snprintf(name[n], NAME_MAX_LEN, "%s.sock", base);
			snprintf(target[n++], PATH_MAX + 48, "%s/%s.sock", s->nbd, lu->wwid);
		}
	}
	return n;
}

static bool listed(char (*names)[NAME_MAX_LEN], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Bring the LU's links to what it should have: drop the stale, make the new. */
static void names_sync(struct ini_names *s, const struct ini_lu *lu)
{
	static char name[NAMES_PER_LU][NAME_MAX_LEN], target[NAMES_PER_LU][PATH_MAX + 48];
	struct lu_names *have = &s->lus[lu->index];
	const char *dir = s->d->o.disk_dir;
	int n = wanted(s, lu, name, target);
	for (int i = 0; i < NAMES_PER_LU; i++)
		if (have->name[i][0] && !listed(name, n, have->name[i])) {
			link_drop(dir, have->name[i]);
			have->name[i][0] = 0;
		}
	for (int k = 0; k < n; k++) {
		if (listed(have->name, NAMES_PER_LU, name[k]))
			continue;
		for (int i = 0; i < NAMES_PER_LU; i++)
			if (!have->name[i][0]) {
				link_make(dir, name[k], target[k]);
				memcpy(have->name[i], name[k], NAME_MAX_LEN);
				break;
			}
	}
}

static void on_event(struct mpath_listener *l, struct ini_lu *lu, enum mpath_event ev)
{
	struct ini_names *s = container_of(l, struct ini_names, events);
	if (ev == MPATH_EV_LU_ADDED || ev == MPATH_EV_LU_REMOVED || ev == MPATH_EV_PATHS_CHANGED)
		names_sync(s, lu);
}

static void abs_dir(const char *dir, char *out)
{
	if (dir[0] && !realpath(dir, out))
		snprintf(out, PATH_MAX, "%s", dir);
}

int stable_names_start(struct ini_daemon *d)
{
	char sub[300];
	if (!d->o.disk_dir[0])
		return 0;
	for (int i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", d->o.disk_dir, i ? "by-path" : "by-id");
		int rc = kfile_mkdir_p(sub, 0755);
		if (rc < 0) {
			kerr("--disk-dir %s: %s", sub, strerror(-rc));
			return rc;
		}
	}
	struct ini_names *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	abs_dir(d->o.fuse_dir, s->fuse);
	abs_dir(d->o.nbd_dir, s->nbd);
	s->events.fn = on_event;
	d->names = s;
	mpath_subscribe(d, &s->events); /* after the front ends: their files exist */
	return 0;
}

void stable_names_stop(struct ini_daemon *d)
{
	struct ini_names *s = d->names;
	if (!s)
		return;
	mpath_unsubscribe(d, &s->events);
	for (int l = 0; l < INI_MAX_LUS; l++)
		for (int i = 0; i < NAMES_PER_LU; i++)
			if (s->lus[l].name[i][0])
				link_drop(d->o.disk_dir, s->lus[l].name[i]);
	free(s);
	d->names = NULL;
}
