/* SPDX-License-Identifier: Apache-2.0 */
/* The initiator's node database, in open-iscsi's on-disk layout and record
 * format, so an existing /etc/iscsi tree can be read and administrators'
 * habits carry over:
 *
 *   <root>/initiatorname.iscsi            InitiatorName=iqn....
 *   <root>/nodes/<iqn>/<ip>,<port>,<tpgt>/<iface>   one node record
 *   <root>/nodes/<iqn>/<ip>,<port>         one record, tpgt unknown (-1)
 *   <root>/send_targets/<ip>,<port>/<iqn>,<ip>,<port>,<tpgt>,<iface>  link
 *   <root>/static/<iqn>,<ip>,<port>,<tpgt>,<iface>  link (-o new)
 *   <root>/send_targets/<ip>,<port>/st_config       discovery record
 *   <root>/ifaces/<iface>                  iface record
 *
 * A record is "# BEGIN RECORD <version>" ... "key = value" lines ...
 * "# END RECORD". Keys keep open-iscsi's names (node.name, node.tpgt,
 * node.startup, node.conn[0].address, node.conn[0].port,
 * node.session.auth.authmethod, node.session.auth.username, .password,
 * .username_in, .password_in, discovery.sendtargets.auth.*, iface.*, ...).
 * Unknown keys are preserved when a record is rewritten. Writes are atomic
 * (write temp, fsync, rename, fsync dir).
 *
 * Shared by kura-iscsiadm and kura-initiatord. Not for: iSCSI I/O.
 */
#ifndef KURA_NODEDB_H
#define KURA_NODEDB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODEDB_DEFAULT_ROOT "/etc/iscsi"

/* An ordered key/value record (keys unique). */
struct nodedb_rec;
struct nodedb_rec *nodedb_rec_new(void);
void nodedb_rec_free(struct nodedb_rec *r);
const char *nodedb_get(const struct nodedb_rec *r, const char *key);      /* NULL if absent */
int nodedb_set(struct nodedb_rec *r, const char *key, const char *value); /* 0 / -errno */
int nodedb_count(const struct nodedb_rec *r);
const char *nodedb_key_at(const struct nodedb_rec *r, int i);
/* Parse / format the record text. parse: 0 or -EINVAL (line in *errline). */
int nodedb_parse(const char *text, size_t len, struct nodedb_rec **out, int *errline);
char *nodedb_format(const struct nodedb_rec *r); /* malloc'd */

/* Identity of a node record. */
struct nodedb_node_id {
	char target[224];
	char address[64]; /* numeric IP (IPv6 without brackets) */
	uint16_t port;
	int tpgt;       /* -1 if unknown */
	char iface[64]; /* "default" unless bound */
};

/* True for the keys that name a record (node name, tpgt, portal, iface,
 * discovery address and port): never taken from iscsid.conf, never changed
 * by an update (that would move the record). */
bool nodedb_identity_key(const char *k);

/* The iface a node record is bound to: its own, or "default". */
static inline const char *nodedb_iface_of(const struct nodedb_node_id *id)
{
	return id->iface[0] ? id->iface : "default";
}

/* Filesystem operations under root. All return 0 or -errno. */
int nodedb_initiator_name(const char *root, char *out, size_t len);
int nodedb_node_load(const char *root, const struct nodedb_node_id *id, struct nodedb_rec **out);
int nodedb_node_store(const char *root, const struct nodedb_node_id *id,
		      const struct nodedb_rec *r);
int nodedb_node_delete(const char *root, const struct nodedb_node_id *id);
/* Enumerate node records matching the filter (NULL / empty / port 0 / tpgt -1 = any). */
typedef int (*nodedb_node_cb)(const struct nodedb_node_id *id, void *arg);
int nodedb_node_foreach(const char *root, const char *target, const char *address, uint16_t port,
			nodedb_node_cb cb, void *arg);
/* A new node record with open-iscsi's defaults for id. */
struct nodedb_rec *nodedb_node_defaults(const struct nodedb_node_id *id);

int nodedb_st_load(const char *root, const char *address, uint16_t port, struct nodedb_rec **out);
int nodedb_st_store(const char *root, const char *address, uint16_t port,
		    const struct nodedb_rec *r);
int nodedb_st_delete(const char *root, const char *address, uint16_t port);
int nodedb_iface_load(const char *root, const char *name, struct nodedb_rec **out);
int nodedb_iface_store(const char *root, const char *name, const struct nodedb_rec *r);
int nodedb_iface_delete(const char *root, const char *name);
/* ---- additions (kura-iscsiadm, I1) ------------------------------------ */
#define NODEDB_RECORD_VERSION "2.1.8" /* written after "# BEGIN RECORD" */
#define NODEDB_MAX_LINE       4096    /* longer record lines are refused */
#define NODEDB_MAX_KEY        255
#define NODEDB_MAX_KEYS       4096
#define NODEDB_MAX_FILE       (1 << 20) /* bigger record files are refused */

int nodedb_unset(struct nodedb_rec *r, const char *key); /* 0 / -ENOENT */
bool nodedb_key_valid(const char *key);                  /* [A-Za-z0-9._[]-]{1,255} */
bool nodedb_value_valid(const char *value);              /* no control characters */

/* The fields kura knows for each record kind, with open-iscsi's defaults, in
 * open-iscsi's print order (other keys are kept but not validated). */
enum nodedb_kind { NODEDB_NODE, NODEDB_ST, NODEDB_IFACE };
enum nodedb_type { NODEDB_T_STR, NODEDB_T_INT, NODEDB_T_ENUM, NODEDB_T_SECRET };
struct nodedb_field {
	const char *key, *def;
	enum nodedb_type type;
	const char *opts; /* NODEDB_T_ENUM: "a|b|c" */
};
const struct nodedb_field *nodedb_fields(enum nodedb_kind kind); /* NULL-key terminated */
const struct nodedb_field *nodedb_field_find(enum nodedb_kind kind, const char *key);
int nodedb_field_check(const struct nodedb_field *f, const char *value); /* 0 / -EINVAL */

struct nodedb_rec *nodedb_st_defaults(const char *address, uint16_t port);
struct nodedb_rec *nodedb_iface_defaults(const char *name);
/* Overlay the keys of <root>/iscsid.conf starting with prefix ("node." or
 * "discovery.sendtargets.") onto r, except identity keys. Missing file: 0. */
int nodedb_apply_conf(const char *root, struct nodedb_rec *r, const char *prefix);
/* Names under <root>/ifaces, sorted. */
int nodedb_iface_foreach(const char *root, int (*cb)(const char *name, void *arg), void *arg);
/* The discovery-source link of a record (open-iscsi's index; made by
 * nodedb_node_store, removed by nodedb_node_delete; best effort). */
void nodedb_link_node(const char *root, const struct nodedb_node_id *id,
		      const struct nodedb_rec *r);
void nodedb_unlink_node(const char *root, const struct nodedb_node_id *id,
			const struct nodedb_rec *r);
/* Pure helpers: "addr,port,tpgt" (or "addr,port": tpgt -1) directory names; InitiatorName= text. */
int nodedb_parse_portal_dir(const char *name, struct nodedb_node_id *id);
int nodedb_parse_initiator_name(const char *text, char *out, size_t len);
#endif
