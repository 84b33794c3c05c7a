/* SPDX-License-Identifier: Apache-2.0 */
/* The rbd kind in the backend registry: a LUN's "backend = rbd" with
 * rbd_pool, rbd_image (required), rbd_conf, rbd_user, rbd_keyring,
 * rbd_namespace (optional), kept in the LUN's kind_keys (no field of
 * lun_backend_params is the rbd kind's), and the checks run once the [lun]
 * section is complete. Reference: docs/ceph.md, docs/configuration.md.
 *
 * Not for: opening the image (lun_rbd.c).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "lun-backends/lun_registry.h"
#include "lun-backends/rbd/lun_rbd_internal.h"

extern const struct lun_kind lun_kind_rbd;

/* Pool, namespace and image names: printable, no blank, and for images no
 * '/' or '@' (the separators of pool/image@snap in every Ceph tool). */
static int set_name(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (!*v || strlen(v) >= LUN_RBD_NAME_MAX)
		return lun_conf_fail(c, "%s: a name of 1 to %d characters", key,
				     LUN_RBD_NAME_MAX - 1);
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == '@')
			return lun_conf_fail(c, "%s: '%s' has a blank, '/' or '@'", key, v);
	return lun_conf_kind_key(c, obj, key, v);
}

static int set_path_key(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (!*v || strlen(v) >= PATH_MAX)
		return lun_conf_fail(c, "%s: a path of 1 to %d characters", key, PATH_MAX - 1);
	return lun_conf_kind_key(c, obj, key, v);
}

/* A cephx user id without "client." (as rbd --id takes it). */
static int set_user(struct lun_conf_ctx *c, void *obj, const char *key, const char *v)
{
	if (strncmp(v, "client.", 7) == 0)
		return lun_conf_fail(c, "%s: give the id without 'client.' ('%s')", key, v + 7);
	return set_name(c, obj, key, v);
}

static const struct lun_key rbd_lun_keys[] = {
	{ "rbd_pool", set_name, false },        { "rbd_image", set_name, false },
	{ "rbd_conf", set_path_key, false },    { "rbd_user", set_user, false },
	{ "rbd_keyring", set_path_key, false }, { "rbd_namespace", set_name, false },
};

static bool rbd_keys_given(const struct lun_conf_lun *l)
{
	return lun_conf_kind_keys_given(&lun_kind_rbd, l);
}

static int rbd_lun_check(struct lun_conf_ctx *c, const struct lun_conf_lun *l)
{
	const struct lun_backend_params *b = l->b;
	if (!lun_params_get(b, "rbd_pool") || !lun_params_get(b, "rbd_image"))
		return lun_conf_fail(c, "backend = rbd needs 'rbd_pool' and 'rbd_image'");
	if (b->path)
		return lun_conf_fail(c, "backend = rbd takes no 'path' (rbd_pool, rbd_image)");
	if (b->size || b->create)
		return lun_conf_fail(c,
				     "backend = rbd takes its size from the image: no 'size' "
				     "or 'create' (rbd create / rbd resize)");
	return 0;
}

const struct lun_kind lun_kind_rbd = {
	.name = "rbd",
	.lun_keys = rbd_lun_keys,
	.n_lun_keys = sizeof(rbd_lun_keys) / sizeof(rbd_lun_keys[0]),
	.lun_keys_given = rbd_keys_given,
	.misplaced =
		"rbd_pool, rbd_image, rbd_conf, rbd_user, rbd_keyring and rbd_namespace "
		"need backend = rbd",
	.lun_check = rbd_lun_check,
	.open = lun_rbd_open,
};
