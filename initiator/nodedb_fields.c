/* SPDX-License-Identifier: Apache-2.0 */
/* The node database's field tables (initiator/nodedb.h): open-iscsi's
 * default settings of new node, discovery and iface records, in its print
 * order, with each value's type and allowed values, and the records built
 * from them.
 *
 * Not for: reading or writing records (nodedb.c) or iscsid.conf overrides
 * (nodedb_apply_conf in nodedb.c).
 */
#include "initiator/nodedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The iface settings after iface.iscsi_ifacename, in open-iscsi 2.1.8's
 * print order for an IPv4 (or unset) address: a node record carries a copy
 * of its iface's settings, an iface record has them itself. */
#define IFACE_FIELDS \
	{ "iface.net_ifacename", "", NODEDB_T_STR, NULL }, \
		{ "iface.ipaddress", "", NODEDB_T_STR, NULL }, \
		{ "iface.prefix_len", "0", NODEDB_T_INT, NULL }, \
		{ "iface.hwaddress", "", NODEDB_T_STR, NULL }, \
		{ "iface.transport_name", "tcp", NODEDB_T_ENUM, "tcp" }, \
		{ "iface.initiatorname", "", NODEDB_T_STR, NULL }, \
		{ "iface.state", "", NODEDB_T_STR, NULL }, \
		{ "iface.vlan_id", "0", NODEDB_T_INT, NULL }, \
		{ "iface.vlan_priority", "0", NODEDB_T_INT, NULL }, \
		{ "iface.vlan_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.iface_num", "0", NODEDB_T_INT, NULL }, \
		{ "iface.mtu", "0", NODEDB_T_INT, NULL }, \
		{ "iface.port", "0", NODEDB_T_INT, NULL }, \
		{ "iface.bootproto", "", NODEDB_T_STR, NULL }, \
		{ "iface.subnet_mask", "", NODEDB_T_STR, NULL }, \
		{ "iface.gateway", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_alt_client_id_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_alt_client_id", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_dns", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_learn_iqn", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_req_vendor_id_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_vendor_id_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_vendor_id", "", NODEDB_T_STR, NULL }, \
		{ "iface.dhcp_slp_da", "", NODEDB_T_STR, NULL }, \
		{ "iface.fragmentation", "", NODEDB_T_STR, NULL }, \
		{ "iface.gratuitous_arp", "", NODEDB_T_STR, NULL }, \
		{ "iface.incoming_forwarding", "", NODEDB_T_STR, NULL }, \
		{ "iface.tos_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.tos", "0", NODEDB_T_INT, NULL }, \
		{ "iface.ttl", "0", NODEDB_T_INT, NULL }, \
		{ "iface.delayed_ack", "", NODEDB_T_STR, NULL }, \
		{ "iface.tcp_nagle", "", NODEDB_T_STR, NULL }, \
		{ "iface.tcp_wsf_state", "", NODEDB_T_STR, NULL }, \
		{ "iface.tcp_wsf", "0", NODEDB_T_INT, NULL }, \
		{ "iface.tcp_timer_scale", "0", NODEDB_T_INT, NULL }, \
		{ "iface.tcp_timestamp", "", NODEDB_T_STR, NULL }, \
		{ "iface.redirect", "", NODEDB_T_STR, NULL }, \
		{ "iface.def_task_mgmt_timeout", "0", NODEDB_T_INT, NULL }, \
		{ "iface.header_digest", "", NODEDB_T_STR, NULL }, \
		{ "iface.data_digest", "", NODEDB_T_STR, NULL }, \
		{ "iface.immediate_data", "", NODEDB_T_STR, NULL }, \
		{ "iface.initial_r2t", "", NODEDB_T_STR, NULL }, \
		{ "iface.data_seq_inorder", "", NODEDB_T_STR, NULL }, \
		{ "iface.data_pdu_inorder", "", NODEDB_T_STR, NULL }, \
		{ "iface.erl", "0", NODEDB_T_INT, NULL }, \
		{ "iface.max_receive_data_len", "0", NODEDB_T_INT, NULL }, \
		{ "iface.first_burst_len", "0", NODEDB_T_INT, NULL }, \
		{ "iface.max_outstanding_r2t", "0", NODEDB_T_INT, NULL }, \
		{ "iface.max_burst_len", "0", NODEDB_T_INT, NULL }, \
		{ "iface.chap_auth", "", NODEDB_T_STR, NULL }, \
		{ "iface.bidi_chap", "", NODEDB_T_STR, NULL }, \
		{ "iface.strict_login_compliance", "", NODEDB_T_STR, NULL }, \
		{ "iface.discovery_auth", "", NODEDB_T_STR, NULL }, \
		{ "iface.discovery_logout", "", NODEDB_T_STR, NULL },

/* open-iscsi's defaults for a new node record, in its print order. Empty
 * strings are shown as <empty> and not written to disk. */
