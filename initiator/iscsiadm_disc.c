/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm -m discovery / -m discoverydb: SendTargets discovery and the
 * discovery records under <root>/send_targets.
 *
 * For: running discovery with the record's CHAP, printing "IP:PORT,TPGT IQN"
 * lines, and keeping node records in step (new ones added, ones this portal
 * no longer reports deleted, existing ones and their settings kept). Not for:
 * the iSCSI exchange itself (discovery.c).
 */
#include "initiator/iscsiadm.h"
#include "initiator/discovery.h"

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* -p may name a host; records are keyed by numeric address like open-iscsi. */
static int resolve(struct adm *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res;
	if (getaddrinfo(a->o.address, NULL, &hints, &res) == 0) {
		freeaddrinfo(res);
		return ADM_OK;
	}
	hints.ai_flags = 0;
	int e = getaddrinfo(a->o.address, NULL, &hints, &res);
	if (e) {
		adm_errf(a, "cannot resolve host name %s: %s", a->o.address, gai_strerror(e));
		return ADM_ERR_TRANS;
	}
	getnameinfo(res->ai_addr, res->ai_addrlen, a->o.address, sizeof(a->o.address), NULL, 0,
		    NI_NUMERICHOST);
	freeaddrinfo(res);
	return ADM_OK;
}

static void portal_comma(char *buf, size_t len, const char *addr, unsigned port)
{
	snprintf(buf, len, "%s,%u", addr, port);
}

/* The stored record over the defaults; *exists tells whether one was stored. */
static struct nodedb_rec *st_load(struct adm *a, bool *exists)
{
	struct nodedb_rec *disk, *r = nodedb_st_defaults(a->o.address, a->o.port);
	*exists = nodedb_st_load(a->root, a->o.address, a->o.port, &disk) == 0;
	if (!r)
		return NULL;
	if (!*exists) {
		nodedb_apply_conf(a->root, r, "discovery.sendtargets.");
		return r;
	}
	for (int i = 0; i < nodedb_count(disk); i++) {
		const char *k = nodedb_key_at(disk, i);
		nodedb_set(r, k, nodedb_get(disk, k));
	}
	nodedb_rec_free(disk);
	return r;
}

static int st_store(struct adm *a, const struct nodedb_rec *r)
{
	int err = nodedb_st_store(a->root, a->o.address, a->o.port, r);
	if (err)
		adm_errf(a, "Could not write discovery record under %s: %s", a->root,
			 strerror(-err));
	return err ? ADM_ERR_IDBM : ADM_OK;
}

/* ---- node records in step with a discovery result ------------------- */

struct stale_ctx {
	struct adm *a;
	const struct disc_target *t;
	int n;
	int rc;
};

static bool in_result(const struct stale_ctx *c, const struct nodedb_node_id *id)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->t[i].target, id->target) && !strcmp(c->t[i].address, id->address) &&
		    c->t[i].port == id->port && c->t[i].tpgt == id->tpgt)
			return true;
	return false;
}

/* Delete records discovered through this portal that it no longer reports. */
static int stale_cb(const struct nodedb_node_id *id, void *arg)
{
	struct stale_ctx *c = arg;
	struct nodedb_rec *r;
	if (in_result(c, id) || nodedb_node_load(c->a->root, id, &r))
		return 0;
	const char *da = nodedb_get(r, "node.discovery_address");
	const char *dp = nodedb_get(r, "node.discovery_port");
	if (da && dp && !strcmp(da, c->a->o.address) && atoi(dp) == c->a->o.port)
		nodedb_node_delete(c->a->root, id);
	nodedb_rec_free(r);
	return 0;
}

static void target_id(struct adm *a, const struct disc_target *t, struct nodedb_node_id *id)
{
	memset(id, 0, sizeof(*id));
	strcpy(id->target, t->target);
	strcpy(id->address, t->address);
	id->port = t->port;
	id->tpgt = t->tpgt;
	snprintf(id->iface, sizeof(id->iface), "%s", a->o.iface ? a->o.iface : "default");
}

static int add_node(struct adm *a, const struct nodedb_node_id *id)
{
	struct nodedb_rec *r;
	char port[16];
	if (nodedb_node_load(a->root, id, &r) == 0) {
		nodedb_rec_free(r); /* existing record: keep its settings */
		return ADM_OK;
	}
	r = nodedb_node_defaults(id);
	if (!r)
		return ADM_ERR_NOMEM;
	nodedb_apply_conf(a->root, r, "node.");
	adm_iface_into(a, r, id->iface);
	snprintf(port, sizeof(port), "%u", (unsigned)a->o.port);
	nodedb_set(r, "node.discovery_address", a->o.address);
	nodedb_set(r, "node.discovery_port", port);
	nodedb_set(r, "node.discovery_type", "send_targets");
	int err = nodedb_node_store(a->root, id, r);
	nodedb_rec_free(r);
	if (err)
		adm_errf(a, "Could not add node record for %s: %s", id->target, strerror(-err));
	return err ? ADM_ERR_IDBM : ADM_OK;
}

