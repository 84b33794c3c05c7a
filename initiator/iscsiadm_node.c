/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm -m node: list (-P 0/1), show, new, update, delete, and the
 * login / logout entry points; plus the record printing and -n/-v update
 * helpers shared with the discoverydb and iface modes.
 *
 * For: node records under <root>/nodes. Not for: talking to the daemon
 * (iscsiadm_session.c) or the wire (discovery.c).
 */
#include "initiator/iscsiadm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- records: load over defaults, print, update ---------------------- */

static int overlay(struct nodedb_rec *dst, const struct nodedb_rec *src)
{
	int rc = 0;
	for (int i = 0; rc == 0 && i < nodedb_count(src); i++) {
		const char *k = nodedb_key_at(src, i);
		rc = nodedb_set(dst, k, nodedb_get(src, k));
	}
	return rc;
}

/* Defaults for id, overlaid with the stored record (so keys open-iscsi left
 * out because they were empty come back, in open-iscsi's order; unknown
 * keys follow). *err: -errno. */
struct nodedb_rec *adm_node_load_full(const char *root, const struct nodedb_node_id *id, int *err)
{
	struct nodedb_rec *disk, *r;
	*err = nodedb_node_load(root, id, &disk);
	if (*err)
		return NULL;
	r = nodedb_node_defaults(id);
	*err = r ? overlay(r, disk) : -ENOMEM;
	nodedb_rec_free(disk);
	if (*err) {
		nodedb_rec_free(r);
		return NULL;
	}
	return r;
}

void adm_print_rec(struct adm *a, const struct nodedb_rec *r, enum nodedb_kind kind)
{
	fprintf(a->out, "# BEGIN RECORD %s\n", NODEDB_RECORD_VERSION);
	for (int i = 0; i < nodedb_count(r); i++) {
		const char *k = nodedb_key_at(r, i), *v = nodedb_get(r, k);
		const struct nodedb_field *f = nodedb_field_find(kind, k);
		bool secret = (f && f->type == NODEDB_T_SECRET) || strstr(k, "password");
		if (!v[0])
			v = "<empty>";
		else if (secret && !a->o.show_secrets)
			v = "********";
		fprintf(a->out, "%s = %s\n", k, v);
	}
	fprintf(a->out, "# END RECORD\n");
}

/* Keys naming the record itself (changing them would move it), and its
 * transport, which kura does not let an update change either. */
static bool fixed_key(const char *k)
{
	return nodedb_identity_key(k) || strcmp(k, "iface.transport_name") == 0;
}

/* Apply every -n/-v pair to r; exit code. Unknown names are refused unless
 * the record already has them (kept from a newer open-iscsi). */
int adm_update_rec(struct adm *a, struct nodedb_rec *r, enum nodedb_kind kind)
{
	for (int i = 0; i < a->o.nnames; i++) {
		const char *k = a->o.names[i], *v = a->o.values[i];
		const struct nodedb_field *f = nodedb_field_find(kind, k);
		if (fixed_key(k) || (!f && !nodedb_get(r, k))) {
			adm_errf(a, "Cannot modify %s. Invalid param name.", k);
			return ADM_ERR_INVAL;
		}
		if ((f && nodedb_field_check(f, v)) || nodedb_set(r, k, v)) {
			adm_errf(a, "Cannot modify %s. Invalid param value '%s'.", k,
				 f && f->type == NODEDB_T_SECRET ? "********" : v);
			return ADM_ERR_INVAL;
		}
	}
	return ADM_OK;
}

/* ---- matching node records ----------------------------------------- */

struct id_vec {
	struct nodedb_node_id *v;
	int n;
	const struct adm_opts *o;
};

static int collect_cb(const struct nodedb_node_id *id, void *arg)
{
	struct id_vec *iv = arg;
	if (iv->o->tpgt >= 0 && id->tpgt != iv->o->tpgt)
		return 0;
	if (iv->o->iface && strcmp(iv->o->iface, id->iface))
		return 0;
	void *v = realloc(iv->v, (size_t)(iv->n + 1) * sizeof(*iv->v));
	if (!v)
		return -ENOMEM;
	iv->v = v;
	iv->v[iv->n++] = *id;
	return 0;
}

/* The records matching -T/-p/-I; exit code. */
static int match_nodes(struct adm *a, struct id_vec *iv)
{
	iv->v = NULL;
	iv->n = 0;
	iv->o = &a->o;
	int rc = nodedb_node_foreach(a->root, a->o.target, a->o.portal ? a->o.address : NULL,
				     a->o.portal ? a->o.port : 0, collect_cb, iv);
	if (rc) {
		adm_errf(a, "Could not read node records under %s: %s", a->root, strerror(-rc));
		free(iv->v);
		return ADM_ERR_IDBM;
	}
	return ADM_OK;
}

