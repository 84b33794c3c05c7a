/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm -m iface: list, show, new, update, delete of iface records
 * (<root>/ifaces/<name>).
 *
 * For: open-iscsi compatible iface administration. kura binds sessions to a
 * source address only through iface.ipaddress / iface.net_ifacename, which
 * kura-initiatord reads from the node record. Not for: offload transports
 * (kura is software iSCSI over TCP only; "default" is built in and fixed).
 */
#include "initiator/iscsiadm.h"

#include <errno.h>
#include <string.h>

static const char *or_empty(const struct nodedb_rec *r, const char *k)
{
	const char *v = r ? nodedb_get(r, k) : NULL;
	return v && v[0] ? v : "<empty>";
}

/* "name transport,hwaddress,ipaddress,net_ifacename,initiatorname" */
static void list_line(struct adm *a, const char *name, const struct nodedb_rec *r)
{
	fprintf(a->out, "%s %s,%s,%s,%s,%s\n", name,
		r ? or_empty(r, "iface.transport_name") : "tcp", or_empty(r, "iface.hwaddress"),
		or_empty(r, "iface.ipaddress"), or_empty(r, "iface.net_ifacename"),
		or_empty(r, "iface.initiatorname"));
}

static int list_cb(const char *name, void *arg)
{
	struct adm *a = arg;
	struct nodedb_rec *r;
	if (!strcmp(name, "default") || nodedb_iface_load(a->root, name, &r))
		return 0;
	list_line(a, name, r);
	nodedb_rec_free(r);
	return 0;
}

/* The record over the defaults; NULL with *err = -ENOENT when absent. */
static struct nodedb_rec *load_full(struct adm *a, const char *name, int *err)
{
	struct nodedb_rec *disk, *r = nodedb_iface_defaults(name);
	*err = r ? 0 : -ENOMEM;
	if (r && strcmp(name, "default") && (*err = nodedb_iface_load(a->root, name, &disk)) == 0) {
		for (int i = 0; i < nodedb_count(disk); i++) {
			const char *k = nodedb_key_at(disk, i);
			nodedb_set(r, k, nodedb_get(disk, k));
		}
		nodedb_rec_free(disk);
	}
	if (*err) {
		nodedb_rec_free(r);
		return NULL;
	}
	return r;
}

static int not_found(struct adm *a, const char *name)
{
	adm_errf(a, "Could not read iface %s (%s)", name, strerror(ENOENT));
	return ADM_ERR_NO_OBJS;
}

static int store(struct adm *a, const char *name, const struct nodedb_rec *r)
{
	int err = nodedb_iface_store(a->root, name, r);
	if (err)
		adm_errf(a, "Could not write iface %s: %s", name, strerror(-err));
	return err == -EINVAL ? ADM_ERR_INVAL : err ? ADM_ERR_IDBM : ADM_OK;
}

static int iface_new(struct adm *a, const char *name)
{
	int err;
	struct nodedb_rec *r = load_full(a, name, &err);
	if (r || err != -ENOENT) {
		nodedb_rec_free(r);
		adm_errf(a, "Could not create new interface %s: it already exists.", name);
		return err == -EINVAL ? ADM_ERR_INVAL : ADM_ERR_SESS_EXISTS;
	}
	r = nodedb_iface_defaults(name);
	int rc = r ? adm_update_rec(a, r, NODEDB_IFACE) : ADM_ERR_NOMEM;
	if (rc == ADM_OK && (rc = store(a, name, r)) == ADM_OK)
		fprintf(a->out, "New interface %s added\n", name);
	nodedb_rec_free(r);
	return rc;
}

static int iface_update(struct adm *a, const char *name)
{
	int err;
	struct nodedb_rec *r = load_full(a, name, &err);
	if (!r)
		return not_found(a, name);
	int rc = adm_update_rec(a, r, NODEDB_IFACE);
	if (rc == ADM_OK && (rc = store(a, name, r)) == ADM_OK)
		fprintf(a->out, "%s updated.\n", name);
	nodedb_rec_free(r);
	return rc;
}

struct unbind {
	struct adm *a;
	const char *name;
};

static int unbind_node(const struct nodedb_node_id *id, void *arg)
{
	struct unbind *u = arg;
	if (!strcmp(id->iface, u->name))
		nodedb_node_delete(u->a->root, id);
	return 0;
}

/* Node records bound to the iface go with it ("unbound and deleted"). */
static int iface_delete(struct adm *a, const char *name)
{
	struct unbind u = { a, name };
	int err = nodedb_iface_delete(a->root, name);
	if (err == -ENOENT)
		return not_found(a, name);
	if (err) {
		adm_errf(a, "Could not delete iface %s: %s", name, strerror(-err));
		return err == -EINVAL ? ADM_ERR_INVAL : ADM_ERR_IDBM;
	}
	nodedb_node_foreach(a->root, NULL, NULL, 0, unbind_node, &u);
	fprintf(a->out, "%s unbound and deleted.\n", name);
	return ADM_OK;
}

static int iface_show(struct adm *a, const char *name)
{
	int err;
	struct nodedb_rec *r = load_full(a, name, &err);
	if (!r)
		return err == -ENOENT ? not_found(a, name) : ADM_ERR_IDBM;
	adm_print_rec(a, r, NODEDB_IFACE);
	nodedb_rec_free(r);
	return ADM_OK;
}

int adm_cmd_iface(struct adm *a)
{
	const char *name = a->o.iface;
	unsigned ops = a->o.ops;
	if (!name) { /* open-iscsi: the records, then its built-in default and iser */
		int rc = nodedb_iface_foreach(a->root, list_cb, a) ? ADM_ERR_IDBM : ADM_OK;
		list_line(a, "default", NULL);
		fprintf(a->out, "iser iser,<empty>,<empty>,<empty>,<empty>\n");
		return rc;
	}
	if ((ops & (ADM_OP_NEW | ADM_OP_UPDATE | ADM_OP_DELETE)) && !strcmp(name, "default")) {
		adm_errf(a, "iface default is built in and cannot be changed or deleted");
		return ADM_ERR_INVAL;
	}
	if (ops & ADM_OP_NEW)
		return iface_new(a, name);
	if (ops & ADM_OP_UPDATE)
		return iface_update(a, name);
	if (ops & ADM_OP_DELETE)
		return iface_delete(a, name);
	return iface_show(a, name);
}