static int sync_nodes(struct adm *a, const struct disc_target *t, int n)
{
	unsigned ops = a->o.ops ? a->o.ops : ADM_OP_NEW | ADM_OP_UPDATE | ADM_OP_DELETE;
	struct nodedb_node_id id;
	int rc = ADM_OK;
	for (int i = 0; rc == ADM_OK && (ops & ADM_OP_NEW) && i < n; i++) {
		target_id(a, &t[i], &id);
		rc = add_node(a, &id);
	}
	if (rc == ADM_OK && (ops & ADM_OP_DELETE)) {
		struct stale_ctx c = { a, t, n, 0 };
		nodedb_node_foreach(a->root, NULL, NULL, 0, stale_cb, &c);
	}
	return rc;
}

/* ---- discovery ------------------------------------------------------ */

/* The initiator name: the iface's iface.initiatorname if it has one (as
 * open-iscsi), else initiatorname.iscsi. */
static int initiator_of(struct adm *a, char *out, size_t len)
{
	struct nodedb_rec *r = nodedb_rec_new();
	const char *v;
	int rc = r ? adm_iface_into(a, r, a->o.iface ? a->o.iface : "default") : ADM_ERR_NOMEM;
	if (rc == ADM_OK && (v = nodedb_get(r, "iface.initiatorname")) && v[0]) {
		snprintf(out, len, "%s", v);
		nodedb_rec_free(r);
		return 0;
	}
	nodedb_rec_free(r);
	if ((rc = nodedb_initiator_name(a->root, out, len)))
		adm_errf(a, "Could not read the initiator name from %s/initiatorname.iscsi: %s",
			 a->root, strerror(-rc));
	return rc ? ADM_ERR_IDBM : ADM_OK;
}

/* SendTargets with open-iscsi's reconnects: a connection that fails is
 * retried reopen_max times, one second apart, then given up as 11. */
static int sendtargets(struct adm *a, const struct nodedb_rec *st, const char *init,
		       struct disc_target **t, int *n)
{
	char err[512];
	bool chap = !strcmp(nodedb_get(st, "discovery.sendtargets.auth.authmethod"), "CHAP");
	struct disc_auth auth = {
		chap ? nodedb_get(st, "discovery.sendtargets.auth.username") : NULL,
		nodedb_get(st, "discovery.sendtargets.auth.password"),
		nodedb_get(st, "discovery.sendtargets.auth.username_in"),
		nodedb_get(st, "discovery.sendtargets.auth.password_in"),
	};
	int tmo = atoi(nodedb_get(st, "discovery.sendtargets.timeo.login_timeout"));
	int reopen = atoi(nodedb_get(st, "discovery.sendtargets.reopen_max")), rc;
	for (int tries = 0;; tries++) {
		if (tries)
			sleep(1);
		rc = disc_sendtargets(init, a->o.address, a->o.port, &auth, tmo, t, n, err,
				      sizeof(err));
		if (rc)
			adm_errf(a, "%s", err);
		if (rc != ADM_ERR_TRANS)
			return rc;
		if (tries >= reopen) {
			adm_errf(a, "connection login retries (reopen_max) %d exceeded", reopen);
			return ADM_ERR_PDU_TIMEOUT;
		}
	}
}

static int login_found(struct adm *a, const struct disc_target *t, int n)
{
	struct nodedb_node_id *ids = n > 0 ? calloc((size_t)n, sizeof(*ids)) : NULL;
	for (int i = 0; ids && i < n; i++)
		target_id(a, &t[i], &ids[i]);
	fflush(a->out);
	int rc = ids ? adm_login_nodes(a, ids, n) : ADM_ERR_NOMEM;
	free(ids);
	return rc;
}

static int run_discovery(struct adm *a, const struct nodedb_rec *st)
{
	char init[256], portal[96];
	struct disc_target *t;
	int n, rc;
	if ((rc = initiator_of(a, init, sizeof(init))))
		return rc;
	if ((rc = sendtargets(a, st, init, &t, &n))) {
		adm_errf(a, "Could not perform SendTargets discovery: %s", adm_err_str(rc));
		return rc;
	}
	if (n <= 0) {
		free(t);
		adm_errf(a, "No portals found");
		return ADM_ERR_NO_OBJS;
	}
	rc = a->o.ops & ADM_OP_NONPERSISTENT ? ADM_OK : sync_nodes(a, t, n);
	for (int i = 0; rc == ADM_OK && i < n; i++) {
		adm_fmt_portal(portal, sizeof(portal), t[i].address, t[i].port);
		fprintf(a->out, "%s,%d %s\n", portal, t[i].tpgt, t[i].target);
	}
	if (rc == ADM_OK && (a->o.seen & OB_l))
		rc = login_found(a, t, n);
	free(t);
	return rc;
}