static int no_records(struct adm *a)
{
	adm_errf(a, "No records found");
	return ADM_ERR_NO_OBJS;
}

/* ---- operations ----------------------------------------------------- */

static void list_flat(struct adm *a, const struct id_vec *iv)
{
	char portal[96];
	for (int i = 0; i < iv->n; i++) {
		adm_fmt_portal(portal, sizeof(portal), iv->v[i].address, iv->v[i].port);
		/* open-iscsi prints an unknown tpgt unsigned here (-P 1 prints -1) */
		fprintf(a->out, "%s,%u %s\n", portal, (unsigned)iv->v[i].tpgt, iv->v[i].target);
	}
}

/* -P 1: Target / Portal / Iface Name tree (records are sorted by target). */
static void list_tree(struct adm *a, const struct id_vec *iv)
{
	char portal[96];
	for (int i = 0; i < iv->n; i++) {
		const struct nodedb_node_id *id = &iv->v[i], *prev = i ? &iv->v[i - 1] : NULL;
		if (!prev || strcmp(prev->target, id->target))
			fprintf(a->out, "Target: %s\n", id->target);
		adm_fmt_portal(portal, sizeof(portal), id->address, id->port);
		if (!prev || strcmp(prev->target, id->target) ||
		    strcmp(prev->address, id->address) || prev->port != id->port ||
		    prev->tpgt != id->tpgt)
			fprintf(a->out, "\tPortal: %s,%d\n", portal, id->tpgt);
		fprintf(a->out, "\t\tIface Name: %s\n", id->iface);
	}
}

static int show_nodes(struct adm *a, const struct id_vec *iv)
{
	for (int i = 0; i < iv->n; i++) {
		int err;
		struct nodedb_rec *r = adm_node_load_full(a->root, &iv->v[i], &err);
		if (!r) {
			adm_errf(a, "Could not read record for %s: %s", iv->v[i].target,
				 strerror(-err));
			return ADM_ERR_IDBM;
		}
		adm_print_rec(a, r, NODEDB_NODE);
		nodedb_rec_free(r);
	}
	return ADM_OK;
}

static int update_nodes(struct adm *a, const struct id_vec *iv)
{
	for (int i = 0; i < iv->n; i++) {
		int err, rc;
		struct nodedb_rec *r = adm_node_load_full(a->root, &iv->v[i], &err);
		if (!r) {
			adm_errf(a, "Could not read record for %s: %s", iv->v[i].target,
				 strerror(-err));
			return ADM_ERR_IDBM;
		}
		rc = adm_update_rec(a, r, NODEDB_NODE);
		if (rc == ADM_OK && (err = nodedb_node_store(a->root, &iv->v[i], r))) {
			adm_errf(a, "Could not write record for %s: %s", iv->v[i].target,
				 strerror(-err));
			rc = ADM_ERR_IDBM;
		}
		nodedb_rec_free(r);
		if (rc)
			return rc;
	}
	return ADM_OK;
}

static int delete_nodes(struct adm *a, const struct id_vec *iv)
{
	for (int i = 0; i < iv->n; i++) {
		const struct nodedb_node_id *id = &iv->v[i];
		if (adm_node_has_session(a, id)) {
			adm_errf(
				a,
				"This command will remove the record [iface: %s, target: %s, portal: "
				"%s,%u], but a session is using it. Logout session then rerun command "
				"to remove record.",
				id->iface, id->target, id->address, (unsigned)id->port);
			return ADM_ERR_SESS_EXISTS;
		}
		int err = nodedb_node_delete(a->root, id);
		if (err && err != -ENOENT) {
			adm_errf(a, "Could not delete record for %s: %s", id->target,
				 strerror(-err));
			return ADM_ERR_IDBM;
		}
	}
	return ADM_OK;
}

int adm_iface_into(struct adm *a, struct nodedb_rec *r, const char *iface)
{
	struct nodedb_rec *ir;
	if (!strcmp(iface, "default"))
		return ADM_OK;
	if (nodedb_iface_load(a->root, iface, &ir))
		return ADM_ERR_NO_OBJS;
	for (int i = 0; i < nodedb_count(ir); i++) {
		const char *k = nodedb_key_at(ir, i);
		if (!strncmp(k, "iface.", 6) && nodedb_field_find(NODEDB_NODE, k))
			nodedb_set(r, k, nodedb_get(ir, k));
	}
	nodedb_set(r, "iface.iscsi_ifacename", iface);
	nodedb_rec_free(ir);
	return ADM_OK;
}