static const struct nodedb_field node_fields[] = {
	{ "node.name", "", NODEDB_T_STR, NULL },
	{ "node.tpgt", "-1", NODEDB_T_INT, NULL },
	{ "node.startup", "manual", NODEDB_T_ENUM, "manual|automatic|onboot" },
	{ "node.leading_login", "No", NODEDB_T_ENUM, "No|Yes" },
	{ "iface.iscsi_ifacename", "default", NODEDB_T_STR, NULL },
	IFACE_FIELDS{ "node.discovery_address", "", NODEDB_T_STR, NULL },
	{ "node.discovery_port", "0", NODEDB_T_INT, NULL },
	{ "node.discovery_type", "static", NODEDB_T_ENUM,
	  "send_targets|isns|offload_send_targets|slp|static|fw" },
	{ "node.session.initial_cmdsn", "0", NODEDB_T_INT, NULL },
	{ "node.session.initial_login_retry_max", "4", NODEDB_T_INT, NULL },
	{ "node.session.xmit_thread_priority", "-20", NODEDB_T_INT, NULL },
	{ "node.session.cmds_max", "128", NODEDB_T_INT, NULL },
	{ "node.session.queue_depth", "32", NODEDB_T_INT, NULL },
	{ "node.session.nr_sessions", "1", NODEDB_T_INT, NULL },
	{ "node.session.auth.authmethod", "None", NODEDB_T_ENUM, "None|CHAP" },
	{ "node.session.auth.username", "", NODEDB_T_STR, NULL },
	{ "node.session.auth.password", "", NODEDB_T_SECRET, NULL },
	{ "node.session.auth.username_in", "", NODEDB_T_STR, NULL },
	{ "node.session.auth.password_in", "", NODEDB_T_SECRET, NULL },
	{ "node.session.auth.chap_algs", "MD5", NODEDB_T_STR, NULL },
	{ "node.session.timeo.replacement_timeout", "120", NODEDB_T_INT, NULL },
	{ "node.session.err_timeo.abort_timeout", "15", NODEDB_T_INT, NULL },
	{ "node.session.err_timeo.lu_reset_timeout", "30", NODEDB_T_INT, NULL },
	{ "node.session.err_timeo.tgt_reset_timeout", "30", NODEDB_T_INT, NULL },
	{ "node.session.err_timeo.host_reset_timeout", "60", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.FastAbort", "Yes", NODEDB_T_ENUM, "No|Yes" },
	{ "node.session.iscsi.InitialR2T", "No", NODEDB_T_ENUM, "No|Yes" },
	{ "node.session.iscsi.ImmediateData", "Yes", NODEDB_T_ENUM, "No|Yes" },
	{ "node.session.iscsi.FirstBurstLength", "262144", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.MaxBurstLength", "16776192", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.DefaultTime2Retain", "0", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.DefaultTime2Wait", "2", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.MaxConnections", "1", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.MaxOutstandingR2T", "1", NODEDB_T_INT, NULL },
	{ "node.session.iscsi.ERL", "0", NODEDB_T_INT, NULL },
	{ "node.session.scan", "auto", NODEDB_T_ENUM, "auto|manual" },
	{ "node.session.reopen_max", "0", NODEDB_T_INT, NULL },
	{ "node.conn[0].address", "", NODEDB_T_STR, NULL },
	{ "node.conn[0].port", "3260", NODEDB_T_INT, NULL },
	{ "node.conn[0].startup", "manual", NODEDB_T_ENUM, "manual|automatic|onboot" },
	{ "node.conn[0].tcp.window_size", "524288", NODEDB_T_INT, NULL },
	{ "node.conn[0].tcp.type_of_service", "0", NODEDB_T_INT, NULL },
	{ "node.conn[0].timeo.logout_timeout", "15", NODEDB_T_INT, NULL },
	{ "node.conn[0].timeo.login_timeout", "30", NODEDB_T_INT, NULL },
	{ "node.conn[0].timeo.auth_timeout", "45", NODEDB_T_INT, NULL },
	{ "node.conn[0].timeo.noop_out_interval", "5", NODEDB_T_INT, NULL },
	{ "node.conn[0].timeo.noop_out_timeout", "5", NODEDB_T_INT, NULL },
	{ "node.conn[0].iscsi.MaxXmitDataSegmentLength", "0", NODEDB_T_INT, NULL },
	{ "node.conn[0].iscsi.MaxRecvDataSegmentLength", "262144", NODEDB_T_INT, NULL },
	{ "node.conn[0].iscsi.HeaderDigest", "None", NODEDB_T_ENUM,
	  "None|CRC32C|CRC32C,None|None,CRC32C" },
	{ "node.conn[0].iscsi.DataDigest", "None", NODEDB_T_ENUM,
	  "None|CRC32C|CRC32C,None|None,CRC32C" },
	{ "node.conn[0].iscsi.IFMarker", "No", NODEDB_T_ENUM, "No|Yes" },
	{ "node.conn[0].iscsi.OFMarker", "No", NODEDB_T_ENUM, "No|Yes" },
	{ NULL, NULL, 0, NULL },
};

static const struct nodedb_field st_fields[] = {
	{ "discovery.startup", "manual", NODEDB_T_ENUM, "manual|automatic" },
	{ "discovery.type", "sendtargets", NODEDB_T_ENUM, "sendtargets" },
	{ "discovery.sendtargets.address", "", NODEDB_T_STR, NULL },
	{ "discovery.sendtargets.port", "3260", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.auth.authmethod", "None", NODEDB_T_ENUM, "None|CHAP" },
	{ "discovery.sendtargets.auth.username", "", NODEDB_T_STR, NULL },
	{ "discovery.sendtargets.auth.password", "", NODEDB_T_SECRET, NULL },
	{ "discovery.sendtargets.auth.username_in", "", NODEDB_T_STR, NULL },
	{ "discovery.sendtargets.auth.password_in", "", NODEDB_T_SECRET, NULL },
	/* open-iscsi 2.1.8 reuses the node key name here (idbm.c) */
	{ "node.session.auth.chap_algs", "MD5", NODEDB_T_STR, NULL },
	{ "discovery.sendtargets.timeo.login_timeout", "15", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.use_discoveryd", "No", NODEDB_T_ENUM, "No|Yes" },
	{ "discovery.sendtargets.discoveryd_poll_inval", "30", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.reopen_max", "5", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.timeo.auth_timeout", "45", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.timeo.active_timeout", "30", NODEDB_T_INT, NULL },
	{ "discovery.sendtargets.iscsi.MaxRecvDataSegmentLength", "32768", NODEDB_T_INT, NULL },
	{ NULL, NULL, 0, NULL },
};

static const struct nodedb_field iface_fields[] = {
	{ "iface.iscsi_ifacename", "", NODEDB_T_STR, NULL },
	IFACE_FIELDS{ NULL, NULL, 0, NULL },
};

const struct nodedb_field *nodedb_fields(enum nodedb_kind kind)
{
	static const struct nodedb_field *const t[] = {
		[NODEDB_NODE] = node_fields,
		[NODEDB_ST] = st_fields,
		[NODEDB_IFACE] = iface_fields,
	};
	return t[kind];
}

const struct nodedb_field *nodedb_field_find(enum nodedb_kind kind, const char *key)
{
	for (const struct nodedb_field *f = nodedb_fields(kind); f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static bool enum_has(const char *opts, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = opts; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

int nodedb_field_check(const struct nodedb_field *f, const char *value)
{
	char *end;
	if (!nodedb_value_valid(value))
		return -EINVAL;
	switch (f->type) {
	case NODEDB_T_INT:
		errno = 0;
		(void)strtol(value, &end, 10);
		return value[0] && !*end && !errno ? 0 : -EINVAL;
	case NODEDB_T_ENUM: return enum_has(f->opts, value) ? 0 : -EINVAL;
	default: return 0;
	}
}

static struct nodedb_rec *rec_from(const struct nodedb_field *f)
{
	struct nodedb_rec *r = nodedb_rec_new();
	for (; r && f->key; f++)
		if (nodedb_set(r, f->key, f->def)) {
			nodedb_rec_free(r);
			return NULL;
		}
	return r;
}

struct nodedb_rec *nodedb_node_defaults(const struct nodedb_node_id *id)
{
	struct nodedb_rec *r = rec_from(node_fields);
	char num[16];
	if (!r)
		return NULL;
	snprintf(num, sizeof(num), "%d", id->tpgt);
	int rc = nodedb_set(r, "node.name", id->target) | nodedb_set(r, "node.tpgt", num) |
		 nodedb_set(r, "iface.iscsi_ifacename", nodedb_iface_of(id)) |
		 nodedb_set(r, "node.conn[0].address", id->address);
	snprintf(num, sizeof(num), "%u", (unsigned)id->port);
	rc |= nodedb_set(r, "node.conn[0].port", num);
	if (rc) {
		nodedb_rec_free(r);
		return NULL;
	}
	return r;
}

struct nodedb_rec *nodedb_st_defaults(const char *address, uint16_t port)
{
	struct nodedb_rec *r = rec_from(st_fields);
	char num[16];
	snprintf(num, sizeof(num), "%u", (unsigned)port);
	if (r && (nodedb_set(r, "discovery.sendtargets.address", address) ||
		  nodedb_set(r, "discovery.sendtargets.port", num))) {
		nodedb_rec_free(r);
		return NULL;
	}
	return r;
}

struct nodedb_rec *nodedb_iface_defaults(const char *name)
{
	struct nodedb_rec *r = rec_from(iface_fields);
	if (r && nodedb_set(r, "iface.iscsi_ifacename", name)) {
		nodedb_rec_free(r);
		return NULL;
	}
	return r;
}

/* Keys that name the record (its path) and so never come from iscsid.conf. */