/* "-m discovery" / "-m discoverydb" alone: "IP:PORT via sendtargets". */
static int list_records(struct adm *a)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/send_targets", a->root);
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), shown = 0;
	for (int i = 0; i < n; i++) {
		struct nodedb_node_id id;
		char name[300], portal[96];
		snprintf(name, sizeof(name), "%s,0", names[i]->d_name);
		if (names[i]->d_name[0] != '.' && nodedb_parse_portal_dir(name, &id) == 0) {
			adm_fmt_portal(portal, sizeof(portal), id.address, id.port);
			fprintf(a->out, "%s via sendtargets\n", portal);
			shown++;
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	if (shown)
		return ADM_OK;
	adm_errf(a, "No discovery found.");
	return ADM_ERR_NO_OBJS;
}

static int del_cb(const struct nodedb_node_id *id, void *arg)
{
	struct stale_ctx c = { arg, NULL, 0, 0 };
	return stale_cb(id, &c);
}

static int db_delete(struct adm *a, bool exists)
{
	if (!exists) {
		adm_errf(a, "Discovery record [%s,%u] not found.", a->o.address,
			 (unsigned)a->o.port);
		return ADM_ERR_IDBM;
	}
	nodedb_node_foreach(a->root, NULL, NULL, 0, del_cb, a);
	int err = nodedb_st_delete(a->root, a->o.address, a->o.port);
	if (err)
		adm_errf(a, "Could not delete discovery record: %s", strerror(-err));
	return err ? ADM_ERR_IDBM : ADM_OK;
}

static int db_ops(struct adm *a, struct nodedb_rec *st, bool exists)
{
	char portal[96];
	int rc = ADM_OK;
	portal_comma(portal, sizeof(portal), a->o.address, a->o.port);
	if (a->o.ops & ADM_OP_NEW) { /* with -D: keep what exists (db_new otherwise) */
		if (!exists && (rc = st_store(a, st)))
			return rc;
		exists = true;
	} else if (a->o.ops & ADM_OP_UPDATE) {
		if (!exists) {
			adm_errf(a, "Discovery record [%s] not found.", portal);
			return ADM_ERR_IDBM;
		}
		if ((rc = adm_update_rec(a, st, NODEDB_ST)) || (rc = st_store(a, st)))
			return rc;
	}
	if (a->o.seen & (OB_D | OB_l))
		rc = run_discovery(a, st);
	if (rc == ADM_OK && (a->o.ops & ADM_OP_SHOW)) {
		if (!exists) {
			adm_errf(a, "Discovery record [%s] not found.", portal);
			return ADM_ERR_IDBM;
		}
		adm_print_rec(a, st, NODEDB_ST);
	}
	if (rc == ADM_OK && (a->o.ops & ADM_OP_DELETE))
		rc = db_delete(a, exists);
	return rc;
}

/* -m discovery -t st -p ...: -o update/-n/-v change the record first; the
 * record is saved unless -o nonpersistent. */
static int discover(struct adm *a, struct nodedb_rec *st)
{
	int rc = ADM_OK;
	if ((a->o.ops & ADM_OP_UPDATE) && (rc = adm_update_rec(a, st, NODEDB_ST)))
		return rc;
	if (!(a->o.ops & ADM_OP_NONPERSISTENT) && (rc = st_store(a, st)))
		return rc;
	return run_discovery(a, st);
}

/* -I names an iface record that must exist (open-iscsi: 21, nothing written). */
static int disc_check_iface(struct adm *a)
{
	struct nodedb_rec *r = nodedb_rec_new();
	const char *ifc = a->o.iface ? a->o.iface : "default";
	int rc = r ? adm_iface_into(a, r, ifc) : ADM_ERR_NOMEM;
	nodedb_rec_free(r);
	if (rc == ADM_ERR_NO_OBJS)
		adm_errf(
			a,
			"Could not read iface info for %s. Make sure an iface config with the file "
			"name and iface.iscsi_ifacename %s is in %s/ifaces.",
			ifc, ifc, a->root);
	return rc;
}

/* discoverydb -o new without -D: open-iscsi writes the defaults, ignoring
 * -n/-v and replacing a record that exists (set values with -o update). */
static int db_new(struct adm *a)
{
	char portal[96];
	struct nodedb_rec *st = nodedb_st_defaults(a->o.address, a->o.port);
	int rc = st ? st_store(a, st) : ADM_ERR_NOMEM;
	nodedb_rec_free(st);
	portal_comma(portal, sizeof(portal), a->o.address, a->o.port);
	if (rc == ADM_OK)
		fprintf(a->out, "New discovery record for [%s] added.\n", portal);
	return rc;
}

int adm_cmd_discovery(struct adm *a)
{
	bool exists;
	int rc;
	if (!a->o.portal)
		return list_records(a);
	if ((rc = resolve(a)) || (rc = disc_check_iface(a)))
		return rc;
	if (a->o.mode == ADM_M_DISCOVERYDB && (a->o.ops & ADM_OP_NEW) &&
	    !(a->o.seen & (OB_D | OB_l)))
		return db_new(a);
	struct nodedb_rec *st = st_load(a, &exists);
	if (!st)
		return ADM_ERR_NOMEM;
	rc = a->o.mode == ADM_M_DISCOVERY ? discover(a, st) : db_ops(a, st, exists);
	nodedb_rec_free(st);
	return rc;
}