static int new_record(struct adm *a, const struct nodedb_node_id *id, struct nodedb_rec **out)
{
	struct nodedb_rec *r = nodedb_node_defaults(id);
	int rc = !r                                       ? ADM_ERR_NOMEM
		 : nodedb_apply_conf(a->root, r, "node.") ? ADM_ERR_IDBM
							  : adm_iface_into(a, r, id->iface);
	if (rc == ADM_ERR_NO_OBJS) {
		adm_errf(a, "Could not read iface info for %s.", id->iface);
		rc = ADM_ERR_NOMEM; /* what open-iscsi 2.1.8 returns here */
	}
	if (rc == ADM_OK)
		rc = adm_update_rec(a, r, NODEDB_NODE);
	if (rc)
		nodedb_rec_free(r);
	*out = rc ? NULL : r;
	return rc;
}

/* -o new: a record with the defaults, replacing one that exists (as
 * open-iscsi does: its settings are reset; exit 0). */
static int new_node(struct adm *a)
{
	struct nodedb_node_id id = { .port = a->o.port, .tpgt = a->o.tpgt };
	struct nodedb_rec *r;
	const char *iface = a->o.iface ? a->o.iface : "default";
	if (strlen(a->o.target) >= sizeof(id.target) || strlen(iface) >= sizeof(id.iface)) {
		adm_errf(a, "target or iface name too long");
		return ADM_ERR_INVAL;
	}
	strcpy(id.target, a->o.target);
	strcpy(id.address, a->o.address);
	strcpy(id.iface, iface);
	int rc = new_record(a, &id, &r);
	if (rc)
		return rc;
	nodedb_node_delete(a->root, &id);
	int err = nodedb_node_store(a->root, &id, r);
	nodedb_rec_free(r);
	if (err) {
		adm_errf(a, "Error while adding record: %s", strerror(-err));
		return err == -EINVAL ? ADM_ERR_INVAL : ADM_ERR_IDBM;
	}
	fprintf(a->out, "New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=%s] %s,%u,%d %s] added\n",
		id.iface, id.address, (unsigned)id.port, a->o.tpgt, id.target);
	return ADM_OK;
}

/* Records whose node.startup matches -L (all = every record). */
static int login_all(struct adm *a, struct id_vec *iv)
{
	int k = 0;
	for (int i = 0; i < iv->n; i++) {
		int err;
		struct nodedb_rec *r = adm_node_load_full(a->root, &iv->v[i], &err);
		const char *st = r ? nodedb_get(r, "node.startup") : NULL;
		if (st && (!strcmp(a->o.login_all, "all") || !strcmp(a->o.login_all, st)))
			iv->v[k++] = iv->v[i];
		nodedb_rec_free(r);
	}
	iv->n = k;
	return k ? adm_login_nodes(a, iv->v, k) : no_records(a);
}

static int node_ops(struct adm *a, struct id_vec *iv)
{
	if (a->o.ops & ADM_OP_SHOW)
		return show_nodes(a, iv);
	if (a->o.ops & ADM_OP_UPDATE)
		return update_nodes(a, iv);
	if (a->o.ops & ADM_OP_DELETE)
		return delete_nodes(a, iv);
	if (a->o.seen & OB_l)
		return adm_login_nodes(a, iv->v, iv->n);
	if (a->o.print == 1)
		list_tree(a, iv);
	else if (a->o.target && a->o.portal)
		return show_nodes(a, iv); /* iscsiadm -m node -T X -p Y shows the record */
	else
		list_flat(a, iv);
	return ADM_OK;
}

int adm_cmd_node(struct adm *a)
{
	struct id_vec iv;
	int rc;
	if (a->o.ops & ADM_OP_NEW)
		return new_node(a);
	if (a->o.seen & OB_u)
		return adm_logout_matching(a, a->o.target, a->o.portal ? a->o.address : NULL,
					   a->o.portal ? a->o.port : 0, NULL);
	if (a->o.seen & OB_U)
		return adm_logout_matching(a, NULL, NULL, 0, a->o.logout_all);
	if ((rc = match_nodes(a, &iv)))
		return rc;
	if (iv.n == 0)
		rc = no_records(a);
	else if (a->o.seen & OB_L)
		rc = login_all(a, &iv);
	else
		rc = node_ops(a, &iv);
	free(iv.v);
	return rc;
}
