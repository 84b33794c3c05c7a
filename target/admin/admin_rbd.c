/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots and clones of an RBD LU's image (kura-targetctl snapshot create
 * IQN LUN SNAP, clone create IQN LUN SNAP NEW_IMAGE): the LU's open image
 * takes an RBD snapshot (lun_rbd_snap_create), or a format 2 clone of one
 * of its snapshots becomes a new image in the same pool and namespace
 * (lun_rbd_clone_create); `lun add ... backend=rbd rbd_image=NEW_IMAGE`
 * then exports the clone. Both are librbd's blocking calls, made on the
 * admin thread (never a worker's loop) and timed here.
 *
 * Not for: thin volumes' snapshots (admin_storage.c), the image's data path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "target/admin/admin_internal.h"
#include "target/scsi/scsi_admin.h"
#ifdef KURA_HAVE_RBD
#include "lun-backends/rbd/lun_rbd.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* "pool/namespace/" or "pool/": how rbd(8) names the image's place. */
static void rbd_place(struct lun_backend *be, char *out, size_t cap)
{
	const char *ns = lun_rbd_namespace(be);
	snprintf(out, cap, "%s/%s%s", lun_rbd_pool(be), ns, ns[0] ? "/" : "");
}

static const char *rbd_why(const struct admin_cmd *c, int r, bool snap)
{
	const char *what = r == -EEXIST   ? "exists already"
			   : r == -ENOENT ? "no such snapshot"
			   : r == -EROFS  ? "the image is open read-only"
					  : strerror(-r);
	snprintf(c->msg, admin_msg_len(c, 600), "%s %s: %s", snap ? "snapshot" : "clone",
		 snap ? c->argv[4] : c->argv[5], what);
	return c->msg;
}

static void rbd_print(FILE *f, const struct admin_cmd *c, struct lun_backend *be, bool snap,
		      double ms)
{
	char place[600];
	rbd_place(be, place, sizeof(place));
	if (c->json) {
		fputs("{\"image\":", f);
		kjson_str(f, lun_rbd_image(be));
		fputs(",\"place\":", f);
		kjson_str(f, place);
		fputs(",\"snapshot\":", f);
		kjson_str(f, c->argv[4]);
		if (!snap) {
			fputs(",\"clone\":", f);
			kjson_str(f, c->argv[5]);
		}
		fprintf(f, ",\"ms\":%.3f}\n", ms);
	} else if (snap) {
		fprintf(f, "snapshot %s%s@%s taken in %.3f ms\n", place, lun_rbd_image(be),
			c->argv[4], ms);
	} else {
		fprintf(f, "clone %s%s of %s%s@%s created in %.3f ms\n", place, c->argv[5], place,
			lun_rbd_image(be), c->argv[4], ms);
	}
}

int admin_rbd_copy(struct scsi_lu *lu, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool snap = c->op == ADMIN_RBD_SNAPSHOT;
	struct lun_backend *be = scsi_admin_lu_backend(lu);
	*why = "the LUN is not an RBD image (thin volumes: snapshot|clone create POOL ORIGIN_ID "
	       "NEW_ID)";
	if (!lun_rbd_is(be))
		return -EINVAL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = snap ? lun_rbd_snap_create(be, c->argv[4])
		     : lun_rbd_clone_create(be, c->argv[4], c->argv[5]);
	if (r < 0) {
		*why = rbd_why(c, r, snap);
		return r;
	}
	rbd_print(f, c, be, snap, ms_since(&t0));
	return 0;
}
#else
int admin_rbd_copy(struct scsi_lu *lu, const struct admin_cmd *c, FILE *f, const char **why)
{
	(void)lu;
	(void)c;
	(void)f;
	*why = "kura-targetd was built without the rbd backend";
	return -ENOTSUP;
}
#endif
